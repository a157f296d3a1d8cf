"""The sections of a bot's configuration file, one frozen dataclass each (``config/default.yaml`` documents them).

Each section checks its own fields when built, so a section made in Python is
as valid as one read from YAML. Rules across sections live in
:mod:`liquidation_hunter.config.model`. Units: times in seconds unless the name
says minutes; ``*_pct`` are percentages (``1.0`` = 1 %); ``risk_per_trade``
and the fees are fractions (``0.0005`` = 0.05 %).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from liquidation_hunter.config.checks import (
    Check,
    ConfigFileError,
    boolean,
    build_section,
    choice,
    integer,
    number,
    validate,
)
from live_heatmap.stream.subscriptions import BINANCE_MARKET_URL

if TYPE_CHECKING:
    from live_heatmap.stream.stream import StreamSettings

__all__ = [
    "DAY_SECONDS",
    "ApiConfig",
    "ExchangeConfig",
    "LoggingConfig",
    "RiskConfig",
    "ScheduleConfig",
    "StorageConfig",
    "StrategyConfig",
    "TimeoutsConfig",
]

DAY_SECONDS = 86_400.0
BINANCE_PING_SECONDS = 180.0
"""Binance pings every 3 minutes: a quiet but healthy connection is silent up to that long."""


def _url(schemes: tuple[str, ...], *, optional: bool = False) -> Check:
    what = f"a {'/'.join(schemes)} URL such as {schemes[-1]}://host/path" + (" or null" if optional else "")

    def ok(v: Any) -> bool:
        if v is None:
            return optional
        if not isinstance(v, str) or any(c.isspace() for c in v):
            return False
        parts = urlsplit(v)
        return parts.scheme in schemes and bool(parts.hostname) and not parts.query and not parts.fragment

    return Check(what, ok)


@dataclass(frozen=True, slots=True)
class TimeoutsConfig:
    """``exchange.timeouts``: the stream's liveness checks and the REST timeout, in seconds."""

    connect: float = 10.0
    """WebSocket connect and handshake."""
    silence: float = 300.0
    """No data and no server ping for this long: the connection is replaced. Must exceed Binance's 180 s pings."""
    ping_interval: float = 30.0
    """How often the client pings the server."""
    pong: float = 20.0
    """After a client ping, nothing at all received for this long: the socket is dead."""
    rest: float = 10.0
    """One REST request (ccxt's ``timeout``)."""

    def __post_init__(self) -> None:
        validate(self, {
            "connect": number(0, 120),
            "silence": number(BINANCE_PING_SECONDS, 3600, unit=" (Binance pings every 180 s)"),
            "ping_interval": number(0, 600),
            "pong": number(0, 600),
            "rest": number(0, 120),
        })


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """``exchange``: where market data and orders go."""

    name: str = "binanceusdm"
    """The ccxt exchange id; only Binance USD-M futures for now."""
    ws_url: str = BINANCE_MARKET_URL
    """Base WebSocket URL; ``/stream`` or ``/ws`` is appended (``combined``)."""
    rest_url: str | None = None
    """Override of ccxt's futures REST base (a proxy); null: ccxt's own."""
    demo: bool = False
    """Orders go to Binance demo trading (demo keys) instead of the real exchange."""
    combined: bool = True
    """``<ws_url>/stream`` with ``{"stream","data"}`` frames, or ``<ws_url>/ws`` with bare payloads."""
    mark_price: bool = True
    """Prices from the mark-price stream (1 s); false: polled over REST every ``schedule.prices`` seconds."""
    per_symbol_limit: int = 50
    """Up to this many symbols, one stream each; more (or ``all``): the all-market streams, filtered."""
    timeouts: TimeoutsConfig = field(default_factory=TimeoutsConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.timeouts, TimeoutsConfig):
            object.__setattr__(self, "timeouts", build_section(TimeoutsConfig, self.timeouts, "timeouts"))
        validate(self, {
            "name": choice("binanceusdm"),
            "ws_url": _url(("ws", "wss")),
            "rest_url": _url(("http", "https"), optional=True),
            "demo": boolean(),
            "combined": boolean(),
            "mark_price": boolean(),
            "per_symbol_limit": integer(1, 1024),
        })
        tail = self.ws_url.rstrip("/").rsplit("/", 1)[-1]
        if tail in ("ws", "stream"):
            raise ConfigFileError.wrong("ws_url", "the base URL without /ws or /stream (added from `combined`)",
                                        self.ws_url)

    def stream_settings(self) -> StreamSettings:
        """The live stream's settings (``live_heatmap.stream.stream.StreamSettings``) from this section."""
        from live_heatmap.stream.connection import ConnectionSettings
        from live_heatmap.stream.stream import StreamSettings

        t = self.timeouts
        return StreamSettings(ws_url=self.ws_url, combined=self.combined, mark_price=self.mark_price,
                              per_symbol_limit=self.per_symbol_limit,
                              connection=ConnectionSettings(connect_timeout=t.connect, silence_timeout=t.silence,
                                                            ping_interval=t.ping_interval, pong_timeout=t.pong))


