"""A paper bot running as its own process (``liquidation-hunter run`` through guarded_cli.py) with its API on, against
the fake Binance WebSocket and REST servers, on books that already hold a history: what the API and page tests of a
running bot read.

The books, written before the bot starts (times relative to now): a BTCUSDT long opened 20 minutes ago and closed
by its take-profit 15 minutes ago, a BTCUSDT long opened 10 minutes ago and an ETHUSDT short opened 5 minutes ago
(both open, their exits far away), equity snapshots every minute for the last half hour, and new entries halted
(so the liquidations published do not trade). While it runs, mark prices are published every 0.2 s and a few
liquidations once, so the heatmap has events and the bot's price history fills.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot_process import log_events, publishing_marks, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest

from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.model import AccountState, EntryOrder

__all__ = ["MARKS", "RunningBot", "running_bot"]

MARKS = {"BTCUSDT": 101_000.0, "ETHUSDT": 3_050.0}
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MINUTE = 60_000

CONFIG = """\
mode: paper
symbols: [BTCUSDT, ETHUSDT]
exchange:
  ws_url: {ws_url}
  rest_url: {rest_url}
  mark_price: true
risk:
  starting_wallet: 10000
  time_exit_minutes: null
schedule:
  positions: 0.5
  snapshot: 1
  heartbeat: 1
storage:
  path: books.sqlite
  events: null
logging:
  format: json
api:
  enabled: true
  port: 0
"""


@dataclass
class RunningBot:
    url: str
    books: Path
    log: Path
    opened_at: dict[str, int]
    """client id -> when the seeded position opened."""


def _seed(path: Path, now: int) -> dict[str, int]:
    with Books.open(path, mode="paper", starting_wallet=10_000.0, now_ms=now - 40 * MINUTE) as books:
        for i in range(30, 0, -1):
            at = now - i * MINUTE
            books.snapshot(AccountState(wallet=10_000.0 + (30 - i) * 2.0, margin=0.0, unrealized=0.0, positions=0,
                                        at=at))
        opened = {}
        for cid, symbol, direction, quantity, price, age in (("lh-seed-btc-1", BTC, 1, 0.01, 100_000.0, 20),
                                                             ("lh-seed-btc-2", BTC, 1, 0.01, 100_200.0, 10),
                                                             ("lh-seed-eth", ETH, -1, 0.5, 3_100.0, 5)):
            stop, take = (price * 0.8, price * 1.2) if direction > 0 else (price * 1.2, price * 0.8)
            at = now - age * MINUTE
            position = books.record_entry(EntryOrder(cid, symbol, direction, quantity, price, stop, take, 3, at),
                                          quantity=quantity, fill_price=price, fee=quantity * price * 0.0005,
                                          liquidation_price=price * (0.5 if direction > 0 else 1.5), now_ms=at)
            assert position is not None
            opened[cid] = at
            if cid == "lh-seed-btc-1":
                books.record_exit(position.id, client_id=f"{cid}-tp", exit_price=100_500.0, fee=0.5,
                                  reason="take_profit", now_ms=at + 5 * MINUTE)
        books.set_halt("test: no new entries", now)
    return opened


def _force_order(symbol: str, t: int, price: float, qty: float) -> dict[str, Any]:
    return {"e": "forceOrder", "E": t + 3, "o": {"s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": str(qty),
                                               "p": str(round(price * 0.99, 1)), "ap": str(price), "X": "FILLED",
                                               "l": str(qty), "z": str(qty), "T": t}}


@contextmanager
def running_bot(folder: Path) -> Iterator[RunningBot]:
    """Start the bot (module docstring) in ``folder``; stopped with SIGTERM on exit."""
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest(prices=MARKS) as rest:
        now = time.time_ns() // 1_000_000
        opened = _seed(folder / "books.sqlite", now)
        config = folder / "bot.yaml"
        config.write_text(CONFIG.format(ws_url=ws.market_url, rest_url=rest.base_url), encoding="utf-8")
        log = folder / "bot.log"
        with started_bot(config, log) as bot:
            wait_for(lambda: log_events(log, "heartbeat") and ws.open_connections(), "the bot to start", log, bot=bot)
            with publishing_marks(ws, MARKS):
                t = time.time_ns() // 1_000_000
                for i in range(8):  # longs liquidated below the price, over the last minutes
                    ws.publish_force_order(_force_order("BTCUSDT", t - 20_000 * i, 99_500.0 - 10 * i, 0.3))
                    ws.publish_force_order(_force_order("ETHUSDT", t - 20_000 * i, 3_020.0 - i, 5.0))
                wait_for(lambda: log_events(log, "heartbeat")[-1].get("prices") == len(MARKS),
                         "the mark prices in the bot", log, bot=bot)
                port = log_events(log, "api_listening")[-1]["port"]
                yield RunningBot(url=f"http://127.0.0.1:{port}", books=folder / "books.sqlite", log=log,
                                 opened_at=opened)
