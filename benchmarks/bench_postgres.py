"""PostgreSQL event store benchmark: recording, the append method, warm start and retention.

Run: ``make bench-postgres`` (about a minute). It starts its own PostgreSQL 15 (``initdb`` + ``pg_ctl`` in a
temporary folder, as the tests do: ``tests/support/postgres_server.py``) with the server's durable defaults
(``fsync=on``, ``synchronous_commit=on``): a commit is on disk when it returns, as SQLite's ``synchronous=FULL``.
Connections are TCP on 127.0.0.1.

* recording: the 4,986 recorded ``forceOrder`` frames, 20 times over with their times shifted each pass (none a
  duplicate): parsed and ingested one by one into a heatmap with a :class:`~live_heatmap.store.recorder.Recorder`
  attached (one flush a second), into ``postgresql://``, timed until the last event is committed (target >= 20,000
  events/s). The same into a SQLite file for comparison;
* the append method, 20,000 events a transaction: ``COPY`` into a temporary table + ``INSERT ... ON CONFLICT DO
  NOTHING`` (what the store does) against multi-row ``INSERT ... VALUES`` of 1,000 rows and ``executemany`` (one
  row a statement, pipelined by psycopg);
* warm start: the 3-hour horizon (10,800 events) read from a store of N days of one symbol at one event a second;
* retention: one day (86,400 events) of that store deleted by the store's ``prune`` (5,000 rows a transaction, along
  the time index), against dropping one day's partition of a table partitioned by day.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from bench_history import record_frames, shifted_frames  # noqa: E402
from postgres_server import PostgresUnavailable, fresh_database, running_postgres  # noqa: E402

from live_heatmap import LiveLiquidationHeatmap, parse_force_order  # noqa: E402
from live_heatmap.store.recorder import warm_start  # noqa: E402
from live_heatmap.store.stores import open_event_store  # noqa: E402
from live_heatmap.wire.events import LiquidationEvent  # noqa: E402

DAY_MS = 86_400_000
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z: the end of the synthetic days
DAYS = 10
COLUMNS = ("symbol, side, price, quantity, event_time, trade_time, status, fallback, exchange, price_kind, "
           "venue_symbol")


def append_methods(url: str, events: list[LiquidationEvent]) -> dict[str, float]:
    """Events/s of each way to write 20,000-event transactions into the events table (an empty table each)."""
    import psycopg

    batch = 20_000
    rows = [tuple(str(v) if isinstance(v, str) else v for v in e) for e in events]

    def copy_method(store: Any, chunk: list[LiquidationEvent], _rows: list[tuple[Any, ...]]) -> None:
        store.append(chunk)

    def values_method(_store: Any, _chunk: list[LiquidationEvent], part: list[tuple[Any, ...]]) -> None:
        with psycopg.connect(url, autocommit=True) as db, db.transaction(), db.cursor() as cur:
            for i in range(0, len(part), 1000):
                block = part[i:i + 1000]
                marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(block))
                cur.execute(f"INSERT INTO events ({COLUMNS}) VALUES {marks} ON CONFLICT DO NOTHING",
                            [v for row in block for v in row])

    def executemany_method(_store: Any, _chunk: list[LiquidationEvent], part: list[tuple[Any, ...]]) -> None:
        with psycopg.connect(url, autocommit=True) as db, db.transaction(), db.cursor() as cur:
            cur.executemany(f"INSERT INTO events ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                            "ON CONFLICT DO NOTHING", part)

    rates: dict[str, float] = {}
    methods: dict[str, Callable[[Any, list[LiquidationEvent], list[tuple[Any, ...]]], None]] = {
        "COPY + INSERT ON CONFLICT (the store)": copy_method,
        "multi-row INSERT VALUES, 1,000 rows a statement": values_method,
        "executemany (pipelined), one row a statement": executemany_method,
    }
    for name, method in methods.items():
        times = []
        for _ in range(3):
            with open_event_store(url) as store:
                with psycopg.connect(url, autocommit=True) as db:
                    db.execute("TRUNCATE events")
                start = time.perf_counter()
                for i in range(0, len(events), batch):
                    method(store, events[i:i + batch], rows[i:i + batch])
                times.append(time.perf_counter() - start)
                assert store.count() == len(events)
        rates[name] = len(events) / statistics.median(times)
    return rates


FILL = f"""INSERT INTO {{table}} ({COLUMNS})
SELECT 'BTCUSDT', CASE WHEN s % 2 = 0 THEN 'long' ELSE 'short' END, 90000 + (s % 1000), 0.01 + (s % 7) * 0.01,
       {NOW} - s * 1000, {NOW} - s * 1000, 'FILLED', false, 'binance', 'fill_avg', ''
