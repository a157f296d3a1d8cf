"""The liquidity layer of many symbols: per symbol a :class:`~live_heatmap.orderbook.depth_history.DepthHistory`
and a :class:`~live_heatmap.orderbook.walls.WallTracker`, fed with books and trades, read by the API.

* ``sample(symbol, book, at_ms)`` at the caller's interval (a book of None: the book is not served, resyncing or
  crossed; the history's open runs end there and the walls see an unobserved sample); ``book_state`` and
  ``resyncs`` are kept for :meth:`LiquidityLayer.status` when the caller gives them;
* ``trade(symbol, price, quantity, at_ms)`` with each aggTrade;
* ``summary(symbol, at_ms)`` -- the mid, the depth notional per side within 0.5 / 1 / 2 % of the mid (from the last
  sampled book's levels, exact), the imbalance ``(bid - ask) / (bid + ask)`` per band, the active walls and the
  walls ended in the last ``recent_ms``, and the history's samples / runs / bytes;
* ``status()`` -- per symbol: samples, runs, bytes, last sample, book state and resyncs (when given), walls.
* ``retention_ms`` -- each sample prunes the runs older than that (checked once a minute of sample time).
* ``record_interval_ms`` (None: off) -- a second, coarser history per symbol, sampled once per interval, for
  the history store: ``take_recorded(until_ms)`` hands out each symbol's runs closed since the last call (each run
  once; :func:`live_heatmap.store.depth_runs.write_depth_runs` writes them) and forgets them.

Thread-safe: every method holds :attr:`LiquidityLayer.lock` (the bot's jobs feed the layer while the API reads it;
a reader of ``history(symbol)`` or ``walls(symbol)`` holds it too while it reads). Pure otherwise: no clock, no
I/O. Symbols are keyed by their compact id (``BTCUSDT``; ``BTC/USDT:USDT`` is accepted).

One venue's book per symbol: the layer never sums books of different venues (their levels, sizes and update
rates differ); the caller picks the venue (the bot's ``orderbook.venue``: Binance or Bybit) and feeds that venue's
trades to the walls.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from live_heatmap.common.symbols import symbol_key
from live_heatmap.orderbook.depth_history import BookView, DepthHistory, DepthRuns, book_mid
from live_heatmap.orderbook.walls import Wall, WallTracker

__all__ = ["BANDS", "LiquidityLayer"]

BANDS = (0.005, 0.01, 0.02)
"""The bands of the summary's depth: within 0.5 %, 1 % and 2 % of the mid."""
PRUNE_EVERY_MS = 60_000


@dataclass(slots=True)
class _Symbol:
    history: DepthHistory
    walls: WallTracker
    mid: float | None = None
    depth: dict[str, dict[str, float]] = field(default_factory=dict)
    sampled_ms: int | None = None
    book_state: str | None = None
    resyncs: int | None = None
    pruned_ms: int = 0
    recording: DepthHistory | None = None
    recorded_ms: int | None = None
    """Last sample of the recording history."""
    taken_ms: int = 0


def band_depth(book: BookView, mid: float) -> dict[str, dict[str, float]]:
    """Quote notional per side within each of :data:`BANDS` of ``mid`` (keys ``"0.5"``, ``"1"``, ``"2"``)."""
    out: dict[str, dict[str, float]] = {}
    sides = {side: book.levels(side) for side in ("bid", "ask")}
    for band in BANDS:
        row: dict[str, float] = {}
        for side, (prices, sizes) in sides.items():
            p = np.asarray(prices, dtype=np.float64)
            s = np.asarray(sizes, dtype=np.float64)
            near = (p >= mid * (1 - band)) & (p <= mid) if side == "bid" else (p <= mid * (1 + band)) & (p >= mid)
            row[side] = float((p[near] * s[near]).sum())
        out[f"{band * 100:g}"] = row
    return out


