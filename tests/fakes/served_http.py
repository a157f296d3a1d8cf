"""A local HTTP server on a daemon thread: the life cycle the HTTP fakes share (start on 127.0.0.1, ``port`` 0:
any free one; stop: shutdown, close, join; a context manager; the base URL). A fake says what answers with
:meth:`ServedHttp.handler`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

__all__ = ["HOST", "ServedHttp"]

HOST = "127.0.0.1"


class ServedHttp:
    """Subclass and define :meth:`handler`."""

    name = "fake HTTP"

    def __init__(self, *, port: int = 0) -> None:
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class (it may close over the fake)."""
        raise NotImplementedError

    def start(self) -> Self:
        self._server = ThreadingHTTPServer((HOST, self.port), self.handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join(5.0)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"
