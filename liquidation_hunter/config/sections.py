"""The sections of a bot's configuration file, one frozen :class:`Settings` each (``config/default.yaml``
documents them).

Each field declares its type and range; a section checks them, then its own rules (``check``), whenever it is
made, so a section made in Python is as valid as one read from YAML. Rules across sections live in
:meth:`liquidation_hunter.config.model.BotConfig.check`. Units: times in seconds unless the name says minutes;
``*_pct`` are percentages (``1.0`` = 1 %); ``risk_per_trade`` and the fees are fractions (``0.0005`` = 0.05 %).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from msgspec import Meta, field
from msgspec.structs import replace

from live_heatmap import ConfigError
from live_heatmap.common.structs import Settings
from live_heatmap.estimated.config import DEFAULT_LEVERAGE_MIX, WINDOWS_MS, ModelConfig, ModelConfigError
from live_heatmap.estimated.layer import Validation
from live_heatmap.store.target import is_postgres_url, mask_url, password_in
from live_heatmap.stream.depth_budget import DEPTH_LIMITS
from live_heatmap.stream.settings import BYBIT_LINEAR_URL, OKX_PUBLIC_URL
from live_heatmap.stream.subscriptions import BINANCE_MARKET_URL, BINANCE_PUBLIC_URL

__all__ = ["BUILTIN_STRATEGIES", "MEMORY", "ApiConfig", "BybitConfig", "EstimatedConfig", "ExchangeConfig",
           "HttpUrl", "LoggingConfig", "OkxConfig", "OrderbookConfig", "RiskConfig", "ScheduleConfig",
           "StatsConfig", "StorageConfig", "StrategyConfig", "Timeout", "TimeoutsConfig", "Usdt", "VenuesConfig",
           "is_module_name"]

MEMORY = ":memory:"

Seconds = Annotated[float, Meta(gt=0, le=86_400)]
Timeout = Annotated[float, Meta(gt=0, le=120)]
Interval = Annotated[float, Meta(gt=0, le=600)]
Percent = Annotated[float, Meta(gt=0, le=100, description="percent")]
Usdt = Annotated[float, Meta(gt=0, description="USDT")]
FilePath = Annotated[str, Meta(pattern=r"\S", description="a file path")]
WsUrl = Annotated[str, Meta(pattern=r"^wss?://[^\s/?#]+(/[^\s?#]*)?$",
                            description="a ws/wss URL such as wss://host/path")]
HttpUrl = Annotated[str, Meta(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
                              description="a http/https URL such as https://host/path")]


class TimeoutsConfig(Settings, frozen=True):
    """``exchange.timeouts``: the stream's liveness checks and the REST timeout, in seconds."""

    connect: Timeout = 10.0
    """WebSocket connect and handshake."""
    silence: Annotated[float, Meta(gt=180, le=3600, description="Binance pings every 180 s")] = 300.0
    """No data and no server ping for this long: the connection is replaced. Must exceed Binance's 180 s pings."""
    ping_interval: Interval = 30.0
    """How often the client pings the server."""
    pong: Interval = 20.0
    """After a client ping, nothing at all received for this long: the socket is dead."""
    rest: Timeout = 10.0
    """One REST request (ccxt's ``timeout``)."""


class ExchangeConfig(Settings, frozen=True):
    """``exchange``: where market data and orders go."""

    name: Literal["binanceusdm"] = "binanceusdm"
    """The ccxt exchange id; only Binance USD-M futures for now."""
    ws_url: WsUrl = BINANCE_MARKET_URL
    """Base WebSocket URL; ``/stream`` or ``/ws`` is appended (``combined``)."""
    rest_url: HttpUrl | None = None
    """Override of ccxt's futures REST base (a proxy); null: ccxt's own."""
    demo: bool = False
    """Orders go to Binance demo trading (demo keys) instead of the real exchange."""
    combined: bool = True
    """``<ws_url>/stream`` with ``{"stream","data"}`` frames, or ``<ws_url>/ws`` with bare payloads."""
    mark_price: bool = True
    """Prices from the mark-price stream (1 s); false: polled over REST every ``schedule.prices`` seconds."""
    per_symbol_limit: Annotated[int, Meta(ge=1, le=1024)] = 50
    """Up to this many symbols, one stream each; more (or ``all``): the all-market streams, filtered."""
    timeouts: TimeoutsConfig = field(default_factory=TimeoutsConfig)

    def check(self) -> None:
        if self.ws_url.rstrip("/").rsplit("/", 1)[-1] in ("ws", "stream"):
            raise ConfigError.wrong("ws_url", "the base URL without /ws or /stream (added from `combined`)",
                                    self.ws_url)


