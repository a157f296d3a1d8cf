"""What each endpoint answers, as plain data from typed arguments: no HTTP here (``app.py`` does the routes and
the parameters' types, ``server.py`` the wire).

Every view reads; none writes the heatmap's events or prices, the books or anything else the bot trades on.
Reading clusters may rebuild them (the heatmap's own cache, as any reader does). A mistake the parameters'
types cannot see (a time in the future, ``to`` before ``from``, a window too long) is a :class:`ParamError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
import numpy as np

from liquidation_hunter.data.prices import PriceSeries
from liquidation_hunter.signals.hunter import LiquidationHunter
from liquidation_hunter.signals.rules import HunterConfig, Signal
from liquidation_hunter.trading.books import Books, BooksError
from liquidation_hunter.trading.status import status_report
from live_heatmap import LiveLiquidationHeatmap, Side, to_exchange_id, to_unified
from live_heatmap.common.symbols import symbol_key
from live_heatmap.common.timeparse import parse_duration_ms, parse_time_ms
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.grid import grid_from_heatmap
from live_heatmap.orderbook.layer import LiquidityLayer
from live_heatmap.stats import ClusterBaseline, SymbolStatistics
from live_heatmap.status import feed_dict
from live_heatmap.store.exports import export_clusters, export_events
from live_heatmap.store.history import event_order
from live_heatmap.stream.status import StreamHealth
from live_heatmap.venue import VENUES_BY_CODE, Venue
from strategies import load_strategy, make_strategy, strategy_from_path

__all__ = ["ApiError", "ApiSource", "Download", "ParamError"]

_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,39}")
EVENTS_LIMIT_MAX = 1000
MIN_WINDOW_MS = 60_000
"""Shortest grid window: 1 minute."""
MAX_WINDOW_MS = 7 * 86_400_000
"""Longest grid window: 7 days."""
_MIN_MS = 1_262_304_000_000  # 2010-01-01
_MAX_MS = 4_102_444_800_000  # 2100-01-01
_TIME = "epoch milliseconds or an ISO-8601 time such as 2025-01-27T17:20Z, within 2010..2100"


class ParamError(ValueError):
    """A bad parameter (a 400): ``str(error)`` says which, what was expected and what came."""


def bad_param(name: str, expected: str, got: str) -> ParamError:
    """``name: expected ..., got '...'`` (what came cut to 60 characters)."""
    shown = got if len(got) <= 60 else got[:57] + "..."
    return ParamError(f"{name}: expected {expected}, got {shown!r}")


def parse_exchanges(text: str | None) -> tuple[Venue, ...] | None:
    """The ``exchanges`` parameter: a comma list of venues (``bybit,okx``); None when absent (every venue)."""
    if text is None:
        return None
    names = [name.strip().lower() for name in text.split(",")]
    expected = f"a comma list of {', '.join(VENUES_BY_CODE)} (leave it out for every venue)"
    if not all(name in Venue._value2member_map_ for name in names):
        raise bad_param("exchanges", expected, text)
    return tuple(sorted({Venue(name) for name in names}, key=lambda venue: venue.code))


def parse_time(name: str, text: str | None) -> int | None:
    """A time parameter: UTC epoch ms from digits (ms) or ISO-8601 (UTC when no zone), within 2010..2100;
    None when absent. A blank value is an error (leave the parameter out instead)."""
    if text is None:
        return None
    if text == "":
        raise bad_param(name, "a value (leave the parameter out to use its default)", "")
    value = None
    if not (text.isdigit() and len(text) > 15):
        with contextlib.suppress(ValueError):
            value = parse_time_ms(text)
    if value is None or not _MIN_MS <= value < _MAX_MS:
        raise bad_param(name, _TIME, text)
    return value


class ApiError(Exception):
    """An answer other than 200: ``status`` and a message that says what was wrong."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Download:
    """A file body (export): bytes, content type and a suggested file name."""

    body: bytes
    content_type: str
    filename: str


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PriceHistoryLike(Protocol):
    """Recent prices of a running bot (``liquidation_hunter.bot.price_history.PriceHistory``)."""

    def points(self, symbol: str, start_ms: int, end_ms: int) -> tuple[Any, Any] | None: ...


TRADES_LIMIT_MAX = 1000
EQUITY_POINTS_MAX = 2000


