"""A local HTTP server standing in for the alerts' channels (a webhook, Telegram's Bot API, a Discord webhook):
records every POST (its arrival time, path, headers and body) and answers from a script (status, headers, body),
then 200. ``hang`` makes it hold every request until ``release`` (a receiver that hangs). ``clock``: the time
recorded for each request (default: ``time.time``; a test's simulated clock)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.served_http import ServedHttp

__all__ = ["AlertReceiver", "Answer", "Received"]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


class AlertReceiver(ServedHttp):
    name = "fake alert receiver"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self._lock = threading.Lock()
        self._script: deque[Answer] = deque()
        self._received: list[Received] = []
        self._released = threading.Event()
        self._released.set()
        self.waiting = 0
        """Requests held right now (``hang``)."""
        self.default = Answer(200, {"ok": True})
        """The answer once the script is done."""

    def answer(self, *answers: Answer) -> None:
        """The next requests' answers, in order (then 200)."""
        with self._lock:
            self._script.extend(answers)

    def hang(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def delivered(self) -> list[Received]:
        return [r for r in self.received if r.status < 300]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = fake.clock()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.waiting += 1
                fake._released.wait(30)
                with fake._lock:
                    fake.waiting -= 1
                    answer = fake._script.popleft() if fake._script else fake.default
                    fake._received.append(Received(at, self.path, dict(self.headers.items()), body, answer.status))
                raw = json.dumps(answer.body if answer.body is not None else {"ok": answer.status < 300}).encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client gave up (its timeout)
                    pass

            def log_message(self, *_args: Any) -> None:
                pass

        return _Handler
