"""The fake Binance USD-M REST API, driven by the real `ccxt.binanceusdm` (and by raw HTTP where the
point is Binance's wire rules). Each test pins which endpoints ccxt 4.5 calls and what it sends."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from fakes.binance import FakeBinanceRest, RecordedRequest
from fakes.binance.rest_server import wall_clock_ms

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
Connect = Callable[..., Any]


# ------------------------------------------------------------------ fixtures and helpers

@pytest.fixture
def fake() -> Iterator[FakeBinanceRest]:
    with FakeBinanceRest() as server:
        yield server


@pytest.fixture
def connect(fake: FakeBinanceRest) -> Iterator[Connect]:
    """A real ccxt.binanceusdm pointed at a fake (by default `fake`); sessions closed after."""
    made: list[Any] = []

    def make(server: FakeBinanceRest | None = None, *, secret: str = "test-secret", api_key: str = "test-key",
             timeout: int = 5000, **options: Any) -> Any:
        exchange = ccxt.binanceusdm({
            "apiKey": api_key, "secret": secret, "timeout": timeout,
            "enableRateLimit": False,  # ccxt's throttle would make premiumIndex (weight 10) wait 0.5 s
            "options": {"fetchCurrencies": False, **options},
        })
        (server or fake).point(exchange)
        made.append(exchange)
        return exchange

    yield make
    for exchange in made:
        exchange.session.close()


@pytest.fixture
def ex(connect: Connect) -> Any:
    exchange = connect()
    exchange.load_markets()
    return exchange


def calls(fake: FakeBinanceRest) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


def last(fake: FakeBinanceRest, path: str) -> RecordedRequest:
    return next(r for r in reversed(fake.requests) if r.path == path)


def raw(fake: FakeBinanceRest, method: str, path: str, query: str = "", body: str = "", *,
        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One plain HTTP request; (status, JSON body or text)."""
    url = fake.base_url + path + (f"?{query}" if query else "")
    request = urllib.request.Request(url, data=body.encode() if body else None, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def sign(text: str, secret: str = "test-secret") -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def buy(ex: Any, qty: float = 0.002, client_id: str = "entry-1") -> Any:
    return ex.create_order(BTC, "market", "buy", qty, params={"newClientOrderId": client_id})


# ------------------------------------------------------------------ markets and public data

def test_load_markets_asks_only_exchange_info_and_rounds_to_the_captured_filters(
        fake: FakeBinanceRest, connect: Connect) -> None:
    ex = connect()
    markets = ex.load_markets()
    assert calls(fake) == [("GET", "/fapi/v1/exchangeInfo")]
    assert set(markets) == {BTC, ETH}  # the captured quarterly BTCUSDT_220325 is left out
    assert ex.market_id(BTC) == "BTCUSDT" and ex.safe_symbol("ETHUSDT") == ETH
    assert ex.amount_to_precision(BTC, 0.0029) == "0.002"  # LOT_SIZE.stepSize 0.001, truncated
    assert ex.price_to_precision(BTC, 6000.1234) == "6000.1"  # PRICE_FILTER.tickSize 0.10
    assert ex.price_to_precision(ETH, 2000.1234) == "2000.12"  # tickSize 0.01
    assert markets[BTC]["limits"]["cost"]["min"] == 10  # MIN_NOTIONAL.notional
    assert markets[BTC]["limits"]["amount"]["max"] == 1000


def test_with_an_api_key_ccxt_also_asks_sapi_for_currencies_unless_told_not_to(
        fake: FakeBinanceRest, connect: Connect) -> None:
    ex = connect(fetchCurrencies=True)
    with pytest.raises(ccxt.ExchangeNotAvailable, match="no endpoint GET /sapi/v1/capital/config/getall"):
        ex.load_markets()
    [unexpected] = fake.unexpected
    assert (unexpected.method, unexpected.path, unexpected.status) == ("GET", "/sapi/v1/capital/config/getall", 404)
    assert unexpected.signed and unexpected.signature_ok


def test_a_configured_symbol_missing_from_the_capture_gets_the_template_filters(connect: Connect) -> None:
    with FakeBinanceRest(symbols=("BTCUSDT", "SOLUSDT"), prices={"SOLUSDT": 150.0}) as other:
        ex = connect(other)
        markets = ex.load_markets()
        assert set(markets) == {BTC, "SOL/USDT:USDT"}
        assert ex.price_to_precision("SOL/USDT:USDT", 150.456) == "150.46"
        assert ex.fetch_last_prices(["SOL/USDT:USDT"])["SOL/USDT:USDT"]["price"] == 150.0


def test_prices_tickers_mark_price_funding_and_time(fake: FakeBinanceRest, ex: Any) -> None:
    fake.set_price("BTCUSDT", 6123.47)  # rounded to the 0.10 tick
    fake.set_funding_rate("BTCUSDT", 0.0001)
    fake.clear_requests()

    prices = ex.fetch_last_prices()
    assert calls(fake) == [("GET", "/fapi/v2/ticker/price")]
    assert prices[BTC]["price"] == 6123.5 and prices[ETH]["price"] == 2000.0

    tickers = ex.fetch_tickers()
    assert calls(fake)[-1] == ("GET", "/fapi/v1/ticker/24hr")
    assert tickers[BTC]["last"] == 6123.5 and tickers[BTC]["open"] == 6000.0

    mark = ex.fetch_mark_price(BTC)
    assert (calls(fake)[-1], last(fake, "/fapi/v1/premiumIndex").params) == (
        ("GET", "/fapi/v1/premiumIndex"), {"symbol": "BTCUSDT"})
    assert mark["markPrice"] == pytest.approx(6123.47)

    funding = ex.fetch_funding_rate(BTC)
    assert calls(fake)[-1] == ("GET", "/fapi/v1/premiumIndex")
    assert funding["fundingRate"] == 0.0001 and funding["fundingTimestamp"] % (8 * 3600 * 1000) == 0

    assert abs(ex.fetch_time() - wall_clock_ms()) < 5_000
    assert calls(fake)[-1] == ("GET", "/fapi/v1/time")
    assert not any(r.signed for r in fake.requests) and not fake.unexpected


def test_public_endpoints_answer_binances_shapes(fake: FakeBinanceRest) -> None:
    assert raw(fake, "GET", "/fapi/v1/ping") == (200, {})
    status, one = raw(fake, "GET", "/fapi/v1/ticker/price", "symbol=ETHUSDT")
    assert status == 200 and set(one) == {"symbol", "price", "time"} and one["price"] == "2000.00"
    status, everything = raw(fake, "GET", "/fapi/v1/premiumIndex")
    assert status == 200 and [row["symbol"] for row in everything] == ["BTCUSDT", "ETHUSDT"]
    assert set(everything[0]) == {"symbol", "markPrice", "indexPrice", "estimatedSettlePrice", "lastFundingRate",
                                  "interestRate", "nextFundingTime", "time"}
    assert everything[0]["lastFundingRate"] == "0.00038246"  # from the captured premiumIndex
    assert raw(fake, "GET", "/fapi/v2/ticker/price", "symbol=XRPUSDT") == (
        400, {"code": -1121, "msg": "Invalid symbol."})


def test_an_unknown_symbol_is_bad_symbol(fake: FakeBinanceRest, ex: Any) -> None:
    with pytest.raises(ccxt.BadSymbol):
        ex.fapiPublicGetPremiumIndex({"symbol": "XRPUSDT"})
    with pytest.raises(ccxt.BadSymbol):
        ex.fapiPrivatePostOrder({"symbol": "XRPUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"})
    assert [r.error_code for r in fake.requests[-2:]] == [-1121, -1121]


# ------------------------------------------------------------------ account settings

def test_set_leverage_margin_mode_and_position_mode(fake: FakeBinanceRest, ex: Any) -> None:
    fake.clear_requests()
    answer = ex.set_leverage(7, BTC)
    request = last(fake, "/fapi/v1/leverage")
    assert (request.method, request.params["symbol"], request.params["leverage"]) == ("POST", "BTCUSDT", "7")
    assert request.signed and request.signature_ok and request.headers["X-MBX-APIKEY"] == "test-key"
    assert answer["leverage"] == 7 and fake.leverage == {"BTCUSDT": 7, "ETHUSDT": 20}
    assert ex.fetch_leverage(BTC)["longLeverage"] == 7
    assert calls(fake)[-1] == ("GET", "/fapi/v1/symbolConfig")

    ex.set_margin_mode("isolated", BTC)
    assert last(fake, "/fapi/v1/marginType").params["marginType"] == "ISOLATED"
    assert fake.margin_type["BTCUSDT"] == "ISOLATED"
    with pytest.raises(ccxt.MarginModeAlreadySet):  # -4046; ccxt 4.5 re-raises it by default
        ex.set_margin_mode("isolated", BTC)
    with pytest.raises(ccxt.BadRequest):  # -4028
        ex.fapiPrivatePostLeverage({"symbol": "BTCUSDT", "leverage": 126})

    assert ex.fetch_position_mode(BTC)["hedged"] is False
    assert calls(fake)[-1] == ("GET", "/fapi/v1/positionSide/dual")


# ------------------------------------------------------------------ orders

def test_market_order_fills_at_the_last_price_and_opens_a_position(fake: FakeBinanceRest, ex: Any) -> None:
    fake.clear_requests()
    order = ex.create_order(BTC, "market", "buy", 0.0029, params={"newClientOrderId": "entry-1"})
    assert calls(fake) == [("POST", "/fapi/v1/order")]
    request = fake.requests[0]
    assert {k: v for k, v in request.params.items() if k not in ("timestamp", "recvWindow")} == {
        "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002",
        "newClientOrderId": "entry-1", "newOrderRespType": "RESULT"}
    assert request.signed and request.signature_ok and request.params["recvWindow"] == "10000"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded" and request.body
    assert (order["clientOrderId"], order["status"], order["filled"], order["average"]) == ("entry-1", "closed",
                                                                                         0.002, 6000.0)
    [held] = fake.orders
    assert (held.client_order_id, held.side, held.type, held.quantity, held.status) == (
        "entry-1", "BUY", "MARKET", Decimal("0.002"), "FILLED")
    position = fake.positions["BTCUSDT"]
    assert (position.amount, position.entry_price) == (Decimal("0.002"), Decimal("6000"))
    assert fake.wallet == Decimal("10000") - Decimal("0.002") * 6000 * Decimal("0.0005")  # taker fee


def test_reduce_only_stop_market_goes_to_the_algo_api_and_triggers_on_price(
        fake: FakeBinanceRest, ex: Any) -> None:
    buy(ex)
    fake.clear_requests()
    stop = ex.create_order(BTC, "market", "sell", 0.002, params={"stopPrice": 5500.04, "reduceOnly": True,
                                                                   "clientAlgoId": "stop-1"})
    assert calls(fake) == [("POST", "/fapi/v1/algoOrder")]
    params = fake.requests[0].params
    assert (params["algoType"], params["type"], params["side"], params["quantity"], params["triggerPrice"],
            params["reduceOnly"], params["clientAlgoId"]) == (
        "CONDITIONAL", "STOP_MARKET", "SELL", "0.002", "5500", "true", "stop-1")
    assert (stop["status"], stop["triggerPrice"], stop["reduceOnly"], stop["clientOrderId"]) == (
        "open", 5500.0, True, "stop-1")

    assert ex.fetch_order(stop["id"], BTC, params={"trigger": True})["status"] == "open"
    assert (calls(fake)[-1], last(fake, "/fapi/v1/algoOrder").params["algoId"]) == (
        ("GET", "/fapi/v1/algoOrder"), stop["id"])
    assert [o["id"] for o in ex.fetch_open_orders(BTC, params={"trigger": True})] == [stop["id"]]
    assert calls(fake)[-1] == ("GET", "/fapi/v1/openAlgoOrders")
    assert ex.fetch_open_orders(BTC) == [] and calls(fake)[-1] == ("GET", "/fapi/v1/openOrders")

    fake.set_price("BTCUSDT", 5600)
    assert fake.algo_orders[0].algo_status == "NEW"
    fake.set_price("BTCUSDT", 5499.9)
    assert fake.positions["BTCUSDT"].amount == 0
    assert ex.fetch_order(stop["id"], BTC, params={"trigger": True})["status"] == "closed"
    child = fake.orders[-1]
    assert (child.client_order_id, child.side, child.status, child.reduce_only) == ("stop-1", "SELL", "FILLED", True)
    assert child.avg_price == Decimal("5499.9")


def test_cancel_a_conditional_order_and_refuse_one_that_would_trigger_at_once(
        fake: FakeBinanceRest, ex: Any) -> None:
    buy(ex)
    stop = ex.create_order(BTC, "market", "sell", None, params={"stopPrice": 5000, "closePosition": True})
    assert last(fake, "/fapi/v1/algoOrder").params["closePosition"] == "true"
    assert "quantity" not in last(fake, "/fapi/v1/algoOrder").params
    assert ex.cancel_order(stop["id"], BTC, params={"trigger": True})["status"] is None  # ccxt parses {"code":"200"}
    assert (calls(fake)[-1], fake.algo_orders[0].algo_status) == (("DELETE", "/fapi/v1/algoOrder"), "CANCELED")
    with pytest.raises(ccxt.OrderNotFound):  # -2011
        ex.cancel_order(stop["id"], BTC, params={"trigger": True})
    with pytest.raises(ccxt.OrderImmediatelyFillable):  # -2021: a sell stop above the price
        ex.create_order(BTC, "market", "sell", 0.002, params={"stopPrice": 6100, "reduceOnly": True})


def test_conditional_types_are_refused_on_the_plain_order_endpoint(fake: FakeBinanceRest, ex: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="-4120"):
        ex.fapiPrivatePostOrder({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.002",
                                 "stopPrice": "5000", "reduceOnly": "true"})
    assert fake.orders == []


def test_limit_order_rests_is_found_by_either_id_and_cancelled(fake: FakeBinanceRest, ex: Any) -> None:
    order = ex.create_order(BTC, "limit", "buy", 0.002, 5000, params={"newClientOrderId": "bid-1"})
    sent = last(fake, "/fapi/v1/order").params
    assert (sent["type"], sent["price"], sent["timeInForce"], sent["quantity"]) == ("LIMIT", "5000", "GTC", "0.002")
    assert order["status"] == "open"

    assert ex.fetch_order(order["id"], BTC)["clientOrderId"] == "bid-1"
    assert last(fake, "/fapi/v1/order").params["orderId"] == order["id"]
    assert ex.fetch_order(None, BTC, params={"clientOrderId": "bid-1"})["id"] == order["id"]
    assert last(fake, "/fapi/v1/order").params["origClientOrderId"] == "bid-1"
    assert [o["id"] for o in ex.fetch_open_orders(BTC)] == [order["id"]]

    assert ex.cancel_order(order["id"], BTC)["status"] == "canceled"
    assert last(fake, "/fapi/v1/order").method == "DELETE"
    with pytest.raises(ccxt.OrderNotFound):  # -2011 Unknown order sent.
        ex.cancel_order(order["id"], BTC)
    with pytest.raises(ccxt.OrderNotFound):  # -2013 Order does not exist.
        ex.fetch_order("123", BTC)


def test_a_resting_limit_order_fills_when_the_price_reaches_it(fake: FakeBinanceRest, ex: Any) -> None:
    order = ex.create_order(BTC, "limit", "buy", 0.002, 5900)
    fake.set_price("BTCUSDT", 5950)
    assert ex.fetch_order(order["id"], BTC)["status"] == "open"
    fake.set_price("BTCUSDT", 5890)
    filled = ex.fetch_order(order["id"], BTC)
    assert (filled["status"], filled["average"]) == ("closed", 5900.0)  # at the limit price, as a maker
    assert fake.positions["BTCUSDT"].entry_price == Decimal("5900")


def test_order_rules_from_the_filters(fake: FakeBinanceRest, ex: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):  # notional 0.001 * 6000 < MIN_NOTIONAL 10
        ex.create_order(BTC, "market", "buy", 0.001)
    with pytest.raises(ccxt.BadRequest, match="-1111"):  # more decimals than the step
        ex.fapiPrivatePostOrder({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.0025"})
    with pytest.raises(ccxt.BadRequest, match="-1111"):  # price finer than the 0.10 tick
        ex.fapiPrivatePostOrder({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.002",
                                 "price": "5000.05", "timeInForce": "GTC"})
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):  # nothing to reduce
        ex.create_order(BTC, "market", "sell", 0.002, params={"reduceOnly": True})
    assert fake.orders == []


# ------------------------------------------------------------------ balance and positions

def test_balance_and_positions_follow_fills_and_prices(fake: FakeBinanceRest, ex: Any) -> None:
    ex.set_leverage(10, BTC)
    buy(ex, 0.01)
    fake.set_price("BTCUSDT", 6100)
    fake.clear_requests()

    balance = ex.fetch_balance()
    assert calls(fake) == [("GET", "/fapi/v3/account")]
    wallet = 10_000 - 0.01 * 6000 * 0.0005
    assert balance["USDT"]["total"] == pytest.approx(wallet + 1.0)  # marginBalance: + unrealized 0.01 * 100
    assert balance["USDT"]["used"] == pytest.approx(6.1)  # 0.01 * 6100 / 10
    assert balance["USDT"]["free"] == pytest.approx(wallet + 1.0 - 6.1)
    assert set(balance["total"]) == {"USDT"}  # the assets with updateTime 0 are skipped by ccxt

    [position] = ex.fetch_positions()
    assert calls(fake)[1:] == [("GET", "/fapi/v1/leverageBracket"), ("GET", "/fapi/v3/positionRisk")]
    assert (position["symbol"], position["side"], position["contracts"], position["entryPrice"]) == (
        BTC, "long", 0.01, 6000.0)
    assert position["unrealizedPnl"] == pytest.approx(1.0) and position["marginMode"] == "cross"
    assert ex.fetch_positions([ETH]) == []
    assert calls(fake)[-1] == ("GET", "/fapi/v3/positionRisk")  # the brackets are cached

    ex.create_order(BTC, "market", "sell", 0.01, params={"reduceOnly": True})
    assert fake.positions["BTCUSDT"].amount == 0 and ex.fetch_positions() == []
    assert fake.wallet == Decimal("10000") + Decimal("1") - Decimal("0.03") - Decimal("0.0305")  # PnL - fees


def test_v2_account_and_position_risk_answer_for_use_v2(fake: FakeBinanceRest, connect: Connect) -> None:
    ex = connect(fetchBalance={"useV2": True}, fetchPositionsRisk={"useV2": True})
    ex.load_markets()
    buy(ex)
    assert ex.fetch_balance()["USDT"]["total"] == pytest.approx(10_000 - 0.006)
    [position] = ex.fetch_positions()
    assert position["leverage"] == 20 and position["contracts"] == 0.002
    assert [p for _m, p in calls(fake)[-3:]] == ["/fapi/v2/account", "/fapi/v1/leverageBracket",
                                                  "/fapi/v2/positionRisk"]


def test_real_margin_shortage_is_insufficient_funds(connect: Connect) -> None:
    with FakeBinanceRest(wallet=100.0) as poor:
        ex = connect(poor)
        ex.load_markets()
        with pytest.raises(ccxt.InsufficientFunds):  # 0.5 BTC * 6000 / 20 = 150 USDT of margin
            ex.create_order(BTC, "market", "buy", 0.5)
        ex.create_order(BTC, "market", "buy", 0.3)  # 90 USDT fits
        assert poor.positions["BTCUSDT"].amount == Decimal("0.3")


# ------------------------------------------------------------------ authentication and errors

def test_a_wrong_secret_is_an_authentication_error(fake: FakeBinanceRest, connect: Connect) -> None:
    ex = connect(secret="not-the-secret")
    ex.load_markets()  # public: no signature needed
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        ex.fetch_balance()
    request = fake.requests[-1]
    assert (request.signed, request.signature_ok, request.status, request.error_code) == (True, False, 400, -1022)


def test_a_wrong_key_and_a_stale_timestamp_are_refused(connect: Connect) -> None:
    with FakeBinanceRest(clock=lambda: wall_clock_ms() + 60_000) as late:
        ex = connect(late)
        with pytest.raises(ccxt.InvalidNonce):  # -1021: ccxt's timestamp is 60 s behind the server's
            ex.fetch_balance()
        assert late.requests[-1].error_code == -1021
    with FakeBinanceRest() as other:
        ex = connect(other, api_key="someone-else")
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            ex.fetch_balance()


def test_binance_signs_query_then_body_and_the_fake_checks_it(fake: FakeBinanceRest) -> None:
    headers = {"X-MBX-APIKEY": "test-key", "Content-Type": "application/x-www-form-urlencoded"}
    query = f"symbol=BTCUSDT&side=BUY&type=MARKET&timestamp={wall_clock_ms()}"
    body = "quantity=0.002&newOrderRespType=RESULT"
    signed_query = f"{query}&signature={sign(query + body)}"
    status, order = raw(fake, "POST", "/fapi/v1/order", signed_query, body, headers=headers)
    assert status == 200 and order["status"] == "FILLED" and order["origQty"] == "0.002"
    assert fake.requests[-1].params["quantity"] == "0.002"
    status, error = raw(fake, "POST", "/fapi/v1/order", f"{query}&signature={sign(query)}", body, headers=headers)
    assert (status, error) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    assert raw(fake, "GET", "/fapi/v3/account", query)[1]["code"] == -2014  # no API key header
    assert len(fake.orders) == 1


def test_injected_errors_map_to_the_specific_ccxt_classes(fake: FakeBinanceRest, ex: Any) -> None:
    fake.fail_next("/fapi/v1/order")
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        buy(ex)
    assert fake.orders == [] and fake.requests[-1].error_code == -2019
    fake.fail_next("/fapi/v1/premiumIndex", code=-1121, msg="Invalid symbol.")
    with pytest.raises(ccxt.BadSymbol):
        ex.fetch_mark_price(BTC)
    buy(ex)  # the failure was used up
    assert len(fake.orders) == 1


def test_without_the_linear_table_a_local_url_gets_plain_exchange_errors(
        fake: FakeBinanceRest, ex: Any) -> None:
    plain = ccxt.binanceusdm({"apiKey": "test-key", "secret": "test-secret", "enableRateLimit": False,
                              "options": {"fetchCurrencies": False}})
    plain.urls["api"] = dict(ex.urls["api"])  # same local URLs, but no merged exception table
    plain.load_markets()
    fake.fail_next("/fapi/v1/order", times=2)
    with pytest.raises(ccxt.ExchangeError) as caught:
        plain.create_order(BTC, "market", "buy", 0.002)
    assert type(caught.value) is ccxt.ExchangeError  # not InsufficientFunds: why `point` merges the table
    with pytest.raises(ccxt.InsufficientFunds):
        buy(ex)
    plain.session.close()


def test_a_duplicate_client_order_id_is_invalid_order(fake: FakeBinanceRest, ex: Any) -> None:
    buy(ex, client_id="same")
    with pytest.raises(ccxt.InvalidOrder, match="-4116") as caught:
        buy(ex, client_id="same")
    assert type(caught.value) is ccxt.InvalidOrder
    assert len(fake.orders) == 1 and fake.positions["BTCUSDT"].amount == Decimal("0.002")


def test_a_timed_out_order_was_still_placed_so_its_retry_is_refused(
        fake: FakeBinanceRest, connect: Connect) -> None:
    ex = connect(timeout=250)
    ex.load_markets()
    fake.delay_next("/fapi/v1/order", 1.5, method="POST")
    started = time.monotonic()
    with pytest.raises(ccxt.RequestTimeout):
        buy(ex, client_id="entry-7")
    assert time.monotonic() - started < 1.0
    [held] = fake.orders  # the fake carried the order out; only the answer was late
    assert (held.client_order_id, held.status) == ("entry-7", "FILLED")

    with pytest.raises(ccxt.InvalidOrder, match="-4116"):  # the retry: no second position
        buy(ex, client_id="entry-7")
    assert fake.positions["BTCUSDT"].amount == Decimal("0.002")
    found = ex.fetch_order(None, BTC, params={"clientOrderId": "entry-7"})  # how to learn what happened
    assert (found["status"], found["filled"]) == ("closed", 0.002)


def test_with_open_scope_a_filled_orders_client_id_can_be_reused(connect: Connect) -> None:
    # Binance documents newClientOrderId as "unique among open orders": if that holds for filled
    # MARKET orders, a blind retry opens a second position. Look the order up before retrying.
    with FakeBinanceRest(client_id_scope="open") as lenient:
        ex = connect(lenient)
        ex.load_markets()
        buy(ex, client_id="again")
        buy(ex, client_id="again")
        assert lenient.positions["BTCUSDT"].amount == Decimal("0.004")
        ex.create_order(BTC, "limit", "buy", 0.002, 5000, params={"newClientOrderId": "resting"})
        with pytest.raises(ccxt.InvalidOrder, match="-4116"):
            ex.create_order(BTC, "limit", "buy", 0.002, 5000, params={"newClientOrderId": "resting"})


def test_an_endpoint_the_fake_lacks_is_answered_404_and_recorded(fake: FakeBinanceRest, ex: Any) -> None:
    with pytest.raises(ccxt.ExchangeNotAvailable, match="/fapi/v1/userTrades"):
        ex.fetch_my_trades(BTC)
    [unexpected] = fake.unexpected
    assert (unexpected.method, unexpected.path, unexpected.status, unexpected.params["symbol"]) == (
        "GET", "/fapi/v1/userTrades", 404, "BTCUSDT")
    assert all(r.handled for r in fake.requests if r is not unexpected)


def test_point_rewrites_every_url_and_keeps_the_paths(fake: FakeBinanceRest, connect: Connect) -> None:
    ex = connect()
    for table in ("api", "test", "demo"):
        for url in ex.urls[table].values():
            assert url.startswith(fake.base_url + "/"), url
    assert ex.urls["api"]["fapiPrivateV3"] == fake.base_url + "/fapi/v3"
    assert ex.urls["api"]["sapi"] == fake.base_url + "/sapi/v1"
    assert ccxt.binanceusdm().urls["api"]["fapiPublic"] == "https://fapi.binance.com/fapi/v1"  # no leak
