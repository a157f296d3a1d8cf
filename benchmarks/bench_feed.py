"""Feed benchmark (issue 17): publish-to-store latency over Redis Streams on loopback.

Run: ``.venv/bin/python benchmarks/bench_feed.py`` (= ``make bench-feed``; about 30 s; needs ``redis-server``).
A ``redis-server`` on a free port (AOF everysec, as the tests run it), a :class:`FeedPublisher` in this process
submitting ``RATE`` events a second for ``SECONDS`` seconds (each event's trade time is its submit time, ms), and
one consumer process (:class:`FeedConsumer` reading ``XREAD BLOCK`` into an event store on disk, the cursor in
books on disk, as a bot on a feed does). The consumer records, per event, when the store's commit returned: the
latency is that minus the submit time (the publisher's queue, Redis, the read, the SQLite commit). Printed: p50,
p99, max, and the same up to the read (before the store's commit: what Redis and the two threads add).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from liquidation_hunter.feed.client import connect  # noqa: E402
from liquidation_hunter.feed.consumer import FeedConsumer  # noqa: E402
from liquidation_hunter.feed.publisher import FeedPublisher  # noqa: E402
from liquidation_hunter.trading.books import Books  # noqa: E402
from live_heatmap import LiquidationEvent, Side, system_clock_ms  # noqa: E402
from live_heatmap.store.recorder import EventStore  # noqa: E402

RATE = 2_000
"""Events a second: a busy day's all-market Binance rate is far lower (tens a second)."""
SECONDS = 10
BATCH_EVERY_S = 0.01


def consume(url: str, folder: str, expected: int) -> None:
    """The consumer process: every event stored, its latency noted; prints the latencies as JSON."""
    store = EventStore.open(Path(folder) / "events.sqlite")
    latencies: list[int] = []
    read: list[int] = []

    def handler(events: object) -> None:
        batch = list(events)  # type: ignore[call-overload]
        got = system_clock_ms()
        store.append(batch)
        done = system_clock_ms()
        read.extend(got - e.trade_time for e in batch)
        latencies.extend(done - e.trade_time for e in batch)

    books = Books.open(Path(folder) / "books.sqlite", starting_wallet=1.0)
    consumer = FeedConsumer(connect(url), ("binance",), handler, books, start_ms=0, block_ms=100).start()
    deadline = time.monotonic() + SECONDS * 5 + 30
    while len(latencies) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    consumer.stop()
    print(json.dumps([latencies, read]))


def percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not installed: apt-get install redis-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder,
                                   "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
                                  stdout=subprocess.DEVNULL)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            client = connect(url)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except Exception:  # noqa: BLE001 - not listening yet
                    time.sleep(0.05)
            total = RATE * SECONDS
            reader = subprocess.Popen([sys.executable, __file__, "--consume", url, folder, str(total)],
                                      stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)  # the consumer connected and blocking
            publisher = FeedPublisher(client).start()
            per_batch = int(RATE * BATCH_EVERY_S)
            started = time.monotonic()
            for i in range(0, total, per_batch):
                now = system_clock_ms()
                publisher.submit([LiquidationEvent("BTCUSDT", Side.LONG, 100.0, 0.001 * (1 + i + k), now, now)
                                  for k in range(per_batch)])  # the trade time: the submit time
                time.sleep(max(0.0, started + (i + per_batch) / RATE - time.monotonic()))
            publisher.stop(timeout=10)
            out, _ = reader.communicate(timeout=120)
            latencies, read = json.loads(out.strip().splitlines()[-1])  # after the consumer's log lines
        finally:
            server.terminate()
            server.wait(10)
    print(f"feed: {len(latencies):,} events at {RATE:,}/s for {SECONDS} s, publish-to-store latency (ms): "
          f"p50 {percentile(latencies, 0.5)}, p99 {percentile(latencies, 0.99)}, max {max(latencies)}; publish-to-read "
          f"(before the store's commit): p50 {percentile(read, 0.5)}, p99 {percentile(read, 0.99)}, max {max(read)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--consume":
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