@dataclass
class ApiSource:
    """What the API reads: a heatmap (the bot's, or one loaded from a recording) and optionally the books.

    ``clock``: UTC epoch ms of "now" for every answer (default: the heatmap's clock; a replay fixes it).
    ``prices``: a price series for the grid's candles (``--prices``); without it the grid's price line is
    the liquidations' fill prices. ``books_path``: the bot's SQLite books, for ``/api/v1/status``.
    ``strategy``, ``strategy_params``, ``hunter`` and ``markets``: the strategy the bot runs (the config's
    ``strategy`` and ``hunter`` sections), for ``/api/v1/signal``. ``stream``: the stream feeding the heatmap,
    for the connection health in ``/health`` and ``/api/v1/status`` (None: not streaming). ``price_history``: a
    running bot's recent mark prices, the grid's price line (``price_source: marks``) when there are no recorded
    prices. With books, ``/api/v1/positions``, ``/trades`` and ``/equity`` read them and the grid carries the
    bot's entries and exits on the symbol (``markers``).
    """

    heatmap: LiveLiquidationHeatmap
    clock: Callable[[], int] | None = None
    prices: PriceSeries | None = None
    books_path: str | None = None
    heartbeat_s: float = 60.0
    hunter: HunterConfig = field(default_factory=HunterConfig)
    strategy: str = "liquidation_magnet"
    strategy_params: Mapping[str, Any] = field(default_factory=dict)
    strategy_path: str | None = None
    """The config's ``strategy.path`` (a strategy of your own; ``strategy`` is then the ``strategy.name`` picking
    its class); loaded once, at the first ``/api/v1/signal``."""
    price_history: PriceHistoryLike | None = None
    markets: Any = None
    started: float = field(default_factory=time.monotonic)
    stream: StreamHealth | None = None
    estimated: EstimatedLayer | None = None
    """The estimated layer (issue 14) the bot keeps, for ``/api/v1/estimated/{symbol}`` (None: not kept)."""
    liquidity: LiquidityLayer | None = None
    """The order-book liquidity layer (issue 15) the bot keeps (depth over time, walls), for
    ``/api/v1/unified/{symbol}`` and ``/api/v1/depth/{symbol}`` (None: not kept, ``orderbook.enabled: false``)."""
    statistics: SymbolStatistics | None = None
    """Each cluster's z-score against its symbol's history, the summary and the density (issue 16): the bot's (its
    history replayed from the recorder at start); None: an empty history made at the first read (z-scores null)."""

    def statistics_of(self) -> SymbolStatistics:
        """The statistics the answers read (:attr:`statistics`, made once when None)."""
        if self.statistics is None:
            self.statistics = SymbolStatistics(self.heatmap, ClusterBaseline())
        return self.statistics

    def now(self) -> int:
        return int((self.clock or self.heatmap.clock)())

    # ------------------------------------------------------------------ helpers

    def symbol_key(self, symbol: str) -> str:
        """The exchange id of a tracked symbol (in the heatmap, the estimated or the liquidity layer), or 404 naming
        it."""
        if not _SYMBOL.fullmatch(symbol):
            raise ApiError(404, "unknown symbol", f"unknown symbol {symbol[:60]!r}: not a symbol "
                           "(BTCUSDT or BTC/USDT:USDT); GET /api/v1/symbols lists the tracked ones")
        try:
            key = symbol_key(symbol)
        except ValueError:
            key = ""
        known = self.heatmap.event_count(key) > 0 or key in self.heatmap.symbols() or (
            self.estimated is not None and key in self.estimated) or (
            self.liquidity is not None and key in self.liquidity)
        if not key or not known:
            raise ApiError(404, "unknown symbol", f"unknown symbol {symbol!r}: not tracked; GET /api/v1/symbols "
                           "lists the tracked ones")
        return key

    def price(self, key: str, now: int) -> float | None:
        """The heatmap's current price of ``key``, else the last liquidation's fill price up to ``now``."""
        price = self.heatmap.get_price(key)
        if price is not None:
            return price
        cols = self.heatmap.events_since(key, now - int(self.heatmap.config.horizon_minutes * 60_000))
        upto = np.flatnonzero(cols.trade_time <= now)
        if upto.size == 0:
            return None
        last = upto[np.argmax(cols.trade_time[upto])]
        return float(cols.price[last])

    # ------------------------------------------------------------------ views

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "uptime_s": round(time.monotonic() - self.started, 3),
                "events": self.heatmap.status().accepted,
                "connected": self.stream is not None and self.stream.status().connected}

    def feed(self) -> dict[str, Any]:
        """The heatmap's counters and the stream's health, as ``/api/v1/status`` shows them."""
        return feed_dict(self.heatmap.status(), None if self.stream is None else self.stream.status())

    def symbols(self, q: str | None = None) -> dict[str, Any]:
        wanted = (q or "").strip().upper()
        now = self.now()
        out = []
        for key in self.heatmap.symbols():
            try:
                unified = to_unified(key)
            except ValueError:
                unified = key
            if wanted and wanted not in key and wanted not in unified.upper():
                continue
            out.append({"symbol": key, "unified": unified, "events": self.heatmap.event_count(key),
                        "price": self.price(key, now)})
        return {"symbols": out}

    def clusters(self, symbol: str, min_strength: float = 0.0, max_distance: float | None = None,
                 side: str | None = None, exchanges: str | None = None) -> dict[str, Any]:
        """``exchanges``: the comma list of venues whose events make the clusters (absent: every venue)."""
        venues = parse_exchanges(exchanges)
        key = self.symbol_key(symbol)
        now = self.now()
        clusters = self.heatmap.get_clusters(key, min_strength, max_distance, side=side, now_ms=now,
                                             exchanges=venues)
        return {"symbol": key, "price": self.price(key, now), "at": now,
                "clusters": [c.to_dict() for c in self.statistics_of().annotate(key, clusters)]}

    def decide(self, key: str, price: float, now: int, min_strength: float | None = None,
               exchanges: tuple[Venue, ...] | None = None) -> Signal:
        """The configured strategy's signal, from an instance of its own: what the bot's strategy would say,
        without touching the bot's (a strategy may remember what it signalled, ``cascade_fade`` does).
        ``exchanges`` replaces ``hunter.exchanges`` when given."""
        hunter = self.hunter
        if min_strength is not None:
            hunter = msgspec.structs.replace(hunter, min_strength=min_strength)
        if exchanges is not None:
            hunter = msgspec.structs.replace(hunter, exchanges=exchanges)
        hunter_now = LiquidationHunter(hunter, self.heatmap, markets=self.markets, estimated=self.estimated,
                                       liquidity=self.liquidity)
        if self.strategy_path is None:
            return make_strategy(self.strategy, hunter_now, self.strategy_params).decide(key, price, now)
        return strategy_from_path(self.strategy_path, self.strategy, hunter_now, self.strategy_params).decide(
            key, price, now)

    def strategy_name(self) -> str:
        """The name the strategy gives itself (a strategy of your own: its class's ``name``)."""
        if self.strategy_path is None:
            return self.strategy
        return str(getattr(load_strategy(self.strategy_path, self.strategy)[0], "name", self.strategy))

    def signal(self, symbol: str, min_strength: float | None = None, exchanges: str | None = None
               ) -> dict[str, Any]:
        """The configured strategy's signal at the current price; ``best_cluster`` is the cluster it trades
        (None when it trades none), ``best_zone`` the estimated zone (``hunter.target: estimated``).
        ``min_strength`` replaces ``hunter.min_strength`` for this answer,
        ``exchanges`` (a comma list of venues) ``hunter.exchanges``."""
        venues = parse_exchanges(exchanges)
        key = self.symbol_key(symbol)
        now = self.now()
        price = self.price(key, now)
        out: dict[str, Any] = {"direction": 0, "strength": 0.0, "entry": None, "stop_loss": None,
                               "take_profit": None, "reason": "no price for this symbol yet"}
        cluster = None
        zone: dict[str, Any] | None = None
        if price is not None:
            signal = self.decide(key, price, now, min_strength, venues)
            cluster = signal.cluster
            if signal.zone is not None:
                zone = {k: v for k, v in dataclasses.asdict(signal.zone).items() if k != "symbol"}
            out.update(direction=signal.direction, strength=signal.strength, entry=signal.entry,
                       stop_loss=signal.stop_loss, take_profit=signal.take_profit, reason=signal.reason)
            if cluster is not None:
                out["cluster_id"] = cluster.cluster_id
            if signal.origin:
                out["origin"] = signal.origin
        return {"symbol": key, "unified": to_unified(key), "strategy": self.strategy_name(), "price": price, "at": now,
                "best_cluster": cluster.to_dict() if cluster is not None else None, "best_zone": zone, "signal": out}

    def grid(self, symbol: str, window: str | None = None, points: bool = False, exchanges: str | None = None
             ) -> dict[str, Any]:
        """``exchanges``: the comma list of venues whose events fill the cells and make the clusters."""
        venues = parse_exchanges(exchanges)
        key = self.symbol_key(symbol)
        window = window or "2h"
        try:
            window_ms = parse_duration_ms(window, low_ms=MIN_WINDOW_MS, high_ms=MAX_WINDOW_MS)
        except ValueError as exc:
            raise ParamError(f"window: {exc}") from None
        now = self.now()
        start = now - window_ms
        source = "none"
        price_points: tuple[Any, Any] | None = None
        if self.prices is not None and key in self.prices:
            times, prices = self.prices.times(key), self.prices.prices(key)
            lo, hi = np.searchsorted(times, [start, now], side="left")[0], np.searchsorted(times, now, side="right")
            if hi > lo:
                price_points, source = (times[lo:hi], prices[lo:hi]), "trades"
        if price_points is None and self.price_history is not None:
            marks = self.price_history.points(key, start, now)
            if marks is not None:
                price_points, source = marks, "marks"
        if price_points is None:
            cols = self.heatmap.events_since(key, start, exchanges=venues)
            keep = cols.trade_time <= now
            if keep.any():
                order = np.argsort(cols.trade_time[keep], kind="stable")
                price_points = (cols.trade_time[keep][order], cols.price[keep][order])
                source = "liquidations"
        try:
            grid = grid_from_heatmap(self.heatmap, key, window_ms, now, price_points=price_points, exchanges=venues)
        except ValueError as exc:
            raise ApiError(404, "nothing to draw", f"{key}: no events or prices in the last "
                           f"{window} before {_iso(now)}") from exc
        out = {**grid.to_dict(points=points, arrays=True), "symbol": key, "at": now, "price_source": source}
        if self.books_path is not None:
            out["markers"] = self._markers(key, start, now)
        return out

    @contextlib.contextmanager
    def _books(self) -> Iterator[Books]:
        """The bot's books, read-only: a 404 when this server reads none (over a recording), a 503 while the bot
        has not written them yet."""
        if self.books_path is None:
            raise ApiError(404, "no books", "this server reads no bot's books (run the bot with api.enabled, or "
                           "serve --config with the bot's storage.path)")
        try:
            books = Books.open_readonly(self.books_path)
        except BooksError as exc:
            raise ApiError(503, "no books", "the bot has written no books yet") from exc
        with books:
            yield books

    def _markers(self, key: str, start: int, now: int) -> list[dict[str, Any]]:
        """The bot's entries and exits on ``key`` between ``start`` and ``now``, oldest first."""
        try:
            with self._books() as books:
                unified = to_unified(key, self.markets)
                held = [p for p in books.open_positions() if p.symbol == unified]
                closed = [t for t in books.closed_trades(since_ms=start) if t.position.symbol == unified]
        except ApiError:
            return []
        out: list[dict[str, Any]] = []
        for p in [*held, *(t.position for t in closed)]:
            if start <= p.opened_at <= now:
                out.append({"kind": "entry", "time": p.opened_at, "price": p.entry_price,
                            "side": Side.of_direction(p.direction), "client_id": p.client_id, "reason": "entry"})
        for t in closed:
            if t.closed_at <= now:
                out.append({"kind": "exit", "time": t.closed_at, "price": t.exit_price,
                            "side": Side.of_direction(t.position.direction), "client_id": t.position.client_id,
                            "reason": t.reason, "net_pnl": t.net_pnl})
        out.sort(key=lambda m: (m["time"], m["kind"] == "exit"))
        return out

    def positions(self) -> dict[str, Any]:
        """The bot's open positions, valued at the heatmap's current price (the mark price in a running bot)."""
        now = self.now()
        with self._books() as books:
            held = books.open_positions()
        rows = []
        for p in held:
            key = to_exchange_id(p.symbol, self.markets)
            price = self.heatmap.get_price(key)
            rows.append({"symbol": key, "unified": p.symbol, "side": Side.of_direction(p.direction),
                         "quantity": p.quantity, "entry_price": p.entry_price, "price": price,
                         "unrealized": None if price is None else p.unrealized(price),
                         "stop_loss": p.stop_loss, "take_profit": p.take_profit,
                         "liquidation_price": p.liquidation_price, "margin": p.margin, "opened_at": p.opened_at,
                         "entry_fee": p.entry_fee, "funding": p.funding, "client_id": p.client_id,
                         "strategy": p.strategy})
        return {"at": now, "positions": rows}

    def trades(self, limit: int = 50) -> dict[str, Any]:
        """The bot's closed trades, newest first."""
        with self._books() as books:
            closed = books.closed_trades(limit=limit)
        return {"at": self.now(), "trades": [
            {"symbol": to_exchange_id(t.position.symbol, self.markets), "unified": t.position.symbol,
             "side": Side.of_direction(t.position.direction), "quantity": t.position.quantity,
             "entry_time": t.position.opened_at, "entry_price": t.position.entry_price, "exit_time": t.closed_at,
             "exit_price": t.exit_price, "reason": t.reason, "gross_pnl": t.gross_pnl,
             "fees": t.position.entry_fee + t.exit_fee, "funding": t.position.funding, "net_pnl": t.net_pnl,
             "client_id": t.position.client_id}
            for t in closed]}

    def equity(self, since: str | None = None) -> dict[str, Any]:
        """The bot's equity snapshots ``[time, equity, wallet, open positions]``, oldest first, thinned to at most
        :data:`EQUITY_POINTS_MAX` (the last one always kept)."""
        since_ms = parse_time("since", since)
        with self._books() as books:
            snaps = books.snapshots(since_ms=since_ms)
            starting, peak = books.starting_wallet, books.peak_equity()
        if len(snaps) > EQUITY_POINTS_MAX:
            stride = -(-len(snaps) // EQUITY_POINTS_MAX)
            snaps = [*snaps[:-1:stride], snaps[-1]]
        return {"at": self.now(), "starting_wallet": starting, "peak_equity": peak,
                "points": [[s.at, s.equity, s.wallet, s.positions] for s in snaps]}

    def events(self, symbol: str, limit: int = 100, since: str | None = None, exchanges: str | None = None
               ) -> dict[str, Any]:
        """The newest events (of ``exchanges``, a comma list of venues, when given), each with its venue."""
        venues = parse_exchanges(exchanges)
        key = self.symbol_key(symbol)
        now = self.now()
        since_ms = parse_time("since", since)
        if since_ms is not None and since_ms > now:
            raise bad_param("since", f"a time at or before now ({_iso(now)})", since or "")
        cols = self.heatmap.events_since(key, since_ms if since_ms is not None else 0, exchanges=venues)
        idx = np.flatnonzero(cols.trade_time <= now)
        idx = idx[np.argsort(cols.trade_time[idx], kind="stable")[::-1][:limit]]
        times, longs = cols.trade_time[idx].tolist(), cols.is_long[idx].tolist()
        prices, quantities = cols.price[idx].tolist(), cols.quantity[idx].tolist()
        names = [venue.value for venue in VENUES_BY_CODE]
        return {"symbol": key, "at": now, "events": [
            {"trade_time": t, "side": "long" if is_long else "short", "price": p, "quantity": q,
             "notional": p * q, "exchange": names[v]}
            for t, is_long, p, q, v in zip(times, longs, prices, quantities, cols.exchange[idx].tolist(),
                                           strict=True)]}

    def status(self) -> dict[str, Any]:
        stats = self.feed()
        if self.books_path is None:
            return {"books": None, "at": _iso(self.now()), "heatmap": stats}
        with self._books() as books:
            report = status_report(books, now_ms=self.now(), heartbeat_s=self.heartbeat_s).to_dict()
        report["heatmap"] = stats
        return report

    def export(self, symbol: str, what: str = "events", fmt: str = "csv", start_text: str | None = None,
               end_text: str | None = None) -> Download:
        """``start_text``/``end_text``: the ``from``/``to`` parameters."""
        key = self.symbol_key(symbol)
        start, end = parse_time("from", start_text), parse_time("to", end_text)
        if start is not None and end is not None and start >= end:
            raise bad_param("to", f"a time after from ({_iso(start)})", end_text or "")
        if start is not None and end is not None and end - start > 366 * 86_400_000:
            raise bad_param("to", "at most 366 days after from", end_text or "")
        now = self.now()
        out = io.StringIO()
        if what == "events":
            events = [e for e in self.heatmap.events(key)
                      if e.trade_time <= now and (start is None or e.trade_time >= start)
                      and (end is None or e.trade_time < end)]
            events.sort(key=event_order)
            export_events(events, fmt, out)
        else:
            export_clusters(self.heatmap.get_clusters(key, now_ms=now), fmt, out)
        body = out.getvalue().encode()
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        return Download(body, content_type, f"{key}-{what}.{fmt}")

