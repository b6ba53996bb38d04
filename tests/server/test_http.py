"""A real server process on a free loopback port, over real HTTP."""

import gzip
import json
import os
import stat
import subprocess
import time

import httpx2
import pytest

from statsserver.collectors.base import gauge
from statsserver.storage import Writer

from ..conftest import clean_environ, free_port, statsserver_command, wait_for

ORIGINAL_EXAMPLE = "/add_data_point?projectid=1&category=Temperature&label=Livingroom&value=21.5"


def series_of(client, source):
    return {(s["category"], s["label"]): s for s in client.get("/api/series", params={"source": source}).json()["series"]}


def test_every_read_route_and_the_openapi_document(start_server):
    server = start_server()
    with server.client() as client:
        wait_for(lambda: client.get("/api/latest").json()["values"].get("cpu"))
        sources = client.get("/api/sources").json()
        assert sources["sources"][0]["name"] == sources["local"]
        catalog = client.get("/api/series").json()["series"]
        assert {"cpu", "memory", "disk_free"} <= {s["category"] for s in catalog}
        now = time.time()
        data = client.get("/api/data", params={"category": "cpu,memory", "from": now - 60, "to": now + 1,
                                               "points": 50}).json()
        assert {s["category"] for s in data["series"]} == {"cpu", "memory"}
        assert 1 <= len(data["times"]) <= 50
        assert all(len(s["avg"]) == len(data["times"]) for s in data["series"])
        moment = client.get("/api/moment", params={"t": data["times"][-1]}).json()
        assert "cpu" in moment["values"] and moment["processes"]
        openapi = client.get("/api/openapi.json").json()
    paths = set(openapi["paths"])
    operations = [operation["operationId"] for methods in openapi["paths"].values() for operation in methods.values()]
    assert len(operations) == len(set(operations)), operations  # unique, as OpenAPI requires
    assert set(openapi["paths"]["/add_data_point"]) == {"get", "post"}
    assert {"/api/health", "/api/sources", "/api/series", "/api/data", "/api/moment", "/api/latest",
            "/api/live", "/add_data_point", "/api/points", "/api/v2/write", "/write", "/api/login",
            "/api/logout"} <= paths


@pytest.mark.parametrize("params, status, field", [
    ({"from": 100, "to": 50}, 400, "from"),
    ({"points": 0}, 400, "points"),
    ({"points": "many"}, 400, "points"),
    ({"to": "nan"}, 400, "to"),
    ({"source": "nobody"}, 404, "source"),
])
def test_bad_read_parameters_get_a_reason(start_server, params, status, field):
    server = start_server()
    with server.client() as client:
        response = client.get("/api/data", params=params)
    assert response.status_code == status
    assert response.json()["field"] == field and response.json()["error"]


def test_the_original_example_url_verbatim_and_its_post_form(start_server):
    server = start_server(command="serve")
    assert httpx2.get(server.url + ORIGINAL_EXAMPLE).json() == {"stored": 1}
    posted = httpx2.post(server.url + "/add_data_point",
                        data={"projectid": "1", "category": "Temperature", "label": "Kitchen", "value": "19",
                              "unit": "°C", "nograph": ""})
    assert posted.status_code == 200, posted.text
    with server.client() as client:
        latest = client.get("/api/latest", params={"source": "1"}).json()["values"]["Temperature"]
        assert latest["Livingroom"]["value"] == 21.5 and latest["Kitchen"]["value"] == 19
        assert abs(latest["Livingroom"]["time"] - time.time()) < 30
        catalog = series_of(client, "1")
        assert catalog["Temperature", "Kitchen"]["unit"] == "°C"
        assert catalog["Temperature", "Kitchen"]["graph"] is False


