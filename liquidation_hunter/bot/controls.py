"""Closing by hand: ``liquidation-hunter close SYMBOL`` and ``flatten`` carried out on a bot's books.

The commands write a request into the books (``control_requests``, :meth:`Books.request_control`); a running
bot carries it out in its ``positions`` job (every ``schedule.positions`` seconds, 5 by default), under the
trading lock, after the broker has acted on the prices. The same function serves the command itself when no
bot runs on paper books (``cli/controls.py``).

Each position is closed at market with exit reason ``manual`` through the bot's broker: paper fills at the
current mark price (with the configured slippage and taker fee), live sends a reduce-only market order after
cancelling the position's stop-loss and take-profit orders (``LiveBroker.close``). A request is done when every
position it names is closed (or none was open); otherwise it stays pending with the reason (no fresh price yet,
the exchange refused) and the next run tries again. ``flatten`` also halts new entries: the command sets the
halt before it queues the request, so no entry can slip in between.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog

from liquidation_hunter.trading.books import Books, ControlRequest
from liquidation_hunter.trading.errors import TradingError
from liquidation_hunter.trading.model import Broker, ClosedTrade

__all__ = ["carry_out", "carry_out_pending", "describe_trade"]

_log = structlog.get_logger("liquidation_hunter.bot")


def describe_trade(trade: ClosedTrade) -> str:
    """``closed BTC/USDT:USDT long 0.01 at 101000 (manual): net -1.23 USDT``."""
    p = trade.position
    side = "long" if p.direction > 0 else "short"
    return (f"closed {p.symbol} {side} {p.quantity:.8g} at {trade.exit_price:.8g} ({trade.reason}): "
            f"net {trade.net_pnl:+,.2f} USDT")


def carry_out(request: ControlRequest, broker: Broker, books: Books, prices: Mapping[str, float], now_ms: int, *,
              on_exit: Callable[[ClosedTrade], None] | None = None, logger: Any = None) -> bool:
    """Close what ``request`` names at market (module docstring); True when the request is done.

    ``prices``: current prices by unified symbol. Paper needs one to fill at; live sends its market order
    whatever the price (it only values a position the exchange closed meanwhile). ``on_exit``: called with each
    trade closed. ``logger``: a structlog logger (default: the bot's).
    """
    log = logger if logger is not None else _log
    wanted = [p for p in broker.positions() if request.symbol is None or p.symbol == request.symbol]
    done: list[str] = []
    waiting: list[str] = []
    for position in wanted:
        price = prices.get(position.symbol)
        if price is None and broker.name == "paper":
            waiting.append(f"{position.symbol}: no fresh price yet")
            continue
        try:
            trade = broker.close(position, "manual", position.entry_price if price is None else price, now_ms)
        except TradingError as exc:
            waiting.append(f"{position.symbol}: {exc}")
            log.error("manual_close_failed", request=request.id, symbol=position.symbol,
                      client_id=position.client_id, error=str(exc), action="trying again at the next run")
            continue
        if trade is not None:
            done.append(describe_trade(trade))
            if on_exit is not None:
                on_exit(trade)
    if waiting:
        books.retry_control(request.id, "; ".join([*done, *waiting]))
        log.warning("manual_close_waits", request=request.id, kind=request.kind, symbol=request.symbol,
                    closed=len(done), waiting=waiting)
        return False
    if done:
        result = "; ".join(done)
    else:
        result = f"no open position on {request.symbol}" if request.symbol else "no open position"
    books.finish_control(request.id, result, now_ms)
    log.info("manual_close_done", request=request.id, kind=request.kind, symbol=request.symbol, result=result)
    return True


def carry_out_pending(broker: Broker, books: Books, prices: Mapping[str, float], now_ms: int, *,
                      on_exit: Callable[[ClosedTrade], None] | None = None) -> int:
    """Every pending request, oldest first; returns how many were done."""
    pending = books.control_requests(pending=True)
    return sum(carry_out(r, broker, books, prices, now_ms, on_exit=on_exit) for r in pending)
