"""ExchangeClient: the real `ccxt.binanceusdm` against the local fake Binance REST server (no mocks of ccxt).
Each test pins what is sent, how failures are sorted into retried and refused, and that orders stay
idempotent on their client id."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest
import structlog
from fakes.binance import FakeBinanceRest, RecordedRequest
from fakes.binance.rest_server import wall_clock_ms
from structlog.testing import capture_logs

from liquidation_hunter.config.model import BotConfig, Secrets
from liquidation_hunter.trading.errors import ExchangeUnavailable, OrderRejected
from liquidation_hunter.trading.exchange import ExchangeClient, ExchangePosition, OrderResult, outcome_unknown

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SECRET = "s3cret-never-shown-9f8e7d"
KEY = "key-never-shown-1a2b3c"
SIGNED = ("timestamp", "recvWindow")
Make = Callable[..., ExchangeClient]


# ------------------------------------------------------------------ fixtures and helpers

@pytest.fixture
def fake() -> Iterator[FakeBinanceRest]:
    with FakeBinanceRest(api_key=KEY, api_secret=SECRET) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(fake: FakeBinanceRest, sleeps: list[float]) -> Iterator[Make]:
    """A client on a real ccxt.binanceusdm pointed at `fake` (markets loaded), sleeping into `sleeps`."""
    made: list[ExchangeClient] = []

    def build(*, timeout: int = 5000, api_key: str = KEY, retries: int = 4, load: bool = True,
              **kwargs: Any) -> ExchangeClient:
        exchange = ccxt.binanceusdm({
            "apiKey": api_key, "secret": SECRET, "timeout": timeout,
            "enableRateLimit": False,  # ccxt's throttle would make premiumIndex (weight 10) wait 0.5 s
            "options": {"fetchCurrencies": False, "defaultType": "future"},
        })
        fake.point(exchange)
        kwargs = {"base_delay": 0.5, "max_delay": 8.0, "sleep": sleeps.append} | kwargs
        client = ExchangeClient(exchange, retries=retries, **kwargs)
        if load:
            client.load_markets()
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def client(make: Make, fake: FakeBinanceRest) -> ExchangeClient:
    made = make()
    fake.clear_requests()
    return made


def calls(fake: FakeBinanceRest) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


def sent(request: RecordedRequest) -> dict[str, str]:
    return {k: v for k, v in request.params.items() if k not in SIGNED}


def same_order(a: OrderResult, b: OrderResult) -> bool:
    """Equal but for the time: an order's answer has only its update time, a query also its creation time."""
    return dataclasses.replace(a, timestamp=0) == dataclasses.replace(b, timestamp=0)


def outcomes(client: ExchangeClient) -> tuple[int, int, int]:
    """(retries, temporary failures, permanent failures) so far."""
    stats = client.stats()
    return stats["retries"], stats["temporary_failures"], stats["permanent_failures"]


def everything_said(caught: BaseException, logs: list[dict[str, Any]]) -> str:
    return "".join(traceback.format_exception(caught)) + repr(logs)


# ------------------------------------------------------------------ rounding and market data

def test_rounding_truncates_amounts_and_reads_the_filters(client: ExchangeClient, fake: FakeBinanceRest) -> None:
    assert client.amount_to_precision(BTC, 0.0029) == 0.002  # LOT_SIZE step 0.001: never rounded up
    assert client.amount_to_precision("BTCUSDT", 0.0029) == 0.002  # either symbol form
    assert client.amount_to_precision(BTC, 0.0004) == 0.0  # below one step
    assert client.price_to_precision(BTC, 6000.1234) == 6000.1
    assert client.price_to_precision(ETH, 2000.1234) == 2000.12
    assert client.min_amount(BTC) == 0.001
    assert client.min_notional(BTC) == 10.0
    with pytest.raises(OrderRejected, match="BadSymbol"):
        client.amount_to_precision("XRP/USDT:USDT", 1.0)
    assert fake.requests == []  # all from the markets loaded once
    assert client.unified("ETHUSDT") == ETH and client.markets.market_id(ETH) == "ETHUSDT"


def test_mark_prices_come_from_one_request_for_every_symbol(client: ExchangeClient, fake: FakeBinanceRest) -> None:
    fake.set_price("BTCUSDT", 6100.0, mark=6101.5)
    fake.set_funding_rate("ETHUSDT", -0.0002)
    fake.clear_requests()
    assert client.mark_prices() == {BTC: 6101.5, ETH: 2000.0}
    assert client.mark_prices(["BTCUSDT", ETH, "XRP/USDT:USDT"]) == {BTC: 6101.5, ETH: 2000.0}
    assert client.mark_prices([BTC]) == {BTC: 6101.5}
    assert calls(fake) == [("GET", "/fapi/v1/premiumIndex")] * 3
    assert all(r.params == {} for r in fake.requests)  # never one request per symbol

    fake.clear_requests()
    rate, next_funding = client.funding_rates([ETH])[ETH]
    assert rate == -0.0002 and next_funding % (8 * 3600 * 1000) == 0
    assert calls(fake) == [("GET", "/fapi/v1/premiumIndex")]


