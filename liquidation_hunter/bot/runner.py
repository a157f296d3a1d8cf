"""``liquidation-hunter run``: build a bot from its config and run it as an :class:`~.app.App` until SIGINT or
SIGTERM.

The services, started in this order and stopped in the reverse one: the API server (when enabled: first, so a
bad token or a taken port ends the start before anything runs), the bot (recovers its broker; stopping writes a
last snapshot and health record and closes the books), the recorder (when ``storage.events`` is set: warm start,
then every accepted event appended), the feed's publisher (when ``feed.publish`` is set: every accepted event
appended to Redis, :mod:`liquidation_hunter.feed`), the OKX backfill (when ``exchanges`` lists okx: its recent
liquidations over REST, :mod:`.venues`), the estimated layer's window over REST (when ``estimated.enabled``:
:mod:`.estimated`; its ``estimated`` job polls the open interest), the stream (one per venue of ``exchanges``,
:mod:`.venues`: liquidations, and Binance's mark prices, into the heatmap, Binance's funding rates to the paper
broker, with ``estimated`` Binance's 5-minute klines to the layer's inputs; in paper mode each mark price of a
symbol with an open position has its exits checked at once, :meth:`~.engine.Bot.on_mark_price`), the
depth stream (when ``orderbook.enabled`` in ``stream`` mode: ``<symbol>@depth@100ms`` on the ``/public``
connection into the books of :mod:`.liquidity`, whose ``orderbook`` job fetches the snapshots they need and
samples them into the liquidity layer; the liquidation stream then also brings ``<symbol>@aggTrade`` for the
walls; with ``orderbook.venue: bybit``, ``orderbook.200.<SYMBOL>`` and ``publicTrade.<SYMBOL>`` on a Bybit
connection of their own instead), the scheduler (the jobs, :mod:`.scheduler`, with the hourly ``markets`` job
when Bybit or OKX is streamed: stopping lets running jobs finish for up to 2.5 s). The process ends within 5 s
of the signal.

Safety with money: paper is the default. ``mode: live`` in the file needs ``--live`` on the command line
(and the reverse); keys come only from ``BINANCE_API_KEY``/``BINANCE_API_SECRET``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import structlog

from liquidation_hunter.alerts import alert_secrets, build_channels
from liquidation_hunter.api import ApiSource
from liquidation_hunter.bot.alerts import BotAlerts
from liquidation_hunter.bot.app import App, Service
from liquidation_hunter.bot.assembly import check_layers, check_strategy, configured_strategy, stream_settings
from liquidation_hunter.bot.engine import JOBS, Bot
from liquidation_hunter.bot.estimated import EstimatedInputs
from liquidation_hunter.bot.feed import feed_consumer, on_feed, publisher_service
from liquidation_hunter.bot.liquidity import LiquidityInputs
from liquidation_hunter.bot.logs import configure_logging
from liquidation_hunter.bot.price_history import PriceHistory
from liquidation_hunter.bot.scheduler import JobScheduler
from liquidation_hunter.bot.venues import VenueStreams, venue_streams
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.config.sections import MEMORY
from liquidation_hunter.feed.consumer import FeedConsumer
from liquidation_hunter.signals.hunter import LiquidationHunter
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.brackets import current_brackets
from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.exchange import ExchangeClient
from liquidation_hunter.trading.live import LiveBroker
from liquidation_hunter.trading.markets import SHIPPED_MARKETS, shipped_rules
from liquidation_hunter.trading.model import Broker
from liquidation_hunter.trading.paper import PaperBroker
from live_heatmap import LiveLiquidationHeatmap, system_clock_ms, to_exchange_id
from live_heatmap.common.errors import describe
from live_heatmap.funding import FundingRates
from live_heatmap.stats import replay_history
from live_heatmap.store.recorder import Recorder, warm_start
from live_heatmap.store.stores import open_event_store
from live_heatmap.stream.bybit_depth import BybitDepthStream
from live_heatmap.stream.depth import DepthStream
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.venue import Venue

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
    """Every part of a bot, connected but not started: the stream is built (``bot.stream``), not opened."""
    check_live_opt_in(config, live_flag, environ)
    config = on_feed(config)  # a bot on a feed opens no Binance stream: its prices come over REST
    check_strategy(config)
    check_layers(config)
    build_channels(config.alerts, environ)  # a channel's secret missing: one line, before anything is opened
    secrets = config.secrets(environ)
    now = clock()
    client = ExchangeClient.from_config(config.exchange, secrets if config.mode == "live" else None)
    markets: Any = None
    rules: ExchangeClient = client
    if config.mode == "live":
        # loaded by the broker's start, which the bot retries until the exchange answers (engine docstring);
        # the ccxt instance answers symbol lookups once they are
        markets = client.markets
    else:
        try:
            client.load_markets()
            markets = client.markets
        except Exception as exc:  # noqa: BLE001 - paper trading can go on with the market rules shipped in the package
            rules = shipped_rules()
            log.warning("markets_unavailable", error=describe(exc),
                        consequence=f"paper fills use the market rules shipped with the package "
                                    f"({SHIPPED_MARKETS.name}); symbols without them are not traded")
    books = Books.open(config.storage.path, mode=config.mode, starting_wallet=config.risk.starting_wallet,
                       now_ms=now)
    funding = FundingRates() if config.exchange.mark_price else None  # the mark-price frames carry the rate
    broker: Broker
    if config.mode == "live":
        broker = LiveBroker(books, client, leverage=config.risk.leverage,
                            symbols=None if config.symbols == "all" else list(config.symbols))
    else:
        broker = PaperBroker.from_risk(books, config.risk, precision=rules, funding_rates=funding)
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
    estimated = EstimatedInputs.from_config(config, client, partial(current_brackets, client)) \
        if config.estimated.enabled else None
    liquidity = LiquidityInputs.from_config(config, client) if config.orderbook.enabled else None
    # Binance's books: the walls from /market's aggTrades; Bybit's: from publicTrade on Bybit's book connection
    trades = liquidity if liquidity is not None and config.orderbook.walls and config.orderbook.venue == "binance" \
        else None
    stream: VenueStreams | FeedConsumer
    if config.feed.source is not None:  # the liquidations from the feed: no venue connection at all
        stream = feed_consumer(config, heatmap, books, now_ms=now, clock=clock)
    else:
        stream = venue_streams(config, heatmap, now_ms=now, markets=markets, funding=funding, klines=estimated,
                               trades=trades)
    hunter = LiquidationHunter(config.hunter, heatmap, markets=markets,
                               estimated=None if estimated is None else estimated.layer,
                               liquidity=None if liquidity is None else liquidity.layer)
    strategy = configured_strategy(config, hunter)
    bot = Bot(config=config, heatmap=heatmap, strategy=strategy, broker=broker, books=books,
              price_feed=None if config.exchange.mark_price else client, markets=markets, clock=clock,
              stream=stream, precision=rules, price_history=PriceHistory())
    if config.mode == "paper":  # live: the exchange's own stop and take-profit orders do this
        heatmap.add_price_listener(bot.on_mark_price)
    if estimated is not None:  # the mark prices the bot follows also cover the estimated layer's bars
        heatmap.add_price_listener(estimated.on_mark)
        bot.estimated = estimated
    if liquidity is not None:
        if config.orderbook.mode == "stream":
            liquidity.depth_stream = depth_stream(config, liquidity)
        bot.liquidity = liquidity
    # the cluster rule reads what the clusters job kept (reading the heatmap itself could move a trade)
    bot.alerts = BotAlerts.from_config(config, books, heatmap, venues=_venue_health(stream),
                                       clusters=bot.statistics.kept_clusters,
                                       walls_ended=None if liquidity is None else liquidity.layer.walls_ended,
                                       environ=environ)
    return bot


def _venue_health(stream: Any) -> Callable[[], list[dict[str, Any]]]:
    """The venues' health dicts (``venue``, ``connected``) for the stream-down alert: each venue of the bot's
    streams, or the one stream."""
    venues = getattr(stream, "venues", None)
    if venues is not None:
        return lambda: [dict(v) for v in venues()]
    return lambda: [] if stream is None else [{"venue": "stream", "connected": stream.status().connected}]


def depth_stream(config: BotConfig, sink: LiquidityInputs) -> DepthStream:
    """The depth connection of ``config.orderbook``: Binance's ``/public`` (the liquidation stream's timeouts), or
    with ``venue: bybit`` Bybit's ``orderbook.200`` (and ``publicTrade`` with walls) on ``venues.bybit.ws_url``
    (Bybit's keep-alive, as its liquidation stream)."""
    symbols = [] if config.symbols == "all" else list(config.symbols)
    if config.orderbook.venue == "bybit":
        settings = StreamSettings.for_venue(Venue.BYBIT, ws_url=config.venues.bybit.ws_url,
                                            connect_timeout=config.exchange.timeouts.connect)
        return BybitDepthStream(sink, symbols, settings, trades=config.orderbook.walls)
    settings = replace(stream_settings(config.exchange), ws_url=config.orderbook.public_url, mark_price=False)
    return DepthStream(sink, symbols, settings, market_url=config.exchange.ws_url)


MARKETS_CHECK_S = 3600.0
"""How often the ``markets`` job looks whether a venue's instruments are a day old (:mod:`.venues`)."""


def _intervals(config: BotConfig) -> dict[str, float]:
    intervals = {job: getattr(config.schedule, job) for job in JOBS
                 if not (job == "prices" and config.exchange.mark_price)}
    if any(venue is not Venue.BINANCE for venue in config.venues_on):
        intervals["markets"] = MARKETS_CHECK_S
    if config.estimated.enabled:
        intervals["estimated"] = config.estimated.oi_poll_seconds
    if config.alerts.enabled:
        intervals["alerts"] = config.schedule.clusters
    if config.orderbook.enabled:
        intervals["orderbook"] = config.orderbook.sample_seconds
        if config.storage.events is not None:
            intervals["orderbook_record"] = config.orderbook.record_seconds
    return intervals


def run(config: BotConfig, *, live_flag: bool = False, clock: Callable[[], int] = system_clock_ms,
        install_signals: bool = True) -> int:
    """Run the bot until SIGINT/SIGTERM; returns the process exit code."""
    secrets = config.secrets()
    configure_logging(fmt=config.logging.format, level=config.logging.level,
                      secrets=(secrets.api_key, secrets.api_secret, os.environ.get(config.api.token_env),
                               *alert_secrets(config.alerts)))
    bot = build_bot(config, live_flag=live_flag, clock=clock)
    config = bot.config  # on a feed: prices over REST (bot.feed.on_feed)
    intervals = _intervals(config)
    scheduler = JobScheduler(bot, intervals)
    services = [*_api(config, bot), Service("bot", lambda: _start(bot), lambda: _flush(bot, app.reason or "stopped")),
                *_alerts(bot, clock), *_recorder(config, bot, clock), *_publisher(config, bot, clock),
                *_backfill(config, bot), *_estimated(bot, clock)]
    if bot.stream is not None:
        stream = bot.stream
        services.append(Service("stream", stream.start, lambda: stream.stop(timeout=1.0)))
    if bot.liquidity is not None:
        liquidity = bot.liquidity  # stopped after the scheduler: the open depth runs recorded last
        services.append(Service("orderbook", lambda: None, lambda: liquidity.record(clock(), close=True)))
        if liquidity.depth_stream is not None:
            depth = liquidity.depth_stream
            services.append(Service("depth", depth.start, lambda: depth.stop(timeout=1.0)))

    def start_loop() -> None:  # "loop_started" once the services before it run (warm start done, stream open)
        # What the start built (warm start, history replay, markets) lives as long as the bot: frozen, the cyclic
        # collector's full collections no longer scan it (they set the slowest rebuilds: benchmarks/bench_stats.py)
        gc.collect()
        gc.freeze()
        scheduler.start()
        log.info("loop_started", jobs=intervals, pid=os.getpid())

    app = App([*services, Service("scheduler", start_loop, scheduler.stop)])
    reason = app.run(install_signals=install_signals)
    log.info("bot_stopped", reason=reason, jobs_finished=scheduler.jobs_finished,
             stop_seconds=round(app.stop_seconds, 2), ran_seconds=round(app.ran_seconds, 1))
    return 0


def _start(bot: Bot) -> None:
    """:meth:`Bot.start`; the exchange refusing the account (a wrong key, no futures permission, an IP not
    allowed) ends the start with one line. An unreachable exchange does not: the bot retries."""
    try:
        bot.start()
    except OrderRejected as exc:
        raise LiveModeRefused(f"the exchange refused the start: {exc}") from None


def _flush(bot: Bot, reason: str) -> None:
    """The bot's last words: a snapshot and a health record saying why it stopped; the books closed."""
    bot.stop(reason=reason)
    bot.books.close()


def _api(config: BotConfig, bot: Bot) -> list[Service]:
    """The read-only API beside the bot, when enabled (nothing a client sends reaches the trading parts)."""
    if not config.api.enabled:
        return []
    # lazy: the API's framework (FastAPI, uvicorn: about 0.3 s) stays off the start path when the API is off
    from liquidation_hunter.api import ApiServer  # noqa: PLC0415 - lazy: FastAPI, uvicorn

    source = ApiSource(bot.heatmap, hunter=config.hunter, strategy=config.strategy.name,
                       strategy_params=config.strategy.params, strategy_path=config.strategy.path, markets=bot.markets,
                       price_history=bot.price_history,
                       heartbeat_s=config.schedule.heartbeat,
                       books_path=None if config.storage.path == MEMORY else config.storage.path, stream=bot.stream,
                       estimated=None if bot.estimated is None else bot.estimated.layer,
                       liquidity=None if bot.liquidity is None else bot.liquidity.layer, statistics=bot.statistics)
    server = ApiServer.from_config(source, config.api)

    def start() -> None:
        server.start()
        log.info("api_listening", host=config.api.host, port=server.port)

    return [Service("api", start, server.stop)]


def _alerts(bot: Bot, clock: Callable[[], int]) -> list[Service]:
    """The alerts' sender thread, started after the bot and stopped before it (its pending alerts stay in the
    books for the next run)."""
    alerts = bot.alerts
    if alerts is None:
        return []
    return [Service("alerts", lambda: alerts.start(clock()), alerts.stop)]


def _publisher(config: BotConfig, bot: Bot, clock: Callable[[], int]) -> list[Service]:
    """With ``feed.publish``, every event the heatmap accepts also appended to that Redis (as ``record
    --publish``): a trading bot that holds the venues' connections for the bots reading the feed."""
    url = config.feed.publish
    return [] if url is None else [publisher_service(config, url, bot.heatmap, clock=clock)[1]]


def _backfill(config: BotConfig, bot: Bot) -> list[Service]:
    """OKX's recent liquidations over REST, after the recorder listens (they are recorded) and before the stream
    opens (its copies are duplicates); a failure is a warning, the bot starts anyway."""
    stream = bot.stream
    if not isinstance(stream, VenueStreams) or stream.feed(Venue.OKX) is None:
        return []
    return [Service("backfill", lambda: stream.backfill(config, bot.heatmap), lambda: None)]


def _estimated(bot: Bot, clock: Callable[[], int]) -> list[Service]:
    """The estimated layer's window from REST (klines, mark price klines, open interest) before the stream opens,
    so the layer is warm at once; the exchange's failures are counted and logged, the bot starts anyway."""
    inputs = bot.estimated
    if inputs is None:
        return []
    return [Service("estimated", lambda: inputs.backfill(clock()), lambda: None)]


def _recorder(config: BotConfig, bot: Bot, clock: Callable[[], int]) -> list[Service]:
    """Every accepted event appended to ``storage.events``, after a warm start from it (when set)."""
    path = config.storage.events
    if path is None:
        return []
    parts: dict[str, Recorder] = {}

    def start() -> None:
        store = open_event_store(path)
        symbols = None if config.symbols == "all" else [to_exchange_id(s, bot.markets) for s in config.symbols]
        loaded = warm_start(bot.heatmap, store, clock(), symbols=symbols, exchanges=config.exchanges)
        now = clock()
        since = now - int(min(config.stats.retention_days, config.storage.retention_days) * 86_400_000)
        sampled = replay_history(bot.statistics.baseline, store.events(symbols, since_ms=since,
                                                                       exchanges=config.exchanges),
                                 bot.heatmap.config, until_ms=now)
        log.info("statistics_history", samples=sampled, symbols=len(bot.statistics.baseline.symbols()))
        recorder = parts["recorder"] = Recorder(store, retention_days=config.storage.retention_days, clock=clock)
        recorder.attach(bot.heatmap).start()
        if isinstance(bot.stream, FeedConsumer):  # the feed's cursor is committed once the recorder stored the events
            bot.stream.durable = recorder.flushed
        log.info("warm_start", events=loaded, path=store.path)

    def stop() -> None:
        recorder = parts.pop("recorder", None)
        if recorder is not None:
            recorder.stop(timeout=1.0)
            recorder.store.close()

    return [Service("recorder", start, stop)]
