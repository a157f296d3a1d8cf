"""The demo's report, as a trader would check it (issue 12, first acceptance point): no trade below Binance's
minimums or off its steps, every loss at the stop within the risk budget after costs, every signal listed with
what the bot did, and the same run twice gives byte-identical report files.

The market rules are read here from the shipped exchangeInfo file with ``Decimal``, not through the code under
test (ccxt's parsing), so a rounding bug there cannot hide itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import DATA

from liquidation_hunter.backtest import BacktestResult, load_prices, run_backtest
from liquidation_hunter.backtest.report import write_report
from liquidation_hunter.backtest.sweep import with_sensitivity
from liquidation_hunter.config.model import load_config
from liquidation_hunter.trading.markets import SHIPPED_MARKETS
from live_heatmap import to_exchange_id
from live_heatmap.common.timeparse import parse_time_ms
from live_heatmap.store.history import read_events

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config" / "demo.yaml"
EVENTS = DATA / "forceorder_wire.jsonl"
PRICES = DATA / "aggtrades_large.csv"
SPAN = ("2025-01-27T16:50:00Z", "2025-01-27T17:20:00Z")  # the Makefile's DEMO_SPAN


def filters() -> dict[str, dict[str, dict[str, str]]]:
    info = json.loads(SHIPPED_MARKETS.read_text())
    return {m["symbol"]: {f["filterType"]: f for f in m["filters"]} for m in info["symbols"]}


@pytest.fixture(scope="module")
def demo() -> BacktestResult:
    config = load_config(DEMO)
    start, end = (parse_time_ms(t) for t in SPAN)
    events = read_events(EVENTS, since_ms=start, until_ms=end).events
    prices = load_prices(PRICES)
    result = run_backtest(config, events, prices, start_ms=start, end_ms=end)
    return with_sensitivity(result, result.config, events, prices, start_ms=start, end_ms=end)


def test_the_demo_trades_only_what_binance_accepts(demo: BacktestResult) -> None:
    rules = filters()
    assert demo.trades
    for t in demo.trades:
        market = rules[to_exchange_id(t.symbol)]
        lot, least, tick = market["MARKET_LOT_SIZE"], market["MIN_NOTIONAL"], market["PRICE_FILTER"]
        quantity = Decimal(repr(t.quantity))
        assert quantity % Decimal(lot["stepSize"]) == 0, (t.symbol, t.quantity)  # a multiple of the step
        assert quantity % Decimal(market["LOT_SIZE"]["stepSize"]) == 0
        assert quantity >= Decimal(lot["minQty"]), (t.symbol, t.quantity)
        assert t.quantity * t.entry_price >= float(least["notional"]), (t.symbol, t.quantity * t.entry_price)
        for level in (t.stop_loss, t.take_profit):  # exits placed on the tick
            assert Decimal(repr(level)) % Decimal(tick["tickSize"]) == 0, (t.symbol, level)


def test_every_loss_at_the_stop_is_within_the_risk_budget_after_costs(demo: BacktestResult) -> None:
    risk = demo.config.risk
    k, f = risk.slippage_bps / 10_000.0, risk.taker_fee
    for t in demo.trades:
        d = 1 if t.side == "long" else -1
        stop_fill = t.stop_loss * (1.0 - d * k)  # the paper broker's stop fill, slipped
        # the loss had the stop filled: the move from the entry fill, plus the taker fee of both fills
        loss = t.quantity * (d * (t.entry_price - stop_fill) + f * (t.entry_price + stop_fill))
        # equity when the trade was sized: the wallet after the trades closed before it (the open ones'
        # unrealised PnL aside, a few USDT here against a 1 % budget of about 100)
        wallet = demo.starting_wallet + sum(o.net_pnl for o in demo.trades if o.exit_time <= t.entry_time)
        assert 0 < loss <= risk.risk_per_trade * wallet * (1 + 1e-9), (t.symbol, t.entry_time, loss)
    stopped = [t for t in demo.trades if t.reason == "stop_loss"]
    assert stopped, "the demo has stops that were hit"
    for t in stopped:  # and the stops that were hit lost no more than that (no gap in this recording)
        assert -t.net_pnl <= risk.risk_per_trade * demo.starting_wallet * 1.01


def test_one_position_takes_at_most_its_share_of_the_margin(demo: BacktestResult) -> None:
    risk = demo.config.risk
    assert risk.max_notional_per_position is not None  # the demo ships a finite cap
    for t in demo.trades:
        notional = t.quantity * t.entry_price
        assert notional <= risk.max_notional_per_position * (1 + risk.slippage_bps / 10_000.0)
        assert notional / risk.leverage <= risk.max_margin_pct / 100.0 * demo.starting_wallet * 1.05


def test_the_report_lists_every_signal_with_its_real_reason(demo: BacktestResult, tmp_path: Path) -> None:
    write_report(demo, tmp_path, picture=False)
    md = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    listed = report["signals"]["list"]
    assert len(listed) == len(demo.signals) == report["signals"]["recorded"] > 0
    assert [s["action"] for s in listed] == [s.action for s in demo.signals]
    for s in demo.signals:
        assert s.action in md
    # the kinds are counted without the "#" placeholders of old; real figures stay in the list
    assert not re.search(r"(^|\s)#(\s|$)", " ".join(report["signals"]["by_action"]))
    assert "take-profit # %" not in md and "take-profit # %" not in html
    assert re.search(r"take-profit \d+\.\d{3} % away does not cover 2 x the round-trip costs", md)
    assert "## Signals refused for size" in md and "## Every signal" in md
    # the sensitivity to costs and the sample caveat
    cases = [row["case"] for row in report["sensitivity"]]
    assert cases[0].startswith("as configured") and "slippage 0 bps" in cases and "slippage 4 bps (2x)" in cases
    assert report["sensitivity"][0]["net_pnl"] == pytest.approx(report["summary"]["net_pnl"], abs=1e-6)
    assert "## Sensitivity to costs" in md
    assert "latest liquidation per symbol per second" in md and "latest liquidation per symbol per second" in html


def test_the_same_run_twice_writes_byte_identical_reports(tmp_path: Path) -> None:
    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:  # the Makefile's demo backtest line, into two folders
        subprocess.run([sys.executable, "-m", "liquidation_hunter.cli", "backtest", "--config", str(DEMO),
                        "--events", str(EVENTS), "--prices", str(PRICES), "--from", SPAN[0], "--to", SPAN[1],
                        "--out", str(out)], check=True, capture_output=True, cwd=ROOT, timeout=300)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(p.name for p in outs[1].iterdir())
    assert {"report.json", "report.md", "report.html"} <= set(names)
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    text = (outs[0] / "report.md").read_text()
    assert str(tmp_path) not in text and str(ROOT) not in text  # no paths that change between runs
