"""Query parameters of the HTTP API: parsed once at the edge, each mistake a :class:`ParamError` naming it.

An empty value (``max_distance=``) means "not given". A parameter given twice is an error, and so is one the
endpoint does not know (a typo such as ``min_strenght`` would otherwise pass unnoticed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from live_heatmap.common.timeparse import parse_time_ms as parse_moment

__all__ = [
    "MAX_WINDOW_MS",
    "MIN_WINDOW_MS",
    "ParamError",
    "Query",
    "parse_query",
    "parse_time_ms",
    "parse_window_ms",
]

MIN_WINDOW_MS = 60_000
"""Shortest grid window: 1 minute."""
MAX_WINDOW_MS = 7 * 86_400_000
"""Longest grid window: 7 days."""
_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_WINDOW = re.compile(r"(\d{1,7})([smhd])")
_MIN_MS = 1_262_304_000_000  # 2010-01-01
_MAX_MS = 4_102_444_800_000  # 2100-01-01


class ParamError(ValueError):
    """A bad request: ``str(error)`` says which parameter, what was expected and what came."""

    def __init__(self, name: str, expected: str, got: str, *, message: str | None = None) -> None:
        shown = got if len(got) <= 60 else got[:57] + "..."
        super().__init__(message or f"{name}: expected {expected}, got {shown!r}")
        self.name = name


class Query:
    """The query string's values by name (each given at most once)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def only(self, known: Iterable[str]) -> None:
        """Raise :class:`ParamError` for a name not in ``known``."""
        allowed = frozenset(known)
        for name in self._values:
            if name not in allowed:
                known_text = ", ".join(sorted(allowed)) or "none"
                raise ParamError(name, "", "", message=f"unknown parameter {name[:40]!r} (known here: {known_text})")

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        return None if value is None or value == "" else value

    def _given(self, name: str) -> str | None:
        """A typed parameter's text: None when absent; an empty value is an error (leave it out instead)."""
        value = self._values.get(name)
        if value == "":
            raise ParamError(name, "a value (leave the parameter out to use its default)", "")
        return value

    def short_text(self, name: str, max_length: int) -> str | None:
        """Text of at most ``max_length`` characters."""
        raw = self.text(name)
        if raw is not None and len(raw) > max_length:
            raise ParamError(name, f"at most {max_length} characters", raw)
        return raw

    def number(self, name: str, default: float | None, low: float, high: float) -> float | None:
        """A finite number in ``[low, high]``."""
        raw = self._given(name)
        if raw is None:
            return default
        expected = f"a number in [{low:g}, {high:g}]"
        try:
            value = float(raw)
        except ValueError:
            raise ParamError(name, expected, raw) from None
        if not (math.isfinite(value) and low <= value <= high):
            raise ParamError(name, expected, raw)
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (digits only)."""
        raw = self._given(name)
        if raw is None:
            return default
        expected = f"an integer from {low} to {high}"
        if not re.fullmatch(r"-?\d{1,12}", raw):
            raise ParamError(name, expected, raw)
        value = int(raw)
        if not low <= value <= high:
            raise ParamError(name, expected, raw)
        return value

    def choice(self, name: str, default: str, *options: str) -> str:
        raw = self._given(name)
        if raw is None:
            return default
        if raw not in options:
            raise ParamError(name, "one of " + ", ".join(repr(o) for o in options), raw)
        return raw

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._given(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ParamError(name, "true or false", raw)

    def time_ms(self, name: str) -> int | None:
        raw = self._given(name)
        return None if raw is None else parse_time_ms(raw, name)


def parse_query(pairs: list[tuple[str, str]]) -> Query:
    """The query from ``urllib.parse.parse_qsl(..., keep_blank_values=True)``; a repeated name is an error."""
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise ParamError(name, "one value", f"{values[name]}, {value}")
        values[name] = value
    return Query(values)


def parse_time_ms(text: str, name: str) -> int:
    """UTC epoch ms from digits (ms) or ISO-8601 (UTC when no zone is given), within 2010..2100."""
    expected = "epoch milliseconds or an ISO-8601 time such as 2025-01-27T17:20Z, within 2010..2100"
    if text.isdigit() and len(text) > 15:
        raise ParamError(name, expected, text)
    try:
        value = parse_moment(text)
    except ValueError:
        raise ParamError(name, expected, text) from None
    if not _MIN_MS <= value < _MAX_MS:
        raise ParamError(name, expected, text)
    return value


def parse_window_ms(text: str, name: str = "window") -> int:
    """``30m``, ``2h``, ``1d``, ``90s``... as ms, from :data:`MIN_WINDOW_MS` to :data:`MAX_WINDOW_MS`."""
    expected = "a duration such as 30m, 2h or 1d (units s, m, h, d), from 1m to 7d"
    match = _WINDOW.fullmatch(text.strip().lower())
    if match is None:
        raise ParamError(name, expected, text)
    value = int(match.group(1)) * _UNITS_MS[match.group(2)]
    if not MIN_WINDOW_MS <= value <= MAX_WINDOW_MS:
        raise ParamError(name, expected, text)
    return value
