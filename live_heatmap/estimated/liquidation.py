"""Binance's liquidation price (USD-M, one-way mode, isolated margin), exact, and the leverage brackets it needs.

The one formula (Binance's, with the cross-margin terms TMM and UPNL of other positions zero, as they are for an
isolated position)::

    LP = (WB + cum - side * Q * EP) / (Q * MMR - side * Q)

``side`` +1 long, -1 short; ``Q`` the quantity (base asset, > 0); ``EP`` the entry price; ``WB`` the position's
isolated wallet balance (its margin); ``MMR`` and ``cum`` (the maintenance amount) from the position's
:class:`Bracket`, the one whose notional range holds ``Q * EP``. With ``WB = Q * EP / L`` and ``cum = 0`` this is
``EP (1 - 1/L) / (1 - MMR)`` for a long and ``EP (1 + 1/L) / (1 + MMR)`` for a short.

Worked values (the tests hold them to the cent): long 67,000 at 10x, MMR 0.004 -> 60,542.17; short 67,000 at 25x,
MMR 0.004 -> 69,402.39; 1 BTC at 100,000, 10x, MMR 0.005, cum 50, WB 10,000 -> long 90,402.01, short 109,502.49.

* :func:`liquidation_price` -- the formula, every input explicit.
* :func:`liquidation_price_at_leverage` -- isolated margin opened at leverage ``L`` (``WB = Q * EP / L``), MMR and
  cum from a symbol's :class:`Brackets` (at the position's notional) or from a fixed rate.
* :func:`liquidation_prices` -- the same over a numpy array of entry prices (what the estimated-levels model
  places), one leverage, one MMR and cum.

Bad input raises :class:`ValueError` with one line naming the input. So does a position that has no liquidation
price: a long whose wallet covers its whole loss (``LP <= 0``, e.g. 1x with ``cum >= 0``) can never be
liquidated. A price on the wrong side of the entry (``1/L <= MMR``: liquidated as soon as opened) is returned as
computed; callers that open positions refuse such leverage themselves (:meth:`Brackets.max_leverage` says what
the exchange allows at a notional, which this module does not enforce).

Pure: floats and numpy only, no clock, no network.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Bracket",
    "Brackets",
    "NoLiquidationPrice",
    "liquidation_price",
    "liquidation_price_at_leverage",
    "liquidation_prices",
]


@dataclass(frozen=True, slots=True)
class Bracket:
    """One row of Binance's ``GET /fapi/v1/leverageBracket``: a notional range and what it costs.

    A position whose notional ``n`` satisfies ``notional_floor <= n < notional_cap`` is in this bracket (the last
    bracket of a symbol also holds ``n == notional_cap``, the largest position allowed). Binance lists a few empty
    brackets (floor == cap, e.g. BEAMXUSDT's 8th of 2025-12-25): they hold no position.
    """

    bracket: int
    """1, 2, ...: Binance's number, in order of notional."""
    initial_leverage: int
    """The highest leverage allowed for a position in this bracket."""
    notional_floor: float
    notional_cap: float
    maint_margin_ratio: float
    """MMR: the maintenance margin as a fraction of notional."""
    cum: float
    """The maintenance amount (quote currency) that makes the maintenance margin continuous across brackets."""

    def __post_init__(self) -> None:
        checks = (("bracket", self.bracket >= 1),
                  ("initial_leverage", self.initial_leverage >= 1),
                  ("notional_floor", math.isfinite(self.notional_floor) and self.notional_floor >= 0.0),
                  ("notional_cap", math.isfinite(self.notional_cap) and self.notional_cap >= self.notional_floor),
                  ("maint_margin_ratio", 0.0 <= self.maint_margin_ratio < 1.0),
                  ("cum", math.isfinite(self.cum)))
        for name, ok in checks:
            if not ok:
                raise ValueError(f"bracket {self.bracket}: {name} out of range ({getattr(self, name)!r})")


class Brackets:
    """One symbol's brackets, in order of notional, contiguous from 0 (each floor the previous cap)."""

    __slots__ = ("_brackets", "symbol")

    def __init__(self, symbol: str, brackets: Iterable[Bracket]) -> None:
        ordered = tuple(sorted(brackets, key=lambda b: (b.notional_floor, b.notional_cap, b.bracket)))
        if not ordered:
            raise ValueError(f"{symbol}: no leverage brackets")
        if ordered[0].notional_floor != 0.0:
            raise ValueError(f"{symbol}: the first leverage bracket starts at {ordered[0].notional_floor}, not 0")
        if ordered[-1].notional_cap <= 0.0:
            raise ValueError(f"{symbol}: the leverage brackets allow no position (cap 0)")
        for before, after in itertools.pairwise(ordered):
            if after.notional_floor != before.notional_cap:
                raise ValueError(f"{symbol}: leverage bracket {after.bracket} starts at {after.notional_floor}, "
                                 f"not at the previous cap {before.notional_cap}")
        self.symbol = symbol
        self._brackets = ordered

    def __iter__(self) -> Iterator[Bracket]:
        return iter(self._brackets)

    def __len__(self) -> int:
        return len(self._brackets)

    def __getitem__(self, index: int) -> Bracket:
        return self._brackets[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Brackets) and (self.symbol, self._brackets) == (other.symbol, other._brackets)

    def __hash__(self) -> int:
        return hash((self.symbol, self._brackets))

    def __repr__(self) -> str:
        return f"Brackets({self.symbol!r}, {len(self._brackets)} brackets up to {self.notional_cap:g})"

    @property
    def notional_cap(self) -> float:
        """The largest position notional the exchange allows for this symbol (the last bracket's cap)."""
        return self._brackets[-1].notional_cap

    def for_notional(self, notional: float) -> Bracket:
        """The bracket of a position of this notional (quote currency, ``Q * EP``).

        Raises :class:`ValueError` for a negative or non-finite notional, or one above :attr:`notional_cap`.
        """
        if not (math.isfinite(notional) and notional >= 0.0):
            raise ValueError(f"{self.symbol}: notional must be a finite number >= 0, got {notional!r}")
        for bracket in self._brackets:
            if notional < bracket.notional_cap:
                return bracket
        if notional == self.notional_cap:
            return next(b for b in reversed(self._brackets) if b.notional_cap > b.notional_floor)
        raise ValueError(f"{self.symbol}: notional {notional:g} is above the largest position allowed "
                         f"({self.notional_cap:g})")

    def max_leverage(self, notional: float) -> int:
        """The highest leverage the exchange allows for a position of this notional."""
        return self.for_notional(notional).initial_leverage


class NoLiquidationPrice(ValueError):
    """The position cannot be liquidated: the formula gives no price > 0 (a long whose margin covers its whole
    loss, e.g. 1x). Brokers may treat it as "never"; everything else wrong with the input is a plain ValueError."""


def _check_side(side: int) -> None:
    if side not in (1, -1):
        raise ValueError(f"side must be +1 (long) or -1 (short), got {side!r}")


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_mmr_cum(maint_margin_ratio: float, cum: float) -> None:
    if not (math.isfinite(maint_margin_ratio) and 0.0 <= maint_margin_ratio < 1.0):
        raise ValueError(f"maint_margin_ratio must be in [0, 1), got {maint_margin_ratio!r}")
    if not math.isfinite(cum):
        raise ValueError(f"cum must be a finite number, got {cum!r}")


def liquidation_price(side: int, quantity: float, entry_price: float, wallet_balance: float,  # noqa: PLR0917
                      maint_margin_ratio: float, cum: float = 0.0) -> float:  # (the formula's inputs, in its order)
    """Binance's one-way isolated liquidation price ``(WB + cum - side*Q*EP) / (Q*MMR - side*Q)``.

    ``side`` +1 long, -1 short; ``quantity`` > 0 (base asset); ``entry_price`` > 0; ``wallet_balance`` >= 0 (the
    isolated margin); ``maint_margin_ratio`` in [0, 1) and ``cum`` of the position's bracket.

    Raises :class:`ValueError` for bad input, and for a position with no liquidation price (the result is not a
    finite price > 0: a long whose margin covers its whole loss).
    """
    _check_side(side)
    _check_positive("quantity", quantity)
    _check_positive("entry_price", entry_price)
    if not (math.isfinite(wallet_balance) and wallet_balance >= 0.0):
        raise ValueError(f"wallet_balance must be a finite number >= 0, got {wallet_balance!r}")
    _check_mmr_cum(maint_margin_ratio, cum)
    price = (wallet_balance + cum - side * quantity * entry_price) / (quantity * maint_margin_ratio - side * quantity)
    if not (math.isfinite(price) and price > 0.0):
        raise NoLiquidationPrice(f"no liquidation price: a {'long' if side > 0 else 'short'} of {quantity:g} at "
                         f"{entry_price:g} with wallet {wallet_balance:g} (MMR {maint_margin_ratio:g}, cum {cum:g}) "
                         f"cannot be liquidated (formula gives {price:g})")
    return price


def liquidation_price_at_leverage(side: int, entry_price: float, leverage: float,
                                  brackets_or_mmr: Brackets | float, *, quantity: float = 1.0,
                                  cum: float = 0.0) -> float:
    """The liquidation price of an isolated position opened at ``leverage`` (wallet ``WB = Q * EP / L``).

    ``brackets_or_mmr``: a symbol's :class:`Brackets` (MMR and cum from the bracket of the notional
    ``quantity * entry_price``; ``cum`` must then be left at 0) or a fixed maintenance margin ratio (with ``cum``,
    default 0). ``quantity`` matters only through the bracket and ``cum / quantity``: with ``cum = 0`` the price is
    the same for any quantity. The leverage is not checked against the bracket's :attr:`Bracket.initial_leverage`
    (see :meth:`Brackets.max_leverage`).
    """
    _check_positive("leverage", leverage)
    _check_positive("quantity", quantity)
    _check_positive("entry_price", entry_price)
    if isinstance(brackets_or_mmr, Brackets):
        if cum != 0.0:
            raise ValueError("cum comes from the bracket when brackets are given; pass a rate to set cum")
        bracket = brackets_or_mmr.for_notional(quantity * entry_price)
        mmr, cum = bracket.maint_margin_ratio, bracket.cum
    else:
        mmr = float(brackets_or_mmr)
    return liquidation_price(side, quantity, entry_price, quantity * entry_price / leverage, mmr, cum)


def liquidation_prices(side: int, entry_prices: npt.ArrayLike, leverage: float, maint_margin_ratio: float, *,
                       cum: float = 0.0, quantity: float = 1.0) -> npt.NDArray[np.float64]:
    """:func:`liquidation_price_at_leverage` over an array of entry prices (same shape, float64).

    Each position holds ``quantity`` (default 1) at its entry price with ``WB = Q * EP / L``:
    ``LP = (EP / L + cum / Q - side * EP) / (MMR - side)``. One leverage, MMR and cum for all (pick the bracket
    first). Raises :class:`ValueError` as the scalar does, naming the first bad entry price; a long whose price
    would be <= 0 raises too.
    """
    _check_side(side)
    _check_positive("leverage", leverage)
    _check_positive("quantity", quantity)
    _check_mmr_cum(maint_margin_ratio, cum)
    entries = np.asarray(entry_prices, dtype=np.float64)
    bad = ~(np.isfinite(entries) & (entries > 0.0))
    if bad.any():
        raise ValueError(f"entry_prices must be finite numbers > 0, got {entries[bad].flat[0]!r} at index "
                         f"{int(np.flatnonzero(bad.ravel())[0])}")
    prices: npt.NDArray[np.float64] = ((entries / leverage + cum / quantity - side * entries)
                                       / (maint_margin_ratio - side))
    unliquidatable = ~(prices > 0.0)
    if unliquidatable.any():
        raise NoLiquidationPrice(f"no liquidation price at leverage {leverage:g} (MMR {maint_margin_ratio:g}, "
                                 f"cum {cum:g}) for entry price {entries[unliquidatable].flat[0]:g}: "
                                 "cannot be liquidated")
    return prices
