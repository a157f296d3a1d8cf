"""Strategies the bot can run, built on :class:`liquidation_hunter.LiquidationHunter`.

The config names one (``strategy.name``) and gives its parameters (``strategy.params``); each strategy
declares them as a :class:`~live_heatmap.common.structs.Settings`, read where the bot is assembled::

    params = read_params("cascade_fade", {"min_burst_notional": 200_000})   # CascadeFadeParams, or ConfigError
    strategy = make_strategy("cascade_fade", hunter, params)
    signal = strategy.decide("BTC/USDT:USDT", 99_500.0, now_ms)             # liquidation_hunter.Signal

Shipped: ``liquidation_magnet`` (the hunter's rule: trade toward the strongest cluster) and
``cascade_fade`` (trade against a liquidation cascade once it has slowed). Add one with
:func:`register_strategy`. The interface is :class:`~strategies.base.Strategy`.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    "make_strategy",
    "read_params",
    "register_strategy",
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
