"""A ``fetch-history`` folder written in the archive's shape (klines, mark price klines, metrics zips) for tests of
the estimated layer (issue 14): :func:`kline_line` and :func:`klines_text` make a klines CSV as the archive's
(mark price klines carry zero volumes), :func:`write_zip` puts a CSV where ``fetch-history`` keeps it, and
:func:`write_history` writes one day of a symbol whose price drifts up from ``base`` while its open interest rises
every bar (so the model opens levels on every bar)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from fakes.binance.archive_server import metrics_csv, zipped

KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                "taker_buy_quote_volume,ignore")
BAR_MS = 300_000


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def kline_line(open_time: int, open_: float, high: float, low: float, close: float, volume: float = 0.0,  # noqa: PLR0917
               taker_buy: float = 0.0, *, bar_ms: int = BAR_MS) -> str:
    """One archive kline row, its arguments in the archive's column order; quote volumes at the close (zero
    volumes: a mark price kline)."""
    return (f"{open_time},{open_},{high},{low},{close},{volume},{open_time + bar_ms - 1},{volume * close:.2f},10,"
            f"{taker_buy},{taker_buy * close:.2f},0")


def klines_text(lines: Iterable[str]) -> str:
    return "\n".join([KLINE_HEADER, *lines]) + "\n"


def write_zip(root: Path, kind: str, symbol: str, day: date, text: str, *, interval: str = "5m") -> Path:
    """``text`` zipped as the archive names it, under ``root`` where ``fetch-history`` keeps ``kind`` (``klines``,
    ``markPriceKlines`` or ``metrics``)."""
    folder = root / kind / symbol if kind == "metrics" else root / kind / symbol / interval
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{symbol}-{'metrics' if kind == 'metrics' else interval}-{day:%Y-%m-%d}"
    (folder / f"{name}.zip").write_bytes(zipped(f"{name}.csv", text))
    return folder / f"{name}.zip"


def write_history(root: Path, symbol: str, day: date, base: float) -> Path:
    """``root``'s klines, markPriceKlines and metrics of ``symbol`` on ``day``; returns ``root``."""
    start = day_start_ms(day)
    for kind, mark in (("klines", False), ("markPriceKlines", True)):
        lines = []
        for i in range(288):
            close = base * (1 + 0.0001 * i)
            spread = close * (0.0004 if mark else 0.0006)
            lines.append(kline_line(start + i * BAR_MS, close, round(close + spread, 4), round(close - spread, 4),
                                    close, 0.0 if mark else 120.5, 0.0 if mark else 70.25))
        write_zip(root, kind, symbol, day, klines_text(lines))
    write_zip(root, "metrics", symbol, day, metrics_csv(day, symbol=symbol))
    return root
