"""Bad database: a corrupt file, or one that is not StatsServer's, stops start-up with one line
naming the file (and leaves the file alone); a database made by an older version migrates."""

from __future__ import annotations

import sqlite3
import subprocess
import time

import pytest

from statsserver.storage.migrations import MIGRATIONS, migrate

from ..conftest import clean_environ, free_port, launch_server, statsserver_command


def garbage(path):
    path.write_bytes(bytes(range(256)) * 400)


def foreign(path):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices (total) VALUES (12.5)")


def torn(path):
    """A StatsServer database whose pages past the first were overwritten (a bad disk)."""
    with sqlite3.connect(path, isolation_level=None) as db:
        migrate(db)
        db.execute("INSERT INTO sources (name) VALUES ('h')")
        db.executemany("INSERT INTO series (source_id, category, label) VALUES (1, 'c', ?)",
                       [(f"l{i}",) for i in range(400)])
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\xa5" * (len(data) - page)
    path.write_bytes(bytes(data))


def truncated(path):
    with sqlite3.connect(path, isolation_level=None) as db:
        migrate(db)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


KINDS = {"garbage": garbage, "foreign": foreign, "torn": torn, "truncated": truncated}


@pytest.mark.parametrize("command", ["collect", "serve"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_bad_file_gives_one_clear_error_and_is_left_alone(tmp_path, tally, kind, command):
    found = tally("Bad database")
    database = tmp_path / "statsserver.db"
    KINDS[kind](database)
    content = database.read_bytes()
    for attempt in range(2):  # a supervisor restarting it gets the same answer, not a loop
        found.runs += 1
        listen = ["--host", "127.0.0.1", "--port", str(free_port())] if command == "serve" else []
        done = subprocess.run(statsserver_command(command, "--directory", str(tmp_path), *listen),
                              capture_output=True, text=True, timeout=60, env=clean_environ())
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert len(errors) == 1 and errors[0].startswith("statsserver: error: ") and str(database) in errors[0], done.stderr
        assert "serving at" not in done.stderr
    assert database.read_bytes() == content, "the file was changed"


def test_a_database_of_the_first_version_migrates_and_serves_its_data(tmp_path, tally):
    found = tally("Bad database")
    found.runs += 1
    directory = tmp_path / "data"
    directory.mkdir()
    # Recent, so that the server's maintenance compacts the old head rather than ageing it out.
    start = int(time.time()) - 900
    with sqlite3.connect(directory / "statsserver.db", isolation_level=None) as db:
        migrate(db, MIGRATIONS[:1])
        db.execute("INSERT INTO sources (name, interval) VALUES ('old', 1)")
        db.execute("INSERT INTO series (source_id, category, label, unit) VALUES (1, 'cpu', 'total', '%')")
        db.executemany("INSERT INTO samples VALUES (1, ?, ?)", [((start + i) * 1000, i % 50) for i in range(600)])
    server = launch_server(tmp_path, command="serve", directory=directory)
    try:
        with server.client() as client:
            answer = client.get("/api/data", params={"source": "old", "from": start, "to": start + 600,
                                                     "points": 600}).json()
        values = [v for v in answer["series"][0]["avg"] if v is not None]
        found.lost += 600 - len(values)
        assert values == [float(i % 50) for i in range(600)]
    finally:
        server.stop()
    with sqlite3.connect(directory / "statsserver.db") as db:
        assert [row[0] for row in db.execute("SELECT name FROM migrations")] == [name for name, _ in MIGRATIONS]
