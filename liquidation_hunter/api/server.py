"""The HTTP server: stdlib ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, ``TCP_NODELAY``), routing by table,
JSON by orjson, an optional bearer token. Read-only: GET and HEAD; any other method is 405.

Start it next to a running bot (``ApiServer(source, host=..., port=...).start()``, a daemon thread; ``.stop()``
returns within a second) or alone over a recording (``liquidation-hunter serve``, :mod:`.cli`).
``ThreadingHTTPServer`` starts a thread per connection: fine for a few dashboards and scripts, not meant as a
public service (put a reverse proxy in front for that).

**Auth.** ``token`` (from the environment variable ``api.token_env``) is required on every ``/api/...`` request
as ``Authorization: Bearer <token>`` when set; a server bound to an address other than the loopback refuses to
start without one (:func:`resolve_token`). ``/health``, ``/openapi.json``, ``/docs``, ``/`` and ``/static/...``
hold no data and stay open, so a supervisor and a browser can reach them. The token is compared in constant
time and never logged.

**Errors** are JSON ``{"error": ..., "detail": ...}``: 400 for a bad parameter (the detail names it), 404 for an
unknown symbol or path, 401 for a missing token, 405 for a method other than GET/HEAD. An exception inside a
view is a 500 with a generic message; what happened goes to the log, never to the client.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import mimetypes
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from liquidation_hunter.api.docs import DOCS_HTML
from liquidation_hunter.api.openapi import openapi
from liquidation_hunter.api.params import ParamError, parse_query
from liquidation_hunter.api.views import ApiError, ApiSource, Download

__all__ = ["STATIC_DIR", "ApiAuthError", "ApiServer", "Response", "bearer_ok", "is_loopback", "resolve_token"]

STATIC_DIR = Path(__file__).with_name("static")
"""The page's files (``index.html``, its JS and CSS), served at ``/`` and ``/static/<file>``."""
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                  ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
                  ".ico": "image/x-icon", ".map": "application/json", ".woff2": "font/woff2", ".txt": "text/plain"}
_JSON = "application/json"
_FALLBACK_INDEX = (b"<!doctype html><meta charset=utf-8><title>liquidation-hunter</title>"
                   b"<p>liquidation-hunter API. <a href=/docs>Interactive docs</a>, "
                   b"<a href=/openapi.json>OpenAPI description</a>.</p>")


class ApiAuthError(RuntimeError):
    """The server cannot start as configured (a non-loopback address without a token)."""


