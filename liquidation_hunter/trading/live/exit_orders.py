"""The exit orders of the live broker's positions: the client ids of an entry's stop-loss, take-profit and market
close, and the stop-loss and take-profit orders themselves, planned in the books, placed on the exchange (Binance's
algo-order API, triggered by the mark price), looked up, cancelled, and the fill that closed a position found.

An entry's exits are noted in the books as ``planned`` before the entry is sent, so a crash leaves no order the
books do not know of: :meth:`ExitOrders.abandon_orphans` marks the ones whose entry was never sent.
"""

from __future__ import annotations

from typing import cast

from liquidation_hunter.trading.books import Books, OrderRecord
from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.exchange import ExchangeClient, ExitKind, OrderResult
from liquidation_hunter.trading.model import EntryOrder, ExitReason, Position

__all__ = ["EXITS", "ExitOrders", "close_client_id", "closing_side", "exit_client_id"]

_EXIT_SUFFIX: dict[ExitKind, str] = {"stop_loss": "-sl", "take_profit": "-tp"}
_EXIT_TYPE: dict[ExitKind, str] = {"stop_loss": "stop_market", "take_profit": "take_profit_market"}
EXITS: tuple[ExitKind, ExitKind] = ("stop_loss", "take_profit")
_DONE = ("canceled", "rejected", "filled", "abandoned", "expired")
"""Statuses of exit orders the exchange no longer holds open (as far as the books know)."""


def exit_client_id(entry_client_id: str, kind: ExitKind, attempt: int = 1) -> str:
    """``<entry>-sl`` / ``<entry>-tp``; a replacement of an exit that was cancelled gets ``-sl2``, ``-sl3``..."""
    return f"{entry_client_id}{_EXIT_SUFFIX[kind]}{'' if attempt == 1 else attempt}"


def close_client_id(entry_client_id: str) -> str:
    """The client id of the market order that closes the position opened by ``entry_client_id``."""
    return f"{entry_client_id}-x"


def closing_side(direction: int) -> str:
    return "sell" if direction > 0 else "buy"


