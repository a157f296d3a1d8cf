"""A small JSON REST server on 127.0.0.1 for the Bybit and OKX fakes: routes by method and path, records every
request, and answers the next requests of a path with a failure when a test asks (an HTTP status with a body,
or a body that is not JSON)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.served_http import ServedHttp

__all__ = ["JsonRest", "Request"]

Handler = Callable[[dict[str, str]], Any]


@dataclass(frozen=True)
class Request:
    """One request the fake received: method, path, query parameters, and whether a route answered it."""

    method: str
    path: str
    params: dict[str, str]
    handled: bool


@dataclass
class _Failure:
    prefix: str
    times: int
    status: int
    body: bytes


class JsonRest(ServedHttp):
    """Serve ``routes`` ({(method, path): handler(params) -> JSON-able}) on 127.0.0.1 (``port`` 0: any free one).
    An unknown path is answered 404 and recorded as unexpected."""

    name = "fake REST"

    def __init__(self, routes: dict[tuple[str, str], Handler], *, port: int = 0) -> None:
        super().__init__(port=port)
        self._routes = routes
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._failures: list[_Failure] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = fake.handle("GET", self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        return _Handler

    def fail_next(self, path_prefix: str, *, status: int = 503, body: bytes | str = b'{"msg":"unavailable"}',
                  times: int = 1) -> None:
        """Answer the next ``times`` requests whose path starts with ``path_prefix`` with ``status`` and ``body``
        (any bytes: not JSON, to test a client's handling of garbage)."""
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._failures.append(_Failure(path_prefix, times, status, raw))

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def unexpected(self) -> list[Request]:
        return [r for r in self.requests if not r.handled]

    def handle(self, method: str, target: str) -> tuple[int, bytes]:
        parts = urlsplit(target)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        route = self._routes.get((method, parts.path))
        with self._lock:
            self._requests.append(Request(method, parts.path, params, route is not None))
            for failure in self._failures:
                if failure.times > 0 and parts.path.startswith(failure.prefix):
                    failure.times -= 1
                    return failure.status, failure.body
        if route is None:
            return 404, json.dumps({"msg": f"{self.name}: no endpoint {method} {parts.path}"}).encode()
        return 200, json.dumps(route(params)).encode()
