"""``liquidation-hunter run``: build a bot from its config and run its jobs on an APScheduler
``BlockingScheduler`` until SIGINT or SIGTERM.

Each duty is one interval job with ``max_instances=1`` and ``coalesce=True``: a job still running when its
next run is due is skipped (counted and logged), and runs missed while the process was busy collapse into
one. Every job runs through :meth:`Bot.run_job`, which logs and counts failures, so a failing or slow job
never stops the others. SIGINT/SIGTERM: the scheduler stops taking jobs, the stream is closed, running jobs
get up to 2.5 s to finish, a last snapshot is written and the books closed: the process ends within 5 s.

Safety with money: paper is the default. ``mode: live`` in the file needs ``--live`` on the command line
(and the reverse); keys come only from ``BINANCE_API_KEY``/``BINANCE_API_SECRET``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from liquidation_hunter.bot.assembly import check_strategy, configured_strategy
from liquidation_hunter.bot.engine import JOBS, Bot
from liquidation_hunter.bot.logs import configure_logging
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.signals.hunter import LiquidationHunter
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.model import Broker
from live_heatmap import LiveLiquidationHeatmap, system_clock_ms, to_exchange_id

__all__ = ["LiveModeRefused", "build_bot", "check_live_opt_in", "run"]

log = structlog.get_logger("liquidation_hunter.bot")



class LiveModeRefused(RuntimeError):
    """Live trading was not opted into on both sides (file and command line), or keys are missing."""


def check_live_opt_in(config: BotConfig, live_flag: bool, environ: Mapping[str, str] | None = None) -> None:
    """Refuse unless the file and the command line agree on live trading, and live has its keys."""
    where = config.source or "the config"
    if config.mode == "live" and not live_flag:
        raise LiveModeRefused(f"{where} says mode: live; live trading also needs --live on the command line "
                              "(or set mode: paper)")
    if config.mode != "live" and live_flag:
        raise LiveModeRefused(f"--live given but {where} says mode: {config.mode}; set mode: live in the file "
                              "to trade live")
    if config.mode == "live":
        missing = config.secrets(environ).missing()
        if missing:
            raise LiveModeRefused(f"live trading needs {' and '.join(missing)} in the environment")


def build_bot(config: BotConfig, *, live_flag: bool = False, clock: Callable[[], int] = system_clock_ms,
              environ: Mapping[str, str] | None = None) -> Bot:
    """Every part of a bot, connected but not started (no stream, no scheduler)."""
    check_live_opt_in(config, live_flag, environ)
    check_strategy(config)
    from liquidation_hunter.trading.exchange import ExchangeClient

    secrets = config.secrets(environ)
    now = clock()
    client = ExchangeClient.from_config(config, secrets if config.mode == "live" else None)
    markets: Any = None
    try:
        client.load_markets()
        markets = client.markets
    except Exception as exc:  # paper trading can go on without the exchange's steps
        if config.mode == "live":
            raise
        log.warning("markets_unavailable", error=f"{type(exc).__name__}: {exc}",
                    consequence="paper fills are not rounded to the exchange's steps")
    books = Books.open(config.storage.path, mode=config.mode, starting_wallet=config.risk.starting_wallet,
                       now_ms=now)
    broker: Broker
    if config.mode == "live":
        from liquidation_hunter.trading.live import LiveBroker

        broker = LiveBroker(books, client, leverage=config.risk.leverage,
                            symbols=None if config.symbols == "all" else list(config.symbols))
    else:
        from liquidation_hunter.trading.paper import PaperBroker

        broker = PaperBroker.from_risk(books, config.risk, precision=client if markets is not None else None)
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock, ws_url=config.exchange.ws_url)
    if config.symbols != "all":
        heatmap.track(to_exchange_id(s, markets) for s in config.symbols)
    hunter = LiquidationHunter(config.hunter, heatmap, markets=markets)
    strategy = configured_strategy(config, hunter)
    return Bot(config=config, heatmap=heatmap, strategy=strategy, broker=broker, books=books,
               price_feed=None if config.exchange.mark_price else client, markets=markets, clock=clock)


def _intervals(config: BotConfig) -> dict[str, float]:
    s = config.schedule
    out = {"prices": s.prices, "clusters": s.clusters, "signals": s.signals, "positions": s.positions,
           "snapshot": s.snapshot, "heartbeat": s.heartbeat}
    if config.exchange.mark_price:
        del out["prices"]
    return out


def run(config: BotConfig, *, live_flag: bool = False, clock: Callable[[], int] = system_clock_ms,
        install_signals: bool = True) -> int:
    """Run the bot until SIGINT/SIGTERM; returns the process exit code."""
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    secrets = config.secrets()
    configure_logging(fmt=config.logging.format, level=config.logging.level,
                      secrets=(secrets.api_key, secrets.api_secret, os.environ.get(config.api.token_env)))
    bot = build_bot(config, live_flag=live_flag, clock=clock)
    api_server = None  # before anything runs: a bad token or a taken port ends the start here
    if config.api.enabled:  # read-only: nothing a client sends reaches the trading parts
        # Imported here: the API's framework (FastAPI, uvicorn) stays off the start path when the API is off.
        from liquidation_hunter.api import ApiServer, ApiSource
        from liquidation_hunter.config.sections import MEMORY

        api_source = ApiSource(bot.heatmap, hunter=config.hunter, strategy=config.strategy.name,
                               strategy_params=config.strategy.params, markets=bot.markets,
                               heartbeat_s=config.schedule.heartbeat,
                               books_path=None if config.storage.path == MEMORY else config.storage.path)
        api_server = ApiServer.from_config(api_source, config.api).start()
        log.info("api_listening", host=config.api.host, port=api_server.port)
    bot.start()
    symbols: Any = "all" if config.symbols == "all" else [to_exchange_id(s, bot.markets) for s in config.symbols]
    recorder = None
    if config.storage.events is not None:
        from live_heatmap.store.recorder import EventStore, Recorder, warm_start

        store = EventStore.open(config.storage.events)
        loaded = warm_start(bot.heatmap, store, clock(), symbols=None if symbols == "all" else symbols)
        recorder = Recorder(store, retention_days=config.storage.retention_days, clock=clock)
        recorder.attach(bot.heatmap).start()
        log.info("warm_start", events=loaded, path=config.storage.events)
    bot.heatmap.start_stream(symbols, mark_price=config.exchange.mark_price,
                             settings=config.exchange.stream_settings())

    intervals = _intervals(config)
    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=len(intervals) + 1)},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        timezone=UTC,
    )
    first = datetime.now(UTC)
    for index, (name, seconds) in enumerate(intervals.items()):
        scheduler.add_job(bot.run_job, "interval", args=(name,), id=name, name=name, seconds=seconds,
                          next_run_time=first + timedelta(milliseconds=50 * index))

    def on_skip(event: JobExecutionEvent) -> None:
        bot.skipped[event.job_id] += 1
        log.warning("job_skipped", job=event.job_id, why="still running" if event.code == EVENT_JOB_MAX_INSTANCES
                    else "missed", skipped=bot.skipped[event.job_id])

    scheduler.add_listener(on_skip, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    stop_reason: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        if not stop_reason:
            stop_reason.append(signal.Signals(signum).name)
            threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, daemon=True).start()

    if install_signals:
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    log.info("loop_started", jobs={k: v for k, v in intervals.items() if k in JOBS}, pid=os.getpid())
    begun = time.monotonic()
    try:
        scheduler.start()
    finally:
        stopping = time.monotonic()
        if api_server is not None:
            api_server.stop()
        reason = stop_reason[0] if stop_reason else "scheduler ended"
        bot.heatmap.stop_stream(timeout=1.0)
        if recorder is not None:
            recorder.stop(timeout=1.0)
            recorder.store.close()
        idle = bot.wait_idle(timeout=2.5)
        bot.stop(reason=reason)
        bot.books.close()
        log.info("bot_stopped", reason=reason, jobs_finished=idle, stop_seconds=round(time.monotonic() - stopping, 2),
                 ran_seconds=round(stopping - begun, 1))
    if not idle:
        # A job is stuck in a network call: its thread would hold the exit past the budget. The books
        # are closed and every write was one transaction, so leaving now loses nothing.
        os._exit(0)
    return 0
