"""The answers of ``GET /api/v1/unified/{symbol}`` and ``GET /api/v1/depth/{symbol}`` (issue 15): one symbol's
order-book LIQUIDITY (depth near the mid, walls with their state), its LIQUIDATIONS (observed clusters; the
ESTIMATED zones, labelled, when that layer is kept) and the insights of :mod:`live_heatmap.insights` over them.

A layer the server does not keep is ``null`` in the answer and named in the warnings, never invented. The depth
grid is the liquidity layer's :class:`~live_heatmap.orderbook.depth_history.DepthHistory` drawn on a time x price
grid, for the page's heat behind the price (docs/LIQUIDITY.md, "The unified view").
"""

from __future__ import annotations

from typing import Any

from liquidation_hunter.api.estimated import layer_facts
from liquidation_hunter.api.views import MAX_WINDOW_MS, MIN_WINDOW_MS, ApiError, ApiSource, ParamError
from live_heatmap import to_unified
from live_heatmap.common.timeparse import parse_duration_ms
from live_heatmap.insights import Caveat, InsightRules, Level, insights, warnings
from live_heatmap.orderbook.layer import LiquidityLayer
from live_heatmap.orderbook.walls import Wall

__all__ = ["NO_LIQUIDITY", "depth_answer", "unified_answer", "wall_dict"]

NO_LIQUIDITY = ("this server keeps no liquidity layer: run the bot with orderbook.enabled: true (the order-book "
                "depth and walls)")
"""The depth 404's detail without a layer: how to turn it on."""
MAX_DEPTH_COLUMNS = 2000
"""The depth grid's most time columns (``window / step``)."""
RULES = InsightRules()
"""The insights' settings the API uses (documented in docs/LIQUIDITY.md)."""


def wall_dict(wall: Wall) -> dict[str, Any]:
    """A wall as the answers show it (``side`` ``bid``/``ask``; ``state`` active, filled or pulled)."""
    return {"side": wall.side, "price": wall.price, "price_low": wall.price_low, "price_high": wall.price_high,
            "notional": wall.notional, "first_seen_ms": wall.first_seen_ms, "last_seen_ms": wall.last_seen_ms,
            "state": wall.state, "traded": wall.traded, "ended_ms": wall.ended_ms}


def _liquidity(layer: LiquidityLayer, key: str, now: int) -> tuple[dict[str, Any] | None, list[Level],
                                                                     dict[str, float] | None, str | None]:
    """The answer's ``liquidity`` (None: no book of the symbol sampled yet), the active walls as insight levels,
    the depth within the risk band per side, and the book's state."""
    with layer.lock:  # the bot's job may be sampling
        facts = dict(layer.status().get(key) or {})
        tracker = layer.walls(key)
        if tracker is None:
            return None, [], None, None
        summary = {k: v for k, v in layer.summary(key, now).items() if k != "walls"}
        active = tracker.active()
        ended = tracker.ended(now - 3_600_000)
    state = facts.get("book_state")
    walls = [wall_dict(w) for w in active] + [wall_dict(w) for w in ended]
    depth = _depth_within(summary, RULES.risk_pct)
    levels = [Level("wall", w.side, w.price, w.notional, state=w.state) for w in active]
    out = {"layer": "liquidity", "book": facts, "summary": summary, "walls": walls}
    return out, levels, depth, None if state is None else str(state)


def _depth_within(summary: dict[str, Any], pct: float) -> dict[str, float] | None:
    """``{"bid": ..., "ask": ...}``: the summary's depth within ``pct`` percent of the mid, when it has that band
    (None: no book served now)."""
    bands = summary.get("depth")
    if not isinstance(bands, dict) or not bands:
        return None
    for band, sides in bands.items():
        if isinstance(sides, dict) and abs(float(band) - pct) < 1e-9:
            return {"bid": float(sides.get("bid", 0.0)), "ask": float(sides.get("ask", 0.0))}
    return None


