"""The one parser of the moments users type on command lines and in query strings."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["parse_time_ms", "utc_day"]


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
