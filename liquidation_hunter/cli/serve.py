"""``liquidation-hunter serve``: the API and the heatmap page alone, over a recording (no trading).

Wire it into the main parser with :func:`add_serve_parser`; the handler is set as ``handler``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from liquidation_hunter.config.model import BotConfig, load_config
from liquidation_hunter.config.sections import MEMORY, ApiConfig
from live_heatmap.common.timeparse import parse_time_ms
from live_heatmap.store.target import source_exists

__all__ = ["add_serve_parser", "cmd_serve"]


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to ``subparsers`` (``parser.add_subparsers(...)``) and return its parser."""
    serve: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="the read-only HTTP API and heatmap page over a recording (no trading)",
        description="Serve the API over a recording, as the heatmap was at --at. Host, port and the token's "
                    "environment variable come from the config's api section (defaults: 127.0.0.1:8700, "
                    "LIQUIDATION_HUNTER_API_TOKEN); a non-loopback --host needs the token set.")
    serve.add_argument("--config", help="bot config file: heatmap, hunter, api, storage.events and the books "
                                        "(storage.path) for /api/v1/status")
    serve.add_argument("--events", help="recording: an event store (SQLite), forceOrder JSON lines or a CSV; "
                                        "default: the config's storage.events")
    serve.add_argument("--at", help="the moment to serve (epoch ms or ISO-8601 UTC); default: the last event")
    serve.add_argument("--prices", action="append", default=[],
                       help="aggTrades or klines CSV for prices and candles (repeatable)")
    serve.add_argument("--history", metavar="DIR",
                       help="what fetch-history stored (var/history/binance): the estimated layer of its symbols, "
                            "fed the bars closed by --at, at /api/v1/estimated/SYMBOL and on the page")
    serve.add_argument("--host", help="listen address (default: api.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default: api.port, 8700; 0: any free port)")
    serve.set_defaults(handler=cmd_serve)
    return serve


def cmd_serve(args: argparse.Namespace) -> int:
    """Load, serve until SIGINT/SIGTERM, stop. Exit code 2 with one line on stderr for any setup mistake."""
    # The API's framework (FastAPI, uvicorn) loads with this command only.
    from liquidation_hunter.api import ApiAuthError, ApiServer, resolve_token, source_from_recording  # noqa: PLC0415 - lazy: FastAPI, uvicorn
    from liquidation_hunter.bot.assembly import check_strategy  # noqa: PLC0415 - lazy: websocket-client

    try:
        config = load_config(args.config) if args.config else None
        if config is not None:
            check_strategy(config)  # /api/v1/signal answers with the configured strategy
        api = config.api if isinstance(config, BotConfig) else ApiConfig()
        events = args.events or (config.storage.events if config is not None else None)
        if not events:
            raise ValueError("serve needs --events FILE_OR_DB (or a --config with storage.events)")
        if not source_exists(events):  # a file, a Parquet dataset's directory or a postgresql:// URL
            raise ValueError(f"{'--events' if args.events else 'storage.events'} {events}: no such file")
        host = args.host or api.host
        port = api.port if args.port is None else args.port
        if not 0 <= port <= 65535:
            raise ValueError(f"--port: expected 0..65535, got {port}")
        at_ms = parse_time_ms(args.at) if args.at else None
        books = config.storage.path if config is not None and config.storage.path != MEMORY else None
        source = source_from_recording(
            events, at_ms=at_ms, prices=args.prices, heatmap=config.heatmap if config else None,
            hunter=config.hunter if config else None, books_path=books,
            heartbeat_s=config.schedule.heartbeat if config else 60.0,
            strategy=config.strategy.name if config else "liquidation_magnet",
            strategy_params=config.strategy.params if config else None,
            strategy_path=config.strategy.path if config else None, history=args.history,
            stats=config.stats if config else None)
        token = resolve_token(host, api.token_env)
        server = ApiServer(source, host=host, port=port, token=token).start()
    except (ValueError, OSError, ApiAuthError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    at = datetime.fromtimestamp(source.now() / 1000, UTC).isoformat(timespec="seconds")
    print(f"serving {source.heatmap.stats()['accepted']} events of {len(source.heatmap.symbols())} symbols "
          f"as of {at} on {server.url} (docs: {server.url}/docs); Ctrl-C stops", flush=True)
    if source.estimated is not None:
        print(f"estimated layer of {', '.join(source.estimated)} ({source.estimated.label})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
