"""The paper broker: Binance USD-M isolated-margin fills simulated into the books.

It returns the same records as the live broker, so the bot cannot tell them apart. Every change is one
transaction of :class:`~.books.Books`, so a paper bot killed at any instant restarts with books that
balance, and an entry replayed with the same ``client_id`` never opens a second position.

The rules, each chosen to be the worse plausible outcome for the trader when one price sample cannot
tell what happened between two samples:

* **Entry** (market, taker): fills at ``price`` worsened by ``slippage_bps`` (a buy pays more, a sell
  gets less) and pays ``taker_fee`` on the fill's notional. The quantity is rounded down to the
  exchange's step when a :class:`Precision` is given; stop-loss and take-profit to its tick.
* **Margin**: isolated, ``notional / leverage``; the entry is refused when margin + fee exceed the
  available balance (wallet less the margin of the open positions; isolated unrealised PnL does not
  count, as on Binance).
* **Liquidation price** (:func:`liquidation_price`, Binance's one-way isolated formula), from the fill price. A
  position is liquidated when its margin plus its unrealised PnL falls to the maintenance margin
  ``mmr * quantity * price - cum``, with ``mmr`` and ``cum`` of the symbol's leverage bracket at the position's
  notional (``brackets``: :meth:`PaperBroker.from_risk` passes the table shipped in the package, dated; see
  :mod:`live_heatmap.estimated.brackets`). A symbol the table does not list uses ``maintenance_margin_rate``
  with ``cum = 0``:

  - long: ``q*E/L + q*(P - E) = mmr*q*P - cum``  =>  ``P = (q*E/L + cum - q*E) / (q*mmr - q)``
  - short: ``q*E/L - q*(P - E) = mmr*q*P - cum``  =>  ``P = (q*E/L + cum + q*E) / (q*mmr + q)``

  (funding does not move it here). An entry above the symbol's largest position (the last bracket's cap), or
  whose liquidation price is not beyond the fill (leverage too high for the bracket's MMR), is refused; so is an
  entry whose leverage is above the bracket's maximum at its notional (``Brackets.max_leverage(notional)``; Binance
  refuses such an order too). The leverage is refused, not lowered: it is the config's (``risk.leverage``), and
  a lower one would change the margin and the liquidation price the risk model sized for. A long at 1x cannot
  be liquidated (liquidation price 0).
* **Exits**, checked by :meth:`PaperBroker.on_prices` (one price per symbol: the mark price now) or
  :meth:`PaperBroker.on_price_paths` (what each symbol's price went through since the last check: where it
  started, its low and high, where it is now; a backtest passes every trade or each closed kline's
  wick between two checks, see :class:`~liquidation_hunter.data.prices.PricePath`) for each position
  whose symbol has one, in this order. Inside one path the order of the low and the high is unknown, so
  the worse outcome is assumed: a liquidation before a stop, a stop before a take-profit.

  1. **Liquidation** when the path reached the liquidation price (even if it also passed the stop:
     the liquidation is the worse). Recorded at the
     liquidation price; the exit fee is Binance's liquidation clearance: the margin left at that price
     (the maintenance margin, ``mmr * quantity * liquidation price``) goes to the insurance fund, at
     least the taker fee. So a liquidated position loses exactly its margin plus its entry fee (less
     funding received), whatever the price gapped to: the isolated margin is all it can lose.
  2. **Stop-loss** (stop-market: taker fee) when the path reached the stop (its low for a long, its high
     for a short), even if it also reached the take-profit (**the stop first**, the worse case): fills at
     the stop worsened by the slippage, or at the price where the path first reached the stop when that is
     worse (it gapped through: the first trade beyond the stop, or the open of the first bar that reached
     it when the bar opened beyond it; a single price is its own path, so a check that finds the price
     beyond the stop fills there).
  3. **Take-profit** (take-profit-market: taker fee) when the path reached it and not the stop: fills at
     the take-profit level itself, no slippage and no credit for a gap beyond it.

  A level of 0 means none; an entry whose stop-loss or take-profit would trigger at once (on the wrong
  side of the price) is refused, as Binance refuses such an exit order. Prices that are not finite and
  positive are ignored.
* **Market exits** (:meth:`PaperBroker.close`: time exits, manual closes): the price worsened by the
  slippage, taker fee. Exit client ids are ``<entry client id>-x``.
* **Funding** (when enabled): at every funding time (multiples of ``funding_interval_ms`` since the
  epoch: 00:00, 08:00 and 16:00 UTC by default) after the position opened and up to ``now_ms``, the
  position receives ``-direction * rate * quantity * price`` (a long pays a positive rate), ``price``
  being the price the broker was given when it settled (the bot passes mark prices), ``rate`` the rate
  streamed for that funding time when there is one (``funding_rates``: the mark-price stream's ``r``, see
  :class:`FundingSource`), else the base rate: the last one set with :meth:`PaperBroker.set_funding_rate`
  (default 0.01 %, Binance's base rate; a backtest has no stream and always uses it). Funding due
  is settled before the exits are checked, and before a market exit. The books record it once per
  position and funding time, so a restart never charges twice; times missed while the bot was down
  are settled at the next price.

All fills are taker fills; ``maker_fee`` is kept for limit orders. Nothing reads the clock or sleeps:
every method takes ``now_ms``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from liquidation_hunter.data.prices import PricePath
from liquidation_hunter.trading.books import Books, BooksError
from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.model import (
    AccountState,
    ClosedTrade,
    EntryOrder,
    ExitReason,
    Position,
    liquidation_price,
)
from live_heatmap.estimated.brackets import BracketTable, shipped_brackets

if TYPE_CHECKING:
    from liquidation_hunter.config.sections import RiskConfig

__all__ = ["DEFAULT_FUNDING_RATE", "FUNDING_INTERVAL_MS", "FundingSource", "PaperBroker", "Precision",
           "liquidation_price"]

DEFAULT_FUNDING_RATE = 0.0001
"""Binance's base funding rate per interval (0.01 %)."""
FUNDING_INTERVAL_MS = 8 * 3600 * 1000


