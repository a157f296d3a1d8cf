"""Alerts benchmark (issue 16): what alerts cost the bot's jobs, with a webhook that answers and one that hangs.

Run: ``.venv/bin/python benchmarks/bench_alerts.py`` (= ``make bench-alerts``; about half a minute).

A paper bot on 20 symbols (each with a price and a liquidation cluster above it; entries open, the hunter's
``min_strength`` 0.99 so none is strong enough to trade: the strategy is asked about every symbol on every run),
its ``signals`` and ``alerts`` jobs run 2,000 times each, interleaved, timed one by one (``time.perf_counter``),
in three set-ups:

* alerts off (no channel: the bot of before issue 16);
* a webhook on 127.0.0.1 that answers 200 at once;
* a webhook that never answers (the sender thread stuck in its request until its 30 s timeout).

The cascade rule fires on every ``alerts`` run (threshold 1 USDT, cooldown 0), so each run queues 20 alerts, and
the outbox (cap 1,000) fills. The issue asks that the hanging webhook grow the signals job's p99 by < 5 ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import structlog  # noqa: E402
from fakes.alert_receiver import AlertReceiver  # noqa: E402

from liquidation_hunter import LiquidationHunter  # noqa: E402
from liquidation_hunter.bot.alerts import BotAlerts  # noqa: E402
from liquidation_hunter.bot.engine import Bot  # noqa: E402
from liquidation_hunter.config.model import BotConfig  # noqa: E402
from liquidation_hunter.trading.books import Books  # noqa: E402
from liquidation_hunter.trading.paper import PaperBroker  # noqa: E402
from live_heatmap import LiveLiquidationHeatmap  # noqa: E402
from live_heatmap.wire.events import LiquidationEvent  # noqa: E402
from strategies import make_strategy  # noqa: E402

RUNS = 2000
SYMBOLS = [f"C{i:02d}USDT" for i in range(20)]
NOW = 1_737_997_200_000


class Clock:
    """Moves 1 ms a call: every alerts run is a new moment (new alert ids)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        self.now += 1
        return self.now


def _bot(folder: Path, alerts: dict[str, Any]) -> Bot:
    clock = Clock()
    config = BotConfig.from_mapping({
        "symbols": [f"{s[:-4]}/USDT:USDT" for s in SYMBOLS], "storage": {"path": str(folder / "books.sqlite")},
        "risk": {"leverage": 3, "funding": False, "max_open_positions": 1, "max_margin_pct": 100.0},
        "hunter": {"min_strength": 0.99}, "alerts": alerts})
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
    for symbol in SYMBOLS:
        for i in range(10):
            t = NOW - 60_000 - i * 1000
            heatmap.ingest(LiquidationEvent(symbol, "short", 101.5 + i * 0.01, 1000.0, t, t, "FILLED", False))
        heatmap.update_price(symbol, 100.0, NOW)
    books = Books.open(config.storage.path, starting_wallet=10_000.0, now_ms=NOW)
    broker = PaperBroker.from_risk(books, config.risk)
    strategy = make_strategy("liquidation_magnet", LiquidationHunter(config.hunter, heatmap), {})
    bot = Bot(config=config, heatmap=heatmap, strategy=strategy, broker=broker, books=books, clock=clock,
              price_max_age_ms=None)
    bot.alerts = BotAlerts.from_config(config, books, heatmap)
    return bot


def _time(bot: Bot, job: str) -> float:
    """One run of ``job``, in ms."""
    began = time.perf_counter()
    bot.run_job(job)
    return (time.perf_counter() - began) * 1000


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only: no log lines timed
    rows = []
    with AlertReceiver() as receiver, tempfile.TemporaryDirectory() as tmp:
        hook = {"channels": {"webhook": {"enabled": True, "url": f"{receiver.base_url}/hook"}},
                "rules": {"cascade": {"notional": 1, "window_seconds": 3600}}, "cooldown_seconds": 0,
                "timeout_seconds": 30}
        for name, alerts, hang in (("alerts off", {}, False), ("webhook answers", hook, False),
                                   ("webhook hangs", hook, True)):
            folder = Path(tmp) / name.replace(" ", "_")
            bot = _bot(folder, alerts)
            if hang:
                receiver.hang()
            if bot.alerts is not None:
                bot.alerts.start(NOW)
            try:
                signals, alert_runs = [], []
                for _ in range(RUNS):  # interleaved, as the scheduler runs them
                    signals.append(_time(bot, "signals"))
                    if bot.alerts is not None:
                        alert_runs.append(_time(bot, "alerts"))
                counts = bot.books.outbox_counts()
                stuck = receiver.waiting
            finally:
                if bot.alerts is not None:
                    receiver.release()
                    bot.alerts.stop()
                bot.books.close()
            rows.append((name, signals, alert_runs, counts, stuck))
    print(f"{'set-up':<17}{'signals p50':>12}{'p99':>8}{'alerts p50':>12}{'p99':>8}   outbox")
    base = _p(rows[0][1], 99)
    for name, signals, alert_runs, counts, stuck in rows:
        a50 = f"{statistics.median(alert_runs):.3f}" if alert_runs else "-"
        a99 = f"{_p(alert_runs, 99):.3f}" if alert_runs else "-"
        print(f"{name:<17}{statistics.median(signals):>12.3f}{_p(signals, 99):>8.3f}{a50:>12}{a99:>8}   "
              f"{counts.pending} pending, {counts.delivered} delivered, {counts.dropped} dropped"
              + (f", sender stuck in {stuck} request" if stuck else ""))
    hang = _p(rows[2][1], 99)
    print(f"signals p99 with the webhook hanging - alerts off: {hang - base:+.3f} ms (target < 5 ms; ms per run)")


if __name__ == "__main__":
    main()
