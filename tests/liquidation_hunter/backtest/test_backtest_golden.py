"""Golden masters of the backtest over the whole recording: every trade, signal, equity point and final figure
of today's engine, to the last bit of every float, for the configurations below.

They guard rewrites of the engine (issue 11: a faster replay must trade exactly as the tick-by-tick engine
does): a change that moves any number fails here, and the diff of the golden file shows what moved. When a
change is *meant* to change trades (new fill rules, new data), regenerate and commit the new files with it:

    LIQUIDATION_HUNTER_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest \\
        tests/liquidation_hunter/backtest/test_backtest_golden.py
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, WIRE

from liquidation_hunter.backtest import BacktestResult, PriceSeries, load_prices, run_backtest
from liquidation_hunter.config.model import BotConfig
from live_heatmap import LiquidationEvent, parse_force_order

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
REGENERATE = os.environ.get("LIQUIDATION_HUNTER_REGENERATE_GOLDEN") == "1"

CASES: dict[str, dict[str, Any]] = {
    # the defaults, as `make bench-backtest` replays them
    "magnet_default": {"strategy": {"name": "liquidation_magnet"}},
    "cascade_fade_default": {"strategy": {"name": "cascade_fade"}},
    # every symbol, thresholds that trade more (test_backtest.py's), no cooldown or account limits
    "magnet_all_symbols": {
        "symbols": "all", "heatmap": {"min_cluster_size": 3},
        "hunter": {"min_strength": 0.3, "min_distance_pct": 0.3, "max_distance_pct": 3.0,
                   "preferred_distance_pct": 0.8},
        "risk": {"leverage": 5, "max_open_positions": 4, "cooldown_minutes": 0, "daily_loss_limit_pct": None,
                 "max_drawdown_pct": None},
    },
}


@pytest.fixture(scope="module")
def events() -> list[LiquidationEvent]:
    return [parse_force_order(line) for line in WIRE.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def prices() -> PriceSeries:
    return load_prices(DATA / "aggtrades_large.csv")


def golden_text(result: BacktestResult) -> str:
    """What the golden file holds: every record of the result, floats as ``repr`` (exact round trip)."""
    records: dict[str, Any] = {
        "sessions": [list(s) for s in result.sessions],
        "symbols": list(result.symbols),
        "events": result.events, "events_accepted": result.events_accepted, "duplicates": result.duplicates,
        "price_points": dict(sorted(result.price_points.items())),
        "trades": [dataclasses.asdict(t) for t in result.trades],
        "open_positions": [dataclasses.asdict(p) for p in result.open_positions],
        "signals": [dataclasses.asdict(s) for s in result.signals],
        "equity": [dataclasses.asdict(e) for e in result.equity],
        "final_wallet": result.final_wallet, "final_equity": result.final_equity,
        "jobs": {k: dict(sorted(v.items())) for k, v in sorted(result.jobs.items())},
        "audit": list(result.audit), "problems": list(result.problems),
    }
    return json.dumps(records, indent=1) + "\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_whole_recording_replays_exactly_as_the_golden_master(case: str, events: list[LiquidationEvent],
                                                                   prices: PriceSeries) -> None:
    result = run_backtest(BotConfig.from_mapping(CASES[case]), events, prices)
    text = golden_text(result)
    path = GOLDEN / f"backtest_{case}.json"
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: regenerate (module docstring)"
    expected = path.read_text()
    assert text == expected, f"{case}: the replay differs from {path.name} (module docstring)"


def test_the_golden_masters_hold_trades() -> None:
    """The cases are chosen so that the masters are not empty: a golden of nothing guards nothing."""
    masters = {case: json.loads((GOLDEN / f"backtest_{case}.json").read_text()) for case in CASES}
    trades = {case: len(master["trades"]) for case, master in masters.items()}
    assert trades["magnet_default"] > 0 and trades["magnet_all_symbols"] > trades["magnet_default"]
    assert all(master["signals"] for master in masters.values())