FROM generate_series(1, {DAYS} * 86400) AS s"""


def busy_days(url: str) -> float:
    """``DAYS`` days of one symbol at one event a second into the store's table; seconds it took."""
    import psycopg

    open_event_store(url).close()  # the store's tables and indexes
    with psycopg.connect(url, autocommit=True) as db:  # filled inside the server: how rows came in changes no read
        start = time.perf_counter()
        db.execute(FILL.format(table="events"))
        db.execute("VACUUM ANALYZE events")
        return time.perf_counter() - start


def partitioned(url: str) -> tuple[float, int]:
    """The same rows in a table partitioned by day; (seconds to drop the oldest day, its rows)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE by_day (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                   "PARTITION BY RANGE (trade_time)")
        first = NOW - (DAYS + 1) * DAY_MS
        for d in range(DAYS + 2):
            lo, hi = first + d * DAY_MS, first + (d + 1) * DAY_MS
            db.execute(f"CREATE TABLE by_day_{d} PARTITION OF by_day FOR VALUES FROM ({lo}) TO ({hi})")
        db.execute("CREATE UNIQUE INDEX ON by_day(symbol, trade_time, side, quantity, price, exchange)")
        db.execute("CREATE INDEX ON by_day(trade_time, symbol, side, quantity, price, exchange)")
        db.execute(FILL.format(table="by_day"))
        row = db.execute("SELECT count(*) FROM by_day_1").fetchone()
        start = time.perf_counter()
        db.execute("DROP TABLE by_day_1")
        return time.perf_counter() - start, int(row[0]) if row else 0


def main() -> int:
    try:
        with running_postgres(fsync=True) as server:
            return run(server)
    except PostgresUnavailable as exc:
        print(f"PostgreSQL benchmark skipped: {exc}")
        return 1


def run(server: Any) -> int:
    frames = shifted_frames(20)
    events = [parse_force_order(f) for f in frames]
    print(f"PostgreSQL {server.url()} (fsync on, synchronous_commit on), TCP on 127.0.0.1")

    pg = [record_frames(fresh_database(server), frames)[:2] for _ in range(3)]
    with tempfile.TemporaryDirectory() as folder:
        lite = [record_frames(str(Path(folder) / f"r{k}.sqlite"), frames)[:2] for k in range(3)]
    assert all(stored == len(frames) for _, stored in pg + lite)
    pg_rate = len(frames) / statistics.median(e for e, _ in pg)
    lite_rate = len(frames) / statistics.median(e for e, _ in lite)
    print(f"recording {len(frames):,} real frames (20 passes, re-stamped): parse + ingest + Recorder -> committed")
    print(f"  into PostgreSQL  {pg_rate:>10,.0f} events/s (median of 3)  target >= 20,000: "
          f"{'PASS' if pg_rate >= 20_000 else 'FAIL'}")
    print(f"  into SQLite      {lite_rate:>10,.0f} events/s (median of 3), for comparison")

    print(f"append, 20,000 events a transaction, {len(events):,} events (median of 3):")
    for name, rate in append_methods(fresh_database(server), events).items():
        print(f"  {name:<50} {rate:>10,.0f} events/s")

    url = fresh_database(server)
    filled = busy_days(url)
    with open_event_store(url) as store:
        total = store.count()
        print(f"a store of {DAYS} days of BTCUSDT at one event a second: {total:,} events (filled in {filled:.1f} s)")
        times = []
        for _ in range(5):
            heatmap = LiveLiquidationHeatmap()
            start = time.perf_counter()
            loaded = warm_start(heatmap, store, NOW)
            times.append(time.perf_counter() - start)
        print(f"  warm start (3 h horizon: {loaded:,} events)       {statistics.median(times) * 1000:>8.1f} ms "
              "(median of 5)")
        cutoff = NOW - (DAYS - 1) * DAY_MS  # the oldest day goes
        start = time.perf_counter()
        chunks = 0
        deleted = 0
        while True:
            n = store.prune(cutoff, chunk=5_000, max_chunks=1)
            deleted += n
            chunks += 1
            if n < 5_000:
                break
        spent = time.perf_counter() - start
        print(f"  prune one day ({deleted:,} events), 5,000 a transaction: {spent:.2f} s, "
              f"{deleted / spent:,.0f} events/s, {spent / chunks * 1000:.1f} ms a transaction ({chunks} of them)")
    drop, rows = partitioned(url)
    print(f"  the same day as a partition (by_day, {rows:,} rows): DROP TABLE {drop * 1000:.1f} ms")
    return 0 if pg_rate >= 20_000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
