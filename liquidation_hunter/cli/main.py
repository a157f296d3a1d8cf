"""The ``liquidation-hunter`` command line. Output goes to stdout; errors to stderr with exit code 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml

from liquidation_hunter import __version__
from liquidation_hunter.api.auth import ApiAuthError
from liquidation_hunter.cli.alerts import add_alerts_parser
from liquidation_hunter.cli.backtest import add_backtest_parser
from liquidation_hunter.cli.controls import add_control_parsers
from liquidation_hunter.cli.fetch import add_fetch_parser
from liquidation_hunter.cli.heatmap import add_heatmap_parser, parse_exchanges_option
from liquidation_hunter.cli.history import add_history_parsers
from liquidation_hunter.cli.serve import add_serve_parser
from liquidation_hunter.cli.validate import add_validate_parser
from liquidation_hunter.config.feed import REDIS_URL
from liquidation_hunter.config.model import BotConfig, ConfigFileError, load_config
from liquidation_hunter.config.sections import MEMORY
from liquidation_hunter.data.prices import load_prices
from liquidation_hunter.signals.hunter import LiquidationHunter
from liquidation_hunter.signals.rules import HunterConfig
from liquidation_hunter.trading.books import Books, BooksError
from liquidation_hunter.trading.status import render_status, status_report
from live_heatmap import LiveLiquidationHeatmap, system_clock_ms, to_exchange_id
from live_heatmap.common.timeparse import parse_time_ms
from live_heatmap.store.history import load_events

__all__ = ["main"]


def _cmd_clusters(args: argparse.Namespace) -> int:
    path = Path(args.events)
    if not path.exists():  # a file, or a Parquet dataset's directory
        raise ValueError(f"--events {path}: no such file")
    try:  # every format the other commands read (history.load_events)
        events = load_events(path)
    except ValueError as exc:
        raise ValueError(f"--events {exc}") from None
    if not events:
        raise ValueError(f"{path} holds no liquidation events")
    at_ms = parse_time_ms(args.at) if args.at else max(e.trade_time for e in events)
    heatmap = LiveLiquidationHeatmap(cluster_window_pct=args.window_pct, min_cluster_size=args.min_size,
                                     time_decay_minutes=args.decay_minutes, clock=lambda: at_ms)
    heatmap.ingest_many(e for e in events if e.trade_time <= at_ms)
    wanted = [to_exchange_id(s) for s in args.symbol] if args.symbol else heatmap.symbols()
    last_price = {e.symbol: e.price for e in sorted(events, key=lambda e: e.trade_time) if e.trade_time <= at_ms}
    price_origin = "last traded liquidation price"
    if args.prices:  # the recorded price at --at, where the files have one; else the last liquidation's
        try:
            series = load_prices(args.prices)
        except ValueError as exc:
            raise ValueError(f"--prices {exc}") from None
        recorded = {s: p for s in last_price if (p := series.price_at(s, at_ms)) is not None}
        last_price.update(recorded)
        price_origin = (f"recorded price from {', '.join(Path(p).name for p in args.prices)} for "
                        f"{len(recorded)} symbols, else the last traded liquidation price")
    try:  # --min-strength applies to the signals too; without it they use the hunter's default
        config = HunterConfig() if args.min_strength is None else HunterConfig(min_strength=args.min_strength)
    except ValueError as exc:
        raise ValueError(f"--min-strength: {exc}") from None
    exchanges = parse_exchanges_option(args.exchanges, "--exchanges")
    hunter = LiquidationHunter(config, heatmap, exchanges=exchanges)
    when = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="seconds")
    venues = heatmap.venues()
    print(f"clusters at {when} from {path.name} ({heatmap.stats()['accepted']} events up to then"
          f"{'' if exchanges is None else '; clusters of ' + ', '.join(exchanges) + ' only'})")
    split = len(venues) > 1 or venues[:1] not in ([], ["binance"])  # a venues column when there is a choice
    print(f"{'symbol':<16}{'side':<7}{'level':>14}{'count':>7}{'notional':>14}{'strength':>10}{'dist %':>9}"
          + ("  venues" if split else ""))
    shown = 0
    for symbol in wanted:
        if symbol in last_price:
            heatmap.update_price(symbol, last_price[symbol], at_ms)
        for c in heatmap.get_clusters(symbol, min_strength=args.min_strength or 0.0, exchanges=exchanges):
            dist = f"{c.distance_from_price:.2f}" if c.distance_from_price is not None else "-"
            shares = "  " + " ".join(f"{v} {n / c.total_notional:.0%}" for v, n in c.notional_by_venue) if split else ""
            print(f"{c.symbol:<16}{c.side:<7}{c.price_level:>14.6g}{c.liquidation_count:>7}"
                  f"{c.total_notional:>14,.0f}{c.strength:>10.3f}{dist:>9}{shares}")
            shown += 1
    print(f"{shown} clusters")
    print(f"signals ({price_origin} as the current price):")
    for symbol in wanted:
        if symbol not in last_price:
            continue
        signal = hunter.evaluate(symbol, last_price[symbol], now_ms=at_ms)
        if signal.direction:
            print(f"  {signal.symbol:<20} {signal.side:<5} strength {signal.strength:.3f} entry {signal.entry:.6g}"
                  f" tp {signal.take_profit:.6g} sl {signal.stop_loss:.6g}  ({signal.reason})")
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a bot's config file; print the effective config (secrets masked) or the one-line error."""
    config = _load(args.file)
    if config is None:
        return 2
    effective = config.to_dict(masked=True)
    if args.json:
        print(json.dumps(effective, indent=2, ensure_ascii=False))
    else:
        trading = ("LIVE, real money (needs --live to run)" if config.real_money else
                   "live on Binance demo trading (needs --live to run)" if config.mode == "live" else
                   "paper (simulated fills)")
        print(f"# {args.file}: valid; {trading}. Effective configuration, defaults filled in, secrets masked"
              " (null: not set in the environment).")
        print(yaml.safe_dump(effective, sort_keys=False, allow_unicode=True, default_flow_style=False), end="")
    for warning in config.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _load(path: str, *, strategy: bool = True) -> BotConfig | None:
    """The config at ``path`` with its strategy's parameters checked (``strategy``), or the one-line error printed
    (and None returned)."""
    from liquidation_hunter.bot.assembly import check_layers, check_strategy  # noqa: PLC0415 - lazy: websocket-client

    try:
        config = load_config(path)
        if strategy:
            check_strategy(config)
            check_layers(config)
        return config
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _cmd_run(args: argparse.Namespace) -> int:
    """Run the bot until SIGINT/SIGTERM (``liquidation_hunter.bot.runner``)."""
    from liquidation_hunter.bot.runner import LiveModeRefused, run  # noqa: PLC0415 - lazy: websocket-client, APScheduler

    config = _load(args.config)
    if config is None:
        return 2
    try:
        return run(config, live_flag=args.live)
    except (LiveModeRefused, BooksError, ApiAuthError, OSError) as exc:  # OSError: e.g. the API's port is taken
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _cmd_record(args: argparse.Namespace) -> int:
    """Only the recorder: the stream into ``storage.events``, no trading, until SIGINT/SIGTERM."""
    from liquidation_hunter.bot.record import run_recorder  # noqa: PLC0415 - lazy: websocket-client, APScheduler

    config = _load(args.config, strategy=False)  # the recorder runs no strategy
    if config is None:
        return 2
    if args.publish is not None and not REDIS_URL.fullmatch(args.publish):
        shown = "<a URL with credentials>" if "@" in args.publish else repr(args.publish)  # never a secret echoed
        print(f"error: --publish: expected a Redis URL without credentials such as redis://127.0.0.1:6379/0 (a "
              f"password comes from REDIS_PASSWORD), got {shown}", file=sys.stderr)
        return 2
    return run_recorder(config, publish=args.publish)


