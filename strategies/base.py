"""The strategy interface, and the small helpers the shipped strategies share.

A strategy turns "symbol, price, now" into a :class:`~liquidation_hunter.Signal`:

* ``direction`` +1 (buy), -1 (sell) or 0 (nothing to do, ``reason`` says why);
* whenever ``direction != 0``, ``entry``, ``stop_loss`` and ``take_profit`` are set, the stop on
  the losing side of the entry and the take-profit on the winning side (the bot sizes a trade
  from the entry-to-stop distance);
* ``symbol`` is the unified ccxt symbol (``BTC/USDT:USDT``) whichever form was asked for;
* time is the ``now_ms`` argument (UTC epoch ms): a strategy never reads the wall clock, so a
  replay or a backtest runs exactly the code that runs live.

A strategy is built from the hunter it reads (its heatmap, its markets, its ``hunter`` config) and
its own parameters: a :class:`~live_heatmap.common.structs.Settings` it declares, read from the config's
``strategy.params`` where the bot is assembled (:func:`strategies.read_params`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from liquidation_hunter import Signal

if TYPE_CHECKING:
    from liquidation_hunter import LiquidationHunter

__all__ = ["Strategy", "StrategyFactory", "check_price", "no_signal"]


@runtime_checkable
class Strategy(Protocol):
    """What the bot calls on every tick, for every symbol."""

    name: str
    """The registry name (``liquidation_magnet``, ``cascade_fade``...)."""

    def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
        """The signal for ``symbol`` (either form) at ``price`` and time ``now_ms`` (UTC epoch ms)."""
        ...


#: Builds a strategy: (hunter, its params value) -> strategy. May raise ConfigError naming a params key.
StrategyFactory = Callable[["LiquidationHunter", Any], Strategy]


def no_signal(symbol: str, reason: str, now_ms: int) -> Signal:
    """Direction 0: nothing to do, and why."""
    return Signal(symbol, 0, 0.0, None, None, None, None, reason, now_ms)


def check_price(symbol: str, price: float) -> None:
    """Raise ValueError unless ``price`` is a positive finite number (as the hunter does)."""
    if not (isinstance(price, int | float) and 0.0 < price < math.inf):
        raise ValueError(f"price for {symbol}: expected a positive finite number, got {price!r}")
