"""A recorded market session played into the fake Binance WebSocket server, fast and re-timed to now.

The liquidations come from ``data/binance/forceorder_wire.jsonl`` and the prices from the large aggregated
trades of ``data/binance/aggtrades_large.csv`` (the recording has no mark-price series): each trade's price
is published as the symbol's mark price, at most every ``mark_every_ms`` of replay time per symbol. Times
are compressed by ``speed`` and moved so the session starts now: a bot on the wall clock sees a live market.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
from fakes.binance import FakeBinance

DATA = Path(__file__).resolve().parents[2] / "data" / "binance"


@dataclass(frozen=True, slots=True)
class Tick:
    at: int
    """Recorded time, epoch ms."""
    symbol: str
    price: float | None = None
    """A trade price (published as the mark price), or None for a liquidation."""
    payload: dict[str, object] | None = None


def session(symbols: Iterable[str], start_ms: int, end_ms: int) -> list[Tick]:
    """The liquidations and trade prices of ``symbols`` between two recorded times, in time order."""
    wanted = set(symbols)
    ticks: list[Tick] = []
    for line in (DATA / "forceorder_wire.jsonl").read_bytes().splitlines():
        payload = orjson.loads(line)
        order = payload["o"]
        if order["s"] in wanted and start_ms <= order["T"] <= end_ms:
            ticks.append(Tick(order["T"], order["s"], payload=payload))
    with (DATA / "aggtrades_large.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            t = int(row["T"])
            if row["s"] in wanted and start_ms <= t <= end_ms:
                ticks.append(Tick(t, row["s"], price=float(row["p"])))
    ticks.sort(key=lambda tick: (tick.at, tick.price is None))
    return ticks


class MarketReplay:
    """Plays a :func:`session` into ``server`` on a thread. ``published`` counts the liquidations sent."""

    def __init__(self, server: FakeBinance, ticks: list[Tick], *, speed: float, mark_every_ms: int = 1000) -> None:
        self.server = server
        self.ticks = ticks
        self.speed = speed
        self.mark_every_ms = mark_every_ms
        self.published = 0
        self.marks = 0
        self.last_price: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="market-replay", daemon=True)

    def start(self) -> MarketReplay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return self.done

    def _play(self) -> None:
        first = self.ticks[0].at
        wall0 = time.time()
        last_mark: dict[str, int] = {}
        for tick in self.ticks:
            due = wall0 + (tick.at - first) / 1000.0 / self.speed
            delay = due - time.time()
            if delay > 0 and self._stop.wait(delay):
                return
            now_ms = int(time.time() * 1000)
            if tick.payload is not None:
                payload = dict(tick.payload)
                order = dict(payload["o"])  # type: ignore[arg-type]
                order["T"] = now_ms
                payload["E"], payload["o"] = now_ms, order
                self.server.publish_force_order(payload)
                self.published += 1
            elif tick.price is not None:
                self.last_price[tick.symbol] = tick.price
                if tick.at - last_mark.get(tick.symbol, 0) >= self.mark_every_ms:
                    last_mark[tick.symbol] = tick.at
                    self.server.publish_mark_price(tick.symbol, tick.price, now_ms)
                    self.marks += 1
