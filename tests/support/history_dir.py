"""A ``fetch-history`` folder written in the archive's shape (klines, mark price klines, metrics zips) for tests of
the estimated layer shown (issue 14): one day of 5-minute bars of a symbol, its price drifting up from ``base``
and its open interest rising every bar (so the model opens levels on every bar)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from fakes.binance.archive_server import metrics_csv, zipped

HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
          "taker_buy_quote_volume,ignore")
BAR_MS = 300_000


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _klines(day: date, base: float, *, mark: bool) -> str:
    start = day_start_ms(day)
    lines = [HEADER]
    for i in range(288):
        close = base * (1 + 0.0001 * i)
        spread = close * (0.0004 if mark else 0.0006)
        volume, quote = ("0", "0") if mark else ("120.5", f"{120.5 * close:.2f}")
        buy, buy_quote = ("0", "0") if mark else ("70.25", f"{70.25 * close:.2f}")
        lines.append(f"{start + i * BAR_MS},{close},{close + spread:.4f},{close - spread:.4f},{close},{volume},"
                     f"{start + (i + 1) * BAR_MS - 1},{quote},10,{buy},{buy_quote},0")
    return "\n".join(lines) + "\n"


def write_history(root: Path, symbol: str, day: date, base: float) -> Path:
    """``root``'s klines, markPriceKlines and metrics of ``symbol`` on ``day``; returns ``root``."""
    name = f"{symbol}-5m-{day:%Y-%m-%d}"
    for kind, mark in (("klines", False), ("markPriceKlines", True)):
        folder = root / kind / symbol / "5m"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.zip").write_bytes(zipped(f"{name}.csv", _klines(day, base, mark=mark)))
    folder = root / "metrics" / symbol
    folder.mkdir(parents=True, exist_ok=True)
    metrics = f"{symbol}-metrics-{day:%Y-%m-%d}"
    (folder / f"{metrics}.zip").write_bytes(zipped(f"{metrics}.csv", metrics_csv(day, symbol=symbol)))
    return root
