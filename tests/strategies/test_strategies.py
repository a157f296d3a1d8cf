"""The strategies package: the registry, parameter checks, golden tables, and a replay of the real recording."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

import pytest
from helpers import MINUTE, NOW, event, heatmap_with
from msgspec import Meta

from liquidation_hunter import LiquidationHunter, Signal
from liquidation_hunter.config.sections import StrategyConfig
from live_heatmap import ConfigError, LiquidationEvent, LiveLiquidationHeatmap, parse_force_order
from live_heatmap.common.structs import Settings
from strategies import (
    STRATEGIES,
    CascadeFade,
    CascadeFadeParams,
    LiquidationMagnet,
    NoParams,
    Strategy,
    make_strategy,
    read_params,
    register_strategy,
)

SECOND = 1000


def cascade(side: str = "long", *, end_age: float = 2.0, qty: float = 500.0, n: int = 6,
            step: float = 0.4) -> list[LiquidationEvent]:
    """``n`` liquidations 30 s apart, the last ``end_age`` minutes before NOW, from 100 moving ``step``
    each time: down for longs (100, 99.6, ... 98.0), up for shorts (100, 100.4, ... 102.0)."""
    move = -step if side == "long" else step
    return [event(100.0 + i * move, qty, age_min=end_age + (n - 1 - i) * 0.5, side=side) for i in range(n)]


def fade(events: list[LiquidationEvent], params: Mapping[str, Any] | None = None,
         **hunter_config: Any) -> CascadeFade:
    hunter = LiquidationHunter(hunter_config or None, heatmap=heatmap_with(events))
    strategy = make_strategy("cascade_fade", hunter, params or {})
    assert isinstance(strategy, CascadeFade)
    return strategy


# Hand computed, default params, the long cascade above: 6 events (min_events 5), notional
# 500 * (100 + 99.6 + 99.2 + 98.8 + 98.4 + 98.0) = 297,000 (min_burst_notional 100,000), no history
# (baseline 0). start 100.0, extreme 98.0: stop 98.0 * (1 - 0.1 / 100) = 97.902,
# take-profit 98.0 + 0.5 * (100.0 - 98.0) = 99.0. Strength: the margin of the 6-event window is
# min(297,000 / 100,000, 6 / 5) = 1.2 (the 5-event window's: min(2.48, 1.0) = 1.0), so 1 - 0.5 / 1.2.
# For shorts: notional 500 * 606 = 303,000, extreme 102.0, stop 102.102, take-profit 101.0.
STRENGTH = 1 - 0.5 / 1.2
BASELINE = [event(100.0, 500.0, age_min=8 + 5 * i, side="short") for i in range(12)]  # 12 x 50,000 over the hour
GOLDEN: list[tuple[str, list[LiquidationEvent], float, dict[str, Any], tuple[Any, ...] | str]] = [
    # (case, events, price, params, (direction, entry, stop_loss, take_profit, strength) or reason fragment)
    ("slowed long cascade -> long", cascade(), 98.3, {}, (1, 98.3, 97.902, 99.0, STRENGTH)),
    ("slowed short cascade -> short", cascade("short"), 101.7, {}, (-1, 101.7, 102.102, 101.0, STRENGTH)),
    ("last event 15 s ago, last minute = peak minute", cascade(end_age=0.25), 98.3, {}, "still running"),
    # 98.1 notional in the last minute < 0.2 x the 99,800 peak minute; the trickle joins the cascade
    # (its window holds all 7 events, count margin 7 / 5 = 1.4) but moves neither start nor extreme
    ("a trickle goes on, but below slowdown_fraction of the peak: slowed",
     [*cascade(end_age=1.0), event(98.1, 1.0, age_min=0.1)], 98.3, {}, (1, 98.3, 97.902, 99.0, 1 - 0.5 / 1.4)),
    ("too small: 59,400 < min_burst_notional", cascade(qty=100.0), 98.3, {}, "no liquidation cascade"),
    ("too few: 4 events < min_events", cascade(n=4, qty=2000.0), 98.3, {}, "no liquidation cascade"),
    ("ended 11 min ago > max_age_minutes 10", cascade(end_age=11.0), 98.3, {}, "no liquidation cascade"),
    ("already retraced to the take-profit", cascade(), 99.0, {}, "already retraced"),
    ("price below the extreme: a new leg down", cascade(), 97.95, {}, "beyond the cascade's extreme"),
    ("reward/risk (99 - 98.6) / (98.6 - 97.902) = 0.57 < 1", cascade(), 98.6, {}, "reward/risk 0.57 below 1"),
    ("not large next to the hour before: 297,000 < 3 x (12 x 100,000) x 5 / 60 = 300,000",
     cascade() + [event(100.0, 1000.0, age_min=8 + 5 * i, side="short") for i in range(12)], 98.3, {},
     "no liquidation cascade"),
    # Baseline 600,000 over 60 min = 50,000 per 5-min window: the relative margin 297,000 / 150,000 = 1.98
    # binds (the count margin is 6 / 2 = 3, the notional one 2.97).
    ("relative margin sets the strength", cascade() + BASELINE, 98.3, {"min_events": 2},
     (1, 98.3, 97.902, 99.0, 1 - 0.5 / 1.98)),
]


@pytest.mark.parametrize(("case", "events", "price", "params", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_cascade_fade_golden_table(case: str, events: list[LiquidationEvent], price: float,
                                   params: dict[str, Any], expected: tuple[Any, ...] | str) -> None:
    signal = fade(events, params).decide("BTCUSDT", price, NOW)
    assert signal.symbol == "BTC/USDT:USDT" and signal.generated_at == NOW
    if isinstance(expected, str):
        assert signal.direction == 0 and expected in signal.reason, signal.reason
        assert (signal.entry, signal.stop_loss, signal.take_profit) == (None, None, None)
        return
    direction, entry, stop_loss, take_profit, strength = expected
    assert signal.direction == direction, signal.reason
    assert (signal.entry, signal.stop_loss, signal.take_profit) == pytest.approx((entry, stop_loss, take_profit))
    assert signal.strength == pytest.approx(strength)
    assert signal.cluster is None and signal.reason.startswith("fade the ")


def test_the_same_cascade_signals_once() -> None:
    strategy = fade(cascade())
    first = strategy.decide("BTC/USDT:USDT", 98.3, NOW)
    assert first.direction == 1 and first.origin == f"long-{NOW - int(4.5 * MINUTE)}"
    for later in (NOW + 10 * SECOND, NOW + MINUTE, NOW + 5 * MINUTE):
        again = strategy.decide("BTCUSDT", 98.3, later)
        assert again.direction == 0 and "already signalled" in again.reason
    # a new cascade of the same side, later, is another idea
    for e in cascade(end_age=-10.0):  # from NOW + 7.5 to NOW + 10 minutes
        strategy.hunter.heatmap.ingest(e)
    assert strategy.decide("BTCUSDT", 98.3, NOW + 12 * MINUTE).direction == 1


def test_each_symbol_and_side_has_its_own_memory() -> None:
    events = cascade() + [e._replace(symbol="ETHUSDT") for e in cascade()]
    strategy = fade(events)
    assert strategy.decide("BTCUSDT", 98.3, NOW).direction == 1
    assert strategy.decide("ETH/USDT:USDT", 98.3, NOW).direction == 1


def test_a_running_cascade_on_either_side_means_wait() -> None:
    signal = fade(cascade() + cascade("short", end_age=0.25)).decide("BTCUSDT", 98.3, NOW)
    assert signal.direction == 0 and signal.reason.startswith("still running: short")


def test_hunter_direction_switches_apply() -> None:
    assert "switched off" in fade(cascade(), allow_long=False).decide("BTCUSDT", 98.3, NOW).reason
    assert fade(cascade("short"), allow_long=False).decide("BTCUSDT", 101.7, NOW).direction == -1


def test_events_too_far_in_the_future_are_ignored_and_near_ones_count_as_now() -> None:
    ahead = [e._replace(trade_time=e.trade_time + 3 * MINUTE) for e in cascade(end_age=1.0)]  # last 2 min ahead
    assert "no liquidation cascade" in fade(ahead).decide("BTCUSDT", 98.3, NOW).reason  # 4 events left
    near = [e._replace(trade_time=e.trade_time + 30 * SECOND) for e in cascade(end_age=0.0)]  # up to 30 s ahead
    assert "still running" in fade(near).decide("BTCUSDT", 98.3, NOW).reason


def test_liquidation_magnet_is_hunter_evaluate() -> None:
    events = [event(98.0 + i * 0.01, 200) for i in range(10)]  # longs liquidated below 100: sell toward them
    hunter = LiquidationHunter(heatmap=heatmap_with(events))
    strategy = make_strategy("liquidation_magnet", hunter, MappingProxyType({}))
    assert isinstance(strategy, LiquidationMagnet) and strategy.name == "liquidation_magnet"
    for symbol, price in (("BTC/USDT:USDT", 100.0), ("BTCUSDT", 99.0), ("ETHUSDT", 3000.0), ("BTCUSDT", 97.0)):
        assert strategy.decide(symbol, price, NOW) == hunter.evaluate(symbol, price, now_ms=NOW)
    assert strategy.decide("BTCUSDT", 100.0, NOW).direction == -1


BAD_PARAMS: list[tuple[str, Any, str]] = [
    ("liquidation_magnet", {"min_strength": 0.7},
     "min_strength: unknown key here, did you mean 'hunter.min_strength'?"),
    ("liquidation_magnet", {"window": 5}, "window: unknown key (nothing is accepted here)"),
    ("cascade_fade", {"burst_minuts": 5}, "burst_minuts: unknown key, did you mean 'burst_minutes'?"),
    ("cascade_fade", {"zzz": 1}, "zzz: unknown key (known: baseline_minutes, burst_minutes, burst_multiple, "
     "max_age_minutes, min_burst_notional, min_events, min_reward_to_risk, quiet_seconds, retrace_fraction, "
     "slowdown_fraction, stop_buffer_pct)"),
    ("cascade_fade", {"burst_minutes": 0}, "burst_minutes: expected a number in (0, 60] (minutes), got 0"),
    ("cascade_fade", {"burst_minutes": True}, "burst_minutes: expected a number in (0, 60] (minutes), got true"),
    ("cascade_fade", {"baseline_minutes": 2}, "baseline_minutes: expected at least burst_minutes (5), got 2.0"),
    ("cascade_fade", {"min_burst_notional": "250k"}, "min_burst_notional: expected a number > 0, got '250k'"),
    ("cascade_fade", {"burst_multiple": -1}, "burst_multiple: expected a number >= 0, got -1"),
    ("cascade_fade", {"min_events": 2.5}, "min_events: expected an integer >= 1, got 2.5"),
    ("cascade_fade", {"min_events": 0}, "min_events: expected an integer >= 1, got 0"),
    ("cascade_fade", {"quiet_seconds": 0}, "quiet_seconds: expected a number in (0, 3600] (seconds), got 0"),
    ("cascade_fade", {"slowdown_fraction": float("nan")}, "slowdown_fraction: expected a number in [0, 1], got nan"),
    ("cascade_fade", {"stop_buffer_pct": 50}, "stop_buffer_pct: expected a number in [0, 50) (percent), got 50"),
    ("cascade_fade", {"retrace_fraction": 0}, "retrace_fraction: expected a number in (0, 1], got 0"),
    ("cascade_fade", {"min_reward_to_risk": None}, "min_reward_to_risk: expected a number >= 0, got null"),
    ("cascade_fade", {"max_age_minutes": 2000}, "max_age_minutes: expected a number in (0, 1440] (minutes), "
     "got 2000"),
    ("cascade_fade", [("min_events", 3)], "expected a mapping, got a list"),
    ("cascade_dive", {}, "name: expected one of cascade_fade, liquidation_magnet, got 'cascade_dive'"),
]


@pytest.mark.parametrize(("name", "params", "message"), BAD_PARAMS)
def test_read_params_names_the_key(name: str, params: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        read_params(name, params)
    assert str(raised.value) == message
    with pytest.raises(ConfigError) as built:
        make_strategy(name, LiquidationHunter(), params)
    assert str(built.value) == message


def test_good_params_from_the_bot_config() -> None:
    config = StrategyConfig(name="cascade_fade", params={"min_burst_notional": 250_000, "min_events": 8})
    params = read_params(config.name, config.params)
    assert params == CascadeFadeParams(min_burst_notional=250_000.0, min_events=8)
    strategy = make_strategy(config.name, LiquidationHunter(), params)  # the params value itself
    assert isinstance(strategy, CascadeFade) and isinstance(strategy, Strategy) and strategy.params is params
    assert isinstance(strategy.params.burst_minutes, float) and strategy.name == "cascade_fade"
    assert isinstance(strategy.params.min_burst_notional, float)
    assert read_params("liquidation_magnet", MappingProxyType({})) == NoParams()


def test_the_heatmap_must_hold_the_history_the_strategy_reads() -> None:
    hunter = LiquidationHunter(heatmap=LiveLiquidationHeatmap(time_decay_minutes=20))  # horizon 60 min
    with pytest.raises(ConfigError, match=r"^baseline_minutes: expected .* horizon of 60 minutes, got 75 in all"):
        make_strategy("cascade_fade", hunter, {})
    make_strategy("cascade_fade", hunter, {"baseline_minutes": 45})


def test_register_a_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    class AlwaysParams(Settings, frozen=True):
        size: Annotated[int, Meta(ge=1)] = 1

    class Always:
        name = "always_long"

        def __init__(self, hunter: LiquidationHunter, params: AlwaysParams) -> None:
            self.size = params.size

        def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
            return Signal(symbol, 1, 1.0, None, price, price * 0.99, price * 1.02, "always", now_ms)

    monkeypatch.setitem(STRATEGIES, "always_long", (Always, NoParams))
    register_strategy("always_long", Always, AlwaysParams)
    with pytest.raises(ConfigError, match=r"^size: expected an integer >= 1, got 0$"):
        read_params("always_long", {"size": 0})
    strategy = make_strategy("always_long", LiquidationHunter(), {"size": 2})
    assert isinstance(strategy, Strategy) and strategy.decide("X", 10.0, NOW).direction == 1
    assert isinstance(strategy, Always) and strategy.size == 2


def test_replay_of_the_real_recording(wire_lines: list[bytes]) -> None:
    """Every real frame through a heatmap with a clock moved by hand, decide() once a minute for every
    symbol with recent liquidations, priced at its latest liquidation (the recording's only price).

    Defaults: on 2025-01-27, ETH's 16:51-16:55 cascade (210k USDT, 25 events) is faded at 16:56."""
    events = sorted((parse_force_order(line) for line in wire_lines), key=lambda e: e.trade_time)
    clock = [events[0].trade_time]
    heatmap = LiveLiquidationHeatmap(clock=lambda: clock[0])
    strategy = make_strategy("cascade_fade", LiquidationHunter(heatmap=heatmap), {})
    assert isinstance(strategy, CascadeFade)
    params = strategy.params
    last_price: dict[str, float] = {}
    last_seen: dict[str, int] = {}
    signals: list[tuple[int, str, Signal]] = []
    now, i = events[0].trade_time // MINUTE * MINUTE, 0
    while i < len(events) or now <= events[-1].trade_time + 15 * MINUTE:
        while i < len(events) and events[i].trade_time <= now:
            e = events[i]
            heatmap.ingest(e)
            last_price[e.symbol], last_seen[e.symbol] = e.price, e.trade_time
            i += 1
        clock[0] = now
        for symbol, seen in last_seen.items():
            if now - seen <= params.lookback_minutes * MINUTE:
                signal = strategy.decide(symbol, last_price[symbol], now)
                if signal.direction:
                    signals.append((now, symbol, signal))
        if i < len(events) and events[i].trade_time - now > 2 * params.lookback_minutes * MINUTE:
            now = events[i].trade_time // MINUTE * MINUTE  # skip the gap between two sessions
        else:
            now += MINUTE

    assert signals, "the defaults produce no signal on the real recording"
    assert ("ETH/USDT:USDT", "long") in {(s.symbol, s.origin.split("-")[0]) for _, _, s in signals}
    ideas = [(symbol, s.origin) for _, symbol, s in signals]
    assert len(ideas) == len(set(ideas)), "a cascade was signalled twice"
    for now, symbol, s in signals:
        assert s.entry is not None and s.stop_loss is not None and s.take_profit is not None
        side, first_ms = s.origin.split("-")
        assert s.direction == (1 if side == "long" else -1)  # against the cascade
        losing, winning = s.direction * (s.entry - s.stop_loss), s.direction * (s.take_profit - s.entry)
        assert losing > 0 and winning > 0
        assert winning / losing >= params.min_reward_to_risk
        cascade_events = [e for e in heatmap.events(symbol) if e.side == side and int(first_ms) <= e.trade_time <= now]
        assert len(cascade_events) >= params.min_events
        assert sum(e.notional for e in cascade_events) >= params.min_burst_notional
        extreme = (min if side == "long" else max)(e.price for e in cascade_events)
        assert s.direction * (s.stop_loss - extreme) < 0  # the stop lies beyond the cascade's extreme
        assert 0.5 <= s.strength < 1.0
