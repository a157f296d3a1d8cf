"""The metrics reader on archive-shaped files: 288 five-minute rows a day, gaps over 10 minutes reported,
bad rows named by file and line."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from fakes.binance.archive_server import metrics_csv, zipped

from liquidation_hunter.data.open_interest import MetricsFileError, load_open_interest

DAY = date(2025, 1, 27)


def write(folder: Path, day: date, text: str, *, as_zip: bool = True) -> Path:
    name = f"BTCUSDT-metrics-{day}"
    path = folder / (name + (".zip" if as_zip else ".csv"))
    path.write_bytes(zipped(name + ".csv", text) if as_zip else text.encode())
    return path


def test_a_full_day_is_288_rows_in_time_order_with_its_columns(tmp_path: Path) -> None:
    history = load_open_interest(write(tmp_path, DAY, metrics_csv(DAY)))
    assert history.symbol == "BTCUSDT" and history.rows_per_day() == {"2025-01-27": 288}
    assert history.gaps == ()
    assert np.all(np.diff(history.time_ms) == 300_000)
    assert history.time_ms[0] == 1_737_936_000_000  # 2025-01-27 00:00:00 UTC
    assert history.open_interest[1] == pytest.approx(80_013.5)
    assert history.open_interest_value[1] == pytest.approx(80_013.5 * 101_000)
    assert history.ratios["sum_taker_long_short_vol_ratio"][2] == pytest.approx(0.902)


def test_a_gap_over_ten_minutes_is_reported_and_one_missing_row_is_not(tmp_path: Path) -> None:
    one_missing = load_open_interest(write(tmp_path, DAY, metrics_csv(DAY, skip=range(10, 11))))
    assert one_missing.gaps == () and one_missing.rows_per_day() == {"2025-01-27": 287}
    history = load_open_interest(write(tmp_path, DAY, metrics_csv(DAY, skip=range(120, 123))))
    assert history.rows_per_day() == {"2025-01-27": 285}
    assert len(history.gaps) == 1
    gap = history.gaps[0]
    assert gap.after_ms == 1_737_936_000_000 + 119 * 300_000 and gap.minutes == 20.0


def test_days_in_a_folder_join_and_a_repeated_row_keeps_one(tmp_path: Path) -> None:
    write(tmp_path, DAY, metrics_csv(DAY))
    write(tmp_path, date(2025, 1, 29), metrics_csv(date(2025, 1, 29)), as_zip=False)
    again = tmp_path / "again"
    again.mkdir()
    write(again, DAY, metrics_csv(DAY))
    history = load_open_interest([tmp_path, again / "BTCUSDT-metrics-2025-01-27.zip"])
    assert history.rows_per_day() == {"2025-01-27": 288, "2025-01-29": 288}
    assert [g.minutes for g in history.gaps] == [24 * 60 + 5]  # the day not there, from 23:55 to 00:00 a day on


def test_empty_ratios_are_nan_and_bad_rows_name_the_line(tmp_path: Path) -> None:
    lines = metrics_csv(DAY).splitlines()
    lines[1] = ",".join([*lines[1].split(",")[:4], "", "", "", ""])
    history = load_open_interest(write(tmp_path, DAY, "\n".join(lines)))
    assert math.isnan(history.ratios["count_long_short_ratio"][0])
    lines[3] = lines[3].replace("BTCUSDT,", "BTCUSDT,x", 1)
    path = write(tmp_path, DAY, "\n".join(lines))
    with pytest.raises(MetricsFileError, match=r"BTCUSDT-metrics-2025-01-27.zip:4: sum_open_interest: expected a "
                                               r"number, got 'x"):
        load_open_interest(path)
    klines = write(tmp_path, date(2025, 1, 30), "open_time,open,high,low,close\n1,2,3,4,5\n")
    with pytest.raises(MetricsFileError, match="not a metrics file: no column create_time"):
        load_open_interest(klines)
