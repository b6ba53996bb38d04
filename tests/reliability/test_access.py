"""Access: from a client that is not on this machine, every route but the public ones needs the
token. The routes come from the app's own OpenAPI document, so a new route cannot be missed."""

from __future__ import annotations

import base64
import subprocess

import httpx2
import pytest

from statsserver.server.auth import PUBLIC_API

from ..conftest import clean_environ, free_port, statsserver_command, wait_for
from .netns import Namespace, NamespaceUnavailable

# A request each route would accept with the token: so that a 401 is about the token, nothing else.
EXAMPLES = {
    "/api/data": {"params": {"points": "10"}},
    "/api/moment": {"params": {"t": "1700000000"}},
    "/api/processes": {"params": {"t": "1700000000"}},
    "/api/process": {"params": {"pid": "1", "started": "1700000000"}},
    "/add_data_point": {"params": {"projectid": "p", "category": "c", "label": "l", "value": "1"}},
    "/api/points": {"json": {"source": "p", "points": [{"category": "c", "label": "l", "value": 1}]}},
    "/api/v2/write": {"content": b"c l=1"},
    "/write": {"content": b"c l=1"},
}

# Past the token, a route may still have nothing to show: no process was ever listed here.
ANSWERED = {"/api/process": (404,), "/api/processes": (200, 404)}


@pytest.fixture(scope="module")
def remote_server(tmp_path_factory):
    """`statsserver serve` in a network namespace, reached from here over a veth pair."""
    folder = tmp_path_factory.mktemp("remote")
    try:
        namespace = Namespace().__enter__()
    except NamespaceUnavailable as error:
        pytest.skip(f"cannot make a network namespace here (root and iproute2 are needed): {error}")
    port = free_port()
    config = folder / "settings.conf"
    config.write_text(f"[generator]\ndirectory = {folder / 'data'}\n[server]\nhost = {namespace.address}\nport = {port}\n")
    process = subprocess.Popen(namespace.command(statsserver_command("serve", "--config", str(config))),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clean_environ())
    url = f"http://{namespace.address}:{port}"
    try:
        def ready():
            if process.poll() is not None:
                return True
            try:
                return httpx2.get(url + "/api/health", timeout=1).status_code == 200
            except httpx2.HTTPError:
                return False

        wait_for(ready)
        assert process.poll() is None, process.communicate()[1]
        yield url, (folder / "data" / "token").read_text().strip()
    finally:
        process.terminate()
        process.communicate(timeout=30)
        namespace.close()


def operations(url: str) -> list[tuple[str, str]]:
    document = httpx2.get(url + "/api/openapi.json").json()
    return sorted((method.upper(), path) for path, item in document["paths"].items() for method in item)


def call(url: str, method: str, path: str, **options) -> httpx2.Response:
    example = EXAMPLES.get(path, {})
    params = {**example.get("params", {}), **options.pop("params", {})}
    body = {key: value for key, value in example.items() if key != "params"} if method == "POST" else {}
    with httpx2.Client(timeout=10, cookies=options.pop("cookies", None)) as client:
        if path == "/api/live":
            with client.stream(method, url + path, params=params, **options) as response:
                return response
        return client.request(method, url + path, params=params, **body, **options)


WRONG = {
    "no token": {},
    "wrong bearer": {"headers": {"Authorization": "Bearer not-the-token"}},
    "wrong influx token": {"headers": {"Authorization": "Token not-the-token"}},
    "wrong basic password": {"headers": {"Authorization": "Basic " + base64.b64encode(b"u:nope").decode()}},
    "wrong cookie": {"cookies": {"statsserver_token": "not-the-token"}},
    "wrong parameter": {"params": {"token": "not-the-token"}},
    # What loopback trust looks at must not matter from the network: a local-looking name.
    "local host name": {"headers": {"Host": "localhost"}},
}


def test_every_route_from_the_network_needs_the_token(remote_server, tally):
    found = tally("Access (non-loopback client)")
    url, token = remote_server
    routes = operations(url)
    guarded = [(method, path) for method, path in routes if path not in PUBLIC_API]
    # Every read and every write the issue names is among them.
    for expected in [("GET", "/api/sources"), ("GET", "/api/data"), ("GET", "/api/live"), ("GET", "/add_data_point"),
                     ("POST", "/add_data_point"), ("POST", "/api/points"), ("POST", "/api/v2/write"), ("POST", "/write")]:
        assert expected in guarded
    for method, path in guarded:
        for name, options in WRONG.items():
            found.runs += 1
            response = call(url, method, path, **options)
            if response.status_code != 401:
                found.failures += 1
            assert response.status_code == 401, (method, path, name, response.status_code)
    authorized = {"headers": {"Authorization": f"Bearer {token}"}}
    # Nothing pushed without the token was stored.
    assert call(url, "GET", "/api/sources", **authorized).json()["sources"] == []
    for method, path in guarded:
        # With the token the same request gets in: the 401s above were about the token.
        allowed = call(url, method, path, **authorized)
        assert allowed.status_code in ANSWERED.get(path, (200, 204)), (method, path, allowed.status_code, allowed.text)
    assert call(url, "GET", "/api/sources", **authorized).json()["sources"] != []


def test_public_routes_stay_public_and_serve_no_data(remote_server):
    url, _ = remote_server
    assert httpx2.get(url + "/api/health").status_code == 200
    assert httpx2.get(url + "/api/openapi.json").status_code == 200
    page = httpx2.get(url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
