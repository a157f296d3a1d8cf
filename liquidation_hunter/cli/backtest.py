"""``liquidation-hunter backtest``: register with :func:`add_backtest_parser`; the handler is
:func:`cmd_backtest` (returns the exit code: 0, or 2 with a one-line ``error: ...`` on stderr for bad input).

::

    liquidation-hunter backtest --config config/paper.yaml --events data/binance/forceorder_wire.jsonl \\
        --prices data/binance/aggtrades_large.csv --from 2025-01-27T16:50Z --to 2025-01-27T17:20Z --out out/
    liquidation-hunter backtest ... --sweep hunter.min_strength=0.3,0.5 --sweep heatmap.cluster_window_pct=0.01,0.02
    liquidation-hunter backtest ... --sweep hunter.min_strength=0.3,0.5 --scheduler tcp://10.0.0.5:8786  # on Dask
    liquidation-hunter backtest --config config/paper.yaml --history var/history/binance --symbol BTCUSDT \
        --from 2025-01-01 --to 2026-01-01   # estimated levels over fetched history (no liquidations needed)

Without ``--out`` nothing is written: the summary (or with ``--json`` the JSON report, or the sweep table)
goes to stdout. The replay's duration and rate go to stderr, with a progress bar when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from liquidation_hunter.config.model import BotConfig, load_config
from liquidation_hunter.data.prices import load_prices
from live_heatmap.common.errors import first_line
from live_heatmap.common.timeparse import parse_time_ms
from live_heatmap.store.history import read_events
from live_heatmap.store.parquet import dataset_sha256
from live_heatmap.store.target import is_postgres_url, source_exists, source_name

__all__ = ["add_backtest_parser", "cmd_backtest"]


def add_backtest_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``backtest`` command to ``subparsers`` (from ``ArgumentParser.add_subparsers``); its handler is
    stored as ``handler`` (``args.handler(args) -> int``)."""
    p = subparsers.add_parser(
        "backtest", help="replay recorded liquidations and prices through the bot (paper) and report",
        description="Replay recorded liquidations (--events) and prices (--prices) through the bot of --config: the "
        "same heatmap, strategy, risk rules and paper broker as `run`, on a simulated clock. Prints a summary; "
        "--out DIR writes report.json, report.md, report.html and equity.png (the same inputs give the same bytes). "
        "--sweep runs one backtest per combination of a small grid and prints the table.")
    p.add_argument("--config", "-c", required=True, metavar="FILE", help="the bot's YAML config")
    p.add_argument("--events", metavar="FILE_OR_DB",
                   help="recorded forceOrder events: JSONL of frames (or what live_heatmap.store.history reads); "
                        "needed unless --history")
    p.add_argument("--prices", action="append", metavar="[SYMBOL=]FILE",
                   help="trades/aggTrades or klines CSV (.gz/.zip too), or a folder of them; repeatable; needed "
                        "unless --history")
    p.add_argument("--history", metavar="DIR",
                   help="trade ESTIMATED levels over what `fetch-history` keeps in DIR (klines, mark price klines, "
                        "open interest; e.g. var/history/binance) for one --symbol: prices from its klines, the "
                        "estimated layer updated at each bar's close, the hunter's target estimated (agree with "
                        "--events); no liquidation events needed")
    p.add_argument("--depth", action="append", metavar="FILE",
                   help="recorded order-book depth replayed into the hunter's liquidity layer in time order with "
                        "the events, for hunter.wall (docs/LIQUIDITY.md): depth recordings (Binance REST snapshots "
                        "and depth diffs; repeatable) or the event store a bot recorded its depth to "
                        "(orderbook.record_seconds)")
    p.add_argument("--interval", default="5m", metavar="I", help="the bars of --history (default 5m)")
    p.add_argument("--from", dest="start", metavar="TIME",
                   help="start (ISO-8601, UTC when no zone; or epoch ms); the heatmap's horizon before it warms it up")
    p.add_argument("--to", dest="end", metavar="TIME", help="end, exclusive (ISO-8601 or epoch ms)")
    p.add_argument("--symbol", action="append", metavar="S", help="only this symbol (either form); repeatable")
    p.add_argument("--out", metavar="DIR", help="write the report files (or the sweep table) into DIR")
    p.add_argument("--sweep", action="append", metavar="KEY=V1,V2,...",
                   help="sweep a config key over values (dotted path, e.g. hunter.min_strength=0.3,0.5); repeatable")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes for a sweep (default: up to 2)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run the sweep's combinations on this Dask cluster (the extra `cluster`; the workers need "
                        "the same liquidation-hunter) instead of local processes: the same table, byte for byte "
                        "(docs/SCALE.md, Sweeps on a cluster)")
    p.add_argument("--scheduler-timeout", type=float, default=None, metavar="S",
                   help="seconds to reach the scheduler (default 10)")
    p.add_argument("--gap-minutes", type=float, default=None, metavar="M",
                   help="data this far apart split the replay into sessions (default 10)")
    p.add_argument("--no-picture", action="store_true", help="do not draw equity.png")
    p.add_argument("--no-sensitivity", action="store_true",
                   help="do not replay again with other costs (slippage 0 and 2x, a lower fee tier) for the "
                        "report's sensitivity section")
    p.add_argument("--json", action="store_true", help="print the JSON report (or sweep table) on stdout")
    p.set_defaults(handler=cmd_backtest)
    assert isinstance(p, argparse.ArgumentParser)
    return p


