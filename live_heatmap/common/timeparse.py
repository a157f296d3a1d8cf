"""The one parser of the moments and the one parser of the durations users type on command lines and in query
strings."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["parse_duration_ms", "parse_time_ms", "utc_day"]

_UNITS_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000}
_DURATION = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,9})?)\s*([smhd])")


def parse_time_ms(text: str) -> int:
    """UTC epoch milliseconds from digits (taken as ms) or an ISO-8601 time (UTC when no zone is given).

    Raises ``ValueError`` naming what was expected.
    """
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected epoch ms or an ISO-8601 time such as 2025-01-27T16:50:00Z, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def utc_day(now_ms: int) -> str:
    """The UTC date of ``now_ms`` (epoch ms) as ``YYYY-MM-DD``, whatever the host's time zone."""
    return datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%d")


def parse_duration_ms(text: str, *, low_ms: int = 60_000, high_ms: int | None = None) -> int:
    """Milliseconds from a number and a unit: ``90s``, ``30m``, ``1.5h``, ``2h``, ``1d`` (units ``s``, ``m``, ``h``,
    ``d``; any case, spaces around and between allowed), within ``[low_ms, high_ms]`` (no upper bound when None).

    Raises ``ValueError("expected a duration such as 30m, 2h or 1d (units s, m, h, d), from 1m to 7d, got 'x'")``
    (the bounds as given); the caller puts the name of what it parses in front.
    """
    bounds = (f"from {_short(low_ms)} to {_short(high_ms)}" if high_ms is not None
              else f"at least {_short(low_ms)}")
    match = _DURATION.fullmatch(text.strip().lower())
    value = round(float(match[1]) * _UNITS_MS[match[2]]) if match else None
    if value is None or value < low_ms or (high_ms is not None and value > high_ms):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(f"expected a duration such as 30m, 2h or 1d (units s, m, h, d), {bounds}, got {shown!r}")
    return value


def _short(ms: int) -> str:
    """``ms`` in the largest unit that divides it: ``7d``, ``90m``, ``1500ms``."""
    for unit, size in _UNITS_MS.items():
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
