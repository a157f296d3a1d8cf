"""History backtest benchmark (issue 14): a year of 5-minute bars of one symbol traded on estimated levels.

Run: ``make bench-history-backtest`` (= ``.venv/bin/python benchmarks/bench_history_backtest.py``; ``--days N``,
default 365; ``--repeat N``, default 3). It writes an archive-shaped year into a temporary folder (what
``fetch-history`` keeps: one zip a day of ``klines``, ``markPriceKlines`` and ``metrics``; a seeded random walk of
the price, +-0.15 % a bar, and of the open interest; the mark klines repeat the trade range; not timed), then times
what ``liquidation-hunter backtest --history DIR --symbol BTCUSDT`` does:

* reading the zips into model bars and a price series (:func:`load_history_inputs`);
* the replay (:func:`run_backtest`): the estimated layer updated at each bar's close, the hunter (target
  ``estimated``) and the paper broker, the jobs once a bar; the shipped ``config/paper.yaml`` otherwise.

Target (issue 14): a year of one symbol in seconds.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from liquidation_hunter.backtest.history import history_config, load_history_inputs  # noqa: E402
from liquidation_hunter.backtest.runner import run_backtest  # noqa: E402
from liquidation_hunter.config.model import load_config  # noqa: E402
from liquidation_hunter.data.open_interest import METRICS_COLUMNS  # noqa: E402

BAR = 300_000
DAY_BARS = 288
START = datetime(2025, 1, 1, tzinfo=UTC)
KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                "taker_buy_quote_volume,ignore")


def _zip(path: Path, member: str, text: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text)
    path.write_bytes(buffer.getvalue())


def write_archive(root: Path, days: int, seed: int = 14) -> None:
    """``days`` of BTCUSDT 5-minute history in the archive's layout and columns."""
    rng = np.random.default_rng(seed)
    n = days * DAY_BARS
    close = 60_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0015, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0008, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0008, n)))
    volume = rng.uniform(50, 300, n)
    buy = volume * rng.uniform(0.35, 0.65, n)
    oi = 80_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    folders = {kind: root / kind / "BTCUSDT" / "5m" for kind in ("klines", "markPriceKlines")}
    folders["metrics"] = root / "metrics" / "BTCUSDT"
    for folder in folders.values():
        folder.mkdir(parents=True)
    t0 = int(START.timestamp() * 1000)
    for d in range(days):
        day = (START + timedelta(days=d)).strftime("%Y-%m-%d")
        rows, mark, metrics = [KLINE_HEADER], [KLINE_HEADER], [",".join(METRICS_COLUMNS)]
        for i in range(d * DAY_BARS, (d + 1) * DAY_BARS):
            ot = t0 + i * BAR
            rows.append(f"{ot},{open_[i]:.2f},{high[i]:.2f},{low[i]:.2f},{close[i]:.2f},{volume[i]:.3f},"
                        f"{ot + BAR - 1},{volume[i] * close[i]:.2f},100,{buy[i]:.3f},{buy[i] * close[i]:.2f},0")
            mark.append(f"{ot},{open_[i]:.2f},{high[i]:.2f},{low[i]:.2f},{close[i]:.2f},0,"
                        f"{ot + BAR - 1},0,0,0,0,0")
            at = datetime.fromtimestamp(ot / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            metrics.append(f"{at},BTCUSDT,{oi[i]:.4f},{oi[i] * close[i]:.8f},1.5,1.3,1.8,0.95")
        _zip(folders["klines"] / f"BTCUSDT-5m-{day}.zip", f"BTCUSDT-5m-{day}.csv", "\n".join(rows) + "\n")
        _zip(folders["markPriceKlines"] / f"BTCUSDT-5m-{day}.zip", f"BTCUSDT-5m-{day}.csv", "\n".join(mark) + "\n")
        _zip(folders["metrics"] / f"BTCUSDT-metrics-{day}.zip", f"BTCUSDT-metrics-{day}.csv",
             "\n".join(metrics) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = load_config(ROOT / "config" / "paper.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_archive(root, args.days)
        reads, replays, totals = [], [], []
        result = None
        bars = 0
        for _ in range(args.repeat):
            began = time.perf_counter()
            found = load_history_inputs(root, "BTCUSDT")
            read = time.perf_counter()
            bot_config = history_config(config, found.history.symbol, found.interval_ms, with_events=False)
            result = run_backtest(bot_config, [], found.prices, start_ms=found.start_ms, end_ms=found.end_ms,
                                  gap_minutes=12.5, estimated={found.history.symbol: found.history.bars})
            done = time.perf_counter()
            reads.append(read - began)
            replays.append(done - read)
            totals.append(done - began)
            bars = len(found.history.bars)
    assert result is not None
    print(f"{args.days} days, {bars:,} bars of BTCUSDT (5m), config/paper.yaml, target estimated; "
          f"median of {args.repeat}")
    print(f"  read the zips into bars and prices: {statistics.median(reads):.2f} s")
    print(f"  replay (layer + hunter + broker):   {statistics.median(replays):.2f} s "
          f"({result.trades.__len__()} trades, {len(result.signals)} signals recorded, "
          f"jobs run {sum(result.jobs['runs'].values()):,})")
    print(f"  total:                              {statistics.median(totals):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