class FundingSource(Protocol):
    """Streamed funding rates (``live_heatmap.funding.FundingRates``, fed by the mark-price stream)."""

    def rate_for(self, symbol: str, funding_time_ms: int) -> float | None:
        """The rate streamed for the funding at ``funding_time_ms`` (either symbol form), or None."""
        ...


class Precision(Protocol):
    """The exchange's rounding of one market (the live exchange client offers the same methods)."""

    def has_market(self, symbol: str) -> bool:
        """Whether the rules list ``symbol`` (the other methods answer only for a listed one)."""
        ...

    def amount_to_precision(self, symbol: str, amount: float) -> float:
        """``amount`` rounded down to the market's step size."""
        ...

    def price_to_precision(self, symbol: str, price: float) -> float:
        """``price`` rounded to the market's tick size."""
        ...

    def min_amount(self, symbol: str) -> float | None:
        """The smallest order quantity, or None when the market has none."""
        ...

    def min_notional(self, symbol: str) -> float | None:
        """The smallest order value in quote currency (Binance: 5 USDT on most, 100 on BTC), or None."""
        ...


def _level_ok(value: float) -> bool:
    return math.isfinite(value) and value >= 0.0


def _price_ok(value: float) -> bool:
    return math.isfinite(value) and value > 0.0