class BybitConfig(Settings, frozen=True):
    """``venues.bybit``: where Bybit's liquidations and instruments are read (used when ``exchanges`` lists it)."""

    ws_url: WsUrl = BYBIT_LINEAR_URL
    """The linear contracts' public WebSocket (the whole URL)."""
    rest_url: HttpUrl = "https://api.bybit.com"
    """REST base of the instruments (``/v5/market/instruments-info``, read through ccxt)."""


class OkxConfig(Settings, frozen=True):
    """``venues.okx``: where OKX's liquidations and instruments are read (used when ``exchanges`` lists it)."""

    ws_url: WsUrl = OKX_PUBLIC_URL
    """The public WebSocket (the whole URL)."""
    rest_url: HttpUrl = "https://www.okx.com"
    """REST base of the instruments (``/api/v5/public/instruments``) and of the backfill, through ccxt."""
    backfill: bool = True
    """On start, read each configured symbol's recent liquidations over REST
    (``/api/v5/public/liquidation-orders``) to cover the time the bot was down (deduplicated against the stream)."""


class VenuesConfig(Settings, frozen=True):
    """``venues``: the liquidation feeds besides Binance's (Binance's URLs are in ``exchange``), and where each
    venue's instruments are cached."""

    markets_dir: FilePath = "var/markets"
    """Each venue's instruments (ids, contract sizes) are cached here as ``<venue>.json`` and read again after a
    day; a start without network uses the cache. Relative to the config file's folder."""
    bybit: BybitConfig = field(default_factory=BybitConfig)
    okx: OkxConfig = field(default_factory=OkxConfig)

    def markets_path(self, config_file: str | None) -> str:
        """``markets_dir`` resolved against ``config_file``'s folder (the working folder without a file), ``~``
        expanded. Resolved where it is used, not when the file is read: the config (a backtest's report, its hash)
        stays free of the folder it was read from."""
        base = os.path.dirname(os.path.abspath(config_file)) if config_file is not None else os.getcwd()
        return os.path.normpath(os.path.join(base, os.path.expanduser(self.markets_dir)))


BUILTIN_STRATEGIES = ("liquidation_magnet", "cascade_fade")
"""The strategies shipped in ``strategies/``; ``strategy.path`` loads one of your own."""
StrategyName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="a strategy's name")]
_PATH_RULE = ("a .py file (relative to the config's folder) or a module name such as my_strategies.fade, e.g. "
              "examples/external_strategy.py")


def is_module_name(path: str) -> bool:
    """``strategy.path`` names a module (``my_pkg.fade``), not a file: dotted identifiers without ``.py``."""
    return not path.endswith(".py") and all(part.isidentifier() for part in path.split("."))


class StrategyConfig(Settings, frozen=True):
    """``strategy``: which strategy trades the signals, and its own parameters.

    Without ``path``, ``name`` is one of the shipped strategies. With ``path`` (a ``.py`` file or a module
    name, as freqtrade's ``--strategy-path``) the strategy is a class defined there with a ``name`` and a
    ``decide(symbol, price, now_ms)`` method (``strategies.base.Strategy``), built as ``cls(hunter, params)``:
    the file's only such class, or the one whose ``name`` is ``strategy.name`` when it defines several.
    """

    name: StrategyName = "liquidation_magnet"
    """``liquidation_magnet`` (trade toward the cluster, the hunter's rule) or ``cascade_fade``; with ``path``:
    the ``name`` of the class to use when the file defines several."""
    path: FilePath | None = None
    """A strategy of your own: a ``.py`` file (relative to the config's folder) or an importable module name;
    null: a shipped strategy (``name``)."""
    params: dict[str, Any] = field(default_factory=dict)
    """The strategy's parameters as written (read-only once loaded); the strategy's own type reads them where
    the bot is assembled (``liquidation_hunter.bot.assembly``)."""

    def __hash__(self) -> int:  # the params mapping is read-only but not hashable
        return hash((self.name, self.path, tuple(self.params)))

    def check(self) -> None:
        if self.path is None and self.name not in BUILTIN_STRATEGIES:
            raise ConfigError.wrong("name", " or ".join(repr(n) for n in BUILTIN_STRATEGIES), self.name,
                                    " (a strategy of your own: set strategy.path)")
        if self.path is not None and not (self.path.endswith(".py") or is_module_name(self.path)):
            raise ConfigError.wrong("path", _PATH_RULE, self.path)

    def resolved(self, config_file: str | None) -> StrategyConfig:
        """This section with a file ``path`` resolved against ``config_file``'s folder (the working folder without
        a file), ``~`` expanded; a module name unchanged."""
        if self.path is None or is_module_name(self.path):
            return self
        base = os.path.dirname(os.path.abspath(config_file)) if config_file is not None else os.getcwd()
        return replace(self, path=os.path.normpath(os.path.join(base, os.path.expanduser(self.path))))


