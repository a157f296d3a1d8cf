"""structlog as its authors advise: JSON lines when not on a terminal, readable console output on one,
and no secret ever written (every string value is scrubbed of the API key and secret before rendering)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["SecretScrubber", "configure_logging"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
           "critical": logging.CRITICAL}


class SecretScrubber:
    """A structlog processor (and a stdlib logging filter) replacing each secret with ``****``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = tuple(s for s in secrets if s and len(s) >= 4)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "****")
        return text

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._value(v) for v in value)
        if isinstance(value, BaseException | bytes):
            return self.scrub(repr(value) if isinstance(value, bytes) else str(value))
        return value

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if self._secrets:
            for key, value in list(event.items()):
                event[key] = self._value(value)
        return event

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = self.scrub(record.getMessage())
            record.args = None
        return True


def configure_logging(*, fmt: str = "auto", level: str = "info", secrets: Iterable[str | None] = (),
                      stream: TextIO | None = None) -> None:
    """Set up structlog for the bot, and route stdlib logging (APScheduler, ccxt, urllib3...) through the same
    renderer, so every line of the stream has one format.

    ``fmt``: ``json``, ``console`` or ``auto`` (console on a terminal). Exceptions are rendered into the
    line (``exc_info``), after the secrets are scrubbed from them. A stdlib record gets ``logger`` (its
    name), ``level`` and ``timestamp`` like the bot's own lines; its message is the ``event``.
    """
    level = level.lower()  # the config accepts either case
    out = stream or sys.stdout
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    scrubber = SecretScrubber(secrets)
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=out.isatty()) if console
                     else structlog.processors.JSONRenderer(default=str))
    tail: list[Any] = [scrubber, renderer] if console else [structlog.processors.format_exc_info, scrubber, renderer]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level, stamp,
                    structlog.processors.StackInfoRenderer(), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(out)
    handler.addFilter(scrubber)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, stamp],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail]))
    root.addHandler(handler)
    root.setLevel(max(_LEVELS[level], logging.WARNING))
