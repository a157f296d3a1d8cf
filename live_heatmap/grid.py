"""The heatmap as a time x price grid of decayed liquidation notional: pure numpy, no plotting.

What the picture (``liquidation-hunter heatmap``) and the HTTP API draw. A grid has time edges
``t_0 = start_ms < t_1 < ... < t_T = end_ms`` (UTC epoch ms) and log-spaced price edges
``p_0 < ... < p_P``. Column ``j`` holds the trade times ``(t_j, t_j+1]`` (column 0 also ``t_0``),
row ``i`` the prices ``[p_i, p_i+1)`` (the last row also ``p_P``).

**Decayed notional.** A cell is what the heatmap *remembers* at the end of its column: every event
traded up to that moment, at that price, weighted as the clusters weigh it::

    cell[j, i] = sum over events e with price in row i and since_ms <= T_e <= t_j+1
                 of  price_e * quantity_e * exp(-(t_j+1 - T_e) / tau)

with ``tau = time_decay_minutes`` (in ms) and ``since_ms = start_ms - carry_in_ms``. An event lights
its own column and keeps glowing, fading, in every later one: a band that starts where the
liquidations happened and dims to the right, like the cumulative intensity of a liquidation
heatmap. Longs and shorts are two grids (:attr:`HeatmapGrid.long`, :attr:`HeatmapGrid.short`);
:attr:`HeatmapGrid.total` is their sum. There is no horizon cut inside the window (beyond
``3 * tau`` an event weighs under 5 % of its notional).

It is computed without a loop over events or cells: one ``bincount`` deposits each event into its
own column, decayed to that column's end, and one product with the lower-triangular matrix
``exp(-(t_j+1 - t_c+1) / tau)`` (``j >= c``) carries every column's deposit into the later ones.

**Resolution** adapts to the window and the price range unless given: columns of a round width
(10 s, 1 min, 10 min...) giving 90 to 180 of them; log-spaced rows of at most 0.05 % of price,
at least 48 and at most 200 of them. Only price ratios matter, so a symbol quoted 1000 times
higher (``1000PEPEUSDT``) gets the same cells and edges 1000 times higher.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from live_heatmap.cluster import LiquidationCluster
from live_heatmap.clustering import SIDE_LONG, SIDE_SHORT, build_clusters, sort_by_side, venues_by_side
from live_heatmap.common.symbols import symbol_key
from live_heatmap.config import HeatmapConfig
from live_heatmap.venue import VENUES_BY_CODE, Venue
from live_heatmap.window import EventColumns, Venues
from live_heatmap.wire.events import LiquidationEvent

if TYPE_CHECKING:
    from live_heatmap.heatmap import LiveLiquidationHeatmap

__all__ = [
    "MAX_PRICE_BINS",
    "MAX_TIME_BINS",
    "HeatmapGrid",
    "PricePoints",
    "build_grid",
    "grid_from_heatmap",
    "price_edges_for",
    "time_edges_for",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: ``(times_ms, prices)``: two equally long sequences or arrays (trades, mark prices, candles' closes...).
PricePoints = tuple[Sequence[int] | IntArray, Sequence[float] | FloatArray]

MINUTE_MS = 60_000
#: Round column widths the adaptive time axis chooses from (ms).
NICE_WIDTHS_MS = tuple(s * 1000 for s in (1, 2, 5, 10, 15, 20, 30)) + tuple(
    m * MINUTE_MS for m in (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440))
#: The adaptive time axis takes the roundest width that gives at most this many columns.
TARGET_TIME_BINS = 180
MAX_TIME_BINS = 240
#: Adaptive rows: at most this relative step (0.05 % of price), within [MIN_PRICE_BINS, MAX_PRICE_BINS].
PRICE_STEP = 0.0005
MIN_PRICE_BINS = 48
MAX_PRICE_BINS = 200
#: Padding each side of the data's price range: this share of its (log) width, at least 0.1 %.
PRICE_PAD_SHARE = 0.04
PRICE_PAD_MIN = 0.001


@dataclass(frozen=True, eq=False)
class HeatmapGrid:
    """Decayed liquidation notional on a time x price grid (module docstring), plus what to draw over it.

    Arrays are indexed ``[time column, price row]``; notional is in quote currency (USD for USDT
    contracts). Treat the arrays as read-only.
    """

    symbol: str
    """Exchange id (``BTCUSDT``)."""
    time_decay_minutes: float
    """``tau`` of the decay."""
    time_edges: IntArray
    """``T + 1`` column edges, UTC epoch ms; the first is ``start_ms``, the last ``end_ms``."""
    price_edges: FloatArray
    """``P + 1`` row edges, ascending, log-spaced unless given."""
    long: FloatArray
    """``[T, P]`` decayed notional of liquidated long positions (``S=SELL``)."""
    short: FloatArray
    """``[T, P]`` decayed notional of liquidated short positions (``S=BUY``)."""
    price_time: IntArray
    """Price points inside the window (trade time, ms), ascending; empty when none were given."""
    price: FloatArray
    """The prices of :attr:`price_time`."""
    candles: FloatArray
    """``[T, 4]`` open, high, low, close of the price points in each column; NaN where none."""
    events: EventColumns
    """The events counted in the cells (inside the price range, ``since_ms <= T <= end_ms``), oldest first."""
    clusters: tuple[LiquidationCluster, ...] = field(default=())
    """The clusters at ``end_ms``, strongest first (what the heatmap reports then)."""
    exchanges: tuple[Venue, ...] | None = None
    """The venues the grid was asked for (None: every venue)."""

    def events_by_venue(self) -> dict[str, int]:
        """How many of :attr:`events` each venue brought, the venues with none left out."""
        counts = np.bincount(self.events.exchange, minlength=len(VENUES_BY_CODE)).tolist()
        return {venue.value: n for venue, n in zip(VENUES_BY_CODE, counts, strict=True) if n}

    @property
    def start_ms(self) -> int:
        return int(self.time_edges[0])

    @property
    def end_ms(self) -> int:
        return int(self.time_edges[-1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(time columns, price rows)``."""
        return (self.time_edges.size - 1, self.price_edges.size - 1)

    @property
    def total(self) -> FloatArray:
        """``long + short``."""
        return self.long + self.short

    @property
    def time_centers(self) -> FloatArray:
        centers: FloatArray = (self.time_edges[:-1] + self.time_edges[1:]) / 2.0
        return centers

    @property
    def price_centers(self) -> FloatArray:
        """Geometric centres of the rows."""
        centers: FloatArray = np.sqrt(self.price_edges[:-1] * self.price_edges[1:])
        return centers

    def to_dict(self, *, decimals: int | None = 2, points: bool = False, arrays: bool = False) -> dict[str, Any]:
        """A JSON-ready dict a charting library draws directly (Plotly ``heatmap``, ECharts, Vega).

        ``x``: the ``T + 1`` time edges (ms); ``y``: the ``P + 1`` price edges; ``z``, ``z_long``,
        ``z_short``: ``P`` rows of ``T`` values each (``z[i][j]`` is price row ``i`` at time column
        ``j``, the row-major layout those libraries expect), rounded to ``decimals``; ``arrays=True`` leaves
        them numpy arrays (orjson's ``OPT_SERIALIZE_NUMPY`` writes the same JSON several times faster).
        ``candles``: ``[column start ms, open, high, low, close]`` for the columns with price points.
        ``price_points`` (``[ms, price]`` pairs) only with ``points=True``: they can be many.
        """
        def rows(cells: FloatArray) -> Any:
            out = cells.T if decimals is None else np.round(cells.T, decimals)
            return np.ascontiguousarray(out) if arrays else out.tolist()

        has = ~np.isnan(self.candles[:, 0])
        candles = np.column_stack((self.time_edges[:-1][has].astype(np.float64), self.candles[has]))
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "time_decay_minutes": self.time_decay_minutes,
            "value": "decayed liquidation notional (quote currency) remembered at each column's end",
            "x": self.time_edges.tolist(),
            "y": self.price_edges.tolist(),
            "z": rows(self.total),
            "z_long": rows(self.long),
            "z_short": rows(self.short),
            "candles": [[int(r[0]), *r[1:]] for r in candles.tolist()],
            "events": int(self.events.trade_time.size),
            "events_by_venue": self.events_by_venue(),
            "exchanges": None if self.exchanges is None else [venue.value for venue in self.exchanges],
            "clusters": [c.to_dict() for c in self.clusters],
        }
        if points:
            out["price_points"] = [[t, p] for t, p in zip(self.price_time.tolist(), self.price.tolist(), strict=True)]
        return out