Response = tuple[int, str, bytes, dict[str, str]]
"""``(status, content type, body, extra headers)``."""


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` or ``localhost``; anything else (``0.0.0.0``, a LAN address, a name) is not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token_env: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The bearer token from ``environ[token_env]`` (default ``os.environ``), or None when unset on the
    loopback. Raises :class:`ApiAuthError` for a non-loopback ``host`` without one."""
    env = os.environ if environ is None else environ
    token = env.get(token_env, "") if token_env else ""
    if token:
        return token
    if not is_loopback(host):
        raise ApiAuthError(f"api: refusing to listen on {host} without a token: set the environment variable "
                           f"{token_env or '(api.token_env is empty)'} or bind to 127.0.0.1")
    return None


def bearer_ok(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (constant-time); always true without a token."""
    if token is None:
        return True
    if not header or header[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(header[7:].strip().encode("utf-8", "replace"), token.encode())


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    return status, _JSON, orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), headers or {}


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return _json(status, {"error": error, "detail": detail}, headers)


class _App:
    """Routing, auth and the views, without the socket (what every request goes through)."""

    def __init__(self, source: ApiSource, token: str | None, static_dir: Path) -> None:
        self.source = source
        self.token = token
        self.static_dir = static_dir
        spec = openapi()
        self._openapi = orjson.dumps(spec)
        self._known: dict[str, frozenset[str]] = {
            path: frozenset(p["name"] for p in item["get"]["parameters"] if p["in"] == "query")
            for path, item in spec["paths"].items()}
        self._plain: dict[str, Callable[[Any], Any]] = {
            "/health": lambda q: source.health(),
            "/api/v1/symbols": source.symbols,
            "/api/v1/status": lambda q: source.status(),
        }
        self._by_symbol: dict[str, Callable[[str, Any], Any]] = {
            "clusters": source.clusters, "signal": source.signal, "grid": source.grid, "events": source.events,
            "export": source.export,
        }

    def handle(self, target: str, authorization: str | None) -> Response:
        split = urlsplit(target)
        path = split.path
        if path.startswith("/api/") and not bearer_ok(authorization, self.token):
            return _error(401, "unauthorized", "this server needs Authorization: Bearer <token>",
                          {"WWW-Authenticate": 'Bearer realm="liquidation-hunter"'})
        try:
            query = parse_query(parse_qsl(split.query, keep_blank_values=True, max_num_fields=50))
            plain = self._plain.get(path)
            if plain is not None:
                query.only(self._known[path])
                return _json(200, plain(query))
            parts = path.split("/")
            if len(parts) >= 5 and parts[:3] == ["", "api", "v1"] and parts[3] in self._by_symbol:
                symbol = unquote("/".join(parts[4:]))
                if symbol:
                    query.only(self._known[f"/api/v1/{parts[3]}/{{symbol}}"])
                    result = self._by_symbol[parts[3]](symbol, query)
                    if isinstance(result, Download):
                        return 200, result.content_type, result.body, {
                            "Content-Disposition": f'attachment; filename="{result.filename}"'}
                    return _json(200, result)
            if path == "/openapi.json":
                return 200, _JSON, self._openapi, {}
            if path == "/docs":
                return 200, "text/html; charset=utf-8", DOCS_HTML, {}
            if path in ("/", "/index.html"):
                index = self._static("index.html")
                return index if index[0] == 200 else (200, "text/html; charset=utf-8", _FALLBACK_INDEX, {})
            if path.startswith("/static/"):
                return self._static(path[len("/static/"):])
            return _error(404, "not found", f"no such path {path[:100]!r}; GET /docs lists the operations")
        except ParamError as exc:
            return _error(400, "bad parameter", str(exc))
        except ValueError as exc:  # parse_qsl: too many fields
            return _error(400, "bad request", str(exc)[:200])
        except ApiError as exc:
            return _error(exc.status, exc.error, exc.detail)

    def _static(self, name: str) -> Response:
        """A file of the static folder: no ``..``, no absolute path, nothing outside it, files only."""
        relative = unquote(name)
        missing = _error(404, "not found", f"no static file {relative[:100]!r}")
        if (not relative or "\x00" in relative or "\\" in relative or relative.startswith("/")
                or any(part in ("", ".", "..") for part in relative.split("/"))):
            return missing
        root = self.static_dir.resolve()
        try:
            target = (root / relative).resolve()
        except (OSError, RuntimeError):
            return missing
        if not target.is_relative_to(root) or not target.is_file():
            return missing
        content_type = _CONTENT_TYPES.get(target.suffix.lower()) or (
            mimetypes.guess_type(target.name)[0] or "application/octet-stream")
        try:
            return 200, content_type, target.read_bytes(), {"Cache-Control": "no-cache"}
        except OSError:
            return missing


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "liquidation-hunter"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is closed after this many seconds
    server: _Server

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        status, ctype, body, headers = _error(405, "method not allowed",
                                              f"{self.command[:20]} is not allowed: this API is read-only (GET, HEAD)",
                                              {"Allow": "GET, HEAD"})
        self._discard_body()
        self._send(status, ctype, body, headers, head=False)

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= 1 << 20:
            self.rfile.read(int(length))
        elif length or self.headers.get("Transfer-Encoding"):
            self.close_connection = True

    def _serve(self, head: bool) -> None:
        app = self.server.app
        try:
            status, ctype, body, headers = app.handle(self.path, self.headers.get("Authorization"))
        except Exception as exc:  # noqa: BLE001 - a view's bug is a 500 for this request, never a dead server
            _log().error("api.request_failed", path=urlsplit(self.path).path[:200],
                         error=f"{type(exc).__name__}: {exc}"[:300])
            status, ctype, body, headers = _error(500, "internal error", "the server could not answer; see its log")
        self._send(status, ctype, body, headers, head=head)

    def _send(self, status: int, ctype: str, body: bytes, headers: dict[str, str], *, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", headers.pop("Cache-Control", "no-store"))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own errors (bad request line, headers too long...) as JSON too."""
        self.close_connection = True
        if code >= 500:  # 505 for an unknown HTTP version, 501 for an odd method: the client's doing, a 4xx
            message, code = message or "unsupported request", 400
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        status, ctype, body, headers = _error(code, phrase.lower(), (message or phrase)[:200])
        if getattr(self, "request_version", "") == "HTTP/0.9" or not hasattr(self, "command"):
            self.request_version = "HTTP/1.1"
        headers["Connection"] = "close"
        self._send(status, ctype, body, headers, head=getattr(self, "command", "") == "HEAD")

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """No line per request (the stdlib writes them to stderr)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: _App) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle + delayed-ACK 40 ms stalls
        with self._open_lock:
            self._open.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (client gone, reset, timed out) ends quietly; anything else is logged."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        _log().error("api.connection_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    def close_connections(self) -> None:
        """End every open keep-alive connection, so their threads finish now."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class ApiServer:
    """The API over ``source``, listening on ``host:port`` (port 0: any free port, see :attr:`port`).

    ``token``: required as a bearer token on ``/api/...`` when given; for a non-loopback ``host`` it must be
    given (:func:`resolve_token` reads it from the environment). ``static_dir``: the page's files.

    ``switch_interval``: :meth:`start` lowers the interpreter's GIL switch interval (``sys.setswitchinterval``,
    default 5 ms) to at most this many seconds. A request thread that wakes up from the socket otherwise waits
    up to 5 ms for a busy thread (the stream's ingest) to hand over the GIL, several times per request. None
    leaves it alone. It is process-wide; :meth:`stop` puts back what it found.
    """

    def __init__(self, source: ApiSource, *, host: str = "127.0.0.1", port: int = 8700, token: str | None = None,
                 static_dir: str | os.PathLike[str] | None = None, switch_interval: float | None = 0.0002) -> None:
        if not is_loopback(host) and not token:
            raise ApiAuthError(f"api: refusing to listen on {host} without a token (bind to 127.0.0.1, or set one)")
        self.source = source
        self.host = host
        self._requested_port = port
        self.app = _App(source, token or None, Path(static_dir) if static_dir is not None else STATIC_DIR)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.switch_interval = switch_interval
        self._previous_interval: float | None = None

    @classmethod
    def from_config(cls, source: ApiSource, config: Any, environ: Mapping[str, str] | None = None) -> ApiServer:
        """From an ``api:`` section (:class:`~liquidation_hunter.config.sections.ApiConfig`): host, port and the
        token from ``environ[config.token_env]``. Raises :class:`ApiAuthError` as :func:`resolve_token` does."""
        token = resolve_token(config.host, config.token_env, environ)
        return cls(source, host=config.host, port=config.port, token=token)

    @property
    def port(self) -> int:
        """The bound port (after :meth:`bind` or :meth:`start`)."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> ApiServer:
        """Open the listening socket (``OSError`` if the port is taken); :meth:`start` does it when needed."""
        if self._server is None:
            self._server = _Server((self.host, self._requested_port), self.app)
        return self

    def start(self) -> ApiServer:
        """Serve on a daemon thread; returns at once (the socket is listening already)."""
        if self._thread is not None:
            return self
        server = self.bind()._server
        assert server is not None
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="api-server", daemon=True)
        if self.switch_interval is not None and sys.getswitchinterval() > self.switch_interval:
            self._previous_interval = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_interval)
        self._thread.start()
        _log().info("api.started", url=self.url, auth=self.app.token is not None)
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting, end open connections, close the socket; returns within ``timeout`` seconds."""
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is None:
            return
        deadline = time.monotonic() + timeout
        if thread is not None:
            server.shutdown()
            thread.join(max(0.0, deadline - time.monotonic()))
        server.close_connections()
        server.server_close()
        if self._previous_interval is not None:
            sys.setswitchinterval(self._previous_interval)
            self._previous_interval = None
        _log().info("api.stopped", url=f"http://{self.host}:{server.server_address[1]}")

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _log() -> Any:
    import structlog

    return structlog.get_logger("liquidation_hunter.api")
