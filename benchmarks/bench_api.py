"""API benchmark: latency of the clusters and grid endpoints, and requests per second, while the heatmap ingests.

Run: ``.venv/bin/python benchmarks/bench_api.py`` (``--quick`` for a shorter run, ``--ingest loop`` for the
worst case below).

Set-up, in this process: the heatmap of the recorded 2025-01-27 session (``data/binance/forceorder_wire.jsonl``)
on a clock that runs from 17:20 UTC, with BTCUSDT filled to 10,000 events (its real recorded liquidations
repeated with their times spread over the 2 hours before, prices as recorded); the API server on 127.0.0.1
(port 0) over it; and an ingest thread that takes the 4,986 recorded frames, again and again, stamped with the
clock's time, as fast as they come, into ``heatmap.ingest`` as the stream thread does. The heatmap rebuilds
clusters every ``update_interval`` (5 s), so some requests pay a rebuild.

``--ingest socket`` (the default): the frames come over a local socket from a feeder process, as fast as it can
send them, framed as WebSocket frames are (a 2-byte header, a 2-byte length, the payload) and read the way
websocket-client reads them (one ``recv`` for each), so the ingest thread waits on its socket between reads,
as the live stream thread does. ``--ingest loop``: the thread restamps and ingests frames from memory and never
waits, holding the interpreter lock but for the interpreter's forced switches (every 5 ms): a worst case no
socket reader produces.

The clients run in a separate process (they are other programs, and must not share the server's interpreter
lock), over keep-alive ``http.client`` connections:

* latency: one connection, requests one after the other: ``/api/v1/clusters/BTCUSDT`` and
  ``/api/v1/grid/BTCUSDT?window=2h``; p50 and p99 of the time from sending to the last byte;
* throughput: 4 threads, one connection each, ``/api/v1/clusters/BTCUSDT`` for a few seconds.

The ingest rate achieved meanwhile is printed too, against the same thread alone.
"""

from __future__ import annotations

import os

# Small matrix products (the grid's decay matrix) are slower across BLAS threads on a 2-core machine, and
# the threads compete with the server's; the bot should run with this too (see the report).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import http.client
import multiprocessing as mp
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WIRE = ROOT / "data" / "binance" / "forceorder_wire.jsonl"
PRICES = ROOT / "data" / "binance" / "aggtrades_large.csv"
AT = 1_737_998_400_000  # 2025-01-27T17:20:00Z
TARGET_EVENTS = 10_000
CLUSTERS = "/api/v1/clusters/BTCUSDT"
GRID = "/api/v1/grid/BTCUSDT?window=2h"


# ----------------------------------------------------------------------------------------------- clients


