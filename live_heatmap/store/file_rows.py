"""The row loop every history file reader shares: parse each row, line or item, count the rejected ones by
reason and go on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from live_heatmap.wire.events import FrameRejected, LiquidationEvent

__all__ = ["RowRejected", "parsed_rows"]


class RowRejected(ValueError):
    """A row rejected for a reason :class:`~live_heatmap.wire.events.RejectReason` does not name (the venue
    columns of an export, the shape of a Bybit recorder frame)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def parsed_rows(items: Iterable[Any], parse: Callable[[Any], LiquidationEvent],
                rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    """``parse`` of each item; an item it rejects is counted in ``rejected`` by reason."""
    for item in items:
        try:
            yield parse(item)
        except FrameRejected as exc:
            rejected[exc.reason.value] += 1
        except RowRejected as exc:
            rejected[exc.reason] += 1
