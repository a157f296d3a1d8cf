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

* three venues (issue 13): the same Binance latency run while local fake Bybit and OKX servers (in the same
  server process) push at the same time, ``VENUE_RATE`` messages a second each (Bybit two liquidations a
  message, OKX one), across the recording's symbols; one ``LiquidationStream`` per venue feeds the one heatmap.
  Bybit and OKX samples are stamped by the server (their parsers drop unknown fields) and matched by
  ``(venue, trade time)``. The figure is the p99 of every venue's samples, beside Binance's alone.

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
from functools import partial
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import orjson
import websocket

ROOT = Path(__file__).resolve().parent.parent
WIRE = ROOT / "data" / "binance" / "forceorder_wire.jsonl"

from live_heatmap import LiveLiquidationHeatmap  # noqa: E402
from live_heatmap.common.instruments import Instrument, Instruments  # noqa: E402
from live_heatmap.stream.stream import LiquidationStream  # noqa: E402
from live_heatmap.venue import Venue  # noqa: E402
from live_heatmap.wire.events import LiquidationEvent  # noqa: E402

THROUGHPUT_PASSES = 12  # 12 x 4,986 = 59,832 frames
BINANCE_PEAK_RATE = 400.0
"""Frames a second on ``!forceOrder@arr`` at most: one event a second per symbol, about 400 symbols."""
LATENCY_RATE = 10 * BINANCE_PEAK_RATE
LATENCY_SECONDS = 5.0
SAMPLE_EVERY = 10
TARGET_THROUGHPUT = 15_000.0
TARGET_P99_MS = 5.0
CLOCK_MS = 2_000_000_000_000
VENUE_RATE = 400.0
"""Messages a second from each of the fake Bybit and OKX servers during the three-venue run."""
VENUE_BASE_MS = CLOCK_MS - 600_000
"""Bybit/OKX trade times: ``VENUE_BASE_MS + 2 * i + k`` for message ``i``, element ``k``."""


def _usdt_symbols() -> list[str]:
    """The recording's USDT symbols (the ones with an OKX-style ``<BASE>-USDT-SWAP`` twin)."""
    ids = {orjson.loads(line)["o"]["s"] for line in WIRE.read_bytes().splitlines()}
    return sorted(s for s in ids if s.endswith("USDT") and s[:-4].isascii() and s[:-4].isalnum())


def _okx_instruments(symbols: list[str]) -> Instruments:
    return Instruments.of(Venue.OKX, CLOCK_MS, [Instrument(Venue.OKX, f"{s[:-4]}-USDT-SWAP", f"{s[:-4]}/USDT:USDT",
                                                           s, 1.0) for s in symbols])


def _server(pipe: Pipe) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.binance import FakeBinance
    from fakes.bybit.ws_server import FakeBybit
    from fakes.okx.ws_server import FakeOkx

    fake = FakeBinance(ping_interval=None, max_incoming_per_second=1000).start()
    bybit, okx = FakeBybit().start(), FakeOkx().start()
    pipe.send((fake.market_url, bybit.url, okx.url))
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
        elif command == "wait_venues":
            pipe.send(okx.wait_for_subscription("liquidation-orders:SWAP", 10.0) and
                      bybit.wait_for(partial(_subscribed_at_least, bybit, args[0]), 30.0))
        elif command == "paced3":  # the three venues at once, each on its own server's loop
            symbols = _usdt_symbols()
            futures = [fake._thread.submit(_paced(fake, _paced_payloads(args[0]), args[1])),
                       bybit._thread.submit(_paced_venue(bybit, "bybit", symbols, args[2], args[3])),
                       okx._thread.submit(_paced_venue(okx, "okx", symbols, args[2], args[3]))]
            pipe.send([f.result(120.0) for f in futures])
        elif command == "stop":
            bybit.stop()
            okx.stop()
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


def _subscribed_at_least(fake: Any, topics: int) -> bool:
    return sum(len(c.subscriptions) for c in fake.open_connections()) >= topics


async def _paced_venue(fake: Any, venue: str, symbols: list[str], count: int,
                       rate: float) -> tuple[float, dict[tuple[str, int], int]]:
    """On a fake Bybit or OKX server's loop: message ``i`` at ``start + i / rate``, on symbol ``i`` mod the list;
    every ``SAMPLE_EVERY``-th stamped (the wall time as it is published, by ``(venue, trade time)``). Returns
    the rate achieved and the stamps."""
    loop = asyncio.get_running_loop()
    stamps: dict[tuple[str, int], int] = {}
    start = loop.time()
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        symbol, t = symbols[i % len(symbols)], VENUE_BASE_MS + 2 * i
        if i % SAMPLE_EVERY == 0:
            stamps[(venue, t)] = time.time_ns()
        if venue == "bybit":
            fake.publish(symbol, [{"T": t + k, "s": symbol, "S": "Buy" if k else "Sell", "v": "0.5",
                                   "p": f"{100 + k}.5"} for k in range(2)])
        else:
            fake.publish([{"instId": f"{symbol[:-4]}-USDT-SWAP", "details": [
                {"bkLoss": "0", "bkPx": "100.7", "ccy": "", "posSide": "long", "side": "sell", "sz": "3",
                 "ts": str(t)}]}])
    return count / (loop.time() - start), stamps


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
        self.arrivals: dict[tuple[str, int], int] = {}
        """Bybit/OKX samples: when ``get_clusters`` showed them (wall ns), by ``(venue, trade time)``."""

    def ingest(self, frame: dict[str, Any] | LiquidationEvent) -> bool:
        if type(frame) is LiquidationEvent:
            accepted = self.heatmap.ingest(frame)
            if accepted and (frame.trade_time - VENUE_BASE_MS) % (2 * SAMPLE_EVERY) == 0:
                self.heatmap.get_clusters(frame.symbol)
                self.arrivals[(str(frame.exchange), frame.trade_time)] = time.time_ns()
            return accepted
        assert isinstance(frame, dict)
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


