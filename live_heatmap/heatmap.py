"""``LiveLiquidationHeatmap``: event windows per symbol, and clusters built from them on demand."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from live_heatmap.cluster import LiquidationCluster
from live_heatmap.clustering import FOREVER, Groups, group_events, no_groups
from live_heatmap.common.errors import describe
from live_heatmap.common.symbols import symbol_key
from live_heatmap.config import HeatmapConfig
from live_heatmap.status import IngestStatus
from live_heatmap.venue import VENUES_BY_CODE, Exchanges, Venue, chosen_venues
from live_heatmap.window import EventColumns, EventWindow, Venues, event_arrays, venue_symbols_of
from live_heatmap.wire.events import FrameRejected, LiquidationEvent, parse_force_order
from live_heatmap.wire.frame_batch import EventFields, EventRows, parse_rows

__all__ = ["Exchanges", "IngestReport", "Listener", "LiveLiquidationHeatmap", "PriceListener", "system_clock_ms",
           "venue_codes"]

Frame = bytes | bytearray | memoryview | str | dict[str, Any] | LiquidationEvent
Listener = Callable[[Sequence[LiquidationEvent]], object]
"""Called with the events an ingest call stored (see :meth:`LiveLiquidationHeatmap.add_listener`)."""
PriceListener = Callable[[str, float, int], object]
"""Called with each price set: exchange id, price, its time (see :meth:`LiveLiquidationHeatmap.add_price_listener`)."""


#: With this many rows a symbol on average, :meth:`LiveLiquidationHeatmap.ingest_many` sorts the batch by
#: symbol as arrays and writes each symbol's block straight into its ring (some tens of microseconds a
#: symbol, whatever its rows) rather than adding the rows one at a time (about 2 us each): a file or a warm
#: start (benchmarks/RESULTS.md, "Two ways to store a batch").
_BLOCK_ROWS = 64


_EVENTS = {LiquidationEvent}

"""Which venues' events to read: venues or their names (``["bybit", "okx"]``); None: every venue."""


def venue_codes(exchanges: Exchanges) -> frozenset[int] | None:
    """The codes of ``exchanges`` (None stays None); ``ValueError`` naming an unknown venue, or when ``exchanges``
    is empty (no venue, no events: surely a mistake)."""
    venues = chosen_venues(exchanges, allow_empty=False)
    return None if venues is None else frozenset(venue.code for venue in venues)


def system_clock_ms() -> int:
    """Wall-clock UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class IngestReport:
    """What a batch ingest did: counts only, nothing is raised."""

    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.accepted + self.duplicates + sum(self.rejected.values())


@dataclass(frozen=True, slots=True)
class _Built:
    """Clusters of one symbol as of ``built_at``; replaced whole, never mutated."""

    built_at: int
    version: object
    price: float | None
    clusters: tuple[LiquidationCluster, ...]
    seq: int
    """When it was made, in the order of builds and sweeps (:class:`_Sweep`)."""


class _Sweep(NamedTuple):
    """The last :meth:`LiveLiquidationHeatmap.rebuild` of every symbol: at ``at``, after every build numbered
    below ``seq``. From then on, every symbol's clusters are its groups at ``at`` (until a read rebuilds them)."""

    at: int
    seq: int


