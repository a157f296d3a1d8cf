"""What a backtest replays, chosen from what it is given (:func:`~liquidation_hunter.backtest.runner.run_backtest`
applies these in order; its module docstring states the rules for users):

* :func:`select_events`: the events traded in ``[start_ms, end_ms)`` of the symbols asked for, in one order
  whatever the input's (by trade time, then every other field);
* :func:`choose_symbols`: the bot's symbols, the traded ones among them (those with prices) and the ones left
  out for want of prices (``symbols: all``: every priced symbol);
* :func:`split_sessions`: the replay cut where the data (events and prices) are more than ``gap_minutes``
  apart;
* :func:`backtest_config`: the config as the backtest runs it (paper, mark prices, in-memory books);
* :func:`config_hash`, :func:`events_digest`: SHA-256 of the config and of the events, naming the inputs in a
  result;
* :func:`exchange_id`, :func:`describe_range`: a symbol asked for, a time range in words for an error.

A backtest that cannot run as asked (an unknown symbol, nothing to replay, no symbol with prices) raises
:class:`BacktestError`, a ``ValueError`` with a one-line message.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np

from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.data.prices import PriceSeries
from live_heatmap import LiquidationEvent, to_exchange_id, to_unified

__all__ = ["BacktestError", "backtest_config", "choose_symbols", "config_hash", "describe_range", "events_digest",
           "exchange_id", "select_events", "split_sessions"]


class BacktestError(ValueError):
    """The backtest cannot run as asked (nothing to replay, no symbol with prices...)."""


def backtest_config(config: BotConfig, symbols: Sequence[str]) -> BotConfig:
    """``config`` as the backtest runs it: paper mode, mark-price semantics, in-memory books, ``symbols``."""
    data = config.to_dict(masked=False)
    data["mode"] = "paper"
    data["symbols"] = list(symbols)
    data["exchange"]["mark_price"] = True
    data["storage"]["path"] = ":memory:"
    return BotConfig.from_mapping(data)


def config_hash(config: BotConfig) -> str:
    """SHA-256 of the configuration's canonical JSON (sorted keys): what produced a result."""
    text = json.dumps(config.to_dict(masked=False), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def events_digest(events: Sequence[LiquidationEvent]) -> str:
    """SHA-256 of the events replayed (their fields, in replay order)."""
    text = "".join([f"{e.symbol}|{e.side}|{e.price!r}|{e.quantity!r}|{e.event_time}|{e.trade_time}|{e.status}|"
                    f"{int(e.fallback)}\n" for e in events])
    return hashlib.sha256(text.encode()).hexdigest()


def describe_range(start_ms: int | None, end_ms: int | None) -> str:
    """The time range asked for, in words for an error (``from 2025-01-27T16:50:00Z to ...``)."""

    def at(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    if start_ms is None and end_ms is None:
        return "in the inputs"
    if end_ms is None:
        return f"from {at(start_ms or 0)}"
    if start_ms is None:
        return f"before {at(end_ms)}"
    return f"from {at(start_ms)} to {at(end_ms)}"


def exchange_id(symbol: str) -> str:
    """The Binance id of ``symbol`` given in either form (``BTC/USDT:USDT``, ``btcusdt``)."""
    try:
        return to_exchange_id(symbol) if "/" in symbol else to_exchange_id(to_unified(symbol.upper()))
    except ValueError as exc:
        raise BacktestError(f"symbol {symbol!r}: {exc}") from None


def select_events(events: Iterable[LiquidationEvent], start_ms: int | None, end_ms: int | None,
                  wanted: set[str] | None) -> list[LiquidationEvent]:
    """The events with ``start_ms <= trade_time < end_ms`` (None: unbounded) of the ``wanted`` Binance ids
    (None: all), sorted."""
    out = []
    lo = -math.inf if start_ms is None else start_ms
    hi = math.inf if end_ms is None else end_ms
    for e in events:
        if type(e) is not LiquidationEvent:
            raise BacktestError(f"events: expected LiquidationEvent items (live_heatmap.parse_force_order), "
                                f"got {type(e).__name__}")
        if lo <= e.trade_time < hi and (wanted is None or e.symbol in wanted):
            out.append(e)
    # One order whatever the input's: by trade time, then by every other field.
    out.sort(key=lambda e: (e.trade_time, e.symbol, e.side, e.price, e.quantity, e.event_time, e.status,
                            e.fallback))
    return out


def choose_symbols(config: BotConfig, events: Sequence[LiquidationEvent], prices: PriceSeries,
                   wanted: set[str] | None) -> tuple[list[str], list[str], list[str]]:
    """(the bot's symbols, the traded ones among them (with prices), Binance ids left out for want of prices).

    With ``symbols: all`` the bot's symbols are the priced ones, and the ones left out are those with events."""
    if config.symbols == "all":
        candidates = [s for s in prices.symbols if wanted is None or s in wanted]
        unpriced = sorted({e.symbol for e in events} - set(prices.symbols))
    else:
        candidates = [to_exchange_id(s) for s in config.symbols if wanted is None or to_exchange_id(s) in wanted]
        if wanted is not None and not candidates:
            raise BacktestError(f"none of the symbols asked for ({', '.join(sorted(wanted))}) is in the "
                                f"config's symbols ({', '.join(config.symbols)})")
        unpriced = [s for s in candidates if s not in prices]
    traded = [s for s in candidates if s in prices]
    if not traded:
        among = "the config's symbols" if config.symbols != "all" else "the symbols asked for"
        raise BacktestError(f"no symbol to trade: none of {among} has prices in the chosen time range "
                            f"(prices for: {', '.join(prices.symbols) or 'none'})")
    return [to_unified(s) for s in candidates], [to_unified(s) for s in traded], unpriced


def split_sessions(events: Sequence[LiquidationEvent], prices: PriceSeries,
                   gap_minutes: float) -> list[tuple[int, int]]:
    """``(first, last)`` times of each session: the events' and prices' times cut where two are more than
    ``gap_minutes`` apart; none without data."""
    parts = [np.fromiter((e.trade_time for e in events), dtype=np.int64, count=len(events))]
    parts += [prices.times(s) for s in prices.symbols]
    times = np.sort(np.concatenate(parts))
    if not len(times):
        return []
    gap_ms = gap_minutes * 60_000
    cuts = np.flatnonzero(np.diff(times) > gap_ms)
    starts = np.concatenate([[0], cuts + 1])
    ends = np.concatenate([cuts, [len(times) - 1]])
    return [(int(times[a]), int(times[b])) for a, b in zip(starts, ends, strict=True)]
