"""Recorded depth replayed into a liquidity layer (issue 15), for the picture (``heatmap --layer depth``) and the
backtest (``backtest --depth FILE``).

A recording (what :func:`live_heatmap.orderbook.recording.load_depth_recording` reads: Binance REST snapshots and
``depth@100ms`` diffs, Bybit ``orderbook.*`` recorded by cryptofeed) goes through the venue's book sync in receive
order, exactly as the live feed's updates do (buffer, snapshot bridge, ``pu`` chain, resync on a gap); every
``sample_ms`` of receive time each synced book is sampled into a
:class:`~live_heatmap.orderbook.layer.LiquidityLayer` (a book that is not synced is not sampled: never a wrong
book). :class:`DepthReplay` does it step by step (``advance(until_ms)``) so a backtest can interleave it with the
liquidations in time order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from live_heatmap.orderbook.layer import LiquidityLayer
from live_heatmap.orderbook.recording import merge_depth_recordings
from live_heatmap.orderbook.sync import BinanceBookSync, BybitBookSync
from live_heatmap.wire.depth import DepthSnapshot, DepthUpdate

__all__ = ["DepthReplay", "replay_depth"]

DepthVenue = Literal["binance", "bybit"]


class DepthReplay:
    """One or more depth recordings replayed into ``layer`` (a new one when None), sampled every ``sample_ms`` of
    receive time. ``symbols``: only these (exchange ids; None: every symbol recorded)."""

    def __init__(self, paths: list[str | Path], *, layer: LiquidityLayer | None = None, sample_ms: int = 1000,
                 venue: DepthVenue = "binance", symbols: list[str] | None = None) -> None:
        if sample_ms < 1:
            raise ValueError(f"sample_ms: expected a positive number of ms, got {sample_ms}")
        self.layer = layer if layer is not None else LiquidityLayer()
        self.sample_ms = sample_ms
        self.venue = venue
        self.symbols = None if symbols is None else {s.upper() for s in symbols}
        self.syncs: dict[str, BinanceBookSync | BybitBookSync] = {}
        self._updates: Iterator[tuple[int, DepthUpdate]] = merge_depth_recordings(*paths)
        self._pending: tuple[int, DepthUpdate] | None = None
        self._next_sample: int | None = None
        self.updates = 0
        self.samples = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.mids: dict[str, list[tuple[int, float]]] = {}
        """Each symbol's mid at each sample (the picture's price line)."""

    def _sync(self, symbol: str) -> BinanceBookSync | BybitBookSync:
        sync = self.syncs.get(symbol)
        if sync is None:
            sync = BybitBookSync(symbol) if self.venue == "bybit" else BinanceBookSync(symbol)
            self.syncs[symbol] = sync
        return sync

    def _sample(self, at_ms: int) -> None:
        for symbol, sync in self.syncs.items():
            book = sync.book  # None while not synced: the layer ends its runs there
            with self.layer.lock:
                self.layer.sample(symbol, book, at_ms, book_state=sync.state, resyncs=sync.resyncs)
            if book is not None:
                self.samples += 1
                mid = book.mid()
                if mid is not None:
                    self.mids.setdefault(symbol, []).append((at_ms, mid))

    def advance(self, until_ms: int | None = None) -> None:
        """Apply every update received at or before ``until_ms`` (None: all), sampling on the way. Raises
        ``ValueError`` naming the file and line of an unreadable one."""
        while True:
            item = self._pending if self._pending is not None else next(self._updates, None)
            self._pending = None
            if item is None:
                return
            recv_ms, update = item
            if until_ms is not None and recv_ms > until_ms:
                self._pending = item
                return
            if self.symbols is not None and update.symbol not in self.symbols:
                continue
            if self._next_sample is None:
                self._next_sample = recv_ms
                self.first_ms = recv_ms
            while recv_ms >= self._next_sample:  # the books as they stood before this update
                self._sample(self._next_sample)
                self._next_sample += self.sample_ms
            sync = self._sync(update.symbol)
            if isinstance(update, DepthSnapshot):
                sync.on_snapshot(update, recv_ms)
            else:
                sync.on_diff(update, recv_ms)
            self.updates += 1
            self.last_ms = recv_ms

    def finish(self) -> None:
        """Apply the rest and take the last sample at the last update's time."""
        self.advance()
        if self.last_ms is not None:
            self._sample(self.last_ms)

    def resyncs(self) -> int:
        """Resyncs of every book so far."""
        return sum(sync.resyncs for sync in self.syncs.values())


def replay_depth(paths: list[str | Path], *, sample_ms: int = 1000, venue: DepthVenue = "binance",
                 symbols: list[str] | None = None) -> DepthReplay:
    """The whole of ``paths`` replayed (:meth:`DepthReplay.finish`); its ``layer`` holds the depth and walls."""
    replay = DepthReplay(paths, sample_ms=sample_ms, venue=venue, symbols=symbols)
    replay.finish()
    return replay