def _get(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
    return len(body)


def _latency(port: int, path: str, n: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(20):
        _get(conn, path)  # warm-up
    times = []
    size = 0
    for _ in range(n):
        t0 = time.perf_counter()
        size = _get(conn, path)
        times.append((time.perf_counter() - t0) * 1000)
    conn.close()
    times.sort()
    return {"n": n, "p50_ms": statistics.median(times), "p99_ms": times[int(0.99 * (n - 1))], "max_ms": times[-1],
            "bytes": size}


def _throughput(port: int, path: str, threads: int, seconds: float) -> dict[str, float]:
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def work(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.perf_counter() < stop:
            _get(conn, path)
            counts[i] += 1
        conn.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    return {"threads": threads, "requests": sum(counts), "seconds": elapsed, "rps": sum(counts) / elapsed}


def _client_main(port: int, quick: bool, out: Any) -> None:
    n = 500 if quick else 3000
    results = {
        "clusters": _latency(port, CLUSTERS, n),
        "grid": _latency(port, GRID, n // 5),
        "throughput": _throughput(port, CLUSTERS, 4, 3.0 if quick else 8.0),
    }
    out.send(results)
    out.close()


# ----------------------------------------------------------------------------------------------- server side


def _heatmap(clock: Any) -> Any:
    from live_heatmap import LiveLiquidationHeatmap
    from live_heatmap.store.history import load_events

    events = load_events(WIRE, until_ms=AT + 1)
    hm = LiveLiquidationHeatmap(clock=clock)
    hm.ingest_many(events, notify=False)
    btc = [e for e in events if e.symbol == "BTCUSDT"]
    span = 2 * 3_600_000
    extra = []
    for i in range(TARGET_EVENTS - hm.event_count("BTCUSDT")):
        base = btc[i % len(btc)]
        t = AT - span + (i * span) // TARGET_EVENTS + 1
        extra.append(base._replace(trade_time=t, event_time=t))
    hm.ingest_many(extra, notify=False)
    return hm


class Ingest(threading.Thread):
    """Feeds the recorded frames, restamped with the clock's time, as fast as it can."""

    def __init__(self, heatmap: Any, clock: Any) -> None:
        super().__init__(name="ingest", daemon=True)
        self.heatmap, self.clock = heatmap, clock
        self.frames = [orjson.loads(line) for line in WIRE.read_bytes().splitlines() if line.strip()]
        self.count = 0
        self.accepted = 0
        self._halt = threading.Event()

    def run(self) -> None:
        frames, hm, clock = self.frames, self.heatmap, self.clock
        while not self._halt.is_set():
            for frame in frames:
                now = clock()
                frame["E"] = now
                frame["o"]["T"] = now
                if hm.ingest(orjson.dumps(frame)):
                    self.accepted += 1
                self.count += 1
                if self._halt.is_set():
                    return

    def stop(self) -> None:
        self._halt.set()
        self.join(2.0)


def _feeder_main(port: int, t0: float) -> None:
    """Sends the recorded frames, restamped with the benchmark's clock, as fast as the socket takes them."""
    frames = [orjson.loads(line) for line in WIRE.read_bytes().splitlines() if line.strip()]
    with socket.create_connection(("127.0.0.1", port)) as sock:
        try:
            while True:
                chunk = []
                for frame in frames:
                    now = AT + int((time.monotonic() - t0) * 1000)
                    frame["E"] = now
                    frame["o"]["T"] = now
                    payload = orjson.dumps(frame)
                    chunk.append(b"\x81\x7e" + len(payload).to_bytes(2, "big") + payload)
                    if len(chunk) == 16:
                        sock.sendall(b"".join(chunk))
                        chunk = []
                sock.sendall(b"".join(chunk))
        except OSError:
            return  # the benchmark closed its end


class SocketIngest(threading.Thread):
    """Reads WebSocket-framed frames from a feeder process, as websocket-client does (one ``recv`` for the
    header, one for the length, one for the payload), into ``heatmap.ingest``."""

    def __init__(self, heatmap: Any, t0: float) -> None:
        super().__init__(name="ingest", daemon=True)
        self.heatmap = heatmap
        self.count = 0
        self.accepted = 0
        listener = socket.create_server(("127.0.0.1", 0))
        self.feeder = mp.get_context("spawn").Process(target=_feeder_main, args=(listener.getsockname()[1], t0),
                                                      daemon=True)
        self.feeder.start()
        self.sock, _ = listener.accept()
        listener.close()
        self._halt = threading.Event()

    def _exactly(self, n: int) -> bytes:
        parts = []
        while n > 0:
            part = self.sock.recv(min(16384, n))
            if not part:
                raise OSError("feeder gone")
            parts.append(part)
            n -= len(part)
        return b"".join(parts)

    def run(self) -> None:
        hm = self.heatmap
        try:
            while not self._halt.is_set():
                self._exactly(2)
                payload = self._exactly(int.from_bytes(self._exactly(2), "big"))
                if hm.ingest(payload):
                    self.accepted += 1
                self.count += 1
        except OSError:
            return

    def stop(self) -> None:
        self._halt.set()
        self.join(2.0)
        self.sock.close()
        self.feeder.terminate()
        self.feeder.join(2.0)


def main() -> None:
    quick = "--quick" in sys.argv
    from liquidation_hunter.api import ApiServer, ApiSource
    from liquidation_hunter.data.prices import load_prices

    t0 = time.monotonic()

    def clock() -> int:
        return AT + int((time.monotonic() - t0) * 1000)

    heatmap = _heatmap(clock)
    prices = load_prices(PRICES)
    btc_price = prices.price_at("BTCUSDT", AT)
    assert btc_price is not None
    heatmap.update_price("BTCUSDT", btc_price, AT)
    print(f"heatmap: {heatmap.stats()['accepted']} events, BTCUSDT {heatmap.event_count('BTCUSDT')}")

    mode = sys.argv[sys.argv.index("--ingest") + 1] if "--ingest" in sys.argv else "socket"
    ingest: Ingest | SocketIngest = Ingest(heatmap, clock) if mode == "loop" else SocketIngest(heatmap, t0)
    print(f"ingest: {'none' if '--no-ingest' in sys.argv else mode}")
    if "--no-ingest" in sys.argv:
        ingest._halt.set()
    ingest.start()
    time.sleep(1.0)
    before, t_before = ingest.count, time.perf_counter()
    time.sleep(2.0)
    alone_rate = (ingest.count - before) / (time.perf_counter() - t_before)

    server = ApiServer(ApiSource(heatmap, clock=clock, prices=prices), port=0).start()
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    client = ctx.Process(target=_client_main, args=(server.port, quick, send))
    before, t_before = ingest.count, time.perf_counter()
    client.start()
    results = receive.recv()
    client.join()
    during_rate = (ingest.count - before) / (time.perf_counter() - t_before)
    ingest.stop()
    server.stop()

    c, g, tp = results["clusters"], results["grid"], results["throughput"]
    print(f"clusters {CLUSTERS}: p50 {c['p50_ms']:.2f} ms, p99 {c['p99_ms']:.2f} ms, max {c['max_ms']:.1f} ms "
          f"({c['n']} requests, {c['bytes']} bytes)  [target p99 < 5 ms]")
    print(f"grid {GRID}: p50 {g['p50_ms']:.2f} ms, p99 {g['p99_ms']:.2f} ms, max {g['max_ms']:.1f} ms "
          f"({g['n']} requests, {g['bytes']} bytes)  [target p99 < 50 ms]")
    print(f"throughput {CLUSTERS}: {tp['rps']:,.0f} requests/s ({tp['threads']} keep-alive clients, "
          f"{tp['requests']} requests in {tp['seconds']:.1f} s)  [target >= 1,000/s]")
    print(f"ingest meanwhile: {during_rate:,.0f} frames/s (alone: {alone_rate:,.0f} frames/s); "
          f"heatmap rebuilds {heatmap.rebuilds}")


if __name__ == "__main__":
    main()
