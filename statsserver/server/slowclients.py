"""Bounds on what one connection may hold: the time to send a request, and the size of its head.

uvicorn arms a timer only between requests (keep-alive), and its httptools parser gathers a URL
or a header for as long as the client keeps sending. So a client that opens connections and
dribbles a request head a byte at a time (slowloris), or never sends one, holds a connection for
ever, and one endless header line grows the server's memory without limit. This protocol class,
given to uvicorn as its `http` implementation, closes both doors.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A real client sends its request head in one packet; ten seconds is generous on any link.
HEAD_SECONDS = 10.0
# The body, after the head: [server] max_body (16 MiB by default) at about 300 KiB/s.
BODY_SECONDS = 60.0
# Request line and headers together; the web app and Telegraf send well under 4 KiB.
MAX_HEAD_BYTES = 64 * 1024


class BoundedHttpProtocol(HttpToolsProtocol):
    _timer: asyncio.TimerHandle | None = None
    _head_bytes: int | None = 0  # None while no request head is being read

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_bytes = 0
        self._arm(HEAD_SECONDS)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Fed in slices while a head is being read, so that a head that is too long is noticed
        # before the parser has gathered more than the limit of it.
        while data and self._head_bytes is not None:
            room = MAX_HEAD_BYTES - self._head_bytes
            if room <= 0:
                self._refuse(431, f"the request head is longer than {MAX_HEAD_BYTES} bytes")
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
        if data:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_bytes is None:
            self._head_bytes = 0
            self._arm(HEAD_SECONDS)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        self._arm(BODY_SECONDS)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        self._refuse(408, "the request took too long to arrive")

    def _refuse(self, status: int, reason: str) -> None:
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            body = json.dumps({"error": reason}).encode()
            phrase = {408: "Request Timeout", 431: "Request Header Fields Too Large"}[status]
            self.transport.write(f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
                                 f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body)
        self.transport.close()
