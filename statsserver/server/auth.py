"""Who may read and write: a token, as Jupyter does it, and security headers on every response.

On first start a random token is written to the data directory (mode 600) and printed with the
address. A browser opening `/?token=…` trades it for an HttpOnly, SameSite cookie. Programs send
it as `Authorization: Bearer …` (or `Token …`, as Influx clients do, or as a Basic password), or
as a `token=` parameter. Pushes from this machine need no token while `trust_localhost` is on.
"""

from __future__ import annotations

import base64
import functools
import hmac
import ipaddress
import json
import os
import secrets
import socket
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from .ingest import INGEST_PATHS

TOKEN_FILE = "token"
COOKIE = "statsserver_token"
COOKIE_MAX_AGE = 400 * 86400  # browsers cap cookies at 400 days anyway
# Routes anyone may call: the health check (readiness polls), the API description, signing in.
PUBLIC_API = ("/api/health", "/api/openapi.json", "/api/login", "/api/logout")

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; "
     b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # a token in an address never leaks to another site
]


def load_or_create_token(directory: str | Path) -> str:
    path = Path(directory) / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text().strip()
        if token:
            os.chmod(path, 0o600)  # tighten a file someone loosened
            return token
        path.unlink()
        return load_or_create_token(directory)
    with os.fdopen(descriptor, "w") as handle:
        token = secrets.token_urlsafe(32)
        handle.write(token + "\n")
    return token


@functools.lru_cache(maxsize=256)  # a client's address parsed once, not on each of its pushes
def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {key.lower(): value for key, value in scope.get("headers", [])}


def presented_token(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() in ("bearer", "token") and credentials:
        return credentials.strip()
    if scheme.lower() == "basic" and credentials:
        try:
            return base64.b64decode(credentials).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return None
    cookie = headers.get(b"cookie")
    if cookie:
        morsel = SimpleCookie(cookie.decode("latin-1")).get(COOKIE)
        if morsel:
            return morsel.value
    # The `token=` pair alone, as parse_qsl would read it: the rest of a range query's string
    # is its handler's to parse, and parsing it here too cost a tenth of a small query.
    for pair in scope.get("query_string", b"").split(b"&"):
        if pair.startswith(b"token=") and len(pair) > 6:
            return unquote_plus(pair[6:].decode("latin-1"))
    return None


def cookie_header(token: str, secure: bool, max_age: int = COOKIE_MAX_AGE) -> tuple[bytes, bytes]:
    value = f"{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return b"set-cookie", (value + ("; Secure" if secure else "")).encode()


class AccessControl:
    """ASGI middleware: decides each request, and adds the security headers to every response."""

    def __init__(self, app: ASGIApp, token: str | None, trust_localhost: bool, secure: bool) -> None:
        self.app = app
        self.token = token  # None: [server] auth = none
        self.trust_localhost = trust_localhost
        self.secure = secure
        hostname = socket.gethostname().lower()
        self.local_names = {"localhost", "127.0.0.1", "::1", hostname, f"{hostname}.local"}

    def valid(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.token.encode())

    def trusted_local(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        """A push from a program on this machine, and not from a web page in its browser.

        A proxy's client is not local (a forwarded request); a page on another site (the
        browser says cross-site) is not trusted even though its request leaves this machine;
        and a host name that is not this machine's means DNS rebinding, an attacker's name
        pointed at 127.0.0.1.
        """
        if not self.trust_localhost:
            return False
        if b"x-forwarded-for" in headers or b"forwarded" in headers:
            return False
        if headers.get(b"sec-fetch-site", b"none") not in (b"none", b"same-origin"):
            return False
        host = headers.get(b"host", b"").decode("latin-1").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.strip("[]") not in self.local_names:
            return False
        client = scope.get("client")
        return is_loopback(client[0] if client else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        path = scope["path"]
        if self.token is None or path in PUBLIC_API:
            await self.app(scope, receive, send_with_headers)
            return
        headers = _headers(scope)  # once per request, for the token and the trust checks
        presented = presented_token(scope, headers)
        guarded = path.startswith("/api/") or path in INGEST_PATHS
        if not guarded:
            # The app shell is public (it holds no data); an address carrying the token sets
            # the cookie and is replaced by one without it, so it stays out of history.
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            if any(key == "token" for key, _ in query) and scope["method"] in ("GET", "HEAD"):
                valid = self.valid(presented)
                # A wrong token (a stale or mistyped link) lands on the sign-in page saying so.
                rest = urlencode([(k, v) for k, v in query if k not in ("token", "signin")]
                                 + ([] if valid else [("signin", "failed")]))
                headers = [(b"location", (path + (f"?{rest}" if rest else "")).encode()),
                           (b"cache-control", b"no-store")]
                if valid:
                    headers.append(cookie_header(self.token, self.secure))
                await _respond(send_with_headers, 303, None, headers)
                return
            await self.app(scope, receive, send_with_headers)
            return
        if self.valid(presented) or (path in INGEST_PATHS and self.trusted_local(scope, headers)):
            await self.app(scope, receive, send_with_headers)
            return
        # Said to programs as much as to the web app (which shows its sign-in page on any 401).
        reason = "a valid token is required" if presented else (
            "this server needs its token (printed at start, and in the file token in its data directory): "
            "send it as an Authorization: Bearer header or a token= parameter")
        await _respond(send_with_headers, 401, {"error": reason},
                       [(b"www-authenticate", b'Bearer realm="statsserver"')])


async def _respond(send: Send, status: int, body: dict | None, headers: list) -> None:
    content = json.dumps(body).encode() if body is not None else b""
    headers = [*headers, (b"content-length", str(len(content)).encode())]
    if body is not None:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
