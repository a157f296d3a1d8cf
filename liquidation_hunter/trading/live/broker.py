"""The live broker: real orders on Binance USD-M through :class:`~liquidation_hunter.trading.exchange.ExchangeClient`,
recorded in the same :class:`~liquidation_hunter.trading.books.Books` as paper trading and returning the same
records. Its exit orders are kept by :mod:`.exit_orders`, the exchange's wallet and funding by :mod:`.wallet`.

**Entry** (:meth:`LiveBroker.open`): the quantity is truncated to the exchange's step and checked against
its minimums, the symbol is set to isolated margin and the order's leverage, and the books note the two
exit orders (``planned``, with their trigger prices rounded to the tick) and then the entry (``new``)
*before* anything is sent. Then a market order under the entry's client id; on its fill the books get the
position (the exchange's average price and filled quantity) and the two reduce-only exits go to Binance's
algo-order API (stop-market and take-profit-market, triggered by the mark price) under derived client ids
(:func:`.exit_orders.exit_client_id`). If an exit cannot be placed the position is closed at market at once: a position
is never left without its stop. A level of 0 means no such exit, as in paper trading.

**Client ids and crashes.** The books know every order before the exchange does, so a restart finds any
order a crash interrupted: an entry still ``new`` is looked up by its client id and either recorded (with
its exits) or, once the exchange cannot have it any more, marked ``abandoned``. Binance keeps client ids
unique only among *open* orders, so a filled entry would not refuse a second send of its id: a ``new``
entry is therefore always looked up before it is sent again, and a "not found" counts as final only
``settle_ms`` (2 minutes) after the last attempt, longer than the client's retries plus Binance's
``recvWindow`` (the client waits out the ``recvWindow`` itself between its own retries).

**Exits the exchange made** (:meth:`LiveBroker.on_prices`): one ``positionRisk`` request for the symbols the
books hold; a position the exchange no longer holds was closed by one of its exits, whose triggered algo
order names the market order it placed (``actualOrderId``): that order's average price is the exit price.
The other exit is cancelled. When no exit order (nor a market close of ours) explains it, the position is
closed in the books as ``reconciled`` at the last price, with a warning; a liquidation also ends up there.

**Fees.** Binance's order answers carry no commission: a fill without one is charged the taker fee
(``taker_fee``, 0.05 % by default, Binance's base rate) on its notional, which is what the account is
charged at the base fee tier. **Funding** is booked from the exchange's income history (:mod:`.wallet`), once
per position and time, so a restart books nothing twice.

**The exchange's wallet** (:meth:`LiveBroker.sync_account`: at start, after every entry and exit the bot
records, and on the bot's heartbeat): funding first, then ``fetch_balance``; what still differs between the
exchange's wallet and the books' is recorded as a deposit or a withdrawal (:mod:`.wallet`; the bot's first
start records the account's real balance so). Sizing, the daily loss limit and the drawdown
halt then measure the exchange's money, and :meth:`LiveBroker.account` takes the available margin as the
smaller of the books' and the exchange's. The look is skipped while an entry is in flight or a position the
books hold open is gone from the exchange (its exit is not booked yet): either would pass for a transfer. Its
requests are sent without the broker's lock (the income history alone waits about 1.5 s in ccxt's rate
limiter), and nothing is booked when the books' wallet or open positions changed meanwhile.

**Entries do not hold the broker's lock through the network.** An entry is checked and planned under the lock,
then sent, filled and protected without it (up to the client's retries, about 11 s when a request is lost),
so :meth:`LiveBroker.on_prices` and :meth:`LiveBroker.close` of other symbols go on meanwhile; they leave the
entry in flight alone, and a second entry on the same symbol is refused until the first is done.
**A refused stop-loss** (or take-profit) closes the position at market at once: the trade's exit reason is
``protection_failed`` and :meth:`LiveBroker.open` raises :class:`~liquidation_hunter.trading.errors.ProtectionFailed`.

**Liquidation price**: the exchange's (``positionRisk``) when it gives one, else the isolated-margin
formula of paper trading with ``maintenance_margin_rate`` (0.4 %): long ``entry*(1-1/L)/(1-mmr)``, short
``entry*(1+1/L)/(1+mmr)``.

**Positions not ours**: a position the exchange holds on a configured symbol (every symbol when
``symbols`` is None) that the books do not know is reported in :attr:`LiveBroker.foreign_positions` and
logged as an error, and never touched; no entry is sent on a symbol with such a position.

Symbols are unified (``BTC/USDT:USDT``) throughout, as the books hold them. Every method takes ``now_ms``
and reads no clock; the exchange client sleeps between its own retries.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from liquidation_hunter.data.prices import PricePath
from liquidation_hunter.trading.books import Books, OrderRecord
from liquidation_hunter.trading.errors import ExchangeUnavailable, OrderRejected, ProtectionFailed, TradingError
from liquidation_hunter.trading.exchange import Balance, ExchangeClient, ExchangePosition, ExitKind, OrderResult
from liquidation_hunter.trading.live.exit_orders import EXITS, ExitOrders, close_client_id, closing_side, exit_client_id
from liquidation_hunter.trading.live.wallet import ExchangeWallet
from liquidation_hunter.trading.model import (
    AccountState,
    ClosedTrade,
    EntryOrder,
    ExitReason,
    Position,
    liquidation_price,
)

__all__ = ["SETTLE_MS", "LiveBroker"]

TAKER_FEE = 0.0005
MAINTENANCE_MARGIN_RATE = 0.004
SETTLE_MS = 120_000
"""How long after the last attempt an entry the exchange does not know may still appear there."""

CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,32}$")
"""Binance allows 36 characters of ``[.A-Z:/a-z0-9_-]``; an entry's id keeps 4 for its exits' suffixes."""

log = structlog.get_logger("liquidation_hunter.live")


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0.0


class LiveBroker:
    """A :class:`~liquidation_hunter.trading.model.Broker` trading on Binance USD-M futures (module docstring).

    ``books``: opened in ``live`` mode. ``client``: with credentials. ``leverage``: the bot's leverage,
    used for entries a restart recovers (an entry is sent at its own ``EntryOrder.leverage``).
    ``symbols``: the symbols the bot trades, where positions the books do not know are reported (None:
    every symbol). ``taker_fee`` estimates fees the exchange does not report; ``settle_ms``: see the module
    docstring.
    """

    name = "live"

    def __init__(self, books: Books, client: ExchangeClient, *, leverage: int, symbols: Sequence[str] | None,
                 taker_fee: float = TAKER_FEE, maintenance_margin_rate: float = MAINTENANCE_MARGIN_RATE,
                 settle_ms: int = SETTLE_MS, logger: Any = None) -> None:
        if leverage < 1:
            raise ValueError(f"leverage must be at least 1, got {leverage}")
        self._books = books
        self._client = client
        self.leverage = leverage
        self.symbols = None if symbols is None else [client.unified(s) for s in symbols]
        self.taker_fee = taker_fee
        self.maintenance_margin_rate = maintenance_margin_rate
        self.settle_ms = settle_ms
        self._log = logger if logger is not None else log
        self._lock = threading.RLock()
        self.foreign_positions: list[ExchangePosition] = []
        """Positions the exchange holds on the bot's symbols that the books do not know (:meth:`start`)."""
        self._must_close: dict[int, ExitReason] = {}
        """Positions left without an exit whose market close failed: :meth:`on_prices` tries again."""
        self._unreported: list[ClosedTrade] = []
        """Trades of closes the broker decided on itself, not yet returned by on_prices or start."""
        self._in_flight: dict[str, str] = {}
        """Entries being sent without the lock: client id -> symbol (module docstring)."""
        self._exits = ExitOrders(books, client)
        self._wallet = ExchangeWallet(books, client, self._log)

    # ------------------------------------------------------------------ the Broker protocol

    def start(self, now_ms: int) -> list[ClosedTrade]:
        """Reconcile the books with the exchange after a (re)start: record entries a crash left unrecorded
        (and place their exits), close in the books the positions the exchange closed meanwhile, report
        positions that are not ours (:attr:`foreign_positions`), and re-place missing exit orders. Returns
        the trades found closed."""
        with self._lock:
            self._exits.abandon_orphans(now_ms)
            self._resolve_pending_entries(now_ms)
            positions = self._books.open_positions()
            wanted = None if self.symbols is None else sorted({*self.symbols, *(p.symbol for p in positions)})
            held = self._client.fetch_positions(wanted)
            closed = [trade for p in positions if not self._holds(held, p)
                      if (trade := self._settle_gone(p, {}, now_ms)) is not None]
            booked = {(p.symbol, p.direction) for p in self._books.open_positions()}
            self.foreign_positions = [p for p in held if (p.symbol, p.direction) not in booked
                                      and (self.symbols is None or p.symbol in self.symbols)]
            for foreign in self.foreign_positions:
                self._log.error("foreign_position", symbol=foreign.symbol, direction=foreign.direction,
                                quantity=foreign.quantity, entry=foreign.entry_price,
                                action="left alone: not in the books; no entries on this symbol")
            remaining = [p for p in self._books.open_positions() if self._holds(held, p)]
            if remaining:
                open_ids = {o.client_id for o in self._client.open_exit_orders()}
                for position in remaining:
                    self._ensure_exits(position, open_ids, now_ms)
            closed += self._take_unreported()
            self.sync_account(now_ms)
            self._log.info("live_broker_started", open_positions=len(self._books.open_positions()),
                           closed_meanwhile=len(closed), foreign_positions=len(self.foreign_positions),
                           wallet=None if self.exchange_balance is None else self.exchange_balance.wallet)
            return closed

    def open(self, order: EntryOrder, price: float, now_ms: int) -> Position | None:
        """Open a position at market with its exits (module docstring). None when the books already know
        ``order.client_id`` as a position, a refused entry or an abandoned one; an entry a crash or an
        unavailable exchange interrupted is finished (looked up, and sent again only when the exchange
        certainly does not have it). Raises :class:`OrderRejected` (nothing opened, or the position was
        closed again because its exits could not be placed) and :class:`ExchangeUnavailable`."""
        with self._lock:
            if order.client_id in self._in_flight:
                return None
            if order.symbol in self._in_flight.values():
                raise OrderRejected(f"{order.client_id}: another entry on {order.symbol} is in flight")
            if self._books.position_by_client_id(order.client_id) is not None:
                return None
            recorded = self._books.order(order.client_id)
            if recorded is not None and (recorded.purpose != "entry" or recorded.status != "new"):
                return None
            self._in_flight[order.client_id] = order.symbol
        try:  # the network part, without the lock (module docstring)
            if recorded is not None:
                return self._resume_entry(recorded, order, now_ms)
            return self._open_new(order, price, now_ms)
        finally:
            with self._lock:
                self._in_flight.pop(order.client_id, None)
            self._sync_quietly(now_ms)

    def _open_new(self, order: EntryOrder, price: float, now_ms: int) -> Position | None:
        """An entry the books do not know: checked, planned in the books, sent, filled and protected."""
        try:
            quantity, stop_loss, take_profit = self._checked(order, price)
        except OrderRejected as exc:
            self._books.record_order(client_id=order.client_id, symbol=order.symbol, side=order.side,
                                     type="market", purpose="entry", quantity=order.quantity, now_ms=now_ms,
                                     price=order.reference_price, status="rejected")
            self._books.update_order(order.client_id, status="rejected", now_ms=now_ms, error=str(exc))
            self._log.error("entry_refused", client_id=order.client_id, symbol=order.symbol, error=str(exc))
            raise
        self._client.prepare_symbol(order.symbol, order.leverage)
        self._exits.plan(order, quantity, stop_loss, take_profit, now_ms)
        self._books.record_order(client_id=order.client_id, symbol=order.symbol, side=order.side, type="market",
                                 purpose="entry", quantity=quantity, price=order.reference_price, now_ms=now_ms,
                                 status="new")
        rounded = dataclasses.replace(order, quantity=quantity, stop_loss=stop_loss, take_profit=take_profit)
        return self._send_entry(rounded, now_ms)

    def close(self, position: Position, reason: ExitReason, price: float, now_ms: int) -> ClosedTrade | None:
        """Cancel the position's exits and close it with a reduce-only market order (``<client id>-x``).
        None if the books hold it closed already. A position the exchange closed meanwhile (an exit
        triggered) is recorded as that exit instead. ``price`` values a position nothing explains."""
        with self._lock:
            current = next((p for p in self._books.open_positions() if p.id == position.id), None)
            if current is None or current.client_id in self._in_flight:
                return None
            trade = self._close_now(current, reason, {current.symbol: price}, now_ms)
        if trade is not None:
            self._sync_quietly(now_ms)
        return trade

    def on_price_paths(self, paths: Mapping[str, PricePath], now_ms: int) -> list[ClosedTrade]:
        """:meth:`on_prices` at each path's last price: the exchange's own stop and take-profit orders saw the
        rest."""
        return self.on_prices({symbol: path.last for symbol, path in paths.items()}, now_ms)

    def on_prices(self, prices: Mapping[str, float], now_ms: int) -> list[ClosedTrade]:
        """Find the positions the exchange closed (their stop or take-profit triggered) and record them;
        finish interrupted entries. One ``positionRisk`` request when the books hold positions, none
        otherwise. ``prices`` value a vanished position no order explains."""
        with self._lock:
            if self._books.orders(status="new", purpose="entry"):
                self._resolve_pending_entries(now_ms)
            for position_id, reason in list(self._must_close.items()):
                position = next((p for p in self._books.open_positions() if p.id == position_id), None)
                self._must_close.pop(position_id)
                if position is not None:
                    self._try_close(position, reason, prices, now_ms)
            closed = self._take_unreported()
            flying = set(self._in_flight)
            positions = [p for p in self._books.open_positions() if p.client_id not in flying]
            if not positions:
                return closed
            held = self._client.fetch_positions(sorted({p.symbol for p in positions}))
            for position in positions:
                if self._holds(held, position):
                    continue
                try:
                    trade = self._settle_gone(position, prices, now_ms)
                except TradingError as exc:
                    self._log.error("exit_lookup_failed", symbol=position.symbol, client_id=position.client_id,
                                    error=str(exc))
                    continue
                if trade is not None:
                    closed.append(trade)
        if closed:
            self._sync_quietly(now_ms)
        return closed

    def positions(self) -> Sequence[Position]:
        return self._books.open_positions()

    def account(self, prices: Mapping[str, float], now_ms: int) -> AccountState:
        """The books valued at ``prices`` (their wallet is the exchange's since the last :meth:`sync_account`):
        margin and unrealised PnL from the books' positions; the available margin no more than the
        exchange's at the last look (the account may hold margin the books do not know of)."""
        state = self._books.account(prices, now_ms)
        balance = self.exchange_balance
        if balance is not None and state.wallet - balance.available > state.margin:
            return dataclasses.replace(state, margin=state.wallet - balance.available)
        return state

    # ------------------------------------------------------------------ the exchange's wallet and funding

    @property
    def exchange_balance(self) -> Balance | None:
        """The exchange's wallet and available margin at the last :meth:`sync_account`."""
        return self._wallet.balance

    def sync_account(self, now_ms: int) -> Balance | None:
        """Book the funding the exchange's income history lists, then make the books' wallet the exchange's:
        the difference is recorded as a deposit or a withdrawal (module docstring). Returns the exchange's
        balance; None when skipped (an entry in flight, or an exit the books have not recorded yet). Raises
        :class:`~.errors.TradingError` when the exchange cannot be asked."""
        with self._lock:
            if self._in_flight:
                return None
            before = self._books_state()
        # the network part without the lock, so exits of every symbol are booked meanwhile (module docstring)
        if before[1]:
            held = self._client.fetch_positions(sorted({symbol for _, symbol in before[1]}))
            if not all(self._holds(held, p) for p in self._books.open_positions()):
                return None  # on_prices books that exit first; its PnL is not a transfer
        payments, balance = self._wallet.look(now_ms)
        with self._lock:
            if self._in_flight or self._books_state() != before:
                return None  # the books moved meanwhile: the next look compares again
            return self._wallet.book(payments, balance, now_ms)

    def _books_state(self) -> tuple[float, frozenset[tuple[int, str]]]:
        """The books' wallet and open positions (id, symbol): what a look at the exchange's wallet assumes."""
        return self._books.wallet(), frozenset((p.id, p.symbol) for p in self._books.open_positions())

    def _sync_quietly(self, now_ms: int) -> None:
        """:meth:`sync_account` after a fill: a failure is logged, the next look (the heartbeat) tries again."""
        try:
            self.sync_account(now_ms)
        except TradingError as exc:
            self._log.warning("wallet_sync_failed", error=str(exc), action="trying again at the next heartbeat")

    # ------------------------------------------------------------------ entries

    def _checked(self, order: EntryOrder, price: float) -> tuple[float, float, float]:
        """The quantity and exit levels the exchange will be asked for; OrderRejected for an order it would
        refuse or the books could not hold. Asks the exchange for its positions on the symbol."""
        cid = order.client_id
        if not CLIENT_ID.match(cid):
            raise OrderRejected(f"{cid}: a client id needs 1 to 32 characters of [.A-Z:/a-z0-9_-]")
        if order.direction not in (1, -1) or order.leverage < 1 or not _positive(price):
            raise OrderRejected(f"{cid}: direction must be +1 or -1, leverage >= 1 and the price > 0 "
                                f"(got {order.direction}, {order.leverage}, {price!r})")
        if not all(math.isfinite(v) and v >= 0 for v in (order.stop_loss, order.take_profit)):
            raise OrderRejected(f"{cid}: stop-loss and take-profit must be >= 0 (0: none)")
        if any(p.symbol == order.symbol for p in self._books.open_positions()):
            raise OrderRejected(f"{cid}: {order.symbol} already has an open position")
        quantity = self._client.amount_to_precision(order.symbol, order.quantity)
        minimum = self._client.min_amount(order.symbol) or 0.0
        notional = self._client.min_notional(order.symbol) or 0.0
        if quantity <= 0 or quantity < minimum or quantity * price < notional:
            raise OrderRejected(f"{cid}: quantity {order.quantity!r} rounds to {quantity!r} {order.symbol}, "
                                f"below the exchange's minimum ({minimum} or {notional} USDT at {price})")
        stop_loss = self._client.price_to_precision(order.symbol, order.stop_loss) if order.stop_loss else 0.0
        take_profit = self._client.price_to_precision(order.symbol, order.take_profit) if order.take_profit else 0.0
        d = order.direction
        if (stop_loss and d * (price - stop_loss) <= 0) or (take_profit and d * (take_profit - price) <= 0):
            raise OrderRejected(f"{cid}: stop-loss {stop_loss} / take-profit {take_profit} would trigger at once "
                                f"at {price} ({order.side})")
        if self._client.fetch_positions([order.symbol]):
            raise OrderRejected(f"{cid}: the exchange holds a position on {order.symbol} that the books do not "
                                "know; not trading it")
        return quantity, stop_loss, take_profit

    def _send_entry(self, order: EntryOrder, now_ms: int) -> Position | None:
        cid = order.client_id
        try:
            result = self._client.create_market_order(order.symbol, order.side, order.quantity, cid)
        except OrderRejected as exc:
            self._books.update_order(cid, status="rejected", now_ms=now_ms, error=str(exc))
            self._exits.drop_planned(cid, "rejected", now_ms)
            self._log.error("entry_rejected", client_id=cid, symbol=order.symbol, error=str(exc))
            raise
        except ExchangeUnavailable as exc:
            # unknown whether it was placed: the books keep it "new" and the next look finds out
            self._books.update_order(cid, status="new", now_ms=now_ms, error=str(exc))
            raise
        return self._entry_done(order, result, now_ms)

    def _resume_entry(self, recorded: OrderRecord, order: EntryOrder, now_ms: int) -> Position | None:
        """An entry the books hold as ``new``: sent before, by this process or one that died. Look it up;
        send it again (same client id and quantity) only when the exchange certainly does not have it."""
        found = self._client.fetch_order_by_client_id(recorded.symbol, recorded.client_id)
        if found is not None:
            return self._entry_done(self._recorded_entry(recorded, order), found, now_ms)
        if now_ms - recorded.updated_at < self.settle_ms:
            self._log.warning("entry_unsettled", client_id=recorded.client_id, symbol=recorded.symbol,
                              note="sent recently and not found yet; looked at again later")
            return None
        self._log.warning("entry_resent", client_id=recorded.client_id, symbol=recorded.symbol)
        self._client.prepare_symbol(recorded.symbol, order.leverage)
        self._books.update_order(recorded.client_id, status="new", now_ms=now_ms)
        return self._send_entry(self._recorded_entry(recorded, order), now_ms)

    def _recorded_entry(self, recorded: OrderRecord, order: EntryOrder | None = None) -> EntryOrder:
        """The entry as the books planned it, with the exit levels of its planned exit orders. From a
        crashed run (no ``order``): with the broker's leverage and no strategy name, and no exits when none
        was planned (the caller closes such a position)."""
        levels = self._exits.planned_levels(recorded.client_id)
        if levels is None:
            levels = {kind: 0.0 for kind in EXITS}
            if order is not None:
                for kind, level in zip(EXITS, (order.stop_loss, order.take_profit), strict=True):
                    levels[kind] = self._client.price_to_precision(order.symbol, level) if level > 0 else 0.0
        if order is not None:
            return dataclasses.replace(order, quantity=recorded.quantity, stop_loss=levels["stop_loss"],
                                       take_profit=levels["take_profit"])
        return EntryOrder(client_id=recorded.client_id, symbol=recorded.symbol,
                          direction=1 if recorded.side == "buy" else -1, quantity=recorded.quantity,
                          reference_price=recorded.price or 0.0, stop_loss=levels["stop_loss"],
                          take_profit=levels["take_profit"], leverage=self.leverage, created_at=recorded.created_at,
                          reason="recovered after a restart")

    def _entry_done(self, order: EntryOrder, result: OrderResult, now_ms: int) -> Position | None:
        """The exchange's answer to an entry: record the fill and protect the position."""
        cid = order.client_id
        if result.filled <= 0:
            if result.status in ("canceled", "expired", "rejected"):
                self._books.update_order(cid, status=result.status, now_ms=now_ms, exchange_id=result.id,
                                         error="the exchange filled nothing")
                self._exits.drop_planned(cid, "canceled", now_ms)
                raise OrderRejected(f"{cid}: the market order ended {result.status} without a fill")
            self._books.update_order(cid, status="new", now_ms=now_ms, exchange_id=result.id)
            self._log.warning("entry_not_filled_yet", client_id=cid, symbol=order.symbol, status=result.status)
            return None
        price = result.average
        if price is None:
            price = order.reference_price
            self._log.warning("entry_without_average_price", client_id=cid, assumed=price)
        fee = result.fee or result.filled * price * self.taker_fee
        position = self._books.record_entry(
            order, quantity=result.filled, fill_price=price, fee=fee, exchange_id=result.id or None,
            liquidation_price=self._liquidation_price(order.symbol, order.direction, price, order.leverage),
            now_ms=now_ms, stop_loss=order.stop_loss, take_profit=order.take_profit)
        if position is None:
            self._log.error("entry_not_booked", client_id=cid, symbol=order.symbol, quantity=result.filled,
                            note="the books refused it (a position on the symbol?); the exchange holds it")
            return None
        self._log.info("entry_filled", client_id=cid, symbol=position.symbol, direction=position.direction,
                       quantity=position.quantity, price=price, fee=fee)
        self._protect(position, now_ms)
        return position

    def _liquidation_price(self, symbol: str, direction: int, entry: float, leverage: int) -> float:
        try:
            held = [p for p in self._client.fetch_positions([symbol]) if p.direction == direction]
        except TradingError:  # the fill is what matters now; the formula is close enough
            held = []
        if held and held[0].liquidation_price:
            return held[0].liquidation_price
        return liquidation_price(direction, entry, leverage, self.maintenance_margin_rate)

    def _resolve_pending_entries(self, now_ms: int) -> None:
        """Entries the books hold as ``new`` (sent, outcome unrecorded): record the filled ones, drop the
        ones the exchange does not have once ``settle_ms`` passed."""
        for recorded in self._books.orders(status="new", purpose="entry"):
            if recorded.client_id in self._in_flight:  # being sent by open() right now
                continue
            try:
                found = self._client.fetch_order_by_client_id(recorded.symbol, recorded.client_id)
                if found is None:
                    if now_ms - recorded.updated_at >= self.settle_ms:
                        self._books.update_order(recorded.client_id, status="abandoned", now_ms=now_ms,
                                                 error="never reached the exchange")
                        self._exits.drop_planned(recorded.client_id, "abandoned", now_ms)
                        self._log.warning("entry_abandoned", client_id=recorded.client_id, symbol=recorded.symbol)
                    continue
                if found.filled <= 0 and found.status == "open":
                    continue
                self._log.warning("entry_recovered", client_id=recorded.client_id, symbol=recorded.symbol,
                                  filled=found.filled, status=found.status)
                position = self._entry_done(self._recorded_entry(recorded), found, now_ms)
                if position is not None and self._exits.planned_levels(recorded.client_id) is None:
                    self._log.error("entry_recovered_without_exits", client_id=recorded.client_id,
                                    symbol=recorded.symbol, action="closing the position at market")
                    self._try_close(position, "reconciled", {}, now_ms)
            except TradingError as exc:
                self._log.error("entry_recovery_failed", client_id=recorded.client_id, symbol=recorded.symbol,
                                error=str(exc))

    # ------------------------------------------------------------------ exit orders

    def _protect(self, position: Position, now_ms: int) -> None:
        """Place the position's exits; if one cannot be placed, close the position at market and raise."""
        for kind, level in zip(EXITS, (position.stop_loss, position.take_profit), strict=True):
            if level <= 0:
                continue
            try:
                self._exits.place(position, kind, level, exit_client_id(position.client_id, kind), now_ms)
            except TradingError as exc:
                closed = self._close_unprotected(position, kind, exc, now_ms)
                outcome = "closed at market" if closed is not None else "left open: closing again at the next prices"
                raise ProtectionFailed(f"{position.client_id}: the {kind} order could not be placed ({exc}); the "
                                       f"position was {outcome}", kind=kind, detail=str(exc),
                                       closed=closed is not None) from exc

    def _close_unprotected(self, position: Position, kind: ExitKind, exc: TradingError,
                           now_ms: int) -> ClosedTrade | None:
        """An exit could not be placed: close the position at market (:meth:`_try_close`)."""
        self._log.error("exit_order_failed", client_id=position.client_id, symbol=position.symbol, exit=kind,
                        error=str(exc), action="closing the position at market")
        return self._try_close(position, "protection_failed", {}, now_ms)

    def _ensure_exits(self, position: Position, open_ids: set[str], now_ms: int) -> None:
        """Re-place the exits the exchange does not hold open for a position it holds (a crash before they
        were sent, or cancelled by hand: :meth:`.ExitOrders.missing`). When one cannot be placed the position is
        closed at market."""
        for kind, level in zip(EXITS, (position.stop_loss, position.take_profit), strict=True):
            if level <= 0:
                continue
            client_id = self._exits.missing(position, kind, open_ids, now_ms)
            if client_id is None:
                continue
            self._log.warning("exit_order_missing", client_id=position.client_id, symbol=position.symbol, exit=kind,
                              action=f"placing {client_id}")
            try:
                self._exits.place(position, kind, level, client_id, now_ms)
            except TradingError as exc:
                self._close_unprotected(position, kind, exc, now_ms)
                return

    # ------------------------------------------------------------------ exits

    @staticmethod
    def _holds(held: Sequence[ExchangePosition], position: Position) -> bool:
        return any(p.symbol == position.symbol and p.direction == position.direction for p in held)

    def _try_close(self, position: Position, reason: ExitReason, prices: Mapping[str, float],
                   now_ms: int) -> ClosedTrade | None:
        """A close the broker decided on (a position it cannot protect): :meth:`_close_now`, the trade kept
        for the next :meth:`on_prices` or :meth:`start` to report, a failure remembered to try again."""
        try:
            trade = self._close_now(position, reason, prices, now_ms)
        except TradingError as exc:
            with self._lock:
                self._must_close[position.id] = reason
            self._log.error("close_failed", client_id=position.client_id, symbol=position.symbol, error=str(exc),
                            action="trying again at the next prices")
            return None
        with self._lock:
            self._must_close.pop(position.id, None)
            if trade is not None:
                self._unreported.append(trade)
        return trade

    def _take_unreported(self) -> list[ClosedTrade]:
        with self._lock:
            taken, self._unreported = self._unreported, []
        return taken

    def _close_now(self, position: Position, reason: ExitReason, prices: Mapping[str, float],
                   now_ms: int) -> ClosedTrade | None:
        if not self._holds(self._client.fetch_positions([position.symbol]), position):
            return self._settle_gone(position, prices, now_ms)
        self._exits.cancel(position, now_ms)
        side = closing_side(position.direction)
        client_id = close_client_id(position.client_id)
        self._books.record_order(client_id=client_id, symbol=position.symbol, side=side, type="market",
                                 purpose=reason, quantity=position.quantity, now_ms=now_ms, position_id=position.id,
                                 reduce_only=True, status="new")
        try:
            result = self._client.create_market_order(position.symbol, side, position.quantity, client_id,
                                                      reduce_only=True)
        except OrderRejected as exc:  # e.g. -2022, nothing to reduce: an exit or a liquidation was faster
            self._books.update_order(client_id, status="rejected", now_ms=now_ms, error=str(exc))
            if not self._holds(self._client.fetch_positions([position.symbol]), position):
                return self._settle_gone(position, prices, now_ms)
            raise
        return self._record_exit(position, client_id, result, reason=reason, order_type="market", now_ms=now_ms)

    def _record_exit(self, position: Position, client_id: str, fill: OrderResult, *, reason: ExitReason,
                     order_type: str, now_ms: int) -> ClosedTrade | None:
        price = fill.average
        if price is None:
            raise ExchangeUnavailable(f"{client_id}: the exchange reports no fill price for {fill.id}")
        if abs(fill.filled - position.quantity) > 1e-12 * max(1.0, position.quantity):
            self._log.warning("exit_quantity_differs", client_id=client_id, booked=position.quantity,
                              filled=fill.filled)
        fee = fill.fee or fill.filled * price * self.taker_fee
        trade = self._books.record_exit(position.id, client_id=client_id, exit_price=price, fee=fee, reason=reason,
                                        now_ms=now_ms, exchange_id=fill.id or None, order_type=order_type)
        if trade is not None:
            self._log.info("exit_filled", client_id=client_id, symbol=position.symbol, reason=reason, price=price,
                           fee=fee)
        return trade

    def _settle_gone(self, position: Position, prices: Mapping[str, float], now_ms: int) -> ClosedTrade | None:
        """A position the exchange no longer holds: find the order that closed it (a triggered exit, or our
        market close), record that fill and cancel what is left of the other exit."""
        symbol = position.symbol
        fill = self._exits.closing_fill(position, now_ms)
        if fill is not None:
            client_id, reason, result, order_type = fill
            return self._record_exit(position, client_id, result, reason=reason, order_type=order_type, now_ms=now_ms)
        price = prices.get(symbol)
        if price is None or not _positive(price):
            price = position.entry_price
        self._log.warning("position_vanished", client_id=position.client_id, symbol=symbol, price=price,
                          note="the exchange holds no such position and no exit order of ours explains it "
                               "(liquidated? closed by hand?); closed in the books at the last price")
        # the exit the books record when no order of the exchange explains it (never sent): "<entry>-r"
        return self._books.record_exit(position.id, client_id=f"{position.client_id}-r",
                                       exit_price=price, fee=position.quantity * price * self.taker_fee,
                                       reason="reconciled", now_ms=now_ms, order_type="unknown")
