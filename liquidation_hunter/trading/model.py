"""The records brokers take and return. Paper and live return the same ones.

Symbols are unified ccxt symbols (``BTC/USDT:USDT``) everywhere here; times are epoch milliseconds (UTC);
quantities are in the base asset, prices and money in the quote asset (USDT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from live_heatmap.estimated.liquidation import Brackets, NoLiquidationPrice, liquidation_price_at_leverage

if TYPE_CHECKING:
    from liquidation_hunter.data.prices import PricePath

__all__ = [
    "AccountState",
    "Broker",
    "ClosedTrade",
    "EntryOrder",
    "ExitReason",
    "Position",
    "liquidation_price",
]

ExitReason = Literal["stop_loss", "take_profit", "time_exit", "liquidation", "manual", "reconciled",
                     "protection_failed"]
"""``protection_failed``: live, the exchange refused the position's stop-loss or take-profit, so it was closed at
market as soon as it was opened."""


def liquidation_price(direction: int, entry: float, leverage: int, brackets_or_mmr: Brackets | float, *,
                      quantity: float = 1.0) -> float:
    """The isolated-margin liquidation price of ``quantity`` entered at ``entry`` with ``leverage``: Binance's
    formula, :func:`live_heatmap.estimated.liquidation_price_at_leverage` (the one implementation), with the MMR
    and maintenance amount of the symbol's bracket at the notional ``quantity * entry`` when ``brackets_or_mmr``
    is a :class:`~live_heatmap.estimated.Brackets`, else that fixed rate (and no maintenance amount). Both
    brokers use it.

    Returns 0.0 (the brokers' "never") for a position that cannot be liquidated (a long at 1x); raises
    :class:`ValueError` for bad input or a notional above the symbol's largest position.
    """
    try:
        return liquidation_price_at_leverage(direction, entry, leverage, brackets_or_mmr, quantity=quantity)
    except NoLiquidationPrice:
        return 0.0


@dataclass(frozen=True, slots=True)
class EntryOrder:
    """A market order that opens a position, with its exits.

    ``client_id`` is derived from the signal (symbol, direction, signal time): placing the same
    entry twice, e.g. after a timeout or a restart, can never open a second position.
    """

    client_id: str
    symbol: str
    direction: int
    """+1 long (buy), -1 short (sell)."""
    quantity: float
    """Base-asset amount, before the exchange's rounding."""
    reference_price: float
    """The price the order was sized at."""
    stop_loss: float
    take_profit: float
    leverage: int
    created_at: int
    strategy: str = ""
    reason: str = ""

    @property
    def side(self) -> str:
        return "buy" if self.direction > 0 else "sell"


@dataclass(frozen=True, slots=True)
class Position:
    """An open position as the books hold it (isolated margin, one per symbol)."""

    id: int
    client_id: str
    symbol: str
    direction: int
    quantity: float
    entry_price: float
    leverage: int
    margin: float
    """Isolated margin locked: ``quantity * entry_price / leverage``."""
    stop_loss: float
    take_profit: float
    liquidation_price: float
    opened_at: int
    entry_fee: float
    funding: float
    """Funding received (positive) or paid (negative) so far."""
    strategy: str = ""

    @property
    def notional(self) -> float:
        return self.quantity * self.entry_price

    def unrealized(self, price: float) -> float:
        """Profit or loss if closed at ``price`` now, before the exit fee."""
        return self.direction * (price - self.entry_price) * self.quantity


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A position that ended: how, at what price, and what it made after fees and funding."""

    position: Position
    exit_price: float
    reason: ExitReason
    closed_at: int
    exit_fee: float
    gross_pnl: float
    """``direction * (exit - entry) * quantity``."""

    @property
    def net_pnl(self) -> float:
        """Gross less both fees, plus funding."""
        return self.gross_pnl - self.position.entry_fee - self.exit_fee + self.position.funding


@dataclass(frozen=True, slots=True)
class AccountState:
    """The books at a moment. ``available + margin + unrealized == equity`` always holds."""

    wallet: float
    """Wallet balance: start + realised PnL - fees + funding (margin is part of it)."""
    margin: float
    unrealized: float
    positions: int
    at: int

    @property
    def available(self) -> float:
        return self.wallet - self.margin

    @property
    def equity(self) -> float:
        return self.wallet + self.unrealized


class Broker(Protocol):
    """What the bot trades through; :class:`~.paper.PaperBroker` and :class:`~.live.LiveBroker` both are one.

    Every method takes ``now_ms``; none sleeps or reads the clock. Methods may raise
    :class:`~.errors.OrderRejected` (permanent: bad symbol, insufficient funds, invalid order) and
    :class:`~.errors.ExchangeUnavailable` (temporary, after the retries ran out).
    """

    name: str
    """``"paper"`` or ``"live"``."""

    def start(self, now_ms: int) -> list[ClosedTrade]:
        """Recover after a (re)start: finish what a crash interrupted, reconcile with the exchange.
        Returns trades found closed meanwhile."""
        ...

    def open(self, order: EntryOrder, price: float, now_ms: int) -> Position | None:
        """Open a position; None when an entry with this ``client_id`` already exists (no second position)."""
        ...

    def close(self, position: Position, reason: ExitReason, price: float, now_ms: int) -> ClosedTrade | None:
        """Close at market (``price`` is the current price, for paper fills); None if already closed."""
        ...

    def on_prices(self, prices: Mapping[str, float], now_ms: int) -> list[ClosedTrade]:
        """Let the exits act: paper fills stops, take-profits and liquidations the prices reached and
        accrues funding; live finds positions the exchange's stop orders closed."""
        ...

    def on_price_paths(self, paths: Mapping[str, PricePath], now_ms: int) -> list[ClosedTrade]:
        """:meth:`on_prices` given what each price went through since the last check (a backtest's trades or
        kline highs and lows): paper fills the exits the path reached, stop first; live, whose exits are the
        exchange's own orders, looks at each path's last price."""
        ...

    def positions(self) -> Sequence[Position]:
        ...

    def account(self, prices: Mapping[str, float], now_ms: int) -> AccountState:
        ...
