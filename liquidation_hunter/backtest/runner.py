"""``run_backtest``: the live bot's own parts driven on a simulated clock over recorded liquidations and prices.

What runs is what ``liquidation-hunter run`` runs in paper mode: a
:class:`~live_heatmap.LiveLiquidationHeatmap` with the config's ``heatmap`` section, the
:class:`~liquidation_hunter.LiquidationHunter`, the strategy from :func:`strategies.make_strategy`, a
:class:`~liquidation_hunter.trading.paper.PaperBroker` on in-memory :class:`~liquidation_hunter.trading.books.Books`,
and :class:`~liquidation_hunter.bot.engine.Bot`, whose jobs are called with :meth:`Bot.run_job`. There is no
exchange client, no stream and no scheduler; the clock every part reads is a :class:`SimulatedClock`. What is
replayed (the events, the symbols traded, the sessions; rules below) is chosen by :mod:`.inputs`.

**The simulated clock.** Each job ``clusters``, ``signals``, ``positions``, ``snapshot`` runs on its own grid,
``origin + k * schedule.<job>`` (``origin``: ``start_ms``, else the first data time floored to the minute).
At a moment ``t`` of any grid, first every liquidation with ``trade_time <= t`` is ingested (``ingest_many``)
and every traded symbol's price is set to its latest point at or before ``t`` (``heatmap.update_price``: the
bot reads prices as it does from the mark-price stream, so the backtest config has ``exchange.mark_price:
true``, and no REST price, hence no staleness limit, is involved); then the jobs due at ``t`` run in the live
scheduler's order: clusters, signals, positions, snapshot.

**Prices between two positions checks are not missed.** Before each positions run the broker is shown what
each open position's price went through since the last run (or since its entry): every trade, or each kline
closed in between with its high and low (:class:`~liquidation_hunter.data.prices.PricePath`, one numpy min
and max over the points), as the live paper bot checks its exits on every mark price. Inside one interval the
order is unknown, so the worse is assumed: a liquidation level reached counts before a stop, **a stop before a
take-profit** reached in the same interval (or the same bar). A stop fills at its level worsened by the
slippage, or where the path first reached it when that is worse (the first trade beyond it; the open of a bar
that opened beyond it); a take-profit at its level; the exit is booked at the check's moment. A kline is known
only once closed: its close is the price from its ``close_time`` on, its wick counts from then too (no
look-ahead, :mod:`liquidation_hunter.data.prices.series`). The end of a session checks the last interval before
closing what is still open.

**Warm-up.** With ``start_ms`` (``--from``), the events of the heatmap's horizon before it (``[start_ms -
heatmap.horizon_minutes, start_ms)``) go into the heatmap before the first job, as ``run`` warm-starts from
its recording; nothing before ``start_ms`` is traded on and no price before it is used. The result's
``inputs["warm_up"]`` says from when and how many events. Nothing reads the wall clock, so the same inputs
give the same books. ``heartbeat`` (a log line and the health record for ``status``) does not run. The bot's
log lines are not printed: its warnings and errors (a failing job...) are kept in
:attr:`BacktestResult.problems` (structlog's configuration is swapped for the replay and restored after).

**Sessions.** Recordings have holes (the shipped one: 14 sessions over 18 months). Data more than
``gap_minutes`` apart split the replay into sessions; no job runs in between (the bot is not running when
nothing was recorded). At the end of each session the open positions are closed at market at the last price
(books reason ``manual``, reported as ``end_of_data``), then ``positions`` and ``snapshot`` run once more:
a position is never carried through a gap, whose prices nobody knows. Prices do not carry over a gap either:
in a session a symbol has no price (so no signal) until its first price point in that session. Events do
carry over: the heatmap keeps them for its horizon, as a live bot would.

**Which symbols trade.** Those of ``config.symbols`` that have prices (``symbols: all``: every symbol that
has prices); ``symbols=`` narrows both the events and the symbols. Every event is ingested; events of symbols
without prices are reported and cannot trade.

**Work that changes nothing is not done**, so a replay runs many thousand times faster than real time. Each
rule below leaves the books exactly as running every job at every moment would
(``tests/liquidation_hunter/backtest/test_backtest.py`` compares the two against a bot driven by hand):

* a clusters run when no event is replayed (nothing to group: a history backtest without ``--events``), and
  one whose clusters no signals run reads (the next signals run comes after the next clusters
  run, or after ``heatmap.update_interval``) is skipped (a run that is not skipped is the live bot's: it
  regroups only the symbols whose events changed, see :meth:`LiveLiquidationHeatmap.rebuild`);
* events are ingested before the first job that runs at a moment (the jobs alone read them), and events of
  symbols without prices, which no job reads (no price, no signal), after the last session, in one batch
  (the clusters job would otherwise regroup them, for nobody);
* a positions run is skipped while no position is open (the last run, or the entry check, saw the same
  equity), and while the open positions, their prices, the UTC day and the funding period are what the last
  run saw and no time exit is due. A new price point (a wick too) is a new price: that run is not skipped,
  and a skipped run leaves its points to the next run's path, which then holds the same points.

**Market rules.** Sizing and the paper broker use Binance's market rules as a live bot does (``rules``, by
default the ones shipped with the package, :mod:`liquidation_hunter.trading.markets`): quantities are rounded
down to the step, exit levels to the tick, and a signal whose size falls below the market's minimum quantity
or minimum order value is refused for size (``skipped: too small for the exchange: ...`` in the signal log).
A traded symbol the rules do not list is replayed (its signals are recorded) but never entered
(``skipped: no market rules ...``); the result names it in :attr:`BacktestResult.without_rules`.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog

from liquidation_hunter.backtest.inputs import (
    BacktestError,
    backtest_config,
    choose_symbols,
    config_hash,
    describe_range,
    events_digest,
    exchange_id,
    select_events,
    split_sessions,
)
from liquidation_hunter.backtest.progress import ProgressBar
from liquidation_hunter.backtest.result import BacktestResult, EquityPoint, OpenRecord, TradeRecord
from liquidation_hunter.bot.assembly import configured_strategy
from liquidation_hunter.bot.engine import Bot
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.data.depth_replay import DepthSource, open_depth_replay
from liquidation_hunter.data.prices import PricePath, PriceSeries
from liquidation_hunter.signals.hunter import LiquidationHunter
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.exchange import ExchangeClient
from liquidation_hunter.trading.markets import listed, shipped_rules
from liquidation_hunter.trading.model import Position
from liquidation_hunter.trading.paper import PaperBroker
from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap, Side, to_exchange_id
from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.orderbook.layer import LiquidityLayer

__all__ = [
    "DEFAULT_GAP_MINUTES",
    "JOB_ORDER",
    "BacktestError",
    "BacktestResult",
    "EquityPoint",
    "OpenRecord",
    "SimulatedClock",
    "TradeRecord",
    "backtest_config",
    "config_hash",
    "run_backtest",
]

DEFAULT_GAP_MINUTES = 10.0
JOB_ORDER = ("clusters", "signals", "positions", "snapshot")
"""The jobs a backtest runs, in the order they run at equal times (the live scheduler's order)."""
END_OF_DATA = "end_of_data"
DAY_MS = 86_400_000

Progress = Callable[[float], None]
"""Called with the share of the replay done, 0..1."""


class SimulatedClock:
    """The clock every part of a backtest reads: UTC epoch ms, moved by the replay."""

    __slots__ = ("now",)

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@contextmanager
def _captured_logs(problems: list[str]) -> Iterator[None]:
    """The bot's log lines during a replay: warnings and errors are kept (as ``event: detail``), the rest
    dropped. The caller's structlog configuration is restored afterwards."""
    old = structlog.get_config()

    def keep(_logger: Any, method: str, event: Any) -> Any:
        detail = ", ".join(f"{k}={event[k]}" for k in sorted(event) if k not in ("event", "exc_info"))
        problems.append(f"{method}: {event.get('event')}" + (f" ({detail})" if detail else ""))
        raise structlog.DropEvent

    structlog.configure(processors=[keep], wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.ReturnLoggerFactory(), cache_logger_on_first_use=False)
    try:
        yield
    finally:
        structlog.configure(**old)


# ---------------------------------------------------------------------- the replay


def run_backtest(config: BotConfig, events: Iterable[LiquidationEvent], prices: PriceSeries, *,
                 start_ms: int | None = None, end_ms: int | None = None, progress: bool | Progress = False,
                 symbols: Sequence[str] | None = None, gap_minutes: float = DEFAULT_GAP_MINUTES,
                 inputs: Mapping[str, Any] | None = None, rules: ExchangeClient | None = None,
                 estimated: Mapping[str, Sequence[Bar]] | None = None,
                 depth: Sequence[str | Path] | None = None) -> BacktestResult:
    """Replay ``events`` and ``prices`` through the bot of ``config`` (module docstring).

    ``start_ms`` / ``end_ms`` keep data with ``start_ms <= time < end_ms``; events are replayed by trade
    time, in one order whatever the input's. ``symbols`` (either form) keeps those symbols' events and trades
    only them. ``progress``: True draws a bar on stderr when it is a terminal; a callable is given the share
    done. ``gap_minutes``: data farther apart split the replay into sessions. ``inputs`` (e.g. file names and
    hashes) is copied into the result for the report. ``rules``: the market rules (module docstring; None: the
    shipped ones). ``estimated``: model bars per symbol (time order) for the hunter's estimated layer: a bar is
    applied at its close time, with the prices (the signals after it read it), bars before the start at the
    first moment (a warm-up, never traded on). ``depth``: depth recordings (issue 15, what
    :func:`live_heatmap.orderbook.recording.load_depth_recording` reads, sampled every second) or one event store
    a bot recorded depth to (at its recording interval), replayed into the hunter's liquidity layer (the config's
    ``orderbook`` bins and wall settings; :func:`~liquidation_hunter.data.depth_replay.open_depth_replay`) in time
    order with the prices and events (``hunter.wall``; an update received at or before a
    moment is applied before the signals of that moment). Raises :class:`BacktestError` when there is nothing to
    replay or no symbol with prices to trade.
    """
    began = time.perf_counter()
    if not (isinstance(gap_minutes, int | float) and gap_minutes > 0 and math.isfinite(gap_minutes)):
        raise BacktestError(f"gap_minutes: expected a positive number of minutes, got {gap_minutes!r}")
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise BacktestError(f"the end ({end_ms}) must come after the start ({start_ms})")
    wanted = None if symbols is None else {exchange_id(s) for s in symbols}
    events = events if isinstance(events, Sequence) else list(events)
    replay = select_events(events, start_ms, end_ms, wanted)
    warm_from = None if start_ms is None else start_ms - round(config.heatmap.horizon_minutes * 60_000)
    warm = [] if start_ms is None else select_events(events, warm_from, start_ms, wanted)
    prices = prices.window(start_ms, end_ms)
    if wanted is not None:
        prices = prices.only(wanted)
    if not replay and not len(prices):
        raise BacktestError(f"nothing to replay: no event and no price {describe_range(start_ms, end_ms)}")
    universe, tradable, unpriced = choose_symbols(config, replay, prices, wanted)
    rules = _shipped_rules() if rules is None else rules
    without_rules = tuple(listed(rules, tradable)[1])
    bt_config = backtest_config(config, universe)
    traded = [to_exchange_id(s) for s in tradable]
    prices = prices.only(traded)
    sessions = split_sessions(replay, prices, gap_minutes)
    if not sessions:
        raise BacktestError("nothing to replay: no event and no price in the chosen time range")
    origin = start_ms if start_ms is not None else sessions[0][0] // 60_000 * 60_000
    counts = Counter(e.symbol for e in replay)
    info: dict[str, Any] = {"events_sha256": events_digest(replay), "prices_sha256": prices.digest(),
                            "price_files": [{"name": s.name, "sha256": s.sha256, "format": s.format,
                                             "points": s.points} for s in prices.sources]}
    if start_ms is not None:
        info["warm_up"] = {"from_ms": warm_from, "events": len(warm), "events_sha256": events_digest(warm)}
    info.update(inputs or {})

    problems: list[str] = []
    with _captured_logs(problems):
        books = None if depth is None else open_depth_replay(list(depth), traded, layer=LiquidityLayer(
            bin_width=bt_config.orderbook.bin_pct / 100.0, wall_k=bt_config.orderbook.wall_k,
            wall_floor=bt_config.orderbook.wall_floor))
        state = _Replay(bt_config, traded, replay, prices, origin, rules=rules, warm=warm, estimated=estimated,
                        depth=books)
        state.run(sessions, _progress(progress))
        result = state.result()
    return BacktestResult(
        config=bt_config, config_hash=config_hash(bt_config), inputs=info, start_ms=sessions[0][0],
        end_ms=sessions[-1][1], sessions=tuple(sessions), symbols=tuple(tradable),
        events_by_symbol=dict(sorted(counts.items())),
        price_points={s: prices.count(s) for s in prices.symbols}, unpriced=tuple(unpriced),
        without_rules=without_rules,
        problems=tuple(problems), wall_seconds=time.perf_counter() - began, **result)


@functools.cache
def _shipped_rules() -> ExchangeClient:
    """The shipped market rules, parsed once a process (ccxt's markets from the JSON file, some milliseconds): a
    sweep and the sensitivity replays run many backtests. A replay only reads them (steps, ticks, minimums)."""
    return shipped_rules()


def _progress(progress: bool | Progress) -> Progress | None:
    if callable(progress):
        return progress
    if progress and sys.stderr.isatty():
        return ProgressBar(sys.stderr)
    return None


class _Replay:
    """One replay's state: the bot, the clock and the read positions in the data."""

    def __init__(self, config: BotConfig, traded: list[str], events: list[LiquidationEvent], prices: PriceSeries,
                 origin: int, *, rules: ExchangeClient, warm: Sequence[LiquidationEvent] = (),
                 estimated: Mapping[str, Sequence[Bar]] | None = None, depth: DepthSource | None = None) -> None:
        self.config = config
        self.depth = depth
        self.origin = origin
        self.clock = SimulatedClock(origin)
        heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=self.clock)
        heatmap.track(traded)
        self.heatmap = heatmap
        self.books = Books.open(":memory:", mode="paper", starting_wallet=config.risk.starting_wallet, now_ms=origin)
        self.broker = PaperBroker.from_risk(self.books, config.risk, precision=rules)
        layer = None
        if estimated is not None or config.hunter.target != "observed":
            layer = EstimatedLayer()
        self.layer = layer
        bars = {} if estimated is None else {exchange_id(s): list(b) for s, b in estimated.items()}
        self.model_bars = [(s, b, [x.close_time for x in b]) for s, b in bars.items() if s in traded]
        """Per symbol with model bars: (symbol, bars, their close times); applied up to the clock (feed_prices)."""
        self.bars_read = [0] * len(self.model_bars)
        strategy = configured_strategy(config, LiquidationHunter(
            config.hunter, heatmap, estimated=layer, liquidity=None if depth is None else depth.layer))
        self.bot = Bot(config=config, heatmap=heatmap, strategy=strategy, broker=self.broker, books=self.books,
                       clock=self.clock, price_max_age_ms=None,  # the replay decides which prices hold
                       precision=rules)
        priced = set(traded)
        self.warm = [e for e in warm if e.symbol in priced]
        """The heatmap's horizon before the start: ingested before the first job, never traded on."""
        self.events = [e for e in events if e.symbol in priced]
        self.event_times = [e.trade_time for e in self.events]
        self.next_event = 0
        self.others = [e for e in (*warm, *events) if e.symbol not in priced]
        self.other_times = [e.trade_time for e in self.others]
        self.next_other = 0
        self.price_symbols = list(traded)
        self.price_times = [prices.times(s).tolist() for s in traded]
        self.price_values = [prices.prices(s).tolist() for s in traded]
        self.price_read = [0] * len(traded)
        self.price_index = {s: k for k, s in enumerate(traded)}
        self.price_bars = [prices.bars(s) for s in traded]
        self.exits_checked = [0] * len(traded)
        """Per symbol, the points up to which stops and take-profits were checked (:meth:`exit_paths`)."""
        self.version = dict.fromkeys(traded, 0)
        self.intervals = {name: max(1, round(getattr(config.schedule, name) * 1000)) for name in JOB_ORDER}
        self.update_ms = config.heatmap.update_interval * 1000.0
        self.skipped: Counter[str] = Counter()
        self.forced: set[str] = set()
        self.forced_closes = 0
        self.accepted = 0
        self.duplicates = 0
        self._positions_seen: object = None
        self._ids: dict[str, str] = {}

    # -------------------------------------------------------------- feeding data

    def feed_events(self, t: int) -> None:
        """Ingest the traded symbols' events traded at or before ``t`` (one ``ingest_many``)."""
        self.next_event = self._ingest(self.events, self.event_times, self.next_event, t)

    def feed_others(self, t: int) -> None:
        """Ingest the other symbols' events traded at or before ``t``. Nothing reads them (no price, no
        signal), so they go in after the last session, in one batch, rather than moment by moment."""
        self.next_other = self._ingest(self.others, self.other_times, self.next_other, t)

    def _ingest(self, events: list[LiquidationEvent], times: list[int], i: int, t: int) -> int:
        """Ingest ``events[i:]`` traded at or before ``t``; returns the index of the first one left."""
        j = bisect_right(times, t, i)
        if j > i:
            report = self.heatmap.ingest_many(events[i:j])
            self.accepted += report.accepted
            self.duplicates += report.duplicates
        return j

    def feed_prices(self, t: int) -> None:
        """Set each traded symbol's price to its latest point at or before ``t``; apply the model bars closed by
        ``t`` to the estimated layer and the depth received by ``t`` to the liquidity layer."""
        if self.depth is not None:
            self.depth.advance(t)
        if self.layer is not None:
            for k, (symbol, bars, closes) in enumerate(self.model_bars):
                lo = self.bars_read[k]
                if lo < len(closes) and closes[lo] <= t:
                    hi = bisect_right(closes, t, lo)
                    for bar in bars[lo:hi]:
                        self.layer.update(symbol, bar)
                    self.bars_read[k] = hi
        for k, times in enumerate(self.price_times):
            lo = self.price_read[k]
            if lo < len(times) and times[lo] <= t:
                hi = bisect_right(times, t, lo)
                self.price_read[k] = hi
                symbol = self.price_symbols[k]
                self.version[symbol] = hi
                self.heatmap.update_price(symbol, self.price_values[k][hi - 1], timestamp_ms=times[hi - 1])

    def exit_paths(self) -> dict[str, PricePath]:
        """What each open position's price went through since its last exit check (or its entry) up to now:
        the points read since then (every trade, each closed bar), as one path (numpy min/max over them)."""
        paths: dict[str, PricePath] = {}
        for position in self.broker.positions():
            k = self.price_index.get(self._id(position.symbol))
            if k is None:
                continue
            _, closes, opens, lows, highs = self.price_bars[k]
            hi = self.price_read[k]
            lo = max(self.exits_checked[k], bisect_right(self.price_times[k], position.opened_at))
            self.exits_checked[k] = hi
            if hi > lo:
                paths[position.symbol] = PricePath(float(opens[lo]), float(lows[lo:hi].min()),
                                                   float(highs[lo:hi].max()), float(closes[hi - 1]),
                                                   (opens[lo:hi], lows[lo:hi], highs[lo:hi]))
        return paths

    def run_positions(self) -> None:
        """The positions job, after the broker has checked the exits over the paths since the last run."""
        paths = self.exit_paths()
        if paths:
            self.bot.check_exits(paths, self.clock.now)
        self.bot.run_job("positions")

    # -------------------------------------------------------------- the loop

    def run(self, sessions: Sequence[tuple[int, int]], progress: Progress | None) -> None:
        bot = self.bot
        bot.start()
        if self.warm:  # as `run` warm-starts from its recording: the horizon before the start, before any job
            report = self.heatmap.ingest_many(self.warm)
            self.accepted += report.accepted
            self.duplicates += report.duplicates
        total = sum(b - a for a, b in sessions) or 1
        done = 0
        last_report = 0.0
        intervals = self.intervals
        for a, b in sessions:
            due = {name: self._first_tick(iv, a) for name, iv in intervals.items()}
            self._positions_seen = None
            self.heatmap.clear_prices()  # prices do not carry over a gap in the data
            while True:
                t = min(due.values())
                if t > b:
                    break
                self.feed_prices(t)
                self.clock.now = t
                fed = False
                for name in JOB_ORDER:
                    if due[name] != t:
                        continue
                    due[name] = t + intervals[name]
                    if not self._needed(name, t, due, b):
                        self.skipped[name] += 1
                        continue
                    if not fed:  # events are read by jobs only: ingested before the first one that runs
                        self.feed_events(t)
                        fed = True
                    if name == "positions":
                        self.run_positions()
                    else:
                        bot.run_job(name)
                if progress is not None:
                    share = (done + t - a) / total
                    if share - last_report >= 0.002:
                        progress(share)
                        last_report = share
            self._end_session(b)
            done += b - a
        self.feed_others(sessions[-1][1] if sessions else 0)
        if progress is not None:
            progress(1.0)

    def _first_tick(self, interval: int, at: int) -> int:
        k = -(-(at - self.origin) // interval)
        return self.origin + max(0, k) * interval

    def _needed(self, name: str, t: int, due: Mapping[str, int], session_end: int) -> bool:
        if name == "clusters":
            if not self.events and not self.warm:  # nothing to group (a history backtest without events)
                return False
            # read only if the next signals run comes before the next clusters run and within update_interval
            s = due["signals"]
            return s < due["clusters"] and s - t < self.update_ms and s <= session_end
        if name == "positions":
            return self._positions_needed(t)
        return True

    def _positions_needed(self, t: int) -> bool:
        bot = self.bot
        if bot.entries - bot.exits - self.forced_closes <= 0:
            return False
        positions = self.broker.positions()
        if not positions:
            return False
        risk = bot.risk
        if any(risk.time_exit_due(p.opened_at, t) for p in positions):
            self._positions_seen = None
            return True
        funding = t // self.broker.funding_interval_ms if self.broker.funding else 0
        key = (tuple((p.id, self.version.get(self._id(p.symbol), -1)) for p in positions), t // DAY_MS, funding)
        if key == self._positions_seen:
            return False
        self._positions_seen = key
        return True

    def _id(self, symbol: str) -> str:
        ex = self._ids.get(symbol)
        if ex is None:
            ex = self._ids[symbol] = to_exchange_id(symbol)
        return ex

    def _end_session(self, b: int) -> None:
        """Data stop here: close what is open at the last prices, then a last positions and snapshot run."""
        self.feed_prices(b)
        self.feed_events(b)
        self.clock.now = b
        paths = self.exit_paths()  # a wick after the last positions run still reaches the stop
        if paths:
            self.bot.check_exits(paths, b)
        for position in self.broker.positions():
            price = self.heatmap.get_price(self._id(position.symbol)) or position.entry_price
            if self.broker.close(position, "manual", price, b) is not None:
                self.forced.add(position.client_id)
                self.forced_closes += 1
        self.bot.run_job("positions")
        self.bot.run_job("snapshot")
        self._positions_seen = None

    # -------------------------------------------------------------- results

    def result(self) -> dict[str, Any]:
        books = self.books
        slip = self.broker.slippage_bps / 10_000.0
        trades = sorted(books.closed_trades(), key=lambda c: (c.closed_at, c.position.id))
        records = []
        for c in trades:
            p = c.position
            reason = END_OF_DATA if p.client_id in self.forced else c.reason
            records.append(TradeRecord(
                id=p.id, client_id=p.client_id, symbol=p.symbol, side=Side.of_direction(p.direction),
                quantity=p.quantity, entry_time=p.opened_at, entry_price=p.entry_price, exit_time=c.closed_at,
                exit_price=c.exit_price, reason=reason, stop_loss=p.stop_loss, take_profit=p.take_profit,
                entry_fee=p.entry_fee, exit_fee=c.exit_fee, funding=p.funding, gross_pnl=c.gross_pnl,
                net_pnl=c.net_pnl, slippage=_slippage(p, c.exit_price, reason, slip)))
        prices = {p.symbol: self.heatmap.get_price(self._id(p.symbol)) or p.entry_price
                  for p in self.broker.positions()}
        end = self.clock.now
        account = self.broker.account(prices, end)
        opened = [OpenRecord(id=p.id, client_id=p.client_id, symbol=p.symbol,
                             side=Side.of_direction(p.direction), quantity=p.quantity, entry_time=p.opened_at,
                             entry_price=p.entry_price, last_price=prices[p.symbol], entry_fee=p.entry_fee,
                             funding=p.funding, unrealized=p.unrealized(prices[p.symbol]))
                  for p in self.broker.positions()]
        equity = [EquityPoint(at=s.at, wallet=s.wallet, unrealized=s.unrealized, equity=s.equity,
                              positions=s.positions) for s in books.snapshots(since_ms=0)]
        start_wallet = self.config.risk.starting_wallet
        if not equity or equity[0].at > self.origin:
            equity.insert(0, EquityPoint(self.origin, start_wallet, 0.0, start_wallet, 0))
        signals = list(reversed(books.recent_signals(limit=2**62)))
        bot = self.bot
        jobs = {"runs": dict(sorted(bot.runs.items())), "skipped": dict(sorted(self.skipped.items())),
                "failures": dict(sorted(bot.failures.items())), "errors": dict(sorted(bot.errors.items()))}
        audit = tuple(books.audit())
        books.close()
        return {"events_accepted": self.accepted, "duplicates": self.duplicates, "trades": tuple(records),
                "open_positions": tuple(opened), "equity": tuple(equity), "signals": tuple(signals), "audit": audit,
                "starting_wallet": start_wallet, "final_wallet": account.wallet, "final_equity": account.equity,
                "jobs": jobs}


def _slippage(p: Position, exit_price: float, reason: str, slip: float) -> float:
    """The cost of slippage in a trade's fills: the entry always slips; market exits (stop, time exit, end of
    data) slip too, except a stop that gapped (filled at the price, not the slipped stop); take-profits and
    liquidations fill at their level."""
    d = p.direction
    cost = p.quantity * p.entry_price * (1.0 - 1.0 / (1.0 + d * slip)) * d
    if reason in ("time_exit", "manual", END_OF_DATA) or (
            reason == "stop_loss" and math.isclose(exit_price, p.stop_loss * (1.0 - d * slip), rel_tol=1e-12)):
        reference = exit_price / (1.0 - d * slip)
        cost += p.quantity * (reference - exit_price) * d
    return cost