def test_markets_are_loaded_on_first_use(make: Make, fake: FakeBinanceRest) -> None:
    client = make(load=False)
    assert client.mark_prices([BTC]) == {BTC: 6000.0}
    assert calls(fake) == [("GET", "/fapi/v1/exchangeInfo"), ("GET", "/fapi/v1/premiumIndex")]
    assert set(client.load_markets()) == {BTC, ETH} and len(fake.requests) == 2  # cached
    client.load_markets(reload=True)
    assert len(fake.requests) == 3


# ------------------------------------------------------------------ orders: what is sent

def test_market_order_sends_the_rounded_quantity_and_the_client_id(client: ExchangeClient,
                                                                    fake: FakeBinanceRest) -> None:
    order = client.create_market_order("BTCUSDT", "buy", 0.0029, "lh-entry-1")
    assert calls(fake) == [("POST", "/fapi/v1/order")]
    assert sent(fake.requests[0]) == {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002",
                                      "newClientOrderId": "lh-entry-1", "newOrderRespType": "RESULT"}
    assert order == OrderResult(id=str(fake.orders[0].order_id), client_id="lh-entry-1", symbol=BTC, side="buy",
                                type="market", status="closed", amount=0.002, filled=0.002, average=6000.0,
                                trigger_price=None, reduce_only=False, fee=0.0, timestamp=order.timestamp)
    assert order.timestamp > 0

    fake.set_price("BTCUSDT", 6050.0)
    close = client.create_market_order(BTC, "sell", 0.002, "lh-exit-1", reduce_only=True)
    assert sent(fake.requests[-1]) == {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.002",
                                       "reduceOnly": "true", "newClientOrderId": "lh-exit-1",
                                       "newOrderRespType": "RESULT"}
    assert (close.reduce_only, close.status, close.average) == (True, "closed", 6050.0)
    assert fake.positions["BTCUSDT"].amount == 0


def test_an_amount_below_one_step_is_refused_without_a_request(client: ExchangeClient,
                                                              fake: FakeBinanceRest) -> None:
    with pytest.raises(OrderRejected, match=r"create market buy 0.0004 BTC/USDT:USDT \(client id lh-2\).*step"):
        client.create_market_order(BTC, "buy", 0.0004, "lh-2")
    with pytest.raises(OrderRejected, match="BadSymbol"):  # ccxt knows no such market: nothing sent either
        client.create_market_order("XRP/USDT:USDT", "buy", 1.0, "lh-3")
    assert fake.requests == [] and client.stats()["permanent_failures"] == 2


def test_exit_orders_are_reduce_only_mark_price_algo_orders(client: ExchangeClient, fake: FakeBinanceRest) -> None:
    client.create_market_order(BTC, "buy", 0.002, "lh-entry")
    fake.clear_requests()
    stop = client.create_exit_order(BTC, "sell", 0.0029, 5500.04, "stop_loss", "lh-sl")
    take = client.create_exit_order("BTCUSDT", "sell", 0.002, 6600.06, "take_profit", "lh-tp")
    assert calls(fake) == [("POST", "/fapi/v1/algoOrder")] * 2
    common = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.002", "reduceOnly": "true",
              "workingType": "MARK_PRICE", "algoType": "CONDITIONAL", "newOrderRespType": "RESULT"}
    assert sent(fake.requests[0]) == common | {"type": "STOP_MARKET", "triggerPrice": "5500",
                                               "clientAlgoId": "lh-sl"}
    assert sent(fake.requests[1]) == common | {"type": "TAKE_PROFIT_MARKET", "triggerPrice": "6600.1",
                                               "clientAlgoId": "lh-tp"}
    assert "closePosition" not in fake.requests[0].params  # false: the quantity is closed, not "everything"
    assert (stop.type, stop.status, stop.trigger_price, stop.reduce_only, stop.client_id, stop.filled) == (
        "stop_market", "open", 5500.0, True, "lh-sl", 0.0)
    assert (take.type, take.trigger_price) == ("take_profit_market", 6600.1)
    assert stop.id == str(fake.algo_orders[0].algo_id)

    fake.clear_requests()
    assert [o.client_id for o in client.open_exit_orders(BTC)] == ["lh-sl", "lh-tp"]
    assert [o.client_id for o in client.open_exit_orders()] == ["lh-sl", "lh-tp"]  # every symbol
    assert client.open_exit_orders(ETH) == []
    assert calls(fake) == [("GET", "/fapi/v1/openAlgoOrders")] * 3
    assert "symbol" not in fake.requests[1].params

    fake.set_price("BTCUSDT", 6000.0, mark=5499.9)  # the stop watches the mark price
    assert fake.positions["BTCUSDT"].amount == 0
    triggered = client.fetch_order_by_client_id(BTC, "lh-sl", algo=True)
    assert triggered is not None and triggered.status == "closed"
    assert sent(fake.requests[-1]) == {"symbol": "BTCUSDT", "clientAlgoId": "lh-sl"}
    assert fake.requests[-1].path == "/fapi/v1/algoOrder"
    # the triggered algo order names the market order it placed; that order has the fill
    child = fake.orders[-1]
    assert triggered.actual_order_id == str(child.order_id) and triggered.average is None
    fill = client.fetch_order_by_id(BTC, str(child.order_id))
    assert fill is not None and (fill.status, fill.filled, fill.average, fill.reduce_only) == ("closed", 0.002,
                                                                                              6000.0, True)
    assert sent(fake.requests[-1]) == {"symbol": "BTCUSDT", "orderId": str(child.order_id)}
    assert client.fetch_order_by_id(BTC, "123") is None
    take_now = client.fetch_order_by_client_id(BTC, "lh-tp", algo=True)
    assert take_now is not None and take_now.status == "open" and take_now.actual_order_id is None


