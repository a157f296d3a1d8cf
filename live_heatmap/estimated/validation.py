"""Scoring estimated liquidation levels against observed liquidations (docs/ESTIMATED.md, "Validation").

Pure numpy; no wall clock, no files. The harness asks a :class:`Predictor` for its state before each observed
liquidation and scores it:

* **G**, the log-score gain over climatology: for each event ``e`` on side ``s`` at distance
  ``d_e = ln(price_e / mark)``, ``ln((1 - eps) q_s(d_e) + eps c_s(d_e)) - ln c_s(d_e)`` with ``eps = 0.1``,
  ``q`` the predictor's normalised density over ``d`` and ``c`` the notional-weighted climatology of ``d``
  (leave the event's session out, smoothed 0.1 %). Averaged per event (count) and per notional, with a
  session-block bootstrap interval (seeded: the same input gives the same interval).
* **top-5 share**: the share of liquidation notional within 0.25 % of one of the predictor's five heaviest
  bins on the event's side.
* **the gate** (:func:`gate`): "validated" only when the interval's lower bound of G > 0 (both weightings), the
  top-5 share beats the recent-prints baseline, over >= 1,000 events, >= 20 symbols, >= 5 sessions and
  >= 14 days; otherwise each unmet condition is named.

Densities live on one grid of log offsets (:data:`GRID`: +-10 % in 0.1 % bins); an event farther than that
from its mark is not scored (counted in :attr:`Score.outside`). An event whose predictor has no state at its
time (:meth:`Predictor.predict` returns None, or no density on the event's side) is scored with ``q = c``: it
gains exactly 0 and is counted in :attr:`Score.abstained`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "BIN", "D_MAX", "EPS", "GRID", "LAG_MS", "NEAR", "SIDES", "TOP_K", "Density", "Event", "Gate", "Interval",
    "Predictor", "Score", "bin_of", "climatology", "gate", "log_gain", "score", "sessions", "smooth",
    "to_density", "top_bins",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BIN = 0.001
"""Width of a bin of log offset d = ln(price / mark): 0.1 %."""
D_MAX = 0.10
"""The grid spans d in [-D_MAX, +D_MAX]."""
GRID: FloatArray = np.round(np.arange(-round(D_MAX / BIN), round(D_MAX / BIN) + 1) * BIN, 12)
"""The bins' centres (201 of them: -10 % .. +10 %)."""
EPS = 0.1
"""The share of climatology mixed into the predictor's density (so one bad miss costs at most ln(0.1))."""
LAG_MS = 60_000
"""The predictor's state is the one of the last bar closed at least this long before the event."""
NEAR = 0.0025
"""The top-5 share counts an event within this log distance (0.25 %) of a top bin's centre."""
TOP_K = 5
SIDES = ("long", "short")
_FLOOR = 1e-9
"""The mass every bin of a climatology keeps, so ln c is finite everywhere (renormalised after)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One observed liquidation, as the harness needs it."""

    symbol: str
    time_ms: int
    side: str
    """``"long"`` or ``"short"``: the liquidated position's side."""
    price: float
    notional: float


@dataclass(frozen=True, slots=True)
class Density:
    """A predictor's answer: per side, a probability mass per bin of :data:`GRID` (each sums to 1; None: no
    opinion on that side, scored as climatology), and the mark price the offsets are measured from."""

    mark: float
    long: FloatArray | None
    short: FloatArray | None

    def of(self, side: str) -> FloatArray | None:
        return self.long if side == "long" else self.short


class Predictor(Protocol):
    """Anything that scores: given a symbol and a time, its state at the last bar closed at or before
    ``at_ms`` (the harness passes ``event time - LAG_MS``) as a :class:`Density`, or None without one."""

    name: str

    def predict(self, symbol: str, at_ms: int) -> Density | None: ...


def bin_of(d: float | FloatArray) -> IntArray:
    """The index of the grid bin holding log offset(s) ``d`` (nearest centre); -1 outside the grid."""
    arr = np.atleast_1d(np.asarray(d, dtype=np.float64))
    idx = np.rint((arr + D_MAX) / BIN).astype(np.int64)
    ok = np.isfinite(arr) & (idx >= 0) & (idx < GRID.size)
    return np.where(ok, idx, -1)


def smooth(mass: FloatArray, width: float = BIN) -> FloatArray:
    """``mass`` convolved with a normal kernel of standard deviation ``width`` (in log offset), truncated at 4 sd;
    the mass pushed off the grid's ends is dropped."""
    sd = width / BIN
    half = max(1, int(np.ceil(4 * sd)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sd) ** 2)
    kernel /= kernel.sum()
    return np.convolve(mass, kernel, mode="same")


