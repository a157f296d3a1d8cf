"""An exception as one line: what a command prints, a log line or a status shows (drivers and DuckDB write their
messages over several lines)."""

from __future__ import annotations

__all__ = ["describe", "first_line"]


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of ``exc``'s message (its class name when it has none), cut at ``limit`` characters."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if limit is None else line[:limit]


def describe(exc: BaseException) -> str:
    """``ClassName: message``: an error as a log line's ``error`` field or a status's ``last_error`` names it."""
    return f"{type(exc).__name__}: {exc}"
