"""A consumer process of the feed's tests (issue 17): what a bot on a feed does with its liquidations, alone.

``python feed_worker.py URL BOOKS STORE EXPECTED [FILL_FROM]``: a heatmap warm-started from the event store STORE,
a recorder into it, the books BOOKS holding the cursors, and a :class:`FeedConsumer` reading ``liq:binance`` and
``liq:bybit`` from the start (or the cursors) into the heatmap; once STORE holds EXPECTED events it prints one JSON
line (the heatmap's events, the store's, copies dropped, gaps) and exits 0. A test may kill it (-9) anywhere.
"""

from __future__ import annotations

import json
import sys
import time

from liquidation_hunter.feed.client import connect
from liquidation_hunter.feed.consumer import FeedConsumer
from liquidation_hunter.trading.books import Books
from live_heatmap import HeatmapConfig, LiveLiquidationHeatmap, system_clock_ms
from live_heatmap.store.recorder import EventStore, Recorder, warm_start

EXCHANGES = ("binance", "bybit")


def main(url: str, books_path: str, store_path: str, expected: int, fill_from: str | None = None) -> int:
    heatmap = LiveLiquidationHeatmap(config=HeatmapConfig(max_events=1_000_000, max_age_minutes=24 * 60))
    store = EventStore.open(store_path)
    warmed = warm_start(heatmap, store, system_clock_ms())
    recorder = Recorder(store, flush_interval=0.2).attach(heatmap).start()
    books = Books.open(books_path, mode="paper", starting_wallet=1000.0)
    consumer = FeedConsumer(connect(url), EXCHANGES, lambda events: heatmap.ingest_many(list(events)), books,
                            start_ms=0, url=url, block_ms=200, fill_from=fill_from)
    consumer.durable = recorder.flushed
    consumer.start()
    print(json.dumps({"started": True, "warmed": warmed}), flush=True)
    deadline = time.monotonic() + 120
    while store.count() < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    consumer.stop()
    recorder.stop()
    heatmap_events = sum(heatmap.event_count(s) for s in heatmap.symbols())
    print(json.dumps({"heatmap": heatmap_events, "stored": store.count(), "duplicates": consumer.duplicates,
                      "feed": consumer.feed_status()}), flush=True)
    store.close()
    books.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None))
