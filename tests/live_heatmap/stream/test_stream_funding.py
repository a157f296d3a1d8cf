"""The funding rate the mark-price frames carry (``r`` for the funding at ``T``) reaches the paper broker: the
fake Binance server sends real ``markPriceUpdate`` frames, the stream routes them into a
:class:`~live_heatmap.funding.FundingRates`, the broker settles each funding time at the rate streamed for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.binance import FakeBinance
from helpers import wait_until

from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.model import EntryOrder
from liquidation_hunter.trading.paper import PaperBroker
from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.common.backoff import Backoff
from live_heatmap.funding import FundingRate, FundingRates
from live_heatmap.stream.stream import LiquidationStream

HOUR = 3_600_000
DAY0 = 1_737_936_000_000  # 2025-01-27T00:00:00Z, a funding time
T = DAY0 + 7 * HOUR
EIGHT, SIXTEEN = DAY0 + 8 * HOUR, DAY0 + 16 * HOUR
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
FAST: dict[str, Any] = {"backoff": lambda: Backoff(initial=0.05, maximum=0.2), "tick": 0.02, "ping_interval": 0.2,
                        "pong_timeout": 0.5, "close_timeout": 0.3}


@pytest.fixture
def streamed() -> Iterator[tuple[FakeBinance, FundingRates, LiveLiquidationHeatmap]]:
    rates = FundingRates()
    heatmap = LiveLiquidationHeatmap(clock=lambda: T)
    with FakeBinance(ping_interval=None) as fake:
        stream = LiquidationStream(heatmap, ["BTCUSDT", "ETHUSDT"], ws_url=fake.market_url, mark_price=True,
                                   funding=rates, **FAST).start()
        try:
            assert fake.wait_for_subscription("ethusdt@markPrice@1s", 5.0)
            yield fake, rates, heatmap
        finally:
            stream.stop()


def test_streamed_rates_are_settled_by_the_paper_broker(streamed: Any, tmp_path: Path) -> None:
    fake, rates, heatmap = streamed
    fake.publish_mark_price("BTCUSDT", 50_100.0, T, funding_rate="0.00030000", next_funding_ms=EIGHT)
    fake.publish_mark_price("BTCUSDT", 50_200.0, T + 1000, funding_rate="0.00042000", next_funding_ms=EIGHT)
    fake.publish_mark_price("BTCUSDT", 50_300.0, EIGHT + 1000, funding_rate="-0.00010000", next_funding_ms=SIXTEEN)
    assert wait_until(lambda: rates.rate_for(BTC, SIXTEEN) is not None)
    assert rates.rate_for("BTCUSDT", EIGHT) == 0.00042  # the last estimate before 08:00 is the rate charged
    assert rates.latest(BTC) == FundingRate(-0.0001, SIXTEEN, EIGHT + 1000)
    assert heatmap.get_price(BTC) == 50_300.0  # the same frames still feed the prices
    with Books.open(tmp_path / "paper.sqlite", starting_wallet=10_000.0, now_ms=DAY0) as books:
        broker = PaperBroker(books, slippage_bps=0.0, taker_fee=0.0, maker_fee=0.0, funding=True,
                             funding_rates=rates)
        broker.open(EntryOrder(client_id="b", symbol=BTC, direction=1, quantity=0.1, reference_price=1.0,
                               stop_loss=0.0, take_profit=0.0, leverage=5, created_at=T, strategy="t"), 50_000.0, T)
        broker.open(EntryOrder(client_id="e", symbol=ETH, direction=-1, quantity=1.0, reference_price=1.0,
                               stop_loss=0.0, take_profit=0.0, leverage=5, created_at=T, strategy="t"), 3_000.0, T)
        broker.on_prices({BTC: 50_000.0, ETH: 3_000.0}, EIGHT + 2000)
        funding = {p.symbol: p.funding for p in broker.positions()}
    assert funding[BTC] == pytest.approx(-0.00042 * 0.1 * 50_000.0, rel=1e-12)  # the streamed rate, a long pays
    assert funding[ETH] == pytest.approx(0.0001 * 1.0 * 3_000.0, rel=1e-12)  # nothing streamed: the base rate


def test_frames_without_funding_are_prices_only(streamed: Any) -> None:
    """Delivery contracts' mark prices carry ``"r": ""`` and ``"T": 0``: a price, no rate, no reject."""
    fake, rates, heatmap = streamed
    fake.publish("ethusdt@markPrice@1s", {"e": "markPriceUpdate", "E": T, "s": "ETHUSDT", "p": "3001.5",
                                           "i": "3001.0", "P": "3001.2", "r": "", "T": 0})
    assert wait_until(lambda: heatmap.get_price(ETH) == 3001.5)
    assert rates.latest(ETH) is None and heatmap.stats()["rejected"] == {}


def test_rates_keep_the_last_funding_times_only() -> None:
    rates = FundingRates(keep=2)
    for i, rate in enumerate((0.0001, 0.0002, 0.0003, 0.0004)):
        rates.update_funding("BTCUSDT", rate, DAY0 + i * 8 * HOUR, DAY0 + i)
    assert [rates.rate_for(BTC, DAY0 + i * 8 * HOUR) for i in range(4)] == [None, None, 0.0003, 0.0004]
    assert rates.latest("btcusdt") == FundingRate(0.0004, DAY0 + 24 * HOUR, DAY0 + 3)
    assert rates.latest(ETH) is None and rates.rate_for(ETH, DAY0) is None