def test_cancel_by_id_or_client_id_and_a_second_cancel_is_false(client: ExchangeClient,
                                                                fake: FakeBinanceRest) -> None:
    client.create_market_order(BTC, "sell", 0.002, "lh-short")
    stop = client.create_exit_order(BTC, "buy", 0.002, 6500, "stop_loss", "lh-sl")
    take = client.create_exit_order(BTC, "buy", 0.002, 5500, "take_profit", "lh-tp")
    fake.clear_requests()
    assert client.cancel_order(BTC, "lh-sl", algo=True) is True
    assert (calls(fake)[-1], sent(fake.requests[-1])) == (
        ("DELETE", "/fapi/v1/algoOrder"), {"symbol": "BTCUSDT", "clientAlgoId": "lh-sl"})
    assert client.cancel_order(BTC, take.id, algo=True) is True
    assert sent(fake.requests[-1]) == {"symbol": "BTCUSDT", "algoId": take.id}
    assert client.cancel_order(BTC, stop.id, algo=True) is False  # -2011: nothing open by that id
    assert [a.algo_status for a in fake.algo_orders] == ["CANCELED", "CANCELED"]
    assert client.open_exit_orders(BTC) == []
    assert client.cancel_order(BTC, "lh-short", algo=False) is False  # filled long ago
    assert sent(fake.requests[-1]) == {"symbol": "BTCUSDT", "origClientOrderId": "lh-short"}
    assert client.stats()["permanent_failures"] == 0


def test_fetch_order_by_client_id(client: ExchangeClient, fake: FakeBinanceRest) -> None:
    placed = client.create_market_order(BTC, "buy", 0.002, "lh-entry")
    found = client.fetch_order_by_client_id("BTCUSDT", "lh-entry")
    assert found is not None and same_order(found, placed)
    assert (calls(fake)[-1], sent(fake.requests[-1])) == (
        ("GET", "/fapi/v1/order"), {"symbol": "BTCUSDT", "origClientOrderId": "lh-entry"})
    assert client.fetch_order_by_client_id(BTC, "lh-unknown") is None  # -2013
    assert client.fetch_order_by_client_id(BTC, "lh-unknown", algo=True) is None
    assert client.stats()["permanent_failures"] == 0


# ------------------------------------------------------------------ orders: idempotent on the client id

def test_a_timed_out_order_is_found_by_its_client_id_not_sent_twice(
        make: Make, fake: FakeBinanceRest, sleeps: list[float]) -> None:
    client = make(timeout=250)
    fake.clear_requests()
    fake.delay_next("/fapi/v1/order", 1.0, method="POST")  # carried out at once, answered too late
    with capture_logs() as logs:
        order = client.create_market_order(BTC, "buy", 0.002, "lh-entry-7")
    [held] = fake.orders
    assert (held.client_order_id, held.status) == ("lh-entry-7", "FILLED")
    assert (order.id, order.client_id, order.status, order.filled) == (str(held.order_id), "lh-entry-7", "closed",
                                                                       0.002)
    assert calls(fake) == [("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order")]
    assert fake.requests[1].params["origClientOrderId"] == "lh-entry-7"
    assert fake.positions["BTCUSDT"].amount == Decimal("0.002")
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5
    assert [e["event"] for e in logs] == ["exchange.retry", "exchange.recovered", "exchange.order"]
    assert logs[0]["attempt"] == 1 and logs[0]["error"].startswith("RequestTimeout")
    # calls: loading the markets, the rounding, the order, the look-up
    assert client.stats() == {"calls": 4, "retries": 1, "temporary_failures": 0, "permanent_failures": 0}


