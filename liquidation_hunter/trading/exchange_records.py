"""The records :class:`~liquidation_hunter.trading.exchange.ExchangeClient` returns: small frozen values keyed by
unified symbols (``BTC/USDT:USDT``), each read from ccxt's unified structures (plain dicts: nothing here imports
ccxt)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["Balance", "ExchangePosition", "FundingPayment", "OrderResult"]

_QUOTE = "USDT"


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class OrderResult:
    """An order as the exchange holds it. Quantities in the base asset, prices and fee in USDT, time in ms."""

    id: str
    client_id: str
    symbol: str
    """Unified (``BTC/USDT:USDT``)."""
    side: str
    """``buy`` or ``sell``."""
    type: str
    """``market``, ``limit``, ``stop_market``, ``take_profit_market``..."""
    status: str
    """ccxt's: ``open``, ``closed`` (filled; for a conditional order: triggered), ``canceled``, ``expired``,
    ``rejected``; empty when the exchange did not say."""
    amount: float
    filled: float
    average: float | None
    """Average fill price; None before any fill."""
    trigger_price: float | None
    reduce_only: bool
    fee: float
    """USDT; 0 when unknown (Binance's order answers carry no commission)."""
    timestamp: int
    """Creation time; the last update's when the answer has no other (Binance's answer to a new order)."""
    actual_order_id: str | None = None
    """A triggered conditional (algo) order's child: the market or limit order it placed, whose fill
    :meth:`ExchangeClient.fetch_order_by_id` gives. None for plain orders and untriggered ones."""

    @classmethod
    def from_ccxt(cls, order: Mapping[str, Any]) -> OrderResult:
        """From ccxt's unified order structure."""
        info = order.get("info") or {}
        wire_type = info.get("orderType") or info.get("origType") if isinstance(info, Mapping) else None
        actual = info.get("actualOrderId") if isinstance(info, Mapping) else None
        fees = list(order.get("fees") or ([order["fee"]] if order.get("fee") else []))
        fee = sum(float(f.get("cost") or 0.0) for f in fees if f and f.get("currency") in (None, _QUOTE))
        return cls(
            id=str(order.get("id") or ""),
            client_id=str(order.get("clientOrderId") or ""),
            symbol=str(order.get("symbol") or ""),
            side=str(order.get("side") or ""),
            type=str(wire_type or order.get("type") or "").lower(),
            status=str(order.get("status") or ""),
            amount=float(order.get("amount") or 0.0),
            filled=float(order.get("filled") or 0.0),
            average=_num(order.get("average")) or None,
            trigger_price=_num(order.get("triggerPrice") or order.get("stopPrice")),
            reduce_only=bool(order.get("reduceOnly")),
            fee=fee,
            timestamp=int(order.get("timestamp") or order.get("lastUpdateTimestamp") or 0),
            actual_order_id=str(actual) if actual not in (None, "", 0, "0") else None,
        )


@dataclass(frozen=True, slots=True)
class ExchangePosition:
    """An open position on the exchange (one-way mode: at most one per symbol)."""

    symbol: str
    """Unified."""
    direction: int
    """+1 long, -1 short."""
    quantity: float
    """Base asset, > 0."""
    entry_price: float
    leverage: int | None
    """As set on the exchange; from the position's initial margin when the answer omits it (v3 does)."""
    liquidation_price: float | None
    """None when the exchange gives none (0)."""
    unrealized: float
    margin: float
    """Isolated wallet of the position, or its initial margin when that is not given (cross)."""
    margin_mode: str
    """``isolated`` or ``cross``."""
    mark_price: float | None
    timestamp: int

    @classmethod
    def from_ccxt(cls, position: Mapping[str, Any]) -> ExchangePosition:
        """From ccxt's unified position structure (with ``contracts`` > 0)."""
        notional = abs(float(position.get("notional") or 0.0))
        initial = float(position.get("initialMargin") or 0.0)
        leverage = position.get("leverage")
        if leverage is None and initial > 0:
            leverage = round(notional / initial)
        isolated_wallet = float(position.get("positionMargin") or 0.0)
        return cls(
            symbol=str(position["symbol"]),
            direction=1 if position.get("side") == "long" else -1,
            quantity=abs(float(position.get("contracts") or 0.0)) * float(position.get("contractSize") or 1.0),
            entry_price=float(position.get("entryPrice") or 0.0),
            leverage=None if leverage is None else int(leverage),
            liquidation_price=_num(position.get("liquidationPrice")) or None,
            unrealized=float(position.get("unrealizedPnl") or 0.0),
            margin=isolated_wallet if isolated_wallet > 0 else initial,
            margin_mode=str(position.get("marginMode") or ""),
            mark_price=_num(position.get("markPrice")),
            timestamp=int(position.get("timestamp") or 0),
        )


class Balance(NamedTuple):
    """The USDT account: ``wallet`` (deposits + realised PnL - fees + funding) and ``available`` (free for
    new margin: wallet + unrealized - margin in use)."""

    wallet: float
    available: float


class FundingPayment(NamedTuple):
    """One row of the account's funding history: ``amount`` USDT received (+) or paid (-) on ``symbol``
    (unified) at funding time ``at`` (ms)."""

    symbol: str
    at: int
    amount: float