STRATEGIES = ("liquidation_magnet", "cascade_fade")


def _freeze(value: Any, where: str) -> Any:
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise ConfigFileError.wrong(where, "a mapping with text keys", value)
        return MappingProxyType({k: _freeze(v, f"{where}.{k}") for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v, f"{where}[{i}]") for i, v in enumerate(value))
    return value


def thaw(value: Any) -> Any:
    """Plain data (dicts, lists) from what :func:`_freeze` made."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """``strategy``: which strategy trades the signals, and its own parameters."""

    name: str = "liquidation_magnet"
    """``liquidation_magnet`` (trade toward the cluster, the hunter's rule) or ``cascade_fade``."""
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    """Passed to the strategy as given (read-only); the strategy checks them."""

    def __post_init__(self) -> None:
        validate(self, {"name": choice(*STRATEGIES)})
        if not isinstance(self.params, Mapping):
            raise ConfigFileError.wrong("params", "a mapping", self.params)
        object.__setattr__(self, "params", _freeze(self.params, "params"))
        from live_heatmap import ConfigError
        from strategies import validate_params

        try:
            validate_params(self.name, self.params)
        except ConfigError as exc:
            key, _, problem = str(exc).partition(": ")
            raise ConfigFileError(f"params.{key}", problem) from None


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """``risk``: sizing, exits, limits and the paper exchange's costs.

    Sizing: a trade risks ``risk_per_trade`` of the equity between entry and stop, so its notional is
    ``equity * risk_per_trade / stop distance``, capped by ``max_notional_per_position``; its margin is
    ``notional / leverage``.
    """

    starting_wallet: float = 10_000.0
    """Paper mode's starting balance in USDT (live: the exchange's wallet)."""
    risk_per_trade: float = 0.01
    """Fraction of equity lost if a trade's stop is hit (0.01 = 1 %)."""
    leverage: int = 3
    max_open_positions: int = 3
    max_notional_per_position: float | None = None
    """Cap on one position's notional in USDT; null: no cap (paper only, live needs one)."""
    from_signal: bool = True
    """Use the hunter's stop-loss and take-profit (``hunter`` section); false: the two percentages below."""
    stop_loss_pct: float | None = None
    """Stop distance from the entry, percent; set exactly when ``from_signal`` is false."""
    take_profit_pct: float | None = None
    """Take-profit distance from the entry, percent; set exactly when ``from_signal`` is false."""
    time_exit_minutes: float | None = 240.0
    """Close a position still open after this long; null: never."""
    cooldown_minutes: float = 15.0
    """No new entry on a symbol for this long after an exit on it."""
    daily_loss_limit_pct: float | None = 5.0
    """Halt new entries after losing this much of the day's starting equity (UTC day); null: no limit."""
    max_drawdown_pct: float | None = 20.0
    """Halt new entries once equity is this far below its peak; null: no limit."""
    slippage_bps: float = 2.0
    """Paper fills are this many basis points worse than the price."""
    taker_fee: float = 0.0005
    """Fraction of notional (Binance USD-M default tier: 0.05 %)."""
    maker_fee: float = 0.0002
    """Fraction of notional (Binance USD-M default tier: 0.02 %); negative for a rebate."""
    funding: bool = True
    """Paper positions pay and receive funding."""

    def __post_init__(self) -> None:
        validate(self, {
            "starting_wallet": number(0, 1e9, unit=" USDT"),
            "risk_per_trade": number(0, 0.1),
            "leverage": integer(1, 125),
            "max_open_positions": integer(1, 100),
            "max_notional_per_position": number(0, optional=True, unit=" USDT"),
            "from_signal": boolean(),
            "stop_loss_pct": number(0, 50, optional=True, unit=" (percent)"),
            "take_profit_pct": number(0, 500, optional=True, unit=" (percent)"),
            "time_exit_minutes": number(0, 10_080, optional=True),
            "cooldown_minutes": number(0, 1440, low_open=False),
            "daily_loss_limit_pct": number(0, 100, optional=True, unit=" (percent)"),
            "max_drawdown_pct": number(0, 100, optional=True, unit=" (percent)"),
            "slippage_bps": number(0, 500, low_open=False),
            "taker_fee": number(0, 0.01, low_open=False),
            "maker_fee": number(-0.01, 0.01, low_open=False),
            "funding": boolean(),
        })
        for key in ("stop_loss_pct", "take_profit_pct"):
            value = getattr(self, key)
            if self.from_signal and value is not None:
                raise ConfigFileError.wrong(key, "null when from_signal is true (the hunter's levels are used)",
                                            value)
            if not self.from_signal and value is None:
                raise ConfigFileError.wrong(key, "a percentage > 0 when from_signal is false", value)


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """``schedule``: how often each job of the bot runs, in seconds (each in (0, 86400])."""

    prices: float = 5.0
    """Poll prices over REST (only when ``exchange.mark_price`` is false); at least 1 s."""
    clusters: float = 5.0
    """Refresh every symbol's clusters."""
    signals: float = 10.0
    """Ask the strategy for entries."""
    positions: float = 5.0
    """Check open positions: paper stops and take-profits, time exits, live order state."""
    snapshot: float = 60.0
    """Write equity and positions to storage."""
    heartbeat: float = 60.0
    """Log one status line; at least 1 s."""

    def __post_init__(self) -> None:
        validate(self, {
            "prices": number(1, DAY_SECONDS, low_open=False),
            "clusters": number(0, DAY_SECONDS),
            "signals": number(0, DAY_SECONDS),
            "positions": number(0, DAY_SECONDS),
            "snapshot": number(0, DAY_SECONDS),
            "heartbeat": number(1, DAY_SECONDS, low_open=False),
        })


MEMORY = ":memory:"


def _file_path(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """``storage``: the SQLite file of trades, positions and equity snapshots, and the recorded liquidations."""

    path: str = "var/liquidation-hunter.sqlite"
    """Relative paths are resolved against the config file's folder; ``:memory:`` keeps nothing (paper only)."""
    events: str | None = "var/liquidations.sqlite"
    """The event store every accepted liquidation is appended to, and the heatmap is warm-started from
    (``live_heatmap.store.recorder``); resolved like ``path``; null: no recording and no warm start."""
    retention_days: float = 30.0
    """Recorded events older than this are deleted (hourly), in (0, 3650]."""

    def __post_init__(self) -> None:
        validate(self, {
            "path": Check("a file path", _file_path),
            "events": Check("a file path or null (null: no recording)", lambda v: v is None or _file_path(v)),
            "retention_days": number(0, 3650, unit=" (days)"),
        })
        if self.path != MEMORY and self.path.endswith(("/", "\\")):
            raise ConfigFileError.wrong("path", "a file path, not a folder", self.path)
        if self.events is not None:
            if self.events == MEMORY:
                raise ConfigFileError.wrong("events", "a file path or null (:memory: would record nothing; "
                                            "null turns recording off)", self.events)
            if self.events.endswith(("/", "\\")):
                raise ConfigFileError.wrong("events", "a file path, not a folder", self.events)
            if self.events == self.path:
                raise ConfigFileError.wrong("events", "a file other than storage.path (the bot's books)",
                                            self.events)

    def resolved(self, config_file: str | None) -> StorageConfig:
        """This section with ``path`` and ``events`` resolved against ``config_file``'s folder (the working
        folder without a file), ``~`` expanded; ``:memory:`` and null unchanged."""

        def resolve(path: str) -> str:
            if path == MEMORY:
                return path
            base = os.path.dirname(os.path.abspath(config_file)) if config_file is not None else os.getcwd()
            return os.path.normpath(os.path.join(base, os.path.expanduser(path)))

        try:
            return replace(self, path=resolve(self.path),
                           events=None if self.events is None else resolve(self.events))
        except ConfigFileError as exc:  # the two paths name one file once resolved
            raise exc.within("storage") from None


LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """``logging``: structlog output."""

    format: str = "auto"
    """``json`` lines, ``console`` (readable, coloured) or ``auto``: console on a terminal, else JSON."""
    level: str = "info"
    """``debug``, ``info``, ``warning``, ``error`` or ``critical`` (either case)."""

    def __post_init__(self) -> None:
        if isinstance(self.level, str):
            object.__setattr__(self, "level", self.level.lower())
        validate(self, {"format": choice("auto", "json", "console"), "level": choice(*LEVELS)})


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_HOST = re.compile(r"[A-Za-z0-9.:\-\[\]]{1,253}")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """``api``: the read-only HTTP API and heatmap page the bot serves (``liquidation_hunter.api``)."""

    enabled: bool = False
    """Serve it while the bot runs."""
    host: str = "127.0.0.1"
    """Address to listen on. Anything but the loopback needs the token."""
    port: int = 8700
    """TCP port, 1..65535 (0: any free port, for tests)."""
    token_env: str = "LIQUIDATION_HUNTER_API_TOKEN"
    """Name of the environment variable holding the bearer token (the token itself is never in the file)."""

    def __post_init__(self) -> None:
        validate(self, {
            "enabled": boolean(),
            "host": Check("an IP address or host name such as 127.0.0.1",
                          lambda v: isinstance(v, str) and bool(_HOST.fullmatch(v))),
            "port": integer(0, 65535),
            "token_env": Check("the name of an environment variable (letters, digits, _)",
                               lambda v: isinstance(v, str) and bool(_ENV_NAME.fullmatch(v))),
        })
