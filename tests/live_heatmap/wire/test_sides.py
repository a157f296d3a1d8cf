"""Which position was liquidated, on each venue: the side matrix, and one real moment on three venues.

Binance's ``S`` is the side of the liquidation *order* (``SELL`` closes a long); Bybit's ``S`` is the side of the
liquidated *position* (``Buy`` = a long); OKX's ``posSide`` is the position, and in one-way mode (``net``) its
``side`` is the order's (``sell`` closes a long).
"""

from __future__ import annotations

import orjson
import pytest
from venue_samples import OKX_INSTRUMENTS, three_venues

from live_heatmap import parse_force_order
from live_heatmap.side import Side
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.bybit import parse_bybit_frame
from live_heatmap.wire.okx import parse_okx_frame

BINANCE = {"e": "forceOrder", "E": 1791565603055, "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC",
                                                         "q": "0.190", "p": "82338.30", "ap": "82651.90", "X": "FILLED",
                                                         "l": "0.155", "z": "0.190", "T": 1791565602120}}
BYBIT = {"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": 1791565601482,
         "data": [{"T": 1791565600992, "s": "BTCUSDT", "S": "Buy", "v": "0.006", "p": "82396.90"}]}
OKX_DETAIL = {"bkLoss": "0", "bkPx": "82655.7", "ccy": "", "posSide": "long", "side": "sell", "sz": "8.55",
              "ts": "1791565600771"}


def _okx(pos_side: str, side: str) -> dict[str, object]:
    return {"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [{"details": [{**OKX_DETAIL, "posSide": pos_side, "side": side}], "instId": "BTC-USDT-SWAP",
                      "instType": "SWAP", "uly": "BTC-USDT"}]}


@pytest.mark.parametrize(("wire", "side"), [("SELL", Side.LONG), ("BUY", Side.SHORT)])
def test_binance(wire: str, side: Side) -> None:
    assert parse_force_order({**BINANCE, "o": {**BINANCE["o"], "S": wire}}).side is side


@pytest.mark.parametrize(("wire", "side"), [("Buy", Side.LONG), ("Sell", Side.SHORT)])
def test_bybit(wire: str, side: Side) -> None:
    frame = {**BYBIT, "data": [{**BYBIT["data"][0], "S": wire}]}
    event, = parse_bybit_frame(frame).events
    assert event.side is side


@pytest.mark.parametrize(("pos_side", "side", "expected"), [
    ("long", "sell", Side.LONG),
    ("long", "buy", "inconsistent_side"),
    ("short", "buy", Side.SHORT),
    ("short", "sell", "inconsistent_side"),
    ("net", "sell", Side.LONG),
    ("net", "buy", Side.SHORT),
])
def test_okx(pos_side: str, side: str, expected: Side | str) -> None:
    parsed = parse_okx_frame(_okx(pos_side, side), OKX_INSTRUMENTS)
    if isinstance(expected, Side):
        assert [e.side for e in parsed.events] == [expected] and parsed.rejects == []
    else:
        assert parsed.events == [] and [r.reason.value for r in parsed.rejects] == [expected]


def test_one_moment_on_three_venues_is_four_long_liquidations() -> None:
    """2026-10-09, within 1.4 s: Binance (one), Bybit (two in one message) and OKX (one) all liquidated longs."""
    binance, bybit, okx = three_venues()[:3]
    events = [parse_force_order(binance), *parse_bybit_frame(bybit).events,
              *parse_okx_frame(okx, OKX_INSTRUMENTS).events]
    assert [(e.exchange, e.side, e.price, e.price_kind, e.quantity) for e in events] == [
        (Venue.BINANCE, Side.LONG, 82651.9, PriceKind.FILL_AVG, 0.19),
        (Venue.BYBIT, Side.LONG, 82396.9, PriceKind.BANKRUPTCY, 0.006),
        (Venue.BYBIT, Side.LONG, 82394.3, PriceKind.BANKRUPTCY, 0.038),
        (Venue.OKX, Side.LONG, 82655.7, PriceKind.BANKRUPTCY, 8.55 * 0.01),
    ]
    assert events[3].quantity == 0.0855  # 8.55 contracts of 0.01 BTC
    assert {e.symbol for e in events} == {"BTCUSDT"} and {e.unified_symbol for e in events} == {"BTC/USDT:USDT"}
    assert [e.venue_id for e in events] == ["BTCUSDT", "BTCUSDT", "BTCUSDT", "BTC-USDT-SWAP"]
    # The wire fields the sides come from, as sent: three different conventions, one answer.
    raw = [orjson.loads(line) for line in (binance, bybit, okx)]
    assert raw[0]["data"]["o"]["S"] == "SELL" and raw[1]["data"][0]["S"] == "Buy"
    assert (raw[2]["data"][0]["details"][0]["posSide"], raw[2]["data"][0]["details"][0]["side"]) == ("long", "sell")
