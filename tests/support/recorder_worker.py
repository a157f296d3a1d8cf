"""A recorder under load, to be killed with SIGKILL at any instant (``tests/live_heatmap/store/test_recorder.py``).

    python tests/support/recorder_worker.py STORE.sqlite RATE FLUSH_INTERVAL

Feeds a heatmap with a recorder attached ``RATE`` events a second (0: as fast as it can). Event ``i`` is
real event ``i % 4986`` of ``data/binance/forceorder_wire.jsonl`` (its symbol, side, price and quantity)
stamped ``T0 + i`` ms, so every event is new and the store must hold exactly events ``0 .. n-1`` for some
``n``: a batch is written whole or not at all. A restart resumes at the count already stored.

Prints ``start <stored>`` once, then ``flushed <stored> submitted <submitted>`` after every flush (totals
across restarts: ``stored`` is committed, ``submitted`` handed to the heatmap so far), flushed at once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from live_heatmap import LiveLiquidationHeatmap, parse_force_order
from live_heatmap.store.recorder import EventStore, Recorder

WIRE = Path(__file__).resolve().parents[2] / "data" / "binance" / "forceorder_wire.jsonl"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP = 0.005  # seconds between feeding rounds


def main(path: str, rate: float, flush_interval: float) -> None:
    base = [parse_force_order(line) for line in WIRE.read_bytes().splitlines()]
    store = EventStore.open(path)
    done = store.count()
    heatmap = LiveLiquidationHeatmap(clock=lambda: T0)
    recorder = Recorder(store, flush_interval=flush_interval, retention_days=3650, clock=lambda: T0)
    recorder.attach(heatmap).start()
    print(f"start {done}", flush=True)
    submitted, flushes = done, 0
    begun = time.monotonic()
    while True:
        target = done + int((time.monotonic() - begun) * rate) if rate > 0 else submitted + 2_000
        batch = []
        for i in range(submitted, target):
            e = base[i % len(base)]
            batch.append(e._replace(event_time=T0 + i, trade_time=T0 + i))
        heatmap.ingest_many(batch)
        submitted = target
        if recorder.flushes != flushes:
            flushes = recorder.flushes
            print(f"flushed {done + recorder.written} submitted {submitted}", flush=True)
        if rate > 0:
            time.sleep(STEP)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
