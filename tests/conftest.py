import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from statsserver import config as settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_config(tmp_path):
    """Settings as a user would write them, with the data directory inside the test's folder."""

    def make(text: str = "", **environ: str) -> settings.Config:
        path = tmp_path / "settings.conf"
        path.write_text(f"[generator]\ndirectory = {tmp_path / 'data'}\n{text}")
        return settings.load(str(path), environ=environ)

    return make


def statsserver_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "statsserver", *arguments]


def clean_environ(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STATSSERVER_")}
    environ.update(extra)
    return environ


def wait_for(condition, timeout: float = 20.0, interval: float = 0.05):
    """Poll until condition() is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

@dataclass
class RunningServer:
    process: subprocess.Popen
    url: str
    directory: Path
    port: int

    @property
    def token(self) -> str:
        return (self.directory / "token").read_text().strip()

    def client(self, token: str | None = "auto", **options) -> httpx2.Client:
        headers = {}
        if token == "auto":
            token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx2.Client(base_url=self.url, headers=headers, timeout=10, **options)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        _, stderr = self.process.communicate(timeout=30)
        return stderr


def _ready(url: str, verify=True) -> bool:
    try:
        return httpx2.get(f"{url}/api/health", timeout=1, verify=verify).status_code == 200
    except httpx2.HTTPError:
        return False


def launch_server(folder: Path, command="run", settings="", scheme="http", directory=None, extra=(),
                  interval=0.25, generator="") -> RunningServer:
    """`statsserver run|serve` on a free loopback port, ready when this returns."""
    directory = directory or folder / "data"
    port = free_port()
    config = folder / f"settings-{port}.conf"
    config.write_text(f"[generator]\ndirectory = {directory}\ninterval = {interval}\n{generator}"
                      f"[server]\nhost = 127.0.0.1\nport = {port}\n{settings}")
    process = subprocess.Popen(statsserver_command(command, "--config", str(config), *extra),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=clean_environ())
    server = RunningServer(process, f"{scheme}://127.0.0.1:{port}", directory, port)
    try:
        wait_for(lambda: process.poll() is not None or _ready(server.url, verify=False))
    except BaseException:
        server.stop()
        raise
    assert process.poll() is None, process.communicate()[1]
    return server


@pytest.fixture
def start_server(tmp_path):
    """Start `statsserver run|serve` on a free loopback port; stopped (SIGTERM) after the test."""
    started = []

    def start(*arguments, **options):
        server = launch_server(tmp_path, *arguments, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
