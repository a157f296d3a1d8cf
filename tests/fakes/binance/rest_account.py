"""The fake account: USDT wallet, leverage and margin type per symbol, one-way-mode positions.

Fills change the position (weighted entry price, realized PnL into the wallet, the taker or maker
fee out of it). Margin is cross-margin arithmetic: available = wallet + unrealized PnL - position
initial margin - open-order initial margin, which is what decides `-2019 Margin is insufficient.`
Liquidation prices are not modelled (always "0").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .rest_market import MarketBook, maint_margin_ratio, max_notional
from .rest_wire import ApiError, fmt, int_param, mandatory, need

ZERO = Decimal(0)
DEFAULT_LEVERAGE = 20
ZERO_ASSETS = ("BNB", "USDC")  # listed by /fapi/v3/account with updateTime 0, as for an unused asset


@dataclass
class Position:
    """One symbol's position in one-way mode: `amount` > 0 long, < 0 short."""

    symbol: str
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    update_time: int = 0


class Ledger:
    """Wallet, positions, leverage and margin types, and the account endpoints' answers."""

    def __init__(self, market: MarketBook, clock: Callable[[], int], wallet: float,
                 taker_fee: float, maker_fee: float) -> None:
        self.market = market
        self.clock = clock
        self.wallet = Decimal(str(wallet))
        self.taker_fee = Decimal(str(taker_fee))
        self.maker_fee = Decimal(str(maker_fee))
        self.leverage = dict.fromkeys(market.specs, DEFAULT_LEVERAGE)
        self.margin_type = dict.fromkeys(market.specs, "CROSSED")
        self.positions = {s: Position(s) for s in market.specs}
        self.dual_side_position = False
        self.wallet_updated = clock()
        self.incomes: list[dict[str, Any]] = []
        """/fapi/v1/income rows, oldest first (funding payments, transfers the test made)."""
        self._tran_id = 9_000_000_000
        # set by the order book: initial margin its open orders hold, and whether a symbol has any
        self.open_order_margin: Callable[[str | None], Decimal] = lambda _symbol: ZERO
        self.has_open_orders: Callable[[str], bool] = lambda _symbol: False

    # ------------------------------------------------------------- arithmetic

    def mark(self, symbol: str) -> Decimal:
        return self.market.quotes[symbol].mark

    def unrealized(self, symbol: str) -> Decimal:
        pos = self.positions[symbol]
        return pos.amount * (self.mark(symbol) - pos.entry_price) if pos.amount else ZERO

    def notional(self, symbol: str) -> Decimal:
        return self.positions[symbol].amount * self.mark(symbol)

    def position_margin(self, symbol: str) -> Decimal:
        return abs(self.notional(symbol)) / self.leverage[symbol]

    def margin_balance(self) -> Decimal:
        return self.wallet + sum((self.unrealized(s) for s in self.positions), ZERO)

    def available(self) -> Decimal:
        used = sum((self.position_margin(s) for s in self.positions), ZERO) + self.open_order_margin(None)
        return self.margin_balance() - used

    def reducible(self, symbol: str, side: str) -> Decimal:
        """How much an order on `side` can reduce the position (0 if it would only add)."""
        amount = self.positions[symbol].amount
        if (side == "SELL" and amount > 0) or (side == "BUY" and amount < 0):
            return abs(amount)
        return ZERO

    def check_margin(self, symbol: str, side: str, qty: Decimal, price: Decimal) -> None:
        """Raise -2019 when the part of an order that adds exposure needs more margin than is free."""
        adding = qty - min(qty, self.reducible(symbol, side))
        needed = adding * price / self.leverage[symbol] + qty * price * self.taker_fee
        if adding > 0 and needed > self.available():
            raise ApiError(-2019, "Margin is insufficient.")

    def apply_fill(self, symbol: str, side: str, qty: Decimal, price: Decimal, *, maker: bool) -> None:
        """Book a fill: position, entry price, realized PnL and fee."""
        pos = self.positions[symbol]
        signed = qty if side == "BUY" else -qty
        if pos.amount == 0 or (pos.amount > 0) == (signed > 0):
            total = abs(pos.amount) + qty
            pos.entry_price = (abs(pos.amount) * pos.entry_price + qty * price) / total
        else:
            closing = min(qty, abs(pos.amount))
            direction = 1 if pos.amount > 0 else -1
            self.wallet += closing * (price - pos.entry_price) * direction
            if qty > closing:
                pos.entry_price = price
        pos.amount += signed
        if pos.amount == 0:
            pos.entry_price = ZERO
        self.wallet -= qty * price * (self.maker_fee if maker else self.taker_fee)
        pos.update_time = self.wallet_updated = self.clock()
        self.market.record_trade(symbol, qty, price)

    def _income(self, symbol: str, kind: str, amount: Decimal, at: int) -> None:
        self._tran_id += 1
        self.incomes.append({"symbol": symbol, "incomeType": kind, "income": fmt(amount, 8), "asset": "USDT",
                             "info": kind, "time": at, "tranId": self._tran_id, "tradeId": ""})

    def set_wallet(self, wallet: Decimal, at: int) -> None:
        """A deposit or withdrawal outside trading: the wallet becomes `wallet` (a TRANSFER income row)."""
        self._income("", "TRANSFER", wallet - self.wallet, at)
        self.wallet = wallet
        self.wallet_updated = at

    def pay_funding(self, symbol: str, at: int) -> Decimal:
        """Settle funding on `symbol` at `at`: a long pays `rate * notional` at the mark price, a short
        receives it (negative rates the reverse); a FUNDING_FEE income row. Returns the amount (+ received)."""
        pos = self.positions[symbol]
        amount = -pos.amount * self.mark(symbol) * self.market.quotes[symbol].funding_rate
        if pos.amount:
            self.wallet += amount
            self.wallet_updated = at
            self._income(symbol, "FUNDING_FEE", amount, at)
        return amount

    def income(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """GET /fapi/v1/income: by incomeType, symbol, startTime/endTime (inclusive), oldest first, `limit`
        rows (default 100, at most 1000)."""
        symbol = params.get("symbol")
        if symbol:
            self.market.spec(symbol)
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        limit = int_param(params, "limit") or 100
        if not 1 <= limit <= 1000:
            raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
        kind = params.get("incomeType")
        rows = [r for r in self.incomes if (kind is None or r["incomeType"] == kind)
                and (not symbol or r["symbol"] == symbol) and (start is None or r["time"] >= start)
                and (end is None or r["time"] <= end)]
        return rows[:limit]

    # ------------------------------------------------------------- endpoints

    def set_leverage(self, params: dict[str, str]) -> dict[str, Any]:
        spec = self.market.spec(params.get("symbol"))
        leverage = int_param(params, "leverage")
        if leverage is None:
            raise mandatory("leverage")
        if not 1 <= leverage <= 125:
            raise ApiError(-4028, f"Leverage {leverage} is not valid")
        self.leverage[spec.symbol] = leverage
        return {"leverage": leverage, "maxNotionalValue": str(max_notional(leverage)), "symbol": spec.symbol}

    def set_margin_type(self, params: dict[str, str]) -> dict[str, Any]:
        spec = self.market.spec(params.get("symbol"))
        wanted = need(params, "marginType").upper()
        if wanted not in ("ISOLATED", "CROSSED"):
            raise ApiError(-1100, "Illegal characters found in parameter 'marginType'.")
        if wanted == self.margin_type[spec.symbol]:
            raise ApiError(-4046, "No need to change margin type.")
        if self.positions[spec.symbol].amount:
            raise ApiError(-4048, "Margin type cannot be changed if there exists position.")
        if self.has_open_orders(spec.symbol):
            raise ApiError(-4047, "Margin type cannot be changed if there exists open orders.")
        self.margin_type[spec.symbol] = wanted
        return {"code": 200, "msg": "success"}

    def position_mode(self, _params: dict[str, str]) -> dict[str, Any]:
        return {"dualSidePosition": self.dual_side_position}

    def symbol_config(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = params.get("symbol")
        chosen = [self.market.spec(symbol).symbol] if symbol else list(self.positions)
        return [{"symbol": s, "marginType": self.margin_type[s], "isAutoAddMargin": "false",
                 "leverage": self.leverage[s], "maxNotionalValue": str(max_notional(self.leverage[s]))}
                for s in chosen]

    def _active_symbols(self, params: dict[str, str]) -> list[str]:
        """Symbols with a position or open orders (what v3 lists), restricted to `symbol` if sent."""
        symbol = params.get("symbol")
        chosen = [self.market.spec(symbol).symbol] if symbol else list(self.positions)
        return [s for s in chosen if self.positions[s].amount or self.has_open_orders(s)]

    def _position_row(self, symbol: str) -> dict[str, Any]:
        pos = self.positions[symbol]
        notional = self.notional(symbol)
        initial = self.position_margin(symbol)
        order_margin = self.open_order_margin(symbol)
        fee_factor = 1 + self.taker_fee if pos.amount >= 0 else 1 - self.taker_fee
        return {
            "symbol": symbol, "positionSide": "BOTH", "positionAmt": self.market.specs[symbol].qty_str(pos.amount),
            "entryPrice": fmt(pos.entry_price, 8), "breakEvenPrice": fmt(pos.entry_price * fee_factor, 8),
            "markPrice": fmt(self.mark(symbol), 8), "unRealizedProfit": fmt(self.unrealized(symbol), 8),
            "liquidationPrice": "0", "isolatedMargin": "0", "notional": fmt(notional, 8), "marginAsset": "USDT",
            "isolatedWallet": "0", "initialMargin": fmt(initial + order_margin, 8),
            "maintMargin": fmt(abs(notional) * maint_margin_ratio(abs(notional)), 8),
            "positionInitialMargin": fmt(initial, 8), "openOrderInitialMargin": fmt(order_margin, 8),
            "adl": 0, "bidNotional": "0", "askNotional": "0", "updateTime": pos.update_time,
        }

    def position_risk_v3(self, params: dict[str, str]) -> list[dict[str, Any]]:
        return [self._position_row(s) for s in self._active_symbols(params)]

    def position_risk_v2(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """v2 lists every symbol (or the one asked for), with leverage and margin type."""
        symbol = params.get("symbol")
        chosen = [self.market.spec(symbol).symbol] if symbol else list(self.positions)
        rows = []
        for s in chosen:
            row = self._position_row(s)
            for key in ("breakEvenPrice", "marginAsset", "initialMargin", "maintMargin", "positionInitialMargin",
                        "openOrderInitialMargin", "adl", "bidNotional", "askNotional"):
                row.pop(key)
            row.update(leverage=str(self.leverage[s]), maxNotionalValue=str(max_notional(self.leverage[s])),
                       marginType="cross" if self.margin_type[s] == "CROSSED" else "isolated",
                       isAutoAddMargin="false")
            rows.append(row)
        return rows

    def account(self, params: dict[str, str], *, version: int = 3) -> dict[str, Any]:
        upnl = self.margin_balance() - self.wallet
        position_im = sum((self.position_margin(s) for s in self.positions), ZERO)
        order_im = self.open_order_margin(None)
        maint = sum((abs(self.notional(s)) * maint_margin_ratio(abs(self.notional(s))) for s in self.positions), ZERO)
        available = self.available()
        usdt = {
            "asset": "USDT", "walletBalance": fmt(self.wallet, 8), "unrealizedProfit": fmt(upnl, 8),
            "marginBalance": fmt(self.wallet + upnl, 8), "maintMargin": fmt(maint, 8),
            "initialMargin": fmt(position_im + order_im, 8), "positionInitialMargin": fmt(position_im, 8),
            "openOrderInitialMargin": fmt(order_im, 8), "crossWalletBalance": fmt(self.wallet, 8),
            "crossUnPnl": fmt(upnl, 8), "availableBalance": fmt(available, 8),
            "maxWithdrawAmount": fmt(max(ZERO, min(available, self.wallet)), 8), "updateTime": self.wallet_updated,
        }
        zeros = [{**{k: fmt(ZERO, 8) for k in usdt if k not in ("asset", "updateTime")}, "asset": a, "updateTime": 0}
                 for a in ZERO_ASSETS]
        positions = []
        for s in self._active_symbols({}):
            row = self._position_row(s)
            positions.append({k: row[k] for k in ("symbol", "positionSide", "positionAmt", "isolatedMargin",
                                                   "notional", "isolatedWallet", "initialMargin", "maintMargin",
                                                   "updateTime")} | {"unrealizedProfit": row["unRealizedProfit"]})
        answer: dict[str, Any] = {
            "totalInitialMargin": usdt["initialMargin"], "totalMaintMargin": usdt["maintMargin"],
            "totalWalletBalance": usdt["walletBalance"], "totalUnrealizedProfit": usdt["unrealizedProfit"],
            "totalMarginBalance": usdt["marginBalance"], "totalPositionInitialMargin": usdt["positionInitialMargin"],
            "totalOpenOrderInitialMargin": usdt["openOrderInitialMargin"],
            "totalCrossWalletBalance": usdt["crossWalletBalance"], "totalCrossUnPnl": usdt["crossUnPnl"],
            "availableBalance": usdt["availableBalance"], "maxWithdrawAmount": usdt["maxWithdrawAmount"],
            "assets": [usdt, *zeros], "positions": positions,
        }
        if version == 2:
            answer.update(feeTier=0, feeBurn=False, canTrade=True, canDeposit=True, canWithdraw=True,
                          updateTime=0, multiAssetsMargin=False, tradeGroupId=-1)
            for asset in answer["assets"]:
                asset["marginAvailable"] = True
            for row in answer["positions"]:
                s = row["symbol"]
                row.update(leverage=str(self.leverage[s]), isolated=self.margin_type[s] == "ISOLATED",
                           entryPrice=fmt(self.positions[s].entry_price, 8),
                           maxNotional=str(max_notional(self.leverage[s])))
        return answer
