"""An app: a list of services started in order and stopped in reverse order, until SIGINT/SIGTERM.

``run`` and ``record`` are each one list of :class:`Service` (the API server, the bot, the recorder, the stream,
the scheduler...). :meth:`App.run` starts them one by one; when one fails to start, those already started are
stopped (in reverse order) and the error goes on to the caller. Then it waits for a signal or :meth:`App.stop`
and stops every service in reverse order: each gets its turn even when one before it failed (logged). Nothing
here calls ``os._exit``: the services' threads are daemon threads, so a job stuck in a network call cannot hold
the process past its stop.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

import structlog

from live_heatmap.common.errors import describe

__all__ = ["App", "Service"]

log = structlog.get_logger("liquidation_hunter.app")


@dataclass(frozen=True, slots=True)
class Service:
    """A name and how to start and stop it."""

    name: str
    start: Callable[[], object]
    stop: Callable[[], object]


class App:
    """Runs ``services`` (module docstring). ``monotonic`` is injected for the stop's timing."""

    def __init__(self, services: Sequence[Service], *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.services = tuple(services)
        self._stop = threading.Event()
        self._monotonic = monotonic
        self.reason: str | None = None
        """Why the app stopped: the signal's name, or what :meth:`stop` was given."""
        self.failed: list[str] = []
        """Services whose ``stop`` raised (logged)."""
        self.ran_seconds = 0.0
        """From the first start to the stop request."""
        self.stop_seconds = 0.0
        """How long stopping every service took."""

    def stop(self, reason: str = "stopped") -> None:
        """End :meth:`run` (from any thread or a signal handler): the first reason is kept."""
        if self.reason is None:
            self.reason = reason
        self._stop.set()

    def run(self, *, install_signals: bool = True, until: threading.Event | None = None) -> str:
        """Start every service, wait for SIGINT/SIGTERM, :meth:`stop` or ``until``; stop them all in reverse
        order. Returns the reason it stopped."""
        started: list[Service] = []
        previous: dict[signal.Signals, Any] = {}
        begun = self._monotonic()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            for service in self.services:
                service.start()
                started.append(service)
            while not self._stop.wait(0.1):  # a timeout: a signal handler runs between waits
                if until is not None and until.is_set():
                    self.stop()
        finally:
            stopping = self._monotonic()
            self.ran_seconds = stopping - begun
            self._stop_all(started)
            self.stop_seconds = self._monotonic() - stopping
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.reason or "stopped"

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stop(signal.Signals(signum).name)

    def _stop_all(self, started: list[Service]) -> None:
        for service in reversed(started):
            began = self._monotonic()
            try:
                service.stop()
            except Exception as exc:  # noqa: BLE001 - every service gets its turn to stop
                self.failed.append(service.name)
                log.error("service_stop_failed", service=service.name, error=describe(exc))
            else:
                log.debug("service_stopped", service=service.name,
                          seconds=round(self._monotonic() - began, 3))