def test_a_timed_out_exit_order_is_found_by_its_client_algo_id(make: Make, fake: FakeBinanceRest) -> None:
    client = make(timeout=250)
    client.create_market_order(BTC, "buy", 0.002, "lh-entry")
    fake.clear_requests()
    fake.delay_next("/fapi/v1/algoOrder", 1.0, method="POST")
    stop = client.create_exit_order(BTC, "sell", 0.002, 5500, "stop_loss", "lh-sl")
    [held] = fake.algo_orders
    assert (stop.id, stop.client_id, stop.status) == (str(held.algo_id), "lh-sl", "open")
    assert calls(fake) == [("POST", "/fapi/v1/algoOrder"), ("GET", "/fapi/v1/algoOrder")]
    assert sent(fake.requests[1]) == {"symbol": "BTCUSDT", "clientAlgoId": "lh-sl"}


def test_an_order_the_exchange_never_took_is_resent_with_the_same_client_id(
        client: ExchangeClient, fake: FakeBinanceRest, sleeps: list[float]) -> None:
    fake.fail_next("/fapi/v1/order", status=503, code=-1001, msg="Internal error; unable to process your request. "
                   "Please try again.", method="POST")
    order = client.create_market_order(BTC, "buy", 0.002, "lh-entry-8")
    assert calls(fake) == [("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order"), ("POST", "/fapi/v1/order")]
    assert [r.error_code for r in fake.requests] == [-1001, -2013, None]
    assert fake.requests[0].params["newClientOrderId"] == fake.requests[2].params["newClientOrderId"] == "lh-entry-8"
    assert len(fake.orders) == 1 and order.id == str(fake.orders[0].order_id)
    assert len(sleeps) == 1


