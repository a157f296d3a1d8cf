"""The one price reader: trades and klines (Binance's archive format) side by side, klines as a price at their
close and a range for the stops (no look-ahead), folders mixing files and symbols, one-line errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA

from liquidation_hunter.data.prices import PriceFileError, PricePath, PriceSeries, load_prices

KLINES = DATA / "klines"
HEADER = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume," \
         "taker_buy_quote_volume,ignore\n"
BAR1 = "1737997200000,100,110,95,105,1,1737997259999,1,1,1,1,0\n"  # 17:00 bar, closes at 17:00:59.999
BAR2 = "1737997260000,105,106,90,92,1,1737997319999,1,1,1,1,0\n"


def test_a_kline_is_its_close_at_close_time_and_its_range_for_the_stops(tmp_path: Path) -> None:
    klines = tmp_path / "BTCUSDT-1m-2025-01-27.csv"
    klines.write_text(HEADER + BAR1 + BAR2)
    series = load_prices(klines)
    assert series.times("BTCUSDT").tolist() == [1737997259999, 1737997319999]
    assert series.prices("BTC/USDT:USDT").tolist() == [105, 92]
    # no look-ahead: during the first bar nothing is known; its close only once it closed
    assert series.price_at("BTCUSDT", 1737997259998) is None
    assert series.price_at("BTCUSDT", 1737997259999) == 105
    assert series.price_at("BTCUSDT", 1737997319998) == 105
    # the path between two checks: the first bar's open, the lowest low, the highest high, the last close
    assert series.path("BTCUSDT", 0, 1737997319999) == PricePath(100, 90, 110, 92)
    assert series.path("BTCUSDT", 1737997259999, 1737997319999) == PricePath(105, 90, 106, 92)
    assert series.path("BTCUSDT", 1737997319999, 1737997400000) is None
    assert series.has_ranges("BTCUSDT") and series.sources[0].format == "klines"


def test_without_a_header_and_compressed_as_binance_publishes_them(tmp_path: Path) -> None:
    headerless = tmp_path / "SOLUSDT-1m-2025-01-27.csv.gz"
    headerless.write_bytes(gzip.compress((BAR1 + BAR2).encode()))
    series = load_prices(headerless)
    assert series.symbols == ("SOLUSDT",) and series.prices("SOLUSDT").tolist() == [105, 92]
    assert series.path("SOLUSDT", 0, 2 * 10**12) == PricePath(100, 90, 110, 92)


def test_trades_are_each_their_own_range(tmp_path: Path) -> None:
    trades = tmp_path / "trades.csv"
    trades.write_text("T,s,p\n1737997200000,BTCUSDT,100\n1737997201000,BTCUSDT,97\n1737997202000,BTCUSDT,99\n")
    series = load_prices(trades)
    assert not series.has_ranges("BTCUSDT")
    assert series.path("BTCUSDT", 1737997200000, 1737997202000) == PricePath(97, 97, 99, 99)
    assert series.path("BTCUSDT", 1737997199999, 1737997200000) == PricePath.at(100)


def test_a_folder_of_the_shipped_klines_and_trades_mixed(tmp_path: Path) -> None:
    window = load_prices(KLINES / "2025-01-27")
    assert window.symbols == ("BTCUSDT", "DOGEUSDT", "SOLUSDT", "XRPUSDT")
    assert [window.count(s) for s in window.symbols] == [51, 49, 51, 51]
    assert [s.name for s in window.sources] == sorted(p.name for p in (KLINES / "2025-01-27").iterdir())
    times = window.times("XRPUSDT")
    assert np.all(np.diff(times) == 60_000) and int(times[0]) % 60_000 == 59_999
    # every recorded large trade of BTC in these minutes lies in its bar: the trades and the bars agree
    both = load_prices([KLINES / "2025-01-27" / "BTCUSDT-1m-2025-01-27_1640-1730.csv", DATA / "aggtrades_large.csv"])
    assert "BTCUSDT" in both and both.has_ranges("BTCUSDT") and not both.has_ranges("ETHUSDT")
    trades = load_prices(DATA / "aggtrades_large.csv").window(int(times[0]) - 59_999, int(window.times("BTCUSDT")[-1]))
    t, p = trades.times("BTCUSDT"), trades.prices("BTCUSDT")
    bt, _, _, lows, highs = window.bars("BTCUSDT")
    bar = np.searchsorted(bt, t, side="left")  # the bar a trade belongs to: the first one closing at or after it
    assert len(t) > 1000 and np.all((lows[bar] <= p) & (p <= highs[bar]))
    # and the other window
    assert load_prices(KLINES / "2025-12-27").symbols == ("BTCUSDT", "DOTUSDT", "SOLUSDT")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("BTCUSDT-1m.csv", HEADER + BAR1 + "1737997260000,105,106,90,92,1\n",
     r"BTCUSDT-1m\.csv:3: expected 7 columns, got 6"),
    ("BTCUSDT-1m.csv", HEADER + BAR1 + "1737997260000,105,104,90,92,1,1737997319999,1,1,1,1,0\n",
     r"BTCUSDT-1m\.csv:3: open 105\.0 and close 92\.0 must lie within low 90\.0 and high 104\.0"),
    ("BTCUSDT-1m.csv", HEADER + "1737997260000,105,106,90,92,1,1737997200000,1,1,1,1,0\n",
     r"BTCUSDT-1m\.csv:2: close_time 1737997200000 is before open_time 1737997260000"),
    ("BTCUSDT-1m.csv", BAR1 + "1737997260000,105,106,x,92,1,1737997319999,1,1,1,1,0\n",
     r"BTCUSDT-1m\.csv:2: price: expected a number, got 'x'"),
    ("klines.csv", HEADER + BAR1, r"klines\.csv: no symbol column and none in the file name"),
    ("BTCUSDT-1m.csv", "open_time,open,high,close\n1,2,3,4\n", r"BTCUSDT-1m\.csv: a klines header needs open_time"),
])
def test_a_malformed_kline_file_is_one_line_naming_the_file_and_line(tmp_path: Path, name: str, text: str,
                                                                    message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PriceFileError, match=message) as info:
        load_prices(path)
    assert "\n" not in str(info.value)


def test_an_empty_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match=r"a folder with no price file"):
        load_prices(tmp_path)


def test_binance_public_trade_files_and_symbol_prefixes(tmp_path: Path) -> None:
    klines = tmp_path / "klines.csv"
    klines.write_text(HEADER + BAR1 + BAR2)
    agg = tmp_path / "ETHUSDT-aggTrades-2025-01-27.csv"  # no header: the symbol from the name; microseconds
    agg.write_text("1,3100.5,1.0,1,1,1737997200000123,true\n2,3101.0,2.0,2,2,1737997200500000,false\n")
    series = load_prices([agg, f"SOLUSDT={klines}"])
    assert series.symbols == ("ETHUSDT", "SOLUSDT")
    assert series.times("ETHUSDT").tolist() == [1737997200000, 1737997200500]
    assert series.sources[0].format == "aggTrades" and len(series.sources[0].sha256) == 64
    assert series.window(1737997259999, 1737997300000).path("SOLUSDT", 0, 2 * 10**12) == PricePath(100, 95, 110, 105)


def test_a_series_of_bars_refuses_a_close_outside_its_range() -> None:
    with pytest.raises(ValueError, match="open and close must lie within its low and high"):
        PriceSeries({"BTCUSDT": ([1], [105.0], [100.0], [101.0], [110.0])})
