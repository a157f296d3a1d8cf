"""``liquidation-hunter fetch-history``: Binance's public archive of open interest (``metrics``), klines and mark
price klines for a symbol and a date range, verified and kept under ``--dir`` (:mod:`liquidation_hunter.trading.
archive`: the paths, the layout, the checks)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime
from typing import Any, TextIO

from liquidation_hunter.data.history_parquet import export_history
from liquidation_hunter.trading.archive import (
    DEFAULT_BASE_URL,
    INTERVALS,
    KINDS,
    ArchiveDownloader,
    ArchiveFile,
    FileResult,
    Outcome,
    plan_files,
)
from live_heatmap.common.symbols import symbol_key

__all__ = ["add_fetch_parser"]

DEFAULT_DIR = "var/history/binance"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")


def _day(text: str, flag: str) -> date:
    try:
        if not _DAY.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected a date YYYY-MM-DD") from None


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"--kinds {text!r}: unknown kind {', '.join(unknown) or '(none)'}; expected a comma list "
                         f"of {', '.join(KINDS)}")
    return tuple(dict.fromkeys(kinds))


class _Printer:
    """One line per file (a progress line rewritten in place on a terminal while it downloads); errors always."""

    def __init__(self, out: TextIO, *, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.tty = out.isatty() and not quiet

    def progress(self, file: ArchiveFile, have: int, total: int | None) -> None:
        if self.tty:
            of = f"/{total // 1024} kB" if total else " kB"
            self.out.write(f"\r  {file.relpath}  {have // 1024}{of}\x1b[K")
            self.out.flush()

    def result(self, result: FileResult) -> None:
        if self.tty:
            self.out.write("\r\x1b[K")
        if result.outcome is Outcome.FAILED:
            print(f"error: {result.file.relpath}: {result.detail}", file=sys.stderr)
        elif not self.quiet:
            size = f"  {result.size / 1024:.0f} kB" if result.size else ""
            print(f"{result.outcome.value:<13} {result.file.relpath}{size}  {result.detail}", file=self.out)


def _cmd_fetch(args: argparse.Namespace) -> int:
    symbol = symbol_key(args.symbol)
    if not _SYMBOL.match(symbol):
        raise ValueError(f"SYMBOL {args.symbol!r}: expected a USD-M symbol like BTCUSDT")
    start, end = _day(args.start, "--from"), _day(args.end, "--to")
    kinds = _kinds(args.kinds)
    today = datetime.now(UTC).date()
    files = plan_files(symbol, start, end, kinds, args.interval, today=today)
    printer = _Printer(sys.stderr, quiet=args.quiet)
    loader = ArchiveDownloader(args.dir, base_url=args.base_url, retries=args.retries, progress=printer.progress)
    counts = dict.fromkeys(Outcome, 0)
    for result in loader.fetch_all(files):
        counts[result.outcome] += 1
        printer.result(result)
    summary = ", ".join(f"{counts[o]} {o.value}" for o in Outcome)
    print(f"fetch-history {symbol} {start}..{end}: {summary} -> {loader.root}")
    if counts[Outcome.FAILED]:
        print(f"error: {counts[Outcome.FAILED]} file(s) failed (see above); run again to retry them", file=sys.stderr)
        return 1
    if not counts[Outcome.DOWNLOADED] and not counts[Outcome.SKIPPED]:
        print(f"error: nothing published for {symbol} from {start} to {end} (is the symbol listed then?)",
              file=sys.stderr)
        return 1
    if args.parquet is not None:
        done = export_history(loader.root, args.parquet, symbol, interval=args.interval, kinds=kinds,
                              first_day=start.isoformat(), last_day=end.isoformat())
        print(f"parquet: {done.rows} rows, {done.new} new; {done.written} partitions written, {done.unchanged} "
              f"unchanged -> {args.parquet}")
    return 0


def add_fetch_parser(sub: Any) -> None:
    """Register ``fetch-history`` on the CLI's subparsers."""
    fetch = sub.add_parser(
        "fetch-history", help="download Binance's public archive (open interest, klines, mark price klines) for a "
        "symbol and dates, verified against its sha256",
        description="Download data.binance.vision's USD-M daily (and whole past months') files of SYMBOL from "
        "--from to --to (UTC days, both included) into --dir/<kind>/<SYMBOL>/[<interval>/], each verified against "
        "its .CHECKSUM (a mismatch is not kept). Interrupted downloads resume; verified files are skipped; a day "
        "not published is reported. Exit 0 when every published file is verified, 1 when one failed, 2 for bad "
        "arguments.")
    fetch.add_argument("symbol", metavar="SYMBOL", help="BTCUSDT or BTC/USDT:USDT")
    fetch.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day, YYYY-MM-DD (UTC)")
    fetch.add_argument("--to", dest="end", required=True, metavar="DATE", help="last day, YYYY-MM-DD (included)")
    fetch.add_argument("--kinds", default=",".join(KINDS),
                       help=f"comma list of {', '.join(KINDS)} (default: all three)")
    fetch.add_argument("--interval", default="5m", choices=INTERVALS, help="the klines' interval (default 5m)")
    fetch.add_argument("--dir", default=DEFAULT_DIR, help=f"where the files are kept (default {DEFAULT_DIR})")
    fetch.add_argument("--parquet", metavar="DIR",
                       help="also keep the range as Parquet under DIR (klines_<I>/, markPriceKlines_<I>/, metrics/, "
                            "each partitioned exchange=/symbol=/date=), what backtest --history DIR and "
                            "validate-estimated --history DIR read through DuckDB; a second run writes nothing new")
    fetch.add_argument("--base-url", default=DEFAULT_BASE_URL, help=argparse.SUPPRESS)  # a mirror, or tests
    fetch.add_argument("--retries", type=int, default=3, help="times an interrupted transfer is resumed (default 3)")
    fetch.add_argument("--quiet", "-q", action="store_true", help="no line per file; errors and the summary only")
    fetch.set_defaults(handler=_cmd_fetch)
