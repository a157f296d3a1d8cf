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

Sizing: a trade risks ``risk_per_trade`` of equity between entry and stop, so
``notional = equity * risk_per_trade / (|entry - stop| / entry)``, capped by ``max_notional_per_position``
and by what the available balance can margin at ``leverage`` (keeping 1 % for fees).

A trade is skipped when its take-profit would not pay for itself: the distance to the take-profit must be at
least ``COST_COVER`` (2) times the round-trip costs, ``2 * (taker_fee + slippage_bps / 10^4)`` (0.28 % with
the defaults). A target closer than that loses money even when it is hit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from liquidation_hunter.config.sections import RiskConfig
from liquidation_hunter.signals.rules import Signal
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.model import AccountState, EntryOrder
from live_heatmap.common.timeparse import utc_day

__all__ = ["RiskManager", "Sizing", "entry_client_id", "utc_day"]

DRAWDOWN_HALT = "max drawdown"
MARGIN_HEADROOM = 0.99
COST_COVER = 2.0


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

    def __init__(self, config: RiskConfig, books: Books) -> None:
        self.config = config
        self.books = books

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
        stop_fraction = abs(entry - stop) / entry
        notional = account.equity * cfg.risk_per_trade / stop_fraction
        if cfg.max_notional_per_position is not None:
            notional = min(notional, cfg.max_notional_per_position)
        notional = min(notional, max(0.0, account.available) * cfg.leverage * MARGIN_HEADROOM)
        if notional <= 0:
            return Sizing(0.0, 0.0, stop, take, "no available balance")
        return Sizing(notional / entry, notional, stop, take)

    def entry_order(self, signal: Signal, sizing: Sizing, *, strategy: str, now_ms: int) -> EntryOrder:
        assert signal.entry is not None
        return EntryOrder(client_id=entry_client_id(signal, strategy), symbol=signal.symbol,
                          direction=signal.direction, quantity=sizing.quantity, reference_price=signal.entry,
                          stop_loss=sizing.stop_loss, take_profit=sizing.take_profit, leverage=self.config.leverage,
                          created_at=now_ms, strategy=strategy, reason=signal.reason)

    def time_exit_due(self, opened_at: int, now_ms: int) -> bool:
        minutes = self.config.time_exit_minutes
        return minutes is not None and now_ms - opened_at >= minutes * 60_000
