"""The OpenAPI 3.0 description of the API (``GET /openapi.json``): every operation, its parameters and answers."""

from __future__ import annotations

from typing import Any

from liquidation_hunter import __version__
from liquidation_hunter.api.params import MAX_WINDOW_MS
from liquidation_hunter.api.views import EVENTS_LIMIT_MAX

__all__ = ["openapi"]

_NUM = {"type": "number"}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


_ERROR = _obj({"error": _STR, "detail": _STR})
_CLUSTER = _obj({
    "cluster_id": _STR, "symbol": _STR, "side": {"type": "string", "enum": ["long", "short"]},
    "price_level": _NUM, "price_low": _NUM, "price_high": _NUM, "liquidation_count": _INT,
    "total_notional": _NUM, "weighted_notional": _NUM, "strength": _NUM,
    "distance_from_price": _nullable(_NUM), "current_price": _nullable(_NUM), "first_event_ms": _INT,
    "last_updated": _INT, "built_at": _INT, "span_pct": _NUM,
})
_SIGNAL = _obj({"direction": {"type": "integer", "enum": [-1, 0, 1]}, "strength": _NUM, "entry": _nullable(_NUM),
                "stop_loss": _nullable(_NUM), "take_profit": _nullable(_NUM), "reason": _STR},
               {"cluster_id": _STR})
_MATRIX = {"type": "array", "items": {"type": "array", "items": _NUM}}
_GRID = _obj({
    "symbol": _STR, "at": _INT, "start_ms": _INT, "end_ms": _INT, "time_decay_minutes": _NUM, "value": _STR,
    "x": {"type": "array", "items": _INT, "description": "T + 1 time edges, UTC epoch ms"},
    "y": {"type": "array", "items": _NUM, "description": "P + 1 price edges, ascending (log-spaced)"},
    "z": {**_MATRIX, "description": "P rows of T cells: z[i][j] is price row i at time column j (long + short)"},
    "z_long": _MATRIX, "z_short": _MATRIX,
    "candles": {"type": "array", "items": {"type": "array", "items": _NUM, "minItems": 5, "maxItems": 5},
                "description": "[column start ms, open, high, low, close] for columns with price points"},
    "events": _INT, "clusters": {"type": "array", "items": _CLUSTER},
    "price_source": {"type": "string", "enum": ["trades", "liquidations", "none"]},
}, {"price_points": {"type": "array", "items": {"type": "array", "items": _NUM}}})
_EVENT = _obj({"trade_time": _INT, "side": {"type": "string", "enum": ["long", "short"]}, "price": _NUM,
               "quantity": _NUM, "notional": _NUM})


def _symbol_param() -> dict[str, Any]:
    return {"name": "symbol", "in": "path", "required": True,
            "description": "Exchange id (BTCUSDT) or unified symbol (BTC/USDT:USDT, URL-encoded)",
            "schema": {"type": "string", "minLength": 1, "maxLength": 40}, "example": "BTCUSDT"}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _op(op_id: str, summary: str, ok: dict[str, Any], params: list[dict[str, Any]], *, symbol: bool = True,
        tag: str = "heatmap", extra: dict[str, Any] | None = None, secured: bool = True) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok, "400": _err("a parameter is wrong (the detail names it)")}
    if symbol:
        responses["404"] = _err("unknown symbol (or nothing to draw)")
        params = [_symbol_param(), *params]
    if secured:
        responses["401"] = _err("missing or wrong bearer token (when the server has one)")
    responses.update(extra or {})
    out: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag], "parameters": params,
                           "responses": responses}
    if not secured:
        out["security"] = []
    return out