def time_edges_for(start_ms: int, end_ms: int, time_bins: int | None = None) -> IntArray:
    """Column edges from ``start_ms`` to ``end_ms``.

    ``time_bins`` given: that many equal columns (edges rounded to the ms). Otherwise the roundest
    width of :data:`NICE_WIDTHS_MS` that gives at most :data:`TARGET_TIME_BINS` columns (1 minute for
    a 2-hour window, 10 s for 30 minutes, 10 minutes for a day); the last column is cut short when
    the window is not a whole number of widths.
    """
    span = end_ms - start_ms
    if span <= 0:
        raise ValueError(f"empty window: start {start_ms} is not before end {end_ms}")
    if time_bins is not None:
        if not 1 <= time_bins <= span:
            raise ValueError(f"time_bins: expected 1..{span} (one ms a column at most), got {time_bins}")
        edges: IntArray = np.rint(np.linspace(start_ms, end_ms, time_bins + 1)).astype(np.int64)
        return edges
    width = next((w for w in NICE_WIDTHS_MS if span / w <= TARGET_TIME_BINS), None)
    if width is None:  # longer than 180 days: equal columns
        return time_edges_for(start_ms, end_ms, MAX_TIME_BINS)
    n = math.ceil(span / width)
    edges = start_ms + np.arange(n + 1, dtype=np.int64) * width
    edges[-1] = end_ms
    return edges