class RiskConfig(Settings, frozen=True):
    """``risk``: sizing, exits, limits and the paper exchange's costs.

    Sizing (``liquidation_hunter.bot.risk``): a trade loses ``risk_per_trade`` of the equity at its stop, fees
    and slippage of both fills included; its notional is capped by ``max_notional_per_position`` and by
    ``max_margin_pct`` of the equity at ``leverage``; its margin is ``notional / leverage``.
    """

    starting_wallet: Annotated[float, Meta(gt=0, le=1e9, description="USDT")] = 10_000.0
    """Paper mode's starting balance in USDT (live: the exchange's wallet)."""
    risk_per_trade: Annotated[float, Meta(gt=0, le=0.1)] = 0.01
    """Fraction of equity lost if a trade's stop is hit (0.01 = 1 %)."""
    leverage: Annotated[int, Meta(ge=1, le=125)] = 3
    max_open_positions: Annotated[int, Meta(ge=1, le=100)] = 3
    max_notional_per_position: Usdt | None = None
    """Cap on one position's notional in USDT; null: no cap (paper only, live needs one)."""
    max_margin_pct: Annotated[float, Meta(gt=0, le=100, description="percent")] = 25.0
    """Cap on one position's margin (``notional / leverage``) as a percentage of equity, so one trade cannot
    take the margin the next signals need."""
    from_signal: bool = True
    """Use the hunter's stop-loss and take-profit (``hunter`` section); false: the two percentages below."""
    stop_loss_pct: Annotated[float, Meta(gt=0, le=50, description="percent")] | None = None
    """Stop distance from the entry, percent; set exactly when ``from_signal`` is false."""
    take_profit_pct: Annotated[float, Meta(gt=0, le=500, description="percent")] | None = None
    """Take-profit distance from the entry, percent; set exactly when ``from_signal`` is false."""
    time_exit_minutes: Annotated[float, Meta(gt=0, le=10_080)] | None = 240.0
    """Close a position still open after this long; null: never."""
    cooldown_minutes: Annotated[float, Meta(ge=0, le=1440)] = 15.0
    """No new entry on a symbol for this long after an exit on it."""
    daily_loss_limit_pct: Percent | None = 5.0
    """Halt new entries after losing this much of the day's starting equity (UTC day); null: no limit."""
    max_drawdown_pct: Percent | None = 20.0
    """Halt new entries once equity is this far below its peak; null: no limit."""
    slippage_bps: Annotated[float, Meta(ge=0, le=500)] = 2.0
    """Paper fills are this many basis points worse than the price."""
    taker_fee: Annotated[float, Meta(ge=0, le=0.01)] = 0.0005
    """Fraction of notional (Binance USD-M default tier: 0.05 %)."""
    maker_fee: Annotated[float, Meta(ge=-0.01, le=0.01)] = 0.0002
    """Fraction of notional (Binance USD-M default tier: 0.02 %); negative for a rebate. Accepted and passed to
    the paper broker, whose fills are all taker fills: nothing charges it yet."""
    funding: bool = True
    """Paper positions pay and receive funding."""

    def check(self) -> None:
        for key in ("stop_loss_pct", "take_profit_pct"):
            value = getattr(self, key)
            if self.from_signal and value is not None:
                raise ConfigError.wrong(key, "null when from_signal is true (the hunter's levels are used)", value)
            if not self.from_signal and value is None:
                raise ConfigError.wrong(key, "a percentage > 0 when from_signal is false", value)


class ScheduleConfig(Settings, frozen=True):
    """``schedule``: how often each job of the bot runs, in seconds (each in (0, 86400])."""

    prices: Annotated[float, Meta(ge=1, le=86_400)] = 5.0
    """Poll prices over REST (only when ``exchange.mark_price`` is false); at least 1 s."""
    clusters: Seconds = 5.0
    """Refresh every symbol's clusters."""
    signals: Seconds = 10.0
    """Ask the strategy for entries."""
    positions: Seconds = 5.0
    """Check open positions: paper stops and take-profits, time exits, live order state."""
    snapshot: Seconds = 60.0
    """Write equity and positions to storage."""
    heartbeat: Annotated[float, Meta(ge=1, le=86_400)] = 60.0
    """Log one status line; at least 1 s."""


