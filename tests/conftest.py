import os
import socket
import subprocess
import sys
import time
from pathlib import Path

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
