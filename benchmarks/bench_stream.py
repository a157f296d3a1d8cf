"""Stream benchmark: local fake Binance server -> heatmap, against a plain websocket-client + json loop.

Run: ``make bench-stream`` (or ``.venv/bin/python benchmarks/bench_stream.py``).

The fake server (``tests/fakes/binance``) runs in a separate process, so it does
not share the client's interpreter lock, and plays real recorded frames:

* throughput: the 4,986 recorded frames, repeated with their times shifted so
  that none is a duplicate, sent as fast as the server can on one connection;
  the figure is frames ingested per second on the client;
* latency: frames sent for ``LATENCY_SECONDS`` at 10x Binance's peak all-market
  rate (``LATENCY_RATE``, 4,000 frames/s: the all-market stream sends at most one
  event a second per symbol, about 400 symbols), paced on the fake's event
  loop; every ``SAMPLE_EVERY``-th is stamped with the wall time as the server
  publishes it. The figure is the time from that stamp until ``get_clusters``
  (``update_interval`` tiny, so it rebuilds) returns a set that includes the
  event. The other frames are ingested as they come, so the samples queue
  behind them as a real frame would.

The reference is the plain client one would write first: ``websocket-client``'s
``recv()`` and the standard ``json`` module, appending to a deque.

The stream feeds the heatmap through a timing sink (:class:`_TimedSink`, the
``Sink`` protocol the heatmap satisfies), so what is measured is the product's
path, with nothing overridden.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import orjson
import websocket

ROOT = Path(__file__).resolve().parent.parent
WIRE = ROOT / "data" / "binance" / "forceorder_wire.jsonl"

from live_heatmap import LiveLiquidationHeatmap  # noqa: E402
from live_heatmap.stream.stream import LiquidationStream  # noqa: E402

THROUGHPUT_PASSES = 12  # 12 x 4,986 = 59,832 frames
BINANCE_PEAK_RATE = 400.0
"""Frames a second on ``!forceOrder@arr`` at most: one event a second per symbol, about 400 symbols."""
LATENCY_RATE = 10 * BINANCE_PEAK_RATE
LATENCY_SECONDS = 5.0
SAMPLE_EVERY = 10
TARGET_THROUGHPUT = 15_000.0
TARGET_P99_MS = 5.0
CLOCK_MS = 2_000_000_000_000


def _server(pipe: Pipe) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.binance import FakeBinance

    fake = FakeBinance(ping_interval=None, max_incoming_per_second=1000).start()
    pipe.send(fake.market_url)
    while True:
        command, *args = pipe.recv()
        if command == "wait_subscription":
            pipe.send(fake.wait_for_subscription(args[0], 10.0))
        elif command == "blast":
            handle = fake.replay(args[0], 0, thin=False)
            handle.wait(120.0)
            pipe.send(len(handle.sent))
        elif command == "paced":  # built here: the client's heap holds nothing the bench made (its GC pauses)
            pipe.send(fake._thread.submit(_paced(fake, _paced_payloads(args[0]), args[1])).result(120.0))
        elif command == "stop":
            fake.stop()
            pipe.send(True)
            return


async def _paced(fake: Any, payloads: list[dict[str, Any]], rate: float) -> float:
    """On the fake's event loop (its private ``_engine``: the fake has no public way to stamp a frame as it
    leaves): frame ``i`` published at ``start + i / rate``, the sampled ones stamped with the wall time then.
    Returns the rate achieved."""
    from fakes.binance.replay import replay_item

    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, payload in enumerate(payloads):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if "bench_ns" in payload:
            payload["bench_ns"] = time.time_ns()
        fake._engine.publish_force_order(replay_item(payload))
    return len(payloads) / (loop.time() - start)


def _paced_payloads(count: int) -> list[dict[str, Any]]:
    """``count`` distinct events traded within the heatmap's horizon of ``CLOCK_MS``; every
    ``SAMPLE_EVERY``-th marked for a stamp."""
    recorded = [orjson.loads(line) for line in WIRE.read_bytes().splitlines()]
    return [{**p, "o": {**p["o"], "T": CLOCK_MS - 600_000 + i}, **({"bench_ns": 0} if i % SAMPLE_EVERY == 0 else {})}
            for i, p in ((i, recorded[i % len(recorded)]) for i in range(count))]


def _frames(passes: int) -> list[bytes]:
    base = [orjson.loads(line) for line in WIRE.read_bytes().splitlines()]
    out = []
    for k in range(passes):
        for payload in base:
            shifted = {**payload, "E": payload["E"] + k * 10_000_000_000,
                       "o": {**payload["o"], "T": payload["o"]["T"] + k * 10_000_000_000}}
            out.append(orjson.dumps(shifted))
    return out


def _wait(pipe: Pipe, command: tuple[Any, ...], timeout: float = 180.0) -> Any:
    pipe.send(command)
    if not pipe.poll(timeout):
        raise TimeoutError(command[0])
    return pipe.recv()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _TimedSink:
    """The heatmap as the stream's sink, noting when ``get_clusters`` first shows each sampled frame."""

    def __init__(self, heatmap: LiveLiquidationHeatmap) -> None:
        self.heatmap = heatmap
        self.latencies_ms: list[float] = []

    def ingest(self, frame: dict[str, Any]) -> bool:
        stamp = frame.pop("bench_ns", None)
        accepted = self.heatmap.ingest(frame)
        if stamp is not None and accepted:
            self.heatmap.get_clusters(frame["o"]["s"])  # visible: this read rebuilds, with the event in
            self.latencies_ms.append((time.time_ns() - stamp) / 1e6)
        return accepted

    def record_reject(self, reason: str) -> None:
        self.heatmap.record_reject(reason)

    def update_price(self, symbol: str, price: float, timestamp_ms: int | None = None) -> None:
        self.heatmap.update_price(symbol, price, timestamp_ms)

    def track(self, symbols: Iterable[str]) -> None:
        self.heatmap.track(symbols)


