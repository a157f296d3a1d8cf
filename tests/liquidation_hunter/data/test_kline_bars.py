"""Klines with their volumes (``load_kline_bars``): the real archive rows, with and without a header, zipped as
the archive ships them; the taker-buy columns the estimated model needs come through as written."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA
from fakes.binance.archive_server import zipped

from liquidation_hunter.data.prices import PriceFileError, load_kline_bars

KLINES = DATA / "klines" / "2025-01-27" / "BTCUSDT-1m-2025-01-27_1640-1730.csv"


def test_the_volumes_come_through_with_and_without_a_header(tmp_path: Path) -> None:
    text = KLINES.read_text()
    rows = list(csv.reader(text.splitlines()))
    body = rows[1:]
    bare = tmp_path / "BTCUSDT-1m-2025-01-27.zip"  # as the archive's older files: no header
    bare.write_bytes(zipped("BTCUSDT-1m-2025-01-27.csv", "\n".join(",".join(r) for r in body) + "\n"))
    for source in (KLINES, bare):
        bars = load_kline_bars(source, symbol=None if source is bare else "BTCUSDT")
        assert bars.symbol == "BTCUSDT" and len(bars.open_time) == len(body)
        first = body[0]
        assert bars.open_time[0] == int(first[0]) and bars.close_time[0] == int(first[6])
        assert bars.close[0] == float(first[4]) and bars.volume[0] == float(first[5])
        assert bars.quote_volume[0] == float(first[7])
        assert bars.taker_buy_volume[0] == float(first[9]) and bars.taker_buy_quote_volume[0] == float(first[10])
        assert np.all(np.diff(bars.open_time) == 60_000)


def test_a_file_that_is_not_klines_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match=r"aggtrades_large\.csv: a trades file, not klines"):
        load_kline_bars(DATA / "aggtrades_large.csv")
    broken = tmp_path / "BTCUSDT-1m-2025-01-27.csv"
    lines = KLINES.read_text().splitlines()
    cells = lines[2].split(",")
    cells[9] = "lots"
    lines[2] = ",".join(cells)
    broken.write_text("\n".join(lines))
    with pytest.raises(PriceFileError, match=r"BTCUSDT-1m-2025-01-27.csv:3: volume: expected a number, got 'lots'"):
        load_kline_bars(broken)
