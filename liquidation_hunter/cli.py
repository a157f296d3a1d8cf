"""The ``liquidation-hunter`` command line. Output goes to stdout; errors to stderr with exit code 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from . import __version__

__all__ = ["main"]


def _parse_time(text: str) -> int:
    """Epoch ms from digits, or an ISO-8601 time (UTC when no zone is given)."""
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _cmd_clusters(args: argparse.Namespace) -> int:
    from live_heatmap import FrameRejected, LiveLiquidationHeatmap, parse_force_order, to_exchange_id

    from .hunter import LiquidationHunter

    path = Path(args.events)
    if not path.is_file():
        print(f"error: --events {path}: no such file", file=sys.stderr)
        return 2
    events = []
    with path.open("rb") as fh:
        for line in fh:
            try:
                events.append(parse_force_order(line))
            except FrameRejected:
                continue
    if not events:
        print(f"error: {path} holds no forceOrder events", file=sys.stderr)
        return 2
    at_ms = _parse_time(args.at) if args.at else max(e.trade_time for e in events)
    heatmap = LiveLiquidationHeatmap(cluster_window_pct=args.window_pct, min_cluster_size=args.min_size,
                                     time_decay_minutes=args.decay_minutes, clock=lambda: at_ms)
    heatmap.ingest_many(e for e in events if e.trade_time <= at_ms)
    wanted = [to_exchange_id(s) for s in args.symbol] if args.symbol else heatmap.symbols()
    last_price = {e.symbol: e.price for e in sorted(events, key=lambda e: e.trade_time) if e.trade_time <= at_ms}
    hunter = LiquidationHunter(heatmap=heatmap)
    when = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="seconds")
    print(f"clusters at {when} from {path.name} ({heatmap.stats()['accepted']} events up to then)")
    print(f"{'symbol':<16}{'side':<7}{'level':>14}{'count':>7}{'notional':>14}{'strength':>10}{'dist %':>9}")
    shown = 0
    for symbol in wanted:
        if symbol in last_price:
            heatmap.update_price(symbol, last_price[symbol], at_ms)
        for c in heatmap.get_clusters(symbol, min_strength=args.min_strength):
            dist = f"{c.distance_from_price:.2f}" if c.distance_from_price is not None else "-"
            print(f"{c.symbol:<16}{c.side:<7}{c.price_level:>14.6g}{c.liquidation_count:>7}"
                  f"{c.total_notional:>14,.0f}{c.strength:>10.3f}{dist:>9}")
            shown += 1
    print(f"{shown} clusters")
    print("signals (last traded liquidation price as the current price):")
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
    import json

    import yaml

    from .bot_config import ConfigFileError, load_config

    try:
        config = load_config(args.file)
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    effective = config.to_dict(masked=True)
    if args.json:
        print(json.dumps(effective, indent=2, ensure_ascii=False))
    else:
        trading = ("LIVE, real money (needs --live to run)" if config.real_money else
                   "live on Binance demo trading" if config.mode == "live" else "paper (simulated fills)")
        print(f"# {args.file}: valid; {trading}. Effective configuration, defaults filled in, secrets masked"
              " (null: not set in the environment).")
        print(yaml.safe_dump(effective, sort_keys=False, allow_unicode=True, default_flow_style=False), end="")
    for warning in config.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liquidation-hunter",
                                     description="Trade signals from Binance USD-M liquidation clusters.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    clusters = sub.add_parser("clusters", help="clusters and signals of a recording at a moment")
    clusters.add_argument("--events", required=True, help="JSONL file of forceOrder frames")
    clusters.add_argument("--at", help="the moment (epoch ms or ISO-8601 UTC); default: the last event")
    clusters.add_argument("--symbol", action="append", help="only this symbol (repeatable; either form)")
    clusters.add_argument("--min-strength", type=float, default=0.0)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
