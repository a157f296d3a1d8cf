"""Fetched history joined into model bars: mark ranges from mark price klines, OI at each bar's end, nothing from
after it, and what was missing counted (issue 14)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fakes.binance.archive_server import metrics_csv
from history_dir import kline_line, klines_text, write_zip

from liquidation_hunter.data.history_bars import HistoryError, load_history_bars
from live_heatmap.estimated.model import EstimatedLevels

DAY = date(2024, 3, 1)
START = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
def klines_csv(*, mark: bool = False, skip: range = range(0)) -> str:
    lines = []
    for i in range(288):
        if i in skip:
            continue
        close = 60_000.0 + 10.0 * i
        spread = 30.0 if mark else 40.0
        lines.append(kline_line(START + i * 300_000, close - 5, close + spread, close - spread, close,
                                0.0 if mark else 120.5, 0.0 if mark else 70.25))
    return klines_text(lines)


def write(root: Path, *, mark_skip: range = range(0), metrics_skip: range = range(0), mark: bool = True) -> None:
    write_zip(root, "klines", "BTCUSDT", DAY, klines_csv())
    if mark:
        write_zip(root, "markPriceKlines", "BTCUSDT", DAY, klines_csv(mark=True, skip=mark_skip))
    write_zip(root, "metrics", "BTCUSDT", DAY, metrics_csv(DAY, skip=metrics_skip))


def test_each_bar_takes_its_mark_range_and_the_oi_at_its_end(tmp_path: Path) -> None:
    write(tmp_path, mark_skip=range(10, 12))
    h = load_history_bars(tmp_path, "BTC/USDT:USDT")
    # the metrics row at 00:00 is the OI before the first bar ends; the first bar ends at 00:05 -> row 1
    assert len(h.bars) == 288 and h.symbol == "BTCUSDT" and h.bars_without_oi == 0
    first = h.bars[0]
    assert (first.mark_high, first.mark_low, first.close) == (60_030.0, 59_970.0, 60_000.0)
    assert first.open_interest == pytest.approx(80_000 + 13.5)
    assert h.bars[10].mark_high == 60_100.0 + 40.0  # no mark kline: the trade range, counted
    assert h.trade_range_bars == 2 and "2 of 288 bars use the trade high/low" in h.notes()[0]
    assert (first.base_volume, first.taker_buy_base) == (120.5, 70.25)
    # the last bar ends at midnight: no metrics row of the next day, so the day's last row (23:55) stands
    assert h.bars[-1].open_interest == pytest.approx(80_000 + 13.5 * 287)
    model = EstimatedLevels()
    for b in h.bars:
        model.update(b)
    assert model.bars == 288 and sum(model.total_notional()) > 0


def test_bars_without_open_interest_are_left_out_and_counted(tmp_path: Path) -> None:
    write(tmp_path, metrics_skip=range(100, 104), mark=False)
    h = load_history_bars(tmp_path, "BTCUSDT", start_ms=START, end_ms=START + 200 * 300_000)
    # rows 100..103 missing: bars ending at rows 102 and 103 find row 99 more than 10 minutes old
    assert h.bars_without_oi == 2 and len(h.bars) == 200 - 2
    assert h.trade_range_bars == len(h.bars) and len(h.oi_gaps) == 1
    assert all(b.close_time <= START + 200 * 300_000 for b in h.bars)


def test_a_missing_folder_names_itself_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"klines/BTCUSDT/5m: no klines of BTCUSDT .* fetch-history BTCUSDT"):
        load_history_bars(tmp_path, "BTCUSDT")
