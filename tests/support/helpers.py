"""Small builders for tests: events from plain numbers, clusters, an HTTP client for the API."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from live_heatmap import LiquidationCluster, LiquidationEvent, LiveLiquidationHeatmap

NOW = 1_737_997_200_000  # 2025-01-27T17:00:00Z
MINUTE = 60_000


class Clock:
    """A clock a test sets by hand (``clock.now += ...``): what the bot's parts take as ``clock``."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def event(price: float, qty: float = 1.0, *, age_min: float = 0.0, side: str = "long",
          symbol: str = "BTCUSDT", now: int = NOW) -> LiquidationEvent:
    t = int(now - age_min * MINUTE)
    return LiquidationEvent(symbol, side, float(price), float(qty), t, t, "FILLED", False)


def heatmap_with(events: Iterable[LiquidationEvent], **params: float) -> LiveLiquidationHeatmap:
    heatmap = LiveLiquidationHeatmap(clock=lambda: NOW, **params)  # type: ignore[arg-type]
    for e in events:
        assert heatmap.ingest(e), e
    return heatmap


def cluster(side: str, level: float, strength: float, price: float = 100.0,
            notional: float = 1e5) -> LiquidationCluster:
    """A cluster as the heatmap would hand it to a rule (five events at ``level``)."""
    return LiquidationCluster(
        cluster_id=f"X-{side}-{level}", symbol="BTCUSDT", side=side, price_level=level, price_low=level,
        price_high=level, liquidation_count=5, total_notional=notional, weighted_notional=notional,
        strength=strength, distance_from_price=abs(level - price) / price * 100, current_price=price,
        first_event_ms=NOW, last_updated=NOW, built_at=NOW)


class Client:
    """One keep-alive connection; ``get`` answers ``(status, headers, body)``."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, headers)

    def json(self, path: str, status: int = 200, headers: dict[str, str] | None = None) -> Any:
        got, head, body = self.get(path, headers)
        assert got == status, (path, got, body[:300])
        assert head["content-type"] == "application/json"
        return orjson.loads(body)

    def close(self) -> None:
        self.conn.close()


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> bool:
    """Poll ``condition`` every 10 ms until it holds (True) or ``timeout`` seconds pass (its last answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())
