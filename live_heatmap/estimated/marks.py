"""The mark price at a time, from time-sorted price points per symbol (a price file's, or the liquidations'
own): the latest point at or before the time, unless it is older than ``stale_ms``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from live_heatmap.estimated.validation import FloatArray, IntArray

__all__ = ["LastPrice"]


class LastPrice:
    """``LastPrice(points)(symbol, at_ms)``: the latest price of ``symbol`` at or before ``at_ms`` no older than
    ``stale_ms``, or None. ``points`` are (symbol, time ms, price), in any order."""

    def __init__(self, points: Iterable[tuple[str, int, float]], *, stale_ms: int = 15 * 60_000) -> None:
        rows: dict[str, list[tuple[int, float]]] = {}
        for symbol, t, p in points:
            rows.setdefault(symbol, []).append((int(t), float(p)))
        self._cols: dict[str, tuple[IntArray, FloatArray]] = {}
        for symbol, pts in rows.items():
            pts.sort(key=lambda r: r[0])
            self._cols[symbol] = (np.array([t for t, _ in pts], dtype=np.int64), np.array([p for _, p in pts]))
        self.stale_ms = stale_ms

    def __call__(self, symbol: str, at_ms: int) -> float | None:
        cols = self._cols.get(symbol)
        if cols is None:
            return None
        t, p = cols
        i = int(np.searchsorted(t, at_ms, side="right")) - 1
        if i < 0 or at_ms - int(t[i]) > self.stale_ms:
            return None
        return float(p[i])

    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self._cols))
