"""``cascade_fade``: trade against a liquidation cascade once it has run out.

A cascade is a burst of liquidations of one side of one symbol: longs liquidated one after another
while the price falls (or shorts while it rises). Once it stops, the forced selling (buying) is
over and the price often retraces part of the move. This strategy enters against the cascade
after it has slowed: **long** after a cascade of long liquidations, **short** after one of short
liquidations.

Definitions, for one symbol at ``now`` (times in ms, notional in quote currency, ``W`` =
``burst_minutes``, ``B`` = ``baseline_minutes``):

1. **Windows.** For each liquidation of side ``s`` traded in ``[now - max_age_minutes, now]``, the
   burst window ending at it is ``(t - W, t]``; its ``burst`` is the notional of the side-``s``
   events in it and ``n`` their count. Its ``baseline`` is the symbol's average notional (both
   sides) per ``W`` over the ``B`` minutes before the window: ``notional in (t - W - B, t - W] * W / B``.
2. **Qualifying window.** ``burst >= min_burst_notional``, ``n >= min_events`` and
   ``burst >= burst_multiple * baseline``. (Without history, e.g. just after start, the baseline is
   0 and only the absolute thresholds apply.)
3. **Cascade.** The most recent chain of qualifying windows of one side, each overlapping the next
   (end times less than ``W`` apart). Its events run from the first event of its first window to
   the end of its last one; ``start`` is the price of its first event, ``extreme`` its lowest
   price for long liquidations (highest for short ones). Its key is (side, first event's trade
   time).
4. **Slowed.** No event of side ``s`` in the last ``quiet_seconds``, or the side's notional in the
   last minute ``(now - 60 s, now]`` below ``slowdown_fraction`` of the cascade's peak minute (the
   largest notional in ``(t - 60 s, t]`` over its events). A cascade that has not slowed means
   "wait": no signal on that symbol.
5. **Signal.** direction = +1 after long liquidations, -1 after short ones; ``entry`` = the price
   given; ``stop_loss = extreme * (1 - direction * stop_buffer_pct / 100)`` (beyond the extreme);
   ``take_profit = extreme + retrace_fraction * (start - extreme)`` (that fraction of the cascade's
   move back). No signal when the price is already at or past the take-profit, when it is beyond the
   extreme (a new leg down, or up, not a rebound), when ``(take_profit - entry) / (entry - stop_loss)``
   is below ``min_reward_to_risk``, when the hunter's ``allow_long``/``allow_short`` forbid the
   direction, or when this cascade (same side, overlapping in time) was already signalled: one
   cascade, one signal. If both sides have a cascade to fade, the stronger wins; ``origin`` is
   ``<side>-<first event ms>``.

**Strength**: for each qualifying window of the cascade, its margin over the thresholds
``m = min(burst / min_burst_notional, n / min_events, burst / (burst_multiple * baseline))``
(the last term left out while ``burst_multiple * baseline`` is 0); with ``M`` the largest margin over
the cascade's windows, ``strength = 1 - 0.5 / M``. So a burst just at its tightest threshold has
strength 0.5, one at twice it 0.75, and strength approaches 1, never reaching it.

**Defaults** are sized for BTC/ETH on Binance's liquidation stream, which sends at most one event per
symbol per second (the "snapshot"; the recording in ``data/binance`` is the same): on 2025-01-27, the
sell-off in that recording, BTCUSDT's two cascades carried 260k and 229k USDT within 5 minutes (14 and
12 events, moving the price 0.22 % and 0.52 %) and ETHUSDT's first 210k (25 events); outside them, no
BTC or ETH same-side 5-minute window in the 5.4 recorded hours exceeds 52k. ``min_burst_notional``
100k catches those three and five other bursts (DOGE, WLD, DASH, ZEC, SOL); ``burst_multiple`` 3
keeps a busy symbol's usual flow out. In the 17:08 cascade the lowest liquidation price was within
0.003 % (BTC) and 0.03 % (ETH) of the lowest large trade, so a 0.1 % stop buffer clears the wick.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import numpy.typing as npt
from msgspec import Meta

from liquidation_hunter import LiquidationHunter, Signal
from live_heatmap import ConfigError, to_exchange_id, to_unified
from live_heatmap.common.structs import Settings
from strategies.base import check_price, no_signal

__all__ = ["Cascade", "CascadeFade", "CascadeFadeParams"]

NAME = "cascade_fade"
MINUTE_MS = 60_000
FUTURE_TOLERANCE_MS = 60_000
"""Events stamped up to this far after ``now`` count as ``now`` (exchange clock skew), later ones are
ignored: the heatmap's rule."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