class StorageConfig(Settings, frozen=True):
    """``storage``: the SQLite file of trades, positions and equity snapshots, and the recorded liquidations."""

    path: FilePath = "var/liquidation-hunter.sqlite"
    """Relative paths are resolved against the config file's folder; ``:memory:`` keeps nothing (paper only)."""
    events: Annotated[FilePath | None, Meta(description=(
        "a file path, a postgresql://user@host:port/db URL (the password from PGPASSWORD or PGPASSFILE), or null "
        "(null: no recording)"))] = "var/liquidations.sqlite"
    """The event store every accepted liquidation is appended to, and the heatmap is warm-started from
    (``live_heatmap.store.recorder``); a file resolved like ``path``, or a ``postgresql://`` URL (a store shared by
    several recorders and bots: docs/STORAGE.md) whose password comes from the environment only (libpq's
    ``PGPASSWORD``/``PGPASSFILE``): a URL holding one is refused; null: no recording and no warm start."""
    retention_days: Annotated[float, Meta(gt=0, le=3650, description="days")] = 30.0
    """Recorded events older than this are deleted (hourly)."""

    def check(self) -> None:
        if self.path != MEMORY and self.path.endswith(("/", "\\")):
            raise ConfigError.wrong("path", "a file path, not a folder", self.path)
        if self.events is not None and is_postgres_url(self.events):
            if password_in(self.events):
                raise ConfigError.wrong("events", "a postgresql:// URL without a password (secrets never in a config "
                                        "file: set PGPASSWORD or PGPASSFILE)", mask_url(self.events))
            return
        if self.events == MEMORY:
            raise ConfigError.wrong("events", "a file path or null (:memory: would record nothing; null turns "
                                    "recording off)", self.events)
        if self.events is not None and self.events.endswith(("/", "\\")):
            raise ConfigError.wrong("events", "a file path, not a folder", self.events)
        if self.events is not None and self.events == self.path:
            raise ConfigError.wrong("events", "a file other than storage.path (the bot's books)", self.events)

    def resolved(self, config_file: str | None) -> StorageConfig:
        """This section with ``path`` and ``events`` resolved against ``config_file``'s folder (the working
        folder without a file), ``~`` expanded; ``:memory:`` and null unchanged."""

        def resolve(path: str) -> str:
            if path == MEMORY:
                return path
            base = os.path.dirname(os.path.abspath(config_file)) if config_file is not None else os.getcwd()
            return os.path.normpath(os.path.join(base, os.path.expanduser(path)))

        try:
            events = self.events if self.events is None or is_postgres_url(self.events) else resolve(self.events)
            return replace(self, path=resolve(self.path), events=events)
        except ConfigError as exc:  # the two paths name one file once resolved
            raise exc.within("storage") from None


class LoggingConfig(Settings, frozen=True):
    """``logging``: structlog output."""

    format: Literal["auto", "json", "console"] = "auto"
    """``json`` lines, ``console`` (readable, coloured) or ``auto``: console on a terminal, else JSON."""
    level: Annotated[str, Meta(pattern="^(?i:debug|info|warning|error|critical)$", description=(
        "'debug', 'info', 'warning', 'error' or 'critical' (either case)"))] = "info"
    """``debug``, ``info``, ``warning``, ``error`` or ``critical`` (either case)."""


class ApiConfig(Settings, frozen=True):
    """``api``: the read-only HTTP API and heatmap page the bot serves (``liquidation_hunter.api``)."""

    enabled: bool = False
    """Serve it while the bot runs."""
    host: Annotated[str, Meta(pattern=r"^[A-Za-z0-9.:\-\[\]]{1,253}$",
                              description="an IP address or host name such as 127.0.0.1")] = "127.0.0.1"
    """Address to listen on. Anything but the loopback needs the token."""
    port: Annotated[int, Meta(ge=0, le=65535)] = 8700
    """TCP port, 1..65535 (0: any free port, for tests)."""
    token_env: Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                                   description="the name of an environment variable (letters, digits, _)")] = \
        "LIQUIDATION_HUNTER_API_TOKEN"
    """Name of the environment variable holding the bearer token (the token itself is never in the file)."""


