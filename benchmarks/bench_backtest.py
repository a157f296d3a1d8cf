"""Backtest benchmark: replay throughput over the real recordings, default config, both strategies.

Run: ``make bench-backtest`` (``--repeat N``, default 5; ``--no-reference`` skips the by-hand loop). The
project's own code is imported from the checkout the script is in (``ROOT`` first on ``sys.path``), not from
wherever the package is installed. Inputs are the real files in ``data/binance/``: every recorded
``forceOrder`` frame (4,986 events, 436 symbols, 14 sessions over 18 months) and every large aggregated trade
(42,034 price points of 14 symbols). With ``symbols: all`` every event is ingested; the 14 symbols that have
prices trade.

Figures (median of ``--repeat`` runs, each a fresh ``run_backtest``; parsing and loading the files are timed
apart):

* speed-up: simulated session time per second of wall time (the target, issue 11: >= 100,000x real time);
* events/s: liquidation events replayed per second of wall time;
* timeline items/s: events plus price points per second;
* where the time goes: seconds inside each job (``Bot.run_job``) and in feeding the events and prices to the
  heatmap (ingest and price updates between two moments: the per-event path);
* for scale, the 2025-01-27 session (the demo's) through the same backtest, and through the live parts driven
  by hand without the backtest's skipping (every job at every due moment: what the scheduler would do).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WIRE = ROOT / "data" / "binance" / "forceorder_wire.jsonl"
TRADES = ROOT / "data" / "binance" / "aggtrades_large.csv"
SESSION = (1_737_996_600_000, 1_737_998_400_000)  # 2025-01-27 16:50-17:20 UTC
SESSION_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"]
TARGET = 100_000.0
FEEDS = ("feed_events", "feed_others", "feed_prices")
sys.path.insert(0, str(ROOT))

from liquidation_hunter.backtest import PriceSeries, load_prices, run_backtest  # noqa: E402
from liquidation_hunter.backtest.result import BacktestResult  # noqa: E402
from liquidation_hunter.backtest.runner import _Replay  # noqa: E402
from liquidation_hunter.bot.engine import Bot  # noqa: E402
from liquidation_hunter.config.model import BotConfig  # noqa: E402
from live_heatmap import LiquidationEvent, parse_force_order  # noqa: E402


class JobTimer:
    """Seconds spent in each job, by wrapping ``Bot.run_job`` for the duration of a ``with`` block."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._original: Callable[[Bot, str], None] | None = None
        self._feeds: dict[str, Callable[[_Replay, int], None]] = {}

    def __enter__(self) -> JobTimer:
        original = Bot.run_job
        self._original = original
        timer = self

        def timed(bot: Bot, name: str) -> None:
            started = time.perf_counter()
            original(bot, name)
            timer.seconds[name] += time.perf_counter() - started
            timer.calls[name] += 1

        def timing(method: Callable[[_Replay, int], None]) -> Callable[[_Replay, int], None]:
            def timed_feed(replay: _Replay, t: int) -> None:
                started = time.perf_counter()
                method(replay, t)
                timer.seconds["feed"] += time.perf_counter() - started

            return timed_feed

        Bot.run_job = timed  # type: ignore[method-assign]
        for name in FEEDS:
            method = getattr(_Replay, name)
            self._feeds[name] = method
            setattr(_Replay, name, timing(method))
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._original is not None
        Bot.run_job = self._original  # type: ignore[method-assign]
        for name, method in self._feeds.items():
            setattr(_Replay, name, method)


def replay(config: BotConfig, events: list[LiquidationEvent], prices: PriceSeries, repeat: int,
           **options: Any) -> tuple[list[float], BacktestResult, JobTimer]:
    run_backtest(config, events, prices, **options)  # warm-up
    walls = []
    result = None
    for _ in range(repeat):
        result = run_backtest(config, events, prices, **options)
        walls.append(result.wall_seconds)
    with JobTimer() as timer:
        run_backtest(config, events, prices, **options)
    assert result is not None
    return walls, result, timer


def show(title: str, walls: list[float], result: BacktestResult, timer: JobTimer, *, target: bool) -> None:
    wall = statistics.median(walls)
    items = result.events + sum(result.price_points.values())
    rate = result.events / wall
    speed = result.replayed_ms / 1000 / wall
    print(title)
    print(f"  replayed {result.events:,} events ({len(result.events_by_symbol)} symbols), "
          f"{sum(result.price_points.values()):,} price points ({len(result.symbols)} symbols trade), "
          f"{result.replayed_ms / 60_000:,.1f} simulated minutes in {len(result.sessions)} sessions")
    print(f"  wall time                 {wall:>12.3f} s   (median of {len(walls)}; best {min(walls):.3f} s)")
    verdict = f"  target >= {TARGET:,.0f}x: {'PASS' if speed >= TARGET else 'FAIL'}" if target else ""
    print(f"  speed-up                  {speed:>12,.0f} x real time{verdict}")
    print(f"  events/s                  {rate:>12,.0f}")
    print(f"  timeline items/s          {items / wall:>12,.0f}   (events + price points)")
    print(f"  trades {len(result.trades)}, signals {len(result.signals)}, audit "
          f"{'balanced' if not result.audit else result.audit}")
    inside = sum(v for k, v in timer.seconds.items() if k != "feed")
    print(f"  where the time goes (one more run, {inside:.3f} s inside jobs):")
    for name in ("clusters", "signals", "positions", "snapshot"):
        calls = timer.calls[name]
        if calls:
            print(f"    {name:<10} {calls:>7,} runs {timer.seconds[name]:>8.3f} s "
                  f"({1e6 * timer.seconds[name] / calls:>6.0f} us a run)")
    fed = timer.seconds["feed"]
    print(f"    feeding events and prices (ingest_many, update_price): {fed:.3f} s, "
          f"{result.events / fed:,.0f} events/s, {items / fed:,.0f} items/s on that path alone")
    skipped = result.jobs.get("skipped", {})
    print(f"    skipped as they could change nothing: {dict(skipped)}")


