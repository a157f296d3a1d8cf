"""A paper bot in miniature, to be killed with SIGKILL at any instant
(``tests/liquidation_hunter/trading/test_paper_broker.py``).

    python tests/support/books_worker.py BOOKS.sqlite SEED

Loops forever over simulated hours: prices from a random walk seeded by SEED, the paper broker's
exits and funding, a manual close now and then, an entry now and then, a heartbeat. Prints one line
per committed action (``open``, ``exit``, ``close``, ``replay``...) and flushes it.

Everything it does is a function of (SEED, step), and the step is recovered from the books: a restart
resumes at the last step that committed anything and runs it again whole. Entry client ids are
``e<step>``, so the rerun re-submits the very entry the killed process was trying, with the same id;
the books must turn the replay into a no-op. At start it also replays the newest entry in the books
on purpose, which must return None.
"""

from __future__ import annotations

import math
import random
import sys

from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.model import EntryOrder
from liquidation_hunter.trading.paper import PaperBroker

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
BASE = {"BTC/USDT:USDT": 50_000.0, "ETH/USDT:USDT": 3_000.0, "SOL/USDT:USDT": 150.0}
T0 = 1_737_936_000_000  # 2025-01-27T00:00:00Z, a funding time
STEP_MS = 3_600_000  # one simulated hour per step: funding every 8 steps
STARTING_WALLET = 10_000.0
SIGMA = 0.012  # per-step log-price volatility: enough for stops, take-profits and liquidations


class Walk:
    """Prices of every symbol at step t: a seeded Gaussian random walk, the same in every process."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"walk/{seed}")
        self._path: list[dict[str, float]] = [dict(BASE)]

    def at(self, step: int) -> dict[str, float]:
        while len(self._path) <= step:
            last = self._path[-1]
            self._path.append({s: p * math.exp(self._rng.gauss(0.0, SIGMA)) for s, p in last.items()})
        return self._path[step]


def entry_at(seed: int, step: int, prices: dict[str, float]) -> EntryOrder:
    """The entry the worker tries at ``step`` (deterministic: a replay sends the same order)."""
    rng = random.Random(f"entry/{seed}/{step}")
    symbol = rng.choice(SYMBOLS)
    direction = rng.choice((1, -1))
    price = prices[symbol]
    stop = price * (1 - direction * rng.uniform(0.005, 0.06))
    target = price * (1 + direction * rng.uniform(0.005, 0.04))
    return EntryOrder(client_id=f"e{step}", symbol=symbol, direction=direction,
                      quantity=rng.uniform(300.0, 2_500.0) / price, reference_price=price, stop_loss=stop,
                      take_profit=target, leverage=rng.choice((2, 5, 10, 25, 50)), created_at=T0 + step * STEP_MS,
                      strategy="worker")


def resume_step(books: Books) -> int:
    """The last step that committed anything (it is run again whole), from the books alone."""
    times = [T0]
    health = books.health()
    if health is not None:
        times.append(health[1])
    times += [p.opened_at for p in books.open_positions()]
    times += [t.closed_at for t in books.closed_trades(limit=1)]
    return (max(times) - T0) // STEP_MS


def say(*words: object) -> None:
    print(*words, flush=True)


def main(path: str, seed: int) -> None:
    books = Books.open(path, mode="paper", starting_wallet=STARTING_WALLET, now_ms=T0)
    broker = PaperBroker(books, slippage_bps=2.0, taker_fee=0.0005, maker_fee=0.0002)
    walk = Walk(seed)
    step = resume_step(books)
    broker.start(T0 + step * STEP_MS)
    newest = max([*books.open_positions(), *(t.position for t in books.closed_trades())],
                 key=lambda p: p.id, default=None)
    if newest is not None:  # a restarted bot replaying its last signal
        old = int(newest.client_id[1:])
        replayed = broker.open(entry_at(seed, old, walk.at(old)), walk.at(step)[newest.symbol],
                               T0 + step * STEP_MS)
        say("replay", newest.client_id, "none" if replayed is None else f"OPENED {replayed.id}")
    say("resume", step)
    while True:
        now = T0 + step * STEP_MS
        prices = walk.at(step)
        rng = random.Random(f"step/{seed}/{step}")
        broker.set_funding_rate(SYMBOLS[step % 3], rng.uniform(-0.0005, 0.0005))
        for trade in broker.on_prices(prices, now):
            say("exit", trade.position.client_id, trade.reason)
        if rng.random() < 0.25:
            for position in books.open_positions():
                if position.opened_at < now and rng.random() < 0.5:
                    closed = broker.close(position, "manual", prices[position.symbol], now)
                    say("close", position.client_id, "none" if closed is None else "manual")
        if rng.random() < 0.7:
            order = entry_at(seed, step, prices)
            try:
                opened = broker.open(order, prices[order.symbol], now)
            except OrderRejected as exc:
                say("reject", order.client_id, type(exc).__name__)
            else:
                say("open" if opened else "dup", order.client_id, order.symbol)
        books.set_health({"step": step}, now)
        say("step", step)
        step += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