@pytest.mark.parametrize("recv_window_ms", [None, 5000])
def test_an_order_of_unknown_outcome_is_resent_only_after_its_recv_window(
        make: Make, fake: FakeBinanceRest, recv_window_ms: int | None) -> None:
    """Binance keeps client ids unique among open orders only: a "not found" right after a timeout may mean
    "not processed yet", and a filled market order would not refuse the resend. Once the request's
    recvWindow is over Binance refuses it, so a look-up then is final."""
    now = [5_000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    client = make(timeout=250, sleep=sleep, clock=lambda: now[0])
    if recv_window_ms is not None:
        client.exchange.options["recvWindow"] = recv_window_ms
    fake.clear_requests()
    # refused without being carried out, and the refusal held past the client's timeout: outcome unknown
    fake.fail_next("/fapi/v1/order", status=503, code=-1001, msg="Internal error.", method="POST")
    fake.delay_next("/fapi/v1/order", 1.0, method="POST")
    with capture_logs() as logs:
        order = client.create_market_order(BTC, "buy", 0.002, "lh-unknown-1")
    post, get = ("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order")
    assert calls(fake) == [post, get, get, post]
    assert [r.error_code for r in fake.requests] == [-1001, -2013, -2013, None]
    assert fake.requests[3].params["newClientOrderId"] == "lh-unknown-1"
    backoff, wait = waits
    window = (recv_window_ms or 10_000) / 1000
    assert 0.25 <= backoff <= 0.5 and backoff + wait == pytest.approx(window + 1.0)  # + 1 s of clock margin
    assert [e["event"] for e in logs] == ["exchange.retry", "exchange.await_recv_window", "exchange.order"]
    assert len(fake.orders) == 1 and order.id == str(fake.orders[0].order_id)


def test_no_wait_when_the_exchange_answered_or_the_look_up_found_the_order(
        make: Make, fake: FakeBinanceRest) -> None:
    waits: list[float] = []
    client = make(timeout=250, sleep=waits.append)
    fake.clear_requests()
    fake.delay_next("/fapi/v1/order", 1.0, method="POST")  # carried out: the first look-up finds it
    client.create_market_order(BTC, "buy", 0.002, "lh-known-1")
    fake.fail_next("/fapi/v1/order", status=503, code=-1001, msg="Internal error.", method="POST")  # answered
    client.create_market_order(BTC, "buy", 0.002, "lh-known-2")
    assert len(waits) == 2 and all(w <= 0.5 for w in waits)  # the backoffs only
    assert len(fake.orders) == 2


@pytest.mark.parametrize(("exc", "unknown"), [
    (ccxt.RequestTimeout("binanceusdm POST http://x/fapi/v1/order request timeout"), True),
    (ccxt.NetworkError("binanceusdm POST http://x/fapi/v1/order Connection reset by peer"), True),
    (ccxt.ExchangeNotAvailable("binanceusdm 502 <html>Bad Gateway</html>"), True),
    (ccxt.RequestTimeout('binanceusdm {"code":-1007,"msg":"Timeout waiting for response from backend server."}'),
     True),
    (ccxt.OperationFailed('binanceusdm {"code":-1006,"msg":"Execution status unknown."}'), True),
    (ccxt.OperationFailed('binanceusdm {"code":-1001,"msg":"Internal error; unable to process your request."}'),
     False),
    (ccxt.DDoSProtection('binanceusdm {"code":-1003,"msg":"Too many requests."}'), False),
])
def test_which_failures_leave_the_outcome_unknown(exc: Exception, unknown: bool) -> None:
    assert outcome_unknown(exc) is unknown


def test_a_duplicate_client_id_returns_the_order_already_placed(client: ExchangeClient,
                                                                fake: FakeBinanceRest) -> None:
    first = client.create_market_order(BTC, "buy", 0.002, "lh-same")
    fake.clear_requests()
    with capture_logs() as logs:
        again = client.create_market_order(BTC, "buy", 0.002, "lh-same")
    assert same_order(again, first)
    assert [(m, p, r.error_code) for (m, p), r in zip(calls(fake), fake.requests, strict=True)] == [
        ("POST", "/fapi/v1/order", -4116), ("GET", "/fapi/v1/order", None)]
    assert len(fake.orders) == 1 and fake.positions["BTCUSDT"].amount == Decimal("0.002")
    assert "exchange.duplicate_client_id" in [e["event"] for e in logs]
    assert client.stats()["permanent_failures"] == 0

    client.create_exit_order(BTC, "sell", 0.002, 5500, "stop_loss", "lh-sl")
    stop = client.create_exit_order(BTC, "sell", 0.002, 5500, "stop_loss", "lh-sl")
    assert len(fake.algo_orders) == 1 and stop.id == str(fake.algo_orders[0].algo_id)


def test_a_duplicate_client_id_with_no_order_behind_it_is_rejected(client: ExchangeClient,
                                                                  fake: FakeBinanceRest) -> None:
    fake.fail_next("/fapi/v1/order", code=-4116, msg="ClientOrderId is duplicated.", method="POST")
    with pytest.raises(OrderRejected, match=r"lh-ghost.*-4116.*no order"):
        client.create_market_order(BTC, "buy", 0.002, "lh-ghost")
    assert calls(fake) == [("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order")]
    assert fake.orders == []


# ------------------------------------------------------------------ temporary failures: retried

@pytest.mark.parametrize("case", [
    (429, -1003, "Too many requests; current limit of IP is 2400 requests per minute.", ccxt.DDoSProtection),
    (503, -1001, "Internal error; unable to process your request. Please try again.", ccxt.OperationFailed),
    (503, -1008, "Request throttled by system-level protection. Please try again.", ccxt.OperationFailed),
])
def test_rate_limits_and_unavailability_are_retried_then_succeed(
        client: ExchangeClient, fake: FakeBinanceRest, sleeps: list[float], case: tuple[int, int, str, type]) -> None:
    status, code, msg, cause = case
    fake.fail_next("/fapi/v1/premiumIndex", status=status, code=code, msg=msg)
    with capture_logs() as logs:
        assert client.mark_prices([BTC]) == {BTC: 6000.0}
    assert [(r.status, r.error_code) for r in fake.requests] == [(status, code), (200, None)]
    [retry] = logs
    assert (retry["event"], retry["log_level"], retry["attempt"], retry["attempts"]) == (
        "exchange.retry", "warning", 1, 4)
    assert retry["error"].startswith(cause.__name__) and str(code) in retry["error"]
    assert len(sleeps) == 1
    assert outcomes(client) == (1, 0, 0)


def test_two_503s_in_a_row_are_retried(client: ExchangeClient, fake: FakeBinanceRest) -> None:
    fake.fail_next("/fapi/v3/account", status=503, code=-1001, msg="Service Unavailable.", times=2)
    balance = client.fetch_balance()
    assert balance == (10_000.0, 10_000.0) and balance.wallet == 10_000.0
    assert [r.status for r in fake.requests] == [503, 503, 200]


def test_a_clock_off_by_a_minute_is_synced_and_retried(sleeps: list[float]) -> None:
    with FakeBinanceRest(api_key=KEY, api_secret=SECRET, clock=lambda: wall_clock_ms() + 60_000) as ahead:
        exchange = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False,
                                     "options": {"fetchCurrencies": False}})
        ahead.point(exchange)
        client = ExchangeClient(exchange, sleep=sleeps.append)
        assert client.fetch_balance().wallet == 10_000.0
        assert [(r.path, r.error_code) for r in ahead.requests] == [
            ("/fapi/v1/exchangeInfo", None), ("/fapi/v3/account", -1021), ("/fapi/v1/time", None),
            ("/fapi/v3/account", None)]
        assert outcomes(client) == (1, 0, 0) and len(sleeps) == 1
        client.close()