def price_edges_for(low: float, high: float, price_bins: int | None = None, *, pad: bool = True) -> FloatArray:
    """Log-spaced row edges covering ``[low, high]``.

    With ``pad`` the range is widened by :data:`PRICE_PAD_SHARE` of its log width each side (at
    least 0.1 %), so that nothing sits on the border. ``price_bins`` default: steps of at most
    :data:`PRICE_STEP` (0.05 %) of price, clamped to [:data:`MIN_PRICE_BINS`, :data:`MAX_PRICE_BINS`].
    """
    if not (0.0 < low <= high < math.inf):
        raise ValueError(f"price range: expected 0 < low <= high < inf, got ({low!r}, {high!r})")
    log_lo, log_hi = math.log(low), math.log(high)
    if pad:
        margin = max((log_hi - log_lo) * PRICE_PAD_SHARE, PRICE_PAD_MIN)
        log_lo, log_hi = log_lo - margin, log_hi + margin
    elif log_hi == log_lo:
        raise ValueError(f"price range: low == high == {low!r} (pad it, or give a range)")
    if price_bins is None:
        price_bins = min(MAX_PRICE_BINS, max(MIN_PRICE_BINS, math.ceil((log_hi - log_lo) / math.log1p(PRICE_STEP))))
    if price_bins < 1:
        raise ValueError(f"price_bins: expected an integer >= 1, got {price_bins}")
    edges: FloatArray = np.exp(np.linspace(log_lo, log_hi, price_bins + 1))
    return edges


def _as_columns(events: Iterable[LiquidationEvent] | EventColumns, symbol: str, venues: Venues) -> EventColumns:
    """Events as arrays sorted by trade time; :class:`LiquidationEvent` of other symbols, and events of other
    venues than ``venues`` (None: every venue), are skipped."""
    if isinstance(events, EventColumns):
        cols = EventColumns(np.asarray(events.trade_time, np.int64), np.asarray(events.is_long, np.bool_),
                            np.asarray(events.price, np.float64), np.asarray(events.quantity, np.float64),
                            np.asarray(events.exchange, np.int8))
        if venues is not None:
            cols = _select(cols, np.isin(cols.exchange, list(venues)))
    else:
        mine = [e for e in events if e[0] == symbol and (venues is None or Venue(e[8]).code in venues)]
        if not mine:
            return EventColumns.empty()
        cols = EventColumns(np.fromiter((e[5] for e in mine), np.int64, len(mine)),
                            np.fromiter((e[1] == "long" for e in mine), np.bool_, len(mine)),
                            np.fromiter((e[2] for e in mine), np.float64, len(mine)),
                            np.fromiter((e[3] for e in mine), np.float64, len(mine)),
                            np.fromiter((Venue(e[8]).code for e in mine), np.int8, len(mine)))
    order = _unsorted_order(cols.trade_time)
    return cols if order is None else _take(cols, order)


def _unsorted_order(times: IntArray) -> IntArray | None:
    """The stable order that sorts ``times``, or None when they are sorted already."""
    return np.argsort(times, kind="stable") if times.size > 1 and np.any(np.diff(times) < 0) else None


def _take(cols: EventColumns, index: npt.NDArray[Any]) -> EventColumns:
    return EventColumns(cols.trade_time[index], cols.is_long[index], cols.price[index], cols.quantity[index],
                        cols.exchange[index])


def _select(cols: EventColumns, keep: npt.NDArray[np.bool_]) -> EventColumns:
    return cols if keep.all() else _take(cols, keep)