LeveragePair = tuple[Annotated[float, Meta(gt=1, le=125)], Annotated[float, Meta(gt=0, le=1)]]


class EstimatedConfig(Settings, frozen=True):
    """``estimated``: the estimated liquidation levels the bot keeps from live klines, mark prices and open interest
    (issue 14; ``docs/ESTIMATED.md``). Off by default: the bot is then unchanged."""

    enabled: bool = False
    """Keep the estimated layer (needs a list of ``symbols`` and ``exchange.mark_price``)."""
    window: Literal["12h", "24h", "3d", "7d"] = "12h"
    """How long a modelled position stays open; also how much history is read on start."""
    leverage_mix: tuple[LeveragePair, ...] = DEFAULT_LEVERAGE_MIX
    """``[[leverage, share], ...]``: how new notional spreads over leverages; shares sum to 1."""
    attribution: Literal["taker", "candle", "even"] = "taker"
    """How new notional is split between longs and shorts."""
    oi_poll_seconds: Annotated[float, Meta(ge=10, le=300, description="seconds")] = 60.0
    """How often each symbol's open interest is read (``GET /fapi/v1/openInterest``, weight 1)."""
    validation_report: Annotated[FilePath | None, Meta(description="a file path or null")] = None
    """The JSON ``liquidation-hunter validate-estimated --json`` wrote; its ``validated`` decides whether the layer
    is labelled validated (null: not validated). Resolved against the config file's folder."""

    def check(self) -> None:
        try:
            self.model_config()
        except ModelConfigError as exc:
            raise ConfigError.wrong("leverage_mix", "[[leverage, share], ...] with shares summing to 1",
                                    [list(p) for p in self.leverage_mix], f" ({exc})") from None

    def model_config(self) -> ModelConfig:
        """The model's settings of this section."""
        return ModelConfig(leverage_mix=tuple((float(lev), float(share)) for lev, share in self.leverage_mix),
                           attribution=self.attribution, window_ms=WINDOWS_MS[self.window])

    def resolved(self, config_file: str | None) -> EstimatedConfig:
        """``validation_report`` resolved against ``config_file``'s folder, ``~`` expanded."""
        if self.validation_report is None:
            return self
        base = os.path.dirname(os.path.abspath(config_file)) if config_file is not None else os.getcwd()
        return replace(self, validation_report=os.path.normpath(
            os.path.join(base, os.path.expanduser(self.validation_report))))

    def validation(self) -> Validation:
        """The verdict of ``validation_report`` (not validated without one); a missing or unreadable report, or
        one without a true/false ``validated``, is a :class:`ConfigError` naming the file."""
        path = self.validation_report
        if path is None:
            return Validation.not_run()
        try:
            report = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError("estimated.validation_report", f"cannot read {path}: "
                              f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}") from None
        verdict = report.get("validated") if isinstance(report, dict) else None
        if not isinstance(verdict, bool):
            raise ConfigError("estimated.validation_report", f"{path} has no true/false 'validated' (write it with "
                              "liquidation-hunter validate-estimated --json)")
        reasons = report.get("reasons") or []
        why = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
        summary = f"{'validated' if verdict else 'not validated'} by {os.path.basename(path)}" + \
            (f": {why}" if why else "")
        return Validation(verdict, summary[:300])


