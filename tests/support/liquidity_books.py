"""Synthetic order books fed into a real :class:`~live_heatmap.orderbook.layer.LiquidityLayer` (issue 15): an even
book around a price, with walls (a level forty times its neighbours) held for a given time, then pulled or filled
(traded through), for the unified view, the page and the hunter's wall option."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live_heatmap.orderbook.book import OrderBook
from live_heatmap.orderbook.layer import LiquidityLayer

STEP = 0.0001
"""Levels every 0.01 % of the price."""


@dataclass(frozen=True)
class WallPlan:
    """A wall of ``side`` at ``price`` from ``start_ms`` to ``end_ms`` (exclusive; None: still standing); ``filled``:
    trades inside its bin worth its size before it goes."""

    side: str
    price: float
    start_ms: int
    end_ms: int | None = None
    filled: bool = False


def book_at(symbol: str, mid: float, walls: list[WallPlan], at_ms: int, level_notional: float = 40_000.0
            ) -> OrderBook:
    """An even book of 400 levels a side around ``mid`` plus the walls standing at ``at_ms``."""
    k = np.arange(1, 401, dtype=np.float64)
    bid_prices, ask_prices = mid * (1 - STEP * k), mid * (1 + STEP * k)
    bids = np.column_stack([bid_prices, level_notional / bid_prices])
    asks = np.column_stack([ask_prices, level_notional / ask_prices])
    for wall in walls:
        if wall.start_ms <= at_ms and (wall.end_ms is None or at_ms < wall.end_ms):
            rows = bids if wall.side == "bid" else asks
            i = int(np.argmin(np.abs(rows[:, 0] - wall.price)))
            rows[i, 1] = 40 * level_notional / rows[i, 0]
    book = OrderBook(symbol)
    book.load(bids, asks, at_ms, at_ms)
    return book


def fed_layer(symbol: str, mid: float, walls: list[WallPlan], start_ms: int, end_ms: int, *, step_ms: int = 1000,
              layer: LiquidityLayer | None = None) -> LiquidityLayer:
    """``layer`` (a new one when None) sampled every ``step_ms`` from ``start_ms`` to ``end_ms`` with the books of
    :func:`book_at`; a filled wall is traded through just before it goes."""
    layer = layer if layer is not None else LiquidityLayer()
    for at in range(start_ms, end_ms + 1, step_ms):
        for wall in walls:
            if wall.filled and wall.end_ms is not None and at == wall.end_ms - step_ms:
                layer.trade(symbol, wall.price, 60 * 40_000.0 / wall.price, at)
        layer.sample(symbol, book_at(symbol, mid, walls, at), at, book_state="synced", resyncs=0)
    return layer
