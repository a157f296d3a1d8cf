"""Recorded depth replayed into a liquidity layer (issue 15), for the picture (``heatmap --layer depth``) and the
backtest (``backtest --depth FILE``).

A recording (what :func:`live_heatmap.orderbook.recording.load_depth_recording` reads: Binance REST snapshots and
``depth@100ms`` diffs, Bybit ``orderbook.*`` recorded by cryptofeed) goes through the venue's book sync in receive
order, exactly as the live feed's updates do (buffer, snapshot bridge, ``pu`` chain, resync on a gap); every
``sample_ms`` of receive time each synced book is sampled into a
:class:`~live_heatmap.orderbook.layer.LiquidityLayer` (a book that is not synced is not sampled: never a wrong
book). :class:`DepthReplay` does it step by step (``advance(until_ms)``) so a backtest can interleave it with the
liquidations in time order.

The depth a bot records to its event store (``depth_runs``, runs per price bin at ``orderbook.record_seconds``)
replays the same way through :class:`StoredDepthReplay`: at every recorded interval, each symbol's bins are a
:class:`~live_heatmap.orderbook.binned_book.BinnedBook` sampled into the layer, so its walls are found by the same
rules, at the recording's interval (coarser than live: a wall must stand over two recorded samples 30 s apart,
and without the trades the end of a wall is not told filled or pulled, which the hunter does not read).
:func:`open_depth_replay` picks the one for the files given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from live_heatmap.common.symbols import symbol_key
from live_heatmap.orderbook.binned_book import BinnedBook, binned_books
from live_heatmap.orderbook.depth_history import DepthHistory
from live_heatmap.orderbook.layer import LiquidityLayer
from live_heatmap.orderbook.recording import merge_depth_recordings
from live_heatmap.orderbook.sync import BinanceBookSync, BybitBookSync
from live_heatmap.store.depth_runs import load_depth_history
from live_heatmap.store.schema import SQLITE_MAGIC
from live_heatmap.wire.depth import DepthSnapshot, DepthUpdate

__all__ = ["DepthReplay", "DepthSource", "StoredDepthReplay", "is_event_store", "open_depth_replay", "replay_depth"]

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


class DepthSource(Protocol):
    """What a backtest reads of a depth replay: the layer it fills, filled up to a moment."""

    layer: LiquidityLayer

    def advance(self, until_ms: int | None = None) -> None: ...


GRID_CHUNK = 1024
"""Recorded intervals rebuilt into books at a time (bounds the grid's memory on long recordings)."""


class StoredDepthReplay:
    """The depth runs of ``symbols`` a bot recorded to the event store ``store`` replayed into ``layer`` (module
    docstring), one sample per recorded interval: ``interval_ms``, by default the shortest gap between two run
    starts (the recorder's ``record_seconds``). Raises ``ValueError`` naming the file when it holds no depth of
    those symbols at the layer's bin width."""

    def __init__(self, store: str | Path, symbols: Sequence[str], *, layer: LiquidityLayer | None = None,
                 interval_ms: int | None = None) -> None:
        self.layer = layer if layer is not None else LiquidityLayer()
        histories: dict[str, DepthHistory] = {}
        for symbol in symbols:
            history = load_depth_history(store, symbol, 0, 2**62, bin_width=self.layer.bin_width)
            if history.runs:
                histories[symbol_key(symbol)] = history
        if not histories:
            raise ValueError(f"{store}: no recorded depth of {', '.join(symbols)} at a {self.layer.bin_width:.4%} "
                             "bin width (the bot records it with orderbook.enabled and storage.events)")
        starts = np.unique(np.concatenate([h.all_runs().start_ms for h in histories.values()]))
        gaps = np.diff(starts)
        self.interval_ms = interval_ms or (int(gaps[gaps > 0].min()) if (gaps > 0).any() else 60_000)
        if self.interval_ms < 1:
            raise ValueError(f"interval_ms: expected a positive number of ms, got {self.interval_ms}")
        self.histories = histories
        self.first_ms = int(starts[0])
        self.last_ms = max(int(h.all_runs().end_ms.max()) for h in histories.values())
        self._next_ms = self.first_ms
        self.samples = 0

    def advance(self, until_ms: int | None = None) -> None:
        """Sample every recorded interval at or before ``until_ms`` (None: all)."""
        end = self.last_ms if until_ms is None else min(until_ms, self.last_ms)
        while self._next_ms <= end:
            stop = min(end, self._next_ms + (GRID_CHUNK - 1) * self.interval_ms)
            for symbol, history in self.histories.items():
                grid = history.grid(self._next_ms, stop, self.interval_ms)
                for at_ms, book in binned_books(grid, symbol):
                    self._sample(symbol, book, at_ms)
            self._next_ms = int(grid.times[-1]) + self.interval_ms

    def _sample(self, symbol: str, book: BinnedBook, at_ms: int) -> None:
        served = book.mid() is not None
        with self.layer.lock:
            self.layer.sample(symbol, book if served else None, at_ms,
                              book_state="recorded" if served else "not recorded")
        self.samples += served


def is_event_store(path: str | Path) -> bool:
    """Whether ``path`` is a SQLite file (an event store), by its first bytes."""
    with Path(path).open("rb") as fh:
        return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def open_depth_replay(paths: Sequence[str | Path], symbols: Sequence[str], *,
                      layer: LiquidityLayer | None = None) -> DepthSource:
    """The replay of ``paths``: one event store a bot recorded depth to (:class:`StoredDepthReplay`), or depth
    recordings (:class:`DepthReplay`, sampled every second). Raises ``ValueError`` for a mix of the two."""
    stores = [p for p in paths if is_event_store(p)]
    if stores and len(paths) > 1:
        raise ValueError(f"{stores[0]}: an event store's recorded depth replays alone (give one --depth STORE, or "
                         "depth recordings)")
    if stores:
        return StoredDepthReplay(stores[0], symbols, layer=layer)
    return DepthReplay(list(paths), layer=layer, symbols=list(symbols))
