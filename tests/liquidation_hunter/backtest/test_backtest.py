"""Backtests over the real 2025-01-27 16:50-17:20 UTC session (``data/binance``): deterministic to the byte,
books that balance, figures that recompute from the trade list, the same trades as the live bot's parts driven
by hand, sweeps, price files, and clear errors for bad input."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, WIRE

from liquidation_hunter import LiquidationHunter
from liquidation_hunter.backtest import (
    BacktestError,
    BacktestResult,
    PriceFileError,
    PricePath,
    PriceSeries,
    load_prices,
    parse_grid,
    report_dict,
    run_backtest,
    run_sweep,
    write_report,
)
from liquidation_hunter.bot.engine import Bot
from liquidation_hunter.cli.backtest import add_backtest_parser
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.markets import shipped_rules
from liquidation_hunter.trading.paper import PaperBroker
from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap, parse_force_order, to_exchange_id
from live_heatmap.store.history import load_events
from live_heatmap.store.parquet import dataset_sha256, export_parquet
from strategies import make_strategy

ROOT = Path(__file__).resolve().parents[3]
TRADES = DATA / "aggtrades_large.csv"
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"]
START_MS = 1_737_996_600_000  # 2025-01-27T16:50:00Z
END_MS = 1_737_998_400_000  # 2025-01-27T17:20:00Z

# Thresholds that trade on this session (as test_bot_e2e.py's bot).
SETTINGS: dict[str, Any] = {
    "symbols": SYMBOLS,
    "heatmap": {"min_cluster_size": 3},
    "hunter": {"min_strength": 0.3, "min_distance_pct": 0.3, "max_distance_pct": 3.0, "preferred_distance_pct": 0.8},
    "risk": {"leverage": 5, "max_open_positions": 4, "cooldown_minutes": 0, "daily_loss_limit_pct": None,
             "max_drawdown_pct": None},
}


def config_with(**sections: Any) -> BotConfig:
    data = json.loads(json.dumps(SETTINGS))
    for name, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(name, {}).update(values)
        else:
            data[name] = values
    return BotConfig.from_mapping(data)


@pytest.fixture(scope="module")
def events() -> list[LiquidationEvent]:
    return [parse_force_order(line) for line in WIRE.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def prices() -> PriceSeries:
    return load_prices(TRADES)


@pytest.fixture(scope="module")
def result(events: list[LiquidationEvent], prices: PriceSeries) -> BacktestResult:
    return run_backtest(config_with(), events, prices, start_ms=START_MS, end_ms=END_MS)


# ---------------------------------------------------------------------- determinism and accounting


def test_same_inputs_give_byte_identical_reports(events: list[LiquidationEvent], prices: PriceSeries,
                                                 result: BacktestResult, tmp_path: Path) -> None:
    again = run_backtest(config_with(), list(reversed(events)), load_prices(TRADES), start_ms=START_MS,
                         end_ms=END_MS)
    first = write_report(result, tmp_path / "a")
    second = write_report(again, tmp_path / "b")
    assert [p.name for p in first] == ["equity.png", "report.json", "report.md", "report.html"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert first[0].read_bytes().startswith(b"\x89PNG") and b"Software" not in first[0].read_bytes()
    assert "data:image/png;base64," in first[3].read_text()
    assert "![equity curve](equity.png)" in first[2].read_text()


def test_books_balance_and_every_figure_recomputes_from_the_trades(result: BacktestResult) -> None:
    trades = result.trades
    assert len(trades) >= 5 and result.audit == () and result.problems == ()
    assert result.jobs["failures"] == {} and result.jobs["errors"] == {}
    s = result.summary()
    net = sum(t.net_pnl for t in trades)
    open_part = sum(p.unrealized - p.entry_fee + p.funding for p in result.open_positions)
    assert result.final_equity == pytest.approx(result.starting_wallet + net + open_part, abs=1e-6)
    assert result.final_wallet == pytest.approx(result.starting_wallet + net, abs=1e-6)
    for t in trades:
        assert t.net_pnl == pytest.approx(t.gross_pnl - t.entry_fee - t.exit_fee + t.funding, abs=1e-9)
        assert t.gross_pnl == pytest.approx((1 if t.side == "long" else -1) * (t.exit_price - t.entry_price)
                                            * t.quantity, rel=1e-9, abs=1e-9)
        assert t.entry_time < t.exit_time and t.slippage >= 0
    wins = sum(1 for t in trades if t.net_pnl > 0)
    assert s["trades"] == len(trades) and s["wins"] == wins and s["win_rate"] == wins / len(trades)
    assert s["net_pnl"] == pytest.approx(net) and s["fees"] == pytest.approx(sum(t.fees for t in trades))
    assert s["return_pct"] == pytest.approx(100 * (result.final_equity / result.starting_wallet - 1))
    assert sum(s["exits"].values()) == len(trades)
    rows = result.per_symbol()
    assert sum(r["trades"] for r in rows) == len(trades)
    assert sum(r["net_pnl"] for r in rows) == pytest.approx(net)
    # drawdown from the equity series, recomputed
    peak, worst = result.equity[0].equity, 0.0
    for point in result.equity:
        peak = max(peak, point.equity)
        worst = max(worst, peak - point.equity)
    assert s["max_drawdown"] == pytest.approx(worst) and worst > 0
    assert result.equity[-1].equity == pytest.approx(result.final_equity)
    assert 0 < s["exposure_pct"] <= 100
    # the JSON report says the same
    report = report_dict(result)
    assert report["summary"]["net_pnl"] == pytest.approx(net, abs=1e-7)
    assert [t["client_id"] for t in report["trades"]] == [t.client_id for t in trades]
    assert report["audit"] == [] and len(report["config_sha256"]) == 64
    assert report["signals"]["by_action"]["entered"] == len(trades)
    assert set(report["symbols"]["without_prices"]) == set()  # the config lists four symbols, all priced
    assert report["data"]["events"] == 1338 and report["data"]["price_points"]["BTCUSDT"] > 5000


def test_positions_open_where_the_data_stop_are_closed_at_the_last_price(events: list[LiquidationEvent],
                                                                         prices: PriceSeries) -> None:
    cut = START_MS + 18 * 60_000 + 30_000  # 17:08:30, inside a BTC long of the full run
    part = run_backtest(config_with(), events, prices, start_ms=START_MS, end_ms=cut)
    ended = [t for t in part.trades if t.reason == "end_of_data"]
    assert ended and part.open_positions == () and part.audit == ()
    for t in ended:
        assert t.exit_time == part.end_ms < cut
        last = prices.price_at(to_exchange_id(t.symbol), t.exit_time)
        assert last is not None
        slip = 2 / 10_000  # risk.slippage_bps: a market exit
        assert t.exit_price == pytest.approx(last * (1 - (1 if t.side == "long" else -1) * slip))


def test_funding_is_paid_at_a_funding_time_and_accounted(events: list[LiquidationEvent],
                                                        prices: PriceSeries) -> None:
    """The session moved one hour earlier, so that positions are open at 16:00 UTC, a funding time."""
    hour = 3_600_000
    moved = [e._replace(trade_time=e.trade_time - hour, event_time=e.event_time - hour) for e in events
             if START_MS <= e.trade_time < END_MS]
    recorded = prices.window(START_MS, END_MS).only(SYMBOLS)
    earlier = PriceSeries({s: (recorded.times(s) - hour, recorded.prices(s)) for s in recorded.symbols})
    result = run_backtest(config_with(), moved, earlier)
    funded = [t for t in result.trades if t.funding != 0]
    assert funded and result.audit == ()
    funding_time = 1_737_993_600_000  # 2025-01-27T16:00:00Z
    for t in funded:
        assert t.entry_time < funding_time <= t.exit_time
        # Binance's base rate, a short receives it: +0.01 % of the position's value at the mark price then
        mark = earlier.price_at(to_exchange_id(t.symbol), funding_time)
        assert mark is not None and t.side == "short"
        assert t.funding == pytest.approx(0.0001 * t.quantity * mark, rel=1e-3)
    assert result.summary()["funding"] == pytest.approx(sum(t.funding for t in funded))
    assert result.final_wallet == pytest.approx(result.starting_wallet + sum(t.net_pnl for t in result.trades))


def test_sessions_split_at_gaps_and_carry_no_price_or_position_over(events: list[LiquidationEvent],
                                                                    prices: PriceSeries) -> None:
    """The whole recording, every symbol with prices: 14 sessions of events over 18 months, price points of some
    symbols in a few of them."""
    result = run_backtest(config_with(symbols="all"), events, prices)
    assert len(result.sessions) > 14 and len(result.symbols) == 14 and result.audit == ()
    assert len(result.unpriced) == 422 and result.events == len(events)

    def session_of(t: int) -> tuple[int, int]:
        [session] = [(a, b) for a, b in result.sessions if a <= t <= b]
        return session

    def first_price(symbol: str, session: tuple[int, int]) -> float:
        inside = prices.window(session[0], session[1] + 1)
        return int(inside.times(symbol)[0]) if inside.count(symbol) else float("inf")

    assert result.trades and result.signals
    for t in result.trades:
        session = session_of(t.entry_time)
        assert t.exit_time <= session[1]  # closed by the end of its session at the latest
        assert t.entry_time >= first_price(t.symbol, session)
    for signal in result.signals:  # never a signal on a price from an earlier session
        assert signal.at >= first_price(signal.symbol, session_of(signal.at))


# ---------------------------------------------------------------------- the same code as live


def drive_by_hand(config: BotConfig, events: Sequence[LiquidationEvent], prices: PriceSeries) -> Books:
    """The live parts wired as test_bot_engine.py does, every job run at every due moment of its grid,
    no skipping; the heatmap gets only the bot's symbols' events, as a live bot subscribed to them would.
    Before each positions run the broker is shown every price since the last run (or the entry), one by one
    in a plain loop: where the price started, its lowest and highest, where it is now."""
    now = [START_MS]

    def clock() -> int:
        return now[0]

    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
    heatmap.track(SYMBOLS)
    books = Books.open(":memory:", starting_wallet=config.risk.starting_wallet, now_ms=START_MS)
    rules = shipped_rules()  # Binance's market rules, as the backtest uses them
    broker = PaperBroker.from_risk(books, config.risk, precision=rules)
    strategy = make_strategy(config.strategy.name, LiquidationHunter(config.hunter, heatmap), config.strategy.params)
    bot = Bot(config=config, heatmap=heatmap, strategy=strategy, broker=broker, books=books, clock=clock,
              price_max_age_ms=None, precision=rules)
    window = [e for e in events if START_MS <= e.trade_time < END_MS]
    mine = sorted((e for e in window if e.symbol in SYMBOLS), key=lambda e: e.trade_time)
    recorded = prices.window(START_MS, END_MS)
    series = {s: tuple(column.tolist() for column in recorded.bars(s)) for s in SYMBOLS if s in recorded}
    last_data = max(*(e.trade_time for e in window), *(bars[0][-1] for bars in series.values()))
    grid = {name: round(getattr(config.schedule, name) * 1000) for name in ("clusters", "signals", "positions",
                                                                             "snapshot")}
    next_event, read = 0, dict.fromkeys(series, 0)
    last_check = [-1]

    def check_exits(t: int) -> None:
        paths = {}
        for position in broker.positions():
            times, closes, opens, lows, highs = series[to_exchange_id(position.symbol)]
            seen = [i for i, at in enumerate(times) if max(last_check[0], position.opened_at) < at <= t]
            if seen:
                paths[position.symbol] = PricePath(opens[seen[0]], min(lows[i] for i in seen),
                                                   max(highs[i] for i in seen), closes[seen[-1]],
                                                   tuple([column[i] for i in seen] for column in (opens, lows, highs)))
        bot.check_exits(paths, t)
        last_check[0] = t

    def feed(t: int) -> None:
        nonlocal next_event
        while next_event < len(mine) and mine[next_event].trade_time <= t:
            heatmap.ingest(mine[next_event])
            next_event += 1
        for s, (times, values, *_) in series.items():
            k = bisect_right(times, t)
            if k > read[s]:
                read[s] = k
                heatmap.update_price(s, values[k - 1], timestamp_ms=times[k - 1])

    t = START_MS
    while t <= last_data:
        due = [name for name, every in grid.items() if (t - START_MS) % every == 0]
        if due:
            feed(t)
            now[0] = t
            for name in due:
                if name == "positions":
                    check_exits(t)
                bot.run_job(name)
        t += 1000
    feed(last_data)
    now[0] = last_data
    check_exits(last_data)
    for position in broker.positions():
        price = heatmap.get_price(to_exchange_id(position.symbol))
        assert price is not None
        broker.close(position, "manual", price, last_data)
    bot.run_job("positions")
    bot.run_job("snapshot")
    return books


def test_the_backtest_trades_exactly_as_the_bot_driven_by_hand(events: list[LiquidationEvent],
                                                               prices: PriceSeries) -> None:
    # A schedule where clusters and signals runs do not coincide, quick positions checks and time exits.
    config = config_with(schedule={"clusters": 3, "signals": 7, "positions": 2, "snapshot": 60},
                         risk={"time_exit_minutes": 3})
    books = drive_by_hand(config, events, prices)
    by_hand = sorted(books.closed_trades(), key=lambda c: (c.closed_at, c.position.id))
    backtest = run_backtest(config, events, prices, start_ms=START_MS, end_ms=END_MS)
    assert len(by_hand) >= 5 and {"time_exit", "stop_loss"} <= {t.reason for t in backtest.trades}
    assert [(c.position.symbol, c.position.direction, c.position.quantity, c.position.opened_at,
             c.position.entry_price, c.closed_at, c.exit_price, c.net_pnl) for c in by_hand] == [
        (t.symbol, 1 if t.side == "long" else -1, t.quantity, t.entry_time, t.entry_price, t.exit_time, t.exit_price,
         t.net_pnl) for t in backtest.trades]
    signals = [(s.at, s.symbol, s.direction, s.action) for s in reversed(books.recent_signals(limit=10**6))]
    assert signals == [(s.at, s.symbol, s.direction, s.action) for s in backtest.signals]
    assert [(s.at, s.equity) for s in books.snapshots()] == [(p.at, p.equity) for p in backtest.equity]
    # ...while skipping the runs that could change nothing, and ingesting the other 202 symbols' events too
    assert backtest.jobs["skipped"]["clusters"] > 0 and backtest.jobs["skipped"]["positions"] > 0
    assert len(backtest.events_by_symbol) > 200


def test_on_klines_too_the_backtest_trades_as_the_bot_driven_by_hand(events: list[LiquidationEvent]) -> None:
    # the shipped 1-minute klines of the session (no ETH): each bar's close at its close, its wick for the stops
    klines = load_prices(DATA / "klines" / "2025-01-27")
    config = config_with(schedule={"clusters": 3, "signals": 7, "positions": 2, "snapshot": 60},
                         risk={"time_exit_minutes": 10})
    books = drive_by_hand(config, events, klines)
    by_hand = sorted(books.closed_trades(), key=lambda c: (c.closed_at, c.position.id))
    backtest = run_backtest(config, events, klines, start_ms=START_MS, end_ms=END_MS)
    assert len(by_hand) >= 3 and backtest.audit == ()
    assert [(c.position.symbol, c.position.opened_at, c.closed_at, c.exit_price, c.reason) for c in by_hand] == [
        (t.symbol, t.entry_time, t.exit_time, t.exit_price, t.reason if t.reason != "end_of_data" else "manual")
        for t in backtest.trades]
    # no look-ahead: every entry is at a close already known (the bar closed at or before the entry)
    for t in backtest.trades:
        closes = klines.times(to_exchange_id(t.symbol))
        assert closes[0] <= t.entry_time and (t.entry_time - closes[closes <= t.entry_time][-1]) < 60_000


# ---------------------------------------------------------------------- wicks between two checks


def with_points(prices: PriceSeries, symbol: str, points: list[tuple[int, float]]) -> PriceSeries:
    return prices.merged(PriceSeries.from_points((symbol, at, price) for at, price in points))


@pytest.mark.parametrize("rule", ["wick", "stop_first"])
def test_a_wick_between_two_positions_checks_reaches_the_stop(events: list[LiquidationEvent], prices: PriceSeries,
                                                              result: BacktestResult, rule: str) -> None:
    # the session's BTC short that ends at its take-profit; positions are checked every 5 s
    [trade] = [t for t in result.trades if t.symbol == "BTC/USDT:USDT" and t.reason == "take_profit"]
    d = -1 if trade.side == "short" else 1
    check = trade.entry_time + 60_000  # a positions moment while it is open
    assert (check - START_MS) % 5_000 == 0 and trade.exit_time > check + 5_000
    before = prices.price_at("BTCUSDT", check + 1_500)
    assert before is not None
    beyond_stop = trade.stop_loss * (1 - d * 0.0001)  # past the stop, within the slippage: the stop's fill
    wick = [(check + 1_000, beyond_stop), (check + 1_500, before)]  # ...and back before the next check
    if rule == "stop_first":  # the take-profit first, then the stop, in one interval: the stop is assumed first
        wick = [(check + 1_000, trade.take_profit * (1 + d * 0.001)), (check + 1_200, beyond_stop),
                (check + 1_500, before)]
    wicked = with_points(prices, "BTCUSDT", wick)
    assert d * (wicked.price_at("BTCUSDT", check + 5_000) - trade.stop_loss) > 0  # the latest price misses it
    again = run_backtest(config_with(), events, wicked, start_ms=START_MS, end_ms=END_MS)
    [closed] = [t for t in again.trades if t.symbol == trade.symbol and t.entry_time == trade.entry_time]
    assert (closed.reason, closed.exit_time) == ("stop_loss", check + 5_000)  # at the next positions check
    assert closed.exit_price == pytest.approx(trade.stop_loss * (1 - d * 0.0002), rel=1e-12)
    assert again.audit == () and again.jobs["skipped"]["positions"] > 0


# ---------------------------------------------------------------------- warm-up before --from


def test_from_warms_the_heatmap_up_with_the_horizon_before_it(events: list[LiquidationEvent], prices: PriceSeries,
                                                              result: BacktestResult) -> None:
    # 17:00-17:20 against the same minutes inside the 16:50 run: the heatmap is the same, the books are not
    at_17 = START_MS + 10 * 60_000
    warm = run_backtest(config_with(), events, prices, start_ms=at_17, end_ms=END_MS)
    horizon = 3 * 60 * 60_000  # 3 x time_decay_minutes
    before = [e for e in events if at_17 - horizon <= e.trade_time < at_17]
    assert warm.inputs["warm_up"] == {"from_ms": at_17 - horizon, "events": len(before), "events_sha256":
                                      warm.inputs["warm_up"]["events_sha256"]} and len(before) > 500
    assert warm.start_ms >= at_17 and min(t.entry_time for t in warm.trades) >= at_17  # nothing traded before

    def said(r: BacktestResult, symbols: set[str]) -> list[tuple[Any, ...]]:
        return [(s.at, s.symbol, s.direction, s.strength, s.entry, s.stop_loss, s.take_profit, s.level)
                for s in r.signals if s.at >= at_17 and s.symbol in symbols]

    def traded(r: BacktestResult, symbols: set[str]) -> list[tuple[Any, ...]]:
        return [(t.client_id, t.entry_time, t.entry_price, t.exit_time, t.exit_price, t.reason)
                for t in r.trades if t.entry_time >= at_17 and t.symbol in symbols]

    # The only difference: what the 16:50 run's books carry over 17:00. Its SOL short is still open (no SOL
    # signal is asked for until it closes), and its DOGE short traded the very signal the 17:00 run sees first
    # (same client id: "already traded" there, entered here).
    carried = [t for t in result.trades if t.entry_time < at_17]
    assert {(t.symbol, t.exit_time > at_17) for t in carried} == {("SOL/USDT:USDT", True), ("DOGE/USDT:USDT", False)}
    [doge] = [t for t in warm.trades if t.symbol == "DOGE/USDT:USDT"]
    assert doge.client_id in {t.client_id for t in carried}
    others = {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    assert said(warm, others) == said(result, others) and len(said(result, others)) > 30
    assert traded(warm, others) == traded(result, others) and len(traded(result, others)) == 4
    # Without the warm-up (the events from 17:00 alone) the heatmap starts empty: other signals, other trades
    cold = run_backtest(config_with(), [e for e in events if e.trade_time >= at_17], prices, start_ms=at_17,
                        end_ms=END_MS)
    assert said(cold, others) != said(result, others) and traded(cold, others) != traded(result, others)


# ---------------------------------------------------------------------- sweeps


def test_a_sweep_gives_one_row_per_combination_in_grid_order(events: list[LiquidationEvent],
                                                             prices: PriceSeries) -> None:
    grid = parse_grid(["hunter.min_strength=0.3,0.97", "heatmap.cluster_window_pct=0.005,0.02"])
    assert grid == {"hunter.min_strength": [0.3, 0.97], "heatmap.cluster_window_pct": [0.005, 0.02]}
    sweep = run_sweep(config_with(), events, prices, grid, start_ms=START_MS, end_ms=END_MS)
    assert sweep.keys == ("hunter.min_strength", "heatmap.cluster_window_pct")
    assert [dict(r.params) for r in sweep.rows] == [
        {"hunter.min_strength": 0.3, "heatmap.cluster_window_pct": 0.005},
        {"hunter.min_strength": 0.3, "heatmap.cluster_window_pct": 0.02},
        {"hunter.min_strength": 0.97, "heatmap.cluster_window_pct": 0.005},
        {"hunter.min_strength": 0.97, "heatmap.cluster_window_pct": 0.02}]
    figures = [r.figures for r in sweep.rows]
    assert all(f is not None and f["audit_ok"] for f in figures)
    assert len({(f["trades"], round(f["net_pnl"], 6)) for f in figures if f is not None}) == 4
    table = sweep.to_markdown().splitlines()
    assert table[0].startswith("| hunter.min_strength | heatmap.cluster_window_pct | trades | win rate | net PnL")
    assert len([line for line in table if line.startswith("| 0.")]) == 4
    data = json.loads(sweep.to_json())
    assert len(data["rows"]) == 4 and data["spread"]["combinations"] == 4


def test_a_refused_combination_is_a_row_and_workers_change_nothing(events: list[LiquidationEvent],
                                                                   prices: PriceSeries) -> None:
    grid = {"risk.leverage": [5, 60]}  # 60 is above 50 / the hunter's widest stop (3 * 0.8 / 2 = 1.2 %): refused
    one = run_sweep(config_with(), events, prices, grid, start_ms=START_MS, end_ms=END_MS, workers=1)
    two = run_sweep(config_with(), events, prices, grid, start_ms=START_MS, end_ms=END_MS, workers=2)
    assert one.to_json() == two.to_json()
    ok, refused = one.rows
    assert ok.figures is not None and refused.figures is None
    assert refused.error is not None and refused.error.startswith("risk.leverage: expected an integer from 1 to 41")


def test_a_combination_with_a_bad_strategy_parameter_is_refused(events: list[LiquidationEvent],
                                                                prices: PriceSeries) -> None:
    grid = {"strategy.params.burst_minutes": [5, 0]}  # the strategy's own type reads them, where it is assembled
    sweep = run_sweep(config_with(strategy={"name": "cascade_fade"}), events, prices, grid, start_ms=START_MS,
                      end_ms=START_MS + 10 * 60_000)
    ok, refused = sweep.rows
    assert ok.figures is not None and refused.figures is None
    assert refused.error == "strategy.params.burst_minutes: expected a number in (0, 60] (minutes), got 0"


def test_sweep_keys_are_checked(events: list[LiquidationEvent], prices: PriceSeries) -> None:
    with pytest.raises(ValueError, match=r"'hunter.min_strenght': not a config key; did you mean "
                                         r"'hunter.min_strength'\?"):
        run_sweep(config_with(), events, prices, {"hunter.min_strenght": [0.3]})
    with pytest.raises(ValueError, match="expected KEY=VALUE1,VALUE2"):
        parse_grid(["hunter.min_strength"])


# ---------------------------------------------------------------------- prices


def test_bad_inputs_are_clear_errors(tmp_path: Path, events: list[LiquidationEvent], prices: PriceSeries) -> None:
    with pytest.raises(PriceFileError, match=r"nothing\.csv: no such file"):
        load_prices(tmp_path / "nothing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("T,s,p\n1737997200000,BTCUSDT,100\n1737997200001,BTCUSDT,-5\n")
    with pytest.raises(PriceFileError, match=r"bad\.csv:3: price: expected a positive finite number, got '-5'"):
        load_prices(bad)
    seconds = tmp_path / "seconds.csv"
    seconds.write_text("T,s,p\n1737997200,BTCUSDT,100\n")
    with pytest.raises(PriceFileError, match=r"seconds\.csv:2: time: expected epoch milliseconds in 2019\.\.2100"):
        load_prices(seconds)
    nameless = tmp_path / "prices.csv"
    nameless.write_text("1,3100.5,1.0,1,1,1737997200000,true\n")
    with pytest.raises(PriceFileError, match="no symbol column and none in the file name"):
        load_prices(nameless)
    with pytest.raises(BacktestError, match=r"no symbol to trade: none of the config's symbols has prices"):
        run_backtest(config_with(symbols=["XRPUSDT"]), events, prices, start_ms=START_MS, end_ms=END_MS)
    with pytest.raises(BacktestError, match="nothing to replay"):
        run_backtest(config_with(), events, prices, start_ms=END_MS + 365 * 86_400_000)
    with pytest.raises(BacktestError, match="must come after the start"):
        run_backtest(config_with(), events, prices, start_ms=END_MS, end_ms=START_MS)
    with pytest.raises(BacktestError, match="expected LiquidationEvent items"):
        run_backtest(config_with(), [b"{}"], prices)  # type: ignore[list-item]


def test_symbols_without_prices_are_named_and_not_traded(events: list[LiquidationEvent],
                                                         prices: PriceSeries) -> None:
    only_btc = prices.only(["BTCUSDT"])
    result = run_backtest(config_with(symbols=["BTCUSDT", "XRPUSDT"]), events, only_btc, start_ms=START_MS,
                          end_ms=START_MS + 10 * 60_000)
    assert result.symbols == ("BTC/USDT:USDT",) and result.unpriced == ("XRPUSDT",)
    assert {t.symbol for t in result.trades} <= {"BTC/USDT:USDT"}
    everything = run_backtest(config_with(symbols="all"), events, only_btc, start_ms=START_MS,
                              end_ms=START_MS + 10 * 60_000, symbols=["BTCUSDT", "ETH/USDT:USDT"])
    assert everything.symbols == ("BTC/USDT:USDT",) and everything.unpriced == ("ETHUSDT",)
    assert set(everything.events_by_symbol) == {"BTCUSDT", "ETHUSDT"}


# ---------------------------------------------------------------------- the command


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liquidation-hunter")
    add_backtest_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["backtest", *argv])
    return int(args.handler(args))


CLI = ("import argparse, sys\n"
       "from liquidation_hunter.cli.backtest import add_backtest_parser\n"
       "p = argparse.ArgumentParser(); add_backtest_parser(p.add_subparsers())\n"
       "a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))\n")


def test_the_command_reads_a_parquet_dataset_as_the_recording(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``--events DIR`` (a Parquet dataset exported from the recording, issue 17): the same trades and summary."""
    config = tmp_path / "bot.yaml"
    config.write_text(json.dumps(SETTINGS))
    export_parquet(load_events(WIRE), tmp_path / "history")
    reports = []
    for events in (WIRE, tmp_path / "history"):
        args = ["--config", str(config), "--events", str(events), "--prices", str(TRADES),
                "--from", "2025-01-27T16:50:00Z", "--to", "2025-01-27T17:20Z", "--json", "--no-sensitivity"]
        assert run_cli(args) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["summary"]["trades"] == 7
    assert reports[1]["summary"] == reports[0]["summary"] and reports[1]["trades"] == reports[0]["trades"]
    hashes = [next(f["sha256"] for f in r["inputs"]["files"] if f["role"] == "events") for r in reports]
    assert hashes[1] == dataset_sha256(tmp_path / "history") != hashes[0]


