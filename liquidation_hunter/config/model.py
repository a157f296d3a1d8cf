"""One YAML file describes a bot: :func:`load_config` -> :class:`BotConfig` (frozen, checked, defaults filled in).

``config/default.yaml`` documents every key with its default. Checks, in order:

1. the file: readable UTF-8, valid YAML (errors give line and column), no
   key twice in one mapping, a mapping at the top (an empty file means all
   defaults: paper mode, every symbol);
2. no credentials anywhere in it (``api_key``, ``secret``, ``password``...):
   they come only from ``BINANCE_API_KEY`` / ``BINANCE_API_SECRET`` in the
   environment (:meth:`BotConfig.secrets`);
3. no unknown key at any level (with a "did you mean");
4. each value's type and range, per section (:mod:`.config_sections`; ints are
   accepted where a number is expected, nothing else is coerced);
5. the rules across fields, listed in :meth:`BotConfig.__post_init__`.

Every problem is a :class:`ConfigFileError` (a ``ValueError``) whose one-line
message names the file and the key: ``config/paper.yaml: risk.leverage:
expected an integer from 1 to 125, got 200``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

from liquidation_hunter.config.checks import (
    SECRET_ENV,
    ConfigFileError,
    build_section,
    choice,
    find_secret_key,
    mask,
    reject_unknown,
    validate,
)
from liquidation_hunter.config.loader import parse_yaml
from liquidation_hunter.config.sections import (
    MEMORY,
    ApiConfig,
    ExchangeConfig,
    LoggingConfig,
    RiskConfig,
    ScheduleConfig,
    StorageConfig,
    StrategyConfig,
    thaw,
)
from liquidation_hunter.signals.rules import HunterConfig
from live_heatmap import ConfigError, HeatmapConfig, to_unified

__all__ = ["BotConfig", "ConfigFileError", "Secrets", "load_config"]

LIQUIDATION_MARGIN = 50.0
"""A stop must sit within ``LIQUIDATION_MARGIN / leverage`` percent of the entry: half the distance at which
an isolated position is liquidated (about ``100 / leverage`` %, less the maintenance margin)."""


@dataclass(frozen=True, slots=True, repr=False)
class Secrets:
    """API credentials from the environment. ``repr``/``str`` show them masked (``****1234``)."""

    api_key: str | None = None
    api_secret: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        """``BINANCE_API_KEY`` / ``BINANCE_API_SECRET`` (surrounding blanks dropped; empty means not set)."""
        env = os.environ if environ is None else environ
        key, secret = ((env.get(name) or "").strip() or None for name in SECRET_ENV)
        return cls(key, secret)

    @property
    def complete(self) -> bool:
        return self.api_key is not None and self.api_secret is not None

    def missing(self) -> tuple[str, ...]:
        """Names of the environment variables that are not set."""
        return tuple(name for name, value in zip(SECRET_ENV, (self.api_key, self.api_secret), strict=True)
                     if value is None)

    def masked(self) -> dict[str, str | None]:
        """``{"BINANCE_API_KEY": "****1234" or None (not set), "BINANCE_API_SECRET": ...}``."""
        return {name: None if value is None else mask(value)
                for name, value in zip(SECRET_ENV, (self.api_key, self.api_secret), strict=True)}

    def __repr__(self) -> str:
        key, secret = (None if v is None else mask(v) for v in (self.api_key, self.api_secret))
        return f"Secrets(api_key={key!r}, api_secret={secret!r})"

    __str__ = __repr__


Symbols = tuple[str, ...] | Literal["all"]


@dataclass(frozen=True, slots=True)
class BotConfig:
    """A whole bot. Build with :func:`load_config` or :meth:`from_mapping`; made directly, the same checks run.

    Rules across fields (each error names the key to change):

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

    mode: str = "paper"
    """``paper`` (fills simulated locally from live prices) or ``live`` (orders sent to the exchange)."""
    symbols: Symbols = "all"
    """Unified symbols (``BTC/USDT:USDT``; ``BTCUSDT`` is accepted and converted), or ``"all"``."""
    exchange: ExchangeConfig = field(default_factory=ExchangeConfig)
    heatmap: HeatmapConfig = field(default_factory=HeatmapConfig)
    hunter: HunterConfig = field(default_factory=HunterConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    source: str | None = field(default=None, compare=False)
    """The file this came from, as given (not part of the configuration)."""

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            value = getattr(self, name)
            if not isinstance(value, cls):
                object.__setattr__(self, name, _section(cls, value, name))
        validate(self, {"mode": choice("paper", "live")})
        object.__setattr__(self, "symbols", _symbols(self.symbols))
        self._cross_checks()

    def _cross_checks(self) -> None:
        hunter, risk, live = self.hunter, self.risk, self.mode == "live"
        if not (hunter.allow_long or hunter.allow_short):
            raise ConfigFileError.wrong("hunter.allow_short", "true when allow_long is false (else no trades)",
                                        False)
        if self.exchange.demo and self.exchange.rest_url is not None:
            raise ConfigFileError.wrong("exchange.rest_url", "null when exchange.demo is true (demo trading "
                                        "has its own URLs)", self.exchange.rest_url)
        if risk.stop_loss_pct is not None:
            stop = risk.stop_loss_pct
            what = f"stop_loss_pct is {stop:.4g} %"
        else:
            stop = hunter.max_distance_pct * hunter.take_profit_fraction / hunter.reward_to_risk
            what = (f"the hunter's widest stop is {stop:.4g} % = hunter.max_distance_pct * take_profit_fraction"
                    " / reward_to_risk")
        highest = math.floor(LIQUIDATION_MARGIN / stop + 1e-9)
        if highest < 1:
            raise ConfigFileError.wrong("hunter.max_distance_pct", f"a value giving a widest stop of at most "
                                        f"{LIQUIDATION_MARGIN:g} % ({what})", hunter.max_distance_pct)
        if risk.leverage > highest:
            raise ConfigFileError.wrong("risk.leverage", f"an integer from 1 to {highest} ({what}; a stop must fill"
                                        " well before liquidation at about 100 / leverage %, so leverage <= 50 / stop"
                                        " %)", risk.leverage)
        daily = risk.daily_loss_limit_pct
        if daily is not None and risk.max_open_positions * risk.risk_per_trade * 100.0 > daily + 1e-9:
            raise ConfigFileError.wrong(
                "risk.risk_per_trade", f"at most {daily / 100.0 / risk.max_open_positions:.4g} (max_open_positions "
                f"{risk.max_open_positions} stopped out together must lose at most daily_loss_limit_pct "
                f"{daily:g} %)", risk.risk_per_trade)
        if risk.time_exit_minutes is not None and self.schedule.positions > risk.time_exit_minutes * 60.0:
            raise ConfigFileError.wrong("schedule.positions", f"at most {risk.time_exit_minutes * 60.0:g} seconds "
                                        "(risk.time_exit_minutes), or time exits come late", self.schedule.positions)
        if not live:
            return
        if self.symbols == "all":
            raise ConfigFileError.wrong("symbols", "a list of symbols when mode is live ('all' is for paper)", "all")
        for key in ("max_notional_per_position", "daily_loss_limit_pct", "max_drawdown_pct"):
            if getattr(risk, key) is None:
                raise ConfigFileError.wrong(f"risk.{key}", "a positive number when mode is live (no limit is "
                                            "for paper)", None)
        if self.storage.path == MEMORY:
            raise ConfigFileError.wrong("storage.path", "a file when mode is live (trades must survive a restart)",
                                        MEMORY)

    # ---------------------------------------------------------------- building

    @classmethod
    def from_mapping(cls, data: Any, source: str | os.PathLike[str] | None = None, *,
                     lines: Mapping[str, int] | None = None) -> BotConfig:
        """Build from parsed YAML (None means all defaults). ``source``, the file it came from, is named in
        errors and is the folder relative ``storage.path`` is resolved against; ``lines`` maps key paths to
        line numbers for :attr:`ConfigFileError.line`."""
        file = os.fspath(source) if source is not None else None
        try:
            return cls._build({} if data is None else data, file)
        except ConfigFileError as exc:
            raise exc.within(file=file, lines=lines) from None

    @classmethod
    def _build(cls, data: Any, file: str | None) -> BotConfig:
        if not isinstance(data, Mapping):
            raise ConfigFileError.wrong(None, f"a mapping of sections ({', '.join(_TOP)})", data)
        secret = find_secret_key(data)
        if secret is not None:
            raise ConfigFileError(secret, "credentials are not read from config files; set "
                                  f"{' and '.join(SECRET_ENV)} in the environment")
        reject_unknown(data, _TOP, elsewhere=_ELSEWHERE)
        sections = {name: _section(kind, data.get(name), name) for name, kind in _SECTIONS.items()}
        storage = sections["storage"]
        assert isinstance(storage, StorageConfig)
        sections["storage"] = storage.resolved(file)
        return cls(mode=data.get("mode", "paper"), symbols=data.get("symbols", "all"), source=file, **sections)

    # ---------------------------------------------------------------- views

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
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "source"}
        if masked:
            out["secrets"] = self.secrets(environ).masked()
        return out


