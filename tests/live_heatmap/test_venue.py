"""The event model across venues: the venue and the kind of price travel with every event."""

from __future__ import annotations

from live_heatmap.common.instruments import Instrument, Instruments
from live_heatmap.side import Side
from live_heatmap.venue import PRICE_KIND_OF, VENUES_BY_CODE, PriceKind, Venue
from live_heatmap.wire.events import LiquidationEvent


def test_a_binance_event_by_default_and_the_venue_in_the_dedupe_key() -> None:
    binance = LiquidationEvent("BTCUSDT", Side.LONG, 82_651.9, 0.19, 1791565603055, 1791565602120)
    assert (binance.exchange, binance.price_kind, binance.venue_id) == ("binance", "fill_avg", "BTCUSDT")
    assert binance.unified_symbol == "BTC/USDT:USDT"
    bybit = binance._replace(exchange=Venue.BYBIT, price_kind=PriceKind.BANKRUPTCY)
    assert bybit.dedupe_key != binance.dedupe_key  # the same tuple on two venues is two liquidations
    okx = binance._replace(exchange=Venue.OKX, price_kind=PRICE_KIND_OF[Venue.OKX], venue_symbol="BTC-USDT-SWAP")
    assert (okx.venue_id, okx.unified_symbol, okx.price_kind) == ("BTC-USDT-SWAP", "BTC/USDT:USDT", "bankruptcy")


def test_venue_codes_and_instrument_lookups() -> None:
    assert [VENUES_BY_CODE[v.code] for v in Venue] == list(Venue)
    linear = Instrument(Venue.OKX, "BTC-USDT-SWAP", "BTC/USDT:USDT", "BTCUSDT", contract_size=0.01)
    inverse = Instrument(Venue.OKX, "BTC-USD-SWAP", "BTC/USD:BTC", "BTC/USD:BTC", contract_size=100.0, inverse=True)
    table = Instruments.of(Venue.OKX, 1791565600000, [linear, inverse])
    assert table.get("BTC-USDT-SWAP") is linear and table.get("ETH-USDT-SWAP") is None
    assert table.for_unified("BTC/USD:BTC") is inverse and inverse.inverse and linear.contract_size == 0.01
