"""LiveBroker: the real ccxt.binanceusdm against the local fake Binance REST server, real SQLite books.

Each test pins what reaches the exchange and what the books hold afterwards, and ends with books that
balance (``audit() == []``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest
from fakes.binance import FakeBinanceRest, RecordedRequest
from structlog.testing import capture_logs

from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.errors import OrderRejected, ProtectionFailed
from liquidation_hunter.trading.exchange import ExchangeClient
from liquidation_hunter.trading.live import SETTLE_MS, LiveBroker
from liquidation_hunter.trading.model import EntryOrder

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
KEY, SECRET = "live-test-key", "live-test-secret"
T0 = 1_800_000_000_000
CID = "lh-" + "0123456789abcdef01234567"  # 27 characters, as the bot's entry ids
FEE = 0.0005
POST_ORDER = ("POST", "/fapi/v1/order")
MakeBroker = Callable[..., LiveBroker]


@pytest.fixture
def fake() -> Iterator[FakeBinanceRest]:
    with FakeBinanceRest(api_key=KEY, api_secret=SECRET) as server:
        yield server


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    opened = Books.open(tmp_path / "live.sqlite", mode="live", starting_wallet=10_000.0, now_ms=T0)
    yield opened
    opened.close()


@pytest.fixture
def make_client(fake: FakeBinanceRest) -> Iterator[Callable[..., ExchangeClient]]:
    made: list[ExchangeClient] = []

    def build(*, timeout: int = 5000) -> ExchangeClient:
        exchange = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET, "timeout": timeout, "enableRateLimit": False,
                                     "options": {"fetchCurrencies": False, "defaultType": "future"}})
        fake.point(exchange)
        client = ExchangeClient(exchange, sleep=lambda _s: None, base_delay=0.01, max_delay=0.02)
        client.load_markets()
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def make_broker(books: Books, make_client: Callable[..., ExchangeClient]) -> MakeBroker:
    def build(**kwargs: Any) -> LiveBroker:
        return LiveBroker(books, make_client(**kwargs), leverage=5, symbols=[BTC, ETH])

    return build


@pytest.fixture
def broker(make_broker: MakeBroker, fake: FakeBinanceRest) -> LiveBroker:
    made = make_broker()
    fake.clear_requests()
    return made


def entry(*, client_id: str = CID, symbol: str = BTC, direction: int = 1, quantity: float = 0.0029,
          price: float = 6000.0, stop_loss: float = 5700.04, take_profit: float = 6600.06) -> EntryOrder:
    return EntryOrder(client_id=client_id, symbol=symbol, direction=direction, quantity=quantity,
                      reference_price=price, stop_loss=stop_loss, take_profit=take_profit, leverage=5,
                      created_at=T0, strategy="test", reason="test")


def sent(request: RecordedRequest) -> dict[str, str]:
    return {k: v for k, v in request.params.items() if k not in ("timestamp", "recvWindow")}


def calls(fake: FakeBinanceRest) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


def changes(fake: FakeBinanceRest) -> list[tuple[str, str, dict[str, str]]]:
    """What was asked of the exchange that changes something (every request but the look-ups)."""
    return [(r.method, r.path, sent(r)) for r in fake.requests if r.method != "GET"]


def balanced(books: Books, fake: FakeBinanceRest) -> None:
    """The books balance, and (no funding here, the fake's fee is the estimated one) match the exchange's wallet."""
    assert books.audit() == []
    assert books.wallet() == pytest.approx(float(fake.wallet), abs=1e-9)


# ------------------------------------------------------------------ entries

def test_an_entry_prepares_the_symbol_then_sends_the_order_and_its_two_exits(
        broker: LiveBroker, fake: FakeBinanceRest, books: Books) -> None:
    position = broker.open(entry(), 6000.0, T0)
    assert position is not None
    exit_common = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.002", "reduceOnly": "true",
                   "workingType": "MARK_PRICE", "algoType": "CONDITIONAL", "newOrderRespType": "RESULT"}
    assert changes(fake) == [
        ("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "ISOLATED"}),
        ("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "5"}),
        ("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002",
                                    "newClientOrderId": CID, "newOrderRespType": "RESULT"}),
        ("POST", "/fapi/v1/algoOrder", exit_common | {"type": "STOP_MARKET", "triggerPrice": "5700",
                                                      "clientAlgoId": f"{CID}-sl"}),
        ("POST", "/fapi/v1/algoOrder", exit_common | {"type": "TAKE_PROFIT_MARKET", "triggerPrice": "6600.1",
                                                      "clientAlgoId": f"{CID}-tp"}),
    ]
    assert calls(fake)[0] != POST_ORDER  # the exchange's positions on the symbol are checked first
    assert (position.client_id, position.symbol, position.direction, position.quantity, position.entry_price) == (
        CID, BTC, 1, 0.002, 6000.0)
    assert (position.stop_loss, position.take_profit) == (5700.0, 6600.1)  # the exchange's rounded levels
    assert position.entry_fee == pytest.approx(0.002 * 6000 * FEE)
    assert position.margin == pytest.approx(0.002 * 6000 / 5)
    assert position.liquidation_price == pytest.approx(6000 * (1 - 1 / 5) / (1 - 0.004))
    assert (fake.margin_type["BTCUSDT"], fake.leverage["BTCUSDT"]) == ("ISOLATED", 5)
    [stop, take] = fake.algo_orders
    assert {o.client_id: (o.purpose, o.status, o.price, o.exchange_id) for o in books.orders()} == {
        CID: ("entry", "filled", 6000.0, str(fake.orders[0].order_id)),
        f"{CID}-sl": ("stop_loss", "open", 5700.0, str(stop.algo_id)),
        f"{CID}-tp": ("take_profit", "open", 6600.1, str(take.algo_id)),
    }
    assert broker.positions() == [position]
    account = broker.account({BTC: 6100.0}, T0)
    assert account.unrealized == pytest.approx(0.2) and account.margin == pytest.approx(2.4)
    balanced(books, fake)


def test_a_timed_out_entry_is_retried_without_a_second_position(
        make_broker: MakeBroker, fake: FakeBinanceRest, books: Books) -> None:
    broker = make_broker(timeout=250)
    fake.delay_next("/fapi/v1/order", 1.0, method="POST")  # carried out at once, answered too late
    position = broker.open(entry(), 6000.0, T0)
    assert position is not None
    assert fake.positions["BTCUSDT"].amount == Decimal("0.002") and len(fake.orders) == 1
    assert [r.params["origClientOrderId"] for r in fake.requests if r.method == "GET" and
            r.path == "/fapi/v1/order"] == [CID]  # looked up after the timeout, not sent again
    assert broker.open(entry(), 6000.0, T0 + 1000) is None  # the same signal once more
    assert len(fake.orders) == 1 and len(books.open_positions()) == 1 and len(fake.algo_orders) == 2
    balanced(books, fake)


def test_an_entry_the_exchange_refuses_is_recorded_rejected(broker: LiveBroker, fake: FakeBinanceRest,
                                                           books: Books) -> None:
    fake.fail_next("/fapi/v1/order", method="POST")  # -2019 Margin is insufficient.
    with pytest.raises(OrderRejected, match=r"InsufficientFunds.*-2019"):
        broker.open(entry(), 6000.0, T0)
    record = books.order(CID)
    assert record is not None and record.status == "rejected" and "-2019" in (record.error or "")
    assert {o.client_id: o.status for o in books.orders()} == {CID: "rejected", f"{CID}-sl": "rejected",
                                                               f"{CID}-tp": "rejected"}
    assert books.open_positions() == [] and fake.positions["BTCUSDT"].amount == 0 and fake.algo_orders == []
    fake.clear_requests()
    assert broker.open(entry(), 6000.0, T0 + 1000) is None  # a refused signal is not sent again
    assert fake.requests == []
    balanced(books, fake)


@pytest.mark.parametrize(("order", "match"), [
    (entry(quantity=0.0009), "below the exchange's minimum"),  # rounds to 0
    (entry(quantity=0.0015), "below the exchange's minimum"),  # 0.001 * 6000 < 10 USDT
    (entry(stop_loss=6100.0), "would trigger at once"),
    (entry(client_id="lh-" + "0" * 30), "client id"),  # no room for the exits' suffixes
])
def test_orders_the_exchange_would_refuse_are_refused_before_sending(
        broker: LiveBroker, fake: FakeBinanceRest, books: Books, order: EntryOrder, match: str) -> None:
    with pytest.raises(OrderRejected, match=match):
        broker.open(order, 6000.0, T0)
    assert [r for r in fake.requests if r.method == "POST"] == []
    assert [o.status for o in books.orders()] == ["rejected"] and books.audit() == []


# ------------------------------------------------------------------ exits

def test_a_stop_loss_the_exchange_filled_is_recorded_and_the_take_profit_cancelled(
        broker: LiveBroker, fake: FakeBinanceRest, books: Books) -> None:
    broker.open(entry(), 6000.0, T0)
    assert broker.on_prices({BTC: 6000.0}, T0 + 1000) == []  # still held: one request
    assert calls(fake)[-1] == ("GET", "/fapi/v3/positionRisk")
    fake.set_price("BTCUSDT", 5650.0)  # through the stop: Binance's stop-market closes the position
    fake.clear_requests()
    [trade] = broker.on_prices({BTC: 5650.0}, T0 + 60_000)
    assert (trade.reason, trade.exit_price, trade.closed_at) == ("stop_loss", 5650.0, T0 + 60_000)
    assert trade.exit_fee == pytest.approx(0.002 * 5650 * FEE)
    assert trade.gross_pnl == pytest.approx(-0.002 * 350)
    assert [(a.client_algo_id, a.algo_status) for a in fake.algo_orders] == [(f"{CID}-sl", "FINISHED"),
                                                                             (f"{CID}-tp", "CANCELED")]
    assert changes(fake) == [("DELETE", "/fapi/v1/algoOrder", {"symbol": "BTCUSDT", "clientAlgoId": f"{CID}-tp"})]
    stop = books.order(f"{CID}-sl")
    assert stop is not None and (stop.status, stop.exchange_id) == ("filled", str(fake.orders[-1].order_id))
    take = books.order(f"{CID}-tp")
    assert take is not None and take.status == "canceled"
    assert books.open_positions() == []
    fake.clear_requests()
    assert broker.on_prices({BTC: 5600.0}, T0 + 61_000) == [] and fake.requests == []  # nothing held: no request
    balanced(books, fake)


def test_a_take_profit_of_a_short(broker: LiveBroker, fake: FakeBinanceRest, books: Books) -> None:
    order = entry(symbol=ETH, direction=-1, quantity=0.057, price=2000.0, stop_loss=2100.0, take_profit=1900.0)
    position = broker.open(order, 2000.0, T0)
    assert position is not None and (position.quantity, position.direction) == (0.057, -1)
    assert position.liquidation_price == pytest.approx(2000 * (1 + 1 / 5) / (1 + 0.004))
    fake.set_price("ETHUSDT", 1890.0)
    [trade] = broker.on_prices({ETH: 1890.0}, T0 + 1000)
    assert (trade.reason, trade.exit_price) == ("take_profit", 1890.0)
    assert trade.gross_pnl == pytest.approx(0.057 * 110)
    assert [a.algo_status for a in fake.algo_orders] == ["CANCELED", "FINISHED"]
    assert fake.positions["ETHUSDT"].amount == 0
    balanced(books, fake)


def test_close_cancels_the_exits_and_closes_reduce_only(broker: LiveBroker, fake: FakeBinanceRest,
                                                       books: Books) -> None:
    position = broker.open(entry(), 6000.0, T0)
    assert position is not None
    fake.set_price("BTCUSDT", 6100.0)
    fake.clear_requests()
    trade = broker.close(position, "time_exit", 6100.0, T0 + 3_600_000)
    assert trade is not None and (trade.reason, trade.exit_price) == ("time_exit", 6100.0)
    assert changes(fake) == [
        ("DELETE", "/fapi/v1/algoOrder", {"symbol": "BTCUSDT", "clientAlgoId": f"{CID}-sl"}),
        ("DELETE", "/fapi/v1/algoOrder", {"symbol": "BTCUSDT", "clientAlgoId": f"{CID}-tp"}),
        ("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.002",
                                    "reduceOnly": "true", "newClientOrderId": f"{CID}-x",
                                    "newOrderRespType": "RESULT"}),
    ]
    assert fake.positions["BTCUSDT"].amount == 0
    assert [a.algo_status for a in fake.algo_orders] == ["CANCELED", "CANCELED"]
    fake.clear_requests()
    assert broker.close(position, "time_exit", 6100.0, T0 + 3_600_001) is None  # idempotent
    assert fake.requests == []
    balanced(books, fake)


def test_a_close_interrupted_after_sending_is_found_by_its_client_id(
        broker: LiveBroker, make_broker: MakeBroker, fake: FakeBinanceRest, books: Books,
        monkeypatch: pytest.MonkeyPatch) -> None:
    position = broker.open(entry(), 6000.0, T0)
    assert position is not None
    client = broker._client
    original = client.create_market_order

    def dies_after_sending(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise KeyboardInterrupt  # the process is killed before the fill reaches the books

    monkeypatch.setattr(client, "create_market_order", dies_after_sending)
    with pytest.raises(KeyboardInterrupt):
        broker.close(position, "time_exit", 6000.0, T0 + 1000)
    assert fake.positions["BTCUSDT"].amount == 0 and len(books.open_positions()) == 1
    [trade] = make_broker().start(T0 + 5000)
    assert (trade.reason, trade.exit_price) == ("time_exit", 6000.0)
    assert len([o for o in fake.orders if o.client_order_id == f"{CID}-x"]) == 1
    balanced(books, fake)


def test_an_exit_that_cannot_be_placed_closes_the_position_at_once(broker: LiveBroker, fake: FakeBinanceRest,
                                                                  books: Books) -> None:
    fake.fail_next("/fapi/v1/algoOrder", code=-2021, msg="Order would immediately trigger.", method="POST")
    with capture_logs() as logs, pytest.raises(ProtectionFailed, match=r"stop_loss order could not be placed.*closed"
                                               ) as refused:
        broker.open(entry(), 6000.0, T0)
    assert (refused.value.kind, refused.value.closed) == ("stop_loss", True)
    assert "Order would immediately trigger" in refused.value.detail
    assert fake.positions["BTCUSDT"].amount == 0 and books.open_positions() == []
    [trade] = books.closed_trades()
    assert trade.reason == "protection_failed"  # opened and closed at a cost: named for what happened
    assert "exit_order_failed" in [e["event"] for e in logs]
    assert [o.client_order_id for o in fake.orders] == [CID, f"{CID}-x"]
    assert broker.on_prices({BTC: 6000.0}, T0 + 1000) == [trade]  # reported to the bot with the next prices
    assert broker.on_prices({BTC: 6000.0}, T0 + 2000) == []
    balanced(books, fake)


def test_a_position_nothing_explains_is_reconciled_at_the_last_price(
        broker: LiveBroker, make_client: Callable[..., ExchangeClient], fake: FakeBinanceRest, books: Books) -> None:
    broker.open(entry(), 6000.0, T0)
    fake.set_price("BTCUSDT", 6050.0)
    make_client().create_market_order(BTC, "sell", 0.002, "by-hand", reduce_only=True)  # someone closed it
    with capture_logs() as logs:
        [trade] = broker.on_prices({BTC: 6050.0}, T0 + 1000)
    assert (trade.reason, trade.exit_price) == ("reconciled", 6050.0)
    assert "position_vanished" in [e["event"] for e in logs]
    assert [a.algo_status for a in fake.algo_orders] == ["CANCELED", "CANCELED"]  # nothing left to act later
    balanced(books, fake)


# ------------------------------------------------------------------ restarts

def test_an_entry_sent_just_before_a_crash_is_recovered_with_its_exits(
        broker: LiveBroker, make_broker: MakeBroker, fake: FakeBinanceRest, books: Books,
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = broker._client
    original = client.create_market_order

    def dies_after_sending(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(client, "create_market_order", dies_after_sending)
    with pytest.raises(KeyboardInterrupt):
        broker.open(entry(), 6000.0, T0)
    record = books.order(CID)
    assert record is not None and record.status == "new"  # recorded before it was sent
    assert books.open_positions() == [] and fake.positions["BTCUSDT"].amount == Decimal("0.002")
    assert fake.algo_orders == []

    restarted = make_broker()
    assert restarted.start(T0 + 5000) == []
    [position] = books.open_positions()
    assert (position.client_id, position.quantity, position.entry_price) == (CID, 0.002, 6000.0)
    assert (position.stop_loss, position.take_profit) == (5700.0, 6600.1)
    assert [(a.client_algo_id, a.algo_status, a.trigger_price) for a in fake.algo_orders] == [
        (f"{CID}-sl", "NEW", Decimal("5700")), (f"{CID}-tp", "NEW", Decimal("6600.1"))]
    assert restarted.foreign_positions == []
    fake.clear_requests()
    assert restarted.open(entry(), 6000.0, T0 + 6000) is None  # the same signal opens nothing
    assert POST_ORDER not in calls(fake) and len(fake.orders) == 1
    balanced(books, fake)


def test_an_entry_recorded_without_plans_is_recovered_and_closed(
        make_broker: MakeBroker, make_client: Callable[..., ExchangeClient], fake: FakeBinanceRest,
        books: Books) -> None:
    """The books hold the entry as sent and the exchange has it filled, but no exit levels are known: the
    position is recorded, then closed at market rather than left without a stop."""
    books.record_order(client_id=CID, symbol=BTC, side="buy", type="market", purpose="entry", quantity=0.002,
                       price=6000.0, now_ms=T0, status="new")
    make_client().create_market_order(BTC, "buy", 0.002, CID)  # as if the process died after sending it
    with capture_logs() as logs:
        [trade] = make_broker().start(T0 + 1000)
    assert (trade.position.client_id, trade.position.quantity, trade.reason) == (CID, 0.002, "reconciled")
    assert "entry_recovered_without_exits" in [e["event"] for e in logs]
    assert fake.positions["BTCUSDT"].amount == 0
    balanced(books, fake)


def test_an_entry_the_exchange_never_got_is_abandoned_only_after_it_settled(
        broker: LiveBroker, fake: FakeBinanceRest, books: Books) -> None:
    books.record_order(client_id=CID, symbol=BTC, side="buy", type="market", purpose="entry", quantity=0.002,
                       price=6000.0, now_ms=T0, status="new")
    assert broker.start(T0 + 1000) == []
    record = books.order(CID)
    assert record is not None and record.status == "new"  # may still be on its way
    assert broker.open(entry(), 6000.0, T0 + 2000) is None and POST_ORDER not in calls(fake)
    broker.on_prices({}, T0 + SETTLE_MS)
    record = books.order(CID)
    assert record is not None and record.status == "abandoned"
    assert broker.open(entry(), 6000.0, T0 + SETTLE_MS + 1) is None
    assert POST_ORDER not in calls(fake) and fake.orders == []
    balanced(books, fake)


def test_a_stop_that_fired_while_the_bot_was_down_is_found_at_start(
        broker: LiveBroker, make_broker: MakeBroker, fake: FakeBinanceRest, books: Books) -> None:
    broker.open(entry(), 6000.0, T0)
    fake.set_price("BTCUSDT", 5690.0)
    [trade] = make_broker().start(T0 + 3_600_000)
    assert (trade.reason, trade.exit_price) == ("stop_loss", 5690.0)
    assert [a.algo_status for a in fake.algo_orders] == ["FINISHED", "CANCELED"]
    balanced(books, fake)


def test_exit_orders_missing_on_the_exchange_are_placed_again_at_start(
        broker: LiveBroker, make_broker: MakeBroker, make_client: Callable[..., ExchangeClient],
        fake: FakeBinanceRest, books: Books) -> None:
    broker.open(entry(), 6000.0, T0)
    assert make_client().cancel_order(BTC, f"{CID}-sl", algo=True)  # cancelled by hand
    fake.clear_requests()
    assert make_broker().start(T0 + 1000) == []
    assert [(a.client_algo_id, a.algo_status) for a in fake.algo_orders] == [
        (f"{CID}-sl", "CANCELED"), (f"{CID}-tp", "NEW"), (f"{CID}-sl2", "NEW")]  # a cancelled id is not reused
    assert [(m, p) for m, p, _ in changes(fake)] == [("POST", "/fapi/v1/algoOrder")]
    assert changes(fake)[-1][2]["triggerPrice"] == "5700"
    fake.set_price("BTCUSDT", 5600.0)  # the new stop protects the position, and is recognised
    [trade] = broker.on_prices({BTC: 5600.0}, T0 + 2000)
    assert trade.reason == "stop_loss"
    balanced(books, fake)


def test_a_position_that_is_not_ours_is_left_alone_and_reported(
        broker: LiveBroker, make_client: Callable[..., ExchangeClient], fake: FakeBinanceRest, books: Books) -> None:
    make_client().create_market_order(ETH, "sell", 0.05, "someone-else")
    fake.clear_requests()
    with capture_logs() as logs:
        assert broker.start(T0) == []
    [foreign] = broker.foreign_positions
    assert (foreign.symbol, foreign.direction, foreign.quantity) == (ETH, -1, 0.05)
    assert changes(fake) == []  # not touched
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["foreign_position"]
    with pytest.raises(OrderRejected, match="holds a position"):
        broker.open(entry(symbol=ETH, quantity=0.01, price=2000.0, stop_loss=1900.0, take_profit=2100.0), 2000.0, T0)
    assert fake.positions["ETHUSDT"].amount == Decimal("-0.05") and books.open_positions() == []
    assert [o.client_order_id for o in fake.orders] == ["someone-else"]
    assert books.audit() == []