def test_the_command_writes_the_same_report_in_another_process(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text(json.dumps(SETTINGS))  # JSON is YAML
    args = ["--config", str(config), "--events", str(WIRE), "--prices", str(TRADES),
            "--from", "2025-01-27T16:50:00Z", "--to", "2025-01-27T17:20Z"]
    assert run_cli([*args, "--out", str(tmp_path / "here")]) == 0
    out = capsys.readouterr()
    assert "trades 7:" in out.out and "books audit: balanced" in out.out and "events/s" in out.err
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", CLI, "backtest", *args, "--out", str(tmp_path / "there"), "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["trades"] == 7
    for name in ("report.json", "report.md", "report.html", "equity.png"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name
    report = json.loads((tmp_path / "here" / "report.json").read_text())
    assert {f["role"] for f in report["inputs"]["files"]} == {"config", "events", "prices"}


def test_the_command_counts_and_reports_lines_that_are_not_events(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text(json.dumps(SETTINGS))
    events = tmp_path / "events.jsonl"
    events.write_bytes(WIRE.read_bytes() + b'{"e":"forceOrder","E":1737998000000}\nnot json\n')
    args = ["--config", str(config), "--events", str(events), "--prices", str(TRADES),
            "--from", "2025-01-27T16:50:00Z", "--to", "2025-01-27T17:20Z", "--out", str(tmp_path / "out")]
    assert run_cli(args) == 0
    assert "warning: 2 lines of events.jsonl are not liquidation events; skipped" in capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["inputs"]["events_rejected"] == 2 and report["summary"]["trades"] == 7


@pytest.mark.parametrize(("change", "message"), [
    (["--prices", "missing.csv"], "error: missing.csv: no such file"),
    (["--from", "yesterday"], "error: expected epoch ms or an ISO-8601 time"),
    (["--from", "2025-01-27T17:20Z", "--to", "2025-01-27T16:50Z"], "error: --to (2025-01-27T16:50Z) must come after"),
    (["--sweep", "hunter.min_strenght=0.3,0.5"], "error: sweep key 'hunter.min_strenght': not a config key"),
    (["--config", "nowhere.yaml"], "error: nowhere.yaml: no such file"),
    (["--config", "params.yaml"], "error: params.yaml: strategy.params.burst_minuts: unknown key, did you mean"),
])
def test_bad_command_lines_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch, change: list[str],
                                                message: str) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "bot.yaml"
    config.write_text(json.dumps(SETTINGS))
    (tmp_path / "params.yaml").write_text("strategy:\n  name: cascade_fade\n  params:\n    burst_minuts: 3\n")
    base = {"--config": str(config), "--events": str(WIRE), "--prices": str(TRADES)}
    for flag, value in zip(change[::2], change[1::2], strict=True):
        base[flag] = value
    argv = [x for pair in base.items() for x in pair]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and len(err.splitlines()) == 1, err


def test_progress_is_reported_up_to_the_end(events: list[LiquidationEvent], prices: PriceSeries) -> None:
    seen: list[float] = []
    run_backtest(config_with(), events, prices, start_ms=START_MS, end_ms=START_MS + 10 * 60_000,
                 progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3
