"""The order-book liquidity layer (issue 15): local books kept in step with the venues' depth streams. Pure:
numpy, time passed in, no network, no wall clock; imports nothing of ``liquidation_hunter``.

* :mod:`.book` -- one symbol's price levels (:class:`OrderBook`).
* :mod:`.sync` -- keeping a book correct from a venue's diffs and snapshots (:class:`BinanceBookSync`,
  :class:`BybitBookSync`): gaps, crossed books and stale snapshots resync, every unused update is counted.
* :mod:`.recording` -- the one reader of recorded depth files (:func:`load_depth_recording`).
"""

from __future__ import annotations

from live_heatmap.orderbook.book import OrderBook
from live_heatmap.orderbook.sync import BinanceBookSync, BookSync, BybitBookSync

__all__ = ["BinanceBookSync", "BookSync", "BybitBookSync", "OrderBook"]