def by_hand(config: BotConfig, events: list[LiquidationEvent], prices: PriceSeries) -> float:
    """The 2025-01-27 session through the live parts, every job at every due moment, the plain heatmap with
    every symbol's events (as tests/liquidation_hunter/backtest/test_backtest.py's reference, with all
    symbols): seconds."""
    import logging
    from bisect import bisect_right

    import structlog

    from liquidation_hunter import LiquidationHunter
    from liquidation_hunter.trading.books import Books
    from liquidation_hunter.trading.paper import PaperBroker
    from live_heatmap import LiveLiquidationHeatmap
    from strategies import make_strategy

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no log lines
    start, end = SESSION
    now = [start]
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=lambda: now[0])
    books = Books.open(":memory:", starting_wallet=config.risk.starting_wallet, now_ms=start)
    bot = Bot(config=config, heatmap=heatmap, broker=PaperBroker.from_risk(books, config.risk), books=books,
              strategy=make_strategy(config.strategy.name, LiquidationHunter(config.hunter, heatmap), {}),
              clock=lambda: now[0])
    window = sorted((e for e in events if start <= e.trade_time < end), key=lambda e: e.trade_time)
    recorded = prices.window(start, end)
    series = {s: (recorded.times(s).tolist(), recorded.prices(s).tolist()) for s in SESSION_SYMBOLS}
    grid = {n: round(getattr(config.schedule, n) * 1000) for n in ("clusters", "signals", "positions", "snapshot")}
    began = time.perf_counter()
    i = 0
    t = start
    last = max(window[-1].trade_time, *(times[-1] for times, _ in series.values()))
    while t <= last:
        due = [n for n, every in grid.items() if (t - start) % every == 0]
        if due:
            j = bisect_right([e.trade_time for e in window[i:]], t) + i
            if j > i:
                heatmap.ingest_many(window[i:j])
                i = j
            for s, (times, values) in series.items():
                k = bisect_right(times, t)
                if k:
                    heatmap.update_price(s, values[k - 1], timestamp_ms=times[k - 1])
            now[0] = t
            for n in due:
                bot.run_job(n)
        t += 1000
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true", help="skip the by-hand loop (about 10 s)")
    args = parser.parse_args(argv)
    print(f"command: {Path(sys.executable).name} benchmarks/bench_backtest.py "
          + " ".join(argv if argv is not None else sys.argv[1:]))
    started = time.perf_counter()
    events = [parse_force_order(line) for line in WIRE.read_bytes().splitlines()]
    parsed = time.perf_counter()
    prices = load_prices(TRADES)
    loaded = time.perf_counter()
    print(f"inputs: {len(events):,} events parsed in {parsed - started:.3f} s; {len(prices):,} price points loaded "
          f"in {loaded - parsed:.3f} s (not in the figures below)")
    print()
    for name in ("liquidation_magnet", "cascade_fade"):
        config = BotConfig.from_mapping({"strategy": {"name": name}})
        walls, result, timer = replay(config, events, prices, args.repeat)
        show(f"whole recording, default config, strategy {name}:", walls, result, timer, target=True)
        print()
    session = BotConfig.from_mapping({"symbols": SESSION_SYMBOLS, "heatmap": {"min_cluster_size": 3},
                                      "hunter": {"min_strength": 0.3, "min_distance_pct": 0.3,
                                                 "max_distance_pct": 3.0, "preferred_distance_pct": 0.8},
                                      "risk": {"leverage": 5, "max_open_positions": 4, "cooldown_minutes": 0,
                                               "daily_loss_limit_pct": None, "max_drawdown_pct": None}})
    walls, result, timer = replay(session, events, prices, args.repeat, start_ms=SESSION[0], end_ms=SESSION[1])
    show("the 2025-01-27 16:50-17:20 session (4 symbols, thresholds that trade; the demo's):", walls, result,
         timer, target=False)
    if not args.no_reference:
        plain = by_hand(session, events, prices)
        print(f"  the same session by hand, no skipping: {plain:.3f} s "
              f"(the backtest: x{plain / statistics.median(walls):.0f} faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