class OrderbookConfig(Settings, frozen=True):
    """``orderbook``: the order-book liquidity layer the bot keeps (issue 15; ``docs/LIQUIDITY.md``): a local book
    per symbol, sampled into depth over time and walls. Off by default: the bot is then unchanged."""

    enabled: bool = False
    """Keep the layer (needs a list of ``symbols``)."""
    mode: Literal["stream", "rest"] = "stream"
    """``stream``: ``<symbol>@depth@100ms`` on ``public_url`` synchronised with REST snapshots (a book per 100 ms);
    ``rest``: no stream, a REST snapshot of each symbol every ``rest_interval_seconds`` (the cheap mode)."""
    public_url: WsUrl = BINANCE_PUBLIC_URL
    """Binance's order-book stream base URL (``/public`` since 2026-04): a separate connection from
    ``exchange.ws_url``; the same URL for both is refused."""
    snapshot_limit: Annotated[int, Meta(description="one of 5, 10, 20, 50, 100, 500, 1000")] = 1000
    """Levels a side of each ``GET /fapi/v1/depth`` (weight 2/5/10/20 for <= 50/100/500/1000)."""
    rest_interval_seconds: Annotated[float, Meta(ge=1, le=3600, description="seconds")] = 10.0
    """``rest`` mode: seconds between two snapshots of a symbol."""
    sample_seconds: Annotated[float, Meta(ge=0.1, le=60, description="seconds")] = 1.0
    """How often each synced book is sampled into the layer (the ``orderbook`` job)."""
    record_seconds: Annotated[float, Meta(ge=10, le=3600, description="seconds")] = 60.0
    """How often the depth is sampled for recording (coarser than ``sample_seconds``): its runs are appended to
    ``storage.events`` (when set) for replays and backtests."""
    bin_pct: Annotated[float, Meta(gt=0, le=1, description="percent")] = 0.05
    """Width of a price bin in percent of log-price (0.05 = 0.05 %)."""
    walls: bool = True
    """Keep walls: also subscribes ``<symbol>@aggTrade`` on the ``/market`` connection (filled or pulled); with
    ``venue: bybit``, ``publicTrade.<SYMBOL>`` on Bybit's book connection."""
    wall_k: Annotated[float, Meta(gt=1, le=100)] = 5.0
    """A wall: a bin's notional >= ``wall_k`` x the median of its side's bins within +-2 % of the mid ..."""
    wall_floor: Usdt = 100_000.0
    """... and >= this many USDT."""
    venue: Literal["binance", "bybit"] = "binance"
    """Whose books feed the layer: ONE venue per symbol (the layer never sums books of different venues).
    ``binance``: ``<symbol>@depth@100ms`` on ``public_url`` (``mode`` stream or rest), walls from ``/market``'s
    aggTrades; ``bybit``: ``orderbook.200.<SYMBOL>`` on ``venues.bybit.ws_url`` (its own connection; Bybit sends
    its own snapshots: no REST weight), walls from ``publicTrade.<SYMBOL>``. Needs ``bybit`` in ``exchanges``
    and ``mode: stream``."""

    def check(self) -> None:
        if self.snapshot_limit not in DEPTH_LIMITS:
            raise ConfigError.wrong("snapshot_limit", f"one of {', '.join(map(str, DEPTH_LIMITS))}",
                                    self.snapshot_limit)
        if self.venue == "bybit" and self.mode == "rest":
            raise ConfigError.wrong("mode", "stream with venue: bybit (the cheap REST mode is Binance's; Bybit's "
                                    "stream sends its own snapshots)", self.mode)


class StatsConfig(Settings, frozen=True):
    """``stats``: each cluster's z-score against its own symbol's history, risk levels and the density profile
    (issue 16; ``docs/STATS.md``). They add fields to what the API, the page and ``status`` show; no trade reads
    them."""

    extreme: Annotated[float, Meta(ge=0, le=100, description="a z-score")] = 3.0
    """A cluster whose z-score is at least this is ``extreme`` ..."""
    high: Annotated[float, Meta(ge=0, le=100, description="a z-score")] = 2.0
    """... ``high`` ..."""
    moderate: Annotated[float, Meta(ge=0, le=100, description="a z-score")] = 1.0
    """... ``moderate``; below, ``low``."""
    min_history: Annotated[int, Meta(ge=2, le=100_000)] = 50
    """Cluster samples a symbol needs before its z-scores exist (``null`` until then)."""
    sample_minutes: Annotated[float, Meta(ge=1, le=1440, description="minutes")] = 15.0
    """How often each symbol's clusters are sampled into its history."""
    retention_days: Annotated[float, Meta(gt=0, le=3650, description="days")] = 7.0
    """How far back the history reaches (the recorded events replayed at start reach as far as the recorder
    kept them: ``storage.retention_days``)."""
    max_samples: Annotated[int, Meta(ge=2, le=1_000_000)] = 2_000
    """At most this many samples a symbol (the oldest go first)."""
    bandwidth: Annotated[float, Meta(gt=0, le=0.5, description="a fraction of the price")] = 0.003
    """The density profile's kernel width in log price (0.003 = 0.3 %); the API's ``?bandwidth=`` overrides."""

    def check(self) -> None:
        if not self.extreme >= self.high >= self.moderate:
            raise ConfigError.wrong("extreme", f"extreme >= high >= moderate (high {self.high}, moderate "
                                    f"{self.moderate})", self.extreme)
        if self.max_samples < self.min_history:
            raise ConfigError.wrong("max_samples", f"at least min_history ({self.min_history})", self.max_samples)
