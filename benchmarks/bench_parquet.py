"""Parquet benchmark (issue 17): the history exported as a dataset through DuckDB, and read back.

Run: ``.venv/bin/python benchmarks/bench_parquet.py`` (= ``make bench-parquet``; about a minute). The input is the
real recording ``data/binance/forceorder_wire.jsonl`` (4,986 liquidations), replicated over 30 days with each
day's times shifted by a day (so none is a duplicate), recorded into an event store on disk. Measured:

* the first export of the store into an empty dataset (``export_parquet``: one file per exchange, symbol and day);
* the second export of the same range (nothing written: every partition already holds its events);
* ``load_events`` of the whole dataset and of one symbol's day, beside the same reads from the SQLite store.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from live_heatmap.store.history import load_events  # noqa: E402
from live_heatmap.store.parquet import export_parquet  # noqa: E402
from live_heatmap.store.stores import open_event_store  # noqa: E402

WIRE = ROOT / "data" / "binance" / "forceorder_wire.jsonl"
DAY_MS = 86_400_000
DAYS = 30


def timed(what: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = what()
    return result, time.perf_counter() - start


def main() -> None:
    base = load_events(WIRE)
    events = [e._replace(event_time=e.event_time + d * DAY_MS, trade_time=e.trade_time + d * DAY_MS)
              for d in range(DAYS) for e in base]
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as folder:
        db, out = Path(folder) / "events.sqlite", Path(folder) / "history"
        with open_event_store(db) as store:
            store.append(events)
        stored = load_events(db)
        first, first_s = timed(lambda: export_parquet(stored, out))
        again, again_s = timed(lambda: export_parquet(load_events(db), out))
        files = sum(1 for _ in out.rglob("*.parquet"))
        size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
        print(f"{len(events):,} events ({DAYS} days of the recording), {files:,} partition files, "
              f"{size / 1e6:.1f} MB (the store: {db.stat().st_size / 1e6:.1f} MB)")
        print(f"  export, first                      {first_s:>8.2f} s   ({first.new / first_s:,.0f} events/s)")
        print(f"  export, again (0 new: {again.new})          {again_s:>8.2f} s   ({again.unchanged:,} partitions "
              "unchanged)")
        day = (base[0].trade_time // DAY_MS + DAYS // 2) * DAY_MS
        for name, source in (("parquet", out), ("sqlite", db)):
            whole, whole_s = timed(lambda source=source: load_events(source))
            one, one_s = timed(lambda source=source: load_events(source, symbols=["BTCUSDT"], since_ms=day,
                                                                  until_ms=day + DAY_MS))
            print(f"  load_events({name}), everything     {whole_s:>8.2f} s   ({len(whole) / whole_s:,.0f} events/s)")
            print(f"  load_events({name}), BTCUSDT 1 day  {one_s * 1000:>8.1f} ms  ({len(one):,} events)")


if __name__ == "__main__":
    main()
