"""Strategies the bot can run, built on :class:`liquidation_hunter.LiquidationHunter`.

The config names one (``strategy.name``) and gives its parameters (``strategy.params``); each strategy
declares them as a :class:`~live_heatmap.common.structs.Settings`, read where the bot is assembled::

    params = read_params("cascade_fade", {"min_burst_notional": 200_000})   # CascadeFadeParams, or ConfigError
    strategy = make_strategy("cascade_fade", hunter, params)
    signal = strategy.decide("BTC/USDT:USDT", 99_500.0, now_ms)             # liquidation_hunter.Signal

Shipped: ``liquidation_magnet`` (the hunter's rule: trade toward the strongest cluster) and
``cascade_fade`` (trade against a liquidation cascade once it has slowed). Add one with
:func:`register_strategy`. The interface is :class:`~strategies.base.Strategy`.

**A strategy of your own** without writing a launcher (as freqtrade's ``--strategy-path``): the config's
``strategy.path`` names a ``.py`` file or an importable module, and :func:`load_strategy` finds the strategy
in it: a class *defined there* with a ``name`` (a string) and a ``decide(symbol, price, now_ms)`` method, the
file's only one or the one whose ``name`` is ``strategy.name``. It is built as ``cls(hunter, params)``; its
parameters are its ``Params`` attribute when that is a :class:`~live_heatmap.common.structs.Settings` (checked
like the shipped ones: a bad key is one line naming it), else the ``strategy.params`` mapping as written
(read-only). ``examples/external_strategy.py`` is one (``examples/external_strategy.yaml`` runs it).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

from liquidation_hunter import HunterConfig, LiquidationHunter
from live_heatmap import ConfigError
from live_heatmap.common.structs import Settings, convert
from strategies import cascade_fade, liquidation_magnet
from strategies.base import Strategy, StrategyFactory
from strategies.cascade_fade import CascadeFade, CascadeFadeParams
from strategies.liquidation_magnet import LiquidationMagnet, NoParams

__all__ = [
    "STRATEGIES",
    "CascadeFade",
    "CascadeFadeParams",
    "LiquidationMagnet",
    "NoParams",
    "Strategy",
    "StrategyFactory",
    "load_strategy",
    "make_strategy",
    "read_params",
    "register_strategy",
    "strategy_from_path",
]

#: name -> (factory, the type of its parameters).
STRATEGIES: dict[str, tuple[StrategyFactory, type[Settings]]] = {}

_HUNTER_KEYS = {name: f"hunter.{name}" for name in HunterConfig.__struct_fields__}
"""A key of the ``hunter`` section given as a strategy parameter is pointed there."""


def register_strategy(name: str, factory: StrategyFactory, params: type[Settings] = NoParams) -> None:
    """Make ``make_strategy(name, ...)`` build ``factory(hunter, params)``, ``params`` read as ``params``."""
    STRATEGIES[name] = (factory, params)


def _entry(name: str) -> tuple[StrategyFactory, type[Settings]]:
    entry = STRATEGIES.get(name)
    if entry is None:
        raise ConfigError.wrong("name", f"one of {', '.join(sorted(STRATEGIES))}", name)
    return entry


def read_params(name: str, params: Mapping[str, Any] | None) -> Settings:
    """``params`` (``strategy.params``) as strategy ``name`` declares them; :class:`ConfigError` names the key."""
    return convert(_entry(name)[1], params, elsewhere=_HUNTER_KEYS)


def make_strategy(name: str, hunter: LiquidationHunter, params: Settings | Mapping[str, Any] | None) -> Strategy:
    """Build strategy ``name`` reading ``hunter`` (its heatmap, markets and config) with ``params`` (its params
    value, or a mapping read by :func:`read_params`)."""
    factory, kind = _entry(name)
    return factory(hunter, params if isinstance(params, kind) else read_params(name, params))  # type: ignore[arg-type]


register_strategy(liquidation_magnet.NAME, LiquidationMagnet, NoParams)
register_strategy(cascade_fade.NAME, CascadeFade, CascadeFadeParams)


_DEFAULT_NAME = "liquidation_magnet"
_WHAT = "no class with a `name` and a `decide(symbol, price, now_ms)` method, strategies.base.Strategy"


_LOADED: dict[str, tuple[tuple[str, int, int], ModuleType]] = {}
"""Strategy files run so far: resolved path -> ((path, mtime, size), module); a file that changed runs again."""


def _module(path: str) -> ModuleType:
    """The module at ``path`` (a ``.py`` file) or named ``path``; ConfigError (key ``path``) naming it."""
    if not path.endswith(".py"):
        try:
            return importlib.import_module(path)
        except ImportError as exc:
            raise ConfigError("path", f"{path}: cannot be imported ({type(exc).__name__}: {exc})") from None
        except SyntaxError as exc:
            raise ConfigError("path", f"{exc.filename}: line {exc.lineno}: {exc.msg}") from None
    file = Path(path)
    if not file.is_file():
        raise ConfigError("path", f"{path}: no such file")
    stat = file.stat()
    version = (str(file.resolve()), stat.st_mtime_ns, stat.st_size)
    loaded = _LOADED.get(version[0])
    if loaded is not None and loaded[0] == version:
        return loaded[1]  # run checks, then builds, and the API answers signals: the file runs once
    module_name = f"_liquidation_hunter_strategy_{abs(hash(version[0]))}_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ConfigError("path", f"{path}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses, msgspec and typing look their module up there
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise ConfigError("path", f"{path}: line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001 - whatever the user's file raises becomes one line naming it
        del sys.modules[module_name]
        raise ConfigError("path", f"{path}: cannot be loaded ({type(exc).__name__}: {exc})") from None
    _LOADED[version[0]] = (version, module)
    return module


def _is_strategy(value: object, module: ModuleType) -> bool:
    return (inspect.isclass(value) and value.__module__ == module.__name__
            and isinstance(getattr(value, "name", None), str) and callable(getattr(value, "decide", None)))


def load_strategy(path: str, name: str = _DEFAULT_NAME) -> tuple[StrategyFactory, type[Settings] | None]:
    """The strategy class in ``path`` (a ``.py`` file or a module name) and its parameters' type (None: it takes
    the mapping as written): the only one defined there, or the one named ``name`` (module docstring).
    :class:`ConfigError` (key ``path`` or ``name``) says what is wrong in one line naming the file."""
    module = _module(path)
    found = [v for v in vars(module).values() if _is_strategy(v, module)]
    if not found:
        raise ConfigError("path", f"{path}: defines no strategy: {_WHAT}")
    named = [cls for cls in found if cls.name == name]
    if named:
        cls = named[0]
    elif len(found) == 1 and name == _DEFAULT_NAME:
        cls = found[0]
    else:
        names = ", ".join(sorted(str(cls.name) for cls in found))
        raise ConfigError.wrong("name", f"the name of a strategy in {path} ({names})", name)
    params = getattr(cls, "Params", None)
    return cls, params if inspect.isclass(params) and issubclass(params, Settings) else None


def strategy_from_path(path: str, name: str, hunter: LiquidationHunter, params: Mapping[str, Any] | None) -> Strategy:
    """Build the strategy of ``path`` (:func:`load_strategy`) reading ``hunter`` with ``params``; a
    :class:`ConfigError` names its key within the ``strategy`` section (``path``, ``name``, ``params.<key>``)."""
    factory, kind = load_strategy(path, name)
    try:
        value: Any = (convert(kind, params, elsewhere=_HUNTER_KEYS) if kind is not None
                      else MappingProxyType(dict(params or {})))
        return factory(hunter, value)
    except ConfigError as exc:  # a parameter the strategy refused
        raise exc.within("params") from None
    except Exception as exc:  # noqa: BLE001 - the user's constructor: one line naming the file
        raise ConfigError("path", f"{path}: {getattr(factory, '__name__', factory)}(hunter, params) failed "
                          f"({type(exc).__name__}: {exc})") from None
