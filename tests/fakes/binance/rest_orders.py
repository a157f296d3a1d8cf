"""Orders of the fake account: plain orders on /fapi/v1/order, conditional ones on /fapi/v1/algoOrder.

Since 2025-12-09 Binance refuses STOP/STOP_MARKET/TAKE_PROFIT/TAKE_PROFIT_MARKET/
TRAILING_STOP_MARKET on /fapi/v1/order with -4120 and takes them on the Algo Order API, which is
what ccxt 4.5 calls for an order with a trigger price. Here:

- MARKET fills at once at the last price (taker fee). LIMIT fills at once at the last price if it
  crosses (GTX is refused with -5022 instead), else rests (IOC/FOK expire) until `set_price`
  moves the last price through it (maker fee, at the limit price).
- reduceOnly caps the quantity at the position and is refused (-2022) when there is nothing to
  reduce; a resting reduce-only order expires when the position is gone.
- Conditional orders trigger on `set_price` (workingType MARK_PRICE watches the mark price,
  CONTRACT_PRICE the last price) and then place their MARKET or LIMIT child order, whose
  clientOrderId is the clientAlgoId; closePosition closes whatever position there is. One that
  would trigger at once is refused (-2021). TRAILING_STOP_MARKET is not modelled (-1116).
- A client order id already used is refused with -4116. With client_id_scope="open" only the ids
  of open orders count, which is how Binance documents newClientOrderId ("unique among open
  orders"); the default "all" refuses any reuse.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from .rest_account import ZERO, Ledger
from .rest_market import MarketBook, SymbolSpec
from .rest_wire import ApiError, bool_param, decimal_param, fmt, int_param, need, not_required

CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
CONDITIONAL = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
ALGO_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX", "GTD")
OPEN = ("NEW", "PARTIALLY_FILLED")
DUPLICATE = ApiError(-4116, "ClientOrderId is duplicated.")
ClientIdScope = Literal["all", "open"]


@dataclass
class Order:
    """An order of /fapi/v1/order as the fake holds it (quantities and prices as Decimals)."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal
    time_in_force: str
    reduce_only: bool
    time: int
    update_time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    close_position: bool = False
    stop_price: Decimal = ZERO
    working_type: str = "CONTRACT_PRICE"

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO


@dataclass
class AlgoOrder:
    """A conditional order of /fapi/v1/algoOrder."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    trigger_price: Decimal
    price: Decimal
    time_in_force: str
    reduce_only: bool
    close_position: bool
    working_type: str
    price_protect: bool
    create_time: int
    update_time: int
    algo_status: str = "NEW"
    trigger_time: int = 0
    actual_order_id: int | None = None

    def triggered_by(self, price: Decimal) -> bool:
        stop = self.order_type.startswith("STOP")
        rising = (self.side == "BUY") == stop  # a buy stop and a sell take-profit wait for a rise
        return price >= self.trigger_price if rising else price <= self.trigger_price


class OrderBook:
    """The account's orders and conditional orders, and the order endpoints' answers."""

    def __init__(self, market: MarketBook, ledger: Ledger, clock: Callable[[], int],
                 client_id_scope: ClientIdScope = "all") -> None:
        self.market = market
        self.ledger = ledger
        self.clock = clock
        self.client_id_scope = client_id_scope
        self.orders: list[Order] = []
        self.algo_orders: list[AlgoOrder] = []
        self._order_ids = itertools.count(4_000_000_001)
        self._algo_ids = itertools.count(3_000_001)
        ledger.open_order_margin = self.open_order_margin
        ledger.has_open_orders = lambda symbol: any(
            o.symbol == symbol and o.status in OPEN for o in self.orders) or any(
            a.symbol == symbol and a.algo_status == "NEW" for a in self.algo_orders)

    # ------------------------------------------------------------- helpers

    def open_order_margin(self, symbol: str | None) -> Decimal:
        total = ZERO
        for o in self.orders:
            if o.status in OPEN and not o.reduce_only and (symbol is None or o.symbol == symbol):
                total += (o.quantity - o.executed_qty) * o.price / self.ledger.leverage[o.symbol]
        return total

    def _client_id(self, params: dict[str, str], key: str, taken: list[tuple[str, bool]]) -> str:
        client_id = params.get(key) or "fake" + secrets.token_hex(11)
        if not CLIENT_ID.match(client_id):
            raise ApiError(-4015, "Client order id is not valid.")
        if any(cid == client_id and (self.client_id_scope == "all" or is_open) for cid, is_open in taken):
            raise DUPLICATE
        return client_id

    @staticmethod
    def _side(params: dict[str, str]) -> str:
        side = need(params, "side")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        return side

    def _position_side(self, params: dict[str, str]) -> None:
        if params.get("positionSide", "BOTH") != "BOTH" and not self.ledger.dual_side_position:
            raise ApiError(-4061, "Order's position side does not match user's setting.")

    def _fill(self, order: Order, qty: Decimal, price: Decimal, *, maker: bool) -> None:
        self.ledger.apply_fill(order.symbol, order.side, qty, price, maker=maker)
        order.executed_qty += qty
        order.cum_quote += qty * price
        order.status = "FILLED" if order.executed_qty >= order.quantity else "PARTIALLY_FILLED"
        order.update_time = self.clock()

    def _find(self, params: dict[str, str], missing: ApiError) -> Order:
        spec = self.market.spec(params.get("symbol"))
        order_id = int_param(params, "orderId")
        client_id = params.get("origClientOrderId")
        if order_id is None and not client_id:
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        for o in reversed(self.orders):
            if o.symbol == spec.symbol and (o.order_id == order_id if order_id is not None
                                            else o.client_order_id == client_id):
                return o
        raise missing

    # ------------------------------------------------------------- /fapi/v1/order and friends

    def new_order(self, params: dict[str, str]) -> dict[str, Any]:
        spec = self.market.spec(params.get("symbol"))
        side = self._side(params)
        kind = need(params, "type")
        if kind in CONDITIONAL:
            raise ApiError(-4120, "Order type not supported for this endpoint. "
                                  "Please use the Algo Order API endpoints instead.")
        if kind not in ("MARKET", "LIMIT"):
            raise ApiError(-1116, "Invalid orderType.")
        self._position_side(params)
        reduce_only = bool(bool_param(params, "reduceOnly"))
        if bool_param(params, "closePosition") is not None:
            raise not_required("closePosition")
        qty = decimal_param(params, "quantity")
        assert qty is not None
        spec.check_quantity(qty, market=kind == "MARKET")
        tif = "GTC"
        price = ZERO
        if kind == "LIMIT":
            tif = need(params, "timeInForce")
            if tif not in TIME_IN_FORCE:
                raise ApiError(-1115, "Invalid timeInForce.")
            limit = decimal_param(params, "price")
            assert limit is not None
            spec.check_price(limit)
            price = limit
        elif params.get("price"):
            raise not_required("price")
        resp_type = params.get("newOrderRespType", "ACK")
        if resp_type not in ("ACK", "RESULT"):
            raise ApiError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
        client_id = self._client_id(params, "newClientOrderId",
                                    [(o.client_order_id, o.status in OPEN) for o in self.orders])
        last = self.market.quotes[spec.symbol].last
        if reduce_only:
            reducible = self.ledger.reducible(spec.symbol, side)
            if reducible == 0:
                raise ApiError(-2022, "ReduceOnly Order is rejected.")
            qty = min(qty, reducible)
        crosses = kind == "MARKET" or (price >= last if side == "BUY" else price <= last)
        if not reduce_only and qty * (last if kind == "MARKET" else price) < spec.min_notional:
            raise ApiError(-4164, f"Order's notional must be no smaller than {spec.min_notional} "
                                  "(unless you choose reduce only).")
        if kind == "LIMIT" and tif == "GTX" and crosses:
            raise ApiError(-5022, "Due to the order could not be executed as maker, "
                                  "the Post Only order will be rejected.")
        if crosses:
            self.ledger.check_margin(spec.symbol, side, qty, last)
        elif tif not in ("IOC", "FOK") and not reduce_only:
            self.ledger.check_margin(spec.symbol, side, qty, price)
        now = self.clock()
        order = Order(next(self._order_ids), client_id, spec.symbol, side, kind, qty, price, tif, reduce_only,
                      now, now)
        self.orders.append(order)
        if crosses:
            self._fill(order, qty, last, maker=False)
        elif tif in ("IOC", "FOK"):
            order.status = "EXPIRED"
        if resp_type == "ACK":
            return self.order_json(order, spec) | {"status": "NEW", "executedQty": spec.qty_str(ZERO),
                                                   "cumQty": spec.qty_str(ZERO), "cumQuote": "0.00000",
                                                   "avgPrice": "0.00"}
        return self.order_json(order, spec)

    def order_json(self, o: Order, spec: SymbolSpec | None = None, *, with_time: bool = False) -> dict[str, Any]:
        spec = spec or self.market.specs[o.symbol]
        answer: dict[str, Any] = {
            "orderId": o.order_id, "symbol": o.symbol, "status": o.status, "clientOrderId": o.client_order_id,
            "price": spec.price_str(o.price) if o.price else "0", "avgPrice": fmt(o.avg_price, 5),
            "origQty": spec.qty_str(o.quantity), "executedQty": spec.qty_str(o.executed_qty),
            "cumQty": spec.qty_str(o.executed_qty), "cumQuote": fmt(o.cum_quote, 5), "timeInForce": o.time_in_force,
            "type": o.type, "reduceOnly": o.reduce_only, "closePosition": o.close_position, "side": o.side,
            "positionSide": "BOTH", "stopPrice": spec.price_str(o.stop_price) if o.stop_price else "0",
            "workingType": o.working_type, "priceProtect": False, "origType": o.type, "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "updateTime": o.update_time,
        }
        if with_time:
            answer["time"] = o.time
            del answer["cumQty"]
        return answer

    def get_order(self, params: dict[str, str]) -> dict[str, Any]:
        return self.order_json(self._find(params, ApiError(-2013, "Order does not exist.")), with_time=True)

    def cancel_order(self, params: dict[str, str]) -> dict[str, Any]:
        order = self._find(params, ApiError(-2011, "Unknown order sent."))
        if order.status not in OPEN:
            raise ApiError(-2011, "Unknown order sent.")
        order.status, order.update_time = "CANCELED", self.clock()
        return self.order_json(order)

    def open_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        if symbol:
            self.market.spec(symbol)
        return [self.order_json(o, with_time=True) for o in self.orders
                if o.status in OPEN and (not symbol or o.symbol == symbol)]

    def cancel_all(self, params: dict[str, str]) -> dict[str, Any]:
        spec = self.market.spec(params.get("symbol"))
        for o in self.orders:
            if o.symbol == spec.symbol and o.status in OPEN:
                o.status, o.update_time = "CANCELED", self.clock()
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # ------------------------------------------------------------- /fapi/v1/algoOrder and friends

    def new_algo_order(self, params: dict[str, str]) -> dict[str, Any]:
        if need(params, "algoType") != "CONDITIONAL":
            raise ApiError(-1116, "Invalid algoType.")
        spec = self.market.spec(params.get("symbol"))
        side = self._side(params)
        kind = need(params, "type")
        if kind not in ALGO_TYPES:
            raise ApiError(-1116, "Invalid orderType." if kind not in CONDITIONAL
                           else f"Invalid orderType. (the fake does not model {kind})")
        self._position_side(params)
        close_position = bool(bool_param(params, "closePosition"))
        reduce_only = bool(bool_param(params, "reduceOnly"))
        qty = ZERO
        if close_position:
            if kind not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
                raise not_required("closePosition")
            for name in ("quantity", "reduceOnly"):
                if params.get(name):
                    raise not_required(name)
        else:
            given = decimal_param(params, "quantity")
            assert given is not None
            spec.check_quantity(given, market=kind.endswith("MARKET"))
            qty = given
        trigger = decimal_param(params, "triggerPrice")
        assert trigger is not None
        spec.check_price(trigger)
        price = ZERO
        tif = params.get("timeInForce", "GTC")
        if not kind.endswith("MARKET"):
            limit = decimal_param(params, "price")
            assert limit is not None
            spec.check_price(limit)
            price = limit
        working_type = params.get("workingType", "CONTRACT_PRICE")
        if working_type not in ("CONTRACT_PRICE", "MARK_PRICE"):
            raise ApiError(-1100, "Illegal characters found in parameter 'workingType'.")
        client_id = self._client_id(params, "clientAlgoId",
                                    [(a.client_algo_id, a.algo_status == "NEW") for a in self.algo_orders])
        now = self.clock()
        algo = AlgoOrder(next(self._algo_ids), client_id, spec.symbol, side, kind, qty, trigger, price, tif,
                         reduce_only, close_position, working_type, bool(bool_param(params, "priceProtect")),
                         now, now)
        if algo.triggered_by(self._watched(algo)):
            raise ApiError(-2021, "Order would immediately trigger.")
        self.algo_orders.append(algo)
        return self.algo_json(algo)

    def _watched(self, algo: AlgoOrder) -> Decimal:
        quote = self.market.quotes[algo.symbol]
        return quote.mark if algo.working_type == "MARK_PRICE" else quote.last

    def algo_json(self, a: AlgoOrder, *, detail: bool = False) -> dict[str, Any]:
        spec = self.market.specs[a.symbol]
        answer: dict[str, Any] = {
            "algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "algoType": "CONDITIONAL",
            "orderType": a.order_type, "symbol": a.symbol, "side": a.side, "positionSide": "BOTH",
            "timeInForce": a.time_in_force, "quantity": spec.qty_str(a.quantity), "algoStatus": a.algo_status,
            "triggerPrice": spec.price_str(a.trigger_price), "price": spec.price_str(a.price),
            "icebergQuantity": None, "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": a.working_type,
            "priceMatch": "NONE", "closePosition": a.close_position, "priceProtect": a.price_protect,
            "reduceOnly": a.reduce_only, "activatePrice": "", "callbackRate": "", "createTime": a.create_time,
            "updateTime": a.update_time, "triggerTime": a.trigger_time, "goodTillDate": 0,
        }
        if detail:
            child = next((o for o in self.orders if o.order_id == a.actual_order_id), None)
            answer.update(actualOrderId=str(a.actual_order_id or ""),
                          actualPrice=fmt(child.avg_price if child else ZERO, 5),
                          executedQty=spec.qty_str(child.executed_qty) if child else spec.qty_str(ZERO))
        return answer

    def _find_algo(self, params: dict[str, str], missing: ApiError) -> AlgoOrder:
        algo_id = int_param(params, "algoId")
        client_id = params.get("clientAlgoId")
        if algo_id is None and not client_id:
            raise ApiError(-1102, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!")
        for a in reversed(self.algo_orders):
            if a.algo_id == algo_id if algo_id is not None else a.client_algo_id == client_id:
                return a
        raise missing

    def get_algo_order(self, params: dict[str, str]) -> dict[str, Any]:
        return self.algo_json(self._find_algo(params, ApiError(-2013, "Order does not exist.")), detail=True)

    def cancel_algo_order(self, params: dict[str, str]) -> dict[str, Any]:
        algo = self._find_algo(params, ApiError(-2011, "Unknown order sent."))
        if algo.algo_status != "NEW":
            raise ApiError(-2011, "Unknown order sent.")
        algo.algo_status, algo.update_time = "CANCELED", self.clock()
        return {"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "code": "200", "msg": "success"}

    def open_algo_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        if symbol:
            self.market.spec(symbol)
        return [self.algo_json(a) for a in self.algo_orders
                if a.algo_status == "NEW" and (not symbol or a.symbol == symbol)]

    def cancel_all_algo(self, params: dict[str, str]) -> dict[str, Any]:
        spec = self.market.spec(params.get("symbol"))
        for a in self.algo_orders:
            if a.symbol == spec.symbol and a.algo_status == "NEW":
                a.algo_status, a.update_time = "CANCELED", self.clock()
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # ------------------------------------------------------------- price moves

    def on_price(self, symbol: str) -> None:
        """Trigger conditional orders, then fill resting limit orders the new price reaches."""
        now = self.clock()
        for algo in self.algo_orders:
            if algo.symbol == symbol and algo.algo_status == "NEW" and algo.triggered_by(self._watched(algo)):
                self._trigger(algo, now)
        last = self.market.quotes[symbol].last
        for o in self.orders:
            if o.symbol != symbol or o.status not in OPEN or o.type != "LIMIT":
                continue
            remaining = o.quantity - o.executed_qty
            if o.reduce_only:
                remaining = min(remaining, self.ledger.reducible(symbol, o.side))
                if remaining == 0:
                    o.status, o.update_time = "EXPIRED", now
                    continue
            if (last <= o.price) if o.side == "BUY" else (last >= o.price):
                self._fill(o, remaining, o.price, maker=True)

    def _trigger(self, algo: AlgoOrder, now: int) -> None:
        market_child = algo.order_type.endswith("MARKET")
        child = Order(next(self._order_ids), algo.client_algo_id, algo.symbol, algo.side,
                      "MARKET" if market_child else "LIMIT", algo.quantity, ZERO if market_child else algo.price,
                      algo.time_in_force, algo.reduce_only or algo.close_position, now, now,
                      close_position=algo.close_position, stop_price=algo.trigger_price,
                      working_type=algo.working_type)
        reducible = self.ledger.reducible(algo.symbol, algo.side)
        if algo.close_position:
            child.quantity = reducible
        elif algo.reduce_only:
            child.quantity = min(child.quantity, reducible)
        self.orders.append(child)
        algo.algo_status, algo.trigger_time, algo.update_time = "FINISHED", now, now
        algo.actual_order_id = child.order_id
        if child.quantity == 0:
            child.status = "EXPIRED"
        elif market_child:
            self._fill(child, child.quantity, self.market.quotes[algo.symbol].last, maker=False)