Minutes = Annotated[float, Meta(gt=0, le=1440, description="minutes")]
Fraction = Annotated[float, Meta(ge=0, le=1)]


class CascadeFadeParams(Settings, frozen=True):
    """``strategy.params`` of ``cascade_fade`` (module docstring). Units are in the names."""

    burst_minutes: Annotated[float, Meta(gt=0, le=60, description="minutes")] = 5.0
    """``W``: length of a burst window; at most ``baseline_minutes``."""
    baseline_minutes: Minutes = 60.0
    """``B``: history a burst is compared with."""
    min_burst_notional: Annotated[float, Meta(gt=0)] = 100_000.0
    """Least notional (quote currency) of a burst window."""
    burst_multiple: Annotated[float, Meta(ge=0)] = 3.0
    """A burst is at least this many times the baseline per window (0: no relative test)."""
    min_events: Annotated[int, Meta(ge=1)] = 5
    """Fewest liquidations in a burst window."""
    quiet_seconds: Annotated[float, Meta(gt=0, le=3600, description="seconds")] = 60.0
    """Slowed if no event of the cascade's side for this long."""
    slowdown_fraction: Fraction = 0.2
    """... or if the last minute's notional is below this fraction of the peak minute."""
    stop_buffer_pct: Annotated[float, Meta(ge=0, lt=50, description="percent")] = 0.1
    """Stop this far (percent of the price) beyond the cascade's extreme."""
    retrace_fraction: Annotated[float, Meta(gt=0, le=1)] = 0.5
    """Take-profit at this fraction of the cascade's move back from the extreme."""
    min_reward_to_risk: Annotated[float, Meta(ge=0)] = 1.0
    """Skip a trade whose (take-profit distance) / (stop distance) is lower."""
    max_age_minutes: Minutes = 10.0
    """Skip a cascade that ended longer ago."""

    def check(self) -> None:
        if self.baseline_minutes < self.burst_minutes:
            raise ConfigError.wrong("baseline_minutes", f"at least burst_minutes ({self.burst_minutes:g})",
                                    self.baseline_minutes)

    @property
    def lookback_minutes(self) -> float:
        """History one decision reads: ``max_age_minutes + burst_minutes + baseline_minutes``."""
        return self.max_age_minutes + self.burst_minutes + self.baseline_minutes


@dataclass(frozen=True, slots=True)
class Cascade:
    """One cascade found in a symbol's recent liquidations (module docstring)."""

    side: str
    """Side of the liquidated positions: ``"long"`` (price fell) or ``"short"`` (price rose)."""
    first_ms: int
    last_ms: int
    start_price: float
    extreme_price: float
    """Lowest liquidation price of a long cascade, highest of a short one."""
    burst_notional: float
    """Of the cascade's strongest qualifying window."""
    burst_events: int
    baseline: float
    """Average notional per burst window before that window."""
    peak_minute: float
    last_minute: float
    """Notional of the cascade's side in ``(now - 60 s, now]``."""
    slowed: bool
    strength: float

    @property
    def direction(self) -> int:
        """The fade: +1 (buy) after long liquidations, -1 (sell) after short ones."""
        return 1 if self.side == "long" else -1

    def describe(self) -> str:
        span = f"{_hms(self.first_ms)}-{_hms(self.last_ms)} UTC"
        return (f"{self.side} liquidation cascade {span}: {self.burst_notional:,.0f} in {self.burst_events} events "
                f"(baseline {self.baseline:,.0f}), {self.start_price:.8g} -> {self.extreme_price:.8g}")


def _hms(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000))


