"""The live feed: new samples reach connected browsers as Server-Sent Events.

One poller reads new samples from the store for every source that has listeners, so it works
the same when the collector is another process. Each client has a bounded queue; a client
that falls behind (queue full) or stops reading (a send that does not finish) is dropped, and
its browser's EventSource reconnects.

Each event's id is its sample's time. A client that says which samples it has (`since`, or the
Last-Event-ID its EventSource sends when it reconnects) gets those stored after them first:
else a sample stored between a page's data request and its connection, or while it was away,
would never reach it.

When the clock steps back (NTP correcting a clock that ran ahead), new samples are stamped
before the ones already sent, and a feed waiting for later times would stay silent until the
clock caught up. The feed notices, drops its clients, and starts from the corrected time; their
EventSources reconnect and the pages reload what they show.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

QUEUE_SIZE = 64
KEEPALIVE_SECONDS = 15.0
SEND_TIMEOUT_SECONDS = 10.0
# A pushed time may be up to a day ahead (a clock set wrong elsewhere). Sent at once, it would
# move the feed's mark that far ahead, and no sample before it would be sent until then; a time
# further ahead than this is sent when its time comes instead.
AHEAD_SECONDS = 60.0
# A client back after longer than this has a gap the feed does not fill (the page reloads).
BACKLOG_SECONDS = 300.0
_CLOSE = object()


class Client:
    def __init__(self, source: str) -> None:
        self.source = source
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)

    def offer(self, event) -> bool:
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            return False

    def close(self) -> None:
        # A client being closed is behind or going away: its backlog is of no use to it.
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_CLOSE)


class Feed:
    def __init__(self, read_since, read_last_time, poll_seconds: float, clock=time.time) -> None:
        self.read_since = read_since  # (source, after, until) -> [{"time", "values"}], run in a thread
        self.read_last_time = read_last_time  # (source) -> newest stored time or None
        self.poll_seconds = poll_seconds
        self.clock = clock  # the wall clock, as the collector's samples are stamped (tests step it)
        self.clients: set[Client] = set()
        self.after: dict[str, float] = {}
        self.closed = False
        self.dropped = 0

    def subscribe(self, source: str) -> Client:
        client = Client(source)
        self.clients.add(client)
        return client

    def unsubscribe(self, client: Client) -> None:
        self.clients.discard(client)

    def close(self) -> None:
        self.closed = True
        for client in list(self.clients):
            client.close()

    async def run(self) -> None:
        """Poll for new samples and fan them out until closed."""
        while not self.closed:
            await asyncio.sleep(self.poll_seconds)
            sources = {client.source for client in self.clients}
            for source in list(self.after):
                if source not in sources:
                    del self.after[source]  # nobody listens: start afresh when someone does
            for source in sources:
                try:
                    await self._poll(source)
                except Exception:
                    log.exception("live feed: reading new samples of %s failed", source)

    async def _poll(self, source: str) -> None:
        if source in self.after and self.ahead(self.after[source]):
            log.warning("live feed: the clock stepped back %.0f s; its clients of %s start again from now",
                        self.after[source] - self.clock(), source)
            self.after[source] = self.clock()
            for client in self._listening(source):
                self._drop(client)
            return
        until = self.clock() + AHEAD_SECONDS
        if source not in self.after:
            last = await asyncio.to_thread(self.read_last_time, source)
            self.after[source] = min(last, until) if last is not None else 0.0
            return
        samples = await asyncio.to_thread(self.read_since, source, self.after[source], until)
        if not samples:
            return
        self.after[source] = samples[-1]["time"]
        for sample in samples:
            event = (sample["time"], encode(sample))
            for client in self._listening(source):
                if not client.offer(event):
                    self.dropped += 1
                    log.info("live feed: a client fell %d samples behind; dropped", QUEUE_SIZE)
                    self._drop(client)

    def _listening(self, source: str) -> list[Client]:
        return [client for client in self.clients if client.source == source]

    def _drop(self, client: Client) -> None:
        self.unsubscribe(client)
        client.close()

    def response(self, source: str, since: float | None = None) -> "EventStream":
        return EventStream(self, source, since)

    def ahead(self, at: float) -> bool:
        """Whether a time is further ahead than any sample the feed sends: from before the clock stepped back."""
        return at > self.clock() + AHEAD_SECONDS

    async def backlog(self, source: str, since: float) -> list[dict]:
        now = self.clock()
        return await asyncio.to_thread(self.read_since, source, max(since, now - BACKLOG_SECONDS), now + AHEAD_SECONDS)


def encode(sample: dict) -> bytes:
    return b"id: %r\ndata: %s\n\n" % (sample["time"], orjson.dumps(sample))


class EventStream(Response):
    """An ASGI response that streams one client's queue, with keep-alives and a send timeout."""

    media_type = "text/event-stream"

    def __init__(self, feed: Feed, source: str, since: float | None) -> None:  # no body to render: no super()
        self.feed = feed
        self.source = source
        # A client that has samples from before the clock stepped back would wait for times
        # that are an hour (or so) away: it starts from now instead.
        self.since = None if since is not None and feed.ahead(since) else since
        self.status_code = 200
        self.background = None
        self.raw_headers = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self.feed.subscribe(self.source)
        disconnected = asyncio.Event()

        async def watch_disconnect():
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()
            client.close()

        watcher = asyncio.create_task(watch_disconnect())
        try:
            await self._send(send, {"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),  # nginx: pass events through as they come
            ]})
            await self._body(send, b"retry: 2000\n: connected\n\n")
            sent = self.since
            if sent is not None:
                # Subscribed first, so nothing stored meanwhile is missed; what the poller also
                # queued is skipped below.
                backlog = await self.feed.backlog(self.source, sent)
                for sample in backlog:
                    await self._body(send, encode(sample))
                sent = backlog[-1]["time"] if backlog else sent
            while not disconnected.is_set():
                try:
                    event = await asyncio.wait_for(client.queue.get(), KEEPALIVE_SECONDS)
                except asyncio.TimeoutError:
                    event = (None, b": keep-alive\n\n")
                if event is _CLOSE:
                    break
                at, body = event
                if sent is not None and at is not None and at <= sent:
                    continue
                await self._body(send, body)
            if not disconnected.is_set():
                await self._send(send, {"type": "http.response.body", "body": b"", "more_body": False})
        except (asyncio.TimeoutError, OSError):
            pass  # a stalled or vanished client: let the connection go
        finally:
            watcher.cancel()
            self.feed.unsubscribe(client)

    async def _body(self, send: Send, data: bytes) -> None:
        await self._send(send, {"type": "http.response.body", "body": data, "more_body": True})

    @staticmethod
    async def _send(send: Send, message: dict) -> None:
        await asyncio.wait_for(send(message), SEND_TIMEOUT_SECONDS)