def _price_series(price_points: PricePoints | None, start_ms: int, end_ms: int) -> tuple[IntArray, FloatArray]:
    if price_points is None:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    times = np.asarray(price_points[0], dtype=np.int64)
    prices = np.asarray(price_points[1], dtype=np.float64)
    if times.shape != prices.shape or times.ndim != 1:
        raise ValueError(f"price_points: expected (times, prices) of equal length, got shapes "
                         f"{times.shape} and {prices.shape}")
    keep = (times >= start_ms) & (times <= end_ms) & (prices > 0) & np.isfinite(prices)
    order = _unsorted_order(times[keep])
    return (times[keep], prices[keep]) if order is None else (times[keep][order], prices[keep][order])


def _column_of(times: IntArray, time_edges: IntArray) -> IntArray:
    """Column of each time: the first column whose end is at or after it (clamped into the grid)."""
    cols: IntArray = np.searchsorted(time_edges[1:], times, side="left").astype(np.int64)
    np.clip(cols, 0, time_edges.size - 2, out=cols)
    return cols


def _candles(times: IntArray, prices: FloatArray, time_edges: IntArray) -> FloatArray:
    n_cols = time_edges.size - 1
    out: FloatArray = np.full((n_cols, 4), np.nan)
    if times.size == 0:
        return out
    cols = _column_of(times, time_edges)
    starts = np.flatnonzero(np.concatenate(([True], cols[1:] != cols[:-1])))
    ends = np.append(starts[1:], cols.size) - 1
    which = cols[starts]
    out[which, 0] = prices[starts]
    out[which, 1] = np.maximum.reduceat(prices, starts)
    out[which, 2] = np.minimum.reduceat(prices, starts)
    out[which, 3] = prices[ends]
    return out


def decay_matrix(time_edges: IntArray, tau_ms: float) -> FloatArray:
    """``[T, T]``: ``exp(-(t_j+1 - t_c+1) / tau)`` for ``j >= c``, else 0 (carries column ``c`` into ``j``)."""
    ends = time_edges[1:].astype(np.float64)
    gap = ends[:, None] - ends[None, :]
    matrix: FloatArray = np.exp(-np.maximum(gap, 0.0) / tau_ms)
    matrix[gap < 0] = 0.0
    return matrix


