"""Configured symbols -> one venue's instruments (ids and heatmap keys); the ones it does not list, skipped."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from live_heatmap.common.instruments import Instrument, Instruments
from live_heatmap.common.symbols import to_unified
from live_heatmap.venue import Venue

__all__ = ["Resolved", "resolve_symbols"]

log = structlog.get_logger("live_heatmap.stream.stream")

Resolved = tuple[list[tuple[str, str]] | None, tuple[str, ...]]
"""(venue id, heatmap key) per listed symbol (None: every instrument, no filter), and the skipped symbols."""


def resolve_symbols(venue: Venue, symbols: Sequence[str] | str, instruments: Instruments | None, *,
                    by_rule: Callable[[str], tuple[str, str]] | None = None) -> Resolved:
    """``symbols`` (unified symbols or the venue's ids, or ``"all"``) on ``venue``.

    A symbol is looked up in ``instruments`` (by unified symbol, by id, then by the unified form of an id such
    as ``BTCUSDT``); without instruments, ``by_rule`` maps it (Bybit's linear ids follow Binance's rule). A
    symbol the venue does not list is skipped with a warning. ``"all"`` is None (no filter) when
    ``instruments`` is None, else every instrument."""
    if isinstance(symbols, str):
        if symbols.lower() != "all":
            raise ValueError(f"symbols: expected a list or 'all', got {symbols!r}")
        if instruments is None:
            return None, ()
        return sorted((i.venue_id, i.key) for i in instruments.by_id.values()), ()
    if not symbols:
        raise ValueError("symbols: the list is empty (use 'all' for every symbol)")
    found: dict[str, str] = {}
    skipped: list[str] = []
    for symbol in symbols:
        instrument = None if instruments is None else _lookup(instruments, symbol)
        if instrument is not None:
            found[instrument.venue_id] = instrument.key
        elif instruments is None and by_rule is not None:
            venue_id, key = by_rule(symbol)
            found[venue_id] = key
        else:
            skipped.append(symbol)
    if skipped:
        log.warning("stream.symbols_skipped", venue=str(venue), symbols=skipped,
                    why="the venue does not list them")
    return sorted(found.items()), tuple(skipped)


def _lookup(instruments: Instruments, symbol: str) -> Instrument | None:
    found = instruments.for_unified(symbol) or instruments.get(symbol)
    if found is None:
        try:
            found = instruments.for_unified(to_unified(symbol))
        except ValueError:
            return None
    return found
