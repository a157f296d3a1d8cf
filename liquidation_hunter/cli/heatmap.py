"""``liquidation-hunter heatmap SYMBOL --events FILE --window 2h --out heatmap.png``: one symbol's heatmap
from a recording, drawn by :func:`liquidation_hunter.plot.heatmap.render_heatmap`."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from msgspec.structs import replace

from liquidation_hunter.config.model import ConfigFileError, load_config
from liquidation_hunter.data.depth_replay import StoredDepthReplay, is_event_store, replay_depth
from liquidation_hunter.data.estimated_history import layer_from_history
from liquidation_hunter.data.prices import load_prices
from liquidation_hunter.plot.depth import render_depth
from liquidation_hunter.plot.heatmap import SCALES, EstimatedBands, render_heatmap
from live_heatmap import HeatmapConfig
from live_heatmap.common.symbols import symbol_key
from live_heatmap.common.timeparse import parse_duration_ms, parse_time_ms
from live_heatmap.grid import build_grid
from live_heatmap.heatmap import venue_codes
from live_heatmap.stats import DEFAULT_BANDWIDTH, density_profile
from live_heatmap.store.history import load_events
from live_heatmap.store.target import mask_url, source_exists
from live_heatmap.venue import VENUES_BY_CODE, Venue

__all__ = ["add_heatmap_parser", "cmd_heatmap"]


def _option(flag: str, parse: Callable[[str], int], text: str) -> int:
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}") from None


def parse_exchanges_option(values: list[str] | None, flag: str) -> tuple[Venue, ...] | None:
    """``--exchange bybit --exchange okx`` or ``--exchange bybit,okx`` as venues (None when not given); raises
    ``ValueError`` with one line naming the unknown venue."""
    if not values:
        return None
    names = [name for value in values for name in value.split(",")]
    try:
        codes = venue_codes(names)
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}") from None
    return tuple(VENUES_BY_CODE[code] for code in sorted(codes or ()))


def _parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"--size {text!r}: expected WIDTHxHEIGHT in pixels (1200x700)")
    return int(match[1]), int(match[2])


def _drawn(draw: Callable[[], Path]) -> Path | str:
    """The picture ``draw`` wrote, or the one line to print: matplotlib missing (the 'plot' extra), or the file
    not written."""
    try:
        return draw()
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "matplotlib":
            return "the heatmap picture needs matplotlib: pip install 'liquidation-hunter[plot]'"
        raise
    except (OSError, ValueError) as exc:
        return str(exc)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


LAYERS = ("observed", "estimated", "both", "depth")


def estimated_bands(history: str, symbol: str, end_ms: int, price: float | None) -> EstimatedBands:
    """``symbol``'s estimated levels from the fetched ``history`` as of ``end_ms`` (bars closed by then only), binned
    around ``price`` (default: the last bar's close). Raises ``ValueError`` naming ``--history``."""
    layer, _notes = layer_from_history(history, until_ms=end_ms, symbols=[symbol])
    model = layer.get(symbol)
    if model is None or model.last_close is None:  # pragma: no cover - layer_from_history raised already
        raise ValueError(f"--history {history}: no bar of {symbol} by {_when(end_ms)}")
    binned = model.binned(price if price is not None else model.last_close)
    return EstimatedBands(binned.prices, binned.long, binned.short, layer.label, model.config.bin_width)


def _depth_picture(args: argparse.Namespace, symbol: str, window_ms: int, at_ms: int | None,
                   size: tuple[int, int]) -> int:
    """``--layer depth``: the recorded depth of ``--depth FILE`` (replayed through the book sync into a liquidity
    layer, sampled every ``--sample``) over the window ending at ``--at`` (default: the last update)."""
    if not args.depth:
        return _error("--layer depth needs --depth FILE (a depth recording: Binance REST snapshots and depth diffs, "
                      "or Bybit orderbook messages recorded by cryptofeed)")
    try:
        sample_ms = _option("--sample", lambda text: parse_duration_ms(text, low_ms=100), args.sample)
    except ValueError as exc:
        return _error(str(exc))
    for name in args.depth:
        if not Path(name).is_file():
            return _error(f"--depth {name}: no such file")
    if len(args.depth) == 1 and is_event_store(args.depth[0]):
        return _stored_depth_picture(args, symbol, window_ms, at_ms, size)
    try:
        replay = replay_depth(list(args.depth), sample_ms=sample_ms, venue=args.depth_venue, symbols=[symbol])
    except (OSError, ValueError) as exc:
        return _error(f"--depth {exc}")
    history, tracker = replay.layer.history(symbol), replay.layer.walls(symbol)
    if history is None or tracker is None or replay.last_ms is None or not replay.samples:
        return _error(f"no synced {symbol} book in {', '.join(args.depth)} (a snapshot and the diffs after it are "
                      "needed)")
    end_ms = at_ms if at_ms is not None else replay.last_ms
    start_ms = max(end_ms - window_ms, replay.first_ms or end_ms)
    step_ms = max(sample_ms, (end_ms - start_ms) // 600 or sample_ms)
    grid = history.grid(start_ms, end_ms, step_ms)
    walls = [*tracker.active(), *tracker.ended(start_ms)]
    mids = replay.mids.get(symbol, [])
    points = (np.array([m[0] for m in mids if start_ms <= m[0] <= end_ms], dtype=np.int64),
              np.array([m[1] for m in mids if start_ms <= m[0] <= end_ms], dtype=np.float64))
    out = _drawn(lambda: render_depth(grid, walls, args.out, symbol=symbol, mids=points, scale=args.scale,
                                      width_px=size[0], height_px=size[1]))
    if isinstance(out, str):
        return _error(out)
    print(f"{out}: {size[0]}x{size[1]} px, {symbol} depth {_when(start_ms)} to {_when(end_ms)}, "
          f"{replay.updates} updates, {replay.samples} samples, {replay.resyncs()} resyncs, grid "
          f"{grid.times.size} x {grid.prices.size}, {len(walls)} walls, {args.scale} scale")
    return 0


def _stored_depth_picture(args: argparse.Namespace, symbol: str, window_ms: int, at_ms: int | None,
                          size: tuple[int, int]) -> int:
    """``--layer depth --depth STORE``: the depth runs a bot recorded to its event store (``depth_runs``) over the
    window ending at ``--at`` (default: the last run's end), with the walls found by replaying them at the
    recording's interval (:class:`~liquidation_hunter.data.depth_replay.StoredDepthReplay`; without the trades,
    a wall that went is drawn as pulled)."""
    store = args.depth[0]
    try:
        replay = StoredDepthReplay(store, [symbol])
        end_ms = at_ms if at_ms is not None else replay.last_ms
        replay.advance(end_ms - 1)  # the walls as they stood: at the recording's end its books go
        history, tracker = replay.histories[symbol_key(symbol)], replay.layer.walls(symbol)
        start_ms = max(end_ms - window_ms, replay.first_ms)
        grid = history.grid(start_ms, end_ms, max(1000, (end_ms - start_ms) // 600))
        walls = [] if tracker is None else [*tracker.active(), *tracker.ended(start_ms)]
    except (OSError, ValueError) as exc:  # EventStoreError is a ValueError
        return _error(f"--depth {exc}" if store not in str(exc) else str(exc))
    out = _drawn(lambda: render_depth(grid, walls, args.out, symbol=symbol, scale=args.scale, width_px=size[0],
                                      height_px=size[1]))
    if isinstance(out, str):
        return _error(out)
    print(f"{out}: {size[0]}x{size[1]} px, {symbol} recorded depth {_when(start_ms)} to {_when(end_ms)}, "
          f"{history.runs} runs, grid {grid.times.size} x {grid.prices.size}, {len(walls)} walls, "
          f"{args.scale} scale")
    return 0


def cmd_heatmap(args: argparse.Namespace) -> int:
    """``liquidation-hunter heatmap``: draw one symbol's heatmap from a recording. Exit 0, or 2 with one line."""

    symbol = symbol_key(args.symbol)
    try:
        window_ms = _option("--window", parse_duration_ms, args.window)
        width_px, height_px = _parse_size(args.size)
        at_ms = _option("--at", parse_time_ms, args.at) if args.at else None
        exchanges = parse_exchanges_option(args.exchange, "--exchange")
    except ValueError as exc:
        return _error(str(exc))
    if args.layer == "depth":
        return _depth_picture(args, symbol, window_ms, at_ms, (width_px, height_px))
    if args.depth:
        return _error("--depth FILE is drawn with --layer depth")
    if args.layer != "observed" and not args.history:
        return _error(f"--layer {args.layer} needs --history DIR (what fetch-history stores, var/history/binance)")

    cluster_config: HeatmapConfig | None = None
    bandwidth = DEFAULT_BANDWIDTH
    source = args.events
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigFileError as exc:
            return _error(str(exc))
        cluster_config = config.heatmap
        bandwidth = config.stats.bandwidth
        if source is None:
            source = getattr(config.storage, "events", None)
            if source is None:
                return _error(f"{args.config}: storage.events is null (nothing recorded); give --events FILE")
    if source is None:
        return _error("give the recording with --events FILE (or --config: its storage.events)")
    if not source_exists(source):  # a file, a Parquet dataset's directory or a postgresql:// URL
        return _error(f"{source}: no such file")
    shown = mask_url(source)
    decay = args.decay_minutes if args.decay_minutes is not None else (
        cluster_config.time_decay_minutes if cluster_config else 60.0)
    if not (math.isfinite(decay) and decay > 0):
        return _error(f"--decay-minutes {decay!r}: expected a positive number")
    if cluster_config is not None and cluster_config.time_decay_minutes != decay:
        cluster_config = replace(cluster_config, time_decay_minutes=decay)

    # With --at, only what the picture needs is read: the window, and the clusters' horizon before it.
    horizon_ms = int((cluster_config or HeatmapConfig(time_decay_minutes=decay)).horizon_minutes * 60_000)
    since_ms = None if at_ms is None else at_ms - window_ms - horizon_ms
    try:
        events = load_events(source, symbols=[symbol], since_ms=since_ms,
                             until_ms=None if at_ms is None else at_ms + 1)  # its end is exclusive, ours inclusive
    except (OSError, ValueError) as exc:
        return _error(f"{shown}: {exc}" if shown not in str(exc) else str(exc))
    if exchanges is not None:
        available = sorted({e.exchange for e in events}, key=lambda v: Venue(v).code)
        events = [e for e in events if e.exchange in exchanges]
        if not events:
            return _error(f"no {symbol} liquidations from {', '.join(exchanges)} in {shown} (it holds "
                          f"{', '.join(available) or 'none'})")
    end_ms = at_ms if at_ms is not None else max((e.trade_time for e in events), default=0)
    start_ms = end_ms - window_ms
    if not events and at_ms is None:
        return _error(f"no {symbol} liquidations in {shown}")
    if not any(start_ms <= e.trade_time <= end_ms for e in events):
        return _error(f"no {symbol} liquidations between {_when(start_ms)} and {_when(end_ms)} in {shown}")

    price_points = None
    price_label = None
    if args.prices:
        try:
            series = load_prices(args.prices).only([symbol]).window(start_ms, end_ms + 1)
        except (OSError, ValueError) as exc:
            return _error(f"--prices {exc}")
        if symbol in series:
            price_points = (series.times(symbol), series.prices(symbol))
            price_label = f"price (trades, {Path(args.prices).name})"
        else:
            print(f"warning: no {symbol} prices in {args.prices} within the window; "
                  "drawing the liquidations' prices", file=sys.stderr)

    grid = build_grid(events, symbol=symbol, start_ms=start_ms, end_ms=end_ms, time_decay_minutes=decay,
                      price_points=price_points, cluster_config=cluster_config, exchanges=exchanges)
    bands = None
    if args.layer != "observed":
        try:
            bands = estimated_bands(args.history, symbol, end_ms, float(grid.price[-1]) if grid.price.size else None)
        except (OSError, ValueError) as exc:
            return _error(str(exc))
    recent = [e for e in events if end_ms - horizon_ms <= e.trade_time <= end_ms]  # what the clusters are made of
    density = density_profile([e.price for e in recent], [e.price * e.quantity for e in recent],
                              [e.trade_time for e in recent], [e.side == "long" for e in recent], now_ms=end_ms,
                              time_decay_minutes=decay, bandwidth=bandwidth)
    out = _drawn(lambda: render_heatmap(grid, args.out, scale=args.scale, width_px=width_px, height_px=height_px,
                                        price_label=price_label, estimated=bands, observed=args.layer != "estimated",
                                        density=density))
    if isinstance(out, str):
        return _error(out)
    n_time, n_price = grid.shape
    print(f"{out}: {width_px}x{height_px} px, {symbol} {_when(start_ms)} to {_when(end_ms)}, "
          f"{grid.events.trade_time.size} liquidations"
          f"{'' if exchanges is None else ' from ' + ', '.join(exchanges)}, {len(grid.clusters)} clusters, "
          f"grid {n_time} x {n_price}, decay {decay:g} min, {args.scale} scale"
          f"{'' if bands is None else ', layer ' + args.layer + ' (' + bands.label + ')'}")
    return 0


def add_heatmap_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``heatmap`` command to the CLI's subparsers; its handler is :func:`cmd_heatmap`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "heatmap", help="draw a symbol's liquidation heatmap (time x price) to a PNG",
        description="Draw SYMBOL's observed-liquidation heatmap over a window of a recording: a time x price "
        "grid of decayed liquidation notional (purple to yellow), the price line, the largest long and short "
        "liquidations, and the clusters at the window end. Needs matplotlib (the 'plot' extra). "
        "Exit 0, or 2 with a one-line error.")
    parser.add_argument("symbol", metavar="SYMBOL", help="BTCUSDT or BTC/USDT:USDT")
    parser.add_argument("--events", metavar="FILE_OR_DB",
                        help="the recording: forceOrder JSONL (or CSV, SQLite with live_heatmap.store.history)")
    parser.add_argument("--config", "-c", metavar="FILE",
                        help="a bot's config: its storage.events is the recording unless --events is given, "
                        "and its heatmap section sets the clusters (and the decay)")
    parser.add_argument("--prices", metavar="FILE",
                        help="price file for the price line: trades or klines, as the backtest reads them "
                             "(default: the liquidation fill prices)")
    parser.add_argument("--window", default="2h", help="how far back from --at: 30m, 2h, 1d (default 2h)")
    parser.add_argument("--at", help="the window's end, epoch ms or ISO-8601 (UTC when no zone); "
                        "default: the symbol's last liquidation")
    parser.add_argument("--exchange", action="append", metavar="VENUE",
                        help="only this venue's liquidations: binance, bybit, okx (repeatable, or a comma list; "
                             "default: every venue in the recording)")
    parser.add_argument("--layer", choices=LAYERS, default="observed",
                        help="what to draw: observed liquidations (default), estimated levels (a model, from "
                             "--history), both, or the order-book depth (from --depth)")
    parser.add_argument("--history", metavar="DIR",
                        help="what fetch-history stored (var/history/binance), for --layer estimated or both: "
                             "the model fed the bars closed by the window's end")
    parser.add_argument("--depth", action="append", metavar="FILE",
                        help="--layer depth: a depth recording (repeatable: the stream and its REST snapshots), "
                             "replayed through the book sync into a liquidity layer")
    parser.add_argument("--depth-venue", choices=("binance", "bybit"), default="binance",
                        help="--layer depth: whose book sync replays the recording (default binance)")
    parser.add_argument("--sample", default="1s", help="--layer depth: sample the book every (default 1s)")
    parser.add_argument("--scale", choices=SCALES, default="sqrt", help="colour intensity scale (default sqrt)")
    parser.add_argument("--decay-minutes", type=float, default=None,
                        help="tau of exp(-age/tau) (default: the config's, else 60)")
    parser.add_argument("--size", default="1200x700", help="picture size in pixels (default 1200x700)")
    parser.add_argument("--out", "-o", default="heatmap.png", help="the PNG to write (default heatmap.png)")
    parser.set_defaults(handler=cmd_heatmap)
    return parser
