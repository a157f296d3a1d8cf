"""examples/external_strategy.py, run as a user would, against the local fake of Binance's streams."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.binance import FakeBinance

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "external_strategy.py"


def force_order(symbol: str, t: int, price: float, qty: float, side: str = "SELL") -> dict[str, Any]:
    return {"e": "forceOrder", "E": t + 3, "o": {"s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": str(qty),
                                               "p": str(round(price * 0.99, 1)), "ap": str(price), "X": "FILLED",
                                               "l": str(qty), "z": str(qty), "T": t}}


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


def test_the_example_streams_and_prints_signals(fake: FakeBinance) -> None:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--ws-url", fake.market_url, "--seconds", "3", "--every", "0.5",
         "--symbols", "BTCUSDT,ETH/USDT:USDT"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})  # this tree's packages, whatever the venv has installed
    try:
        for stream in ("btcusdt@forceOrder", "ethusdt@forceOrder", "btcusdt@markPrice@1s", "ethusdt@markPrice@1s"):
            assert fake.wait_for_subscription(stream, timeout=8.0), stream
        now = time.time_ns() // 1_000_000
        fake.publish_mark_price("BTCUSDT", 99_500.0, now)
        fake.publish_mark_price("ETHUSDT", 3_000.0, now)
        for i in range(10):  # 10 longs liquidated ~1.5 % below the price: a strong cluster to sell toward
            fake.publish_force_order(force_order("BTCUSDT", now - 1000 * i, 98_000.0 + 5 * i, 0.5))
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 10

    (conn,) = fake.connections()
    assert conn.path == "/market/stream"
    assert any(isinstance(m, dict) and m.get("method") == "SUBSCRIBE" for m in conn.messages_received)
    assert conn.subscriptions == {"btcusdt@forceOrder", "ethusdt@forceOrder", "btcusdt@markPrice@1s",
                                  "ethusdt@markPrice@1s"}
    assert fake.wait_for_disconnect(conn.id, timeout=2.0)  # the script stopped its stream before exiting
    assert fake.connections()[0].ended_by == "client"
    lines = out.splitlines()
    assert lines[0] == f"streaming BTC/USDT:USDT, ETH/USDT:USDT from {fake.market_url}"
    assert any("connected=True" in line for line in lines), out
    sells = [line for line in lines if line.startswith("  BTC/USDT:USDT: price 99500: SELL strength")]
    assert sells and "long liquidations below at 980" in sells[-1], out
    assert any(line.startswith("  ETH/USDT:USDT: price 3000: no signal") for line in lines), out
    assert lines[-1].startswith("done: 10 liquidations, ") and not lines[-1].startswith("done: 10 liquidations, 0 ")
