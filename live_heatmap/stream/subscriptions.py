"""Which Binance streams to subscribe, on which URL, split into connections. Pure functions.

* Up to ``per_symbol_limit`` symbols: ``<symbol>@forceOrder`` each (and
  ``<symbol>@markPrice@1s`` when mark prices are wanted).
* With ``klines`` (the estimated layer, issue 14): ``<symbol>@kline_5m`` for each symbol of a list, whichever of
  the two above applies (Binance has no all-market kline stream).
* With ``agg_trades`` (the liquidity layer's walls, issue 15): ``<symbol>@aggTrade`` for each symbol of a list.
* More symbols, or ``"all"``: ``!forceOrder@arr`` (and ``!markPrice@arr@1s``),
  with the symbol list kept as a filter on what is ingested.
* At most ``max_streams`` streams per connection; more are split into shards.
* SUBSCRIBE requests carry up to ``params_per_request`` stream names each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from live_heatmap.common.symbols import to_exchange_id

__all__ = ["ALL_FORCE_ORDERS", "ALL_MARK_PRICES", "BINANCE_PUBLIC_URL", "Plan", "plan_depth", "plan_subscriptions",
           "same_connection", "stream_url", "subscribe_requests"]

ALL_FORCE_ORDERS = "!forceOrder@arr"
ALL_MARK_PRICES = "!markPrice@arr@1s"
KLINE_5M = "kline_5m"
AGG_TRADE = "aggTrade"
BINANCE_MARKET_URL = "wss://fstream.binance.com/market"
BINANCE_PUBLIC_URL = "wss://fstream.binance.com/public"
"""Order-book streams since 2026-04: a separate connection from :data:`BINANCE_MARKET_URL` (issue 15)."""
DEPTH_100MS = "depth@100ms"


@dataclass(frozen=True, slots=True)
class Plan:
    """What to subscribe: streams (topics) per connection, the venue ids to keep (None: all), the heatmap keys
    to track, and the configured symbols the venue does not list (skipped)."""

    shards: tuple[tuple[str, ...], ...]
    symbol_filter: frozenset[str] | None
    track: frozenset[str] = frozenset()
    skipped: tuple[str, ...] = ()


def plan_subscriptions(symbols: Sequence[str] | str, *, mark_price: bool = False, per_symbol_limit: int = 50,
                       max_streams: int = 1024, klines: bool = False, agg_trades: bool = False) -> Plan:
    """Streams for ``symbols`` (ids or unified symbols, or ``"all"``)."""
    if isinstance(symbols, str):
        if symbols.lower() != "all":
            raise ValueError(f"symbols: expected a list or 'all', got {symbols!r}")
        ids: list[str] | None = None
    else:
        ids = sorted({to_exchange_id(s) for s in symbols})
        if not ids:
            raise ValueError("symbols: the list is empty (use 'all' for every symbol)")
    kline_streams = [f"{market_id.lower()}@{KLINE_5M}" for market_id in ids or ()] if klines else []
    kline_streams += [f"{market_id.lower()}@{AGG_TRADE}" for market_id in ids or ()] if agg_trades else []
    if ids is None or len(ids) > per_symbol_limit:
        streams = [ALL_FORCE_ORDERS] + ([ALL_MARK_PRICES] if mark_price else []) + kline_streams
        shards = tuple(tuple(streams[i:i + max_streams]) for i in range(0, len(streams), max_streams))
        return Plan(shards, None if ids is None else frozenset(ids), frozenset(ids or ()))
    streams = []
    for market_id in ids:
        streams.append(f"{market_id.lower()}@forceOrder")
        if mark_price:
            streams.append(f"{market_id.lower()}@markPrice@1s")
        if klines:
            streams.append(f"{market_id.lower()}@{KLINE_5M}")
        if agg_trades:
            streams.append(f"{market_id.lower()}@{AGG_TRADE}")
    shards = tuple(tuple(streams[i:i + max_streams]) for i in range(0, len(streams), max_streams))
    return Plan(shards, frozenset(ids), frozenset(ids))


def plan_depth(symbols: Sequence[str], *, max_streams: int = 1024, stream: str = DEPTH_100MS) -> Plan:
    """``<symbol>@depth@100ms`` for each symbol of a list (``/public``; an order book follows named symbols)."""
    ids = sorted({to_exchange_id(s) for s in symbols})
    if not ids:
        raise ValueError("symbols: an order book follows a list of symbols")
    streams = [f"{market_id.lower()}@{stream}" for market_id in ids]
    shards = tuple(tuple(streams[i:i + max_streams]) for i in range(0, len(streams), max_streams))
    return Plan(shards, frozenset(ids), frozenset(ids))


def same_connection(public_url: str, market_url: str) -> bool:
    """Whether two base URLs are one connection (compared without a trailing slash, case-insensitively)."""
    return public_url.rstrip("/").lower() == market_url.rstrip("/").lower()


def stream_url(base_url: str, *, combined: bool = True) -> str:
    """The URL to connect to: ``<base>/stream`` (combined, ``{"stream","data"}`` frames) or ``<base>/ws``."""
    return base_url.rstrip("/") + ("/stream" if combined else "/ws")


def subscribe_requests(streams: Sequence[str], first_id: int, *, params_per_request: int = 100,
                       method: str = "SUBSCRIBE") -> list[dict[str, object]]:
    """SUBSCRIBE messages for ``streams``, ``params_per_request`` names each, ids from ``first_id``."""
    return [{"method": method, "params": list(streams[i:i + params_per_request]), "id": first_id + n}
            for n, i in enumerate(range(0, len(streams), params_per_request))]