def test_retries_run_out_into_exchange_unavailable(make: Make, fake: FakeBinanceRest,
                                                   sleeps: list[float]) -> None:
    client = make(retries=5, max_delay=1.0)
    fake.clear_requests()
    fake.fail_next("/fapi/v3/account", status=503, code=-1001, msg="Internal error.", times=10)
    with capture_logs() as logs, pytest.raises(ExchangeUnavailable, match=r"fetch balance.*5 attempts") as caught:
        client.fetch_balance()
    assert len(fake.requests) == 5
    assert isinstance(caught.value.__cause__, ccxt.OperationFailed)  # chained
    # capped, jittered exponential backoff: 0.5 doubling, capped at 1.0, each cut by up to half
    assert len(sleeps) == 4 and 0.25 <= sleeps[0] <= 0.5 and all(0.5 <= s <= 1.0 for s in sleeps[1:])
    assert [e["event"] for e in logs] == ["exchange.retry"] * 4 + ["exchange.unavailable"]
    assert [e.get("attempt") for e in logs[:4]] == [1, 2, 3, 4]
    assert outcomes(client) == (4, 1, 0)


def test_an_order_that_keeps_timing_out_is_never_sent_blind(make: Make, fake: FakeBinanceRest) -> None:
    client = make(retries=3)
    fake.clear_requests()
    fake.fail_next("/fapi/v1/order", status=503, code=-1001, msg="Internal error.", times=10, method="POST")
    with pytest.raises(ExchangeUnavailable, match=r"create market buy 0.002 BTC/USDT:USDT \(client id lh-9\)"):
        client.create_market_order(BTC, "buy", 0.002, "lh-9")
    post, get = ("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order")
    assert calls(fake) == [post, get, post, get, post]  # looked up before every resend
    assert fake.orders == []


def test_when_the_look_up_itself_fails_the_order_is_not_resent(make: Make, fake: FakeBinanceRest) -> None:
    client = make(retries=2)
    fake.clear_requests()
    fake.fail_next("/fapi/v1/order", status=503, code=-1001, msg="Internal error.", times=10)  # both methods
    with pytest.raises(ExchangeUnavailable, match="fetch order BTC/USDT:USDT by client id lh-10"):
        client.create_market_order(BTC, "buy", 0.002, "lh-10")
    assert calls(fake) == [("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order"), ("GET", "/fapi/v1/order")]


# ------------------------------------------------------------------ permanent failures: refused at once

@pytest.mark.parametrize("case", [
    (400, -2019, "Margin is insufficient.", "InsufficientFunds"),
    (400, -1121, "Invalid symbol.", "BadSymbol"),
    (401, -2015, "Invalid API-key, IP, or permissions for action.", "AuthenticationError"),
    (400, -4164, "Order's notional must be no smaller than 5 (unless you choose reduce only).", "InvalidOrder"),
])
def test_refusals_are_order_rejected_without_retry(client: ExchangeClient, fake: FakeBinanceRest,
                                                   sleeps: list[float], case: tuple[int, int, str, str]) -> None:
    status, code, msg, kind = case
    fake.fail_next("/fapi/v1/order", status=status, code=code, msg=msg, method="POST")
    with capture_logs() as logs, pytest.raises(OrderRejected) as caught:
        client.create_market_order(BTC, "buy", 0.002, "lh-entry-3")
    assert str(caught.value) == (f"create market buy 0.002 BTC/USDT:USDT (client id lh-entry-3): {kind}: {msg} "
                                 f"(Binance {code})")
    assert type(caught.value.__cause__).__name__ == kind
    assert calls(fake) == [("POST", "/fapi/v1/order")] and sleeps == []
    [line] = logs
    assert (line["event"], line["log_level"], line["code"]) == ("exchange.rejected", "error", code)
    assert outcomes(client) == (0, 0, 1)