def _sha256(path: Path) -> str:
    if path.is_dir():  # a Parquet dataset of events: its files' names and bytes
        return dataset_sha256(path)
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _warm_up_ms(config: BotConfig, grid: Mapping[str, Sequence[Any]]) -> int:
    """The widest heatmap horizon of the config and the sweep's combinations: the events read before --from."""
    decays = [config.heatmap.time_decay_minutes, *grid.get("heatmap.time_decay_minutes", ())]
    ages = [config.heatmap.max_age_minutes, *grid.get("heatmap.max_age_minutes", ())]
    horizons = [float(a) for a in ages if a is not None]
    if None in ages:
        horizons += [3.0 * max(float(d) for d in decays)]
    return math.ceil(max(horizons) * 60_000)


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run the backtest (or the sweep) the arguments describe; 0, or 2 with one line on stderr."""
    try:
        return _run(args)
    except (ValueError, OSError) as exc:  # BacktestError, PriceFileError and ConfigFileError are ValueErrors
        print(f"error: {first_line(exc)}", file=sys.stderr)
        return 2


def _history(args: argparse.Namespace, config: BotConfig, start: int | None,
             end: int | None) -> tuple[BotConfig, Any, dict[str, Any]]:
    """--history: (the config as the history backtest runs it, the inputs, the report's inputs entry)."""
    from liquidation_hunter.backtest.history import history_config, load_history_inputs  # noqa: PLC0415 - lazy: the backtest's layers

    if args.prices:
        raise ValueError("--history gives the prices (its klines): leave --prices out")
    if not args.symbol or len(args.symbol) != 1:
        raise ValueError("--history needs exactly one --symbol (e.g. --symbol BTCUSDT)")
    root = Path(args.history)
    if not root.is_dir():
        raise ValueError(f"--history {root}: no such folder (run `liquidation-hunter fetch-history` first)")
    history = load_history_inputs(root, args.symbol[0], interval=args.interval, start_ms=start, end_ms=end)
    config = history_config(config, history.history.symbol, history.interval_ms, with_events=args.events is not None)
    for note in history.history.notes():
        print(f"note: {note}", file=sys.stderr)
    return config, history, history.info()


def _check_scheduler(args: argparse.Namespace, sweep: bool) -> None:
    """--scheduler and --scheduler-timeout: with --sweep only, not with --workers, a tcp:// address."""
    if args.scheduler is None:
        if args.scheduler_timeout is not None:
            raise ValueError("--scheduler-timeout goes with --scheduler")
        return
    if not sweep:
        raise ValueError("--scheduler runs a sweep's combinations: give --sweep KEY=V1,V2,...")
    if args.workers is not None:
        raise ValueError("--workers with --scheduler: the cluster's workers run the sweep; leave --workers out")
    if args.scheduler_timeout is not None and not args.scheduler_timeout > 0:
        raise ValueError(f"--scheduler-timeout: expected a positive number of seconds, got {args.scheduler_timeout}")
    from liquidation_hunter.backtest.cluster import check_scheduler  # noqa: PLC0415 - lazy: the backtest's layers

    check_scheduler(args.scheduler)


def _run(args: argparse.Namespace) -> int:
    from liquidation_hunter.backtest.cluster import DEFAULT_CONNECT_TIMEOUT  # noqa: PLC0415 - lazy: the backtest's layers
    from liquidation_hunter.backtest.inputs import events_digest  # noqa: PLC0415 - lazy: the backtest's layers
    from liquidation_hunter.backtest.report import render_json, render_summary, write_report  # noqa: PLC0415 - lazy: the backtest's layers
    from liquidation_hunter.backtest.runner import DEFAULT_GAP_MINUTES, run_backtest  # noqa: PLC0415 - lazy: the backtest's layers
    from liquidation_hunter.backtest.sweep import check_keys, parse_grid, run_sweep, with_sensitivity  # noqa: PLC0415 - lazy: the backtest's layers
    from liquidation_hunter.bot.assembly import check_strategy  # noqa: PLC0415 - lazy: websocket-client

    config = load_config(args.config)
    check_strategy(config)  # before the recording is read
    start = parse_time_ms(args.start) if args.start else None
    end = parse_time_ms(args.end) if args.end else None
    if start is not None and end is not None and end <= start:
        raise ValueError(f"--to ({args.end}) must come after --from ({args.start})")
    gap = DEFAULT_GAP_MINUTES if args.gap_minutes is None else args.gap_minutes
    if not gap > 0:
        raise ValueError(f"--gap-minutes: expected a positive number, got {args.gap_minutes}")
    grid = parse_grid(args.sweep) if args.sweep else None
    if grid is not None:
        check_keys(config, grid)
    _check_scheduler(args, grid is not None)
    began = time.perf_counter()
    if args.history is None and (args.events is None or not args.prices):
        raise ValueError("give --events and --prices (recorded liquidations), or --history DIR (fetched history)")
    if args.history is None and config.hunter.target != "observed":
        raise ValueError(f"hunter.target {config.hunter.target} reads estimated levels: give --history DIR (the "
                         "fetched history they are built from)")
    if config.hunter.wall != "off" and not args.depth:
        raise ValueError(f"hunter.wall {config.hunter.wall} reads the order book's walls: give --depth FILE (recorded "
                         "depth)")
    if args.depth and grid is not None:
        raise ValueError("--depth with --sweep: not supported yet; run one backtest per setting")
    for name in args.depth or []:
        if not Path(name).is_file():
            raise ValueError(f"--depth {name}: no such file")
    history = None
    inputs: dict[str, Any] = {}
    if args.history is not None:
        config, history, inputs = _history(args, config, start, end)
        start, end = history.start_ms, history.end_ms
        if args.gap_minutes is None:  # a missing bar or two is no gap; longer bars are farther apart
            gap = max(gap, 2.5 * history.interval_ms / 60_000)
    files = [{"role": "config", "name": Path(args.config).name, "sha256": _sha256(Path(args.config))}]
    events: list[Any] = []
    rejected = 0
    if args.events is not None:
        if not source_exists(args.events):
            raise ValueError(f"--events {args.events}: no such file")
        since = None if start is None else start - _warm_up_ms(config, grid or {})
        report = read_events(args.events, symbols=args.symbol, since_ms=since, until_ms=end)
        events, rejected = report.events, sum(report.rejected.values())
        events_name = source_name(args.events)
        # a shared PostgreSQL store has no file to hash: it is named by its (masked) URL and its events' digest
        files.append({"role": "events", "name": events_name, "sha256": events_digest(events)
                      if is_postgres_url(args.events) else _sha256(Path(args.events))})
    prices = history.prices if history is not None else load_prices(args.prices)
    files += [{"role": "prices", "name": s.name, "sha256": s.sha256} for s in prices.sources]
    files += [{"role": "depth", "name": Path(name).name, "sha256": _sha256(Path(name))} for name in args.depth or []]
    inputs["files"] = files
    estimated = {history.history.symbol: history.history.bars} if history is not None else None
    if rejected:
        inputs["events_rejected"] = rejected
        print(f"warning: {rejected} lines of {events_name} are not liquidation events; skipped", file=sys.stderr)
    out = Path(args.out) if args.out else None
    tty = sys.stderr.isatty()

    if grid is not None:
        workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
        bar = None
        if tty:
            from liquidation_hunter.backtest.progress import ProgressBar  # noqa: PLC0415 - lazy: the backtest's layers

            bar = ProgressBar(sys.stderr, label="sweep")
        sweep = run_sweep(config, events, prices, grid, start_ms=start, end_ms=end, symbols=args.symbol,
                          gap_minutes=gap, workers=workers, progress=bar, inputs=inputs, estimated=estimated,
                          scheduler=args.scheduler, connect_timeout=args.scheduler_timeout or DEFAULT_CONNECT_TIMEOUT)
        table = sweep.to_markdown()
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "sweep.json").write_bytes(sweep.to_json())
            (out / "sweep.md").write_text(f"# Sweep\n\n{table}")
        sys.stdout.write(sweep.to_json().decode() if args.json else table)
        sys.stdout.flush()
        print(f"{len(sweep.rows)} backtests in {time.perf_counter() - began:.1f} s"
              + (f"; wrote {out / 'sweep.json'} and {out / 'sweep.md'}" if out is not None else ""), file=sys.stderr)
        return 0

    result = run_backtest(config, events, prices, start_ms=start, end_ms=end, symbols=args.symbol,
                          gap_minutes=gap, progress=tty, inputs=inputs, estimated=estimated, depth=args.depth)
    if not args.no_sensitivity:
        result = with_sensitivity(result, config, events, prices, start_ms=start, end_ms=end, symbols=args.symbol,
                                  gap_minutes=gap, estimated=estimated, depth=args.depth)
    written = write_report(result, out, picture=not args.no_picture) if out is not None else []
    if args.json:
        sys.stdout.write(render_json(result).decode())
    else:
        print(render_summary(result))
        for path in written:
            print(f"  wrote {path}")
    sys.stdout.flush()
    rate = result.events / result.wall_seconds if result.wall_seconds > 0 else 0.0
    print(f"replay: {result.events:,} events and {sum(result.price_points.values()):,} price points, "
          f"{result.replayed_ms / 60_000:,.1f} simulated minutes in {result.wall_seconds:.2f} s "
          f"({rate:,.0f} events/s)", file=sys.stderr)
    if result.audit:
        print("error: the books do not balance: " + "; ".join(result.audit), file=sys.stderr)
        return 1
    return 0