def bench_three_venues(pipe: Pipe, urls: tuple[str, str, str], paced: int) -> dict[str, Any]:
    """Binance's latency run with Bybit and OKX pushing at the same time; one stream per venue, one heatmap."""
    heatmap = LiveLiquidationHeatmap(update_interval=1e-6, min_cluster_size=1, clock=lambda: CLOCK_MS)
    sink = _TimedSink(heatmap)
    symbols = _usdt_symbols()
    fast_subscribe = {"max_messages_per_second": 50.0}  # the fake Bybit takes ~45 subscribe requests at once
    streams = [LiquidationStream(sink, "all", ws_url=urls[0]),
               LiquidationStream(sink, symbols, venue=Venue.BYBIT, ws_url=urls[1], **fast_subscribe),
               LiquidationStream(sink, [f"{s[:-4]}/USDT:USDT" for s in symbols], venue=Venue.OKX,
                                 instruments=_okx_instruments(symbols), ws_url=urls[2])]
    for stream in streams:
        stream.start()
    try:
        assert _wait(pipe, ("wait_subscription", "!forceOrder@arr"))
        assert _wait(pipe, ("wait_venues", len(symbols)))
        time.sleep(0.3)
        venue_count = int(VENUE_RATE * LATENCY_SECONDS)
        (binance_rate, (bybit_rate, bybit_stamps), (okx_rate, okx_stamps)) = _wait(
            pipe, ("paced3", paced, LATENCY_RATE, venue_count, VENUE_RATE))
        time.sleep(0.3)
        by_venue: dict[str, list[float]] = {"binance": list(sink.latencies_ms), "bybit": [], "okx": []}
        for key, sent in (bybit_stamps | okx_stamps).items():
            if key in sink.arrivals:
                by_venue[key[0]].append((sink.arrivals[key] - sent) / 1e6)
        return {"latencies": by_venue, "rates": (binance_rate, bybit_rate, okx_rate),
                "lost": len(bybit_stamps) + len(okx_stamps) - len(by_venue["bybit"]) - len(by_venue["okx"]),
                "reconnects": sum(s.status().reconnects for s in streams),
                "rejected": {str(s.venue): dict(s.status().rejected) for s in streams}}
    finally:
        for stream in streams:
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
        urls = parent.recv()
        url = urls[0]
        ours_tp, ours_lat, send_rate = bench_project(parent, url, frames, count)
        three = bench_three_venues(parent, urls, count)
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
    every = [v for lat in three["latencies"].values() for v in lat]
    print(f"three venues at once (Binance {three['rates'][0]:,.0f} frames/s, Bybit {three['rates'][1]:,.0f} and OKX "
          f"{three['rates'][2]:,.0f} messages/s; Bybit 2 liquidations a message):")
    for name, lat in (*three["latencies"].items(), ("all three", every)):
        print(f"  {name:32}{'':14}{statistics.median(lat):>11.3f} ms{_percentile(lat, 0.99):>7.3f} ms"
              f"{max(lat):>7.3f} ms  (n={len(lat)})")
    print(f"  samples lost: {three['lost']}; reconnects: {three['reconnects']}; rejects: {three['rejected']}")
    ok_three = _percentile(every, 0.99) < TARGET_P99_MS and three["lost"] == 0
    ok_tp, ok_lat = ours_tp >= TARGET_THROUGHPUT, _percentile(ours_lat, 0.99) < TARGET_P99_MS
    print(f"latency: {count:,} frames at {LATENCY_RATE:,.0f} frames/s (10x Binance's all-market peak; sent at "
          f"{send_rate:,.0f}/s), every {SAMPLE_EVERY}th timed")
    print(f"targets: >= {TARGET_THROUGHPUT:,.0f} frames/s {'PASS' if ok_tp else 'FAIL'}; "
          f"p99 latency < {TARGET_P99_MS:.0f} ms at {LATENCY_RATE:,.0f} frames/s (n={len(ours_lat)}) "
          f"{'PASS' if ok_lat else 'FAIL'}; with three venues p99 < {TARGET_P99_MS:.0f} ms "
          f"{'PASS' if ok_three else 'FAIL'}")
    print("(ours parses, validates, dedupes and stores each event and, for latency, rebuilds the clusters;"
          " the plain loop only decodes JSON)")
    return 0 if ok_tp and ok_lat and ok_three else 1


if __name__ == "__main__":
    raise SystemExit(main())
