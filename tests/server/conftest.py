import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..conftest import clean_environ, free_port, statsserver_command, wait_for


@dataclass
class RunningServer:
    process: subprocess.Popen
    url: str
    directory: Path
    port: int

    @property
    def token(self) -> str:
        return (self.directory / "token").read_text().strip()

    def client(self, token: str | None = "auto", **options) -> httpx.Client:
        headers = {}
        if token == "auto":
            token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **options)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        _, stderr = self.process.communicate(timeout=30)
        return stderr


def _ready(url: str, verify=True) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def start_server(tmp_path):
    """Start `statsserver run|serve` on a free loopback port; stopped (SIGTERM) after the test."""
    started = []

    def start(command="run", settings="", scheme="http", directory=None, extra=(), generator=""):
        directory = directory or tmp_path / "data"
        port = free_port()
        config = tmp_path / f"settings-{port}.conf"
        config.write_text(f"[generator]\ndirectory = {directory}\ninterval = 0.25\n{generator}"
                          f"[server]\nhost = 127.0.0.1\nport = {port}\n{settings}")
        process = subprocess.Popen(statsserver_command(command, "--config", str(config), *extra),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=clean_environ())
        server = RunningServer(process, f"{scheme}://127.0.0.1:{port}", directory, port)
        started.append(server)
        wait_for(lambda: process.poll() is not None or _ready(server.url, verify=False))
        assert process.poll() is None, process.communicate()[1]
        return server

    yield start
    for server in started:
        server.stop()
