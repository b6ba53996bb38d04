import sqlite3

import pytest

from statsserver.storage import Reader, StoreError, Writer
from statsserver.storage.migrations import MIGRATIONS, applied, migrate, statements


def connect(path):
    return sqlite3.connect(path, isolation_level=None)


def test_a_new_file_gets_every_migration_once(tmp_path):
    db = connect(tmp_path / "a.db")
    assert migrate(db) == [name for name, _ in MIGRATIONS]
    assert migrate(db) == []
    assert applied(db) == [name for name, _ in MIGRATIONS]


def test_an_older_database_migrates_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.db"
    db = connect(path)
    migrate(db, MIGRATIONS[:1])
    db.execute("INSERT INTO sources (name, interval) VALUES ('pi', 1)")
    db.execute("INSERT INTO series (source_id, category, label) VALUES (1, 'cpu', 'total')")
    db.execute("INSERT INTO samples VALUES (1, 1000, 42.0)")
    later = MIGRATIONS + [("0099_series_colour", "ALTER TABLE series ADD COLUMN colour TEXT;"
                                                 "UPDATE series SET colour = 'red';")]
    assert migrate(db, later) == [name for name, _ in MIGRATIONS[1:]] + ["0099_series_colour"]
    assert db.execute("SELECT value FROM samples").fetchall() == [(42.0,)]
    assert db.execute("SELECT colour FROM series").fetchall() == [("red",)]



def test_points_waiting_in_incoming_survive_its_new_key(tmp_path):
    db = connect(tmp_path / "waiting.db")
    names = [name for name, _ in MIGRATIONS]
    migrate(db, MIGRATIONS[:names.index("0004_incoming") + 1])
    db.execute("INSERT INTO sources (name, interval) VALUES ('pi', 1)")
    db.execute("INSERT INTO series (source_id, category, label) VALUES (1, 'cpu', 'total')")
    db.execute("INSERT INTO samples VALUES (1, 1000, 1.0)")
    db.execute("INSERT INTO incoming VALUES (1, 2000, 2.0), (1, 3000, 3.0)")
    assert migrate(db) == names[names.index("0004_incoming") + 1:]
    assert db.execute("SELECT time, value FROM head ORDER BY time").fetchall() == [(1000, 1.0), (2000, 2.0), (3000, 3.0)]
    assert [row[1] for row in db.execute("PRAGMA table_info(incoming)")] == ["time", "series_id", "value"]

def test_a_failing_migration_changes_nothing(tmp_path):
    db = connect(tmp_path / "a.db")
    migrate(db)
    broken = MIGRATIONS + [("0099_broken", "CREATE TABLE extra (x); INSERT INTO nowhere VALUES (1);")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, broken)
    assert "0099_broken" not in applied(db)
    assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'extra'").fetchone()


def test_statements_split_like_sqlite():
    assert statements("CREATE TABLE a (x); -- a comment; with a semicolon\nCREATE TABLE b (y);") == [
        "CREATE TABLE a (x);", "-- a comment; with a semicolon\nCREATE TABLE b (y);"]


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.db"
    db = connect(path)
    migrate(db, MIGRATIONS + [("0100_future", "CREATE TABLE future (x);")])
    db.close()
    with pytest.raises(StoreError, match=rf"^{path}: cannot be used: it was made by a newer StatsServer"):
        Writer(path)


def test_someone_elses_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    db = connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.close()
    with pytest.raises(StoreError, match="it holds tables but is not a StatsServer database"):
        Writer(path)
    with pytest.raises(StoreError, match="not a StatsServer database"):
        Reader(path)
    assert connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]


def test_a_file_that_is_not_sqlite_is_one_clear_error(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreError, match=rf"^{path}: cannot be opened for writing: file is not a database"):
        Writer(path)