def _books_of(args: argparse.Namespace, *, write: bool) -> tuple[BotConfig, Books] | None:
    # the strategy is not built: status, halt, close and flatten must work on a running bot's books even when
    # its strategy file or parameters were broken since (and need not run the user's strategy code)
    config = _load(args.config, strategy=False)
    if config is None:
        return None
    path = config.storage.path
    if write and (path == MEMORY or not Path(path).is_file()):  # halt/resume/close act on a bot's existing books
        print(f"error: no books at {path}: is this the bot's config? (storage.path)", file=sys.stderr)
        return None
    try:
        books = (Books.open(config.storage.path, mode=config.mode, starting_wallet=config.risk.starting_wallet)
                 if write else Books.open_readonly(config.storage.path))
    except BooksError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return config, books


def _cmd_status(args: argparse.Namespace) -> int:
    opened = _books_of(args, write=False)
    if opened is None:
        return 2
    config, books = opened
    with books:
        report = status_report(books, now_ms=system_clock_ms(), heartbeat_s=config.schedule.heartbeat,
                               signals=args.signals)
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else render_status(report))
    return 0


def _cmd_halt(args: argparse.Namespace) -> int:
    opened = _books_of(args, write=True)
    if opened is None:
        return 2
    with opened[1] as books:
        if args.command == "halt":
            reason = f"halted by hand: {args.reason}" if args.reason else "halted by hand"
            books.set_halt(reason, system_clock_ms())
            print(f"{books.path}: new entries halted ({reason}); open positions are still managed")
        else:
            was = books.halt_reason()
            books.set_halt(None, system_clock_ms())
            snaps = books.snapshots()
            if was and snaps:
                books.reset_peak(snaps[-1].equity, system_clock_ms())
            print(f"{books.path}: entries resumed" + (f" (was: {was})" if was else " (was not halted)"))
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liquidation-hunter",
                                     description="Trade signals from Binance USD-M liquidation clusters.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    clusters = sub.add_parser("clusters", help="clusters and signals of a recording at a moment")
    clusters.add_argument("--events", required=True,
                          help="the recording: forceOrder JSON lines, a CSV, an export or an event store (SQLite)")
    clusters.add_argument("--prices", action="append", metavar="[SYMBOL=]FILE",
                          help="trades or klines CSV, as the backtest reads them (repeatable): distances and signals "
                               "use the recorded price at --at (default: the last liquidation's price)")
    clusters.add_argument("--at", help="the moment (epoch ms or ISO-8601 UTC); default: the last event")
    clusters.add_argument("--symbol", action="append", help="only this symbol (repeatable; either form)")
    clusters.add_argument("--min-strength", type=float,
                          help="show clusters and signals at least this strong (default: every cluster, and "
                               "the hunter's default for signals)")
    clusters.add_argument("--exchanges", action="append", metavar="VENUES",
                          help="clusters (and signals) of these venues' liquidations only: a comma list of "
                               "binance, bybit, okx (repeatable; default: every venue in the recording)")
    clusters.add_argument("--window-pct", type=float, default=0.02)
    clusters.add_argument("--min-size", type=int, default=5)
    clusters.add_argument("--decay-minutes", type=float, default=60.0)
    clusters.set_defaults(handler=_cmd_clusters)
    check = sub.add_parser("check-config", help="validate a bot's config file and print the effective config",
                           description="Validate FILE and print the effective configuration (defaults filled in, "
                           "API keys from the environment masked). Exit 0 when valid; 2 with a one-line error.")
    check.add_argument("file", metavar="FILE", help="the bot's YAML config, e.g. config/paper.yaml")
    check.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    check.set_defaults(handler=_cmd_check_config)
    run = sub.add_parser("run", help="run the bot (paper by default) until SIGINT/SIGTERM",
                         description="Run the bot described by --config: stream liquidations, rebuild clusters, "
                         "trade the strategy's signals. Paper trading unless the file says mode: live AND --live "
                         "is given. Logs go to stdout (JSON lines unless on a terminal).")
    run.add_argument("--config", "-c", required=True, help="the bot's YAML config, e.g. config/paper.yaml")
    run.add_argument("--live", action="store_true", help="arm live trading (the file must say mode: live too)")
    run.set_defaults(handler=_cmd_run)
    status = sub.add_parser("status", help="open positions, equity, today's PnL, signals and stream health",
                            description="Read the bot's books (storage.path of --config) and print its state. "
                            "Works whether or not the bot runs.")
    status.add_argument("--config", "-c", required=True)
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.add_argument("--signals", type=int, default=10, help="how many recent signals to show (default 10)")
    status.set_defaults(handler=_cmd_status)
    halt = sub.add_parser("halt", help="stop new entries in a (running) bot; exits keep being managed")
    halt.add_argument("--config", "-c", required=True)
    halt.add_argument("--reason", help="shown by status")
    halt.set_defaults(handler=_cmd_halt)
    resume = sub.add_parser("resume", help="lift a halt (by hand, or by the drawdown limit: the peak is reset)")
    resume.add_argument("--config", "-c", required=True)
    resume.set_defaults(handler=_cmd_halt)
    add_control_parsers(sub, lambda args: _books_of(args, write=True))  # close, flatten: halt's rule for books
    record = sub.add_parser("record", help="record liquidations into storage.events only (no trading) until "
                            "SIGINT/SIGTERM", description="Stream Binance liquidations for the config's symbols "
                            "into its storage.events SQLite file (retention: storage.retention_days).")
    record.add_argument("--config", "-c", required=True)
    record.add_argument("--publish", metavar="URL", help="also append every stored event to this Redis "
                        "(redis://host:port/db): one feed for many bots, docs/FEED.md (overrides feed.publish)")
    record.set_defaults(handler=_cmd_record)

    add_serve_parser(sub)

    add_history_parsers(sub)
    add_fetch_parser(sub)

    add_backtest_parser(sub)
    add_heatmap_parser(sub)
    add_validate_parser(sub)
    add_alerts_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # inside the try: a reader that left (`status --json | head`) is seen here
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout left; what it did not read is dropped, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a file named on the command line: missing, unreadable, a folder...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