def test_a_push_that_names_no_unit_or_graph_setting_keeps_the_categorys(start_server):
    server = start_server(command="serve")
    push = {"projectid": "tank", "category": "water", "value": "1"}
    assert httpx2.get(server.url + "/add_data_point", params={**push, "label": "a", "unit": "L", "nograph": ""}
                      ).status_code == 200
    # Later pushes of every kind that say nothing about the unit or the chart, one a new label.
    assert httpx2.get(server.url + "/add_data_point", params={**push, "label": "b", "unit": ""}).status_code == 200
    assert httpx2.post(server.url + "/api/points", json={"source": "tank", "points": [
        {"category": "water", "label": "a", "value": 2}, {"category": "water", "label": "c", "value": 3}]}
                       ).status_code == 200
    assert httpx2.post(server.url + "/api/v2/write", params={"bucket": "tank"},
                       content="water d=4").status_code == 204
    with server.client() as client:
        catalog = series_of(client, "tank")
        assert {label: (s["unit"], s["graph"]) for (_, label), s in catalog.items()} == {
            "a": ("L", False), "b": ("L", False), "c": ("L", False), "d": ("L", False)}
        # Said outright, they change the whole category.
        assert httpx2.get(server.url + "/add_data_point",
                          params={**push, "label": "a", "unit": "m³", "nograph": "0"}).status_code == 200
        catalog = series_of(client, "tank")
        assert {(s["unit"], s["graph"]) for s in catalog.values()} == {("m³", True)}


def test_a_wrong_address_is_a_page_for_a_browser_and_json_for_a_program(start_server):
    server = start_server(command="serve")
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Authorization": f"Bearer {server.token}"}
    page = httpx2.get(server.url + "/no/such/page", headers=browser)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert '<a href="/">' in page.text
    for path, headers in (("/no/such/page", {}), ("/api/no-such-route", browser)):
        answer = httpx2.get(server.url + path, headers={**headers, "Authorization": f"Bearer {server.token}"})
        assert answer.status_code == 404 and answer.json() == {"error": "Not Found"}, path
    # An empty database says how to fill it.
    with server.client() as client:
        empty = client.get("/api/data").json()
    assert empty["field"] == "source" and "statsserver collect" in empty["error"] and "/add_data_point" in empty["error"]


def test_a_wrong_method_on_a_push_route_is_a_405_naming_the_allowed_ones(start_server):
    server = start_server(command="serve")
    for method, path, allowed in [("GET", "/api/points", "POST"), ("GET", "/api/v2/write", "POST"),
                                  ("GET", "/write", "POST"), ("PUT", "/add_data_point", "GET, POST"),
                                  ("POST", "/api/data", "GET")]:
        response = httpx2.request(method, server.url + path, params={"token": server.token})
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allowed and response.json() == {"error": "Method Not Allowed"}


def test_given_time_and_category_metadata(start_server):
    server = start_server(command="serve")
    response = httpx2.get(server.url + "/add_data_point", params={
        "projectid": "garden", "category": "soil", "label": "moisture", "value": "40", "time": "1700000000"})
    assert response.status_code == 200
    with server.client() as client:
        assert client.get("/api/latest", params={"source": "garden"}).json()["values"]["soil"]["moisture"] == {
            "time": 1700000000.0, "value": 40.0}


def test_a_repeated_range_query_sees_every_new_point(start_server):
    """Answers are kept for repeated queries, never past a commit, even one from another process."""
    server = start_server(command="serve")
    query = {"source": "garden", "from": "1699999000", "to": "1700001000", "points": "10"}

    def maxima(client):
        return client.get("/api/data", params=query).json()["series"][0]["max"]

    def push(value, at):
        assert httpx2.get(server.url + "/add_data_point", params={
            "projectid": "garden", "category": "soil", "label": "moisture", "value": value, "time": at}).status_code == 200

    push("40", "1700000000")
    with server.client() as client:
        first = maxima(client)
        assert maxima(client) == first and 40.0 in first
        push("45", "1700000500")
        assert 45.0 in maxima(client)
        # A commit by another process: straight into the database file, as a collector writes.
        writer = Writer(server.directory / "statsserver.db")
        writer.write_points("garden", [("soil", "moisture", 1700000900.0, 47.0)], {"soil": gauge("")})
        writer.close()
        assert 47.0 in maxima(client)


def test_a_category_another_process_adds_is_in_the_next_answer(start_server):
    """The server keeps the catalog between commits; a commit by another process ends it."""
    server = start_server(command="serve")
    query = {"source": "garden", "from": "1699999000", "points": "10"}
    assert httpx2.get(server.url + "/add_data_point", params={
        "projectid": "garden", "category": "soil", "label": "moisture", "value": "40", "time": "1700000000"}).status_code == 200
    with server.client() as client:
        first = client.get("/api/data", params={**query, "to": "1700001000"}).json()["series"]
        assert [(s["category"], s["label"]) for s in first] == [("soil", "moisture")]
        writer = Writer(server.directory / "statsserver.db")
        writer.write_points("garden", [("air", "temperature", 1700000100.0, 21.5)], {"air": gauge("°C")})
        writer.close()
        series = client.get("/api/data", params={**query, "to": "1700001001"}).json()["series"]
        assert [(s["category"], s["label"], s["unit"]) for s in series] == [
            ("air", "temperature", "°C"), ("soil", "moisture", "")]
        assert 21.5 in series[0]["max"]


