"""One YAML file describes a bot: :func:`load_config` -> :class:`BotConfig` (frozen, checked, defaults filled in).

``config/default.yaml`` documents every key with its default. Checks, in order:

1. the file: readable UTF-8, valid YAML (errors give line and column), no
   key twice in one mapping, a mapping at the top (an empty file means all
   defaults: paper mode, every symbol);
2. no credentials anywhere in it (``api_key``, ``secret``, ``password``...):
   they come only from ``BINANCE_API_KEY`` / ``BINANCE_API_SECRET`` in the
   environment (:meth:`BotConfig.secrets`);
3. no unknown key at any level (with a "did you mean");
4. each value's type and range as its section declares it (:mod:`.sections`;
   ints are accepted where a number is expected, nothing else is coerced),
   then each section's own rules;
5. the rules across sections, all in :meth:`BotConfig.check`.

The strategy's own parameters (``strategy.params``) are read by the strategy's
type where the bot is assembled (:mod:`liquidation_hunter.bot.assembly`).

Every problem is a :class:`ConfigFileError` (a ``ValueError``) whose one-line
message names the file and the key: ``config/paper.yaml: risk.leverage:
expected an integer from 1 to 125, got 200``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
from msgspec import field
from msgspec.structs import replace

from liquidation_hunter.config.alerts import AlertsConfig
from liquidation_hunter.config.feed import FeedConfig
from liquidation_hunter.config.loader import parse_yaml
from liquidation_hunter.config.secrets import SECRET_ENV, Secrets, environment_secrets, find_secret_key
from liquidation_hunter.config.sections import (
    MEMORY,
    ApiConfig,
    EstimatedConfig,
    ExchangeConfig,
    LoggingConfig,
    OrderbookConfig,
    RiskConfig,
    ScheduleConfig,
    StatsConfig,
    StorageConfig,
    StrategyConfig,
    VenuesConfig,
)
from liquidation_hunter.signals.rules import HunterConfig
from live_heatmap import ConfigError, HeatmapConfig, to_unified
from live_heatmap.common.structs import Settings, convert, plain, reject_unknown
from live_heatmap.estimated.budget import Budget, estimated_budget
from live_heatmap.estimated.config import WINDOWS_MS
from live_heatmap.stream.depth_budget import DepthBudget, combined_ok, depth_budget
from live_heatmap.stream.subscriptions import same_connection
from live_heatmap.venue import Venue

__all__ = ["BotConfig", "ConfigFileError", "Secrets", "load_config"]

ConfigFileError = ConfigError
"""The config's one error type, under the name this package has always raised."""

LIQUIDATION_MARGIN = 50.0
"""A stop must sit within ``LIQUIDATION_MARGIN / leverage`` percent of the entry: half the distance at which
an isolated position is liquidated (about ``100 / leverage`` %, less the maintenance margin)."""