def bench_project(pipe: Pipe, url: str, frames: list[bytes], paced: int) -> tuple[float, list[float], float]:
    heatmap = LiveLiquidationHeatmap(update_interval=1e-6, min_cluster_size=1, clock=lambda: CLOCK_MS)
    sink = _TimedSink(heatmap)
    stream = LiquidationStream(sink, "all", ws_url=url).start()
    try:
        assert _wait(pipe, ("wait_subscription", "!forceOrder@arr"))
        time.sleep(0.3)
        start = time.perf_counter()
        sent = _wait(pipe, ("blast", frames))
        while heatmap.status().accepted < sent and time.perf_counter() - start < 120:
            time.sleep(0.001)
        throughput = heatmap.status().accepted / (time.perf_counter() - start)
        send_rate = _wait(pipe, ("paced", paced, LATENCY_RATE))
        time.sleep(0.2)
        return throughput, sink.latencies_ms, send_rate
    finally:
        stream.stop()


def bench_plain(pipe: Pipe, url: str, frames: list[bytes], paced: int) -> tuple[float, list[float]]:
    ws = websocket.create_connection(url + "/stream")
    ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["!forceOrder@arr"], "id": 1}))
    ws.recv()
    received: deque[dict[str, Any]] = deque(maxlen=10_000)
    latencies: list[float] = []
    count = [0]
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                message = json.loads(ws.recv())
            except (websocket.WebSocketException, OSError, ValueError):
                return
            data = message["data"]
            received.append(data)
            count[0] += 1
            if "bench_ns" in data:
                latencies.append((time.time_ns() - data["bench_ns"]) / 1e6)

    reader = threading.Thread(target=loop, daemon=True)
    reader.start()
    time.sleep(0.3)
    start = time.perf_counter()
    sent = _wait(pipe, ("blast", frames))
    while count[0] < sent and time.perf_counter() - start < 120:
        time.sleep(0.001)
    throughput = count[0] / (time.perf_counter() - start)
    _wait(pipe, ("paced", paced, LATENCY_RATE))
    time.sleep(0.2)
    stop.set()
    ws.close()
    reader.join(2.0)
    return throughput, latencies


def main() -> int:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    frames = _frames(THROUGHPUT_PASSES)
    count = int(LATENCY_RATE * LATENCY_SECONDS)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_server, args=(child,), daemon=True)
    server.start()
    try:
        url = parent.recv()
        ours_tp, ours_lat, send_rate = bench_project(parent, url, frames, count)
        plain_tp, plain_lat = bench_plain(parent, url, frames, count)
        _wait(parent, ("stop",))
    finally:
        server.join(5)
        if server.is_alive():
            server.kill()
    print(f"python {sys.version.split()[0]}; server in its own process; {len(frames):,} frames, one connection")
    print(f"{'':34}{'throughput':>14}{'latency p50':>14}{'p99':>10}{'max':>10}")
    for name, tp, lat in (("liquidation-hunter stream", ours_tp, ours_lat),
                          ("plain websocket-client + json", plain_tp, plain_lat)):
        print(f"{name:34}{tp:>10,.0f} f/s{statistics.median(lat):>11.3f} ms{_percentile(lat, 0.99):>7.3f} ms"
              f"{max(lat):>7.3f} ms")
    ok_tp, ok_lat = ours_tp >= TARGET_THROUGHPUT, _percentile(ours_lat, 0.99) < TARGET_P99_MS
    print(f"latency: {count:,} frames at {LATENCY_RATE:,.0f} frames/s (10x Binance's all-market peak; sent at "
          f"{send_rate:,.0f}/s), every {SAMPLE_EVERY}th timed")
    print(f"targets: >= {TARGET_THROUGHPUT:,.0f} frames/s {'PASS' if ok_tp else 'FAIL'}; "
          f"p99 latency < {TARGET_P99_MS:.0f} ms at {LATENCY_RATE:,.0f} frames/s (n={len(ours_lat)}) "
          f"{'PASS' if ok_lat else 'FAIL'}")
    print("(ours parses, validates, dedupes and stores each event and, for latency, rebuilds the clusters;"
          " the plain loop only decodes JSON)")
    return 0 if ok_tp and ok_lat else 1


if __name__ == "__main__":
    raise SystemExit(main())
