"""``ClusterBaseline``: each symbol's own distribution of cluster sizes, and a cluster's z-score against it.

What is sampled: at a fixed cadence (``sample_minutes``), the weighted notional of every cluster the symbol has at
that moment. Each symbol's slots are shifted by a phase of its own (a hash of its name), so 300 symbols do not all
fall due on the same rebuild. A current cluster is scored against "a cluster of this symbol seen
at an ordinary moment": the same quantity, so a 50k cluster is ordinary on BTC and extreme on a small coin.
A slot is sampled once (:meth:`ClusterBaseline.add` refuses a slot already taken), so the live rebuilds and the
history replayed at start (:func:`live_heatmap.stats.replay.replay_history`) never count a moment twice.

The statistics are robust, on a log scale: ``z = (ln w - median) / (1.4826 * MAD)`` of the samples' logs,
over the last ``retention_days`` (and at most ``max_samples``, the oldest dropped first). Until a symbol holds
``min_history`` samples its z-score is ``None``; so is it while the MAD is 0 (every sample the same size: no
spread to compare against) or for a non-positive notional.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["MAD_SCALE", "ClusterBaseline"]

MAD_SCALE = 1.4826
"""``1.4826 * MAD`` estimates the standard deviation of normally distributed values."""
DAY_MS = 86_400_000


class _History:
    """One symbol's samples: times and natural logs, oldest first, with the median and scale cached."""

    __slots__ = ("centre", "last_slot", "logs", "scale", "times")

    def __init__(self) -> None:
        self.times: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self.logs: npt.NDArray[np.float64] = np.empty(0, np.float64)
        self.last_slot = -(1 << 62)  # before any slot (a time before the phase has slot -1)
        self.centre: float | None = None
        self.scale: float | None = None

    def invalidate(self) -> None:
        self.centre = None
        self.scale = None

    def statistics(self) -> tuple[float, float]:
        if self.centre is None or self.scale is None:
            logs = self.logs
            centre = float(np.median(logs))
            self.centre = centre
            self.scale = MAD_SCALE * float(np.median(np.abs(logs - centre)))
        return self.centre, self.scale


class ClusterBaseline:
    """Per symbol, the distribution of that symbol's cluster weighted notionals. Thread-safe."""

    def __init__(self, *, retention_days: float = 7.0, min_history: int = 50, sample_minutes: float = 15.0,
                 max_samples: int = 2_000) -> None:
        if not retention_days > 0:
            raise ValueError(f"retention_days: expected a number > 0, got {retention_days!r}")
        if min_history < 2:
            raise ValueError(f"min_history: expected an integer >= 2, got {min_history!r}")
        if not sample_minutes > 0:
            raise ValueError(f"sample_minutes: expected a number > 0, got {sample_minutes!r}")
        if max_samples < min_history:
            raise ValueError(f"max_samples: expected at least min_history ({min_history}), got {max_samples!r}")
        self.retention_ms = int(retention_days * DAY_MS)
        self.min_history = int(min_history)
        self.sample_ms = max(1, int(sample_minutes * 60_000))
        self.max_samples = int(max_samples)
        self._symbols: dict[str, _History] = {}
        self._lock = threading.Lock()

    # -- writing ---------------------------------------------------------------------------------

    def phase_ms(self, symbol: str) -> int:
        """Where ``symbol``'s slots start within ``sample_ms`` (a hash of its name: the same in every process)."""
        return zlib.crc32(symbol.encode()) % self.sample_ms

    def slot(self, symbol: str, at_ms: int) -> int:
        """``symbol``'s sample slot of a time: ``(at_ms - phase) // sample_ms``."""
        return (at_ms - self.phase_ms(symbol)) // self.sample_ms

    def next_sample_ms(self, symbol: str, after_ms: int) -> int:
        """The start of ``symbol``'s first slot after ``after_ms``: when the replay samples it next."""
        return (self.slot(symbol, after_ms) + 1) * self.sample_ms + self.phase_ms(symbol)

    def due(self, symbol: str, at_ms: int) -> bool:
        """True when ``symbol`` has no sample yet in the slot of ``at_ms`` (nor a later one)."""
        history = self._symbols.get(symbol)
        return history is None or self.slot(symbol, at_ms) > history.last_slot

    def add(self, symbol: str, at_ms: int, weighted_notionals: Iterable[float]) -> bool:
        """Record the clusters ``symbol`` had at ``at_ms`` (their weighted notionals; non-positive ones are left
        out). Returns False, recording nothing, when that slot (or a later one) is already sampled. Samples older
        than the retention, counted from ``at_ms``, are dropped."""
        values = np.fromiter(weighted_notionals, np.float64)
        slot = self.slot(symbol, at_ms)
        with self._lock:
            history = self._symbols.get(symbol)
            if history is None:
                history = self._symbols[symbol] = _History()
            if slot <= history.last_slot:
                return False
            history.last_slot = slot
            values = values[np.isfinite(values) & (values > 0)]
            keep = history.times >= at_ms - self.retention_ms
            if values.size or not keep.all():
                times = np.concatenate([history.times[keep], np.full(values.size, at_ms, np.int64)])
                logs = np.concatenate([history.logs[keep], np.log(values)])
                history.times, history.logs = times[-self.max_samples:], logs[-self.max_samples:]
                history.invalidate()
            return True

    # -- reading ---------------------------------------------------------------------------------

    def history_events(self, symbol: str) -> int:
        """How many cluster samples ``symbol``'s baseline holds (its z-scores exist from ``min_history``)."""
        history = self._symbols.get(symbol)
        return 0 if history is None else int(history.logs.size)

    def symbols(self) -> list[str]:
        """The symbols with a baseline, sorted."""
        return sorted(self._symbols)

    def statistics(self, symbol: str) -> tuple[float, float] | None:
        """``(median, 1.4826 * MAD)`` of ``symbol``'s log samples, or None below ``min_history``."""
        with self._lock:
            history = self._symbols.get(symbol)
            if history is None or history.logs.size < self.min_history:
                return None
            return history.statistics()

    def z_score(self, symbol: str, weighted_notional: float) -> float | None:
        """The robust z-score of a cluster of ``weighted_notional`` against ``symbol``'s history, or ``None``
        (too little history, no spread, a notional that is not positive)."""
        stats = self.statistics(symbol)
        if stats is None or not (weighted_notional > 0) or not math.isfinite(weighted_notional):
            return None
        centre, scale = stats
        if scale <= 0:
            return None
        return (math.log(weighted_notional) - centre) / scale

    def z_scores(self, symbol: str, weighted_notionals: Iterable[float]) -> list[float | None]:
        """:meth:`z_score` of each value, the statistics read once."""
        stats = self.statistics(symbol)
        values = list(weighted_notionals)
        if stats is None or stats[1] <= 0:
            return [None] * len(values)
        centre, scale = stats
        return [(math.log(w) - centre) / scale if w > 0 and math.isfinite(w) else None for w in values]
