"""``backtest --history``: estimated levels traded over fetched history (archive-shaped zips, no liquidations), the
fills checked by hand; bad input is one line and exit 2 (issue 14)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fakes.binance.archive_server import metrics_csv
from history_dir import kline_line, klines_text, write_zip

from liquidation_hunter.backtest.history import history_config, load_history_inputs
from liquidation_hunter.backtest.runner import run_backtest
from liquidation_hunter.cli.main import main
from liquidation_hunter.config.model import load_config

DAY = date(2024, 3, 1)
START = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
BAR = 300_000
WICK = 8  # the bar whose low reaches far down
SLIP = 2.0 / 10_000
FEE = 0.0005
CONFIG = f"""
mode: paper
symbols: [BTCUSDT]
hunter: {{allow_long: false}}
risk: {{starting_wallet: 10000.0, risk_per_trade: 0.01, leverage: 5, from_signal: true, cooldown_minutes: 60,
        slippage_bps: 2.0, taker_fee: {FEE}, maker_fee: 0.0002, funding: false}}
"""


def klines_csv(bars: int = 24) -> str:
    """Flat bars at 60,000 (+-10), but bar WICK reaches down to 57,000 and closes back at 60,000."""
    return klines_text(kline_line(START + i * BAR, 60_000.0, 60_010.0, 57_000.0 if i == WICK else 59_990.0,
                                  60_000.0, 120.5, 70.25) for i in range(bars))


def write_history(root: Path) -> None:
    write_zip(root, "klines", "BTCUSDT", DAY, klines_csv())
    # open interest rising 13.5 BTC a row: positions open at 60,000 every bar
    write_zip(root, "metrics", "BTCUSDT", DAY, metrics_csv(DAY))


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    write_history(tmp_path / "history")
    config = tmp_path / "bot.yaml"
    config.write_text(CONFIG)
    return config, tmp_path / "history"


def test_a_history_backtest_shorts_toward_estimated_long_levels_and_fills_at_the_bars(
        inputs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, history = inputs
    assert main(["backtest", "--config", str(config), "--history", str(history), "--symbol", "BTCUSDT",
                 "--json", "--no-sensitivity"]) == 0
    report = json.loads(capsys.readouterr().out)
    trades = report["trades"]
    assert trades, "the estimated long levels below 60,000 are a target"
    first = trades[0]
    closes = [START + (i + 1) * BAR - 1 for i in range(24)]
    # entered at a bar's close (its levels known then), short, at the close worsened by the slippage
    assert first["side"] == "short" and first["entry_time"] in closes and first["entry_time"] < closes[WICK]
    assert first["entry_price"] == pytest.approx(60_000.0 * (1 - SLIP))
    # the take-profit sits below; the wick of bar WICK reaches it: filled at its level at that bar's close
    assert 57_000.0 < first["take_profit"] < 60_000.0 < first["stop_loss"]
    assert first["reason"] == "take_profit" and first["exit_time"] == closes[WICK]
    assert first["exit_price"] == first["take_profit"]
    q = first["quantity"]
    assert first["gross_pnl"] == pytest.approx(q * (first["entry_price"] - first["exit_price"]))
    assert first["entry_fee"] == pytest.approx(q * first["entry_price"] * FEE)
    assert first["exit_fee"] == pytest.approx(q * first["exit_price"] * FEE)
    assert first["net_pnl"] == pytest.approx(first["gross_pnl"] - first["entry_fee"] - first["exit_fee"])
    assert report["signals"]["by_action"]["entered"] == len(trades)
    assert report["inputs"]["history"]["bars"] == 24


def test_the_signal_log_names_the_estimated_zone(inputs: tuple[Path, Path]) -> None:
    config_path, history = inputs
    found = load_history_inputs(history, "BTCUSDT")
    config = history_config(load_config(config_path), found.history.symbol, found.interval_ms, with_events=False)
    assert config.hunter.target == "estimated" and config.schedule.signals == 300.0
    result = run_backtest(config, [], found.prices, start_ms=found.start_ms, end_ms=found.end_ms,
                          estimated={"BTCUSDT": found.history.bars})
    entered = [s for s in result.signals if s.action == "entered"]
    assert entered and all("estimated long levels below" in s.reason for s in entered)
    assert "brackets of 2025-12-25" in entered[0].reason and entered[0].level is not None
    assert entered[0].level < 60_000.0 and entered[0].at == result.trades[0].entry_time
    # the levels of a bar are known at its close: nothing is entered before the first bar closed
    assert min(s.at for s in result.signals) >= START + BAR - 1


def test_history_backtests_sweep(inputs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, history = inputs
    assert main(["backtest", "--config", str(config), "--history", str(history), "--symbol", "BTCUSDT",
                 "--json", "--sweep", "hunter.take_profit_fraction=0.5,0.8", "--workers", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == 2 and all(r["error"] is None and r["figures"]["trades"] >= 1 for r in rows)


@pytest.mark.parametrize(("args", "says"), [
    (["--history", "{tmp}/nowhere", "--symbol", "BTCUSDT"], "nowhere: no such folder"),
    (["--history", "{tmp}/history", "--symbol", "ETHUSDT"], "no klines of ETHUSDT"),
    (["--history", "{tmp}/history"], "exactly one --symbol"),
    (["--symbol", "BTCUSDT"], "give --events and --prices"),
])
def test_bad_history_input_is_one_line_and_exit_2(inputs: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                                  args: list[str], says: str) -> None:
    config, history = inputs
    tmp = str(history.parent)
    assert main(["backtest", "--config", str(config), *(a.replace("{tmp}", tmp) for a in args)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and "Traceback" not in err


def test_a_backtest_of_recorded_events_on_estimated_levels_asks_for_history(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "estimated.yaml"
    config.write_text(CONFIG.replace("hunter: {allow_long: false}", "hunter: {allow_long: false, target: estimated}"))
    recorded = str(tmp_path / "events.jsonl")
    assert main(["backtest", "--config", str(config), "--events", recorded, "--prices", recorded]) == 2
    err = capsys.readouterr().err
    assert "hunter.target estimated reads estimated levels: give --history DIR" in err and err.count("\n") == 1
