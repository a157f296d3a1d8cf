"""equity.png (the backtest report's picture) marks every trade on the curve: entries as triangles (green up: long,
red down: short), exits as rings (green: won, red: lost), on the demo's real half hour."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from conftest import DATA, WIRE

from liquidation_hunter.backtest import load_prices, run_backtest
from liquidation_hunter.backtest.report import equity_png
from liquidation_hunter.config.model import load_config
from live_heatmap.store.history import load_events

pytest.importorskip("matplotlib")
from PIL import Image

GREEN, RED = (0x2C, 0xA0, 0x2C), (0xD6, 0x27, 0x28)


def _count(png: bytes, colour: tuple[int, int, int]) -> int:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(pixels - np.array(colour)).sum(axis=2) <= 12).sum())


def test_equity_png_marks_entries_and_exits() -> None:
    config = load_config(DATA.parent.parent / "config" / "demo.yaml")
    result = run_backtest(config, load_events(WIRE), load_prices([str(DATA / "aggtrades_large.csv")]),
                          start_ms=1_737_996_600_000, end_ms=1_737_998_400_000)
    sides = {t.side for t in result.trades}
    outcomes = {t.net_pnl > 0 for t in result.trades}
    assert sides == {"long", "short"} and outcomes == {True, False}, "the demo has both sides and both outcomes"
    marked = equity_png(result)
    bare = equity_png(dataclasses.replace(result, trades=()))
    # the curve is blue and the drawdown shading pale red: pure green and red come from the markers only
    assert _count(bare, GREEN) == 0 and _count(bare, RED) == 0
    assert _count(marked, GREEN) > 30 and _count(marked, RED) > 30
    assert marked == equity_png(result)  # byte-identical for the same result