def unified_answer(source: ApiSource, symbol: str) -> dict[str, Any]:
    """The unified answer for a tracked symbol (404 otherwise, as every symbol endpoint)."""
    key = source.symbol_key(symbol)
    now = source.now()
    price = source.price(key, now)
    layer = source.liquidity
    liquidity, walls, depth, state = (None, [], None, None) if layer is None else _liquidity(layer, key, now)
    if price is None and liquidity is not None:
        mid = liquidity["summary"].get("mid")
        price = float(mid) if isinstance(mid, int | float) else None
    clusters = source.heatmap.get_clusters(key, now_ms=now) if source.heatmap.event_count(key) else []
    observed = [Level("observed", c.side, c.price_level, c.total_notional, c.strength) for c in clusters]
    estimated: dict[str, Any] | None = None
    zones: list[Level] = []
    kept = source.estimated
    if kept is not None:
        with kept.lock:  # the bot's job may be updating the layer
            model = kept.get(key)
            reference = price if price is not None else (model.last_close if model is not None else None)
            found = kept.zones(key, reference) if model is not None and reference is not None else []
        estimated = {**layer_facts(kept), "zones": [
            {"side": z.side, "price_level": z.price_level, "price_low": z.price_low, "price_high": z.price_high,
             "notional": z.notional, "share": z.share, "strength": z.strength,
             "distance_from_price": z.distance_from_price} for z in found]}
        zones = [Level("estimated", z.side, z.price_level, z.notional, z.strength) for z in found]
    stream = source.stream.status() if source.stream is not None else None
    down = list(stream.down()) if stream is not None else []
    found_warnings: list[Caveat] = warnings(
        liquidity_kept=layer is not None, book_state=state, depth_known=liquidity is not None, venues_down=down,
        estimated_kept=kept is not None, estimated_validated=kept is not None and kept.validation.validated)
    try:
        unified = to_unified(key)
    except ValueError:
        unified = key
    return {"symbol": key, "unified": unified, "at": now, "price": price, "liquidity": liquidity,
            "liquidation": {"observed": {"layer": "observed", "clusters": [
                c.to_dict() for c in source.statistics_of().annotate(key, clusters)]},
                            "estimated": estimated},
            "insights": insights(price, walls, observed, zones, depth=depth, found=found_warnings, rules=RULES)}


def depth_answer(source: ApiSource, symbol: str, window: str | None, step: str | None) -> dict[str, Any]:
    """The depth grid of the last ``window`` (default 30m, 1m..7d) in columns of ``step`` (default: the window
    over 300, at least 1 s; at most :data:`MAX_DEPTH_COLUMNS` columns), with the walls seen in the window."""
    layer = source.liquidity
    if layer is None:
        raise ApiError(404, "no liquidity layer", NO_LIQUIDITY)
    key = source.symbol_key(symbol)
    try:
        window_ms = parse_duration_ms(window or "30m", low_ms=MIN_WINDOW_MS, high_ms=MAX_WINDOW_MS)
    except ValueError as exc:
        raise ParamError(f"window: {exc}") from None
    if step is None:
        step_ms = max(1000, window_ms // 300)
    else:
        try:
            step_ms = parse_duration_ms(step, low_ms=1000, high_ms=window_ms)
        except ValueError as exc:
            raise ParamError(f"step: {exc}") from None
    if window_ms // step_ms > MAX_DEPTH_COLUMNS:
        raise ParamError(f"step: expected at least {window_ms // MAX_DEPTH_COLUMNS} ms for this window (at most "
                         f"{MAX_DEPTH_COLUMNS} columns), got {step!r}")
    now = source.now()
    start = now - window_ms
    with layer.lock:
        history, tracker = layer.history(key), layer.walls(key)
        if history is None or tracker is None:
            raise ApiError(404, "no depth", f"the liquidity layer has sampled no book of {key} yet")
        grid = history.grid(start, now, step_ms)
        walls = [wall_dict(w) for w in tracker.active()] + [wall_dict(w) for w in tracker.ended(start)]
    return {"symbol": key, "at": now, "start_ms": start, "end_ms": now, "step_ms": step_ms,
            "times": grid.times, "prices": grid.prices, "bid": grid.bid, "ask": grid.ask, "walls": walls}
