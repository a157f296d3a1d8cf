"""The API served by uvicorn on a thread of its own: ``ApiServer(source, host=..., port=...).start()`` beside a
running bot (a service: :meth:`ApiServer.start` returns at once, :meth:`ApiServer.stop` within a second), or
alone over a recording (``liquidation-hunter serve``, :mod:`liquidation_hunter.cli.serve`).

uvicorn runs with no logging set-up of its own (its stdlib loggers reach whatever handler the process has: the
bot's JSON lines), no access log, no signal handlers (they belong to the main thread's owner) and no setting
that reaches beyond this server. Not meant as a public service: put a reverse proxy in front for that.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
import uvicorn

from liquidation_hunter.api.app import STATIC_DIR, create_app
from liquidation_hunter.api.auth import ApiAuthError, is_loopback, resolve_token
from liquidation_hunter.api.views import ApiSource

__all__ = ["ApiServer"]

_log = structlog.get_logger("liquidation_hunter.api")


class ApiServer:
    """The API over ``source``, listening on ``host:port`` (port 0: any free port, see :attr:`port`).

    ``token``: required as a bearer token on ``/api/...`` when given; for a non-loopback ``host`` it must be
    given (:func:`~.auth.resolve_token` reads it from the environment). ``static_dir``: the page's files.
    """

    def __init__(self, source: ApiSource, *, host: str = "127.0.0.1", port: int = 8700, token: str | None = None,
                 static_dir: str | os.PathLike[str] | None = None) -> None:
        if not is_loopback(host) and not token:
            raise ApiAuthError(f"api: refusing to listen on {host} without a token (bind to 127.0.0.1, or set one)")
        self.source = source
        self.host = host
        self.token = token or None
        self.static_dir = Path(static_dir) if static_dir is not None else STATIC_DIR
        self.app = create_app(source, token=self.token, static_dir=self.static_dir)
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, source: ApiSource, config: Any, environ: Mapping[str, str] | None = None) -> ApiServer:
        """From an ``api:`` section (:class:`~liquidation_hunter.config.sections.ApiConfig`): host, port and the
        token from ``environ[config.token_env]``. Raises :class:`ApiAuthError` as ``resolve_token`` does."""
        token = resolve_token(config.host, config.token_env, environ)
        return cls(source, host=config.host, port=config.port, token=token)

    @property
    def port(self) -> int:
        """The bound port (after :meth:`bind` or :meth:`start`)."""
        if self._socket is None:
            return self._requested_port
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> ApiServer:
        """Open the listening socket; :meth:`start` does it when needed. A port that is taken (or an address
        that cannot be bound) raises ``OSError`` whose message names the address and the setting to change."""
        if self._socket is None:
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.host.strip("[]"), self._requested_port))
                sock.listen(128)
            except OSError as exc:
                sock.close()
                raise _bind_error(self.host, self._requested_port, exc) from None
            self._socket = sock
        return self

    def start(self, timeout: float = 5.0) -> ApiServer:
        """Serve on a daemon thread; returns once uvicorn serves (the socket is listening already)."""
        if self._thread is not None:
            return self
        sock = self.bind()._socket
        assert sock is not None
        # uvloop and httptools, named (not "auto", which falls back in silence): beside a busy ingest thread, the
        # asyncio loop and h11 hand the interpreter lock over several times more per request (docs/PERFORMANCE.md).
        config = uvicorn.Config(self.app, loop="uvloop", http="httptools", log_config=None, access_log=False,
                                lifespan="off", server_header=False, timeout_keep_alive=30,
                                timeout_graceful_shutdown=1)
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="api-server",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not server.started:
            self.stop()
            raise OSError(f"api: the server on {self.url} did not start within {timeout:g} s")
        _log.info("api.started", url=self.url, auth=self.token is not None)
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting, end open connections, close the socket; returns within ``timeout`` seconds."""
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        sock, self._socket = self._socket, None
        if sock is None:
            return
        port = sock.getsockname()[1]
        if server is not None and thread is not None:
            server.should_exit = server.force_exit = True  # force: no wait for keep-alive clients to leave
            thread.join(timeout)
        with contextlib.suppress(OSError):
            sock.close()
        _log.info("api.stopped", url=f"http://{self.host}:{port}")

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bind_error(host: str, port: int, exc: OSError) -> OSError:
    """``exc`` as one line naming the address: ``api: cannot listen on 127.0.0.1:8700: the port is in use ...``."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        why = "the port is in use (another bot or `serve`?): set api.port, or serve --port"
    else:
        why = exc.strerror or str(exc)
    error = OSError(f"api: cannot listen on {where}: {why}")
    error.errno = exc.errno  # kept for callers that test it; the message stays one line without "[Errno N]"
    return error