def openapi(*, server_url: str | None = None) -> dict[str, Any]:
    """The description as a JSON-ready dict."""
    min_strength = {"type": "number", "minimum": 0, "maximum": 1}
    window_days = MAX_WINDOW_MS // 86_400_000
    time_schema = {"type": "string", "description": "epoch ms or ISO-8601 (UTC when no zone), 2010..2100",
                   "example": "2025-01-27T17:00Z"}
    paths: dict[str, Any] = {
        "/health": {"get": _op("health", "Liveness for process supervisors", _ok(_obj(
            {"status": {"type": "string", "enum": ["ok"]}, "uptime_s": _NUM, "events": _INT, "connected": _BOOL})),
            [], symbol=False, tag="meta", secured=False)},
        "/api/v1/symbols": {"get": _op("symbols", "Symbols being tracked", _ok(_obj({"symbols": {
            "type": "array", "items": _obj({"symbol": _STR, "unified": _STR, "events": _INT,
                                            "price": _nullable(_NUM)})}})),
            [_q("q", {"type": "string", "maxLength": 40}, "keep symbols containing this text (either form)")],
            symbol=False)},
        "/api/v1/clusters/{symbol}": {"get": _op("clusters", "Liquidation clusters, strongest first", _ok(_obj(
            {"symbol": _STR, "price": _nullable(_NUM), "at": _INT, "clusters": {"type": "array", "items": _CLUSTER}})),
            [_q("min_strength", min_strength, "weakest cluster to list, [0, 1]"),
             _q("max_distance", {"type": "number", "minimum": 0, "maximum": 1000},
                "farthest cluster from the price to list, percent"),
             _q("side", {"type": "string", "enum": ["long", "short", ""]}, "only this side (blank: both)")])},
        "/api/v1/signal/{symbol}": {"get": _op("signal", "The best cluster and the hunter's current signal", _ok(_obj(
            {"symbol": _STR, "unified": _STR, "price": _nullable(_NUM), "at": _INT,
             "best_cluster": _nullable(_CLUSTER), "signal": _SIGNAL})),
            [_q("min_strength", min_strength, "threshold of best_cluster (default: hunter.min_strength)")])},
        "/api/v1/grid/{symbol}": {"get": _op("grid", "The heatmap grid: time x price cells of decayed notional",
            _ok(_GRID), [
                _q("window", {"type": "string", "pattern": r"^([0-9]{1,7}[smhd])?$", "default": "2h"},
                   f"how far back from now: 30m, 2h, 1d... from 1m to {window_days}d (blank: 2h)"),
                _q("points", {"type": "boolean", "default": False}, "also every price point ([ms, price])")])},
        "/api/v1/events/{symbol}": {"get": _op("events", "Recent liquidations, newest first", _ok(_obj(
            {"symbol": _STR, "at": _INT, "events": {"type": "array", "items": _EVENT}})),
            [_q("limit", {"type": "integer", "minimum": 1, "maximum": EVENTS_LIMIT_MAX, "default": 100},
                "at most this many"),
             _q("since", time_schema, "only events traded at or after this time")])},
        "/api/v1/status": {"get": _op("status", "Bot status: stream health, positions, equity, halt", _ok(
            {"type": "object", "required": ["heatmap"], "properties": {"heatmap": {"type": "object"}},
             "description": "the bot's status report (books) plus the heatmap's counters; books null without"}),
            [], symbol=False, tag="bot", extra={"503": _err("the bot has written no books yet")})},
        "/api/v1/export/{symbol}": {"get": _op("export", "Events or clusters as a CSV or JSON file", {
            "description": "the file", "content": {"text/csv": {"schema": {"type": "string"}},
                                                   "application/json": {"schema": {"type": "array"}}}},
            [_q("what", {"type": "string", "enum": ["events", "clusters", ""], "default": "events"},
                "what to export (blank: events)"),
             _q("format", {"type": "string", "enum": ["csv", "json", ""], "default": "csv"},
                "file format (blank: csv)"),
             _q("from", time_schema, "events traded at or after this time"),
             _q("to", time_schema, "events traded before this time")], tag="export")},
    }
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "liquidation-hunter API", "version": __version__,
                 "description": "Read-only: observed Binance liquidations, their clusters, the heatmap grid, "
                                "signals and the bot's status. Times are UTC epoch ms."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}, {}],
    }
    if server_url:
        spec["servers"] = [{"url": server_url}]
    return spec
