"""The answers' shapes, for the OpenAPI description (``/openapi.json``) that FastAPI generates from the routes.

The views build plain dicts and orjson writes them (several times faster than validating them through these
models on every request); ``tests/liquidation_hunter/api/test_api_fuzz.py`` checks every answer against this
description.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Clusters", "Density", "Depth", "Equity", "ErrorAnswer", "Estimated", "Events", "Grid", "Health",
           "Positions", "SignalAnswer", "Stats", "Status", "Symbols", "Trades", "Unified"]

Side = Literal["long", "short"]
Exchange = Literal["binance", "bybit", "okx"]


class ErrorAnswer(BaseModel):
    error: str
    detail: str = Field(description="what was wrong; for a parameter: its name, what was expected and what came")


class Health(BaseModel):
    status: Literal["ok"]
    uptime_s: float
    events: int
    connected: bool


class SymbolRow(BaseModel):
    symbol: str
    unified: str
    events: int
    price: float | None


class Symbols(BaseModel):
    symbols: list[SymbolRow]


class Cluster(BaseModel):
    cluster_id: str
    symbol: str
    side: Side
    price_level: float
    price_low: float
    price_high: float
    liquidation_count: int
    total_notional: float
    weighted_notional: float
    strength: float
    distance_from_price: float | None
    current_price: float | None
    first_event_ms: int
    last_updated: int
    built_at: int
    notional_by_venue: dict[Exchange, float] = Field(
        description="total_notional split by venue (Binance: average fill prices; Bybit, OKX: bankruptcy prices)")
    span_pct: float
    z_score: float | None = Field(None, description="robust z-score of weighted_notional against the symbol's own "
                                  "cluster history (log scale, median and MAD); null until history_events >= "
                                  "stats.min_history")
    risk_level: Literal["extreme", "high", "moderate", "low"] | None = Field(
        None, description="by stats' thresholds (3 / 2 / 1); null when z_score is")
    history_events: int | None = Field(None, description="cluster samples in the symbol's history")


class Clusters(BaseModel):
    symbol: str
    price: float | None
    at: int
    clusters: list[Cluster]


class Signal(BaseModel):
    direction: Literal[-1, 0, 1]
    strength: float
    entry: float | None
    stop_loss: float | None
    take_profit: float | None
    reason: str
    cluster_id: str | None = Field(None, description="the cluster traded, when the strategy trades one")
    origin: str | None = Field(None, description="what the idea is, when the strategy names it (a cascade)")


class SignalAnswer(BaseModel):
    symbol: str
    unified: str
    strategy: str = Field(description="the strategy the bot runs (config strategy.name)")
    price: float | None
    at: int
    best_cluster: Cluster | None = Field(description="the cluster the signal trades (null when none)")
    best_zone: EstimatedZoneRow | None = Field(None, description="the estimated zone the signal trades "
                                               "(hunter.target: estimated; null otherwise)")
    signal: Signal


class Marker(BaseModel):
    kind: Literal["entry", "exit"]
    time: int = Field(description="UTC epoch ms")
    price: float = Field(description="the fill price")
    side: Side = Field(description="the position's side")
    client_id: str
    reason: str = Field(description="entry, or the exit's reason (stop_loss, take_profit, time_exit, manual...)")
    net_pnl: float | None = Field(None, description="exits: the trade's net PnL, USDT")


class Grid(BaseModel):
    symbol: str
    at: int
    start_ms: int
    end_ms: int
    time_decay_minutes: float
    value: str
    x: list[int] = Field(description="T + 1 time edges, UTC epoch ms")
    y: list[float] = Field(description="P + 1 price edges, ascending (log-spaced)")
    z: list[list[float]] = Field(description="P rows of T cells: z[i][j] is price row i at time column j "
                                             "(long + short)")
    z_long: list[list[float]]
    z_short: list[list[float]]
    candles: list[list[float]] = Field(description="[column start ms, open, high, low, close] for columns with "
                                                   "price points")
    events: int
    events_by_venue: dict[Exchange, int] = Field(description="how many of the events each venue brought")
    exchanges: list[Exchange] | None = Field(description="the venues asked for (exchanges=); null: every venue")
    clusters: list[Cluster]
    price_source: Literal["trades", "marks", "liquidations", "none"] = Field(
        description="the price line: recorded trades (--prices), the running bot's mark prices, the liquidations' "
                    "fill prices, or none")
    price_points: list[list[float]] | None = Field(None, description="[ms, price], with points=true")
    markers: list[Marker] | None = Field(None, description="the bot's entries and exits on this symbol in the "
                                                           "window, oldest first (with the bot's books only)")


class EventRow(BaseModel):
    trade_time: int
    side: Side
    price: float
    quantity: float
    notional: float
    exchange: Exchange = Field(description="the venue; its price is an average fill (binance) or a bankruptcy "
                                           "price (bybit, okx)")


class Events(BaseModel):
    symbol: str
    at: int
    events: list[EventRow]


class Status(BaseModel):
    """The bot's status report (its books) plus the heatmap's counters; ``books`` is null without books."""

    model_config = ConfigDict(extra="allow")
    heatmap: dict[str, Any]


class PositionRow(BaseModel):
    symbol: str
    unified: str
    side: Side
    quantity: float
    entry_price: float
    price: float | None = Field(description="the current (mark) price; null when the bot has none")
    unrealized: float | None
    stop_loss: float
    take_profit: float
    liquidation_price: float
    margin: float
    opened_at: int
    entry_fee: float
    funding: float
    client_id: str
    strategy: str


class Positions(BaseModel):
    at: int
    positions: list[PositionRow]


class TradeRow(BaseModel):
    symbol: str
    unified: str
    side: Side
    quantity: float
    entry_time: int
    entry_price: float
    exit_time: int
    exit_price: float
    reason: str
    gross_pnl: float
    fees: float
    funding: float
    net_pnl: float
    client_id: str


class Trades(BaseModel):
    at: int
    trades: list[TradeRow]


class Equity(BaseModel):
    at: int
    starting_wallet: float
    peak_equity: float | None
    points: list[list[float]] = Field(description="[time ms, equity, wallet, open positions], oldest first")


class EstimatedBrackets(BaseModel):
    as_of: str = Field(description="the date the leverage brackets held (YYYY-MM-DD)")
    source: Literal["shipped", "exchange"] = Field(description="the dated table in the package, or fetched")
    label: str


class EstimatedValidation(BaseModel):
    validated: bool = Field(description="false unless a validation run (validate-estimated) said validated")
    summary: str


class EstimatedRange(BaseModel):
    low: float
    high: float
    range_fraction: float = Field(description="the bins cover +-this around the reference price")
    bin_width: float = Field(description="log-price bin width (0.001 = 0.1 %)")


class EstimatedBins(BaseModel):
    prices: list[float] = Field(description="bin prices, ascending (log-spaced)")
    long: list[float] = Field(description="open long notional (quote, at entry) whose liquidation price is in the "
                                          "bin")
    short: list[float]
    long_outside: float = Field(description="long notional outside the range")
    short_outside: float


class EstimatedZoneRow(BaseModel):
    side: Side
    price_level: float = Field(description="notional-weighted mean price of the zone's bins")
    price_low: float
    price_high: float
    notional: float
    share: float = Field(description="the zone's notional over its side's within the range, 0..1")
    strength: float = Field(description="the zone's notional over the heaviest zone's, 0..1")
    distance_from_price: float = Field(description="percent from the reference price")


class EstimatedLeverage(BaseModel):
    leverages: list[float] = Field(description="leverage tiers, ascending")
    long: list[float] = Field(description="open long notional per tier")
    short: list[float]


class EstimatedModel(BaseModel):
    window: str = Field(description="how long positions stay open in the model: 12h, 24h, 3d or 7d")
    window_ms: int
    attribution: Literal["taker", "candle", "even"]
    leverage_mix: list[list[float]] = Field(description="[leverage, share of new notional] pairs")
    max_leverage: float = Field(description="the symbol's first-bracket maximum leverage")
    maint_margin_ratio: float = Field(description="the symbol's first-bracket maintenance margin ratio")


class Estimated(BaseModel):
    """ESTIMATED liquidation levels (a model of open positions from open interest and bars; not observed
    liquidations): always shown with their label, the bracket table's date and whether validated."""

    symbol: str
    unified: str
    layer: Literal["estimated"]
    label: str = Field(description="what to show beside the levels: estimated, the bracket table's date, "
                                   "validated or not")
    brackets: EstimatedBrackets
    validation: EstimatedValidation
    at: int
    price: float = Field(description="the reference price the bins and zones are around")
    price_source: Literal["query", "last_close"] = Field(description="price= given, or the last bar's close")
    range: EstimatedRange
    levels: EstimatedBins
    zones: list[EstimatedZoneRow] = Field(description="where estimated levels pile up, heaviest first")
    leverage: EstimatedLeverage
    bars: int = Field(description="closed bars the model has seen")
    last_bar_ms: int = Field(description="close time of the last bar seen, UTC epoch ms")
    model: EstimatedModel


