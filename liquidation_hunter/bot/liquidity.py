"""The liquidity layer's live inputs in the bot (issue 15, ``orderbook.enabled``): :class:`LiquidityInputs`.

Two modes (``orderbook.mode``):

* ``stream``: the depth stream (:class:`~live_heatmap.stream.depth.DepthStream`, ``<symbol>@depth@100ms`` on the
  ``/public`` connection) hands each ``depthUpdate`` to :meth:`LiquidityInputs.on_depth` (its thread): parsed
  (:func:`~live_heatmap.wire.depth.parse_depth_diff`; a bad frame is a reject by reason) and applied to the
  symbol's :class:`~live_heatmap.orderbook.sync.BinanceBookSync`. A sync that needs a snapshot (at start, after a
  gap or a crossed book) gets it from the ``orderbook`` job (:meth:`poll`), off the stream's thread, at most one
  a symbol every ``SNAPSHOT_GAP_MS`` (``GET /fapi/v1/depth``, weight 20 at 1000 levels).
* ``rest`` (the cheap mode, no stream): the job reads each symbol's snapshot every ``rest_interval_seconds`` and
  that book is what is sampled until the next one.

One venue's books feed the layer (``orderbook.venue``; the layer never sums books of different venues). The
venue decides the sync and the snapshot source; everything after (sampling, walls, recording, status) is shared:

* ``binance`` (above): :class:`~live_heatmap.orderbook.sync.BinanceBookSync`, snapshots over REST by the job.
* ``bybit`` (stream mode only): :class:`~live_heatmap.stream.bybit_depth.BybitDepthStream` hands each
  ``orderbook.200`` message to :meth:`LiquidityInputs.on_depth` (parsed by
  :func:`~live_heatmap.wire.depth.parse_bybit_depth`) and its ``publicTrade`` trades to :meth:`on_trade`;
  :class:`~live_heatmap.orderbook.sync.BybitBookSync` keeps the book. The snapshots come in the stream: a book
  that needs one (:meth:`needs_snapshot`: a gap, a crossed book) makes the stream re-subscribe its topic; the job
  fetches nothing and the REST budget is 0.

Every ``sample_seconds`` the job samples each served book (a synced, uncrossed one: ``BookSync.book``; never a
wrong book) into the :class:`~live_heatmap.orderbook.layer.LiquidityLayer`; the ``/market`` stream's aggTrades
(:meth:`on_trade`) feed its walls. Exchange errors are counted per symbol and logged; the loop goes on. The REST
weight (:func:`~live_heatmap.stream.depth_budget.depth_budget`, refused by the config beyond 50 % of Binance's
limit) is logged at start and shown by ``status`` with each symbol's book state, resyncs, rejects and errors.
With ``storage.events`` set, the layer also samples every ``record_seconds`` for recording, and the
``orderbook_record`` job appends those runs to that file (:meth:`LiquidityInputs.record`; the open ones at stop),
for replays and backtests (``live_heatmap.store.depth_runs.load_depth_history``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import structlog

from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.errors import ExchangeUnavailable, OrderRejected
from liquidation_hunter.trading.exchange import ExchangeClient
from live_heatmap.common.errors import describe
from live_heatmap.common.symbols import to_exchange_id
from live_heatmap.orderbook.book import OrderBook
from live_heatmap.orderbook.layer import LiquidityLayer
from live_heatmap.orderbook.sync import BinanceBookSync, BybitBookSync
from live_heatmap.store.depth_runs import write_depth_runs
from live_heatmap.store.schema import EventStoreError
from live_heatmap.stream.depth_budget import DepthBudget, depth_budget
from live_heatmap.wire.depth import DepthSnapshot, parse_bybit_depth, parse_depth_diff, parse_depth_snapshot

__all__ = ["SNAPSHOT_GAP_MS", "LiquidityInputs", "make_layer"]

log = structlog.get_logger("liquidation_hunter.bot")

SNAPSHOT_GAP_MS = 5_000
"""Stream mode: at most one snapshot a symbol this often (a resync loop cannot spend the REST weight)."""

REST_STALE_INTERVALS = 3
"""Rest mode: a snapshot is served until this many intervals have passed without a newer one."""

_FAILURES = (ExchangeUnavailable, OrderRejected, ValueError)


def make_layer(config: BotConfig) -> LiquidityLayer:
    """The layer of ``config.orderbook`` (bins, wall threshold and floor)."""
    book = config.orderbook
    record = round(book.record_seconds * 1000) if config.storage.events is not None else None
    return LiquidityLayer(bin_width=book.bin_pct / 100.0, wall_k=book.wall_k, wall_floor=book.wall_floor,
                          record_interval_ms=record)


class LiquidityInputs:
    """Books of ``symbols`` kept in ``mode`` and sampled into ``layer`` (module docstring). Thread-safe: the depth
    stream's thread, the trade stream's and the job share one lock."""

    def __init__(self, layer: LiquidityLayer, client: ExchangeClient, symbols: Sequence[str], *,
                 mode: Literal["stream", "rest"] = "stream", limit: int = 1000, sample_seconds: float = 1.0,
                 rest_interval_seconds: float = 10.0, budget: DepthBudget | None = None,
                 record_path: str | None = None, venue: Literal["binance", "bybit"] = "binance") -> None:
        if venue == "bybit" and mode != "stream":
            raise ValueError("bybit's books are kept in stream mode only (its stream sends the snapshots)")
        self.layer = layer
        self.client = client
        self.symbols = [to_exchange_id(s) for s in symbols]
        self.mode = mode
        self.venue = venue
        self.limit = limit
        self.sample_ms = round(sample_seconds * 1000)
        self.rest_interval_ms = round(rest_interval_seconds * 1000)
        self.budget = budget or depth_budget(len(self.symbols), mode=mode, limit=limit,
                                             interval_seconds=rest_interval_seconds if mode == "rest" else None,
                                             venue=venue)
        self.syncs: dict[str, BinanceBookSync | BybitBookSync] = {
            s: BybitBookSync(s) if venue == "bybit" else BinanceBookSync(s) for s in self.symbols}
        self.rest_books: dict[str, OrderBook] = {}
        """``rest`` mode: each symbol's last snapshot (replaced whole by the next)."""
        self.rejects: Counter[str] = Counter()
        """Frames or snapshots not used, by reason (a sync's own rejects are in its status)."""
        self.snapshot_errors: Counter[str] = Counter()
        self.snapshots: Counter[str] = Counter()
        self.samples: Counter[str] = Counter()
        self.trades = 0
        self.last_error: str | None = None
        self._last_snapshot_ms: dict[str, int] = {}
        self._rest_read_ms: dict[str, int] = {}
        """``rest`` mode: when each served snapshot was read (the job's clock)."""
        self._last_sample_ms: int | None = None
        self._lock = threading.Lock()
        self.record_path = record_path
        """The event store's file the recorded depth runs are appended to (None: not recorded)."""
        self.recorded_runs = 0
        self.record_errors = 0
        self.depth_stream: Any = None
        """The depth stream (stream mode: Binance's ``/public`` or Bybit's book connection; its status is shown beside
        the books)."""

    @classmethod
    def from_config(cls, config: BotConfig, client: ExchangeClient) -> LiquidityInputs:
        """The inputs and their layer for ``config.orderbook`` (enabled, symbols a list: the config checked it)."""
        book = config.orderbook
        symbols = [] if config.symbols == "all" else list(config.symbols)
        inputs = cls(make_layer(config), client, symbols, mode=book.mode, limit=book.snapshot_limit,
                     sample_seconds=book.sample_seconds, rest_interval_seconds=book.rest_interval_seconds,
                     record_path=config.storage.events, venue=book.venue)
        log.info("orderbook.budget", venue=book.venue, mode=book.mode, budget=inputs.budget.line())
        return inputs

    # ------------------------------------------------------------------ live inputs (stream threads)

    def on_depth(self, payload: dict[str, Any]) -> None:
        """A ``depthUpdate`` from Binance's ``/public`` connection, or a Bybit ``orderbook.200`` message: parsed by
        the venue's parser, then applied to its symbol's sync (a Bybit snapshot replaces the book)."""
        if self.venue == "bybit":
            update, rejected = parse_bybit_depth(payload, self.syncs.keys())
        else:
            update, rejected = parse_depth_diff(payload, self.syncs.keys())
        if update is None:
            reason = str(rejected.reason) if rejected is not None else "unparsed"
            with self._lock:
                self.rejects[reason] += 1
            return
        with self._lock:
            sync = self.syncs[update.symbol]
            if isinstance(update, DepthSnapshot):
                sync.on_snapshot(update, update.event_ms)
            else:
                sync.on_diff(update, update.event_ms)

    def needs_snapshot(self, symbol: str) -> bool:
        """Whether ``symbol``'s book waits for a snapshot (Bybit: the stream re-subscribes its topic)."""
        sync = self.syncs.get(symbol)
        if sync is None:
            return False
        with self._lock:
            return sync.needs_snapshot

    def on_trade(self, symbol: str, price: float, quantity: float, at_ms: int) -> None:
        """An aggTrade from Binance's ``/market`` connection, or a Bybit ``publicTrade``: to the layer's walls."""
        if symbol not in self.syncs:
            return
        with self._lock:
            self.trades += 1
            self.layer.trade(symbol, price, quantity, at_ms)

    # ------------------------------------------------------------------ the job

    def _fetch(self, symbol: str) -> Any:
        """One snapshot of ``symbol`` (None after a counted, logged failure)."""
        try:
            snapshot = parse_depth_snapshot(self.client.depth_snapshot(symbol, self.limit), symbol)
        except _FAILURES as exc:
            self.snapshot_errors[symbol] += 1
            self.last_error = f"{symbol} depth: {describe(exc)}"[:300]
            log.warning("orderbook.exchange_error", symbol=symbol, error=describe(exc)[:300],
                        errors=self.snapshot_errors[symbol], consequence="tried again at a later run of the job")
            return None
        self.snapshots[symbol] += 1
        return snapshot

    def _snapshots(self, now_ms: int) -> None:
        if self.venue == "bybit":
            return  # Bybit's snapshots come in its stream
        for symbol in self.symbols:
            last = self._last_snapshot_ms.get(symbol)
            if self.mode == "stream":
                with self._lock:
                    wanted = self.syncs[symbol].needs_snapshot
                if not wanted or (last is not None and now_ms - last < SNAPSHOT_GAP_MS):
                    continue
            elif last is not None and now_ms - last < self.rest_interval_ms:
                continue
            self._last_snapshot_ms[symbol] = now_ms
            snapshot = self._fetch(symbol)
            if snapshot is None:
                continue
            with self._lock:
                if self.mode == "stream":
                    self.syncs[symbol].on_snapshot(snapshot, now_ms)
                    continue
                book = OrderBook(symbol)
                book.load(snapshot.bids, snapshot.asks, snapshot.last_update_id, snapshot.event_ms)
                if book.crossed():
                    self.rejects["crossed_snapshot"] += 1
                    self.rest_books.pop(symbol, None)  # never a wrong book
                else:
                    self.rest_books[symbol] = book
                    self._rest_read_ms[symbol] = now_ms

    def _drop_stale(self, now_ms: int) -> None:
        """Never a stale book served: in stream mode, while the depth connection is down every book is dropped
        (``disconnected``, a resync: the reconnect brings a new snapshot); in rest mode a snapshot older than
        ``REST_STALE_INTERVALS`` intervals (the fetches failing) is no longer served (``stale_snapshot``)."""
        stream = self.depth_stream
        if self.mode == "stream":
            if stream is None or stream.status().connected:
                return
            with self._lock:
                for sync in self.syncs.values():
                    sync.drop("disconnected")
            return
        with self._lock:
            for symbol in list(self.rest_books):
                if now_ms - self._rest_read_ms[symbol] >= REST_STALE_INTERVALS * self.rest_interval_ms:
                    del self.rest_books[symbol]
                    self.rejects["stale_snapshot"] += 1

    def book(self, symbol: str) -> OrderBook | None:
        """The book served for ``symbol`` now (None: not synced, or crossed). Call under :attr:`lock`."""
        if self.mode == "rest":
            return self.rest_books.get(symbol)
        return self.syncs[symbol].book

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def poll(self, now_ms: int) -> int:
        """The ``orderbook`` job: the snapshots wanted (module docstring), then, every ``sample_seconds``, each
        served book into the layer; books sampled. Never raises for the exchange's failures (counted, logged)."""
        self._snapshots(now_ms)
        self._drop_stale(now_ms)
        if self._last_sample_ms is not None and now_ms - self._last_sample_ms < self.sample_ms:
            return 0  # also a clock that went back: the layer takes samples in time order only
        self._last_sample_ms = now_ms
        sampled = 0
        with self._lock:  # the stream's thread changes the books in place: sampled under the same lock
            for symbol in self.symbols:
                book = self.book(symbol)
                sync = self.syncs[symbol]
                state = sync.state if self.mode == "stream" else ("snapshot" if book is not None else "waiting")
                # no served book is sampled too (as none): the layer closes its runs and its walls see it go
                self.layer.sample(symbol, book, now_ms, book_state=state,
                                  resyncs=sync.resyncs if self.mode == "stream" else None)
                if book is not None:
                    self.samples[symbol] += 1
                    sampled += 1
        return sampled

    def record(self, now_ms: int, *, close: bool = False) -> int:
        """The ``orderbook_record`` job (every ``record_seconds``), and once more at stop with ``close``: the
        recording history's closed runs appended to the event store's file
        (:func:`~live_heatmap.store.depth_runs.write_depth_runs`); runs written. A failed write is counted and
        logged (those runs are lost; the layer goes on)."""
        if self.record_path is None:
            return 0
        written = 0
        for symbol, runs in self.layer.take_recorded(now_ms, close=close).items():
            try:
                written += write_depth_runs(self.record_path, symbol, runs, self.layer.bin_width)
            except (OSError, sqlite3.Error, EventStoreError) as exc:
                self.record_errors += 1
                self.last_error = f"{symbol} recording: {describe(exc)}"[:300]
                log.warning("orderbook.record_failed", symbol=symbol, runs=len(runs), path=self.record_path,
                            error=describe(exc)[:300], errors=self.record_errors)
        self.recorded_runs += written
        return written

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """The mode, the budget, the ``/public`` stream's health, and per symbol: the book's state, resyncs,
        rejects, snapshots read and failed, samples; the layer's own status."""
        with self._lock:
            symbols: dict[str, Any] = {}
            for symbol in self.symbols:
                if self.mode == "stream":
                    row = self.syncs[symbol].status()
                else:
                    book = self.rest_books.get(symbol)
                    row = {"state": "snapshot" if book is not None else "waiting_snapshot", "resyncs": 0,
                           "rejects": {}, "last_update_id": None if book is None else book.last_update_id,
                           "updated_ms": None if book is None else book.updated_ms}
                symbols[symbol] = {**row, "snapshots": self.snapshots[symbol],
                                   "snapshot_errors": self.snapshot_errors[symbol], "samples": self.samples[symbol]}
            out: dict[str, Any] = {"venue": self.venue, "mode": self.mode, "budget": self.budget.to_dict(),
                                   "rejects": dict(self.rejects),
                                   "trades": self.trades, "last_error": self.last_error, "symbols": symbols,
                                   "recorded_runs": self.recorded_runs, "record_errors": self.record_errors,
                                   "record_path": self.record_path}
        stream = self.depth_stream
        if stream is not None:
            st = stream.status()
            out["stream"] = {"url": st.url, "connected": st.connected, "reconnects": st.reconnects,
                             "events": st.events_received, "rejected": dict(st.rejected)}
        out["layer"] = self.layer.status()
        return out