class ExitOrders:
    """The stop-loss and take-profit orders of the positions in ``books`` on the exchange behind ``client``."""

    def __init__(self, books: Books, client: ExchangeClient) -> None:
        self._books = books
        self._client = client

    def plan(self, order: EntryOrder, quantity: float, stop_loss: float, take_profit: float, now_ms: int) -> None:
        """Note an entry's exits (a level of 0: none) in the books as ``planned``, before the entry is sent."""
        closing = closing_side(order.direction)
        for kind, level in zip(EXITS, (stop_loss, take_profit), strict=True):
            if level > 0:
                self._books.record_order(client_id=exit_client_id(order.client_id, kind), symbol=order.symbol,
                                         side=closing, type=_EXIT_TYPE[kind], purpose=kind, quantity=quantity,
                                         price=level, reduce_only=True, now_ms=now_ms, status="planned")

    def planned_levels(self, entry_client_id: str) -> dict[ExitKind, float] | None:
        """The trigger prices (rounded) the books planned for an entry's exits; None when none was planned."""
        plans = {kind: self._books.order(exit_client_id(entry_client_id, kind)) for kind in EXITS}
        if all(plan is None for plan in plans.values()):
            return None
        return {kind: (plan.price or 0.0) if plan is not None else 0.0 for kind, plan in plans.items()}

    def records(self, entry_client_id: str, kind: ExitKind) -> list[OrderRecord]:
        """The books' exit orders of one kind for a position, oldest first."""
        prefix = f"{entry_client_id}{_EXIT_SUFFIX[kind]}"
        found = [o for o in self._books.orders(purpose=kind) if o.client_id.startswith(prefix)]
        return sorted(found, key=lambda o: (o.created_at, len(o.client_id), o.client_id))

    def place(self, position: Position, kind: ExitKind, level: float, client_id: str, now_ms: int) -> OrderResult:
        """Record and place one exit order; :class:`OrderRejected` (recorded as ``rejected``) when refused."""
        self._books.record_order(client_id=client_id, symbol=position.symbol, side=closing_side(position.direction),
                                 type=_EXIT_TYPE[kind], purpose=kind, quantity=position.quantity, price=level,
                                 reduce_only=True, now_ms=now_ms, position_id=position.id, status="planned")
        try:
            result = self._client.create_exit_order(position.symbol, closing_side(position.direction),
                                                    position.quantity, level, kind, client_id)
        except OrderRejected as exc:
            self._books.update_order(client_id, status="rejected", now_ms=now_ms, error=str(exc))
            raise
        self._books.update_order(client_id, status="open", now_ms=now_ms, exchange_id=result.id)
        return result

    def missing(self, position: Position, kind: ExitKind, open_ids: set[str], now_ms: int) -> str | None:
        """The client id to place a position's exit under when the exchange does not hold it open (``open_ids``:
        the exit orders it holds), None when it does. A cancelled exit's client id cannot be reused: the next one
        gets ``-sl2``, ``-sl3``...; one that never reached the exchange keeps its id."""
        records = self.records(position.client_id, kind)
        if any(r.client_id in open_ids for r in records):
            return None
        client_id = exit_client_id(position.client_id, kind, len(records) + 1)
        if records:
            latest = records[-1].client_id
            found = self._client.fetch_order_by_client_id(position.symbol, latest, algo=True)
            if found is None:
                client_id = latest  # never reached the exchange: its id is free
            elif found.status == "open":
                return None
            else:
                self._books.update_order(latest, status=found.status or "canceled", now_ms=now_ms)
        return client_id

    def drop_planned(self, entry_client_id: str, status: str, now_ms: int) -> None:
        """The exits of an entry that did not fill were never sent: mark them so."""
        for kind in EXITS:
            for record in self.records(entry_client_id, kind):
                if record.status == "planned":
                    self._books.update_order(record.client_id, status=status, now_ms=now_ms,
                                             error="the entry did not fill")

    def abandon_orphans(self, now_ms: int) -> None:
        """Exit orders planned by an entry a crash kept from being recorded (never sent)."""
        for kind in EXITS:
            for record in self._books.orders(status="planned", purpose=kind):
                entry_id = record.client_id[:record.client_id.rfind(_EXIT_SUFFIX[kind])]
                entry = self._books.order(entry_id)
                if entry is None or (entry.status in _DONE and self._books.position_by_client_id(entry_id) is None):
                    self._books.update_order(record.client_id, status="abandoned", now_ms=now_ms,
                                             error="its entry was never sent")

    def cancel(self, position: Position, now_ms: int) -> None:
        """Cancel the position's exits the exchange may still hold."""
        for kind in EXITS:
            for record in self.records(position.client_id, kind):
                if record.status not in _DONE and self._client.cancel_order(position.symbol, record.client_id,
                                                                             algo=True):
                    self._books.update_order(record.client_id, status="canceled", now_ms=now_ms)

    def closing_fill(self, position: Position, now_ms: int) -> tuple[str, ExitReason, OrderResult, str] | None:
        """For a position the exchange no longer holds: the order that closed it (a triggered exit, whose algo
        order names the market order it placed, or our market close) as (client id, reason, fill, order type),
        None when no order of ours explains it. What is left of the other exit is cancelled."""
        symbol = position.symbol
        fill: tuple[str, ExitReason, OrderResult, str] | None = None
        still_open: list[str] = []
        for kind in EXITS:
            for record in self.records(position.client_id, kind):
                if record.status in _DONE:
                    continue
                found = self._client.fetch_order_by_client_id(symbol, record.client_id, algo=True)
                if found is None:
                    self._books.update_order(record.client_id, status="abandoned", now_ms=now_ms,
                                             error="not found on the exchange")
                elif found.status == "open":
                    still_open.append(record.client_id)
                elif found.status != "closed":  # cancelled or expired on the exchange
                    self._books.update_order(record.client_id, status=found.status or "canceled", now_ms=now_ms)
                elif fill is None and found.actual_order_id is not None:
                    child = self._client.fetch_order_by_id(symbol, found.actual_order_id)
                    if child is not None and child.filled > 0:
                        fill = (record.client_id, kind, child, _EXIT_TYPE[kind])
        closing = self._books.order(close_client_id(position.client_id))
        if fill is None and closing is not None:
            found = self._client.fetch_order_by_client_id(symbol, closing.client_id)
            if found is not None and found.filled > 0:
                fill = (closing.client_id, cast(ExitReason, closing.purpose), found, "market")
        for client_id in still_open:
            self._client.cancel_order(symbol, client_id, algo=True)
            self._books.update_order(client_id, status="canceled", now_ms=now_ms)
        return fill