@pytest.mark.parametrize("params, field, reason", [
    ({"category": "c", "label": "l", "value": "1"}, "projectid", "projectid is missing or empty"),
    ({"projectid": " ", "category": "c", "label": "l", "value": "1"}, "projectid", "missing or empty"),
    ({"projectid": "p", "label": "l", "value": "1"}, "category", "category is missing"),
    ({"projectid": "p", "category": "c", "value": "1"}, "label", "label is missing"),
    ({"projectid": "p", "category": "c", "label": "l"}, "value", "value is missing or empty"),
    ({"projectid": "p", "category": "c", "label": "l", "value": ""}, "value", "value is missing or empty"),
    ({"projectid": "p", "category": "c", "label": "l", "value": "warm"}, "value", "'warm' is not a number"),
    ({"projectid": "p", "category": "c", "label": "l", "value": "NaN"}, "value", "finite"),
    ({"projectid": "p", "category": "c", "label": "l", "value": "-Infinity"}, "value", "finite"),
    ({"projectid": "p", "category": "c" * 201, "label": "l", "value": "1"}, "category", "longer than 200"),
    ({"projectid": "p", "category": "c", "label": "a\x00b", "value": "1"}, "label", "control characters"),
    ({"projectid": "p", "category": "c", "label": "l", "value": "1", "time": "1700000000000"}, "time", "Unix seconds"),
    ({"projectid": "p", "category": "c", "label": "l", "value": "1", "unit": "x" * 40}, "unit", "at most 16"),
])
def test_bad_pushes_are_refused_with_the_field_and_store_nothing(start_server, params, field, reason):
    server = start_server(command="serve")
    response = httpx2.get(server.url + "/add_data_point", params=params)
    assert response.status_code == 400
    assert response.json()["field"] == field and reason in response.json()["error"]
    with server.client() as client:
        assert client.get("/api/sources").json()["sources"] == []