def load_config(path: str | os.PathLike[str]) -> BotConfig:
    """Read and check one YAML file (module docstring). Raises :class:`ConfigFileError`."""
    file = os.fspath(path)
    try:
        raw = Path(file).read_bytes()
    except FileNotFoundError:
        raise ConfigFileError(None, "no such file", file=file) from None
    except IsADirectoryError:
        raise ConfigFileError(None, "is a folder, not a file", file=file) from None
    except OSError as exc:
        raise ConfigFileError(None, f"cannot be read ({exc.strerror or exc})", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(None, f"not UTF-8 text (byte {exc.start})", file=file) from None
    data, lines = parse_yaml(text, file)
    return BotConfig.from_mapping(data, file, lines=lines)


# -------------------------------------------------------------------- helpers

_SECTIONS: dict[str, type] = {
    "exchange": ExchangeConfig, "heatmap": HeatmapConfig, "hunter": HunterConfig, "strategy": StrategyConfig,
    "risk": RiskConfig, "schedule": ScheduleConfig, "storage": StorageConfig, "logging": LoggingConfig,
    "api": ApiConfig,
}
_TOP = ("mode", "symbols", *_SECTIONS)
_ELSEWHERE: dict[str, str] = {}
for _name, _kind in _SECTIONS.items():
    for _f in fields(_kind):
        _ELSEWHERE.setdefault(_f.name, f"{_name}.{_f.name}")


def _section(kind: type, values: Any, where: str) -> Any:
    if kind in (HeatmapConfig, HunterConfig):
        return _core_section(kind, values, where)
    return build_section(kind, values, where)


def _core_section(kind: type, values: Any, where: str) -> Any:
    """``heatmap`` / ``hunter``: their own ``from_mapping`` checks ranges; types are checked strictly first."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigFileError.wrong(where, "a mapping", values)
    try:
        reject_unknown(values, (f.name for f in fields(kind)))
    except ConfigFileError as exc:
        raise exc.within(where) from None
    floats: dict[str, float] = {}
    for f in fields(kind):
        if f.name not in values:
            continue
        value, kind_name = values[f.name], str(f.type)
        is_num = isinstance(value, int | float) and not isinstance(value, bool)
        if kind_name == "bool" and not isinstance(value, bool):
            raise ConfigFileError.wrong(f"{where}.{f.name}", "true or false", value)
        if kind_name == "int" and not (is_num and isinstance(value, int)):
            raise ConfigFileError.wrong(f"{where}.{f.name}", "an integer", value)
        if kind_name.startswith("float") and not (is_num or (value is None and "None" in kind_name)):
            raise ConfigFileError.wrong(f"{where}.{f.name}", "a number" + (" or null" if "None" in kind_name
                                                                           else ""), value)
        if kind_name.startswith("float") and is_num:
            floats[f.name] = float(value)
    try:
        built = kind.from_mapping(dict(values), where=where)  # type: ignore[attr-defined]
    except ConfigError as exc:
        key, _, problem = str(exc).partition(": ")
        expected = None
        if problem.startswith("expected ") and ", got " in problem:
            expected = problem[len("expected "):problem.rfind(", got ")]
        raise ConfigFileError(key, problem, expected=expected) from None
    return replace(built, **floats)  # ints where a number is expected are stored as floats


def _symbols(value: Any) -> Symbols:
    what = "a symbol such as BTCUSDT or BTC/USDT:USDT (Binance USD-M, USDT or USDC margined)"
    if isinstance(value, str):
        if value.lower() == "all":
            return "all"
        raise ConfigFileError.wrong("symbols", "a list of symbols or 'all' (one symbol: [BTCUSDT])", value)
    if not isinstance(value, list | tuple):
        raise ConfigFileError.wrong("symbols", "a list of symbols or 'all'", value)
    if not value:
        raise ConfigFileError.wrong("symbols", "at least one symbol (or 'all')", [])
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigFileError.wrong(f"symbols[{i}]", what, item)
        try:
            unified = to_unified(item.strip())
        except ValueError:
            raise ConfigFileError.wrong(f"symbols[{i}]", what, item) from None
        if unified in seen:
            raise ConfigFileError(f"symbols[{i}]", f"{item!r} repeats symbols[{seen[unified]}] ({unified})")
        seen[unified] = i
    return tuple(seen)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return thaw(value)
