"""Where a hunter's heatmap gets its events: one function per source, looked up by name.

A source takes the hunter's heatmap (it may replace it) and returns the heatmap
to use, or an :class:`Attached` (the heatmap and the stream feeding it, which the
hunter stops with :meth:`~liquidation_hunter.signals.hunter.LiquidationHunter.stop`).
Register another with :func:`register_source`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.store.history import read_events

if TYPE_CHECKING:
    # websocket-client (about 50 ms) loads only when a stream starts
    from live_heatmap.stream.stream import LiquidationStream

__all__ = ["SOURCES", "Attached", "DataSource", "register_source"]


@dataclass(frozen=True, slots=True)
class Attached:
    """What a source that runs something returns: the heatmap, and the stream feeding it."""

    heatmap: LiveLiquidationHeatmap
    stream: LiquidationStream | None = None


#: (heatmap, exchange ids, options) -> the heatmap to use (or the heatmap and its stream).
DataSource = Callable[[LiveLiquidationHeatmap, Sequence[str], dict[str, Any]], LiveLiquidationHeatmap | Attached]

SOURCES: dict[str, DataSource] = {}


def register_source(name: str, source: DataSource) -> None:
    """Make ``set_data_source(name, ...)`` use ``source``."""
    SOURCES[name] = source


def _live_binance(heatmap: LiveLiquidationHeatmap, symbols: Sequence[str], options: dict[str, Any]) -> Attached:
    """Stream from Binance into the heatmap (background threads): ``set_data_source('live_binance',
    symbols=[...])``; options (``mark_price=True``, ``ws_url=``, any stream setting) go to
    :class:`~live_heatmap.stream.stream.LiquidationStream`."""
    from live_heatmap.stream.stream import LiquidationStream  # noqa: PLC0415 - lazy: websocket-client

    return Attached(heatmap, LiquidationStream(heatmap, list(symbols) or "all", **options).start())


def _existing_heatmap(heatmap: LiveLiquidationHeatmap, symbols: Sequence[str],
                      options: dict[str, Any]) -> LiveLiquidationHeatmap:
    """Use a heatmap fed elsewhere: ``set_data_source('heatmap', heatmap=hm)``."""
    other = options.pop("heatmap", None)
    if not isinstance(other, LiveLiquidationHeatmap):
        raise TypeError("source 'heatmap' needs heatmap=<LiveLiquidationHeatmap>")
    if options:
        raise TypeError(f"source 'heatmap': unexpected options {sorted(options)}")
    return other


def _replay_file(heatmap: LiveLiquidationHeatmap, symbols: Sequence[str],
                 options: dict[str, Any]) -> LiveLiquidationHeatmap:
    """Load a recording (any format ``load_events`` reads: forceOrder frames, CSV, JSON, SQLite):
    ``set_data_source('replay', path=...)``.

    Only the given symbols are kept (all when none are given); rejected lines are counted in the heatmap's
    ``rejected``. Query with ``now_ms`` (or give the hunter a clock) to look at the recording's time.
    """
    path = options.pop("path", None)
    if path is None:
        raise TypeError("source 'replay' needs path=<a recording: JSONL of forceOrder frames, CSV, JSON, SQLite>")
    if options:
        raise TypeError(f"source 'replay': unexpected options {sorted(options)}")
    report = read_events(path, symbols=symbols or None)
    for reason, count in report.rejected.items():
        for _ in range(count):
            heatmap.record_reject(reason)
    heatmap.ingest_many(report.events)
    return heatmap


register_source("live_binance", _live_binance)
register_source("heatmap", _existing_heatmap)
register_source("replay", _replay_file)