def test_batch_is_all_or_nothing(start_server):
    server = start_server(command="serve")
    good = {"category": "rooms", "label": "hall", "value": 20.5, "unit": "°C"}
    response = httpx2.post(server.url + "/api/points", json={"source": "house", "points": [
        good, {"category": "rooms", "label": "attic", "value": "hot"}]})
    assert response.status_code == 400 and response.json()["field"].startswith("points[1]")
    assert response.json()["field"] == "points[1].value"
    response = httpx2.post(server.url + "/api/points", json={"source": "house", "points": [
        good, {"category": "rooms", "label": "attic"}]})
    assert response.json() == {"error": "points[1]: value is missing or empty", "field": "points[1].value"}
    infinite = b'{"source":"house","points":[{"category":"rooms","label":"hall","value":1},' \
               b'{"category":"rooms","label":"attic","value":Infinity}]}'
    response = httpx2.post(server.url + "/api/points", content=infinite, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "body is not JSON"  # strict JSON
    with server.client() as client:
        assert client.get("/api/sources").json()["sources"] == []
    points = [{"category": "rooms", "label": f"room{i}", "value": i, "time": 1_700_000_000 + i} for i in range(500)]
    response = httpx2.post(server.url + "/api/points", json={"source": "house", "points": points})
    assert response.json() == {"stored": 500}
    with server.client() as client:
        assert len(series_of(client, "house")) == 500


def test_series_limit_per_source(start_server):
    server = start_server(command="serve", settings="max_series_per_source = 3\n")
    for label in "abc":
        assert httpx2.get(server.url + "/add_data_point", params={
            "projectid": "p", "category": "c", "label": label, "value": 1}).status_code == 200
    refused = httpx2.get(server.url + "/add_data_point", params={"projectid": "p", "category": "c",
                                                                "label": "d", "value": 1})
    assert refused.status_code == 422 and "more than 3 series" in refused.json()["error"]
    # Existing series still take values.
    assert httpx2.get(server.url + "/add_data_point", params={"projectid": "p", "category": "c", "label": "a",
                                                             "value": 2}).status_code == 200


def test_oversized_and_compressed_bodies(start_server):
    server = start_server(command="serve", settings="max_body = 64K\n")
    line = "m,host=h v=1\n"
    assert httpx2.post(server.url + "/api/v2/write", content=line * 10_000).status_code == 413
    bomb = gzip.compress(b"m,host=h v=1\n" * 200_000)  # small on the wire, 2.6 MB inside
    assert len(bomb) < 64 * 1024
    response = httpx2.post(server.url + "/api/v2/write", content=bomb, headers={"content-encoding": "gzip"})
    assert response.status_code == 413 and "decompressed" in response.json()["error"]
    ok = httpx2.post(server.url + "/api/v2/write", content=gzip.compress(line.encode()),
                    headers={"content-encoding": "gzip"})
    assert ok.status_code == 204
    assert httpx2.post(server.url + "/api/v2/write", content=b"junk",
                      headers={"content-encoding": "br"}).status_code == 415


def test_line_protocol_as_telegraf_sends_it(start_server):
    server = start_server(command="serve")
    body = ("cpu,cpu=cpu-total,host=web1 usage_user=1.5,usage_system=0.5,usage_idle=98 1700000000000000000\n"
            "mem,host=web1 used=123456i,available_percent=80.1,swap_free=0i 1700000000000000000\n"
            "net,host=web1,interface=eth0 bytes_recv=10i,up=true 1700000000000000000\n")
    response = httpx2.post(server.url + "/api/v2/write", params={"bucket": "telegraf", "org": "home",
                                                               "precision": "ns"}, content=body)
    assert response.status_code == 204, response.text
    v1 = httpx2.post(server.url + "/write", params={"db": "telegraf", "precision": "s"},
                    content="disk,path=/ used_percent=42 1700000000\n")
    assert v1.status_code == 204
    with server.client() as client:
        web1 = client.get("/api/latest", params={"source": "web1"}).json()["values"]
        assert web1["cpu.cpu-total"]["usage_user"] == {"time": 1700000000.0, "value": 1.5}
        assert web1["mem"]["used"]["value"] == 123456 and web1["net.eth0"]["up"]["value"] == 1
        telegraf = client.get("/api/latest", params={"source": "telegraf"}).json()["values"]
        assert telegraf["disk./"]["used_percent"]["value"] == 42


def test_a_bad_line_rejects_the_whole_body(start_server):
    server = start_server(command="serve")
    response = httpx2.post(server.url + "/api/v2/write", content="m,host=a v=1\nm,host=a v=oops\n")
    assert response.status_code == 400 and "line 2" in response.json()["error"]
    # A bad parameter is no line's fault
    response = httpx2.post(server.url + "/write", params={"precision": "weeks"}, content="m,host=a v=1\n")
    assert response.status_code == 400 and response.json()["field"] == "precision"
    assert response.json()["error"].startswith("precision 'weeks' is not one of")
    with server.client() as client:
        assert client.get("/api/sources").json()["sources"] == []


def test_tokens_on_every_route(start_server):
    server = start_server()
    token = server.token
    reads = ["/api/sources", "/api/series", "/api/data", "/api/moment?t=1", "/api/latest", "/api/live"]
    for path in reads:
        assert httpx2.get(server.url + path).status_code == 401, path
        assert httpx2.get(server.url + path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
    for path in reads[:-1]:
        assert httpx2.get(server.url + path, headers={"Authorization": f"Bearer {token}"}).status_code == 200, path
        joiner = "&" if "?" in path else "?"
        assert httpx2.get(f"{server.url}{path}{joiner}token={token}").status_code == 200, path
        assert httpx2.get(server.url + path, cookies={"statsserver_token": token}).status_code == 200, path
    basic = httpx2.get(server.url + "/api/sources", auth=("telegraf", token))
    assert basic.status_code == 200
    influx = httpx2.get(server.url + "/api/sources", headers={"Authorization": f"Token {token}"})
    assert influx.status_code == 200
    # From this machine, pushes need no token; through a proxy they do.
    assert httpx2.get(server.url + ORIGINAL_EXAMPLE).status_code == 200
    proxied = httpx2.get(server.url + ORIGINAL_EXAMPLE, headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 401
    # A web page open in this machine's browser is not a local program.
    from_a_page = httpx2.get(server.url + ORIGINAL_EXAMPLE, headers={"Sec-Fetch-Site": "cross-site"})
    assert from_a_page.status_code == 401
    rebound = httpx2.get(server.url + ORIGINAL_EXAMPLE, headers={"Host": "evil.example:5050"})
    assert rebound.status_code == 401
    assert httpx2.get(server.url.replace("127.0.0.1", "localhost") + ORIGINAL_EXAMPLE).status_code == 200


def test_without_trust_localhost_pushes_need_the_token(start_server):
    server = start_server(command="serve", settings="trust_localhost = false\n")
    assert httpx2.get(server.url + ORIGINAL_EXAMPLE).status_code == 401
    assert httpx2.get(server.url + ORIGINAL_EXAMPLE + f"&token={server.token}").status_code == 200


def test_auth_none_opens_everything_and_warns(start_server):
    server = start_server(command="serve", settings="auth = none\n")
    assert httpx2.get(server.url + "/api/sources").status_code == 200
    assert not (server.directory / "token").exists()
    assert "auth = none: anyone who can reach port" in server.stop()


def test_token_file_cookie_and_security_headers(start_server):
    server = start_server()
    assert stat.S_IMODE(os.stat(server.directory / "token").st_mode) == 0o600
    response = httpx2.get(server.url + f"/?token={server.token}&range=1h")
    assert response.status_code == 303 and response.headers["location"] == "/?range=1h"
    cookie = response.headers["set-cookie"]
    assert f"statsserver_token={server.token}" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    wrong = httpx2.get(server.url + "/?token=nope&range=6h")
    assert wrong.status_code == 303 and "set-cookie" not in wrong.headers
    assert wrong.headers["location"] == "/?range=6h&signin=failed"  # the sign-in page says so
    for path in ("/", "/api/health", "/api/sources"):
        headers = httpx2.get(server.url + path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


def test_login_and_logout(start_server):
    server = start_server()
    with httpx2.Client(base_url=server.url) as browser:
        assert browser.post("/api/login", json={"token": "wrong"}).status_code == 401
        assert browser.post("/api/login", json={"token": server.token}).status_code == 204
        assert browser.get("/api/sources").status_code == 200  # the cookie does it now
        assert browser.post("/api/logout").status_code == 204
        browser.cookies.clear()
        assert browser.get("/api/sources").status_code == 401
        form = browser.post("/api/login", data={"token": server.token})
        assert form.status_code == 303 and form.headers["location"] == "/"


def test_responses_are_compressed_and_static_files_cached(start_server):
    server = start_server()
    with server.client() as client:
        wait_for(lambda: client.get("/api/latest").json()["values"].get("memory"))
        response = client.get("/api/series", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
    assert httpx2.get(server.url + "/").headers["cache-control"] == "no-cache"


def test_the_live_feed_delivers_new_samples(start_server):
    server = start_server()
    received = read_events(server, count=2)
    assert received[1]["time"] > received[0]["time"]
    assert "cpu" in received[1]["values"]


def test_the_live_feed_with_the_collector_in_another_process(start_server, tmp_path):
    server = start_server(command="serve")
    collector = subprocess.Popen(
        statsserver_command("collect", "--directory", str(server.directory), "--interval", "0.25"),
        stderr=subprocess.PIPE, text=True, env=clean_environ())
    try:
        with server.client() as client:
            wait_for(lambda: client.get("/api/sources").json()["sources"])
        started = time.time()
        received = read_events(server, count=3)
        assert received[-1]["time"] >= started - 1
        assert "memory" in received[-1]["values"]
        gaps = [b["time"] - a["time"] for a, b in zip(received, received[1:])]
        assert all(0 < gap < 1.0 for gap in gaps)
    finally:
        collector.terminate()
        collector.communicate(timeout=20)


def test_the_live_feed_sends_what_was_stored_since_the_client_says(start_server):
    """A page asks for its data, then connects: a push stored in between must still reach it, as
    must what was stored while a reconnecting EventSource was away (its Last-Event-ID)."""
    server = start_server(command="serve")
    pushed = time.time() - 10
    for offset in (0, 1, 2):
        httpx2.get(server.url + "/add_data_point", params={
            "projectid": "meter", "category": "power", "label": "w", "value": offset, "time": pushed + offset})
    # Connected after the second of three was stored: the third and nothing before it, once.
    received = read_events(server, count=1, params={"source": "meter", "since": pushed + 1})
    assert [(e["time"], e["values"]) for e in received] == [(round(pushed + 2, 3), {"power": {"w": 2.0}})]
    resumed = read_events(server, count=2, params={"source": "meter"}, headers={"Last-Event-ID": str(pushed)})
    assert [e["values"]["power"]["w"] for e in resumed] == [1.0, 2.0]
    httpx2.get(server.url + "/add_data_point", params={"projectid": "meter", "category": "power", "label": "w",
                                                       "value": 3})
    later = read_events(server, count=3, params={"source": "meter", "since": pushed})
    assert [e["values"]["power"]["w"] for e in later] == [1.0, 2.0, 3.0]
    with server.client() as client:
        wrong = client.get("/api/live", params={"source": "meter"}, headers={"Last-Event-ID": "yesterday"})
    assert wrong.status_code == 400 and wrong.json()["field"] == "last-event-id"


def read_events(server, count, timeout=20.0, params=None, headers=None):
    events = []
    with server.client() as client:
        with client.stream("GET", "/api/live", params=params, headers=headers, timeout=timeout) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == count:
                        break
    return events


def test_ingest_port_takes_only_pushes(start_server):
    ingest = free_port()
    server = start_server(command="serve", settings=f"ingest_port = {ingest}\n")
    other = f"http://127.0.0.1:{ingest}"
    assert httpx2.get(other + ORIGINAL_EXAMPLE).json() == {"stored": 1}
    assert httpx2.get(other + "/api/sources", params={"token": server.token}).status_code == 404
    assert httpx2.get(server.url + "/api/sources", params={"token": server.token}).status_code == 200


def test_https_with_certfile_and_keyfile(start_server, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = start_server(command="serve", scheme="https", settings=f"certfile = {cert}\nkeyfile = {key}\n")
    response = httpx2.get(server.url + "/api/health", verify=False)
    assert response.status_code == 200
    login = httpx2.post(server.url + "/api/login", json={"token": server.token}, verify=False)
    assert "Secure" in login.headers["set-cookie"]


def test_sigterm_stops_the_server_and_the_collector_cleanly(start_server):
    server = start_server()
    with server.client() as client:
        wait_for(lambda: client.get("/api/latest").json()["values"].get("cpu"))
    stderr = server.stop()
    assert server.process.returncode == 0, stderr
    assert "stopping (SIGTERM)" in stderr and "Traceback" not in stderr


def test_port_in_use_is_a_clear_error(start_server, tmp_path):
    server = start_server(command="serve")
    result = subprocess.run(statsserver_command("serve", "--directory", str(tmp_path / "other"), "--host",
                                                "127.0.0.1", "--port", str(server.port)),
                            capture_output=True, text=True, env=clean_environ(), timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in result.stderr and "Traceback" not in result.stderr


def test_pushed_data_ages_out_when_only_the_server_runs(start_server):
    server = start_server(command="serve", generator="max_age = 1h\n")
    old, recent = time.time() - 7200, time.time() - 60
    for at in (old, recent):
        assert httpx2.get(server.url + "/add_data_point", params={
            "projectid": "p", "category": "c", "label": "l", "value": 1, "time": at}).status_code == 200
    server.stop()
    # Retention runs at start-up and every minute; a restart is the quick way to see it.
    restarted = start_server(command="serve", generator="max_age = 1h\n", directory=server.directory)
    with restarted.client() as client:
        data = wait_for(lambda: (d := client.get("/api/data", params={
            "source": "p", "from": old - 10, "to": time.time(), "points": 10000}).json())["times"]
            and len(d["times"]) == 1 and d)
    assert data["series"][0]["avg"] == [1.0]


def test_a_damaged_block_is_a_503_with_a_reason_and_the_server_goes_on(start_server, tmp_path):
    directory = tmp_path / "data"
    directory.mkdir()
    writer = Writer(directory / "statsserver.db")
    start = time.time() - 3 * 3600
    writer.write_points("garden", [("soil", "moisture", start + i, float(i % 50)) for i in range(2400)],
                        {"soil": gauge("")})
    while not writer.maintain(time.time()).finished:
        pass
    writer.db.execute("UPDATE chunks SET data = x'789c0300000000'")  # not a block
    writer.close()
    server = start_server("serve", directory=directory)
    with server.client() as client:
        # A point per second: only the raw blocks answer that.
        query = {"source": "garden", "category": "soil", "from": start, "to": start + 2400, "points": 2400}
        response = client.get("/api/data", params=query)
        assert response.status_code == 503
        assert "statsserver.db" in response.json()["error"] and "Traceback" not in response.text
        assert client.get("/api/health").status_code == 200
    assert "Traceback" not in server.stop()
