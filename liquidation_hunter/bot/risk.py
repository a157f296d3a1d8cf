"""Risk rules: whether a new entry is allowed, and how big it is. Pure logic over the books; time is an argument.

Entries are blocked (exits are always managed) when:

* the bot is halted (``liquidation-hunter halt``, or the drawdown limit below);
* ``max_open_positions`` positions are open, or the symbol already has one;
* the symbol's last exit is less than ``cooldown_minutes`` ago;
* today's loss (UTC day, equity against the day's first recorded equity) reaches ``daily_loss_limit_pct``;
  this lifts by itself at the next UTC midnight;
* equity is ``max_drawdown_pct`` below its recorded peak: this **halts** the bot (written to the books, so
  ``status`` shows it and a restart keeps it). ``liquidation-hunter resume`` lifts it and makes the current
  equity the new peak.

Sizing: the loss at the stop, **costs included**, is ``risk_per_trade`` of the equity. With ``e`` the entry
price, ``s`` the stop (rounded to the market's tick, as the broker places it), ``d`` the direction (+1 long,
-1 short), ``k = slippage_bps / 10^4`` and ``f = taker_fee``, the paper broker (as a market order on Binance)
fills the entry at ``E = e * (1 + d*k)`` and the stop at ``X = s * (1 - d*k)``, both taker fills. One unit of
quantity stopped out loses

    L = d * (E - X)  +  f * E  +  f * X      (price move and slippage, entry fee, exit fee)

so ``quantity = equity * risk_per_trade / L``. (Without the costs, ``L = d * (e - s)``: a 0.6 % stop with
the default 0.05 % fee and 2 bps of slippage loses about 23 % more than budgeted.) Funding and a stop that
gaps past its level are not in ``L``: the price after a gap is unknown in advance.

The notional ``quantity * e`` is then capped by ``max_notional_per_position``, by ``max_margin_pct`` of the
equity at ``leverage`` (margin ``notional / leverage`` at most that share of equity, so one trade cannot
take the margin the next signals need) and by what the available balance can margin (keeping 1 % for fees).
Caps only make the trade smaller, so its loss at the stop stays within the budget.

With the exchange's market rules (``precision``: the live :class:`~liquidation_hunter.trading.exchange.ExchangeClient`,
or the shipped rules of :mod:`liquidation_hunter.trading.markets` in paper mode and backtests) the quantity is
rounded **down** to the market's step (rounding never adds risk), and a quantity below the market's minimum
quantity, or a notional (at the entry fill) below its minimum order value (Binance's ``MIN_NOTIONAL``: 100
USDT on BTCUSDT, 20 on ETHUSDT, 5 on most others) is refused for size: the signal is recorded as
``skipped: too small for the exchange: ...`` with the figures, never traded at a larger size.

A trade is skipped when its take-profit would not pay for itself: the distance to the take-profit must be at
least ``COST_COVER`` (2) times the round-trip costs, ``2 * (taker_fee + slippage_bps / 10^4)`` (0.14 % with
the defaults). A target closer than that loses money even when it is hit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from liquidation_hunter.config.sections import RiskConfig
from liquidation_hunter.signals.rules import Signal
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.model import AccountState, EntryOrder
from liquidation_hunter.trading.paper import Precision
from live_heatmap.common.timeparse import utc_day

__all__ = ["NO_RULES", "TOO_SMALL", "RiskManager", "Sizing", "entry_client_id", "loss_at_stop", "utc_day"]

DRAWDOWN_HALT = "max drawdown"
MARGIN_HEADROOM = 0.99
COST_COVER = 2.0
NO_RULES = "no market rules"
"""How a sizing refused for want of the symbol's market rules begins."""
TOO_SMALL = "too small for the exchange"
"""How a sizing refused for the market's minimums begins (the signal log's ``skipped: too small ...``)."""


def loss_at_stop(direction: int, entry: float, stop: float, quantity: float, *, taker_fee: float,
                 slippage_bps: float) -> float:
    """What ``quantity`` entered at ``entry`` loses when stopped at ``stop``: the move between the two fills
    (each worsened by the slippage) plus the taker fee of both fills (module docstring)."""
    k = slippage_bps / 10_000.0
    fill_in = entry * (1.0 + direction * k)
    fill_out = stop * (1.0 - direction * k)
    return quantity * (direction * (fill_in - fill_out) + taker_fee * (fill_in + fill_out))


