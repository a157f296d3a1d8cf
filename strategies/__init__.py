"""Strategies the bot can run, built on :class:`liquidation_hunter.LiquidationHunter`.

The config names one (``strategy.name``) and gives its parameters (``strategy.params``)::

    validate_params("cascade_fade", {"min_burst_notional": 200_000})   # the config loader's check
    strategy = make_strategy("cascade_fade", hunter, {"min_burst_notional": 200_000})
    signal = strategy.decide("BTC/USDT:USDT", 99_500.0, now_ms)        # liquidation_hunter.Signal

Shipped: ``liquidation_magnet`` (the hunter's rule: trade toward the strongest cluster) and
``cascade_fade`` (trade against a liquidation cascade once it has slowed). Add one with
:func:`register_strategy`. The interface is :class:`~strategies.base.Strategy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from live_heatmap import ConfigError
from strategies import cascade_fade, liquidation_magnet
from strategies.base import ParamsCheck, Strategy, StrategyFactory
from strategies.cascade_fade import CascadeFade, CascadeFadeParams
from strategies.liquidation_magnet import LiquidationMagnet

if TYPE_CHECKING:
    from liquidation_hunter import LiquidationHunter

__all__ = [
    "STRATEGIES",
    "CascadeFade",
    "CascadeFadeParams",
    "LiquidationMagnet",
    "ParamsCheck",
    "Strategy",
    "StrategyFactory",
    "make_strategy",
    "register_strategy",
    "validate_params",
]

#: name -> (factory, params check or None).
STRATEGIES: dict[str, tuple[StrategyFactory, ParamsCheck | None]] = {}


def register_strategy(name: str, factory: StrategyFactory, validate: ParamsCheck | None = None) -> None:
    """Make ``make_strategy(name, ...)`` build with ``factory(hunter, params)``.

    ``validate(params)`` checks parameters without building anything (raising ConfigError
    ``"<key>: expected ..., got ..."``); without it, :func:`validate_params` accepts any mapping
    and the factory alone checks them when the strategy is built.
    """
    STRATEGIES[name] = (factory, validate)


def _entry(name: str) -> tuple[StrategyFactory, ParamsCheck | None]:
    entry = STRATEGIES.get(name)
    if entry is None:
        raise ConfigError(f"name: expected one of {', '.join(sorted(STRATEGIES))}, got {name!r}")
    return entry


def validate_params(name: str, params: Mapping[str, Any]) -> None:
    """Check ``params`` for strategy ``name``; raises ConfigError whose message starts with the key."""
    _, validate = _entry(name)
    if validate is not None:
        validate(params)
    elif not isinstance(params, Mapping):
        raise ConfigError(f"params: expected a mapping of parameter names to values, got {params!r}")


def make_strategy(name: str, hunter: LiquidationHunter, params: Mapping[str, Any]) -> Strategy:
    """Build strategy ``name`` reading ``hunter`` (its heatmap, markets and config) with ``params``."""
    factory, _ = _entry(name)
    return factory(hunter, params)


register_strategy(liquidation_magnet.NAME, LiquidationMagnet, liquidation_magnet.validate_params)
register_strategy(cascade_fade.NAME, CascadeFade, cascade_fade.validate_params)