def test_real_refusals_from_the_fake(make: Make, fake: FakeBinanceRest) -> None:
    with FakeBinanceRest(api_key=KEY, api_secret=SECRET, wallet=100.0) as poor:
        exchange = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False,
                                     "options": {"fetchCurrencies": False}})
        poor.point(exchange)
        client = ExchangeClient(exchange, sleep=lambda _s: None)
        with pytest.raises(OrderRejected, match=r"InsufficientFunds: Margin is insufficient\. \(Binance -2019\)"):
            client.create_market_order(BTC, "buy", 0.5, "lh-big")  # 0.5 * 6000 / 20 = 150 USDT of margin
        with pytest.raises(OrderRejected, match="-2022"):  # nothing to reduce
            client.create_market_order(BTC, "sell", 0.002, "lh-reduce", reduce_only=True)
        client.close()
    stranger = make(api_key="someone-else")
    with pytest.raises(OrderRejected, match=r"AuthenticationError: .*\(Binance -2015\)"):
        stranger.fetch_balance()
    assert [(r.path, r.error_code) for r in fake.requests] == [("/fapi/v1/exchangeInfo", None),
                                                                ("/fapi/v3/account", -2015)]


# ------------------------------------------------------------------ account settings, positions, balance

def test_prepare_symbol_sets_isolated_margin_and_leverage_once(make: Make, client: ExchangeClient,
                                                               fake: FakeBinanceRest) -> None:
    client.prepare_symbol("BTCUSDT", 5)
    assert calls(fake) == [("POST", "/fapi/v1/marginType"), ("POST", "/fapi/v1/leverage")]
    assert sent(fake.requests[0]) == {"symbol": "BTCUSDT", "marginType": "ISOLATED"}
    assert sent(fake.requests[1]) == {"symbol": "BTCUSDT", "leverage": "5"}
    assert (fake.margin_type["BTCUSDT"], fake.leverage["BTCUSDT"]) == ("ISOLATED", 5)
    client.prepare_symbol(BTC, 5)
    assert len(fake.requests) == 2  # remembered
    client.prepare_symbol(BTC, 7)
    assert calls(fake)[-1] == ("POST", "/fapi/v1/leverage") and len(fake.requests) == 3

    other = make()  # a restarted bot: the margin type is already isolated (-4046), which is fine
    fake.clear_requests()
    other.prepare_symbol(BTC, 5)
    assert [r.error_code for r in fake.requests] == [-4046, None]
    assert other.stats()["permanent_failures"] == 0


def test_positions_and_balance(client: ExchangeClient, fake: FakeBinanceRest) -> None:
    assert client.fetch_positions() == []
    client.prepare_symbol(BTC, 5)
    client.create_market_order(BTC, "sell", 0.01, "lh-short")
    fake.set_price("BTCUSDT", 5900.0)
    fake.clear_requests()
    [position] = client.fetch_positions()
    assert calls(fake) == [("GET", "/fapi/v3/positionRisk")]  # ccxt asked for the brackets once, above
    assert position == ExchangePosition(
        symbol=BTC, direction=-1, quantity=0.01, entry_price=6000.0, leverage=5, liquidation_price=None,
        unrealized=pytest.approx(1.0), margin=pytest.approx(11.8), margin_mode="cross",  # the fake: no isolated model
        mark_price=5900.0, timestamp=position.timestamp)
    assert client.fetch_positions(["ETHUSDT"]) == [] and client.fetch_positions(["BTCUSDT"]) == [position]

    wallet, available = client.fetch_balance()
    assert wallet == pytest.approx(10_000 - 0.01 * 6000 * 0.0005)
    assert available == pytest.approx(wallet + 1.0 - 11.8)


# ------------------------------------------------------------------ configuration and secrets

def test_from_config_points_every_url_at_rest_url_with_the_linear_error_table(fake: FakeBinanceRest) -> None:
    config = BotConfig.from_mapping({"exchange": {"rest_url": fake.base_url + "/", "timeouts": {"rest": 2.5}}})
    client = ExchangeClient.from_config(config.exchange, Secrets(KEY, SECRET), sleep=lambda _s: None)
    try:
        exchange = client.exchange
        assert isinstance(exchange, ccxt.binanceusdm)
        assert (exchange.apiKey, exchange.secret, exchange.timeout, exchange.enableRateLimit) == (
            KEY, SECRET, 2500, True)
        assert exchange.options["fetchCurrencies"] is False and exchange.options["defaultType"] == "future"
        assert all(url.startswith(fake.base_url + "/") for url in exchange.urls["api"].values())
        assert exchange.urls["api"]["fapiPrivateV3"] == fake.base_url + "/fapi/v3"
        assert exchange.exceptions["exact"]["-2019"] is ccxt.InsufficientFunds  # from the linear table
        exchange.enableRateLimit = False  # checked above; its waits would only slow the test down

        fake.fail_next("/fapi/v1/order", method="POST")  # -2019: a bare ExchangeError without the table
        with pytest.raises(OrderRejected, match="InsufficientFunds") as caught:
            client.create_market_order(BTC, "buy", 0.002, "lh-cfg")
        assert type(caught.value.__cause__) is ccxt.InsufficientFunds
        order = client.create_market_order(BTC, "buy", 0.002, "lh-cfg")
        assert order.status == "closed"
        assert calls(fake) == [("GET", "/fapi/v1/exchangeInfo"), ("POST", "/fapi/v1/order"),
                               ("POST", "/fapi/v1/order")]  # refused at once: no look-up, no retry
        assert all(r.signature_ok for r in fake.requests if r.signed)
    finally:
        client.close()


