"""The application in process: clients that are not on this machine, and the live feed's limits."""

import asyncio
import hmac
import json
import time

import pytest
from fastapi.testclient import TestClient

from statsserver.collectors.base import gauge
from statsserver.server import auth, feed as feed_module
from statsserver.server.app import create_app
from statsserver.server.feed import Feed
from statsserver.storage.writer import Points
from statsserver.storage import Reader, Writer

TOKEN = "s3cret-token"
ROUTES = [("GET", "/api/sources"), ("GET", "/api/series"), ("GET", "/api/data"), ("GET", "/api/moment?t=1"),
          ("GET", "/api/latest"), ("GET", "/api/live"),
          ("GET", "/add_data_point?projectid=p&category=c&label=l&value=1"),
          ("POST", "/add_data_point?projectid=p&category=c&label=l&value=1"),
          ("POST", "/api/points"), ("POST", "/api/v2/write"), ("POST", "/write")]


@pytest.fixture
def remote_client(make_config):
    """A client that is not on this machine: TestClient's address is not loopback."""
    config = make_config()
    Writer(config.database_path).close()
    with TestClient(create_app(config, TOKEN, "host")) as client:
        yield client


@pytest.mark.parametrize("method, path", ROUTES)
def test_a_remote_client_needs_the_right_token_for_every_route(remote_client, method, path):
    none = remote_client.request(method, path)
    assert none.status_code == 401 and "Authorization: Bearer" in none.json()["error"]
    wrong = remote_client.request(method, path, headers={"Authorization": "Bearer wrong-token!"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "a valid token is required"}


def test_a_remote_client_with_the_token_may_push(remote_client):
    response = remote_client.get("/add_data_point?projectid=p&category=c&label=l&value=1",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


def test_tokens_are_compared_in_constant_time(monkeypatch, remote_client):
    calls = []
    compare = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    remote_client.get("/api/sources", headers={"Authorization": "Bearer guess"})
    assert calls == [(b"guess", TOKEN.encode())]


def test_an_empty_token_file_is_replaced(tmp_path):
    (tmp_path / "token").write_text("")
    token = auth.load_or_create_token(tmp_path)
    assert len(token) >= 40 and auth.load_or_create_token(tmp_path) == token


T0 = 1_700_000_000.0


def run(coroutine):
    return asyncio.run(coroutine)


def test_feed_sends_each_source_its_own_samples(make_config):
    config = make_config()
    writer = Writer(config.database_path)
    writer.write("a", T0, {"m": {"x": 1.0}}, {"m": gauge()})
    reader = Reader(config.database_path)

    async def scenario():
        feed = Feed(reader.since, reader.last_time, poll_seconds=0.01)
        a, b = feed.subscribe("a"), feed.subscribe("b")
        task = asyncio.create_task(feed.run())
        await asyncio.sleep(0.05)  # the first poll only notes where each source is
        writer.write("a", T0 + 1, {"m": {"x": 2.0}}, {"m": gauge()})
        writer.write("b", T0 + 1, {"m": {"y": 3.0}}, {"m": gauge()})
        first_a = await asyncio.wait_for(a.queue.get(), 2)
        first_b = await asyncio.wait_for(b.queue.get(), 2)
        feed.close()
        await asyncio.wait_for(task, 2)
        return first_a, first_b

    first_a, first_b = run(scenario())
    assert first_a == (T0 + 1, b'id: %r\ndata: {"time":%r,"values":{"m":{"x":2.0}}}\n\n' % (T0 + 1, T0 + 1))
    assert first_b == (T0 + 1, b'id: %r\ndata: {"time":%r,"values":{"m":{"y":3.0}}}\n\n' % (T0 + 1, T0 + 1))


def test_a_point_pushed_far_ahead_does_not_silence_the_feed(make_config):
    config = make_config()
    writer = Writer(config.database_path)
    writer.write("a", time.time() - 1, {"m": {"x": 1.0}}, {"m": gauge()})
    reader = Reader(config.database_path)

    async def scenario():
        feed = Feed(reader.since, reader.last_time, poll_seconds=0.01)
        client = feed.subscribe("a")
        task = asyncio.create_task(feed.run())
        await asyncio.sleep(0.05)
        writer.write_points("a", [("m", "x", time.time() + 3600, 2.0)], {"m": gauge()})  # a clock set wrong
        await asyncio.sleep(0.05)
        now = time.time()
        writer.write("a", now, {"m": {"x": 3.0}}, {"m": gauge()})
        event = await asyncio.wait_for(client.queue.get(), 2)
        feed.close()
        await asyncio.wait_for(task, 2)
        return now, json.loads(event[1].split(b"data: ")[1])

    now, event = run(scenario())
    assert event == {"time": round(now, 3), "values": {"m": {"x": 3.0}}}


def test_after_the_clock_steps_back_the_feed_sends_samples_stamped_by_the_corrected_clock(make_config):
    config = make_config()
    writer = Writer(config.database_path)
    reader = Reader(config.database_path)
    offset = [3600.0]  # the clock ran an hour ahead
    clock = lambda: time.time() + offset[0]  # noqa: E731
    writer.write("a", clock(), {"m": {"x": 1.0}}, {"m": gauge()})

    async def next_event(stream):
        body = b""
        while b"data: " not in body:
            message = await asyncio.wait_for(stream.get(), 2)
            body = message.get("body", b"")
        return json.loads(body.split(b"data: ")[1])

    async def connect(feed, since=None):
        """An EventSource's stream, as the ASGI messages it is sent."""
        messages = asyncio.Queue()
        disconnect = asyncio.Event()

        async def receive():
            await disconnect.wait()
            return {"type": "http.disconnect"}

        task = asyncio.create_task(feed.response("a", since)({"type": "http"}, receive, messages.put))
        await asyncio.sleep(0.05)
        return messages, task

    async def scenario():
        feed = Feed(reader.since, reader.last_time, poll_seconds=0.01, clock=clock)
        task = asyncio.create_task(feed.run())
        before, before_task = await connect(feed)
        writer.write("a", clock(), {"m": {"x": 2.0}}, {"m": gauge()})
        last_sent = await next_event(before)
        offset[0] = 0.0  # NTP corrects it
        await asyncio.wait_for(before_task, 2)  # dropped: its EventSource reconnects
        after, _ = await connect(feed, since=last_sent["time"])  # with the Last-Event-ID it had
        writer.write("a", clock(), {"m": {"x": 3.0}}, {"m": gauge()})
        corrected = await next_event(after)
        feed.close()
        await asyncio.wait_for(task, 2)
        return last_sent, corrected

    last_sent, corrected = run(scenario())
    assert last_sent["values"] == {"m": {"x": 2.0}}
    assert corrected["values"] == {"m": {"x": 3.0}} and corrected["time"] < last_sent["time"] - 3000


def test_a_client_that_falls_behind_is_dropped(make_config, monkeypatch):
    monkeypatch.setattr(feed_module, "QUEUE_SIZE", 3)
    samples = [{"time": T0 + i, "values": {"m": {"x": float(i)}}} for i in range(10)]

    async def scenario():
        feed = Feed(lambda source, after, until: [s for s in samples if s["time"] > after and source == "a"],
                    lambda source: T0 - 1,
                    poll_seconds=0.01)
        slow, other = feed.subscribe("a"), feed.subscribe("b")
        task = asyncio.create_task(feed.run())
        await asyncio.sleep(0.1)
        feed.close()
        await task
        return feed, slow, other

    feed, slow, other = run(scenario())
    assert slow not in feed.clients and feed.dropped == 1
    assert slow.queue.qsize() == 1 and slow.queue.get_nowait() is feed_module._CLOSE
    assert other.queue.get_nowait() is feed_module._CLOSE  # closing ends every stream


def test_event_stream_ends_on_close_and_sends_keepalives(monkeypatch):
    monkeypatch.setattr(feed_module, "KEEPALIVE_SECONDS", 0.05)

    async def scenario():
        feed = Feed(lambda source, after: [], lambda source: None, poll_seconds=1)
        sent = []
        disconnect = asyncio.Event()

        async def receive():
            await disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        stream = asyncio.create_task(feed.response("a")({"type": "http"}, receive, send))
        await asyncio.sleep(0.2)
        feed.close()
        await asyncio.wait_for(stream, 2)
        disconnect.set()
        return feed, sent

    feed, sent = run(scenario())
    bodies = [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]
    assert b": keep-alive\n\n" in bodies
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert not feed.clients


def test_a_stalled_client_is_let_go(monkeypatch):
    monkeypatch.setattr(feed_module, "SEND_TIMEOUT_SECONDS", 0.05)

    async def scenario():
        feed = Feed(lambda source, after: [], lambda source: None, poll_seconds=1)

        async def receive():
            await asyncio.sleep(10)

        async def send(message):
            if message["type"] == "http.response.body":
                await asyncio.sleep(10)  # the client's socket never drains

        await asyncio.wait_for(feed.response("a")({"type": "http"}, receive, send), 2)
        return feed

    assert not run(scenario()).clients


def test_the_ingest_thread_settles_pushed_points_into_the_head(make_config, monkeypatch):
    from statsserver.server import ingest
    monkeypatch.setattr(ingest, "SETTLE_SECONDS", 0.05)
    config = make_config()
    writer = Writer(config.database_path)
    ingest_writer = ingest.IngestWriter(writer, 100)

    async def push():
        return await ingest_writer.store("garden", Points(["soil"], ["moisture"], [1_700_000_000.0], [0.4]),
                                         {"soil": gauge("")})

    try:
        assert asyncio.run(push()) == 1
        deadline = time.monotonic() + 5
        while writer.db.execute("SELECT count(*) FROM incoming").fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writer.db.execute("SELECT series_id, time, value FROM samples").fetchall()[0][1:] == \
            (1_700_000_000_000, 0.4)
    finally:
        ingest_writer.close()
        writer.close()


def test_a_failure_in_storing_refuses_its_pushes_and_the_next_ones_are_stored(make_config, monkeypatch):
    from statsserver.server import ingest
    from statsserver.server.errors import BadRequest
    config = make_config()
    writer = Writer(config.database_path)
    ingest_writer = ingest.IngestWriter(writer, 100)
    write_batches = writer.write_batches
    failures = iter([ValueError("a bug in the write path")])

    def fails_once(*arguments):
        failure = next(failures, None)
        if failure:
            raise failure
        return write_batches(*arguments)

    monkeypatch.setattr(writer, "write_batches", fails_once)

    async def push(value):
        return await asyncio.wait_for(ingest_writer.store(
            "garden", Points(["soil"], ["moisture"], [1_700_000_000.0 + value], [value]), {"soil": gauge("")}), 10)

    try:
        with pytest.raises(BadRequest) as refused:
            asyncio.run(push(1.0))
        assert refused.value.status == 503 and "not stored" in refused.value.reason
        assert asyncio.run(push(2.0)) == 1  # the thread that stores every push lives on
        assert writer.db.execute("SELECT value FROM head").fetchall() == [(2.0,)]
    finally:
        ingest_writer.close()
        writer.close()


def test_pushes_commit_without_copying_the_log_and_a_thread_of_their_own_copies_it(make_config):
    from statsserver.server import ingest
    config = make_config()
    writer = Writer(config.database_path)
    ingest_writer = ingest.IngestWriter(writer, 10_000)
    size = config.database_path.stat().st_size
    points = [("rooms", f"room{i}", 1_700_000_000.0 + t, float(t)) for i in range(100) for t in range(50)]

    async def push():
        return await ingest_writer.store("house", Points(*zip(*points)), {"rooms": gauge("")})

    try:
        assert writer.db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        assert asyncio.run(push()) == 5000
        # Only a checkpoint moves committed pages from the log into the database file.
        deadline = time.monotonic() + 5
        while config.database_path.stat().st_size <= size and time.monotonic() < deadline:
            time.sleep(0.05)
        assert config.database_path.stat().st_size > size
    finally:
        ingest_writer.close()
        writer.close()


def test_pushes_answer_a_wrong_method_and_bad_fields_as_every_route_does(make_config):
    config = make_config("[server]\nauth = none\n")
    Writer(config.database_path).close()
    with TestClient(create_app(config, None, "host")) as client:
        assert client.put("/api/points").status_code == 405
        assert client.delete("/add_data_point").status_code == 405
        refused = client.get("/add_data_point?projectid=p&category=c&label=l&value=warm")
        assert refused.status_code == 400 and refused.json()["field"] == "value"
        assert refused.headers["x-frame-options"] == "DENY"  # security headers on the direct way too
        assert client.get("/add_data_point?projectid=p&category=c&label=l&value=2").json() == {"stored": 1}
        for field, wrong in (("unit", []), ("unit", {}), ("graph", []), ("value", [1]), ("label", {"a": 1})):
            refused = client.post("/api/points", json={"source": "p", "points": [
                {"category": "c", "label": "l", "value": 1.0}, {"category": "c", "label": "l", "value": 2.0, field: wrong}]})
            assert refused.status_code == 400 and refused.json()["field"] == f"points[1].{field}", (field, wrong)