class LiveLiquidationHeatmap:
    """Observed-liquidation heatmap: recent ``forceOrder`` events clustered by price with time decay.

    It owns no transport: a :class:`~live_heatmap.stream.stream.LiquidationStream` built beside it (by the
    app, or ``set_data_source('live_binance')``) pushes frames and prices into it. The stream thread calls
    :meth:`ingest`; any other thread reads with
    :meth:`get_clusters` / :meth:`get_best_cluster`. Clusters are rebuilt at
    most every ``update_interval`` seconds (a read after that rebuilds them),
    never per event, and a reader always sees a complete set.

    ``clock`` returns UTC epoch ms (default: the system clock); every query
    also takes ``now_ms`` so replays and tests drive time explicitly.
    Symbols are accepted as ``BTCUSDT`` or ``BTC/USDT:USDT``.
    """

    def __init__(
        self,
        cluster_window_pct: float = 0.02,
        min_cluster_size: int = 5,
        time_decay_minutes: float = 60.0,
        update_interval: float = 5.0,
        *,
        max_events: int = 10_000,
        max_age_minutes: float | None = None,
        reference_multiple: float = 10.0,
        min_reference_notional: float = 10_000.0,
        count_weight: float = 0.25,
        config: HeatmapConfig | None = None,
        clock: Callable[[], int] = system_clock_ms,
    ) -> None:
        self.config = config or HeatmapConfig(
            cluster_window_pct=cluster_window_pct,
            min_cluster_size=min_cluster_size,
            time_decay_minutes=time_decay_minutes,
            update_interval=update_interval,
            max_events=max_events,
            max_age_minutes=max_age_minutes,
            reference_multiple=reference_multiple,
            min_reference_notional=min_reference_notional,
            count_weight=count_weight,
        )
        self.clock = clock
        self._windows: dict[str, EventWindow] = {}
        self._prices: dict[str, tuple[float, int]] = {}
        self._built: dict[str, _Built] = {}
        self._built_of: dict[tuple[str, frozenset[int]], _Built] = {}
        """Clusters of some venues of a symbol (``exchanges=``), by (symbol, venue codes): built on demand, kept
        for ``update_interval`` as the default view's are, dropped by :meth:`rebuild`."""
        self._groups: dict[str, Groups] = {}
        """Each symbol's clusters but their decay (:class:`~live_heatmap.clustering.Groups`)."""
        self._changed: set[str] = set()
        """Symbols whose window changed since the last sweep."""
        self._touched: set[str] = set()
        """Symbols whose groups a read made since the last sweep (at a now of its own)."""
        self._expiry: list[tuple[int, str]] = []
        """A heap of (the last now the groups hold at, symbol), one entry a symbol (``_expires``)."""
        self._expires: dict[str, int] = {}
        self._sweep: _Sweep | None = None
        self._seq = itertools.count(1)
        self._build_locks: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self._counts_lock = threading.Lock()
        self.rejected: Counter[str] = Counter()
        self.rebuilds = 0
        self._listeners: tuple[Listener, ...] = ()
        self._price_listeners: tuple[PriceListener, ...] = ()
        self.listener_errors = 0

    # -- compatibility properties --------------------------------------------------------------

    @property
    def cluster_window_pct(self) -> float:
        return self.config.cluster_window_pct

    @property
    def min_cluster_size(self) -> int:
        return self.config.min_cluster_size

    @property
    def time_decay_minutes(self) -> float:
        return self.config.time_decay_minutes

    @property
    def update_interval(self) -> float:
        return self.config.update_interval

    # -- writing ---------------------------------------------------------------------------------

    def ingest(self, frame: Frame) -> bool:
        """Add one frame (bytes, str, dict, envelope) or :class:`LiquidationEvent`.

        Returns True if a new event was stored. A bad frame is counted in
        ``stats()["rejected"]`` by reason and a duplicate in ``stats()["duplicates"]``;
        neither raises. Safe to call from several threads.
        """
        if type(frame) is LiquidationEvent:
            event = frame
        else:
            try:
                event = parse_force_order(frame)  # type: ignore[arg-type]
            except FrameRejected as exc:
                with self._counts_lock:
                    self.rejected[exc.reason.value] += 1
                return False
        window = self._windows.get(event[0])
        if window is None:
            window = self._window(event[0])
        added = window.add(event)
        if added:
            self._changed.add(event[0])
        if added and self._listeners:  # the only cost without a listener: one attribute test
            self._notify((event,))
        return added

    def ingest_many(self, frames: Iterable[Frame], *, notify: bool = True) -> IngestReport:
        """Ingest every frame; never stops at a bad one. Returns the counts of this batch.

        ``notify=False`` keeps the batch from the listeners (:meth:`add_listener`): for events that come
        from a recording (a warm start), which must not be recorded again.
        """
        report = IngestReport()
        listeners = self._listeners if notify else ()
        if type(frames) is list and len(frames) < _BLOCK_ROWS and set(map(type, frames)) <= _EVENTS:
            stored = self._add_each(frames, report, listeners)  # a few events (a replay's moment): nothing to parse
        elif len(rows := parse_rows(frames, report.rejected)) >= _BLOCK_ROWS * len(set(rows.symbols)) > 0:
            stored = self._add_blocks(rows, report, listeners)
        else:
            stored = self._add_each(rows.tuples(), report, listeners)
        if report.rejected:
            with self._counts_lock:
                self.rejected.update(report.rejected)
        if stored:
            self._notify(stored)
        return report

    def _add_each(self, events: Iterable[EventFields], report: IngestReport, listeners: tuple[Listener, ...]
                  ) -> list[LiquidationEvent]:
        """Store events one at a time; count them in ``report``; return the new ones if anyone listens."""
        windows = self._windows
        changed = self._changed
        stored: list[LiquidationEvent] = []
        accepted = total = 0
        for event in events:
            total += 1
            window = windows.get(event[0]) or self._window(event[0])
            if window.add(event):
                accepted += 1
                changed.add(event[0])
                if listeners:
                    stored.append(event if type(event) is LiquidationEvent else LiquidationEvent(*event))
        report.accepted += accepted
        report.duplicates += total - accepted
        return stored

    def _add_blocks(self, rows: EventRows, report: IngestReport, listeners: tuple[Listener, ...]
                    ) -> list[LiquidationEvent]:
        """:meth:`_add_each` for a large batch with many rows a symbol: the rows are sorted by symbol (stable)
        as arrays, and each symbol's block is written straight into its ring, under one lock round."""
        # The windows' dedupe keys, as EventWindow.add computes them, for the whole batch in one C loop.
        keys = list(map(hash, zip(rows.exchanges, rows.trade_times, rows.sides, rows.quantities, rows.prices,
                                  strict=True)))
        venue_symbols = venue_symbols_of(rows)
        first_seen = list(dict.fromkeys(rows.symbols))  # symbols in order of first appearance
        code_of = {symbol: code for code, symbol in enumerate(first_seen)}
        n = len(keys)
        codes = np.fromiter(map(code_of.__getitem__, rows.symbols), np.int32, n)
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        bounds = [0, *(np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1).tolist(), n]
        key_array = np.array(keys, dtype=np.int64)[order]
        columns = [column[order] for column in event_arrays(rows)]
        stored: list[LiquidationEvent] = []
        for a, b in itertools.pairwise(bounds):
            symbol = first_seen[int(sorted_codes[a])]
            window = self._windows.get(symbol) or self._window(symbol)
            mine = {code: vs for (s, code), vs in venue_symbols.items() if s == symbol} if venue_symbols else None
            new = window.add_block(key_array[a:b].tolist(), [column[a:b] for column in columns], mine)
            accepted = b - a if new is None else len(new)
            if accepted:
                self._changed.add(symbol)
            report.accepted += accepted
            report.duplicates += b - a - accepted
            if listeners:
                index = order[a:b].tolist()
                stored += [rows.event(index[i]) for i in (range(b - a) if new is None else new)]
        return stored

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(events)`` with the events each :meth:`ingest` / :meth:`ingest_many` call stores.

        Only accepted events are passed (no duplicate, no rejected frame), each symbol's in arrival order
        (an ``ingest_many`` batch may come grouped by symbol), on the thread that ingested them, once per
        call (a one-event tuple from :meth:`ingest`, a list from :meth:`ingest_many`);
        ``ingest_many(..., notify=False)`` passes nothing. A listener must be quick (hand the events to
        another thread) and must not keep the list for later mutation. An exception in a listener is logged
        and counted in ``stats()["listener_errors"]``; the ingest goes on.
        """
        with self._registry_lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener`` (no error if it was not registered)."""
        with self._registry_lock:
            self._listeners = tuple(x for x in self._listeners if x != listener)  # == : bound methods

    def add_price_listener(self, listener: PriceListener) -> None:
        """Call ``listener(symbol, price, timestamp_ms)`` after each :meth:`update_price` (exchange id), on the
        thread that set the price (the stream's, for mark prices). Quick, as :meth:`add_listener`'s; an
        exception is logged and counted in ``listener_errors``, the price stays set."""
        with self._registry_lock:
            self._price_listeners = (*self._price_listeners, listener)

    def record_reject(self, reason: str) -> None:
        """Count a frame rejected before it reached :meth:`ingest` (the stream's own checks)."""
        with self._counts_lock:
            self.rejected[reason] += 1

    # -- prices ----------------------------------------------------------------------------------

    def update_price(self, symbol: str, price: float, timestamp_ms: int | None = None) -> None:
        """Set the current price of ``symbol`` (used for ``distance_from_price``)."""
        if not (price > 0.0 and price < float("inf")):
            raise ValueError(f"price for {symbol}: expected a positive finite number, got {price!r}")
        key, at = symbol_key(symbol), self.clock() if timestamp_ms is None else timestamp_ms
        self._prices[key] = (float(price), at)
        if self._price_listeners:  # the only cost without a listener: one attribute test
            for listener in self._price_listeners:
                try:
                    listener(key, float(price), at)
                except Exception as exc:  # noqa: BLE001 - a listener never breaks a price update
                    self._listener_failed(listener, exc, symbol=key)

    def get_price(self, symbol: str) -> float | None:
        entry = self.get_price_at(symbol)
        return entry[0] if entry else None

    def get_price_at(self, symbol: str) -> tuple[float, int] | None:
        """``(price, epoch ms it was set for)``, or None: lets a reader refuse a stale price."""
        # Keys are exchange ids (symbol_key), each its own key: asked by one, no conversion is needed.
        prices = self._prices
        entry = prices.get(symbol)
        if entry is not None or ("/" not in symbol and symbol.isupper()):  # found, or an id: its own key
            return entry
        return prices.get(symbol_key(symbol))

    # -- reading ---------------------------------------------------------------------------------

    def get_clusters(
        self,
        symbol: str,
        min_strength: float = 0.0,
        max_distance: float | None = None,
        *,
        side: str | None = None,
        now_ms: int | None = None,
        exchanges: Exchanges = None,
    ) -> list[LiquidationCluster]:
        """Clusters of ``symbol``, strongest first.

        ``max_distance`` (percent) drops clusters farther from the current price;
        it needs a price (:meth:`update_price`), without one no cluster is dropped
        by distance. ``side`` keeps only ``"long"`` or ``"short"``.

        ``exchanges`` (``["bybit"]``; None: every venue) builds the clusters from those venues' events only,
        as if the others had sent nothing (strength is relative to those events); an unknown venue raises
        ``ValueError``. Each cluster's ``notional_by_venue`` says how much each venue brought.
        """
        key = symbol_key(symbol)
        codes = self._selection(key, exchanges)
        clusters = self._current(key, now_ms) if codes is None else self._current_of(key, codes, now_ms)
        if not clusters:
            return []
        return [
            c for c in clusters
            if c.strength >= min_strength
            and (max_distance is None or c.distance_from_price is None or c.distance_from_price <= max_distance)
            and (side is None or c.side == side)
        ]

    def get_best_cluster(
        self,
        symbol: str,
        min_strength: float = 0.6,
        max_distance: float | None = None,
        *,
        now_ms: int | None = None,
        exchanges: Exchanges = None,
    ) -> LiquidationCluster | None:
        """The strongest cluster at or above ``min_strength`` (of ``exchanges``' events, as
        :meth:`get_clusters`), or None."""
        clusters = self.get_clusters(symbol, min_strength, max_distance, now_ms=now_ms, exchanges=exchanges)
        return clusters[0] if clusters else None

    def rebuild(self, symbol: str | None = None, *, now_ms: int | None = None) -> int:
        """Rebuild now: one symbol's clusters (returns 1, or 0 without a window), or, without ``symbol``, every
        symbol's (the clusters job; returns how many symbols were regrouped).

        Rebuilding every symbol regroups only the symbols whose events changed since the last time (a new
        event, an event leaving the horizon): the others' groups stand, and every symbol's clusters are then
        its groups decayed to ``now``, computed when first read (:class:`~live_heatmap.clustering.Groups`).
        A symbol costs what its events cost, however many are tracked.
        """
        now = self.clock() if now_ms is None else now_ms
        if symbol is not None:
            key = symbol_key(symbol)
            for selection in [k for k in self._built_of if k[0] == key]:
                self._built_of.pop(selection, None)
            if key not in self._windows:
                return 0
            self._build(key, now, force=True)
            return 1
        self._built_of.clear()  # the clusters of some venues are built again when read
        sweep = self._sweep
        expiry = self._expiry
        if sweep is None or now < sweep.at:  # the first sweep, or time went back: every symbol
            keys = set(self._windows)
            self._changed.clear()
            self._touched.clear()
        elif not (self._changed or self._touched or (expiry and expiry[0][0] < now)):
            keys = set()  # nothing changed: the usual case
        else:
            keys = _drain(self._changed) | _drain(self._touched)
            while expiry and expiry[0][0] < now:
                at, key = heapq.heappop(expiry)
                if self._expires.get(key) == at:  # else a later entry replaced it
                    del self._expires[key]
                    keys.add(key)
        for key in keys:
            window = self._windows.get(key)
            if window is not None:
                with self._build_locks[key]:
                    self._groups_at(key, window, now)
        self._sweep = _Sweep(now, next(self._seq))
        return len(keys)

    def clear_prices(self) -> None:
        """Forget every price (:meth:`update_price`): after a gap in the data, no price is known."""
        self._prices.clear()

    def track(self, symbols: Iterable[str]) -> None:
        """Create the windows of ``symbols`` now rather than at their first event."""
        for symbol in symbols:
            key = symbol_key(symbol)
            if key not in self._windows:
                self._window(key)

    def symbols(self) -> list[str]:
        """Exchange ids with a window (tracked, or that have received an event)."""
        return sorted(self._windows)

    def events(self, symbol: str, *, exchanges: Exchanges = None) -> list[LiquidationEvent]:
        """The events held for ``symbol`` (of ``exchanges`` only, when given), oldest arrival first."""
        codes = venue_codes(exchanges)
        window = self._windows.get(symbol_key(symbol))
        return window.events(codes) if window else []

    def events_since(self, symbol: str, since_ms: int, *, exchanges: Exchanges = None) -> EventColumns:
        """The events of ``symbol`` traded at or after ``since_ms`` (of ``exchanges`` only, when given), as
        arrays, oldest trade first; ``exchange`` holds each one's venue code (``VENUES_BY_CODE[code]``).

        For strategies that read the last minutes of every symbol on every tick: one vectorised
        comparison over the window's trade times, and only the matching events are copied
        (:meth:`events` builds the whole window as objects). It knows no "now": events stamped later
        than the caller's clock are returned too.
        """
        codes = venue_codes(exchanges)
        window = self._windows.get(symbol_key(symbol))
        return window.events_since(since_ms, codes) if window else EventColumns.empty()

    def event_count(self, symbol: str, *, exchanges: Exchanges = None) -> int:
        """How many events are held for ``symbol`` (of ``exchanges`` only, when given)."""
        codes = venue_codes(exchanges)
        window = self._windows.get(symbol_key(symbol))
        return window.count(codes) if window else 0

    def venues(self, symbol: str | None = None) -> list[Venue]:
        """The venues events have come from (for ``symbol``, or any symbol), in :data:`VENUES_BY_CODE` order."""
        windows = list(self._windows.values()) if symbol is None else [
            w for w in (self._windows.get(symbol_key(symbol)),) if w is not None]
        seen: set[int] = set()
        for window in windows:
            seen |= window.venues_seen()
        return [VENUES_BY_CODE[code] for code in sorted(seen)]

    def memory_bytes(self, symbol: str) -> int:
        """Bytes held for ``symbol``'s window (ring buffers and dedupe set)."""
        window = self._windows.get(symbol_key(symbol))
        return window.nbytes() if window else 0

    def status(self) -> IngestStatus:
        """Counters since start: accepted, duplicates, rejected by reason, rebuilds, symbols (no connection
        health: that is the stream's own ``status()``)."""
        windows = list(self._windows.values())
        by_venue = [0] * len(VENUES_BY_CODE)
        for w in windows:
            for code, n in enumerate(w.accepted_by_venue()):
                by_venue[code] += n
        with self._counts_lock:
            return IngestStatus(
                accepted=sum(w.accepted for w in windows),
                duplicates=sum(w.duplicates for w in windows),
                fallbacks=sum(w.fallbacks for w in windows),
                rejected=dict(self.rejected),
                rebuilds=self.rebuilds,
                symbols=len(self._windows),
                listener_errors=self.listener_errors,
                accepted_by_venue={venue.value: n for venue, n in zip(VENUES_BY_CODE, by_venue, strict=True) if n},
            )

    def stats(self) -> dict[str, Any]:
        """:meth:`status` as plain data (``stats()["rejected"]``...)."""
        return self.status().to_dict()

    # -- internals -------------------------------------------------------------------------------

    def _notify(self, events: Sequence[LiquidationEvent]) -> None:
        for listener in self._listeners:
            try:
                listener(events)
            except Exception as exc:  # noqa: BLE001 - a listener never breaks ingesting
                self._listener_failed(listener, exc, events=len(events))

    def _listener_failed(self, listener: object, exc: Exception, **about: object) -> None:
        with self._counts_lock:
            self.listener_errors += 1
            errors = self.listener_errors
        if errors & (errors - 1) == 0:  # 1st, 2nd, 4th, 8th...: a broken listener does not flood the log
            import structlog  # noqa: PLC0415 - lazy: structlog (0.1 s) loads when a listener fails

            structlog.get_logger("live_heatmap").error(
                "heatmap.listener_failed", listener=repr(listener)[:120], **about,
                error=describe(exc), errors=errors)

    def _window(self, key: str) -> EventWindow:
        with self._registry_lock:
            window = self._windows.get(key)
            if window is None:
                self._build_locks[key] = threading.Lock()  # first: readers find the window by key
                window = self._windows[key] = EventWindow(key, self.config.max_events)
                self._changed.add(key)
            return window

    def _current(self, key: str, now_ms: int | None) -> tuple[LiquidationCluster, ...]:
        now = self.clock() if now_ms is None else now_ms
        interval_ms = self.config.update_interval * 1000.0
        built = self._built.get(key)
        sweep = self._sweep
        groups = None
        if built is not None and (sweep is None or built.seq >= sweep.seq):  # built since the last sweep
            if not 0 <= now - built.built_at < interval_ms:
                built = self._build(key, now)
        elif sweep is not None and 0 <= now - sweep.at < interval_ms and (groups := self._groups.get(key)):
            built = self._swept(key, sweep)
        elif groups is not None and sweep is not None and 0 <= now - sweep.at < interval_ms:
            return ()  # no group at the sweep, so no cluster at its time
        elif key in self._windows:
            built = self._build(key, now)
        else:
            return ()
        price = self.get_price(key)
        if price != built.price:
            return tuple(_repriced(c, price) for c in built.clusters)
        return built.clusters

    def _selection(self, key: str, exchanges: Exchanges) -> Venues:
        """The venue codes to read of ``key``, or None when they take in every venue it has events from (the
        default view, cached and swept as always, is then the answer)."""
        codes = venue_codes(exchanges)
        if codes is None:
            return None
        window = self._windows.get(key)
        if window is not None and codes >= window.venues_seen():
            return None
        return codes

    def _current_of(self, key: str, codes: frozenset[int], now_ms: int | None) -> tuple[LiquidationCluster, ...]:
        """:meth:`_current` for some venues' events of ``key``: clusters built from them alone, kept for
        ``update_interval`` per (symbol, venues)."""
        window = self._windows.get(key)
        if window is None:
            return ()
        now = self.clock() if now_ms is None else now_ms
        built = self._built_of.get((key, codes))
        if built is None or not 0 <= now - built.built_at < self.config.update_interval * 1000.0:
            with self._build_locks[key]:
                horizon_ms = int(self.config.horizon_minutes * 60_000)
                version, by_side, venues = window.by_side_with_venues(now - horizon_ms, codes)
                groups = group_events(key, by_side, now_ms=now, config=self.config, version=version, venues=venues)
                price = self.get_price(key)
                built = _Built(now, version, price, groups.at(now, self.config, price), 0)
                self._built_of[(key, codes)] = built
                self.rebuilds += 1
        price = self.get_price(key)
        if price != built.price:
            return tuple(_repriced(c, price) for c in built.clusters)
        return built.clusters

    def _swept(self, key: str, sweep: _Sweep) -> _Built:
        """The clusters the last sweep stands for: ``key``'s groups (as the sweep left them) at its time."""
        with self._build_locks[key]:
            built = self._built.get(key)
            if built is not None and built.seq >= sweep.seq:
                return built  # a concurrent reader made it
            groups = self._groups[key]
            price = self.get_price(key)
            built = _Built(sweep.at, groups.version, price, groups.at(sweep.at, self.config, price), sweep.seq)
            self._built[key] = built
            self.rebuilds += 1
            return built

    def _build(self, key: str, now: int, force: bool = False) -> _Built:
        window = self._windows[key]
        with self._build_locks[key]:
            built = self._built.get(key)
            sweep = self._sweep
            if (not force and built is not None and built.built_at == now and built.version == window.version
                    and (sweep is None or built.seq > sweep.seq)):
                return built  # a concurrent reader just built the same thing
            groups = self._groups_at(key, window, now)
            self._touched.add(key)  # the next sweep checks its groups still hold then
            price = self.get_price(key)
            built = _Built(now, groups.version, price, groups.at(now, self.config, price), next(self._seq))
            self._built[key] = built
            self.rebuilds += 1
            return built

    def _groups_at(self, key: str, window: EventWindow, now: int) -> Groups:
        """``key``'s groups at ``now``: the held ones while its window and live events are the same, else new
        ones (the window's events older than the horizon are pruned then). Called with the key's build lock."""
        groups = self._groups.get(key)
        if groups is not None and groups.version == window.version and groups.covers(now):
            return groups
        if window.largest_side() < self.config.min_cluster_size:  # no cluster, whatever the time
            groups = no_groups(key, window.version)
        else:
            horizon_ms = int(self.config.horizon_minutes * 60_000)
            version, by_side, venues = window.by_side_with_venues(min_trade_time=now - horizon_ms)
            groups = group_events(key, by_side, now_ms=now, config=self.config, version=version, venues=venues)
            if groups.valid_to < FOREVER and self._expires.get(key) != groups.valid_to:
                self._expires[key] = groups.valid_to
                heapq.heappush(self._expiry, (groups.valid_to, key))
        self._groups[key] = groups
        return groups


def _drain(keys: set[str]) -> set[str]:
    """Take every key out of ``keys``, one atomic ``pop`` at a time: a key another thread adds meanwhile is
    either taken here or left for the next time, never lost."""
    out = set()
    while keys:
        try:
            out.add(keys.pop())
        except KeyError:
            break
    return out


def _repriced(cluster: LiquidationCluster, price: float | None) -> LiquidationCluster:
    distance = abs(cluster.price_level - price) / price * 100.0 if price else None
    return replace(cluster, distance_from_price=distance, current_price=price)