def entry_client_id(signal: Signal, strategy: str) -> str:
    """The entry's client order id, derived from the signal: the same trade idea always gets the same id.

    The idea is (strategy, symbol, direction, the cluster's id, or the signal's ``origin``/time without
    one). Binance allows 36 characters of ``[.A-Z:/a-z0-9_-]``: ``lh-`` plus 24 hex digits of a SHA-256.
    """
    idea = signal.cluster.cluster_id if signal.cluster is not None else (signal.origin or str(signal.generated_at))
    digest = hashlib.sha256(f"{strategy}|{signal.symbol}|{signal.direction}|{idea}".encode()).hexdigest()
    return f"lh-{digest[:24]}"


@dataclass(frozen=True, slots=True)
class Sizing:
    """How much to trade, or why not (``quantity == 0`` with a ``reason``)."""

    quantity: float
    notional: float
    stop_loss: float
    take_profit: float
    reason: str = ""


class RiskManager:
    """The ``risk`` section applied to the books (module docstring)."""

    def __init__(self, config: RiskConfig, books: Books, precision: Precision | None = None) -> None:
        self.config = config
        self.books = books
        self.precision = precision
        """The exchange's market rules (steps, ticks, minimums); None: quantities are not rounded."""

    def entry_block(self, symbol: str, account: AccountState, open_symbols: set[str], now_ms: int) -> str | None:
        """Why no new entry on ``symbol`` now, or None when one is allowed. May halt the bot (drawdown)."""
        halted = self.books.halt_reason()
        if halted is not None:
            return f"halted: {halted}"
        guard = self.account_block(account, now_ms)
        if guard is not None:
            return guard
        if symbol in open_symbols:
            return "a position is open on this symbol"
        if len(open_symbols) >= self.config.max_open_positions:
            return f"max_open_positions ({self.config.max_open_positions}) reached"
        last_exit = self.books.last_exit_at(symbol)
        cooldown_ms = self.config.cooldown_minutes * 60_000
        if last_exit is not None and now_ms - last_exit < cooldown_ms:
            left = (cooldown_ms - (now_ms - last_exit)) / 60_000
            return f"cooldown after the last exit ({left:.1f} min left)"
        return None

    def account_block(self, account: AccountState, now_ms: int) -> str | None:
        """The account-wide limits: drawdown (halts; checked first, so the halt is written as soon as it is
        reached even on a day whose loss limit already blocks) and daily loss (blocks until UTC midnight)."""
        cfg = self.config
        equity = account.equity
        if cfg.max_drawdown_pct is not None:
            peak = self.books.peak_equity()
            if peak is not None and peak > 0 and equity <= peak * (1.0 - cfg.max_drawdown_pct / 100.0):
                reason = (f"{DRAWDOWN_HALT}: equity {equity:.2f} is {100 * (1 - equity / peak):.2f} % below the "
                          f"peak {peak:.2f} (limit {cfg.max_drawdown_pct:g} %); `liquidation-hunter resume` lifts it")
                self.books.set_halt(reason, now_ms)
                return f"halted: {reason}"
        if cfg.daily_loss_limit_pct is not None:
            start = self.books.day_start_equity(utc_day(now_ms), equity, now_ms)
            if start > 0 and equity <= start * (1.0 - cfg.daily_loss_limit_pct / 100.0):
                return (f"daily loss limit: equity {equity:.2f} is {100 * (1 - equity / start):.2f} % below "
                        f"today's start {start:.2f} (limit {cfg.daily_loss_limit_pct:g} %)")
        return None

    def size(self, signal: Signal, account: AccountState) -> Sizing:
        """The position for ``signal`` at its entry price (module docstring)."""
        cfg = self.config
        entry = signal.entry
        if entry is None or entry <= 0 or signal.direction == 0:
            return Sizing(0.0, 0.0, 0.0, 0.0, "the signal has no entry")
        if cfg.from_signal:
            if signal.stop_loss is None or signal.take_profit is None:
                return Sizing(0.0, 0.0, 0.0, 0.0, "the signal has no stop-loss or take-profit")
            stop, take = signal.stop_loss, signal.take_profit
        else:
            assert cfg.stop_loss_pct is not None and cfg.take_profit_pct is not None
            stop = entry * (1.0 - signal.direction * cfg.stop_loss_pct / 100.0)
            take = entry * (1.0 + signal.direction * cfg.take_profit_pct / 100.0)
        if (entry - stop) * signal.direction <= 0 or (take - entry) * signal.direction <= 0:
            return Sizing(0.0, 0.0, stop, take, "stop-loss or take-profit on the wrong side of the entry")
        costs = 2.0 * (cfg.taker_fee + cfg.slippage_bps / 10_000.0)
        target = abs(take - entry) / entry
        if target < COST_COVER * costs:
            return Sizing(0.0, 0.0, stop, take, f"take-profit {100 * target:.3f} % away does not cover {COST_COVER:g} "
                          f"x the round-trip costs ({100 * costs:.3f} %)")
        rules = self.precision
        if rules is not None and not rules.has_market(signal.symbol):
            return Sizing(0.0, 0.0, stop, take, f"{NO_RULES}: the exchange's market rules (step, tick, minimums) "
                          f"do not list {signal.symbol}")
        placed = float(rules.price_to_precision(signal.symbol, stop)) if rules is not None else stop
        d = signal.direction
        if (entry - placed) * d <= 0:
            return Sizing(0.0, 0.0, stop, take, f"stop-loss {stop:.8g} rounds to {placed:.8g} at the market's tick, "
                          f"not beyond the entry {entry:.8g}")
        per_unit = loss_at_stop(d, entry, placed, 1.0, taker_fee=cfg.taker_fee, slippage_bps=cfg.slippage_bps)
        notional = account.equity * cfg.risk_per_trade / per_unit * entry
        if cfg.max_notional_per_position is not None:
            notional = min(notional, cfg.max_notional_per_position)
        notional = min(notional, max(0.0, account.equity) * cfg.max_margin_pct / 100.0 * cfg.leverage)
        notional = min(notional, max(0.0, account.available) * cfg.leverage * MARGIN_HEADROOM)
        if notional <= 0:
            return Sizing(0.0, 0.0, stop, take, "no available balance")
        quantity = notional / entry
        if rules is None:
            return Sizing(quantity, notional, stop, take)
        return self._rounded(signal.symbol, d, entry, quantity, stop=stop, take=take)

    def _rounded(self, symbol: str, direction: int, entry: float, quantity: float, *, stop: float,
                 take: float) -> Sizing:
        """``quantity`` rounded down to the market's step; refused (module docstring) below its minimums."""
        rules = self.precision
        assert rules is not None
        rounded = float(rules.amount_to_precision(symbol, quantity))
        least = rules.min_amount(symbol)
        if rounded <= 0.0 or (least is not None and rounded < least):
            return Sizing(0.0, 0.0, stop, take, f"{TOO_SMALL}: quantity {quantity:.8g} rounds down to {rounded:g} "
                          f"at {symbol}'s step, below its minimum quantity {least if least is not None else 0:g}")
        fill = entry * (1.0 + direction * self.config.slippage_bps / 10_000.0)
        smallest = rules.min_notional(symbol)
        if smallest is not None and rounded * fill < smallest:
            return Sizing(0.0, 0.0, stop, take, f"{TOO_SMALL}: notional {rounded * fill:.2f} USDT ({rounded:g} at "
                          f"{fill:.8g}), below {symbol}'s minimum order value {smallest:g} USDT")
        return Sizing(rounded, rounded * entry, stop, take)

    def entry_order(self, signal: Signal, sizing: Sizing, *, strategy: str, now_ms: int) -> EntryOrder:
        assert signal.entry is not None
        return EntryOrder(client_id=entry_client_id(signal, strategy), symbol=signal.symbol,
                          direction=signal.direction, quantity=sizing.quantity, reference_price=signal.entry,
                          stop_loss=sizing.stop_loss, take_profit=sizing.take_profit, leverage=self.config.leverage,
                          created_at=now_ms, strategy=strategy, reason=signal.reason)

    def time_exit_due(self, opened_at: int, now_ms: int) -> bool:
        minutes = self.config.time_exit_minutes
        return minutes is not None and now_ms - opened_at >= minutes * 60_000