class BotConfig(Settings, frozen=True):
    """A whole bot. Build with :func:`load_config` or :meth:`from_mapping`; made directly (from section values),
    the same checks run.

    Rules across sections (:meth:`check`; each error names the key to change):

    * ``hunter``: ``allow_long`` and ``allow_short`` are not both false (the bot would never trade);
    * ``exchange.rest_url`` is null when ``exchange.demo`` is true (demo trading brings its own URLs);
    * ``risk.leverage <= 50 / stop %``: the stop fills well before liquidation (about ``100 / leverage`` %).
      The stop is ``risk.stop_loss_pct``, or with ``from_signal`` the hunter's widest,
      ``hunter.max_distance_pct * take_profit_fraction / reward_to_risk``;
    * ``risk.max_open_positions * risk.risk_per_trade <= daily_loss_limit_pct / 100``: all open trades
      stopped out at once stay within the daily limit (when it is set);
    * ``schedule.positions <= risk.time_exit_minutes * 60``, so time exits are on time;
    * ``mode: live`` needs an explicit symbol list (not ``all``), ``risk.max_notional_per_position``,
      ``risk.daily_loss_limit_pct``, ``risk.max_drawdown_pct`` and a storage file (not ``:memory:``).

    Live trading (real money, or ``exchange.demo``) is not armed by the file alone: the command that runs the
    bot also needs ``--live`` (``liquidation_hunter.bot.runner.check_live_opt_in``).
    """

    mode: Literal["paper", "live"] = "paper"
    """``paper`` (fills simulated locally from live prices) or ``live`` (orders sent to the exchange)."""
    symbols: tuple[str, ...] | Literal["all"] = "all"
    """Unified symbols (``BTC/USDT:USDT``; ``from_mapping`` converts ``BTCUSDT``), or ``"all"``."""
    exchanges: tuple[str, ...] = ("binance",)
    """The venues whose liquidations feed the heatmap (``binance``, ``bybit``, ``okx``), each once, Binance among
    them: trading and prices stay on Binance (``exchange``)."""
    exchange: ExchangeConfig = field(default_factory=ExchangeConfig)
    heatmap: HeatmapConfig = field(default_factory=HeatmapConfig)
    hunter: HunterConfig = field(default_factory=HunterConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    venues: VenuesConfig = field(default_factory=VenuesConfig)
    estimated: EstimatedConfig = field(default_factory=EstimatedConfig)
    orderbook: OrderbookConfig = field(default_factory=OrderbookConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    feed: FeedConfig = field(default_factory=FeedConfig)
    source: str | None = None
    """The file this came from, as given (not a key of the file)."""

    def check(self) -> None:
        hunter, risk = self.hunter, self.risk
        check_exchanges(self.exchanges)
        if self.symbols != "all" and unified_symbols(list(self.symbols)) != self.symbols:
            raise ConfigError.wrong("symbols", "unified symbols such as BTC/USDT:USDT, each once (from_mapping "
                                    "converts BTCUSDT)", list(self.symbols))
        if not (hunter.allow_long or hunter.allow_short):
            raise ConfigError.wrong("hunter.allow_short", "true when allow_long is false (else no trades)", False)
        if self.exchange.demo and self.exchange.rest_url is not None:
            raise ConfigError.wrong("exchange.rest_url", "null when exchange.demo is true (demo trading has its "
                                    "own URLs)", self.exchange.rest_url)
        if risk.stop_loss_pct is not None:
            stop = risk.stop_loss_pct
            what = f"stop_loss_pct is {stop:.4g} %"
        else:
            stop = hunter.max_distance_pct * hunter.take_profit_fraction / hunter.reward_to_risk
            what = (f"the hunter's widest stop is {stop:.4g} % = hunter.max_distance_pct * take_profit_fraction"
                    " / reward_to_risk")
        highest = math.floor(LIQUIDATION_MARGIN / stop + 1e-9)
        if highest < 1:
            raise ConfigError.wrong("hunter.max_distance_pct", f"a value giving a widest stop of at most "
                                    f"{LIQUIDATION_MARGIN:g} % ({what})", hunter.max_distance_pct)
        if risk.leverage > highest:
            raise ConfigError.wrong("risk.leverage", f"an integer from 1 to {highest} ({what}; a stop must fill well"
                                    " before liquidation at about 100 / leverage %, so leverage <= 50 / stop %)",
                                    risk.leverage)
        daily = risk.daily_loss_limit_pct
        if daily is not None and risk.max_open_positions * risk.risk_per_trade * 100.0 > daily + 1e-9:
            raise ConfigError.wrong(
                "risk.risk_per_trade", f"at most {daily / 100.0 / risk.max_open_positions:.4g} (max_open_positions "
                f"{risk.max_open_positions} stopped out together must lose at most daily_loss_limit_pct "
                f"{daily:g} %)", risk.risk_per_trade)
        if risk.time_exit_minutes is not None and self.schedule.positions > risk.time_exit_minutes * 60.0:
            raise ConfigError.wrong("schedule.positions", f"at most {risk.time_exit_minutes * 60.0:g} seconds "
                                    "(risk.time_exit_minutes), or time exits come late", self.schedule.positions)
        self._check_estimated()
        self._check_orderbook()
        self._check_feed()
        if self.mode != "live":
            return
        if self.symbols == "all":
            raise ConfigError.wrong("symbols", "a list of symbols when mode is live ('all' is for paper)", "all")
        for key in ("max_notional_per_position", "daily_loss_limit_pct", "max_drawdown_pct"):
            if getattr(risk, key) is None:
                raise ConfigError.wrong(f"risk.{key}", "a positive number when mode is live (no limit is for paper)",
                                        None)
        if self.storage.path == MEMORY:
            raise ConfigError.wrong("storage.path", "a file when mode is live (trades must survive a restart)",
                                    MEMORY)

    def _check_estimated(self) -> None:
        est = self.estimated
        if not est.enabled:
            return
        if self.symbols == "all":
            raise ConfigError.wrong("estimated.enabled", "false with symbols: all (the estimated layer follows a "
                                    "list of symbols: one kline stream and one open-interest poll each)", True)
        if not self.exchange.mark_price:
            raise ConfigError.wrong("estimated.enabled", "false with exchange.mark_price false (the layer reads the "
                                    "mark-price stream)", True)
        budget = estimated_budget(len(self.symbols), est.oi_poll_seconds, WINDOWS_MS[est.window])
        if not budget.ok:
            raise ConfigError.wrong("estimated.oi_poll_seconds", f"a setting within {budget.share:.0%} of Binance's "
                                    f"REST weight ({budget.line()})", est.oi_poll_seconds,
                                    "; poll less often, shorten estimated.window or follow fewer symbols")

    def _check_feed(self) -> None:
        """A bot on a feed (``feed.source``) reads liquidations only: it does not publish too, the layers that need
        Binance's own streams (estimated: klines and mark prices; orderbook: depth and trades) are refused, and
        ``feed.exchanges`` are among ``exchanges``."""
        feed = self.feed
        if feed.source is None:
            return
        if feed.publish is not None:
            raise ConfigError.wrong("feed.publish", "null with feed.source (a bot on a feed publishing what it reads "
                                    "would send every event round again; one process publishes: docs/FEED.md)",
                                    feed.publish)
        if self.estimated.enabled:
            raise ConfigError.wrong("feed.source", "null with estimated.enabled (the estimated layer reads Binance's "
                                    "own kline and mark-price streams, which a bot on a feed does not open)",
                                    feed.source)
        if self.orderbook.enabled:
            raise ConfigError.wrong("feed.source", "null with orderbook.enabled (the liquidity layer reads Binance's "
                                    "own depth streams, which a bot on a feed does not open)", feed.source)
        for i, name in enumerate(feed.exchanges or ()):
            if name not in self.exchanges:
                raise ConfigError.wrong(f"feed.exchanges[{i}]", f"one of exchanges ({', '.join(self.exchanges)})",
                                        name)

    @property
    def feed_exchanges(self) -> tuple[str, ...]:
        """The venues a bot on a feed reads: ``feed.exchanges``, or ``exchanges``."""
        return self.feed.exchanges or self.exchanges

    def estimated_budget(self) -> Budget | None:
        """The estimated layer's REST weight (None when it is off)."""
        est = self.estimated
        if not est.enabled or self.symbols == "all":
            return None
        return estimated_budget(len(self.symbols), est.oi_poll_seconds, WINDOWS_MS[est.window])

    def depth_budget(self) -> DepthBudget | None:
        """The order-book layer's REST weight (None when it is off)."""
        book = self.orderbook
        if not book.enabled or self.symbols == "all":
            return None
        return depth_budget(len(self.symbols), mode=book.mode, limit=book.snapshot_limit,
                            interval_seconds=book.rest_interval_seconds if book.mode == "rest" else None,
                            venue=book.venue)

    def _check_orderbook(self) -> None:
        book = self.orderbook
        if not book.enabled:
            return
        if self.symbols == "all":
            raise ConfigError.wrong("orderbook.enabled", "false with symbols: all (a local book follows a list of "
                                    "symbols)", True)
        if book.venue == "bybit" and "bybit" not in self.exchanges:
            raise ConfigError.wrong("orderbook.venue", "binance, or bybit with bybit in exchanges (Bybit's books come "
                                    "with its stream)", book.venue)
        if book.venue == "binance" and book.mode == "stream" and same_connection(book.public_url,
                                                                                   self.exchange.ws_url):
            raise ConfigError.wrong("orderbook.public_url", "a different URL from exchange.ws_url (Binance serves "
                                    "order-book streams on /public, a separate connection from /market)",
                                    book.public_url)
        budget = self.depth_budget()
        if budget is None:
            return
        key = "orderbook.rest_interval_seconds" if book.mode == "rest" else "orderbook.snapshot_limit"
        value: Any = book.rest_interval_seconds if book.mode == "rest" else book.snapshot_limit
        if not budget.ok:
            raise ConfigError.wrong(key, f"a setting within {budget.share:.0%} of Binance's REST weight "
                                    f"({budget.line()})", value, "; snapshot less often, fewer levels or fewer symbols")
        estimated = self.estimated_budget()
        if estimated is not None and not combined_ok([estimated.first_minute, budget.first_minute]):
            raise ConfigError.wrong(key, f"a setting whose weight with the estimated layer's stays within "
                                    f"{budget.share:.0%} of Binance's ({budget.first_minute:.0f} + "
                                    f"{estimated.first_minute:.0f} weight in the first minute)", value)

    # ---------------------------------------------------------------- building

    @classmethod
    def from_mapping(cls, data: Any, source: str | os.PathLike[str] | None = None, *,
                     lines: Mapping[str, int] | None = None) -> BotConfig:
        """Build from parsed YAML (None means all defaults). ``source``, the file it came from, is named in
        errors and is the folder relative ``storage.path`` is resolved against; ``lines`` maps key paths to
        line numbers for :attr:`ConfigFileError.line`."""
        file = os.fspath(source) if source is not None else None
        try:
            data = {} if data is None else data
            if not isinstance(data, Mapping):
                raise ConfigError.wrong(None, f"a mapping of sections ({', '.join(_TOP)})", data)
            secret = find_secret_key(data)
            if secret is not None:
                raise ConfigError(secret, "credentials are not read from config files; set "
                                  f"{' and '.join(SECRET_ENV)} in the environment")
            reject_unknown(data, _TOP, _ELSEWHERE)
            if "symbols" in data:
                data = {**data, "symbols": unified_symbols(data["symbols"])}
            config = convert(cls, data)
            config = replace(config, storage=config.storage.resolved(file), strategy=config.strategy.resolved(file),
                             estimated=config.estimated.resolved(file), feed=config.feed.resolved(file), source=file)
            if config.estimated.enabled:
                config.estimated.validation()  # a missing or unreadable report is the file's error
            return config
        except ConfigError as exc:
            raise exc.within(file=file, lines=lines, secrets=environment_secrets()) from None

    # ---------------------------------------------------------------- views

    @property
    def venues_on(self) -> tuple[Venue, ...]:
        """``exchanges`` as :class:`~live_heatmap.venue.Venue` values, in the file's order."""
        return tuple(Venue(name) for name in self.exchanges)

    @property
    def real_money(self) -> bool:
        """Live on the real exchange (not demo): the run command must also be given ``--live``."""
        return self.mode == "live" and not self.exchange.demo

    def secrets(self, environ: Mapping[str, str] | None = None) -> Secrets:
        """The API credentials from ``environ`` (default ``os.environ``); never from the file."""
        return Secrets.from_environ(environ)

    def warnings(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Things that are valid but worth saying (``check-config`` prints them to stderr)."""
        out = []
        missing = self.secrets(environ).missing()
        if self.mode == "live" and missing:
            out.append(f"mode is live but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
                       " in the environment")
        if self.mode == "paper" and self.exchange.demo:
            out.append("exchange.demo is ignored in paper mode (fills are simulated locally)")
        if self.real_money:
            out.append("mode is live on the real exchange: the bot trades real money only when run with --live")
        elif self.mode == "live":
            out.append("mode is live on Binance demo trading: the bot runs only when given --live")
        return out

    def to_dict(self, masked: bool = True, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The effective configuration (defaults filled in) as plain data, in ``config/default.yaml``'s shape.

        ``masked=True`` (for display) adds ``secrets``: each environment key masked (``****1234``) or None when
        not set. ``masked=False`` leaves secrets out altogether and reads back through :meth:`from_mapping`
        to an equal config. No form of it holds a secret in clear.
        """
        out: dict[str, Any] = plain(self)
        del out["source"]
        if masked:
            out["secrets"] = self.secrets(environ).masked()
        return out


def load_config(path: str | os.PathLike[str]) -> BotConfig:
    """Read and check one YAML file (module docstring). Raises :class:`ConfigFileError`."""
    file = os.fspath(path)
    try:
        raw = Path(file).read_bytes()
    except FileNotFoundError:
        raise ConfigError(None, "no such file", file=file) from None
    except IsADirectoryError:
        raise ConfigError(None, "is a folder, not a file", file=file) from None
    except OSError as exc:
        raise ConfigError(None, f"cannot be read ({exc.strerror or exc})", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(None, f"not UTF-8 text (byte {exc.start})", file=file) from None
    data, lines = parse_yaml(text, file)
    return BotConfig.from_mapping(data, file, lines=lines)


_TOP = tuple(name for name in BotConfig.__struct_fields__ if name != "source")
_ELSEWHERE = {key: f"{section.name}.{key}" for section in reversed(msgspec.structs.fields(BotConfig))
              if isinstance(section.type, type) and issubclass(section.type, Settings)
              for key in section.type.__struct_fields__}
"""Each section's keys (the first section's where two share one), to point a misplaced key to its section."""


def check_exchanges(exchanges: tuple[str, ...]) -> None:
    """``exchanges``: known venues, each once, Binance among them (one-line :class:`ConfigError` otherwise)."""
    choices = ", ".join(v.value for v in Venue)
    if not exchanges:
        raise ConfigError.wrong("exchanges", f"a list of venues among {choices}", [])
    seen: set[str] = set()
    for i, name in enumerate(exchanges):
        if name not in {v.value for v in Venue}:
            raise ConfigError(f"exchanges[{i}]", f"unknown venue {name!r}; the venues are {choices}")
        if name in seen:
            raise ConfigError(f"exchanges[{i}]", f"{name!r} is listed twice")
        seen.add(name)
    if Venue.BINANCE not in seen:
        raise ConfigError.wrong("exchanges", "a list including binance (trading and prices are Binance's; the "
                                "other venues add their liquidations)", list(exchanges))


def unified_symbols(value: Any) -> tuple[str, ...] | Literal["all"]:
    """``symbols`` as the config holds it: ``"all"`` (either case), or each unified (``BTCUSDT`` ->
    ``BTC/USDT:USDT``), each once."""
    what = "a symbol such as BTCUSDT or BTC/USDT:USDT (Binance USD-M, USDT or USDC margined)"
    if isinstance(value, str):
        if value.lower() == "all":
            return "all"
        raise ConfigError.wrong("symbols", "a list of symbols or 'all' (one symbol: [BTCUSDT])", value)
    if not isinstance(value, list | tuple):
        raise ConfigError.wrong("symbols", "a list of symbols or 'all'", value)
    if not value:
        raise ConfigError.wrong("symbols", "at least one symbol (or 'all')", [])
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError.wrong(f"symbols[{i}]", what, item)
        try:
            unified = to_unified(item.strip())
        except ValueError:
            raise ConfigError.wrong(f"symbols[{i}]", what, item) from None
        if unified in seen:
            raise ConfigError(f"symbols[{i}]", f"{item!r} repeats symbols[{seen[unified]}] ({unified})")
        seen[unified] = i
    return tuple(seen)
