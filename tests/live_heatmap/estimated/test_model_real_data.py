"""Real Binance open interest and klines through the estimated-levels model (issue 14).

No open interest shipped in ``data/`` shares a time with the shipped klines (data/SOURCES.md,
"binance/open_interest/"), so:

- SOLUSDT: the real 1-minute klines of 2025-12-27 14:25-16:00, merged into 3-minute bars (the OI's
  polling step), each paired in order with a real SOLUSDT OI reading of 2026-02-10 (both in SOL);
- BTCUSDT: 13 real OI readings of 2024-01-30 with the BTC price the recorder kept beside each; a
  bar spans two readings, its high/low the two prices, no volume (so the ``even`` attribution).

The shipped klines are trade klines: the bars' mark high/low are the trade high/low, an
approximation (Binance liquidates on the mark price, which sits within a few basis points).
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from liquidation_hunter.data.prices import load_kline_bars
from live_heatmap.estimated.bars import Bar, aggregate_bars
from live_heatmap.estimated.config import ModelConfig
from live_heatmap.estimated.model import EstimatedLevels

DATA = Path(__file__).resolve().parents[3] / "data" / "binance"
SOL_KLINES = DATA / "klines" / "2025-12-27" / "SOLUSDT-1m-2025-12-27_1425-1600.csv"
SOL_OI = DATA / "open_interest" / "SOLUSDT-openInterest-2026-02-10_0850-1051.csv"
BTC_OI = DATA / "open_interest" / "BTCUSDT-openInterest-2024-01-30_0932-0953.moonStreamProcess.json"


def sol_bars() -> list[Bar]:
    with SOL_OI.open(newline="") as handle:
        oi = [float(row["open_interest_base_units"]) for row in csv.DictReader(handle)]
    k = load_kline_bars(SOL_KLINES)  # the project's one reader of kline files
    minutes = [Bar(*row, 0.0) for row in zip(k.open_time.tolist(), k.close_time.tolist(), k.high.tolist(),
                                             k.low.tolist(), k.close.tolist(), k.volume.tolist(),
                                             k.quote_volume.tolist(), k.taker_buy_volume.tolist(),
                                             k.taker_buy_quote_volume.tolist(), strict=True)]
    bars = aggregate_bars(minutes, 3)
    assert len(oi) >= len(bars)
    return [b._replace(open_interest=value) for b, value in zip(bars, oi, strict=False)]


def btc_bars() -> list[Bar]:
    readings = json.loads(BTC_OI.read_text())
    bars = []
    for before, after in itertools.pairwise(readings):
        price_before, price_after = float(before["btc_price"]), float(after["btc_price"])
        bars.append(Bar(int(before["timestamp"] * 1000), int(after["timestamp"] * 1000),
                        max(price_before, price_after), min(price_before, price_after), price_after,
                        0.0, 0.0, 0.0, 0.0, float(after["data"]["openInterest"])))
    first = readings[0]
    start = int(first["timestamp"] * 1000)
    opening = Bar(start - 1, start, float(first["btc_price"]), float(first["btc_price"]), float(first["btc_price"]),
                  0.0, 0.0, 0.0, 0.0, float(first["data"]["openInterest"]))
    return [opening, *bars]


def check_distances(m: EstimatedLevels, bars: list[Bar]) -> None:
    """Each level sits at its tier's exact distance from an entry inside the bars' price range."""
    lowest = min(b.mark_low for b in bars)
    highest = max(b.mark_high for b in bars)
    mmr = m.config.maint_margin_ratio
    for side, factor in (("long", lambda lev: (1 - 1 / lev) / (1 - mmr)),
                         ("short", lambda lev: (1 + 1 / lev) / (1 + mmr))):
        levels = m.levels(side)
        assert len(levels.price) > 0, side
        entries = levels.price / factor(levels.leverage)
        assert np.all(entries >= lowest * (1 - 1e-12)) and np.all(entries <= highest * (1 + 1e-12)), side
        ten = levels.price[levels.leverage == 10.0]
        assert last_close(m) is not None
        distance = np.abs(ten / last_close(m) - 1)
        # 10x: 1 - 0.9/(1 - mmr) = 9.64 % below a long's entry, 1.1/(1 + mmr) - 1 = 9.56 % above a short's;
        # the entries here are within the window's range (< 1 % for both series)
        assert np.all((distance > 0.085) & (distance < 0.105)), (side, distance)


def last_close(m: EstimatedLevels) -> float:
    assert m.last_close is not None
    return m.last_close


@pytest.mark.parametrize("attribution", ["taker", "candle", "even"])
def test_real_solusdt_klines_and_oi_give_levels_at_the_expected_distances(attribution: str) -> None:
    bars = sol_bars()
    m = EstimatedLevels(ModelConfig(attribution=attribution, bar_ms=180_000))  # type: ignore[arg-type]
    for b in bars:
        m.update(b)
    assert m.bars == len(bars) == 32
    check_distances(m, bars)
    binned = m.binned()
    long_total, short_total = m.total_notional()
    assert binned.long.sum() + binned.long_outside == pytest.approx(long_total)
    assert binned.short.sum() + binned.short_outside == pytest.approx(short_total)
    # the 10x longs are the biggest tier below the price: the heaviest long bin sits ~9.6 % under the close
    heaviest = binned.prices[int(np.argmax(binned.long))]
    assert 0.085 < 1 - heaviest / last_close(m) < 0.105


def test_real_btcusdt_oi_with_its_recorded_prices_runs_with_no_volume() -> None:
    bars = btc_bars()
    m = EstimatedLevels(ModelConfig(attribution="even", bar_ms=60_000))
    for b in bars:
        m.update(b)
    assert m.bars == len(bars) == 13
    check_distances(m, bars)
    distribution = m.leverage_distribution()
    assert distribution.long == pytest.approx(distribution.short)  # even: half and half, same mix
