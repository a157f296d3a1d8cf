"""The bot's jobs: one method per duty, each reading the clock once and passing ``now_ms`` on.

* ``prices``: poll mark prices over REST in one batched request (only without the mark-price stream);
* ``clusters``: rebuild every symbol's clusters;
* ``signals``: ask the strategy for each symbol, apply the risk rules, open positions;
* ``positions``: let the broker act on the prices (stops, take-profits, liquidations, funding), time exits, and
  the ``close``/``flatten`` requests made by hand (:mod:`.controls`);
* ``snapshot``: equity and positions into the books;
* ``heartbeat``: one log line (equity, open positions, stream health) and the health record ``status`` reads;
* ``alerts`` (with ``alerts.channels``, every ``schedule.clusters`` seconds): the alert rules into the outbox
  (:mod:`.alerts`; the entries and exits are fed as they happen);
* ``markets`` (hourly, when ``exchanges`` lists Bybit or OKX): each venue's instruments read again once they are
  a day old, handed to its running stream (:meth:`.venues.VenueStreams.refresh_markets`).

:meth:`Bot.run_job` runs any of them, and a failing job cannot stop the others. Two kinds of failure are kept
apart, and both are apart from a refusal (a signal the risk rules or the exchange turned down is recorded
with its reason in the signal log):

* a **failure** (the exchange unavailable, an order rejected, a full disk...): logged, counted in
  ``job_failures``; the next run tries again;
* a **programming error** (:data:`PROGRAMMING_ERRORS`: ``TypeError``, ``AttributeError``...): logged at error
  level with its traceback, counted in ``job_errors`` with the last one's text, both shown by ``status``. Such
  an error must never pass for "no entry": with ``raise_errors`` (the environment variable
  ``LIQUIDATION_HUNTER_RAISE_JOB_ERRORS=1``, which the test suite sets) it is raised after being counted.

Entries and exits take one lock, so a position is never opened and closed by two jobs at once; an entry's
network part runs without it (a live entry may retry for about 11 s, and the exits of other symbols must not
wait): the symbol is marked in flight under the lock, so it cannot be entered twice, and the outcome is booked
under it again.

Exits are checked by the ``positions`` job, and, in paper mode, on every mark price of a symbol with an open
position (:meth:`Bot.on_mark_price`, which ``run`` hands the heatmap as a price listener): a wick between two
``positions`` runs closes the position at once, as the exchange's stop order would. A backtest hands the
broker what the price went through between two runs (:meth:`Bot.check_exits`).

**Prices** carry the time the exchange sent them (the mark-price frame's ``E``; premiumIndex's ``time`` when
polled over REST). A
symbol whose price is older than ``price_max_age_ms`` (60 s) is not traded: a signal on it is recorded once in
the signal log as ``skipped: no fresh price (...)``, the symbol is logged once when its price goes stale
(:mod:`.watch`), and the heartbeat's health lists ``stale_prices`` (symbol: age in seconds) for ``status``.

**Start-up** (:meth:`Bot.start`, :mod:`.startup`): the broker's recovery needs the exchange (live: markets,
positions, the wallet). When the exchange cannot be reached the bot does not stop: each attempt is one warning
line, the next comes after the stream's capped backoff (0.5 s doubling to 30 s, jittered), tried by the jobs, and
nothing is traded until one succeeds. Then every configured symbol the exchange does not list is warned about
once and listed in the health record (``unknown_symbols``).

**Heartbeat** (:mod:`.watch`): one line at info; while the stream is disconnected, at warning after a minute and
at error after five (with the stream's reconnect count); live, it also looks at the exchange's wallet
(``sync_account``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import structlog

from liquidation_hunter.bot.alerts import BotAlerts
from liquidation_hunter.bot.controls import carry_out_pending
from liquidation_hunter.bot.estimated import EstimatedInputs
from liquidation_hunter.bot.health import BotHealth, StreamSummary
from liquidation_hunter.bot.liquidity import LiquidityInputs
from liquidation_hunter.bot.price_history import PriceHistory
from liquidation_hunter.bot.risk import RiskManager, entry_client_id
from liquidation_hunter.bot.startup import BrokerStartup
from liquidation_hunter.bot.watch import DisconnectionWatch, StalePrices
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.data.prices import PricePath
from liquidation_hunter.signals.rules import Signal
from liquidation_hunter.trading.books import Books, SignalRecord
from liquidation_hunter.trading.errors import ExchangeUnavailable, OrderRejected, ProtectionFailed, TradingError
from liquidation_hunter.trading.model import AccountState, Broker, ClosedTrade, EntryOrder
from liquidation_hunter.trading.paper import Precision
from live_heatmap import LiveLiquidationHeatmap, Side, to_exchange_id, to_unified
from live_heatmap.common.errors import describe
from live_heatmap.common.symbols import MarketsLike
from live_heatmap.stats import SymbolStatistics
from live_heatmap.stream.status import StreamStatus

__all__ = ["JOBS", "PROGRAMMING_ERRORS", "RAISE_ERRORS_ENV", "Bot", "Decider", "Feed", "PriceFeed"]

log = structlog.get_logger("liquidation_hunter.bot")

STATUS_SYMBOLS = 10
"""``status`` shows the statistics of at most this many symbols."""
JOBS = ("prices", "clusters", "signals", "positions", "snapshot", "heartbeat")
PRICE_STALE_MS = 60_000
"""A price older than this is not traded on (the stream's mark prices come every second; a dead stream's
last price must not be)."""
PROGRAMMING_ERRORS: tuple[type[Exception], ...] = (
    TypeError, AttributeError, NameError, LookupError, AssertionError, ArithmeticError)
"""Exceptions that mean the code is wrong, not the world: counted apart from failures (module docstring)."""
RAISE_ERRORS_ENV = "LIQUIDATION_HUNTER_RAISE_JOB_ERRORS"
"""Set to ``1`` to have :meth:`Bot.run_job` raise programming errors after counting them (the tests do)."""


class Decider(Protocol):
    """What the bot needs of a strategy (``strategies.base.Strategy``)."""

    name: str

    def decide(self, symbol: str, price: float, now_ms: int) -> Signal: ...


class Feed(Protocol):
    """The bot's live stream (``live_heatmap.stream.stream.LiquidationStream``): started and stopped by the app,
    asked for its health by the heartbeat."""

    def start(self) -> object: ...

    def stop(self, timeout: float = 1.5) -> None: ...

    def status(self) -> StreamStatus: ...


class PriceFeed(Protocol):
    """Prices over REST (``liquidation_hunter.trading.exchange.ExchangeClient``)."""

    def mark_prices_at(self, symbols: Sequence[str] | None = None) -> dict[str, tuple[float, int | None]]:
        """Mark prices with the time the exchange computed each (None: not given)."""
        ...


class Bot:
    """The parts of a running bot, and its jobs (module docstring)."""

    def __init__(self, *, config: BotConfig, heatmap: LiveLiquidationHeatmap, strategy: Decider, broker: Broker,
                 books: Books, price_feed: PriceFeed | None = None, markets: MarketsLike | None = None,
                 clock: Callable[[], int], price_max_age_ms: int | None = PRICE_STALE_MS,
                 raise_errors: bool | None = None, stream: Feed | None = None,
                 precision: Precision | None = None, price_history: PriceHistory | None = None) -> None:
        self.config = config
        self.price_history = price_history
        """Recent prices, downsampled, for the page's price line (None: not kept, a backtest)."""
        self.stream = stream
        """The live stream feeding ``heatmap`` (None: fed otherwise, a backtest)."""
        self.estimated: EstimatedInputs | None = None
        """The estimated layer's live inputs (``estimated.enabled``; the ``estimated`` job polls them)."""
        self.liquidity: LiquidityInputs | None = None
        """The liquidity layer's books (``orderbook.enabled``; the ``orderbook`` job snapshots and samples them)."""
        self.statistics = SymbolStatistics.from_settings(heatmap, config.stats)
        """Each cluster's z-score against its symbol's history (``stats``): the ``clusters`` job samples the
        clusters into it; the history recorded before the start is replayed into it by the recorder's service."""
        self.alerts: BotAlerts | None = None
        """Notifications (``alerts.channels``): the ``alerts`` job runs the rules (:mod:`.alerts`)."""
        self.raise_errors = os.environ.get(RAISE_ERRORS_ENV) == "1" if raise_errors is None else raise_errors
        """Raise programming errors from :meth:`run_job` after counting them (module docstring)."""
        self.price_max_age_ms = price_max_age_ms
        """Prices older than this are left out (None: never; a backtest's sparse trade prices)."""
        self.heatmap = heatmap
        self.strategy = strategy
        self.broker = broker
        self.books = books
        self.price_feed = price_feed
        self.markets = markets
        self.clock = clock
        self.risk = RiskManager(config.risk, books, precision)
        """Sizing rounds down to ``precision``'s steps and refuses what is below its minimums (None: no rules)."""
        self._trading = threading.Lock()
        self._prices: dict[str, tuple[float, int]] = {}
        self._prices_lock = threading.Lock()
        self.runs: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        """Programming errors by job (module docstring)."""
        self.last_error: str | None = None
        self.skipped: Counter[str] = Counter()
        self.entries = 0
        self.exits = 0
        self._active = 0
        self._idle = threading.Condition()
        self.started_at = clock()
        self._halt_logged: str | None = None
        self._last_signal: dict[str, tuple[str, str]] = {}
        self._held: dict[str, str] = {}
        """Exchange id -> unified symbol of the open positions, as of ``_held_at`` (entries, exits)."""
        self._held_at: tuple[int, int] | None = None
        self._entering: set[str] = set()
        """Symbols whose entry is being sent (without the lock; module docstring)."""
        self._rejected: Counter[str] = Counter()
        """Refused entries by client id: logged at error once, then at debug with the count."""
        self._stale = StalePrices()
        self._startup = BrokerStartup(broker, lock=self._trading, on_exit=self._log_exit, markets=markets,
                                      symbols=config.symbols)
        self._disconnected = DisconnectionWatch(self.started_at)

    @property
    def ready(self) -> bool:
        """The broker has started (live: the exchange answered); nothing is traded before."""
        return self._startup.ready

    @property
    def unknown_symbols(self) -> list[str]:
        """Configured symbols the exchange does not list (markets loaded)."""
        return self._startup.unknown_symbols

    @property
    def stale_prices(self) -> dict[str, float]:
        """Symbols whose last price is too old to trade on: age in seconds, at the last signals run."""
        return self._stale.ages

    # ------------------------------------------------------------------ running jobs

    def run_job(self, name: str) -> None:
        """Run job ``name`` once; failures are logged and counted, never raised; programming errors are logged
        and counted apart, and raised only with ``raise_errors`` (module docstring)."""
        job = getattr(self, f"job_{name}")
        with self._idle:
            self._active += 1
        started = time.monotonic()
        try:
            job(self.clock())
            self.runs[name] += 1
        except PROGRAMMING_ERRORS as exc:
            self.errors[name] += 1
            error = describe(exc)
            self.last_error = f"{name}: {error}"
            log.error("job_error", job=name, error=error, errors=self.errors[name], exc_info=True)
            if self.raise_errors:
                raise
        except Exception as exc:  # a job's failure must not stop the loop
            self.failures[name] += 1
            log.error("job_failed", job=name, error=describe(exc), failures=self.failures[name],
                      exc_info=not isinstance(exc, ExchangeUnavailable | OrderRejected))
        finally:
            elapsed = time.monotonic() - started
            if elapsed > 5.0:
                log.warning("job_slow", job=name, seconds=round(elapsed, 2))
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is running; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    def start(self) -> None:
        """Recover the broker (finish what a crash interrupted; live: reconcile with the exchange). When the
        exchange cannot be reached, the jobs try again (module docstring). Raises :class:`OrderRejected` when
        the exchange refuses (e.g. the API key)."""
        now = self.clock()
        self._startup.connect(now)
        # a first health record at once: `status` shows the stream and its counters before the first heartbeat
        self.books.set_health(self.health(now).to_dict(), now)
        positions = self.broker.positions()
        log.info("bot_started", mode=self.config.mode, broker=self.broker.name, strategy=self.strategy.name,
                 symbols=self.config.symbols if self.config.symbols == "all" else len(self.config.symbols),
                 open_positions=len(positions), wallet=round(self.books.wallet(), 2),
                 halted=self.books.halt_reason(), ready=self.ready)

    # ------------------------------------------------------------------ prices

    def universe(self) -> list[str]:
        """The unified symbols the bot trades: the config's list, or every symbol the stream has seen."""
        if self.config.symbols != "all":
            return list(self.config.symbols)
        return [to_unified(s, self.markets) for s in self.heatmap.symbols()]

    def prices(self, now_ms: int, held: Iterable[str] | None = None) -> dict[str, float]:
        """Current prices by unified symbol: the stream's mark prices, else the last REST poll; stale ones left out.

        ``held``: the symbols of the open positions, if the caller has just read them."""
        limit = self.price_max_age_ms
        return {s: p for s, (p, at) in self.price_times(held).items() if limit is None or now_ms - at <= limit}

    def price_times(self, held: Iterable[str] | None = None) -> dict[str, tuple[float, int]]:
        """Every known price with the time the exchange sent it, fresh or not (:meth:`prices` filters)."""
        if self.config.exchange.mark_price:
            if held is None:
                held = [p.symbol for p in self.broker.positions()]
            symbols: Iterable[str] = {*self.universe(), *held} if held else self.universe()
            price_at, markets = self.heatmap.get_price_at, self.markets  # markets: they may load later
            out: dict[str, tuple[float, int]] = {}
            for symbol in symbols:
                entry = price_at(to_exchange_id(symbol, markets))
                if entry is not None:
                    out[symbol] = entry
            return out
        with self._prices_lock:
            return dict(self._prices)

    def job_prices(self, now_ms: int) -> None:
        """One batched REST request for every mark price (without the mark-price stream)."""
        if self.price_feed is None:
            return
        wanted = None if self.config.symbols == "all" else list(self.config.symbols)
        fetched = {symbol: (price, now_ms if at is None else at)  # the exchange's time; ours without one
                   for symbol, (price, at) in self.price_feed.mark_prices_at(wanted).items()}
        with self._prices_lock:
            self._prices.update(fetched)
        for symbol, (price, at) in fetched.items():
            if self.config.symbols != "all" or self.heatmap.event_count(symbol):
                self.heatmap.update_price(to_exchange_id(symbol, self.markets), price, timestamp_ms=at)

    # ------------------------------------------------------------------ clusters and signals

    def job_clusters(self, now_ms: int) -> None:
        symbols = self.heatmap.symbols()  # the ones this rebuild sweeps: their clusters now are the sweep's
        self.heatmap.rebuild(now_ms=now_ms)
        self.statistics.sample(now_ms, symbols)  # what any reader gets until the next sweep: it moves no trade

    def job_signals(self, now_ms: int) -> None:
        """Ask the strategy about every symbol with a price; enter where the risk rules allow.

        A symbol for which the strategy's optional ``may_signal`` (``strategies.base.Strategy``) is False is not
        asked about: the answer would be "nothing to do", which the bot neither acts on nor records. A symbol
        whose price is stale is asked, and its signal recorded as skipped (module docstring).
        """
        if not self._startup.is_ready(now_ms):
            return
        halted = self.books.halt_reason()
        if halted is not None:
            if halted != self._halt_logged:
                log.warning("entries_halted", reason=halted)
                self._halt_logged = halted
            return
        self._halt_logged = None
        with self._trading:  # positions change only under this lock: read them once, update on entry
            open_symbols = {p.symbol for p in self.broker.positions()} | self._entering
        known = self.price_times(open_symbols)
        limit = self.price_max_age_ms
        stale = {s: now_ms - at for s, (_, at) in known.items() if limit is not None and now_ms - at > limit}
        self._stale.note(stale)
        prices = {s: p for s, (p, _) in known.items() if s not in stale}
        may_signal = getattr(self.strategy, "may_signal", None)  # optional (strategies.base.Strategy)
        for symbol in self.universe():
            if symbol not in known or symbol in open_symbols:
                continue
            if may_signal is not None and not may_signal(symbol, now_ms):
                continue
            price = known[symbol][0]
            with self._trading:
                signal = self.strategy.decide(symbol, price, now_ms)
                if signal.direction == 0:
                    continue
                if symbol in stale:
                    assert limit is not None
                    self._record(signal, price, f"skipped: no fresh price (the last is {stale[symbol] / 1000:.0f} s "
                                 f"old; limit {limit / 1000:g} s)", now_ms)
                    continue
                order, action = self._plan(signal, prices, open_symbols, now_ms)
                if order is None:
                    self._record(signal, price, action, now_ms)
                    continue
                self._entering.add(symbol)
            try:
                action = self._enter(order, signal, price, now_ms)  # the network part: without the lock
            finally:
                with self._trading:
                    self._entering.discard(symbol)
            with self._trading:
                if action == "entered":
                    open_symbols.add(symbol)
                self._record(signal, price, action, now_ms)

    def _plan(self, signal: Signal, prices: Mapping[str, float], open_symbols: set[str],
              now_ms: int) -> tuple[EntryOrder | None, str]:
        """The risk rules and the sizing: the order to send, or None and why not."""
        account = self.broker.account(prices, now_ms)
        block = self.risk.entry_block(signal.symbol, account, open_symbols, now_ms)
        if block is not None:
            return None, f"skipped: {block}"
        sizing = self.risk.size(signal, account)
        if sizing.quantity <= 0:
            return None, f"skipped: {sizing.reason}"
        return self.risk.entry_order(signal, sizing, strategy=self.strategy.name, now_ms=now_ms), "entered"

    def _enter(self, order: EntryOrder, signal: Signal, price: float, now_ms: int) -> str:
        """Send the entry through the broker; what happened, as the signal log's action."""
        try:
            position = self.broker.open(order, price, now_ms)
        except ProtectionFailed as exc:
            self.entries += 1
            refused = exc.kind.replace("_", "-")
            outcome = "closed" if exc.closed else "closing"
            log.error("entry_unprotected", symbol=order.symbol, client_id=order.client_id, exit=refused,
                      error=exc.detail, action=f"position {outcome} at market")
            return f"entered then {outcome}: {refused} refused: {exc.detail}"
        except OrderRejected as exc:
            self._rejected[order.client_id] += 1
            times = self._rejected[order.client_id]
            # once per signal at error; its repeats (every signals run) at debug, counted
            (log.error if times == 1 else log.debug)(
                "entry_rejected", symbol=signal.symbol, client_id=order.client_id, side=order.side,
                quantity=order.quantity, error=str(exc), times=times)
            return f"rejected: {exc}"
        if position is None:
            return "skipped: this signal was already traded"
        self.entries += 1
        if self.alerts is not None:
            self.alerts.event("entry", to_exchange_id(position.symbol, self.markets),
                              f"{position.symbol}: entered {order.side} {position.quantity:g} at "
                              f"{position.entry_price:.6g} (stop {position.stop_loss:.6g}, take "
                              f"{position.take_profit:.6g})", now_ms, key=position.client_id,
                              data={"client_id": position.client_id, "side": order.side,
                                    "quantity": position.quantity, "entry": position.entry_price,
                                    "stop_loss": position.stop_loss, "take_profit": position.take_profit})
        log.info("position_opened", symbol=position.symbol, side=order.side,
                 quantity=position.quantity, entry=position.entry_price,
                 stop_loss=position.stop_loss, take_profit=position.take_profit,
                 liquidation=round(position.liquidation_price, 8), client_id=position.client_id,
                 strength=round(signal.strength, 3), reason=signal.reason)
        return "entered"

    def _record(self, signal: Signal, price: float, action: str, now_ms: int) -> bool:
        """Write the signal and what the bot did into the signal log, once per idea and kind of outcome
        ("cooldown ... (3.0 min left)" is one kind); False when it was recorded already."""
        level = signal.level  # the cluster's, or the estimated zone's
        said = (entry_client_id(signal, self.strategy.name), action.split(" (", maxsplit=1)[0])
        if self._last_signal.get(signal.symbol) == said:
            return False  # the same idea, blocked for the same reason as last time: recorded once
        self._last_signal[signal.symbol] = said
        self.books.record_signal(SignalRecord(
            at=now_ms, symbol=signal.symbol, direction=signal.direction, strength=signal.strength,
            entry=signal.entry, stop_loss=signal.stop_loss, take_profit=signal.take_profit, level=level,
            strategy=self.strategy.name, reason=signal.reason, action=action))
        log.info("signal", symbol=signal.symbol, direction=signal.direction, strength=round(signal.strength, 3),
                 price=price, level=level, action=action)
        return True

    # ------------------------------------------------------------------ positions

    def job_positions(self, now_ms: int) -> None:
        """Exits: the broker acts on prices (stops, take-profits, liquidations, funding); then time exits and the
        close/flatten requests made by hand (:mod:`.controls`)."""
        if not self._startup.is_ready(now_ms):
            return
        prices = self.prices(now_ms)
        if self.price_history is not None:  # the page's price line
            for symbol, mark in prices.items():
                self.price_history.record(to_exchange_id(symbol, self.markets), mark, now_ms)
        with self._trading:
            for trade in self.broker.on_prices(prices, now_ms):
                self._log_exit(trade)
            for position in self.broker.positions():
                if not self.risk.time_exit_due(position.opened_at, now_ms):
                    continue
                price = prices.get(position.symbol)
                if price is None:
                    log.warning("time_exit_waits_for_price", symbol=position.symbol, client_id=position.client_id)
                    continue
                closed = self.broker.close(position, "time_exit", price, now_ms)
                if closed is not None:
                    self._log_exit(closed)
            carry_out_pending(self.broker, self.books, prices, now_ms, on_exit=self._log_exit)  # close/flatten by hand
            self.risk.account_block(self.broker.account(prices, now_ms), now_ms)

    def check_exits(self, paths: Mapping[str, PricePath], now_ms: int) -> None:
        """The broker's exit checks over what each symbol's price (unified symbol) went through since the last
        check (a paper broker: stop first when a path reached both, see :mod:`~.trading.paper`); a broker
        without paths is given each path's last price."""
        with self._trading:
            trades = self.broker.on_price_paths(paths, now_ms)
            for trade in trades:
                self._log_exit(trade)

    def on_mark_price(self, symbol: str, price: float, at_ms: int) -> None:
        """A mark price of ``symbol`` (exchange id) arrived: with a position open there, its exits are checked
        now (:meth:`check_exits`, at the bot's clock), not at the next ``positions`` run. Otherwise nothing
        but a dict lookup (the open positions are read again only after an entry or an exit). A failure is
        logged and counted under ``mark_price``; it never reaches the stream. ``at_ms``: the price's time."""
        seen = (self.entries, self.exits)
        try:
            if seen != self._held_at:
                self._held = {to_exchange_id(p.symbol, self.markets): p.symbol for p in self.broker.positions()}
                self._held_at = seen
            held = self._held.get(symbol)
            if held is not None:
                self.check_exits({held: PricePath.at(price)}, self.clock())
        except PROGRAMMING_ERRORS as exc:
            self.errors["mark_price"] += 1
            self.last_error = f"mark_price: {describe(exc)}"
            log.error("job_error", job="mark_price", error=self.last_error, exc_info=True)
            if self.raise_errors:
                raise
        except Exception as exc:  # noqa: BLE001 - the stream's thread must go on; the positions job retries
            self.failures["mark_price"] += 1
            log.error("mark_price_exits_failed", symbol=symbol, price=price, at=at_ms,
                      error=describe(exc), failures=self.failures["mark_price"])

    def _log_exit(self, trade: ClosedTrade) -> None:
        self.exits += 1
        p = trade.position
        if self.alerts is not None:
            self.alerts.event("exit", to_exchange_id(p.symbol, self.markets),
                              f"{p.symbol}: closed ({trade.reason}) at {trade.exit_price:.6g}, "
                              f"PnL {trade.net_pnl:+.2f}",
                              self.clock(), key=p.client_id,
                              data={"client_id": p.client_id, "reason": trade.reason, "exit": trade.exit_price,
                                    "pnl": trade.net_pnl})
        log.info("position_closed", symbol=p.symbol, reason=trade.reason, side=Side.of_direction(p.direction),
                 quantity=p.quantity, entry=p.entry_price, exit=trade.exit_price, pnl=round(trade.net_pnl, 4),
                 client_id=p.client_id)

    # ------------------------------------------------------------------ books and health

    def account(self, now_ms: int) -> AccountState:
        return self.broker.account(self.prices(now_ms), now_ms)

    def job_snapshot(self, now_ms: int) -> None:
        self.books.snapshot(self.account(now_ms))

    def health(self, now_ms: int, prices: Mapping[str, float] | None = None) -> BotHealth:
        """Stream health and loop counters, as ``status`` shows them; ``prices``: :meth:`prices` at ``now_ms``, if
        the caller has them."""
        ingest = self.heatmap.status()
        stream = self.stream.status() if self.stream is not None else None
        symbols = [p.symbol for p in self.broker.positions()]
        if prices is None:
            prices = self.prices(now_ms, symbols)
        held = {s: prices.get(s) for s in symbols}
        balance = getattr(self.broker, "exchange_balance", None)  # live: the exchange's wallet at the last look
        return BotHealth(
            pid=os.getpid(), mode=self.config.mode, broker=self.broker.name, strategy=self.strategy.name,
            started_at=self.started_at, connected=stream is not None and stream.connected,
            events=ingest.accepted, rejected=ingest.rejected, symbols=ingest.symbols,
            stream=None if stream is None else StreamSummary(stream.connected, stream.reconnects),
            prices=len(prices), held_prices=held, entries=self.entries, exits=self.exits,
            job_runs=dict(self.runs), job_failures=dict(self.failures), jobs_skipped=dict(self.skipped),
            job_errors=dict(self.errors), last_job_error=self.last_error,
            ready=self.ready, stale_prices=dict(self.stale_prices), unknown_symbols=tuple(self.unknown_symbols),
            exchange_wallet=None if balance is None else balance.wallet,
            exchange_available=None if balance is None else balance.available,
            disconnected_s=self._disconnected.seconds(now_ms),
            # a VenueStreams (the bot's streams, one per venue) says how each venue does; a bare stream does not
            venues=tuple(venues()) if (venues := getattr(self.stream, "venues", None)) is not None else (),
            estimated=None if self.estimated is None else self.estimated.status(),
            orderbook=None if self.liquidity is None else self.liquidity.status(),
            statistics=self._statistics(),
            alerts=None if self.alerts is None else self.alerts.status(),
            # a bot on a feed (issue 17): its cursors and gaps
            feed=feed_status() if (feed_status := getattr(self.stream, "feed_status", None)) is not None else None,
        )

    def _statistics(self) -> dict[str, Any]:
        """The summary of the symbols with clusters at the last clusters job (``status``): the ``STATUS_SYMBOLS``
        with the most at risk ``high`` or above, then the most notional. Read from what the clusters job kept: a
        read of the heatmap here could change the clusters the strategy reads next (``SymbolStatistics``)."""
        rows = self.statistics.latest_summaries()
        return {"symbols_with_clusters": len(rows), "min_history": self.statistics.baseline.min_history,
                "at": self.statistics.latest_at, "symbols": rows[:STATUS_SYMBOLS]}

    def job_estimated(self, now_ms: int) -> None:
        """Open interest, REST fills and ready bars of the estimated layer (:mod:`.estimated`); nothing without it."""
        if self.estimated is not None:
            self.estimated.poll(now_ms)

    def job_orderbook(self, now_ms: int) -> None:
        """Snapshots wanted by the books and the samples into the liquidity layer (:mod:`.liquidity`)."""
        if self.liquidity is not None:
            self.liquidity.poll(now_ms)

    def job_orderbook_record(self, now_ms: int) -> None:
        """The liquidity layer's recorded depth runs appended to ``storage.events`` (:mod:`.liquidity`)."""
        if self.liquidity is not None:
            self.liquidity.record(now_ms)

    def job_alerts(self, now_ms: int) -> None:
        """The alert rules (:mod:`.alerts`): only inserts into the outbox, the sender thread does the network."""
        if self.alerts is not None:
            self.alerts.poll(now_ms)

    def job_markets(self, now_ms: int) -> None:
        """Each venue's instruments read again once a day old (a stream that is not the bot's venues: nothing)."""
        refresh = getattr(self.stream, "refresh_markets", None)
        if refresh is not None:
            refresh(now_ms)

    def job_heartbeat(self, now_ms: int) -> None:
        """The health record and one log line: at info, or while the stream is disconnected at warning after
        a minute and at error after five (module docstring). Live: the exchange's wallet first."""
        sync = getattr(self.broker, "sync_account", None)  # live only: the exchange's wallet into the books
        if sync is not None and self._startup.is_ready(now_ms):
            try:
                sync(now_ms)
            except TradingError as exc:
                log.warning("wallet_sync_failed", error=str(exc), action="trying again at the next heartbeat")
        prices = self.prices(now_ms)
        account = self.broker.account(prices, now_ms)
        stream = self.stream.status() if self.stream is not None else None
        self._disconnected.observe(stream, now_ms)
        health = replace(self.health(now_ms, prices), equity=account.equity)
        self.books.set_health(health.to_dict(), now_ms)
        down_ms = self._disconnected.down_ms(now_ms)
        level = self._disconnected.level(now_ms)
        extra: dict[str, object] = {} if stream is None or stream.connected else {
            "disconnected_s": round(down_ms / 1000), "reconnects": stream.reconnects}
        if not self.ready:
            extra["waiting_for"] = "the exchange (not trading)"
        level("heartbeat", equity=round(account.equity, 2), wallet=round(account.wallet, 2),
              open_positions=account.positions, connected=health.connected, events=health.events,
              prices=health.prices, failures=sum(self.failures.values()),
              errors=sum(self.errors.values()), halted=self.books.halt_reason(), **extra)

    def stop(self, *, reason: str) -> None:
        """Flush: a last snapshot and a health record saying the bot stopped."""
        now = self.clock()
        try:
            self.job_snapshot(now)
            self.books.set_health(replace(self.health(now), stopped=reason).to_dict(), now)
        except Exception as exc:  # noqa: BLE001 - stopping must finish
            log.error("final_flush_failed", error=describe(exc))

