"""Starting the server under uvicorn: `statsserver serve`, and `statsserver run` with the generator."""

from __future__ import annotations

import logging
import signal
import socket
import threading

import uvicorn

from ..generator import Generator
from ..storage import Writer
from .app import create_app
from .auth import load_or_create_token
from .ingest import INGEST_PATHS
from .slowclients import BoundedHttpProtocol

log = logging.getLogger(__name__)


class ServerError(Exception):
    pass


class _Server(uvicorn.Server):
    """uvicorn's server, which also stops the live feed and the generator on Ctrl-C or SIGTERM."""

    def __init__(self, config: uvicorn.Config, on_exit) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig, frame) -> None:
        if not self.should_exit:
            log.info("stopping (%s)", signal.Signals(sig).name)
        self.on_exit()
        super().handle_exit(sig, frame)


def listen(host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048,
                                    dualstack_ipv6=family == socket.AF_INET6 and host in ("::", ""))
    except OSError as error:
        raise ServerError(f"cannot listen on {host}:{port}: {error.strerror or error}; choose another "
                          "with --port or [server] port") from None


def addresses(host: str, port: int, token: str | None, tls: bool) -> list[str]:
    scheme = "https" if tls else "http"
    names = [socket.gethostname(), "127.0.0.1"] if host in ("0.0.0.0", "::", "") else [host]
    suffix = f"/?token={token}" if token else "/"
    return [f"{scheme}://{name if ':' not in name else f'[{name}]'}:{port}{suffix}" for name in names]


def serve(config, generator: Generator | None = None, stop: threading.Event | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM; with a generator, collect in a thread beside it."""
    server_settings = config.server
    # A database that cannot be used stops start-up here, with its one-line reason, rather than
    # in the app's lifespan, where uvicorn would print a traceback after "serving at".
    Writer(config.database_path).close()
    token = None
    if server_settings.auth == "token":
        token = load_or_create_token(config.generator.directory)
    else:
        log.warning("[server] auth = none: anyone who can reach port %d can read and write", server_settings.port)
    sockets = [listen(server_settings.host, server_settings.port)]
    if server_settings.ingest_port:
        sockets.append(listen(server_settings.host, server_settings.ingest_port))

    source = generator.source if generator else socket.gethostname()
    app = create_app(config, token, source)
    if server_settings.ingest_port:
        app = IngestOnlyOn(app, server_settings.ingest_port)
    stop = stop or threading.Event()
    uvicorn_config = uvicorn.Config(
        app, log_level="debug" if server_settings.debug else "warning",
        access_log=server_settings.debug, server_header=False, proxy_headers=False,
        ssl_certfile=server_settings.certfile or None, ssl_keyfile=server_settings.keyfile or None,
        timeout_graceful_shutdown=5, lifespan="on", http=BoundedHttpProtocol)
    server = _Server(uvicorn_config, stop.set)

    collecting = None
    if generator is not None:
        generator.open()  # here, so that a database problem stops start-up with its message
        collecting = threading.Thread(target=generator.loop, args=(stop,), name="generator")
        collecting.start()
    for address in addresses(server_settings.host, server_settings.port, token, bool(server_settings.certfile)):
        log.info("serving at %s", address)
    if server_settings.ingest_port:
        log.info("push routes also on port %d", server_settings.ingest_port)
    try:
        server.run(sockets=sockets)
    finally:
        stop.set()
        if collecting is not None:
            collecting.join()


class IngestOnlyOn:
    """On the second (ingest) port, only the push routes answer, as on the original's port."""

    def __init__(self, app, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("server", (None, None))[1] == self.port \
                and scope["path"] not in INGEST_PATHS:
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"error":"this port only takes pushed data"}'})
            return
        await self.app(scope, receive, send)
