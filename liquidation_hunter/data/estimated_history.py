"""An estimated layer from fetched history (issue 14): what ``serve --history DIR`` and ``heatmap --layer estimated
--history DIR`` show beside a recording.

:func:`layer_from_history` feeds each symbol's model bars (:func:`~liquidation_hunter.data.history_bars.
load_history_bars`) into one :class:`~live_heatmap.estimated.layer.EstimatedLayer`, up to a moment: only bars
closed at or before it (no look-ahead), so the layer is what a bot running then would have held.
"""

from __future__ import annotations

import os
from pathlib import Path

from liquidation_hunter.data.history_bars import HistoryError, load_history_bars
from liquidation_hunter.data.history_parquet import dataset_symbols, is_history_dataset
from live_heatmap.common.symbols import symbol_key
from live_heatmap.estimated.layer import EstimatedLayer

__all__ = ["history_symbols", "layer_from_history"]


def history_symbols(root: str | os.PathLike[str]) -> list[str]:
    """The symbols with klines under ``root`` (``klines/<SYMBOL>/``, or the Parquet history's), sorted."""
    if is_history_dataset(root):
        return dataset_symbols(root)
    klines = Path(root) / "klines"
    return sorted(p.name for p in klines.iterdir() if p.is_dir()) if klines.is_dir() else []


def layer_from_history(root: str | os.PathLike[str], *, until_ms: int | None = None,
                       symbols: list[str] | None = None, interval: str = "5m",
                       layer: EstimatedLayer | None = None) -> tuple[EstimatedLayer, list[str]]:
    """``layer`` (default: a new one, shipped brackets, not validated) fed with the bars of ``symbols`` (default:
    every symbol under ``root``) closed at or before ``until_ms``; and notes, one line per symbol left out or
    worked around. Raises :class:`~liquidation_hunter.data.history_bars.HistoryError` (a ``ValueError``) naming
    ``root`` when no symbol gives a bar."""
    base = Path(root)
    if not base.is_dir():
        raise HistoryError(f"--history {base}: no such folder (what `liquidation-hunter fetch-history` stores)")
    wanted = [symbol_key(s) for s in symbols] if symbols is not None else history_symbols(base)
    if not wanted:
        raise HistoryError(f"--history {base}: no klines/<SYMBOL>/ folder; run `liquidation-hunter fetch-history "
                           "SYMBOL --from ... --to ...` first")
    out = layer if layer is not None else EstimatedLayer()
    notes: list[str] = []
    for key in wanted:
        try:
            history = load_history_bars(base, key, interval=interval, end_ms=until_ms)
        except HistoryError as exc:
            notes.append(f"{key}: left out ({exc})")
            continue
        if not history.bars:
            notes.append(f"{key}: left out (no bar closed by then)")
            continue
        for bar in history.bars:
            out.update(key, bar)
        notes.extend(f"{key}: {note}" for note in history.notes())
    if not len(out):
        raise HistoryError(f"--history {base}: no bar of {', '.join(wanted)[:200]} closed by then"
                           + ("".join(f"; {n}" for n in notes[:3])))
    return out, notes
