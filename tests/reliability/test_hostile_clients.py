"""Bad input at the HTTP level: paths that try to leave the web app's folder, oversized requests,
and slow clients (slowloris) are all bounded; the server keeps answering everyone else."""

from __future__ import annotations

import select
import socket
import threading
import time

import httpx2
import psutil
import pytest

from statsserver.server.app import WEB_ROOT

from ..conftest import launch_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    running = launch_server(folder, command="serve")
    with running.client() as client:
        client.post("/api/points", json={"source": "s", "points": [{"category": "c", "label": "l", "value": 1}]})
    yield running
    log = running.stop()
    assert "Traceback" not in log, log[-3000:]


def raw(server, request: bytes, timeout: float = 10) -> bytes:
    """Send bytes exactly as given (an HTTP client would tidy the path up) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


TRAVERSALS = [
    "/../../../../../../etc/passwd", "/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/assets/../../../../../../etc/passwd",
    "/assets/..%2f..%2f..%2fserver%2fapp.py", "/../../server/app.py", "/..%5c..%5cserver%5capp.py",
    "/%252e%252e/%252e%252e/server/app.py", "//etc/passwd", "/./../../../pyproject.toml", "/..;/..;/etc/passwd",
    "/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2ftoken", "/\\..\\..\\server\\app.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_paths_cannot_leave_the_app_folder(server, path, tally):
    found = tally("Bad input")
    found.runs += 1
    answer = raw(server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    status = int(answer.split(b" ", 2)[1])
    assert status in (200, 400, 404), answer[:200]
    body = answer.split(b"\r\n\r\n", 1)[1]
    for secret in (b"root:x:0:0", b"def create_app", b"[build-system]", server.token.encode()):
        assert secret not in body, (path, secret)
    if status == 200:  # the app shell's fallback is fine; anything else must be a file of the app
        assert body in {(WEB_ROOT / "index.html").read_bytes()}, path


def test_oversized_heads_are_refused_and_cost_no_memory(server, tally):
    found = tally("Bad input")
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss
    for attempt in range(3):
        found.runs += 1
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            sent = 0
            try:
                while sent < 64 * 1024 * 1024:  # a 64 MiB header, unless the server stops it
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass
            assert sent < 8 * 1024 * 1024, "the server read megabytes of one header"
        url = "/api/sources?" + "a=" + "b" * 10_000_000
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            try:
                sock.sendall(f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                pass
    grown = process.memory_info().rss - before
    assert grown < 32 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MiB"
    assert httpx2.get(server.url + "/api/health").status_code == 200


@pytest.mark.long
def test_slow_clients_are_dropped_and_others_still_served(server, tally):
    found = tally("Bad input")
    slow = []
    # Slowloris: many connections, each dribbling a request head a byte at a time, never finishing.
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(sock)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(50)]
    body = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    body.sendall(f"POST /api/points HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
                 "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{".encode())
    started = time.monotonic()
    closed_after = {}

    def dribble(sock, number):
        """A byte a second until the server answers (a 408) or hangs up."""
        while time.monotonic() - started < 90:
            try:
                sock.sendall(b"X")
            except OSError:
                break
            readable, _, _ = select.select([sock], [], [], 1.0)
            if readable:
                try:
                    answer = sock.recv(4096)
                except OSError:
                    break
                if answer == b"" or answer.startswith(b"HTTP/1.1 408 "):
                    break
        closed_after[number] = time.monotonic() - started

    threads = [threading.Thread(target=dribble, args=(sock, n), daemon=True) for n, sock in enumerate(slow + [body])]
    for thread in threads:
        thread.start()
    # Meanwhile everyone else is served.
    for _ in range(10):
        assert httpx2.get(server.url + "/api/health", timeout=5).status_code == 200
        time.sleep(0.5)
    for thread in threads:
        thread.join(100)
    for sock in idle:
        sock.settimeout(30)
        answer = b""
        while chunk := sock.recv(4096):  # a 408 at most, then the end: not kept open
            answer += chunk
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer
    for sock in slow + idle + [body]:
        sock.close()
    found.runs += len(slow) + len(idle) + 1
    slowest = max(closed_after.values())
    heads = max(closed_after[n] for n in range(len(slow)))
    found.notes.append(f"{len(slow)} slowloris heads dropped within {heads:.0f} s, a dribbled body after "
                       f"{closed_after.get(len(slow), float('nan')):.0f} s, {len(idle)} idle connections closed")
    assert len(closed_after) == len(slow) + 1 and slowest < 75, closed_after
