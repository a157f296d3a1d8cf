"""The depth picture (``heatmap --layer depth``, issue 15): a liquidity layer's depth over time drawn to a PNG.

:func:`render_depth` draws a :class:`~live_heatmap.orderbook.depth_history.DepthGrid`: time (UTC) across, price up,
each cell the resting notional of its log-price bin at that moment, bids in blues and asks in oranges (two colour
maps, so the side reads without a legend lookup), on a linear, square-root or log scale of the largest cell; the mid
drawn over it in white; the walls as solid lines at their price from first seen to gone (or the window end), a dot
where one was filled and a cross where pulled. matplotlib (the ``plot`` extra) is imported inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from live_heatmap.orderbook.depth_history import DepthGrid
from live_heatmap.orderbook.walls import Wall

__all__ = ["render_depth"]

LOG_DECADES = 3.0
WALL_BID = "#b8dcff"
WALL_ASK = "#ffd9a8"


def _norm(values: npt.NDArray[np.float64], vmax: float, scale: str) -> npt.NDArray[np.float64]:
    """0..1 of each value on the scale (0: nothing)."""
    f = np.clip(values / vmax, 0.0, 1.0) if vmax > 0 else np.zeros_like(values)
    if scale == "sqrt":
        return np.sqrt(f)
    if scale == "log":
        with np.errstate(divide="ignore"):
            logged = (np.log10(np.where(f > 0, f, 1e-300)) + LOG_DECADES) / LOG_DECADES
        return np.clip(np.where(f > 0, logged, 0.0), 0.0, 1.0)
    return f


def render_depth(grid: DepthGrid, walls: Sequence[Wall], out_path: str | Path, *, symbol: str,
                 mids: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None, scale: str = "sqrt",
                 width_px: int = 1200, height_px: int = 700, title: str | None = None) -> Path:
    """Draw ``grid`` (``bid[t, p]``, ``ask[t, p]``) and ``walls`` to a PNG of ``width_px`` x ``height_px``; ``mids``:
    (times ms, prices) of the mid line. Raises ``ValueError`` for an empty grid or a bad size."""
    if grid.times.size == 0 or grid.prices.size == 0:
        raise ValueError(f"{symbol}: no depth to draw (no synced book in the recording)")
    if not (width_px >= 300 and height_px >= 200):
        raise ValueError(f"picture size: at least 300 x 200 pixels, got {width_px} x {height_px}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - lazy: matplotlib
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: matplotlib

    bid = grid.bid.astype(np.float64)
    ask = grid.ask.astype(np.float64)
    vmax = float(max(bid.max(initial=0.0), ask.max(initial=0.0)))
    fb, fa = _norm(bid, vmax, scale), _norm(ask, vmax, scale)
    background = np.array([13, 16, 32], dtype=np.float64) / 255.0
    blue = np.array([60, 140, 255], dtype=np.float64) / 255.0
    orange = np.array([255, 154, 0], dtype=np.float64) / 255.0
    strength = np.maximum(fb, fa)
    colour = np.where((fb >= fa)[..., None], blue, orange)
    t = np.where(strength > 0, 0.2 + 0.8 * strength, 0.0)[..., None]
    rgb = background + (colour - background) * t  # (time, price, 3)
    image = np.transpose(rgb, (1, 0, 2))  # rows: price, ascending

    step = int(grid.times[1] - grid.times[0]) if grid.times.size > 1 else 1000
    days = 86_400_000.0
    x0, x1 = grid.times[0] / days, (grid.times[-1] + step) / days
    y0, y1 = float(grid.prices[0]), float(grid.prices[-1]) * (1.0 + grid.bin_width)

    out = Path(out_path)
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#0d1020")  # the background above
    ax.imshow(image, origin="lower", aspect="auto", extent=(x0, x1, y0, y1), interpolation="nearest")
    if mids is not None and mids[0].size:
        ax.plot(mids[0] / days, mids[1], color="white", linewidth=1.2, label="mid")
    end = int(grid.times[-1] + step)
    for wall in walls:
        colour_w = WALL_BID if wall.side == "bid" else WALL_ASK
        stop = wall.ended_ms if wall.ended_ms is not None else end
        ax.plot([wall.first_seen_ms / days, stop / days], [wall.price, wall.price], color=colour_w, linewidth=2.5,
                solid_capstyle="butt")
        if wall.state in ("filled", "pulled"):
            ax.plot([stop / days], [wall.price], marker="o" if wall.state == "filled" else "x", color=colour_w,
                    markersize=7, markeredgewidth=2)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.xaxis_date(tz=UTC)
    ax.set_ylabel("price")
    start = datetime.fromtimestamp(int(grid.times[0]) / 1000, UTC)
    ax.set_title(title or f"{symbol} order-book depth from {start:%Y-%m-%d %H:%M:%S} UTC (bids blue, asks "
                          f"orange, {scale}); walls: line while standing, o filled, x pulled", fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, metadata={"Software": None})
    return out
