"""A synthetic market for the validation harness: a known leverage mix, an OI flow and a price path per symbol,
the positions they open and the liquidations they imply (tests/live_heatmap/estimated/test_validation.py).

Per symbol and session, 5-minute bars: the log price walks (sd ``step`` per bar), each bar's low and high lie
below and above its open and close. After each bar closes, its net OI flow dV either opens dV of notional at the
close (half longs, half shorts, spread over the leverage mix at Binance's isolated first-bracket liquidation
price) or shrinks every open position by ``min(1, |dV| / total)``. A long whose liquidation price is >= a later
bar's low (a short's <= its high) is liquidated in that bar: one event at its liquidation price, at the bar's
middle. The same flow and path run through any leverage mix (:func:`ledger_states`), so "a model with the true
mix" and "a model with all 100x" see the same market; only the true mix's liquidations are the events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from live_heatmap.estimated.validation import Event, FloatArray

BAR_MS = 300_000
MMR = 0.004
TRUE_MIX: Mapping[int, float] = {10: 0.2, 25: 0.4, 50: 0.4}
ALL_100X: Mapping[int, float] = {100: 1.0}


@dataclass(frozen=True)
class Path:
    """One symbol's session: bar open times, opens, lows, highs, closes, and the net OI flow after each bar."""

    symbol: str
    t0: int
    opens: FloatArray
    lows: FloatArray
    highs: FloatArray
    closes: FloatArray
    flow: FloatArray



@dataclass(frozen=True)
class State:
    """A ledger's state at a bar's close: the mark and the open levels per side (a ``LevelState``)."""

    mark: float
    long_prices: FloatArray
    long_notional: FloatArray
    short_prices: FloatArray
    short_notional: FloatArray

    def levels(self, side: str) -> tuple[FloatArray, FloatArray]:
        return (self.long_prices, self.long_notional) if side == "long" else (self.short_prices,
                                                                              self.short_notional)


def paths(*, symbols: int = 20, sessions: int = 6, bars: int = 144, step: float = 0.004, seed: int = 7,
          session_gap_ms: int = 86_400_000, start_ms: int = 1_700_000_000_000) -> list[Path]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(sessions):
        for s in range(symbols):
            price = 100.0 * (1 + s)
            r = rng.normal(0.0, step, bars)
            closes = price * np.exp(np.cumsum(r))
            opens = np.concatenate([[price], closes[:-1]])
            wick = np.abs(rng.normal(0.0, step / 2, (2, bars)))
            lows = np.minimum(opens, closes) * np.exp(-wick[0])
            highs = np.maximum(opens, closes) * np.exp(wick[1])
            flow = rng.normal(1.0, 1.0, bars)
            out.append(Path(f"S{s:02d}USDT", start_ms + k * session_gap_ms, opens, lows, highs, closes, flow))
    return out


def liq_price(entry: float, lev: int, long: bool) -> float:
    return entry * (1 - 1 / lev) / (1 - MMR) if long else entry * (1 + 1 / lev) / (1 + MMR)


def ledger_states(path: Path, mix: Mapping[int, float]) -> tuple[list[State], list[Event]]:
    """The state after each bar's close under ``mix``, and the liquidations it implies."""
    lp = np.zeros(0)
    notional = np.zeros(0)
    is_long = np.zeros(0, dtype=bool)
    states: list[State] = []
    events: list[Event] = []
    for i in range(path.closes.size):
        hit = (is_long & (lp >= path.lows[i])) | (~is_long & (lp <= path.highs[i]))
        for j in np.flatnonzero(hit):
            side = "long" if is_long[j] else "short"
            events.append(Event(path.symbol, path.t0 + i * BAR_MS + BAR_MS // 2, side, float(lp[j]),
                                float(notional[j])))
        lp, notional, is_long = lp[~hit], notional[~hit], is_long[~hit]
        dv = path.flow[i]
        if dv > 0:
            c = float(path.closes[i])
            new_lp = [liq_price(c, lev, side) for side in (True, False) for lev in mix]
            new_n = [dv / 2 * w for _ in (True, False) for w in mix.values()]
            new_long = [side for side in (True, False) for _ in mix]
            lp = np.concatenate([lp, new_lp])
            notional = np.concatenate([notional, new_n])
            is_long = np.concatenate([is_long, np.array(new_long, dtype=bool)])
        elif notional.size and notional.sum() > 0:
            notional = notional * (1 - min(1.0, -dv / float(notional.sum())))
        states.append(State(float(path.closes[i]), lp[is_long], notional[is_long], lp[~is_long],
                            notional[~is_long]))
    return states, events


class StateBook:
    """States by symbol and bar close time: ``book(symbol, at_ms)`` is the state of the last bar closed at or
    before ``at_ms`` (a ``ModelPredictor``'s ``state_at``)."""

    def __init__(self, runs: Sequence[tuple[Path, list[State]]]) -> None:
        by: dict[str, list[tuple[int, State]]] = {}
        for path, states in runs:
            by.setdefault(path.symbol, []).extend((path.t0 + (i + 1) * BAR_MS, st) for i, st in enumerate(states))
        self._by = {s: (np.array([t for t, _ in v], dtype=np.int64), [st for _, st in v])
                    for s, v in ((s, sorted(v, key=lambda r: r[0])) for s, v in by.items())}

    def __call__(self, symbol: str, at_ms: int) -> State | None:
        t, states = self._by[symbol]
        i = int(np.searchsorted(t, at_ms, side="right")) - 1
        return None if i < 0 or at_ms - int(t[i]) > BAR_MS else states[i]

    def times(self) -> dict[str, list[int]]:
        return {s: [int(x) for x in t] for s, (t, _) in self._by.items()}

    def points(self) -> list[tuple[str, int, float]]:
        return [(s, int(x), st.mark) for s, (t, sts) in self._by.items() for x, st in zip(t, sts, strict=True)]