class CascadeFade:
    """Enter against a liquidation cascade that has slowed (module docstring).

    Keeps, per symbol and side, the first and last event time of the last cascade it signalled,
    so one cascade gives one signal.
    """

    name: str = NAME

    def __init__(self, hunter: LiquidationHunter, params: CascadeFadeParams) -> None:
        self.params = params
        self.hunter = hunter
        horizon = hunter.heatmap.config.horizon_minutes
        if params.lookback_minutes > horizon:
            expected = (f"max_age_minutes + burst_minutes + baseline_minutes to fit the heatmap's horizon of "
                        f"{horizon:g} minutes")
            raise ConfigError("baseline_minutes", f"expected {expected}, got {params.lookback_minutes:g} in all",
                              expected=expected)
        self._signalled: dict[tuple[str, str], tuple[int, int]] = {}

    def may_signal(self, symbol: str, now_ms: int) -> bool:
        """False for a symbol that holds fewer than ``min_events`` events: it has no cascade."""
        hunter = self.hunter
        return (hunter.heatmap.event_count(to_exchange_id(symbol, hunter.markets), exchanges=hunter.exchanges)
                >= self.params.min_events)

    def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
        check_price(symbol, price)
        markets = self.hunter.markets
        unified = to_unified(symbol, markets)
        cascades = self.cascades(to_exchange_id(unified, markets), now_ms)
        if not cascades:
            return no_signal(unified, f"no liquidation cascade in the last {self.params.max_age_minutes:g} minutes",
                             now_ms)
        running = [c for c in cascades if not c.slowed]
        if running:
            return no_signal(unified, f"still running: {running[0].describe()}", now_ms)
        best: tuple[float, int, Signal, Cascade] | None = None
        rejected: list[tuple[int, str]] = []
        for cascade in cascades:
            signal_or_reason = self._fade(unified, cascade, float(price), now_ms)
            if isinstance(signal_or_reason, str):
                rejected.append((cascade.last_ms, signal_or_reason))
            elif best is None or (cascade.strength, cascade.last_ms) > best[:2]:
                best = (cascade.strength, cascade.last_ms, signal_or_reason, cascade)
        if best is None:
            return no_signal(unified, max(rejected)[1], now_ms)
        cascade = best[3]
        self._signalled[(unified, cascade.side)] = (cascade.first_ms, cascade.last_ms)
        return best[2]

    def cascades(self, symbol: str, now_ms: int) -> list[Cascade]:
        """The most recent cascade of each side of ``symbol`` (either form) that ended within
        ``max_age_minutes`` of ``now_ms``, if any."""
        p = self.params
        since = now_ms - int(p.lookback_minutes * MINUTE_MS)
        events = self.hunter.heatmap.events_since(symbol, since, exchanges=self.hunter.exchanges)
        if events.trade_time.size < p.min_events:
            return []
        keep = events.trade_time <= now_ms + FUTURE_TOLERANCE_MS
        t = np.minimum(events.trade_time[keep], now_ms)  # still sorted: only the newest are clamped
        price = events.price[keep]
        notional = price * events.quantity[keep]
        is_long = events.is_long[keep]
        all_cum = np.concatenate(([0.0], np.cumsum(notional)))
        found = []
        for side, mask in (("long", is_long), ("short", ~is_long)):
            if int(mask.sum()) < p.min_events or float(notional[mask].sum()) < p.min_burst_notional:
                continue
            cascade = self._find(side, t[mask], price[mask], notional[mask], all_t=t, all_cum=all_cum, now=now_ms)
            if cascade is not None:
                found.append(cascade)
        return found

    # -- internals -----------------------------------------------------------------------------

    def _find(self, side: str, t: IntArray, price: FloatArray, notional: FloatArray, *, all_t: IntArray,
              all_cum: FloatArray, now: int) -> Cascade | None:
        """The most recent cascade of one side: ``t`` (sorted), ``price``, ``notional`` are that side's
        events, ``all_t`` the times of both sides' and ``all_cum`` their cumulative notional."""
        p = self.params
        w = int(p.burst_minutes * MINUTE_MS)
        b = int(p.baseline_minutes * MINUTE_MS)
        cum = np.concatenate(([0.0], np.cumsum(notional)))
        ends = np.arange(int(np.searchsorted(t, now - int(p.max_age_minutes * MINUTE_MS), "left")), t.size)
        if ends.size == 0:
            return None
        t_end = t[ends]
        starts = np.searchsorted(t, t_end - w, "right")
        burst = cum[ends + 1] - cum[starts]
        count = ends + 1 - starts
        base_hi = np.searchsorted(all_t, t_end - w, "right")
        base_lo = np.searchsorted(all_t, t_end - w - b, "right")
        baseline = (all_cum[base_hi] - all_cum[base_lo]) * (w / b)
        relative_floor = p.burst_multiple * baseline
        ok = (burst >= p.min_burst_notional) & (count >= p.min_events) & (burst >= relative_floor)
        chosen = np.flatnonzero(ok)
        if chosen.size == 0:
            return None
        breaks = np.flatnonzero(np.diff(t_end[chosen]) >= w)
        chain = chosen[breaks[-1] + 1:] if breaks.size else chosen
        with np.errstate(divide="ignore"):
            relative = np.where(relative_floor[chain] > 0.0, burst[chain] / relative_floor[chain], np.inf)
        margin = np.minimum(np.minimum(burst[chain] / p.min_burst_notional, count[chain] / p.min_events), relative)
        strongest = chain[int(np.argmax(margin))]
        first, last = int(starts[chain[0]]), int(ends[chain[-1]])
        span = price[first:last + 1]
        members = np.arange(first, last + 1)
        peak_minute = float(np.max(cum[members + 1] - cum[np.searchsorted(t, t[members] - MINUTE_MS, "right")]))
        last_minute = float(cum[-1] - cum[int(np.searchsorted(t, now - MINUTE_MS, "right"))])
        quiet = int(t[-1]) <= now - p.quiet_seconds * 1000.0
        return Cascade(
            side=side, first_ms=int(t[first]), last_ms=int(t[last]), start_price=float(price[first]),
            extreme_price=float(span.min() if side == "long" else span.max()),
            burst_notional=float(burst[strongest]), burst_events=int(count[strongest]),
            baseline=float(baseline[strongest]), peak_minute=peak_minute, last_minute=last_minute,
            slowed=quiet or last_minute < p.slowdown_fraction * peak_minute,
            strength=1.0 - 0.5 / float(np.max(margin)),
        )

    def _fade(self, unified: str, cascade: Cascade, entry: float, now: int) -> Signal | str:
        """The fade of a cascade that has slowed, or why not."""
        p, d = self.params, cascade.direction
        what = cascade.describe()
        config = self.hunter.config
        if (d > 0 and not config.allow_long) or (d < 0 and not config.allow_short):
            return f"{'longs' if d > 0 else 'shorts'} are switched off (hunter.allow_*): {what}"
        done = self._signalled.get((unified, cascade.side))
        if done is not None and cascade.first_ms <= done[1] and cascade.last_ms >= done[0]:
            return f"already signalled: {what}"
        extreme, start = cascade.extreme_price, cascade.start_price
        if start == extreme:
            return f"no move to retrace: {what}"
        stop_loss = extreme * (1.0 - d * p.stop_buffer_pct / 100.0)
        take_profit = extreme + p.retrace_fraction * (start - extreme)
        if d * (entry - take_profit) >= 0.0:
            return f"already retraced past the take-profit {take_profit:.8g}: {what}"
        if d * (entry - extreme) < 0.0:
            return f"price beyond the cascade's extreme {extreme:.8g} (a new leg, not a rebound): {what}"
        if d * (entry - stop_loss) <= 0.0:  # only with stop_buffer_pct 0 and the price at the extreme
            return f"price at the stop {stop_loss:.8g}: {what}"
        reward_to_risk = (take_profit - entry) / (entry - stop_loss)
        if reward_to_risk < p.min_reward_to_risk:
            return f"reward/risk {reward_to_risk:.2f} below {p.min_reward_to_risk:g}: {what}"
        reason = f"fade the {what}; reward/risk {reward_to_risk:.2f}"
        return Signal(unified, d, cascade.strength, None, entry, stop_loss, take_profit, reason, now,
                      origin=f"{cascade.side}-{cascade.first_ms}")
