"""The `statsserver` command as a user runs it: real processes, a real database file."""

import json
import re
import signal
import sqlite3
import subprocess

import pytest

from statsserver import __version__
from statsserver.cli import main

from .conftest import clean_environ, statsserver_command, wait_for


def run(*arguments, cwd=None, **environ):
    return subprocess.run(statsserver_command(*arguments), capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=clean_environ(**environ))


def count_samples(path):
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(DISTINCT time) FROM samples").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"statsserver {__version__}"


@pytest.mark.parametrize("command", [[], ["run"], ["collect"], ["serve"]])
def test_help_names_every_setting(command):
    from statsserver.config import SETTINGS

    result = run(*command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # as the help wraps it
    missing = [setting.name for setting in SETTINGS if setting.name not in text]
    assert not missing, missing


def test_collect_once_prints_every_category_as_json(tmp_path):
    result = run("collect", "--once", "--directory", str(tmp_path))
    assert result.returncode == 0, result.stderr
    sample = json.loads(result.stdout)
    categories = sample["categories"]
    for expected in ("cpu", "cpu_modes", "load", "memory", "swap", "disk_usage", "disk_free", "system", "uptime"):
        assert expected in categories, expected
    assert any(name.startswith("network.") for name in categories)
    assert any(name.startswith("disk_io.") for name in categories)
    assert categories["disk_free"]["graph"] is False and categories["cpu"]["unit"] == "%"
    assert 1 <= len(sample["processes"]) <= 20
    assert {"pid", "name", "user", "cpu", "rss", "command"} <= set(sample["processes"][0])
    assert not (tmp_path / "statsserver.db").exists()  # a look, not a recording


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_collect_writes_a_real_database_and_stops_cleanly(tmp_path, stop_signal):
    database = tmp_path / "stats.db"
    process = subprocess.Popen(
        statsserver_command("collect", "--directory", str(tmp_path), "--database", "stats.db",
                            "--interval", "0.2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_environ())
    try:
        wait_for(lambda: count_samples(database) >= 5)
    finally:
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"stopping ({stop_signal.name})" in stderr
    with sqlite3.connect(database) as db:
        categories = {row[0] for row in db.execute("SELECT DISTINCT category FROM series")}
        assert {"cpu", "memory", "disk_free", "system"} <= categories
        assert db.execute("SELECT count(DISTINCT time) FROM process_samples").fetchone()[0] >= 4
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_second_collector_on_the_same_database_is_refused(tmp_path):
    first = subprocess.Popen(statsserver_command("collect", "--directory", str(tmp_path), "--interval", "0.5"),
                             stderr=subprocess.PIPE, text=True, env=clean_environ())
    try:
        wait_for(lambda: count_samples(tmp_path / "statsserver.db") >= 1)
        second = run("collect", "--directory", str(tmp_path))
        assert second.returncode == 1
        assert second.stderr.strip().endswith(
            f"statsserver: error: {tmp_path / 'statsserver.db'}: a collector is already writing to it "
            f"(pid {first.pid})")
    finally:
        first.terminate()
        first.communicate(timeout=20)


@pytest.mark.parametrize("content, message", [
    ("[generator]\ninterval = soon\n",
     "[generator] interval = 'soon' is not valid: expected seconds from 0.1 to 3600"),
    ("[generater]\ninterval = 1\n", "unknown section [generater]"),
    ("[server]\nprot = 80\n", "unknown key [server] prot"),
])
def test_bad_settings_stop_start_up_with_one_line(tmp_path, content, message):
    path = tmp_path / "settings.conf"
    path.write_text(content)
    for command in (["collect"], ["run"], ["settings"]):
        result = run(*command, "--config", str(path))
        assert result.returncode == 2
        assert result.stderr.startswith(f"statsserver: error: {path}: {message}")
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_settings_file_in_the_working_folder_and_environment_override(tmp_path):
    (tmp_path / "settings.conf").write_text("[generator]\ninterval = 5\n[server]\nport = 7890\n")
    result = run("settings", cwd=tmp_path, STATSSERVER_SERVER_PORT="7000")
    assert result.returncode == 0
    assert re.search(r"^generator.interval +5 +\(settings.conf\)$", result.stdout, re.M)
    assert re.search(r"^server.port +7000 +\(env STATSSERVER_SERVER_PORT\)$", result.stdout, re.M)


def test_flags_and_set_override_settings(tmp_path, capsys):
    assert main(["settings", "--config", str(_file(tmp_path)), "--set", "generator.loopback=yes"]) == 0
    assert "generator.loopback" in capsys.readouterr().out
    assert main(["settings", "--set", "generator.nope=1"]) == 2
    assert "--set 'generator.nope=1': expected SECTION.KEY=VALUE" in capsys.readouterr().err


def test_unreadable_database_is_a_clear_error(tmp_path):
    (tmp_path / "statsserver.db").write_bytes(b"not sqlite" * 500)
    result = run("collect", "--directory", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"statsserver: error: {tmp_path / 'statsserver.db'}: cannot be opened for writing" in result.stderr


def _file(tmp_path):
    path = tmp_path / "settings.conf"
    path.write_text("[generator]\n")
    return path
