"""``liquidation-hunter import`` and ``export``: recordings in and out of the event store
(``live_heatmap.store.history``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from liquidation_hunter.config.model import ConfigFileError, load_config
from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.common.timeparse import parse_time_ms
from live_heatmap.store.binance_files import SnapshotSymbolError
from live_heatmap.store.exports import export_clusters, export_events
from live_heatmap.store.history import import_events, load_events
from live_heatmap.store.parquet import export_parquet
from live_heatmap.store.stores import open_event_store
from live_heatmap.store.target import mask_url, source_exists
from live_heatmap.venue import Venue

__all__ = ["add_history_parsers"]

_VENUES = [venue.value for venue in Venue]


def _store_path(args: argparse.Namespace) -> str | None:
    """``--db``, else the config's ``storage.events``; None (error printed) when neither gives one."""
    if args.db:
        return str(args.db)
    if args.config:
        try:
            events = load_config(args.config).storage.events
        except ConfigFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return None
        if events is None:
            print(f"error: {args.config}: storage.events is null (recording is off)", file=sys.stderr)
        return events
    print("error: give --db FILE or --config FILE (its storage.events)", file=sys.stderr)
    return None


def _cmd_import(args: argparse.Namespace) -> int:
    path = _store_path(args)
    if path is None:
        return 2
    if not Path(args.source).is_file():
        print(f"error: {args.source}: no such file", file=sys.stderr)
        return 2
    with open_event_store(path) as store:
        try:
            report = import_events(args.source, store, symbols=args.symbol or None, symbol=args.file_symbol,
                                   exchanges=args.exchange)
        except SnapshotSymbolError as exc:  # a liquidationSnapshot file: no symbol, or a COIN-M archive
            print(f"error: {exc.naming('--file-symbol ')}", file=sys.stderr)
            return 2
    print(f"{args.source} -> {mask_url(path)}: {report.inserted} new events, {report.duplicates} duplicates, "
          f"{report.rejected} rejected")
    if report.inserted + report.duplicates == 0:  # nothing read at all: not a recording of liquidations
        chosen = [*(args.symbol or []), *(args.exchange or [])]  # or none of those asked for
        of = f" of {', '.join(chosen)}" if chosen else ""
        print(f"error: {args.source}: no liquidation{of} in it ({report.rejected} lines or rows rejected)",
              file=sys.stderr)
        return 1
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    source = args.events or _store_path(args)
    if source is None:
        return 2
    if args.events and not source_exists(args.events):  # a file, a Parquet dataset or a postgresql:// URL
        print(f"error: --events {args.events}: no such file", file=sys.stderr)
        return 2
    since = parse_time_ms(args.since) if args.since else None
    until = parse_time_ms(args.until) if args.until else None
    if args.format == "parquet":
        return _export_parquet(args, source, since, until)
    if args.symbol is None:
        print(f"error: export --format {args.format} needs --symbol (only parquet exports every symbol)",
              file=sys.stderr)
        return 2
    out: Any = sys.stdout if args.out in (None, "-") else args.out
    if args.what == "events":
        events = load_events(source, symbols=[args.symbol], since_ms=since, until_ms=until, exchanges=args.exchange)
        written = export_events(events, args.format, out)
    else:
        heatmap_config = load_config(args.config).heatmap if args.config else None
        events = load_events(source, symbols=[args.symbol], until_ms=None if until is None else until + 1,
                             exchanges=args.exchange)
        if not events:
            venues = f" on {', '.join(args.exchange)}" if args.exchange else ""
            print(f"error: {mask_url(source)} holds no events of {args.symbol}{venues} up to then", file=sys.stderr)
            return 2
        at = until if until is not None else max(e.trade_time for e in events)
        heatmap = LiveLiquidationHeatmap(config=heatmap_config, clock=lambda: at)
        heatmap.ingest_many(e for e in events if since is None or e.trade_time >= since)
        written = export_clusters(heatmap.get_clusters(args.symbol, now_ms=at), args.format, out)
    if out is not sys.stdout:
        print(f"wrote {written} {args.what} to {out}", file=sys.stderr)
    return 0


def _export_parquet(args: argparse.Namespace, source: str, since: int | None, until: int | None) -> int:
    """Events (every symbol, or --symbol's) into the Parquet dataset --out, partitions merged (live_heatmap.store.
    parquet): a second export of the same range writes nothing."""
    if args.what != "events":
        print("error: --format parquet writes events only (--what events)", file=sys.stderr)
        return 2
    if args.out in (None, "-"):
        print("error: --format parquet needs --out DIR (the dataset's directory)", file=sys.stderr)
        return 2
    try:
        events = load_events(source, symbols=None if args.symbol is None else [args.symbol], since_ms=since,
                             until_ms=until, exchanges=args.exchange)
        report = export_parquet(events, args.out)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{mask_url(source)} -> {args.out}: {report.events} events, {report.new} new; {report.written} partitions "
          f"written, {report.unchanged} unchanged")
    return 0


def add_history_parsers(sub: Any) -> None:
    """Register ``import`` and ``export`` on the CLI's subparsers."""
    imp = sub.add_parser("import", help="add a recording (frame JSONL, normalized CSV, liquidationSnapshot CSV, "
                         "Bybit's liquidation history, an export) to the event store",
                         description="Import SOURCE into the event store (--db, or --config's storage.events); "
                         "duplicates are skipped, so importing twice changes nothing.")
    imp.add_argument("source", metavar="SOURCE")
    imp.add_argument("--db", help="the event store: a SQLite file or a postgresql:// URL (password from PGPASSWORD)")
    imp.add_argument("--config", "-c", help="a bot's config: its storage.events is the store")
    imp.add_argument("--symbol", action="append", help="only this symbol (repeatable; either form)")
    imp.add_argument("--exchange", action="append", choices=_VENUES, help="only this venue's events (repeatable)")
    imp.add_argument("--file-symbol", help="the USD-M symbol of a liquidationSnapshot CSV when its name does not say "
                     "(COIN-M archives, BTCUSD_PERP, count contracts and are refused)")
    imp.set_defaults(handler=_cmd_import)
    exp = sub.add_parser("export", help="events or clusters of a symbol and time range, as CSV or JSON; events as a "
                         "Parquet dataset (exchange=/symbol=/date= partitions)")
    exp.add_argument("--symbol", help="BTCUSDT or BTC/USDT:USDT (needed but for --format parquet: every symbol)")
    exp.add_argument("--events", metavar="FILE_OR_DB", help="the recording (default: --db / --config's store; a "
                     "Parquet dataset's directory too)")
    exp.add_argument("--db", help="the event store: a SQLite file or a postgresql:// URL (password from PGPASSWORD)")
    exp.add_argument("--config", "-c", help="a bot's config: its store, and its heatmap settings for clusters")
    exp.add_argument("--exchange", action="append", choices=_VENUES,
                     help="only this venue's events (repeatable; default: every venue's)")
    exp.add_argument("--from", dest="since", help="start (epoch ms or ISO-8601 UTC)")
    exp.add_argument("--to", dest="until", help="end (exclusive for events; the moment clusters are taken at)")
    exp.add_argument("--what", choices=("events", "clusters"), default="events")
    exp.add_argument("--format", choices=("csv", "json", "parquet"), default="csv",
                     help="parquet: a dataset directory (--out DIR), written through DuckDB; exporting again adds "
                     "only what is new")
    exp.add_argument("--out", "-o", help="file to write (default: stdout); the directory for --format parquet")
    exp.set_defaults(handler=_cmd_export)
