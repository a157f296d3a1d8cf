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
    no skipping; the heatmap gets only the bot's symbols' events, as a live bot subscribed to them would."""
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
    series = {s: (recorded.times(s).tolist(), recorded.prices(s).tolist()) for s in SYMBOLS}
    last_data = max(*(e.trade_time for e in window), *(times[-1] for times, _ in series.values()))
    grid = {name: round(getattr(config.schedule, name) * 1000) for name in ("clusters", "signals", "positions",
                                                                             "snapshot")}
    next_event, read = 0, dict.fromkeys(SYMBOLS, 0)

    def feed(t: int) -> None:
        nonlocal next_event
        while next_event < len(mine) and mine[next_event].trade_time <= t:
            heatmap.ingest(mine[next_event])
            next_event += 1
        for s, (times, values) in series.items():
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
                bot.run_job(name)
        t += 1000
    feed(last_data)
    now[0] = last_data
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


def test_klines_and_binance_public_files(tmp_path: Path) -> None:
    klines = tmp_path / "klines.csv"
    klines.write_text("open_time,open,high,low,close,volume,close_time,quote_volume,count,tbv,tbqv,ignore,symbol\n"
                      "1737997200000,100,110,95,105,1,1737997259999,1,1,1,1,0,BTCUSDT\n"
                      "1737997260000,105,106,90,92,1,1737997319999,1,1,1,1,0,BTCUSDT\n")
    ohlc = load_prices(klines)
    assert ohlc.prices("BTCUSDT").tolist() == [100, 95, 110, 105, 105, 106, 90, 92]  # up bar: low first
    assert ohlc.times("BTCUSDT").tolist()[:4] == [1737997200000, 1737997219999, 1737997239999, 1737997259999]
    close = load_prices(klines, kline_path="close")
    assert close.prices("BTC/USDT:USDT").tolist() == [105, 92]
    assert close.price_at("BTCUSDT", 1737997319998) == 105 and close.price_at("BTCUSDT", 1737997200000) is None
    # Binance's public aggTrades file, without a header: the symbol from the name; microsecond stamps
    agg = tmp_path / "ETHUSDT-aggTrades-2025-01-27.csv"
    agg.write_text("1,3100.5,1.0,1,1,1737997200000123,true\n2,3101.0,2.0,2,2,1737997200500000,false\n")
    series = load_prices([agg, f"SOLUSDT={klines}"])
    assert series.symbols == ("ETHUSDT", "SOLUSDT")
    assert series.times("ETHUSDT").tolist() == [1737997200000, 1737997200500]
    assert series.sources[0].format == "aggTrades" and len(series.sources[0].sha256) == 64


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
