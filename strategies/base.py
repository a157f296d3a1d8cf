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
its own parameters, the config's ``strategy.params``: a read-only mapping that the strategy checks,
raising :class:`~live_heatmap.ConfigError` with a message that starts with the key.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from liquidation_hunter import Signal
from live_heatmap import ConfigError

if TYPE_CHECKING:
    from liquidation_hunter import LiquidationHunter

__all__ = [
    "ParamsCheck",
    "Strategy",
    "StrategyFactory",
    "check_price",
    "no_signal",
    "reject_unknown_params",
]


@runtime_checkable
class Strategy(Protocol):
    """What the bot calls on every tick, for every symbol."""

    name: str
    """The registry name (``liquidation_magnet``, ``cascade_fade``...).

    Optional: a method ``may_signal(symbol, now_ms) -> bool``, cheap, False only when :meth:`decide` would
    give direction 0 (and do nothing else) at any price: the bot then does not ask about that symbol."""

    def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
        """The signal for ``symbol`` (either form) at ``price`` and time ``now_ms`` (UTC epoch ms)."""
        ...


#: Builds a strategy: (hunter, params) -> strategy. Raises ConfigError for bad params.
StrategyFactory = Callable[["LiquidationHunter", Mapping[str, Any]], Strategy]

#: Checks params without building anything; raises ConfigError("<key>: expected ..., got ...").
ParamsCheck = Callable[[Mapping[str, Any]], object]


def no_signal(symbol: str, reason: str, now_ms: int) -> Signal:
    """Direction 0: nothing to do, and why."""
    return Signal(symbol, 0, 0.0, None, None, None, None, reason, now_ms)


def check_price(symbol: str, price: float) -> None:
    """Raise ValueError unless ``price`` is a positive finite number (as the hunter does)."""
    if not (isinstance(price, int | float) and 0.0 < price < math.inf):
        raise ValueError(f"price for {symbol}: expected a positive finite number, got {price!r}")


def reject_unknown_params(strategy: str, params: Mapping[str, Any], known: Iterable[str], *,
                          elsewhere: Mapping[str, str] | None = None) -> None:
    """Raise ConfigError for the first key of ``params`` not in ``known``.

    The message starts with the key and hints at a near miss (``did you mean``), or at the place
    the key belongs (``elsewhere``: key -> its path in the config, such as ``hunter.min_strength``).
    """
    if not isinstance(params, Mapping):
        raise ConfigError(f"params: expected a mapping of parameter names to values, got {params!r}")
    known = sorted(known)
    for key in params:
        if key in known:
            continue
        if elsewhere and key in elsewhere:
            hint = f"{key} belongs in {elsewhere[key]}"
        else:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else ""
        if known:
            expected = f"a parameter of {strategy} ({hint or 'one of ' + ', '.join(known)})"
        else:
            expected = f"no parameters ({strategy} takes none{'; ' + hint if hint else ''})"
        raise ConfigError(f"{key}: expected {expected}, got an unknown key")