def to_density(offsets: FloatArray, weights: FloatArray, *, width: float = BIN) -> FloatArray | None:
    """Levels at log offsets ``offsets`` with ``weights`` (notional) as a normalised, smoothed mass per grid bin;
    levels off the grid are dropped; None when nothing is left."""
    idx = bin_of(offsets)
    keep = (idx >= 0) & (np.asarray(weights) > 0)
    if not keep.any():
        return None
    counted: FloatArray = np.bincount(idx[keep], weights=np.asarray(weights, dtype=np.float64)[keep],
                                      minlength=GRID.size).astype(np.float64)
    mass = smooth(counted, width)
    total = float(mass.sum())
    return mass / total if total > 0 else None


def sessions(times_ms: Sequence[int] | IntArray, gap_minutes: float = 60.0) -> IntArray:
    """The session of each time (sorted ascending): a new session starts after a gap longer than
    ``gap_minutes`` between consecutive events."""
    t = np.asarray(times_ms, dtype=np.int64)
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    breaks = np.diff(t) > gap_minutes * 60_000
    return np.concatenate([[0], np.cumsum(breaks)]).astype(np.int64)


def climatology(d: FloatArray, side_long: npt.NDArray[np.bool_], notional: FloatArray,
                session: IntArray) -> tuple[FloatArray, FloatArray]:
    """Leave-one-session-out climatology per event: arrays (n, bins) of the long and short masses built from
    the notional-weighted offsets of every *other* session, smoothed 0.1 %, floored. When the other sessions
    hold nothing on a side (a single session), that side falls back to every session's events."""
    n_sessions = int(session.max()) + 1 if session.size else 0
    idx = bin_of(d)
    out = []
    for is_long in (True, False):
        per = np.zeros((n_sessions, GRID.size))
        mask = (idx >= 0) & (side_long == is_long)
        np.add.at(per, (session[mask], idx[mask]), notional[mask])
        total = per.sum(axis=0)
        others = total[None, :] - per  # (sessions, bins)
        empty = others.sum(axis=1) <= 0
        others[empty] = total
        smoothed = np.apply_along_axis(smooth, 1, others) if n_sessions else others
        smoothed = smoothed + _FLOOR * np.maximum(smoothed.sum(axis=1, keepdims=True), 1.0)
        smoothed /= smoothed.sum(axis=1, keepdims=True)
        out.append(smoothed[session])
    return out[0], out[1]


def log_gain(q: FloatArray, c: FloatArray, eps: float = EPS) -> FloatArray:
    """``ln((1 - eps) q + eps c) - ln c``, elementwise: 0 where q == c; > 0 where q puts more mass than c."""
    q, c = np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # where q == c == 0 the answer is 0, not nan
        return np.where(q == c, 0.0, np.log((1.0 - eps) * q + eps * c) - np.log(c))  # exactly 0, not rounding


def top_bins(mass: FloatArray, k: int = TOP_K) -> IntArray:
    """The ``k`` heaviest bins of ``mass`` (ties: the lower index), with mass > 0."""
    order = np.argsort(-mass, kind="stable")[:k]
    return order[mass[order] > 0].astype(np.int64)


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with its bootstrap interval (``low``, ``high``: the 2.5 % and 97.5 % quantiles)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Score:
    """One predictor over one set of events."""

    predictor: str
    g_count: Interval
    g_notional: Interval
    top5_share: float
    """Share of the scored liquidation notional within :data:`NEAR` of one of the predictor's top-5 bins."""
    events: int
    """Events scored."""
    symbols: int
    sessions: int
    days: float
    """From the first scored event to the last."""
    abstained: int
    """Scored events for which the predictor had no state (q = c: gain 0, never inside a top bin)."""
    outside: int
    """Events farther than :data:`D_MAX` from their mark: not scored."""
    unmarked: int = 0
    """Events without a mark price: not scored (the caller's count)."""