# ------------------------------------------------------------------ the unified view (issue 15)


class WallRow(BaseModel):
    side: Literal["bid", "ask"]
    price: float = Field(description="the wall's bin price")
    price_low: float
    price_high: float
    notional: float = Field(description="the bin's notional at the last sample, quote currency")
    first_seen_ms: int
    last_seen_ms: int
    state: Literal["active", "filled", "pulled"] = Field(
        description="active; filled: trades inside the bin reached >= 50 % of its last size when it went; pulled: "
                    "it went without")
    traded: float = Field(description="quantity traded inside the bin while it stood")
    ended_ms: int | None = Field(description="when it went (null while active)")


class Liquidity(BaseModel):
    layer: Literal["liquidity"]
    book: dict[str, Any] = Field(description="the symbol's line of the layer's status: samples, runs, bytes, the "
                                             "book's state and resyncs when known")
    summary: dict[str, Any] = Field(description="depth near the mid per side within 0.5/1/2 %, imbalance, mid")
    walls: list[WallRow] = Field(description="active walls, then those ended in the last hour")


class ObservedLayer(BaseModel):
    layer: Literal["observed"]
    clusters: list[Cluster]


class EstimatedLayerRow(BaseModel):
    layer: Literal["estimated"]
    label: str
    brackets: EstimatedBrackets
    validation: EstimatedValidation
    zones: list[EstimatedZoneRow]


