"""The heatmap picture (the ``heatmap`` command, ``liquidation_hunter.cli.heatmap``, draws it from a recording).

:func:`render_heatmap` draws a :class:`~live_heatmap.grid.HeatmapGrid` to a PNG. matplotlib (the
``plot`` extra) is imported inside it, so neither the library nor the other commands load it.

How the picture reads:

* **Main panel**: time (UTC) across, price up; each cell's colour is the decayed notional the
  heatmap remembers there at that moment, longs and shorts together (purple: nothing, yellow: the
  most), on a linear, square-root or log scale. The price line is drawn over it in white.
* **Long versus short.** Colour already carries intensity, so the side is told by shape and a
  second, traditional red/green code kept off the colour scale: the largest liquidations are marked
  where they printed (red down-triangle: a long was liquidated, price fell into it; green
  up-triangle: a short was liquidated, price rose into it; area by notional), clusters are
  drawn in their side's colour, and a side panel sharing the price axis shows, at the window end,
  how much each price row holds of long (red, to the left) and short (green, to the right)
  liquidations. Two separate heatmaps were the alternative; they halve the price resolution and
  leave one panel nearly empty in a one-sided move, which is the usual case.
* **Clusters** at the window end: a dashed line at the level from the cluster's first event on, a
  bar at the right edge over its price span (longs just inside, shorts just outside, so that they
  never hide each other), and a label with side, level, strength and notional (the six strongest).
  A shaded band was tried and dropped: a 2 % cluster tints most of the panel and reads as heat.
* **Venues.** When the events come from more than one venue (or from another venue than Binance), each
  marked liquidation's edge says where it printed (white: Binance, cyan: Bybit, orange: OKX; the legend
  names them), the cluster labels give each venue's share of the notional, and the title says which venues
  were asked for (``heatmap --exchange bybit``). A Binance-only picture is drawn as before.
* **Estimated levels** (issue 14, ``heatmap --layer estimated|both --history DIR``; :class:`EstimatedBands`): a
  model's open notional per price, not observed liquidations, so drawn apart from the heat: hatched, outlined
  bands growing leftward from the main panel's right edge (magenta: longs, light blue: shorts; a colour family
  that is neither viridis nor the observed red/green), their scale their own. A box in the panel and the title
  say "estimated" with the bracket table's date and whether validated. With ``observed=False``
  (``--layer estimated``) the observed cells, marks and clusters are left out and the side panel shows the
  estimated bands instead.
* **Density profile** (issue 16, ``density``: a :class:`~live_heatmap.stats.DensityProfile`): over the side
  panel's bars, a line per side (dark red: longs, to the left; dark green: shorts, to the right) of the decayed
  liquidation notional per price, smoothed by a Gaussian kernel of ``bandwidth`` on log price, on a scale of its
  own (its peak in view as wide as the largest bar): where the liquidations lie, not how much (the bars say that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from live_heatmap.venue import PRICE_KIND_OF, VENUES_BY_CODE, Venue

if TYPE_CHECKING:
    from live_heatmap.grid import HeatmapGrid
    from live_heatmap.stats import DensityProfile

__all__ = ["SCALES", "EstimatedBands", "render_heatmap"]

SCALES = ("linear", "sqrt", "log")
LONG_COLOUR = "#ff4d5e"
SHORT_COLOUR = "#2bd97c"
DENSITY_LONG = "#a3001a"
DENSITY_SHORT = "#00733a"
#: At most this many of the largest liquidations are marked, and this many clusters labelled.
MAX_MARKERS = 40
MAX_CLUSTERS = 6
#: The log scale spans this many decades below the brightest cell.
LOG_DECADES = 3.0
#: The edge colour of a marked liquidation, by venue code (Binance, Bybit, OKX), when venues are told apart.
VENUE_EDGES = ("white", "#00e5ff", "#ff9f1c")
VENUE_ABBR = ("BN", "BY", "OK")
#: Estimated levels: outlined and hatched, in colours apart from viridis and the observed red/green.
ESTIMATED_LONG = "#ff6ad5"
ESTIMATED_SHORT = "#6ac8ff"
#: The estimated bands reach at most this share of the main panel's width.
ESTIMATED_REACH = 0.3


@dataclass(frozen=True)
class EstimatedBands:
    """Estimated levels to draw: open notional per bin price (ascending) and side, and what to say beside them
    (``label``: ``estimated · brackets of 2025-12-25 (shipped table) · not validated``)."""

    prices: np.ndarray
    long: np.ndarray
    short: np.ndarray
    label: str
    bin_width: float


def _fmt_duration(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 60_000:.1f}m"


def _fmt_usd(value: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"${value / limit:.3g}{suffix}"
    return f"${value:.3g}"


def _fmt_price(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{max(2, 4 - math.floor(math.log10(value)))}f}".rstrip("0").rstrip(".")


def _quote(symbol: str) -> str:
    for quote in ("USDT", "USDC", "BUSD", "FDUSD", "USD"):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return quote
    return "quote"


def render_heatmap(grid: HeatmapGrid, out_path: str | Path, *, scale: str = "linear", width_px: int = 1200,
                   height_px: int = 700, price_label: str | None = None, title: str | None = None,
                   estimated: EstimatedBands | None = None, observed: bool = True,
                   density: DensityProfile | None = None) -> Path:
    """Draw ``grid`` to a PNG of exactly ``width_px`` x ``height_px`` pixels; returns the path.

    ``scale``: ``linear``, ``sqrt`` or ``log`` colour normalisation of the cells (``log`` spans
    three decades below the brightest cell). ``price_label`` names the price line in the legend
    (default ``"price"``; without price points the liquidation fill prices are drawn, and said so).
    ``estimated``: estimated levels drawn beside the observed heat (module docstring); ``observed=False``
    leaves the observed cells, marks and clusters out (needs ``estimated``). ``density``: the side profile drawn
    over the side panel (module docstring; with the observed layer only).
    The same grid and arguments give the same bytes. Needs matplotlib (``pip install '.[plot]'``).
    """
    if not observed and estimated is None:
        raise ValueError("observed=False draws the estimated levels only: give estimated")
    if scale not in SCALES:
        raise ValueError(f"scale: expected one of {', '.join(SCALES)}, got {scale!r}")
    if not (width_px >= 300 and height_px >= 200):
        raise ValueError(f"picture size: at least 300 x 200 pixels, got {width_px} x {height_px}")
    # The object API on an Agg canvas: no pyplot, so no global figure state and no GUI backend
    # (the user's own pyplot backend is left alone, and threads may render at once).
    import matplotlib  # noqa: PLC0415 - lazy: matplotlib
    import matplotlib.dates as mdates  # noqa: PLC0415 - lazy: matplotlib
    import matplotlib.patheffects as pe  # noqa: PLC0415 - lazy: matplotlib
    from matplotlib import colors, ticker  # noqa: PLC0415 - lazy: matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - lazy: matplotlib
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: matplotlib
    from matplotlib.lines import Line2D  # noqa: PLC0415 - lazy: matplotlib

    out = Path(out_path)
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(1, 3, width_ratios=(8.0, 1.5, 0.18))
    ax = fig.add_subplot(gs[0, 0])
    prof = fig.add_subplot(gs[0, 1], sharey=ax)
    cax = fig.add_subplot(gs[0, 2])

    def tnum(ms: Any) -> Any:
        return np.asarray(ms, dtype=np.float64) / 86_400_000.0  # matplotlib date numbers: days since 1970

    total = grid.total
    vmax = float(total.max()) if total.size and total.max() > 0 else 1.0
    cmap = matplotlib.colormaps["viridis"].with_extremes(under="#440154", bad="#440154")
    norm = {"linear": colors.Normalize(0.0, vmax), "sqrt": colors.PowerNorm(0.5, 0.0, vmax),
            "log": colors.LogNorm(vmax * 10.0 ** -LOG_DECADES, vmax, clip=False)}[scale]
    cells = np.ma.masked_less_equal(total.T, 0.0) if scale == "log" else total.T
    if not observed:
        cells = np.ma.masked_less_equal(np.zeros_like(total.T), 0.0)
    x_edges, y_edges = tnum(grid.time_edges), grid.price_edges
    mesh = ax.pcolormesh(x_edges, y_edges, cells, cmap=cmap, norm=norm, shading="flat", rasterized=True)
    ax.set_facecolor("#440154")

    handles: list[Any] = []
    outline = [pe.Stroke(linewidth=2.6, foreground="#111111", alpha=0.8), pe.Normal()]
    events = grid.events if observed else type(grid.events).empty()
    if grid.price.size:
        label = price_label or "price"
        line_t, line_p = grid.price_time, grid.price
    else:
        only_fills = not np.any(events.exchange != Venue.BINANCE.code)  # Bybit's and OKX's are bankruptcy prices
        label = price_label or f"liquidation {'fill ' if only_fills else ''}prices (no price feed given)"
        line_t, line_p = events.trade_time, events.price
    if line_t.size:
        ax.plot(tnum(line_t), line_p, color="white", linewidth=1.1, path_effects=outline, zorder=4)
        handles.append(Line2D([], [], color="#444444", linewidth=1.4, label=label))

    # The largest liquidations where they printed: side by shape and colour, area by notional; the venue by the
    # edge colour when there is more than Binance to tell apart.
    venues_present = sorted(set(np.unique(events.exchange).tolist()) | {c.code for c in grid.exchanges or ()})
    by_venue = venues_present != [0] and bool(venues_present)
    if events.trade_time.size:
        notional = events.price * events.quantity
        top = np.argsort(-notional, kind="stable")[:MAX_MARKERS]
        area = 18.0 + 160.0 * np.sqrt(notional[top] / notional[top].max())
        edges = [VENUE_EDGES[v] for v in events.exchange[top].tolist()] if by_venue else "white"
        width = 1.3 if by_venue else 0.6
        for side, marker, colour in (("long", "v", LONG_COLOUR), ("short", "^", SHORT_COLOUR)):
            mine = events.is_long[top] == (side == "long")
            if mine.any():
                ax.scatter(tnum(events.trade_time[top[mine]]), events.price[top[mine]], s=area[mine],
                           marker=marker, c=colour, zorder=5, alpha=0.95, linewidths=width,
                           edgecolors=[e for e, m in zip(edges, mine, strict=True) if m] if by_venue else edges)
            handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=7, markerfacecolor=colour,
                                  markeredgecolor="white", label=f"{side} liquidated (largest)"))
    if by_venue:
        for code in venues_present:
            name = VENUES_BY_CODE[code].value
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor="#888888",
                                  markeredgecolor=VENUE_EDGES[code], markeredgewidth=2.0,
                                  label=f"{name} ({PRICE_KIND_OF[VENUES_BY_CODE[code]].value.replace('_', ' ')})"))

    # Clusters at the window end: dashed level from the first event on, a bracket over the band at the
    # right edge, and a label there (nudged apart when levels are close).
    x0, x1 = float(x_edges[0]), float(x_edges[-1])
    ax.set_xlim(x0, x1)
    ax.set_ylim(float(y_edges[0]), float(y_edges[-1]))
    shown = sorted(grid.clusters, key=lambda c: -c.strength)[:MAX_CLUSTERS] if observed else []
    label_y = _spread([c.price_level for c in shown], ax, min_gap_px=13.0)
    for c, y in zip(shown, label_y, strict=True):
        colour = LONG_COLOUR if c.side == "long" else SHORT_COLOUR
        since = max(x0, float(tnum(c.first_event_ms)))
        ax.hlines(c.price_level, since, x1, colors=colour, linestyles=(0, (5, 3)), linewidth=1.3, zorder=3)
        at = 1.0 - 0.0035 if c.side == "long" else 1.0 + 0.0035  # long and short bars side by side
        ax.plot([at, at], [c.price_low, c.price_high], color=colour, linewidth=4, solid_capstyle="butt",
                zorder=6, clip_on=False, transform=ax.get_yaxis_transform())
        split = " · " + " ".join(f"{VENUE_ABBR[v.code]} {n / c.total_notional:.0%}" for v, n in c.notional_by_venue
                                 ) if by_venue and c.notional_by_venue else ""
        ax.annotate(f"{c.side} {_fmt_price(c.price_level)} · strength {c.strength:.2f} · {_fmt_usd(c.total_notional)}"
                    f"{split}",
                    xy=(x1, y), xytext=(-8, 0), textcoords="offset points", ha="right", va="center",
                    fontsize=7.5, color="white", zorder=7,
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": colour, "edgecolor": "none", "alpha": 0.85})
    if shown:
        handles.append(Line2D([], [], color="#777777", linestyle=(0, (5, 3)), linewidth=1.3,
                              label="cluster at window end: level; bar at right: its price span"))
    if estimated is not None:
        handles.extend(_draw_estimated(ax, estimated, (float(y_edges[0]), float(y_edges[-1])), x1 - x0))

    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator, tz=UTC, show_offset=False))  # type: ignore[no-untyped-call]
    start = datetime.fromtimestamp(grid.start_ms / 1000, UTC)
    end = datetime.fromtimestamp(grid.end_ms / 1000, UTC)
    ax.set_xlabel(f"time (UTC), {start:%Y-%m-%d}" + (f" to {end:%Y-%m-%d}" if end.date() != start.date() else ""))
    ax.set_ylabel(f"price ({_quote(grid.symbol)})")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_price_ticks(ax)))
    if handles:
        ncol = len(handles) if len(handles) <= 5 else math.ceil(len(handles) / 2)  # venues: two rows
        fig.legend(handles=handles, loc="outside lower center", ncol=ncol, fontsize=8, frameon=False,
                   handletextpad=0.4, columnspacing=1.6)

    # Side panel: what each price row holds at the window end, long to the left, short to the right.
    centers = grid.price_centers
    heights = np.diff(y_edges)
    if observed or estimated is None:
        last_long, last_short = grid.long[-1], grid.short[-1]
        prof.barh(centers, -last_long, height=heights, color=LONG_COLOUR, linewidth=0)
        prof.barh(centers, last_short, height=heights, color=SHORT_COLOUR, linewidth=0)
    else:  # estimated only: the side panel shows the estimated bands
        inside = (estimated.prices >= y_edges[0]) & (estimated.prices <= y_edges[-1])
        centers, heights = estimated.prices[inside], estimated.prices[inside] * estimated.bin_width
        last_long, last_short = estimated.long[inside], estimated.short[inside]
        for values, colour, hatch in ((-last_long, ESTIMATED_LONG, "////"), (last_short, ESTIMATED_SHORT, "\\\\")):
            prof.barh(centers, values, height=heights, facecolor="none", edgecolor=colour, hatch=hatch,
                      linewidth=0.5)
    reach = max(float(last_long.max(initial=0.0)), float(last_short.max(initial=0.0)), 1.0)
    if density is not None and observed and density.events:
        inside = (density.prices >= y_edges[0]) & (density.prices <= y_edges[-1])
        d_long, d_short = density.long[inside], density.short[inside]
        peak = max(float(d_long.max(initial=0.0)), float(d_short.max(initial=0.0)))
        if peak > 0:  # its own scale: the peak in view reaches as far as the largest bar
            prof.plot(-d_long / peak * reach, density.prices[inside], color=DENSITY_LONG, linewidth=1.3)
            prof.plot(d_short / peak * reach, density.prices[inside], color=DENSITY_SHORT, linewidth=1.3)
    reach *= 1.08
    prof.set_xlim(-reach, reach)
    prof.axvline(0.0, color="#888888", linewidth=0.6)
    prof.xaxis.set_major_locator(ticker.MaxNLocator(3, symmetric=True))
    prof.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: _fmt_usd(abs(v)) if v else "0"))
    prof.tick_params(axis="x", labelsize=7)
    prof.tick_params(axis="y", labelleft=False)
    prof.set_title(f"at {end:%H:%M} UTC" + ("" if observed else ", estimated"), fontsize=8.5)
    lines = "" if density is None or not observed else \
        f"\nlines: density ({density.bandwidth * 100:g} % kernel), own scale"
    prof.set_xlabel("long | short" + lines, fontsize=8.5)
    prof.grid(axis="x", color="#dddddd", linewidth=0.5)
    prof.set_axisbelow(True)

    bar = fig.colorbar(mesh, cax=cax, extend="neither")
    bar.set_label(f"decayed notional per cell ({_quote(grid.symbol)}), {scale} scale" if observed else
                  "observed liquidations not drawn (estimated layer only)", fontsize=8.5)
    bar.ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: _fmt_usd(v) if v > 0 else "0"))
    bar.ax.tick_params(labelsize=7)

    n, notional_sum = int(events.trade_time.size), float((events.price * events.quantity).sum())
    venues = "" if grid.exchanges is None else " (" + ", ".join(v.value for v in grid.exchanges) + ")"
    span = (f"{start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC ({_fmt_duration(grid.end_ms - grid.start_ms)})")
    heading = (f"{grid.symbol} liquidations{venues}  {span}: {n} events, {_fmt_usd(notional_sum)}"
               f"; decay {grid.time_decay_minutes:g} min") if observed else f"{grid.symbol} estimated levels  {span}"
    if estimated is not None:
        heading += f"\n{'with ' if observed else ''}{estimated.label}"
    fig.suptitle(title or heading, fontsize=11)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, format="png", metadata={"Software": None})
    return out


def _draw_estimated(ax: Any, estimated: EstimatedBands, view: tuple[float, float], width: float) -> list[Any]:
    """The estimated bands in the main panel between the ``view`` prices (module docstring) and a box with the
    label; the legend's handles."""
    from matplotlib.patches import Patch  # noqa: PLC0415 - lazy: matplotlib

    low, high = view
    inside = (estimated.prices >= low) & (estimated.prices <= high)
    prices = estimated.prices[inside]
    longs, shorts = estimated.long[inside], estimated.short[inside]
    peak = max(float(longs.max(initial=0.0)), float(shorts.max(initial=0.0)))
    right = ax.get_xlim()[1]
    handles = []
    for side, values, colour, hatch in (("long", longs, ESTIMATED_LONG, "////"),
                                        ("short", shorts, ESTIMATED_SHORT, "\\\\")):
        if peak > 0:
            reach = values / peak * ESTIMATED_REACH * width
            ax.barh(prices, reach, height=prices * estimated.bin_width, left=right - reach, facecolor="none",
                    edgecolor=colour, hatch=hatch, linewidth=0.6, zorder=3.5)
        handles.append(Patch(facecolor="none", edgecolor=colour, hatch=hatch,
                             label=f"estimated {side} levels (open notional per price)"))
    ax.text(0.01, 0.98, estimated.label + ("" if peak > 0 else " · none in view"), transform=ax.transAxes,
            ha="left", va="top", fontsize=8, color="white", zorder=8,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "#222233", "edgecolor": ESTIMATED_LONG, "alpha": 0.85})
    return handles


def _price_ticks(ax: Any) -> Any:
    """Tick labels with thousands separators and as many decimals as the tick step needs."""
    def fmt(value: float, _pos: int | None) -> str:
        locs = np.asarray(ax.yaxis.get_majorticklocs(), dtype=np.float64)
        step = float(np.min(np.diff(locs))) if locs.size > 1 else abs(value) or 1.0
        decimals = next((d for d in range(12) if abs(round(step, d) - step) <= step * 1e-6), 12)
        return f"{value:,.{decimals}f}"
    return fmt


def _spread(levels: Sequence[float], ax: Any, *, min_gap_px: float) -> list[float]:
    """Label heights for ``levels`` (data units), pushed apart to at least ``min_gap_px`` on screen."""
    to_data = ax.transData.inverted().transform
    px = [float(ax.transData.transform((0.0, level))[1]) for level in levels]
    order = sorted(range(len(px)), key=px.__getitem__)
    placed = accumulate((px[i] for i in order), lambda below, y: max(y, below + min_gap_px))
    out = [0.0] * len(px)
    for i, y in zip(order, placed, strict=True):
        out[i] = float(to_data((0.0, y))[1])
    return out


# ------------------------------------------------------------------------------------------ the CLI
