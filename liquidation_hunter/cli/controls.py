"""``liquidation-hunter close SYMBOL`` and ``flatten``: close positions by hand, on a running bot or not.

Both act on the bot's books (``storage.path`` of ``--config``), as ``halt`` does, and refuse a config without
books. ``close`` closes one symbol's position at market with exit reason ``manual``; ``flatten`` halts new
entries and closes every open position (``resume`` lifts the halt).

* **A bot runs on the books** (``trading.status.bot_running``: its heartbeat is recent, or its process is
  still there and has not said it stopped, as a bot busy with a slow exchange may miss heartbeats): the
  command queues the request in the books and waits (``--wait``, 30 s by default) until the bot has
  carried it out in its next ``positions`` run (5 s by default); paper closes at the mark price, live
  sends a reduce-only market order after cancelling the position's stop-loss and take-profit orders.
* **No bot runs, paper books**: the command closes the position itself, at the exchange's current mark price
  (one REST request), through the same paper broker the bot uses. Without an answer from the exchange the
  request stays queued for the bot's next start.
* **No bot runs, live books**: the request is queued; the bot closes the position when it starts (``run
  --live``), before its first entry could be made. Closing live positions needs the bot's keys and its
  reconciliation with the exchange, so the command does not trade live itself.

Idempotent: a symbol with no open position is "nothing to close" (exit 0); a request already queued for the
same symbol is not queued twice; a second ``flatten`` on flat books only confirms the halt.

Exit codes: 0 done (or nothing to do); 2 a mistake (bad config, no books, bad symbol); 3 queued but not done
yet (no bot running on live books, no price, or the bot did not finish within ``--wait``): ``status`` shows it
pending, and the bot carries it out when it can.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog

from liquidation_hunter.bot.controls import carry_out
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.books import Books, ControlRequest
from liquidation_hunter.trading.errors import TradingError
from liquidation_hunter.trading.exchange import ExchangeClient
from liquidation_hunter.trading.paper import PaperBroker
from liquidation_hunter.trading.status import bot_running
from live_heatmap import system_clock_ms, to_unified

__all__ = ["QUEUED", "add_control_parsers"]

QUEUED = 3
"""Exit code: the request is queued, not carried out yet."""
FLATTEN_HALT = "flattened by hand"

BooksOpener = Callable[[argparse.Namespace], "tuple[BotConfig, Books] | None"]
_POLL_S = 0.2


def add_control_parsers(sub: Any, open_books: BooksOpener) -> None:
    """``close`` and ``flatten``; ``open_books`` opens the config's existing books for writing, or prints the
    one-line error and returns None (``halt``'s rule)."""
    epilog = ("Exit 0: done or nothing to close; 2: a mistake; 3: queued, not done yet (status shows it). "
              "With a running bot the request is carried out at its next positions run; without one, paper "
              "books are closed by the command at the exchange's mark price, live ones when the bot starts.")
    close = sub.add_parser("close", help="close one symbol's position at market (reason manual), on a running "
                           "bot or not", description="Close SYMBOL's open position at market, exit reason manual "
                           "(live: a reduce-only market order, its stop and take-profit orders cancelled).",
                           epilog=epilog)
    close.add_argument("symbol", metavar="SYMBOL", help="BTCUSDT or BTC/USDT:USDT")
    flatten = sub.add_parser("flatten", help="halt new entries and close every open position at market",
                             description="Halt new entries (resume lifts it), then close every open position "
                             "at market, exit reason manual.", epilog=epilog)
    for parser in (close, flatten):
        parser.add_argument("--config", "-c", required=True, help="the bot's YAML config")
        parser.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                            help="how long to wait for a running bot to carry it out (default 30; 0: do not wait)")
        parser.set_defaults(handler=lambda args: _cmd_control(args, open_books))


def _cmd_control(args: argparse.Namespace, open_books: BooksOpener) -> int:
    symbol: str | None = None
    if args.command == "close":
        try:
            symbol = to_unified(args.symbol.strip())
        except ValueError as exc:
            raise ValueError(f"SYMBOL: {exc}") from None
    if not args.wait >= 0:
        raise ValueError(f"--wait: expected a number of seconds >= 0, got {args.wait}")
    opened = open_books(args)
    if opened is None:
        return 2
    config, books = opened
    with books:
        now = system_clock_ms()
        if symbol is None:
            books.set_halt(FLATTEN_HALT, now)
            print(f"{books.path}: new entries halted ({FLATTEN_HALT}; resume lifts it)")
        held = [p.symbol for p in books.open_positions() if symbol is None or p.symbol == symbol]
        if not held:
            print(f"{books.path}: no open position on {symbol}: nothing to close" if symbol else
                  f"{books.path}: no open position: nothing to close")
            return 0
        request, new = books.request_control("close" if symbol else "flatten", symbol, now)
        what = f"close {symbol}" if symbol else f"flatten ({len(held)} positions: {', '.join(held)})"
        print(f"{books.path}: {what}: " + ("queued" if new else "already queued") + f" (request {request.id})")
        health_row = books.health()
        health, health_at = health_row if health_row else ({}, None)
        if bot_running(health, health_at, now_ms=now, heartbeat_s=config.schedule.heartbeat):
            return _await(books, request, args.wait, pid=health.get("pid"))
        if config.mode == "paper":
            return _close_here(config, books, request)
        print(f"queued: no bot is running on {books.path}; the bot will close it when it runs (run --live)")
        return QUEUED


def _await(books: Books, request: ControlRequest, wait_s: float, *, pid: Any) -> int:
    """Wait up to ``wait_s`` for the running bot to carry ``request`` out; print what it did."""
    print(f"waiting for the running bot (pid {pid}) to carry it out at its next positions run...", flush=True)
    deadline = time.monotonic() + wait_s
    while True:
        found = books.control_request(request.id)
        if found is not None and found.status == "done":
            print(found.result)
            return 0
        if time.monotonic() >= deadline:
            why = f" (last attempt: {found.result})" if found is not None and found.result else ""
            print(f"queued: the bot has not carried it out yet{why}; status shows it pending")
            return QUEUED
        time.sleep(_POLL_S)


def _close_here(config: BotConfig, books: Books, request: ControlRequest) -> int:
    """No bot runs on these paper books: close at the exchange's mark price through the paper broker."""
    wanted = [p.symbol for p in books.open_positions() if request.symbol is None or p.symbol == request.symbol]
    # the answer is the command's own lines; only errors are logged beside it, on stderr
    quiet = structlog.wrap_logger(structlog.PrintLogger(sys.stderr),
                                  wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    client = ExchangeClient.from_config(config.exchange, None, retries=1, logger=quiet)
    try:
        prices = client.mark_prices(wanted)
    except TradingError as exc:
        print(f"queued: no bot is running on {books.path} and the exchange gave no mark price ({exc}); "
              "the bot will close it when it runs")
        return QUEUED
    finally:
        client.close()
    broker = PaperBroker.from_risk(books, config.risk)  # a close fills the held quantity: no market rules needed
    if not carry_out(request, broker, books, prices, system_clock_ms(), logger=quiet):
        found = books.control_request(request.id)
        print(f"queued: {found.result if found else 'not done'}; the bot will close it when it runs")
        return QUEUED
    found = books.control_request(request.id)
    print(f"no bot is running on {books.path}: closed by this command at the exchange's mark price")
    print(found.result if found else "done")
    return 0
