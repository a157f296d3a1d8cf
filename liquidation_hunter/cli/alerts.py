"""``liquidation-hunter alerts test CHANNEL`` and ``alerts list``: try a channel, read the outbox.

* ``alerts test CHANNEL --config FILE``: one test message to ``webhook``, ``telegram`` or ``discord`` as the bot
  would send it (its secrets from the environment), one attempt, and what came back. Exit 0 delivered, 1 not
  delivered (the answer printed), 2 a mistake (a channel not enabled, a secret not set).
* ``alerts list --config FILE``: the outbox of the bot's books, newest first, with states and attempts
  (``--state`` to keep one, ``--json``). Works whether or not the bot runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from liquidation_hunter.alerts import ChannelError, build_channels
from liquidation_hunter.alerts.model import alert_id
from liquidation_hunter.config.model import BotConfig, ConfigFileError, load_config
from liquidation_hunter.trading.books import Books, BooksError, OutboxRow
from live_heatmap import system_clock_ms

__all__ = ["CHANNELS", "add_alerts_parser"]

CHANNELS = ("webhook", "telegram", "discord")
NOT_DELIVERED = 1


def add_alerts_parser(sub: Any) -> None:
    alerts = sub.add_parser("alerts", help="notifications: send a test message, list the outbox",
                            description="Alerts (docs/ALERTS.md): `test CHANNEL` sends one test message; `list` "
                            "shows the outbox of the bot's books.")
    verbs = alerts.add_subparsers(dest="verb", metavar="VERB", required=True)
    test = verbs.add_parser("test", help="send one test message to CHANNEL and say what came back",
                            epilog="Exit 0: delivered; 1: not delivered (the answer is printed); 2: a mistake.")
    test.add_argument("channel", choices=CHANNELS)
    test.add_argument("--config", "-c", required=True)
    test.set_defaults(handler=_cmd_test)
    listing = verbs.add_parser("list", help="the outbox with states, newest first")
    listing.add_argument("--config", "-c", required=True)
    listing.add_argument("--state", choices=("pending", "delivered", "failed"))
    listing.add_argument("--limit", type=int, default=20, help="how many rows (default 20)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_cmd_list)


def _config(path: str) -> BotConfig | None:
    try:
        return load_config(path)
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _cmd_test(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if config is None:
        return 2
    if not getattr(config.alerts.channels, args.channel).enabled:
        print(f"error: {args.config}: alerts.channels.{args.channel}.enabled is false", file=sys.stderr)
        return 2
    try:
        channel = build_channels(config.alerts, only=args.channel)[args.channel]
    except ChannelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    now = system_clock_ms()
    row = OutboxRow(seq=0, alert_id=alert_id("test", args.channel, now), channel=args.channel, rule="test",
                    kind="test", symbol=None, at=now, text="liquidation-hunter: a test message (alerts test)",
                    data={}, state="pending", attempts=0, next_at=now, last_error="", done_at=None)
    outcome = channel.send(row, config.alerts.timeout_seconds)
    described = ", ".join(f"{k} {v}" for k, v in channel.describe().items() if k != "channel" and v is not None)
    if outcome.delivered:
        print(f"{args.channel}: delivered ({outcome.detail}) to {described}; id {row.alert_id}")
        return 0
    retry = " (the bot would try again)" if outcome.retry else " (the bot would not try again)"
    print(f"{args.channel}: NOT delivered: {outcome.detail}{retry}; to {described}")
    return NOT_DELIVERED


def _cmd_list(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if config is None:
        return 2
    if args.limit < 1:
        raise ValueError(f"--limit: expected a whole number >= 1, got {args.limit}")
    try:
        books = Books.open_readonly(config.storage.path)
    except BooksError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with books:
        rows = books.outbox(limit=args.limit, state=args.state)
        counts = books.outbox_counts()
    if args.json:
        print(json.dumps({"counts": counts.to_dict(), "rows": [_plain(r) for r in rows]}, indent=2,
                         ensure_ascii=False))
        return 0
    print(f"outbox of {config.storage.path}: {counts.pending} pending, {counts.delivered} delivered, "
          f"{counts.failed} failed, {counts.dropped} dropped (full)")
    for r in rows:
        error = f"  ({r.last_error})" if r.last_error else ""
        print(f"  {r.seq:>6} {r.state:<10}{r.channel:<9}{r.kind:<14}{r.symbol or '-':<14}attempts {r.attempts}  "
              f"{r.text}{error}")
    return 0


def _plain(row: OutboxRow) -> dict[str, Any]:
    return {"seq": row.seq, "id": row.alert_id, "channel": row.channel, "rule": row.rule, "kind": row.kind,
            "symbol": row.symbol, "time": row.at, "text": row.text, "state": row.state, "attempts": row.attempts,
            "next_at": row.next_at, "last_error": row.last_error, "done_at": row.done_at}
