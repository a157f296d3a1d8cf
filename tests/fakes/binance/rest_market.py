"""Market data of the fake USD-M REST API, built on the captured answers in data/binance/rest/.

`exchangeInfo` is the captured one with its `symbols` restricted to the configured symbols; a
configured symbol the capture lacks gets a copy of the captured ETHUSDT row (same filters) under
its own name. Prices start at the captured `ticker/price` value where there is one (BTCUSDT
6000.01, which is off the captured 0.10 tick, so 6000.0), else at DEFAULT_PRICES, always rounded
to the tick; the captured premiumIndex supplies the funding fields. The captured mark price
(11793.63) belongs to a different moment than the captured ticker price, so the mark price starts
equal to the last price instead.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .rest_wire import INVALID_SYMBOL, ApiError, fmt

CAPTURED = Path(__file__).resolve().parents[3] / "data" / "binance" / "rest"
DEFAULT_PRICES = {"ETHUSDT": "2000.00"}
FALLBACK_PRICE = "100.00"
TEMPLATE_SYMBOL = "ETHUSDT"
FUNDING_PERIOD_MS = 8 * 3600 * 1000
OI_STEP_MS, OI_ORIGIN_MS = 300_000, 1_735_689_600_000
OI_ORIGIN_AMOUNT, OI_STEP_AMOUNT = Decimal(10_000), Decimal("1.5")
# (initialLeverage, notionalCap, notionalFloor, maintMarginRatio, cum): the shape Binance answers
# /fapi/v1/leverageBracket with; the numbers are illustrative, the same for every symbol.
BRACKETS = (
    (125, 50_000, 0, 0.004, 0.0),
    (100, 600_000, 50_000, 0.005, 50.0),
    (75, 3_000_000, 600_000, 0.0065, 950.0),
    (50, 12_000_000, 3_000_000, 0.01, 11_450.0),
    (25, 70_000_000, 12_000_000, 0.02, 131_450.0),
    (20, 100_000_000, 70_000_000, 0.025, 481_450.0),
)


def load_captured(name: str) -> Any:
    return json.loads((CAPTURED / name).read_text())


def _decimals(value: Decimal) -> int:
    """Digits after the point that matter: 6000.10 -> 1, 0.001 -> 3, 6000 -> 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _filter(row: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(f for f in row["filters"] if f["filterType"] == kind)


@dataclass(frozen=True)
class SymbolSpec:
    """One symbol's trading rules, read from its exchangeInfo row."""

    symbol: str
    row: dict[str, Any]
    tick: Decimal
    min_price: Decimal
    max_price: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    price_precision: int
    qty_precision: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SymbolSpec:
        price, lot, market_lot = (_filter(row, k) for k in ("PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE"))
        return cls(
            symbol=row["symbol"], row=row,
            tick=Decimal(price["tickSize"]), min_price=Decimal(price["minPrice"]),
            max_price=Decimal(price["maxPrice"]),
            step=Decimal(lot["stepSize"]), min_qty=Decimal(lot["minQty"]), max_qty=Decimal(lot["maxQty"]),
            market_step=Decimal(market_lot["stepSize"]), market_max_qty=Decimal(market_lot["maxQty"]),
            min_notional=Decimal(_filter(row, "MIN_NOTIONAL")["notional"]),
            price_precision=int(row["pricePrecision"]), qty_precision=int(row["quantityPrecision"]),
        )

    def check_quantity(self, qty: Decimal, *, market: bool) -> None:
        """Raise what Binance answers for a quantity outside LOT_SIZE (MARKET_LOT_SIZE for market)."""
        step, max_qty = (self.market_step, self.market_max_qty) if market else (self.step, self.max_qty)
        if qty <= 0:
            raise ApiError(-4003, "Quantity less than or equal to zero.")
        if _decimals(qty) > _decimals(step):
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        if qty < self.min_qty:
            raise ApiError(-4004, "Quantity less than min quantity.")
        if qty > max_qty:
            raise ApiError(-4005, "Quantity greater than max quantity.")
        if qty % step != 0:
            raise ApiError(-4023, "Qty not increased by step size.")

    def check_price(self, price: Decimal) -> None:
        """Raise what Binance answers for a price (or trigger price) outside PRICE_FILTER."""
        if price <= 0:
            raise ApiError(-4001, "Price less than 0.")
        if _decimals(price) > _decimals(self.tick):
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        if price < self.min_price:
            raise ApiError(-4013, "Price less than min price.")
        if price > self.max_price:
            raise ApiError(-4002, "Price greater than max price.")
        if (price - self.min_price) % self.tick != 0:
            raise ApiError(-4014, "Price not increased by tick size.")

    def qty_str(self, qty: Decimal) -> str:
        return fmt(qty, self.qty_precision)

    def price_str(self, price: Decimal) -> str:
        return fmt(price, self.price_precision)


@dataclass
class Quote:
    """A symbol's moving prices and the day's statistics the 24hr ticker reports."""

    last: Decimal
    mark: Decimal
    funding_rate: Decimal
    interest_rate: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    count: int = 0
    last_qty: Decimal = Decimal(0)
    updated: int = 0


class MarketBook:
    """Symbols, their rules and prices; JSON answers for the public market-data endpoints."""

    def __init__(self, symbols: Iterable[str], clock: Callable[[], int],
                 prices: dict[str, float] | None = None) -> None:
        self._clock = clock
        self._info = load_captured("exchangeInfo.json")
        captured_rows = {row["symbol"]: row for row in self._info["symbols"]}
        ticker = load_captured("ticker_price.json")
        tickers = ticker if isinstance(ticker, list) else [ticker]
        captured_prices = {t["symbol"]: t["price"] for t in tickers}
        premium = load_captured("premiumIndex.json")
        self.specs: dict[str, SymbolSpec] = {}
        self.quotes: dict[str, Quote] = {}
        now = clock()
        for symbol in symbols:
            row = copy.deepcopy(captured_rows.get(symbol) or self._synthesize(captured_rows[TEMPLATE_SYMBOL], symbol))
            spec = SymbolSpec.from_row(row)
            self.specs[symbol] = spec
            raw = ((prices or {}).get(symbol) or captured_prices.get(symbol)
                   or DEFAULT_PRICES.get(symbol, FALLBACK_PRICE))
            price = self._round_price(spec, raw)
            self.quotes[symbol] = Quote(last=price, mark=price, funding_rate=Decimal(premium["lastFundingRate"]),
                                        interest_rate=Decimal(premium["interestRate"]),
                                        open=price, high=price, low=price, updated=now)

    @staticmethod
    def _synthesize(template: dict[str, Any], symbol: str) -> dict[str, Any]:
        if not symbol.endswith("USDT"):
            raise ValueError(f"only USDT-margined symbols can be synthesized, not {symbol!r}")
        row = copy.deepcopy(template)
        row.update(symbol=symbol, pair=symbol, baseAsset=symbol[: -len("USDT")])
        return row

    @staticmethod
    def _round_price(spec: SymbolSpec, value: float | str) -> Decimal:
        return Decimal(str(value)).quantize(spec.tick.normalize())

    def spec(self, symbol: str | None) -> SymbolSpec:
        if not symbol:
            raise ApiError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        try:
            return self.specs[symbol]
        except KeyError:
            raise INVALID_SYMBOL from None

    def set_price(self, symbol: str, price: float | str, mark: float | str | None = None) -> None:
        spec = self.spec(symbol)
        quote = self.quotes[symbol]
        quote.last = self._round_price(spec, price)
        quote.mark = Decimal(str(mark if mark is not None else price))
        quote.high = max(quote.high, quote.last)
        quote.low = min(quote.low, quote.last)
        quote.updated = self._clock()

    def record_trade(self, symbol: str, qty: Decimal, price: Decimal) -> None:
        quote = self.quotes[symbol]
        quote.volume += qty
        quote.quote_volume += qty * price
        quote.count += 1
        quote.last_qty = qty

    # ------------------------------------------------------------- JSON answers

    def exchange_info(self) -> dict[str, Any]:
        info = copy.deepcopy({k: v for k, v in self._info.items() if k != "symbols"})
        info["serverTime"] = self._clock()
        info["symbols"] = [copy.deepcopy(spec.row) for spec in self.specs.values()]
        return info

    def _selected(self, params: dict[str, str]) -> list[str] | str:
        symbol = params.get("symbol")
        if symbol is None:
            return list(self.specs)
        self.spec(symbol)
        return symbol

    def _one_or_all(self, params: dict[str, str], build: Callable[[str], dict[str, Any]]) -> Any:
        selected = self._selected(params)
        return build(selected) if isinstance(selected, str) else [build(s) for s in selected]

    def ticker_price(self, params: dict[str, str]) -> Any:
        def build(symbol: str) -> dict[str, Any]:
            quote = self.quotes[symbol]
            return {"symbol": symbol, "price": self.specs[symbol].price_str(quote.last), "time": quote.updated}
        return self._one_or_all(params, build)

    def ticker_24hr(self, params: dict[str, str]) -> Any:
        now = self._clock()

        def build(symbol: str) -> dict[str, Any]:
            q, spec = self.quotes[symbol], self.specs[symbol]
            change = q.last - q.open
            avg = q.quote_volume / q.volume if q.volume else q.last
            return {
                "symbol": symbol, "priceChange": spec.price_str(change),
                "priceChangePercent": fmt(change / q.open * 100, 3), "weightedAvgPrice": spec.price_str(avg),
                "lastPrice": spec.price_str(q.last), "lastQty": spec.qty_str(q.last_qty),
                "openPrice": spec.price_str(q.open), "highPrice": spec.price_str(q.high),
                "lowPrice": spec.price_str(q.low), "volume": spec.qty_str(q.volume),
                "quoteVolume": fmt(q.quote_volume, 2), "openTime": now - 86_400_000, "closeTime": now,
                "firstId": 1, "lastId": q.count, "count": q.count,
            }
        return self._one_or_all(params, build)

    def premium_index(self, params: dict[str, str]) -> Any:
        now = self._clock()

        def build(symbol: str) -> dict[str, Any]:
            q = self.quotes[symbol]
            return {
                "symbol": symbol, "markPrice": fmt(q.mark, 8), "indexPrice": fmt(q.mark, 8),
                "estimatedSettlePrice": fmt(q.mark, 8), "lastFundingRate": fmt(q.funding_rate, 8),
                "interestRate": fmt(q.interest_rate, 8),
                "nextFundingTime": (now // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS, "time": now,
            }
        return self._one_or_all(params, build)

    def open_interest_hist(self, params: dict[str, str]) -> Any:
        """5-minute rows from ``startTime`` to ``endTime`` (at most ``limit``), the amount rising 1.5 a step from
        10,000 at 2025-01-01 and valued at the symbol's mark."""
        symbol = params.get("symbol", "")
        if symbol not in self.quotes:
            raise INVALID_SYMBOL
        step, origin = OI_STEP_MS, OI_ORIGIN_MS
        start = -(-int(params.get("startTime", origin)) // step) * step
        end = int(params.get("endTime", start + step * 29))
        limit = min(int(params.get("limit", 30)), 500)
        rows = []
        for at in range(start, end + 1, step)[:limit]:
            amount = OI_ORIGIN_AMOUNT + OI_STEP_AMOUNT * (at - origin) // step
            rows.append({"symbol": symbol, "sumOpenInterest": fmt(amount, 8),
                         "sumOpenInterestValue": fmt(amount * self.quotes[symbol].mark, 8),
                         "timestamp": at})
        return rows

    def open_interest(self, params: dict[str, str]) -> Any:
        """``/fapi/v1/openInterest``: the amount :meth:`open_interest_hist` has at the 5-minute step before now (the
        same numbers, so a poll continues the history), at the fake's clock."""
        spec = self.spec(params.get("symbol"))
        now = self._clock()
        step = now - now % OI_STEP_MS
        amount = OI_ORIGIN_AMOUNT + OI_STEP_AMOUNT * (step - OI_ORIGIN_MS) // OI_STEP_MS
        return {"symbol": spec.symbol, "openInterest": fmt(amount, 3), "time": now}

    def klines(self, params: dict[str, str], *, mark: bool = False) -> Any:
        """``/fapi/v1/klines`` and ``/fapi/v1/markPriceKlines`` (5m only): rows of the bars opening from
        ``startTime`` to ``endTime`` (and not after now), at most ``limit`` (default 500, above 1500 refused), each
        around the symbol's mark: the close steps -0.1 %, 0, +0.1 % by bar, the high 0.2 % above the body and the
        low 0.2 % below (the mark's 0.3 %), 10 base traded, 6 of it by takers buying (mark klines: no volume)."""
        spec = self.spec(params.get("symbol"))
        if params.get("interval") != "5m":
            raise ApiError(-1120, "Invalid interval.")
        limit = int(params.get("limit", 500))
        if not 1 <= limit <= 1500:
            raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
        now = self._clock()
        end = min(int(params.get("endTime", now)), now)
        start = int(params.get("startTime", end - (limit - 1) * OI_STEP_MS))
        start = -(-start // OI_STEP_MS) * OI_STEP_MS
        price = self.quotes[spec.symbol].mark
        wiggle = Decimal("0.003") if mark else Decimal("0.002")
        rows = []
        for at in range(start, end + 1, OI_STEP_MS)[:limit]:
            close = price * (1 + Decimal("0.001") * ((at // OI_STEP_MS) % 3 - 1))
            high, low = max(price, close) * (1 + wiggle), min(price, close) * (1 - wiggle)
            volume, taker = (Decimal(0), Decimal(0)) if mark else (Decimal(10), Decimal(6))
            rows.append([at, fmt(price, 8), fmt(high, 8), fmt(low, 8), fmt(close, 8), fmt(volume, 3),
                         at + OI_STEP_MS - 1, fmt(volume * close, 8), 0 if mark else 100, fmt(taker, 3),
                         fmt(taker * close, 8), "0"])
        return rows

    def leverage_bracket(self, params: dict[str, str]) -> Any:
        def build(symbol: str) -> dict[str, Any]:
            return {"symbol": symbol, "notionalCoef": 1.0, "brackets": [
                {"bracket": i + 1, "initialLeverage": lev, "notionalCap": cap, "notionalFloor": floor,
                 "maintMarginRatio": mmr, "cum": cum}
                for i, (lev, cap, floor, mmr, cum) in enumerate(BRACKETS)]}
        # Binance answers a list, or one object when `symbol` is given.
        return self._one_or_all(params, build)


def max_notional(leverage: int) -> int:
    """The notional cap Binance allows at `leverage` (the last bracket that still allows it)."""
    return max(cap for lev, cap, *_ in BRACKETS if lev >= leverage)


def maint_margin_ratio(notional: Decimal) -> Decimal:
    for _lev, cap, _floor, mmr, _cum in BRACKETS:
        if notional < cap:
            return Decimal(str(mmr))
    return Decimal(str(BRACKETS[-1][3]))