class Liquidation(BaseModel):
    observed: ObservedLayer
    estimated: EstimatedLayerRow | None = Field(description="null: the server keeps no estimated layer")


class InsightLevel(BaseModel):
    layer: Literal["wall", "observed", "estimated"]
    side: str
    price: float
    notional: float
    strength: float
    state: str | None = None


class KeyLevel(BaseModel):
    price: float
    layers: list[Literal["wall", "observed", "estimated"]] = Field(description="the layers that coincide here")
    distance_pct: float | None = Field(description="percent from the price (negative: below)")
    wall: InsightLevel | None
    observed: list[InsightLevel]
    estimated: list[InsightLevel]


class Risk(BaseModel):
    level: Literal["unknown", "low", "medium", "high"] = Field(
        description="low: no strong observed cluster near the price; medium: one, with deep or unknown depth; "
                    "high: one whose notional is >= thin_ratio of the depth it trades into (docs/LIQUIDITY.md)")
    reason: str
    inputs: dict[str, Any]


class InsightWarning(BaseModel):
    code: Literal["no_liquidity_layer", "book_not_synced", "no_depth", "venue_down", "estimated_not_validated"]
    message: str


class Insights(BaseModel):
    key_levels: list[KeyLevel] = Field(description="where layers coincide, most layers first")
    risk: Risk
    warnings: list[InsightWarning]
    rules: dict[str, float] = Field(description="the rules' settings: near_pct, risk_pct, strong, thin_ratio")


class Unified(BaseModel):
    """Liquidity (the order book), liquidations (observed; estimated, labelled, when kept) and insights. A layer
    the server does not keep is null and named in the warnings."""

    symbol: str
    unified: str
    at: int
    price: float | None
    liquidity: Liquidity | None = Field(description="null: no liquidity layer kept, or no book of the symbol yet")
    liquidation: Liquidation
    insights: Insights


class Depth(BaseModel):
    """The liquidity layer's depth over time on a time x price grid (notional per cell), and the walls seen."""

    symbol: str
    at: int
    start_ms: int
    end_ms: int
    step_ms: int
    times: list[int] = Field(description="column start times, UTC epoch ms")
    prices: list[float] = Field(description="row prices, ascending (log-spaced bins)")
    bid: list[list[float]] = Field(description="bid notional: bid[i][j] is time column i at price row j")
    ask: list[list[float]]
    walls: list[WallRow] = Field(description="active walls, then those ended in the window")


class Density(BaseModel):
    symbol: str
    unified: str
    at: int
    price: float | None
    time_decay_minutes: float
    bandwidth: float = Field(description="the kernel's standard deviation in log price (0.003 = 0.3 %)")
    events: int
    long_notional: float = Field(description="decayed notional of long liquidations (the integral of long)")
    short_notional: float
    prices: list[float] = Field(description="a log-spaced price grid")
    long: list[float] = Field(description="USD per unit of log price at each price")
    short: list[float]


class ClusterRisk(BaseModel):
    cluster_id: str
    side: Side
    price_level: float
    weighted_notional: float
    z_score: float | None
    risk_level: Literal["extreme", "high", "moderate", "low"] | None


class Stats(BaseModel):
    symbol: str
    at: int
    total_notional: float = Field(description="weighted notional of the symbol's clusters now")
    long_notional: float
    short_notional: float
    dominant_side: Side | None
    clusters: int
    high_risk_clusters: int = Field(description="clusters at risk high or extreme")
    max_z_score: float | None
    history_events: int
    min_history: int
    thresholds: dict[str, float]
    clusters_with_stats: list[ClusterRisk]