def test_from_config_demo_and_public_only() -> None:
    demo = ExchangeClient.from_config(BotConfig.from_mapping({"exchange": {"demo": True}}).exchange, None)
    assert demo.exchange.urls["api"]["fapiPublic"].startswith("https://demo-fapi")
    assert not demo.exchange.apiKey and not demo.exchange.secret
    assert demo.exchange.timeout == 10_000  # the default exchange.timeouts.rest, 10 s
    demo.close()
    plain = ExchangeClient.from_config(BotConfig().exchange, Secrets())
    assert plain.exchange.urls["api"]["fapiPublic"] == "https://fapi.binance.com/fapi/v1"
    plain.close()


def test_secrets_never_reach_logs_errors_or_repr(make: Make, fake: FakeBinanceRest) -> None:
    client = make(timeout=100, retries=2)
    fake.delay_next("/fapi/v3/account", 0.3, times=2)  # signed GET: ccxt's timeout names the signed URL
    with capture_logs() as logs, pytest.raises(ExchangeUnavailable) as unavailable:
        client.fetch_balance()
    fake.fail_next("/fapi/v1/order", code=-2015, status=401, msg="Invalid API-key, IP, or permissions for action.")
    with capture_logs() as more, pytest.raises(OrderRejected) as rejected:
        client.create_market_order(BTC, "buy", 0.002, "lh-s")
    said = everything_said(unavailable.value, logs) + everything_said(rejected.value, more) + repr(client)
    assert "/fapi/v3/account" in said and "signature=<redacted>" in said  # the URL is there, scrubbed
    signatures = [r.query.partition("signature=")[2] for r in fake.requests if "signature=" in r.query]
    assert signatures and not any(s in said for s in signatures)
    assert SECRET not in said and KEY not in said
    assert "ExchangeClient(binanceusdm, http://127.0.0.1:" in repr(client)


def test_importing_the_module_does_not_import_ccxt() -> None:
    code = ("import sys, liquidation_hunter, liquidation_hunter.trading.exchange; "
            "sys.exit('ccxt' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_constructor_checks_its_settings(fake: FakeBinanceRest) -> None:
    exchange = ccxt.binanceusdm({"options": {"fetchCurrencies": False}})
    with pytest.raises(ValueError, match="retries"):
        ExchangeClient(exchange, retries=0)
    with pytest.raises(ValueError, match="base_delay"):
        ExchangeClient(exchange, base_delay=2.0, max_delay=1.0)
    client = ExchangeClient(exchange, logger=structlog.get_logger("test"))
    with pytest.raises(ValueError, match="side"):
        client.create_market_order(BTC, "long", 0.002, "lh-x")
    with pytest.raises(ValueError, match="client id"):
        client.create_market_order(BTC, "buy", 0.002, "")
    exchange.close()


# ------------------------------------------------------------------ open interest history

def test_open_interest_history_pages_500_rows_of_the_last_30_days(client: ExchangeClient,
                                                                  fake: FakeBinanceRest) -> None:
    step, start = 300_000, 1_735_689_600_000 + 7 * 86_400_000
    rows = client.open_interest_history("BTCUSDT", start, start + 600 * step, now_ms=start + 3 * 86_400_000)
    assert [t for t, _, _ in rows] == list(range(start, start + 601 * step, step))  # 601 rows, no repeat
    asked = [r for r in fake.requests if r.path == "/futures/data/openInterestHist"]
    assert len(asked) == 2 and {r.params["period"] for r in asked} == {"5m"}
    assert [int(r.params["startTime"]) for r in asked] == [start, start + 499 * step + 1]
    mark = client.mark_prices([BTC])[BTC]
    first = 10_000 + 1.5 * 7 * 288  # the fake's amount: 10,000 + 1.5 a step from 2025-01-01
    assert rows[0][1:] == pytest.approx((first, first * mark))


def test_open_interest_history_older_than_30_days_is_refused_before_any_request(
        client: ExchangeClient, fake: FakeBinanceRest) -> None:
    now = 1_740_000_000_000
    with pytest.raises(ValueError, match=r"last 30 days only, .* 31\.0 days back; use `liquidation-hunter "
                                         r"fetch-history SYMBOL --kinds metrics`"):
        client.open_interest_history("BTCUSDT", now - 31 * 86_400_000, now, now_ms=now)
    assert fake.requests == []
