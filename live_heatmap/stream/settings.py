"""The stream's settings: one frozen value per stream, with each venue's defaults (:meth:`StreamSettings.for_venue`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from live_heatmap.common.backoff import Backoff
from live_heatmap.stream.subscriptions import BINANCE_MARKET_URL
from live_heatmap.venue import Venue

__all__ = ["BYBIT_LINEAR_URL", "OKX_PUBLIC_URL", "ConnectionSettings", "StreamSettings", "settings_with"]

BYBIT_LINEAR_URL = "wss://stream.bybit.com/v5/public/linear"
OKX_PUBLIC_URL = "wss://ws.okx.com:8443/ws/v5/public"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Timing of one connection, in seconds."""

    connect_timeout: float = 10.0
    silence_timeout: float = 300.0
    """No data frame and no server ping for this long: the connection is replaced."""
    ping_interval: float = 30.0
    """Keep-alive: how often we ping (Binance: a WebSocket ping; Bybit: ``{"op":"ping"}``); OKX: after this long
    with nothing received, the text ``ping``. ``inf`` turns our pings off."""
    pong_timeout: float = 20.0
    """After our ping, nothing at all received for this long: the socket is dead."""
    max_messages_per_second: float = 5.0
    """Outgoing; Binance disconnects above 10."""
    close_timeout: float = 1.0
    """How long a graceful close reads on, waiting for the server's close frame."""
    tick: float = 0.1
    """Longest wait in one read: how fast a close request or deadline is noticed."""


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """Everything about the stream that is not the heatmap's business. Times in seconds.

    The defaults are Binance's; :meth:`for_venue` gives another venue's (URL, keep-alive, limits)."""

    ws_url: str = BINANCE_MARKET_URL
    """Base URL: Binance's since 2026; a testnet, a proxy or the next URL change go here."""
    combined: bool = True
    """Binance: ``<ws_url>/stream`` (``{"stream","data"}`` frames) or ``<ws_url>/ws`` (bare payloads)."""
    mark_price: bool = False
    """Binance: also subscribe ``<symbol>@markPrice@1s`` and feed ``update_price`` from it (other venues: ignored)."""
    klines: bool = False
    """Binance: also subscribe ``<symbol>@kline_5m`` (a list of symbols) and hand closed klines to the stream's
    ``klines`` sink (the estimated layer's inputs)."""
    agg_trades: bool = False
    """Binance: also subscribe ``<symbol>@aggTrade`` (a list of symbols) and hand them to the stream's ``trades``
    sink (the liquidity layer's walls, issue 15)."""
    per_symbol_limit: int = 50
    """Binance: above this many symbols, ``!forceOrder@arr`` with a symbol filter is used instead."""
    max_streams_per_connection: int = 1024
    rotate_after: float = 23 * 3600.0
    """Open a fresh connection this long after the current one opened (Binance cuts at 24 h; ``inf``: never)."""
    connection: ConnectionSettings = field(default_factory=ConnectionSettings)
    backoff: Callable[[], Backoff] = Backoff
    """Makes each shard's backoff; tests pass a tiny one."""
    subscribe_batch: int = 10
    """Bybit: topics per subscribe request (one unknown topic fails its whole request)."""
    max_args_chars: int = 21_000
    """Bybit: the ``args`` of one connection, as JSON, stay within this many characters."""
    connection_limit: tuple[int, float] | None = None
    """At most this many new connections per this many seconds, shared by the stream's shards (None: no limit)."""
    subscribe_limit: tuple[int, float] | None = None
    """At most this many subscribe requests per this many seconds on one connection (None: no limit)."""

    @classmethod
    def for_venue(cls, venue: Venue, base: StreamSettings | None = None, **changes: Any) -> StreamSettings:
        """``venue``'s defaults (URL, keep-alive, limits; ``base`` adds to them), then ``changes`` by field name
        (connection fields too)."""
        settings = base or cls()
        if venue is Venue.BYBIT:
            settings = replace(settings, ws_url=BYBIT_LINEAR_URL, rotate_after=math.inf, connection_limit=(500, 300.0),
                               connection=replace(settings.connection, ping_interval=20.0, pong_timeout=10.0))
        elif venue is Venue.OKX:
            settings = replace(settings, ws_url=OKX_PUBLIC_URL, rotate_after=math.inf, connection_limit=(3, 1.0),
                               subscribe_limit=(480, 3600.0),
                               connection=replace(settings.connection, ping_interval=20.0, pong_timeout=8.0))
        return settings_with(settings, **changes) if changes else settings


def settings_with(base: StreamSettings | None, **changes: Any) -> StreamSettings:
    """``base`` (or the defaults) with some fields replaced; nested connection fields by name."""
    settings = base or StreamSettings()
    conn_fields = {k: changes.pop(k) for k in list(changes) if k in ConnectionSettings.__dataclass_fields__}
    if conn_fields:
        changes["connection"] = replace(settings.connection, **conn_fields)
    return replace(settings, **changes)