def build_grid(
    events: Iterable[LiquidationEvent] | EventColumns,
    *,
    symbol: str,
    start_ms: int,
    end_ms: int,
    time_decay_minutes: float,
    time_bins: int | None = None,
    price_bins: int | None = None,
    price_points: PricePoints | None = None,
    price_range: tuple[float, float] | None = None,
    carry_in_ms: int = 0,
    clusters: Sequence[LiquidationCluster] | None = None,
    cluster_config: HeatmapConfig | None = None,
    exchanges: Iterable[Venue | str] | None = None,
) -> HeatmapGrid:
    """The grid of ``symbol`` over ``[start_ms, end_ms]`` (module docstring for the definitions).

    ``events``: :class:`LiquidationEvent` objects (other symbols' are skipped) or an
    :class:`EventColumns` of this symbol's events (``heatmap.events_since``). Events traded after
    ``end_ms`` or before ``start_ms - carry_in_ms`` are left out of the cells (``carry_in_ms > 0``
    lets the first columns remember what came just before the window, as the live heatmap does).

    ``price_points``: ``(times_ms, prices)`` of the price line (trades, mark prices); those inside
    the window are kept and summarised per column as :attr:`HeatmapGrid.candles`.

    ``price_range``: ``(low, high)`` of the rows, unpadded; events outside it are left out. Default:
    the range of the counted events, the price points and the clusters' bands, padded.

    ``clusters``: the clusters to show at the window end. Default: computed from ``events`` as the
    heatmap computes them at ``end_ms`` (:func:`~live_heatmap.clustering.build_clusters` with
    ``cluster_config``, default ``HeatmapConfig(time_decay_minutes=time_decay_minutes)``; its horizon
    may reach back before ``start_ms``), against the last price point or else the last fill price.

    ``exchanges``: only these venues' events (``["bybit"]``; None: every venue), in the cells and the clusters.

    Raises ``ValueError`` for an empty window, a bad decay or bin count, or when there is nothing to
    take a price range from.
    """
    if not (math.isfinite(time_decay_minutes) and time_decay_minutes > 0):
        raise ValueError(f"time_decay_minutes: expected a positive number, got {time_decay_minutes!r}")
    if carry_in_ms < 0:
        raise ValueError(f"carry_in_ms: expected >= 0, got {carry_in_ms}")
    key = symbol_key(symbol)
    selected = None if exchanges is None else tuple(sorted({Venue(str(x).lower()) for x in exchanges},
                                                          key=lambda v: v.code))
    start_ms, end_ms = int(start_ms), int(end_ms)
    time_edges = time_edges_for(start_ms, end_ms, time_bins)
    cols = _as_columns(events, key, None if selected is None else frozenset(v.code for v in selected))
    times = cols.trade_time
    in_cells = (times >= start_ms - carry_in_ms) & (times <= end_ms)
    counted = _select(cols, in_cells)
    price_time, price = _price_series(price_points, start_ms, end_ms)

    if clusters is None:
        config = cluster_config or HeatmapConfig(time_decay_minutes=time_decay_minutes)
        upto = _select(cols, times <= end_ms)
        current = float(price[-1]) if price.size else (float(upto.price[-1]) if upto.price.size else None)
        sides = np.where(upto.is_long, SIDE_LONG, SIDE_SHORT).astype(np.int8)
        by_side = sort_by_side(upto.price, upto.quantity, upto.trade_time, sides)
        found = build_clusters(key, by_side, now_ms=end_ms, config=config, current_price=current,
                               venues=venues_by_side(upto.price, sides, upto.exchange))
    else:
        found = tuple(clusters)

    if price_range is not None:
        price_edges = price_edges_for(float(price_range[0]), float(price_range[1]), price_bins, pad=False)
    else:
        everything = np.concatenate([counted.price, price, [c.price_low for c in found], [c.price_high for c in found]])
        if everything.size == 0:
            raise ValueError(f"{key}: no events or prices between {start_ms} and {end_ms} to take a price range "
                             "from (give price_range)")
        price_edges = price_edges_for(float(everything.min()), float(everything.max()), price_bins)

    n_time, n_price = time_edges.size - 1, price_edges.size - 1
    rows = np.searchsorted(price_edges, counted.price, side="right") - 1
    rows[counted.price == price_edges[-1]] = n_price - 1
    inside = (rows >= 0) & (rows < n_price)
    if not inside.all():
        counted, rows = _select(counted, inside), rows[inside]
    columns = _column_of(counted.trade_time, time_edges)
    tau_ms = time_decay_minutes * MINUTE_MS
    # Each event decayed to the end of its own column (carried-in events: to the end of column 0)...
    age_ms = (time_edges[1:][columns] - counted.trade_time).astype(np.float64)
    weight = counted.price * counted.quantity * np.exp(-age_ms / tau_ms)
    side_offset = np.where(counted.is_long, 0, n_time * n_price)
    deposits = np.bincount(side_offset + columns * n_price + rows, weights=weight,
                           minlength=2 * n_time * n_price).reshape(2, n_time, n_price)
    # ...then carried, decaying, into every later column: cells[j] = sum_c<=j exp(-(end_j - end_c)/tau) deposits[c].
    cells = np.matmul(decay_matrix(time_edges, tau_ms), deposits)
    return HeatmapGrid(
        symbol=key,
        time_decay_minutes=float(time_decay_minutes),
        time_edges=time_edges,
        price_edges=price_edges,
        long=cells[0],
        short=cells[1],
        price_time=price_time,
        price=price,
        candles=_candles(price_time, price, time_edges),
        events=counted,
        clusters=found,
        exchanges=selected,
    )


def grid_from_heatmap(heatmap: LiveLiquidationHeatmap, symbol: str, window_ms: int, now_ms: int,
                      **kw: Any) -> HeatmapGrid:
    """The grid of ``symbol`` over the last ``window_ms`` before ``now_ms``, from a live heatmap.

    Events come from ``heatmap.events_since`` (arrays, no objects), the decay from its config and
    the clusters from ``heatmap.get_clusters(symbol, now_ms=now_ms)``; ``exchanges=`` (a keyword) keeps some
    venues' events only, in both. Other keywords go to
    :func:`build_grid` (``price_points``, ``time_bins``, ``price_bins``, ``price_range``,
    ``carry_in_ms``...); the heatmap keeps no price history, so pass ``price_points`` for a price line.
    """
    carry_in_ms = int(kw.pop("carry_in_ms", 0))
    start_ms = now_ms - window_ms
    exchanges = kw.get("exchanges")
    events = heatmap.events_since(symbol, start_ms - carry_in_ms, exchanges=exchanges)
    kw.setdefault("clusters", heatmap.get_clusters(symbol, now_ms=now_ms, exchanges=exchanges))
    kw.setdefault("time_decay_minutes", heatmap.config.time_decay_minutes)
    return build_grid(events, symbol=symbol, start_ms=start_ms, end_ms=now_ms, carry_in_ms=carry_in_ms, **kw)
