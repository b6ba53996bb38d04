"""The web app's pure modules (formatters, gesture arithmetic, address, data) under `node --test`."""

import shutil
import subprocess

import pytest

from ..conftest import ROOT


def test_node_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to build and test the web app")
    result = subprocess.run([node, "--test", "test/"], cwd=ROOT / "web", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_every_web_module_is_described_in_the_docs():
    described = (ROOT / "docs" / "webapp.md").read_text()
    for path in (ROOT / "web" / "src").glob("*.js"):
        assert path.name in described, path.name
