"""A local fake of Bybit's v5 public REST API: the instruments ccxt 4.5's ``bybit.load_markets`` reads.

With ``options.fetchMarkets.types = ["linear"]`` ccxt sends ``GET /v5/market/instruments-info?category=linear&
limit=1000``, then the same with ``status=PreLaunch``, then follows ``result.nextPageCursor`` (``cursor=``) while
it is not empty. This fake answers pages of ``page_size`` rows (default 2, so the cursor is exercised), in Bybit's
shape (``retCode``/``retMsg``/``result.list``), with linear perpetuals and one dated linear future (which the
venue layer must leave out).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.json_rest import JsonRest

__all__ = ["FakeBybitRest", "linear_instrument"]

SERVER_TIME_MS = 1_791_565_600_000


def linear_instrument(symbol: str, base: str, *, tick: str, qty_step: str, contract_type: str = "LinearPerpetual",
                      delivery_ms: int = 0, status: str = "Trading") -> dict[str, Any]:
    """One row of ``/v5/market/instruments-info?category=linear`` as Bybit answers it."""
    return {
        "symbol": symbol, "contractType": contract_type, "status": status, "baseCoin": base, "quoteCoin": "USDT",
        "launchTime": "1585526400000", "deliveryTime": str(delivery_ms), "deliveryFeeRate": "",
        "priceScale": str(len(tick.split(".")[1]) if "." in tick else 0),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": tick, "maxPrice": "1999999.80", "tickSize": tick},
        "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": qty_step, "qtyStep": qty_step,
                          "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "500.000",
                          "minNotionalValue": "5"},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
        "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False,
        "preListingInfo": None, "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        "displayName": "",
    }


DEFAULT_INSTRUMENTS = (
    linear_instrument("BTCUSDT", "BTC", tick="0.10", qty_step="0.001"),
    linear_instrument("ETHUSDT", "ETH", tick="0.01", qty_step="0.01"),
    linear_instrument("SOLUSDT", "SOL", tick="0.010", qty_step="0.1"),
    linear_instrument("BTCUSDT-26JUN26", "BTC", tick="0.10", qty_step="0.001", contract_type="LinearFutures",
                      delivery_ms=1_782_460_800_000),
)


class FakeBybitRest(JsonRest):
    """Bybit's public instruments on 127.0.0.1. ``instruments``: the linear rows; ``page_size``: rows a page."""

    name = "fake Bybit REST"

    def __init__(self, instruments: tuple[dict[str, Any], ...] = DEFAULT_INSTRUMENTS, *, page_size: int = 2,
                 port: int = 0) -> None:
        self.instruments = list(instruments)
        self.page_size = page_size
        super().__init__({("GET", "/v5/market/instruments-info"): self._instruments_info,
                          ("GET", "/v5/market/time"): self._time}, port=port)

    def _envelope(self, result: Any) -> dict[str, Any]:
        return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": SERVER_TIME_MS}

    def _time(self, _params: dict[str, str]) -> dict[str, Any]:
        return self._envelope({"timeSecond": str(SERVER_TIME_MS // 1000), "timeNano": str(SERVER_TIME_MS * 10**6)})

    def _instruments_info(self, params: dict[str, str]) -> dict[str, Any]:
        category = params.get("category")
        if category != "linear":
            return {"retCode": 10001, "retMsg": f"category {category!r} not served by the fake", "result": {},
                    "retExtInfo": {}, "time": SERVER_TIME_MS}
        status = params.get("status", "Trading")
        rows = [r for r in self.instruments if r["status"] == status]
        start = int(params.get("cursor") or 0)
        page = rows[start:start + self.page_size]
        after = start + self.page_size
        return self._envelope({"category": "linear", "list": page,
                               "nextPageCursor": str(after) if after < len(rows) else ""})