def score(events: Sequence[Event], marks: Sequence[float | None], predictor: Predictor, *,
          gap_minutes: float = 60.0, eps: float = EPS, boots: int = 1000, seed: int = 14,
          lag_ms: int = LAG_MS) -> Score:
    """Score ``predictor`` on ``events`` (time-sorted), ``marks[i]`` the mark price at event i's state time
    (None: not scored). Deterministic for a given ``seed``."""
    marked = [(e, m) for e, m in zip(events, marks, strict=True) if m is not None and m > 0]
    unmarked = len(events) - len(marked)
    d_all = np.array([np.log(e.price / m) for e, m in marked], dtype=np.float64)
    inside = bin_of(d_all) >= 0 if marked else np.zeros(0, dtype=bool)
    kept = [em for em, ok in zip(marked, inside, strict=True) if ok]
    outside = len(marked) - len(kept)
    n = len(kept)
    times = np.array([e.time_ms for e, _ in kept], dtype=np.int64)
    session = sessions(times, gap_minutes)
    d = d_all[inside] if marked else d_all
    side_long = np.array([e.side == "long" for e, _ in kept], dtype=bool)
    notional = np.array([e.notional for e, _ in kept], dtype=np.float64)
    c_long, c_short = climatology(d, side_long, notional, session) if n else (np.zeros((0, 0)),) * 2
    gains = np.zeros(n)
    caught = np.zeros(n, dtype=bool)
    abstained = 0
    for i, (e, _) in enumerate(kept):
        c = c_long[i] if side_long[i] else c_short[i]
        b_c = int(bin_of(d[i])[0])
        dens = predictor.predict(e.symbol, e.time_ms - lag_ms)
        q = None if dens is None else dens.of(e.side)
        if dens is None or q is None:
            abstained += 1
            continue
        d_q = float(np.log(e.price / dens.mark))
        b_q = int(bin_of(d_q)[0])
        q_at = float(q[b_q]) if b_q >= 0 else 0.0
        gains[i] = float(log_gain(np.array([q_at]), np.array([c[b_c]]), eps)[0])
        tops = top_bins(q)
        caught[i] = bool(tops.size) and bool(np.any(np.abs(GRID[tops] - d_q) <= NEAR + 1e-12))
    n_sessions = int(session.max()) + 1 if n else 0
    g_count = _bootstrap(gains, np.ones(n), session, n_sessions, boots=boots, seed=seed)
    g_notional = _bootstrap(gains, notional, session, n_sessions, boots=boots, seed=seed)
    share = float(notional[caught].sum() / notional.sum()) if n and notional.sum() > 0 else 0.0
    days = float((times[-1] - times[0]) / 86_400_000) if n else 0.0
    return Score(predictor.name, g_count, g_notional, share, n, len({e.symbol for e, _ in kept}), n_sessions, days,
                 abstained, outside, unmarked)


def _bootstrap(values: FloatArray, weights: FloatArray, session: IntArray, n_sessions: int, *, boots: int,
               seed: int) -> Interval:
    """The weighted mean of ``values`` and its session-block bootstrap interval: whole sessions drawn with
    replacement, ``boots`` times, from ``np.random.default_rng(seed)``."""
    if values.size == 0 or weights.sum() <= 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    value = float(np.sum(values * weights) / np.sum(weights))
    num = np.bincount(session, weights=values * weights, minlength=n_sessions)
    den = np.bincount(session, weights=weights, minlength=n_sessions)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_sessions, size=(boots, n_sessions))
    counts = np.apply_along_axis(np.bincount, 1, draws, minlength=n_sessions).astype(np.float64)
    b_num, b_den = counts @ num, counts @ den
    means = b_num[b_den > 0] / b_den[b_den > 0]
    low, high = np.quantile(means, [0.025, 0.975]) if means.size else (value, value)
    return Interval(value, float(low), float(high))


@dataclass(frozen=True, slots=True)
class Gate:
    """The verdict: ``validated`` only when ``reasons`` is empty."""

    validated: bool
    reasons: tuple[str, ...]


MIN_EVENTS, MIN_SYMBOLS, MIN_SESSIONS, MIN_DAYS = 1000, 20, 5, 14.0


def gate(model: Score, recent_prints_share: float | None) -> Gate:
    """ESTIMATED.md's gate for ``model`` against the recent-prints baseline's top-5 share (None: not measured,
    an unmet condition). Every unmet condition is named."""
    reasons = []
    for name, g in (("count", model.g_count), ("notional", model.g_notional)):
        if not g.low > 0:
            reasons.append(f"the {name}-weighted G interval's lower bound is {g.low:+.4f}, not above 0")
    if recent_prints_share is None:
        reasons.append("the recent-prints baseline's top-5 share was not measured")
    elif not model.top5_share > recent_prints_share:
        reasons.append(f"the top-5 share {model.top5_share:.1%} does not beat recent prints' "
                       f"{recent_prints_share:.1%}")
    for what, have, need in (("events", model.events, MIN_EVENTS), ("symbols", model.symbols, MIN_SYMBOLS),
                             ("sessions", model.sessions, MIN_SESSIONS)):
        if have < need:
            reasons.append(f"{have} {what}, fewer than {need}")
    if model.days < MIN_DAYS:
        reasons.append(f"{model.days:.1f} days, fewer than {MIN_DAYS:.0f}")
    return Gate(not reasons, tuple(reasons))