class LiquidityLayer:
    """Depth history and walls of many symbols (module docstring)."""

    def __init__(self, bin_width: float = 0.0005, change: float = 0.05, range_fraction: float = 0.05, *,
                 retention_ms: int = 12 * 3_600_000, recent_ms: int = 15 * 60_000, wall_k: float = 5.0,
                 wall_floor: float = 100_000.0, record_interval_ms: int | None = None) -> None:
        if retention_ms <= 0 or recent_ms <= 0:
            raise ValueError("LiquidityLayer: retention_ms and recent_ms must be positive")
        if record_interval_ms is not None and record_interval_ms <= 0:
            raise ValueError(f"LiquidityLayer: record_interval_ms must be positive, got {record_interval_ms}")
        self.record_interval_ms = record_interval_ms
        self.bin_width = bin_width
        self.change = change
        self.range_fraction = range_fraction
        self.retention_ms = retention_ms
        self.recent_ms = recent_ms
        self.wall_k = wall_k
        self.wall_floor = wall_floor
        DepthHistory("check", bin_width, change, range_fraction)  # refuses bad settings now, not at first sample
        self._symbols: dict[str, _Symbol] = {}
        self.lock = threading.RLock()
        """Held by every method and by readers of a symbol's history or walls (module docstring)."""

    def _get(self, symbol: str) -> _Symbol:
        key = symbol_key(symbol)
        entry = self._symbols.get(key)
        if entry is None:
            entry = self._symbols[key] = _Symbol(
                DepthHistory(key, self.bin_width, self.change, self.range_fraction),
                WallTracker(key, k=self.wall_k, floor=self.wall_floor, bin_width=self.bin_width))
            if self.record_interval_ms is not None:
                entry.recording = DepthHistory(key, self.bin_width, self.change, self.range_fraction)
        return entry

    def sample(self, symbol: str, book: BookView | None, at_ms: int, *, book_state: str | None = None,
               resyncs: int | None = None) -> None:
        """Sample ``symbol``'s book at ``at_ms`` (module docstring); raises ValueError on a time before the
        symbol's last sample."""
        with self.lock:
            entry = self._get(symbol)
            if book_state is not None:
                entry.book_state = book_state
            if resyncs is not None:
                entry.resyncs = resyncs
            mid = book_mid(book) if book is not None else None
            if book is None or mid is None:
                entry.history.close(at_ms)
                if entry.recording is not None:
                    entry.recording.close(at_ms)
                entry.walls.sample(_NoBook(symbol_key(symbol)), at_ms)
                entry.mid, entry.depth = None, {}
                return
            entry.history.sample(book, at_ms)
            entry.walls.sample(book, at_ms)
            if entry.recording is not None and self.record_interval_ms is not None and (
                    entry.recorded_ms is None or at_ms - entry.recorded_ms >= self.record_interval_ms):
                entry.recording.sample(book, at_ms)
                entry.recorded_ms = at_ms
            entry.mid, entry.depth, entry.sampled_ms = mid, band_depth(book, mid), at_ms
            if at_ms - entry.pruned_ms >= PRUNE_EVERY_MS:
                entry.history.prune(at_ms - self.retention_ms)
                entry.pruned_ms = at_ms

    def trade(self, symbol: str, price: float, quantity: float, at_ms: int) -> None:
        """An aggTrade of ``symbol`` (counts for its walls' filled/pulled verdict)."""
        with self.lock:
            self._get(symbol).walls.trade(price, quantity, at_ms)

    def take_recorded(self, until_ms: int, *, close: bool = False) -> dict[str, DepthRuns]:
        """Per symbol, the recording history's runs closed since the last call and before ``until_ms`` (each run
        once), then forgotten; ``close=True`` (at shutdown) first ends the open runs at ``until_ms``. Empty when
        recording is off."""
        out: dict[str, DepthRuns] = {}
        with self.lock:
            for key, entry in sorted(self._symbols.items()):
                recording = entry.recording
                if recording is None:
                    continue
                if close and (recording.last_sample_ms is None or until_ms >= recording.last_sample_ms):
                    recording.close(until_ms)
                    until_ms_here = until_ms + 1
                else:
                    until_ms_here = until_ms
                runs = recording.runs_between(entry.taken_ms, until_ms_here)
                recording.prune(until_ms_here - 1)
                entry.taken_ms = until_ms_here
                if len(runs):
                    out[key] = runs
        return out

    def walls_ended(self, since_ms: int) -> list[Wall]:
        """Every symbol's walls that ended (filled or pulled) at or after ``since_ms``."""
        with self.lock:
            return [w for entry in self._symbols.values() for w in entry.walls.ended(since_ms)]

    def history(self, symbol: str) -> DepthHistory | None:
        entry = self._symbols.get(symbol_key(symbol))
        return entry.history if entry is not None else None

    def walls(self, symbol: str) -> WallTracker | None:
        entry = self._symbols.get(symbol_key(symbol))
        return entry.walls if entry is not None else None

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and symbol_key(symbol) in self._symbols

    def __iter__(self) -> Iterator[str]:
        with self.lock:
            return iter(sorted(self._symbols))

    def __len__(self) -> int:
        return len(self._symbols)

    def summary(self, symbol: str, at_ms: int) -> dict[str, object]:
        """What the unified view shows of ``symbol`` at ``at_ms`` (module docstring); ``mid`` None and empty
        depth when the symbol has no served book now (or was never sampled)."""
        key = symbol_key(symbol)
        with self.lock:
            entry = self._symbols.get(key)
            if entry is None:
                return {"symbol": key, "at_ms": at_ms, "sampled_ms": None, "mid": None, "depth": {},
                        "imbalance": {}, "walls": {"active": [], "ended": []},
                        "history": {"samples": 0, "runs": 0, "bytes": 0}}
            imbalance = {band: ((row["bid"] - row["ask"]) / (row["bid"] + row["ask"])
                                if row["bid"] + row["ask"] > 0 else 0.0) for band, row in entry.depth.items()}
            return {"symbol": key, "at_ms": at_ms, "sampled_ms": entry.sampled_ms, "mid": entry.mid,
                    "depth": {band: dict(row) for band, row in entry.depth.items()}, "imbalance": imbalance,
                    "walls": {"active": [w.as_dict() for w in entry.walls.active()],
                              "ended": [w.as_dict() for w in entry.walls.ended(at_ms - self.recent_ms)]},
                    "history": {"samples": entry.history.samples, "runs": entry.history.runs,
                                "bytes": entry.history.nbytes()}}

    def status(self) -> dict[str, dict[str, object]]:
        """Per symbol: samples, runs, bytes, last sample, book state and resyncs (None when never given), walls
        active, walls dropped unobserved."""
        with self.lock:
            return {key: {"samples": e.history.samples, "runs": e.history.runs, "bytes": e.history.nbytes(),
                          "last_sample_ms": e.sampled_ms, "book_state": e.book_state, "resyncs": e.resyncs,
                          "walls_active": len(e.walls.active()), "walls_unobserved": e.walls.unobserved}
                    for key, e in sorted(self._symbols.items())}


@dataclass(frozen=True, slots=True)
class _NoBook:
    """No book served: no mid, no levels (what the walls see while the book resyncs)."""

    symbol: str

    def mid(self) -> float | None:
        return None

    def levels(self, side: str, max_levels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        del side, max_levels
        return np.empty(0), np.empty(0)