class PaperBroker:
    """A :class:`~.model.Broker` that fills orders locally, as Binance USD-M would, into ``books``.

    ``slippage_bps`` worsens every market fill (basis points); ``taker_fee`` and ``maker_fee`` are
    fractions of notional; ``brackets`` (a :class:`~live_heatmap.estimated.brackets.BracketTable`, None: none)
    set the liquidation price, ``maintenance_margin_rate`` for a symbol without brackets; ``precision`` rounds
    quantities and exit levels like the exchange (None: no rounding).
    """

    name = "paper"

    def __init__(self, books: Books, *, slippage_bps: float, taker_fee: float, maker_fee: float,
                 funding: bool = True, maintenance_margin_rate: float = 0.004, precision: Precision | None = None,
                 funding_interval_ms: int = FUNDING_INTERVAL_MS, funding_rates: FundingSource | None = None,
                 brackets: BracketTable | None = None) -> None:
        checks = (("slippage_bps", slippage_bps, 0.0 <= slippage_bps < 10_000),
                  ("taker_fee", taker_fee, 0.0 <= taker_fee < 1.0),
                  ("maker_fee", maker_fee, -1.0 < maker_fee < 1.0),
                  ("maintenance_margin_rate", maintenance_margin_rate, 0.0 <= maintenance_margin_rate < 1.0),
                  ("funding_interval_ms", funding_interval_ms, funding_interval_ms > 0))
        for key, value, ok in checks:
            if not ok or not math.isfinite(value):
                raise ValueError(f"PaperBroker: {key} out of range: {value!r}")
        self._books = books
        self._slippage = slippage_bps / 10_000.0
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        self.funding = funding
        self.maintenance_margin_rate = maintenance_margin_rate
        self.brackets = brackets
        """Leverage brackets by symbol (None: ``maintenance_margin_rate`` for every symbol)."""
        self._precision = precision
        self.funding_interval_ms = int(funding_interval_ms)
        self._rates: dict[str, float] = {}
        self.funding_rates = funding_rates
        """Where streamed rates come from (None: the base rate only)."""
        self._funded: dict[int, int] = {}
        """Position id -> the last funding time settled (or found settled) for it."""
        self._lock = threading.RLock()

    @classmethod
    def from_risk(cls, books: Books, risk: RiskConfig, precision: Precision | None = None,
                  funding_rates: FundingSource | None = None) -> PaperBroker:
        """A paper broker with the costs of the config's ``risk`` section and the leverage brackets shipped in the
        package (:func:`~live_heatmap.estimated.brackets.shipped_brackets`)."""
        return cls(books, slippage_bps=risk.slippage_bps, taker_fee=risk.taker_fee, maker_fee=risk.maker_fee,
                   funding=risk.funding, precision=precision, funding_rates=funding_rates,
                   brackets=shipped_brackets())

    @property
    def slippage_bps(self) -> float:
        return self._slippage * 10_000.0

    def set_funding_rate(self, symbol: str, rate: float) -> None:
        """The funding rate (fraction per interval) charged to ``symbol`` from now on, e.g. from mark prices."""
        if not math.isfinite(rate):
            raise ValueError(f"funding rate of {symbol}: expected a finite number, got {rate!r}")
        with self._lock:
            self._rates[symbol] = float(rate)

    def funding_rate(self, symbol: str, funding_time_ms: int | None = None) -> float:
        """The rate charged to ``symbol`` at ``funding_time_ms``: the streamed one when known, else the base rate."""
        if funding_time_ms is not None and self.funding_rates is not None:
            streamed = self.funding_rates.rate_for(symbol, funding_time_ms)
            if streamed is not None and math.isfinite(streamed):
                return streamed
        return self._rates.get(symbol, DEFAULT_FUNDING_RATE)

    # ------------------------------------------------------------------ Broker

    def start(self, now_ms: int) -> list[ClosedTrade]:
        """Nothing to reconcile on paper: check the books are paper books and balance.

        Raises :class:`~.books.BooksError` naming the problems otherwise.
        """
        if self._books.mode != "paper":
            raise BooksError(f"{self._books.path}: {self._books.mode or 'unknown'} books cannot be paper-traded")
        problems = self._books.audit()
        if problems:
            raise BooksError(f"{self._books.path}: the books do not balance: " + "; ".join(problems))
        return []

    def open(self, order: EntryOrder, price: float, now_ms: int) -> Position | None:
        """Fill a market entry at ``price`` worsened by the slippage.

        None (nothing done) when the books already hold an entry with ``order.client_id``; raises
        :class:`~.errors.OrderRejected` for an invalid order or price, a symbol with an open position, a
        quantity that rounds below the minimum, or margin + fee above the available balance.
        """
        with self._lock:
            if self._books.position_by_client_id(order.client_id) is not None:
                return None
            self._check(order, price)
            quantity = self._quantity(order)
            fill = price * (1.0 + order.direction * self._slippage)
            notional = quantity * fill
            least = self._precision.min_notional(order.symbol) if self._precision is not None else None
            if least is not None and notional < least:
                raise OrderRejected(f"{order.client_id}: notional {notional:.4f} of {order.symbol} is below the "
                                    f"exchange's minimum {least:g}")
            stop_loss = self._round_level(order.symbol, order.stop_loss)
            take_profit = self._round_level(order.symbol, order.take_profit)
            self._check_levels(order.client_id, side_name=order.side, direction=order.direction, price=fill,
                               stop_loss=stop_loss, take_profit=take_profit, rounded=True)
            fee = notional * self.taker_fee
            margin = notional / order.leverage
            open_positions = self._books.open_positions()
            if any(p.symbol == order.symbol for p in open_positions):
                raise OrderRejected(f"{order.client_id}: {order.symbol} already has an open position")
            available = self._books.wallet() - sum(p.margin for p in open_positions)
            if margin + fee > available:
                raise OrderRejected(f"{order.client_id}: insufficient balance: margin {margin:.4f} + fee {fee:.4f} "
                                    f"USDT > available {available:.4f} USDT")
            liquidation = self._liquidation_price(order, fill, quantity)
            return self._books.record_entry(order, quantity=quantity, fill_price=fill, fee=fee,
                                            liquidation_price=liquidation, now_ms=now_ms,
                                            stop_loss=stop_loss, take_profit=take_profit)

    def _liquidation_price(self, order: EntryOrder, fill: float, quantity: float) -> float:
        """The entry's liquidation price with the symbol's bracket at its notional (the fixed rate without one);
        :class:`OrderRejected` above the symbol's largest position, above the bracket's maximum leverage at that
        notional, or when it would be liquidated at once."""
        found = self.brackets.get(order.symbol) if self.brackets is not None else None
        if found is not None:
            notional = quantity * fill
            try:
                allowed = found.max_leverage(notional)
            except ValueError as exc:
                raise OrderRejected(f"{order.client_id}: {exc}") from None
            if order.leverage > allowed:
                raise OrderRejected(f"{order.client_id}: leverage {order.leverage} is above the maximum {allowed}x "
                                    f"of {order.symbol}'s bracket at a notional of {notional:.2f} USDT")
        try:
            price = liquidation_price(order.direction, fill, order.leverage,
                                      found if found is not None else self.maintenance_margin_rate, quantity=quantity)
        except ValueError as exc:
            raise OrderRejected(f"{order.client_id}: {exc}") from None
        if price > 0.0 and order.direction * (fill - price) <= 0.0:
            raise OrderRejected(f"{order.client_id}: leverage {order.leverage} leaves no margin above the maintenance "
                                f"margin of {order.symbol}'s bracket (liquidation price {price:g}, fill {fill:g})")
        return price

    def close(self, position: Position, reason: ExitReason, price: float, now_ms: int) -> ClosedTrade | None:
        """Close at market: ``price`` worsened by the slippage, taker fee. None if already closed."""
        if not _price_ok(price):
            raise OrderRejected(f"{position.client_id}-x: price must be finite and > 0, got {price!r}")
        with self._lock:
            self._settle_funding(position, price, now_ms)
            fill = price * (1.0 - position.direction * self._slippage)
            return self._exit(position, reason, fill, position.quantity * fill * self.taker_fee, now_ms)

    def on_prices(self, prices: Mapping[str, float], now_ms: int) -> list[ClosedTrade]:
        """Settle funding due, then fill the liquidations, stop-losses and take-profits the prices reached."""
        return self.on_price_paths({s: PricePath.at(p) for s, p in prices.items() if _price_ok(p)}, now_ms)

    def on_price_paths(self, paths: Mapping[str, PricePath], now_ms: int) -> list[ClosedTrade]:
        """:meth:`on_prices` over what each symbol's price went through since the last check (module
        docstring: the worse of the levels the path reached fills first). Funding is settled at ``last``."""
        closed: list[ClosedTrade] = []
        with self._lock:
            positions = self._books.open_positions()
            open_ids = {p.id for p in positions}
            self._funded = {pid: at for pid, at in self._funded.items() if pid in open_ids}
            for position in positions:
                path = paths.get(position.symbol)
                if path is None or not all(map(_price_ok, (path.first, path.low, path.high, path.last))):
                    continue
                self._settle_funding(position, path.last, now_ms)
                trade = self._check_exits(position, path, now_ms)
                if trade is not None:
                    closed.append(trade)
        return closed

    def positions(self) -> Sequence[Position]:
        return self._books.open_positions()

    def account(self, prices: Mapping[str, float], now_ms: int) -> AccountState:
        return self._books.account(prices, now_ms)

    # ------------------------------------------------------------------ internals

    def _check(self, order: EntryOrder, price: float) -> None:
        cid = order.client_id
        if order.direction not in (1, -1):
            raise OrderRejected(f"{cid}: direction must be +1 or -1, got {order.direction!r}")
        if not _price_ok(price):
            raise OrderRejected(f"{cid}: price must be finite and > 0, got {price!r}")
        if not _price_ok(order.quantity):
            raise OrderRejected(f"{cid}: quantity must be finite and > 0, got {order.quantity!r}")
        if not (isinstance(order.leverage, int) and order.leverage >= 1):
            raise OrderRejected(f"{cid}: leverage must be an integer >= 1, got {order.leverage!r}")
        if 1.0 / order.leverage <= self.maintenance_margin_rate:
            raise OrderRejected(f"{cid}: leverage {order.leverage} leaves no margin above the maintenance "
                                f"margin rate {self.maintenance_margin_rate}")
        self._check_levels(cid, side_name=order.side, direction=order.direction, price=price,
                           stop_loss=order.stop_loss, take_profit=order.take_profit)

    @staticmethod
    def _check_levels(cid: str, *, side_name: str, direction: int, price: float, stop_loss: float,
                      take_profit: float, rounded: bool = False) -> None:
        """Each exit on its own side of ``price`` (else Binance refuses it, -2021: it would trigger at once).
        Checked again after rounding to the tick, which can move a level that was close onto the price."""
        for key, level, side in (("stop_loss", stop_loss, -1), ("take_profit", take_profit, 1)):
            if not _level_ok(level):
                raise OrderRejected(f"{cid}: {key} must be finite and >= 0 (0: none), got {level!r}")
            if level > 0.0 and side * direction * (level - price) <= 0.0:
                where = "above" if side * direction > 0 else "below"
                raise OrderRejected(f"{cid}: {key} {level!r}{' (rounded to the tick)' if rounded else ''} would "
                                    f"trigger at once: it must be {where} the price {price!r} for a {side_name}")

    def _quantity(self, order: EntryOrder) -> float:
        quantity = float(order.quantity)
        if self._precision is None:
            return quantity
        quantity = float(self._precision.amount_to_precision(order.symbol, quantity))
        least = self._precision.min_amount(order.symbol)
        if quantity <= 0.0 or (least is not None and quantity < least):
            raise OrderRejected(f"{order.client_id}: quantity {order.quantity!r} of {order.symbol} rounds to "
                                f"{quantity!r}, below the minimum {least!r}")
        return quantity

    def _round_level(self, symbol: str, level: float) -> float:
        if self._precision is None or level == 0.0:
            return float(level)
        return float(self._precision.price_to_precision(symbol, level))

    def _exit(self, position: Position, reason: ExitReason, fill: float, fee: float,
              now_ms: int) -> ClosedTrade | None:
        trade = self._books.record_exit(position.id, client_id=f"{position.client_id}-x", exit_price=fill, fee=fee,
                                        reason=reason, now_ms=now_ms)
        self._funded.pop(position.id, None)
        return trade

    def _check_exits(self, position: Position, path: PricePath, now_ms: int) -> ClosedTrade | None:
        d = position.direction
        worst, best = (path.low, path.high) if d > 0 else (path.high, path.low)
        if d * (worst - position.liquidation_price) <= 0.0:
            liq = position.liquidation_price
            gross = d * (liq - position.entry_price) * position.quantity
            clearance = max(position.margin + gross, position.quantity * liq * self.taker_fee)
            return self._exit(position, "liquidation", liq, clearance, now_ms)
        stop = position.stop_loss
        if stop > 0.0 and d * (worst - stop) <= 0.0:  # before a take-profit the same path reached: the worse
            at_stop = stop * (1.0 - d * self._slippage)
            reached = path.reached_at(stop, d)
            fill = reached if d * (reached - at_stop) < 0.0 else at_stop
            return self._exit(position, "stop_loss", fill, position.quantity * fill * self.taker_fee, now_ms)
        target = position.take_profit
        if target > 0.0 and d * (best - target) >= 0.0:
            return self._exit(position, "take_profit", target, position.quantity * target * self.taker_fee, now_ms)
        return None

    def _settle_funding(self, position: Position, price: float, now_ms: int) -> None:
        """Record the funding of every funding time in (opened_at, now_ms] not yet settled."""
        if not self.funding:
            return
        interval = self.funding_interval_ms
        first = (position.opened_at // interval + 1) * interval
        at = max(first, self._funded.get(position.id, first - interval) + interval)
        while at <= now_ms:
            rate = self.funding_rate(position.symbol, at)
            amount = -position.direction * rate * position.quantity * price
            self._books.record_funding(position.id, rate=rate, amount=amount, at=at)
            self._funded[position.id] = at
            at += interval
