"""The API as an ASGI application (FastAPI): the routes with their typed query parameters, the OpenAPI description
generated from them, the page and its static files, and the rules every request goes through.

* **Read-only:** GET and HEAD; any other method, on any path, is a 405.
* **Auth:** with a token, ``/api/...`` needs ``Authorization: Bearer <token>`` (:mod:`.auth`), else a 401.
* **Errors** are JSON ``{"error": ..., "detail": ...}``: 400 for a bad parameter (the detail names it, says
  what was expected and what came; an unknown or repeated parameter is one too), 404 for an unknown symbol or
  path, 401, 405, 503 (no books yet). An exception inside a view is a 500 with a generic message; what
  happened goes to the log, never to the client.

The views are short and CPU-bound: they run on the event loop (``async def``), with no hop to a worker thread,
which would be one more hand-over of the interpreter lock to a busy ingest thread.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import orjson
import structlog
from annotated_types import Ge, Le, MaxLen
from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liquidation_hunter import __version__
from liquidation_hunter.api import schemas
from liquidation_hunter.api.auth import bearer_ok
from liquidation_hunter.api.estimated import estimated_answer
from liquidation_hunter.api.stats import density_answer, stats_answer
from liquidation_hunter.api.unified import depth_answer, unified_answer
from liquidation_hunter.api.views import (
    EVENTS_LIMIT_MAX,
    TRADES_LIMIT_MAX,
    ApiError,
    ApiSource,
    Download,
    ParamError,
    bad_param,
)
from live_heatmap.common.errors import describe

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).with_name("static")
"""The page's files (``index.html``, its JS and CSS, ``docs.html``), served at ``/`` and ``/static/<file>``."""
_DOCS = (STATIC_DIR / "docs.html").read_bytes()
_FALLBACK_INDEX = (b"<!doctype html><meta charset=utf-8><title>liquidation-hunter</title>"
                   b"<p>liquidation-hunter API. <a href=/docs>Interactive docs</a>, "
                   b"<a href=/openapi.json>OpenAPI description</a>.</p>")
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_MAX_PARAMETERS = 50
_log = structlog.get_logger("liquidation_hunter.api")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``data`` written by orjson (numpy arrays too)."""
    return Response(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status,
                    {**_HEADERS, **(headers or {})}, "application/json")


def error_response(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": error, "detail": detail}, status, headers)


# ------------------------------------------------------------------ parameters

Symbol = Annotated[str, PathParam(
    min_length=1, description="Exchange id (BTCUSDT) or unified symbol (BTC/USDT:USDT, URL-encoded)",
    examples=["BTCUSDT"], json_schema_extra={"maxLength": 40})]  # longer: not a symbol, a 404 from the view
_TIME = {"description": "epoch ms or ISO-8601 (UTC when no zone), 2010..2100", "examples": ["2025-01-27T17:00Z"]}
Exchanges = Annotated[str | None, Query(
    max_length=40, description="only these venues' liquidations: a comma list of binance, bybit, okx (left out: "
                               "every venue)", examples=["bybit,okx"])]


def _expected(field: Any) -> str:
    """What a query parameter takes, in words, from its declared type and bounds."""
    info = field.field_info
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    kind = info.annotation
    if get_origin(kind) in (Union, types.UnionType):  # X | None
        kind = next(k for k in get_args(kind) if k is not type(None))
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(option) for option in get_args(kind))
    if kind is bool:
        return "true or false"
    if kind is int:
        return f"an integer from {low} to {high}"
    if kind is float:
        return f"a number in [{low:g}, {high:g}]"
    return f"at most {next(m.max_length for m in info.metadata if isinstance(m, MaxLen))} characters"


def _query_fields(request: Request) -> dict[str, Any]:
    route = request.scope.get("route")
    return {f.alias: f for f in route.dependant.query_params} if isinstance(route, APIRoute) else {}


async def _only_known_parameters(request: Request) -> None:
    """Each parameter at most once, and none the operation does not know (a typo such as ``min_strenght``
    would otherwise pass unnoticed)."""
    items = request.query_params.multi_items()
    if len(items) > _MAX_PARAMETERS:
        raise ParamError(f"at most {_MAX_PARAMETERS} parameters, got {len(items)}")
    seen: dict[str, str] = {}
    for name, value in items:
        if name in seen:
            raise bad_param(name, "one value", f"{seen[name]}, {value}")
        seen[name] = value
    known = _query_fields(request)
    for name in seen:
        if name not in known:
            raise ParamError(f"unknown parameter {name[:40]!r} (known here: {', '.join(sorted(known)) or 'none'})")


async def _invalid_parameter(request: Request, exc: Exception) -> Response:
    """FastAPI's validation error (the first one) as the API's own 400."""
    assert isinstance(exc, RequestValidationError)
    where, *_, name = (str(part) for part in exc.errors()[0]["loc"])
    if where == "path":  # /api/v1/clusters/ without a symbol
        return error_response(404, "not found", f"no such path {request.url.path[:100]!r}; GET /docs lists the "
                              "operations")
    raw = request.query_params.get(name, "")
    field = _query_fields(request).get(name)
    expected = ("a value (leave the parameter out to use its default)" if raw == "" or field is None
                else _expected(field))
    return error_response(400, "bad parameter", str(bad_param(name, expected, raw)))


async def _bad_parameter(request: Request, exc: Exception) -> Response:
    return error_response(400, "bad parameter", str(exc))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors: no route (404), no static file (404)."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if exc.status_code == 404:
        if path.startswith("/static/"):
            return error_response(404, "not found", f"no static file {path[len('/static/'):][:100]!r}")
        return error_response(404, "not found", f"no such path {path[:100]!r}; GET /docs lists the operations")
    phrase = HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, phrase.lower(), str(exc.detail)[:200], dict(exc.headers or {}))


# ------------------------------------------------------------------ the rules every request goes through


class Guard:
    """Read-only, the token on ``/api/...``, and a generic 500 for a view's exception (ASGI middleware)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            response = error_response(405, "method not allowed",
                                      f"{method[:20]} is not allowed: this API is read-only (GET, HEAD)",
                                      {"Allow": "GET, HEAD"})
            await response(scope, receive, send)
            return
        if method == "HEAD":  # answered as a GET; uvicorn leaves the body out (its own scope still says HEAD)
            scope = {**scope, "method": "GET"}
        if self.token is not None and scope["path"].startswith("/api/"):
            header = dict(scope["headers"]).get(b"authorization")
            if not bearer_ok(header.decode("latin-1") if header is not None else None, self.token):
                response = error_response(401, "unauthorized", "this server needs Authorization: Bearer <token>",
                                          {"WWW-Authenticate": 'Bearer realm="liquidation-hunter"'})
                await response(scope, receive, send)
                return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:  # noqa: BLE001 - a view's bug is a 500 for this request, never a dead server
            _log.error("api.request_failed", path=scope["path"][:200], error=describe(exc)[:300])
            if not started:
                response = error_response(500, "internal error", "the server could not answer; see its log")
                await response(scope, receive, send)


# ------------------------------------------------------------------ the application


def create_app(source: ApiSource, *, token: str | None = None, static_dir: Path = STATIC_DIR) -> FastAPI:
    """The API over ``source``; ``token``: required on ``/api/...`` when given; ``static_dir``: the page."""
    app = FastAPI(
        title="liquidation-hunter API", version=__version__, docs_url=None, redoc_url=None,
        description="Read-only: observed liquidations (Binance, Bybit, OKX), their clusters, the heatmap grid, "
                    "signals and the bot's status; estimated liquidation levels (a model, labelled) when kept. "
                    "Times are UTC epoch ms.",
        separate_input_output_schemas=False, generate_unique_id_function=lambda route: route.name,
        exception_handlers={RequestValidationError: _invalid_parameter, ParamError: _bad_parameter,
                            ApiError: _api_error, HTTPException: _http_error})
    app.add_middleware(Guard, token=token)
    _routes(app, source)

    @app.get("/", include_in_schema=False)
    @app.get("/index.html", include_in_schema=False)
    async def index() -> Response:
        page = static_dir / "index.html"
        if page.is_file():
            return FileResponse(page, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_FALLBACK_INDEX)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return HTMLResponse(_DOCS, headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=static_dir, check_dir=False), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                               separate_input_output_schemas=False)
            for item in spec["paths"].values():  # a bad parameter is a 400 here, not FastAPI's 422
                for operation in item.values():
                    operation["responses"].pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                spec["components"]["schemas"].pop(name, None)
            spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            spec["security"] = [{"bearer": []}, {}]
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _routes(app: FastAPI, source: ApiSource) -> None:
    def get(path: str, model: Any, summary: str, *, tag: str = "heatmap", **kwargs: Any) -> Callable[[Any], Any]:
        described = {400: "a parameter is wrong (the detail names it)"}
        if "{symbol" in path:
            described[404] = "unknown symbol (or nothing to draw)"
        if path.startswith("/api/"):
            described[401] = "missing or wrong bearer token (when the server has one)"
        described.update(kwargs.pop("extra", {}))
        responses: dict[int | str, Any] = {status: {"model": schemas.ErrorAnswer, "description": text}
                                           for status, text in described.items()}
        responses.update(kwargs.pop("responses", {}))
        return app.get(path, response_model=model, summary=summary, tags=[tag], responses=responses,
                       dependencies=[Depends(_only_known_parameters)], **kwargs)

    @get("/health", schemas.Health, "Liveness for process supervisors", tag="meta", openapi_extra={"security": []})
    async def health() -> Response:
        return json_response(source.health())

    @get("/api/v1/symbols", schemas.Symbols, "Symbols being tracked")
    async def symbols(q: Annotated[str | None, Query(max_length=40, description="keep symbols containing this text "
                                                                               "(either form)")] = None) -> Response:
        return json_response(source.symbols(q))

    @get("/api/v1/clusters/{symbol:path}", schemas.Clusters, "Liquidation clusters, strongest first")
    async def clusters(
        symbol: Symbol,
        min_strength: Annotated[float, Query(ge=0, le=1, description="weakest cluster to list, [0, 1]")] = 0.0,
        max_distance: Annotated[float | None, Query(ge=0, le=1000, description="farthest cluster from the price "
                                                                               "to list, percent")] = None,
        side: Annotated[Literal["long", "short"] | None, Query(description="only this side")] = None,
        exchanges: Exchanges = None,
    ) -> Response:
        return json_response(source.clusters(symbol, min_strength, max_distance, side, exchanges))

    @get("/api/v1/signal/{symbol:path}", schemas.SignalAnswer,
         "The signal of the strategy the bot runs, and the cluster it trades")
    async def signal(symbol: Symbol, min_strength: Annotated[float | None, Query(
            ge=0, le=1, description="replaces hunter.min_strength for this answer")] = None,
            exchanges: Exchanges = None) -> Response:
        return json_response(source.signal(symbol, min_strength, exchanges))

    @get("/api/v1/grid/{symbol:path}", schemas.Grid, "The heatmap grid: time x price cells of decayed notional")
    async def grid(
        symbol: Symbol,
        window: Annotated[str, Query(description="how far back from now: 30m, 2h, 1.5h, 1d... from 1m to 7d "
                                                 "(blank: 2h)")] = "2h",
        points: Annotated[bool, Query(description="also every price point ([ms, price])")] = False,
        exchanges: Exchanges = None,
    ) -> Response:
        return json_response(source.grid(symbol, window, points, exchanges))

    @get("/api/v1/events/{symbol:path}", schemas.Events, "Recent liquidations, newest first")
    async def events(
        symbol: Symbol,
        limit: Annotated[int, Query(ge=1, le=EVENTS_LIMIT_MAX, description="at most this many")] = 100,
        since: Annotated[str | None, Query(**_TIME)] = None,
        exchanges: Exchanges = None,
    ) -> Response:
        return json_response(source.events(symbol, limit, since, exchanges))

    @get("/api/v1/estimated/{symbol:path}", schemas.Estimated,
         "ESTIMATED liquidation levels (a model, not observed liquidations), labelled", tag="estimated",
         extra={404: "no estimated layer kept (the detail says how to turn it on), or no levels for the symbol"})
    async def estimated(symbol: Symbol, price: Annotated[float | None, Query(
            ge=0, le=1e12, description="reference price for the bins and zones (default: the last bar's "
                                       "close)")] = None) -> Response:
        return json_response(estimated_answer(source.estimated, symbol, price, source.now()))

    @get("/api/v1/unified/{symbol:path}", schemas.Unified,
         "Liquidity (order book), liquidations (observed; estimated, labelled) and insights in one answer",
         tag="unified")
    async def unified(symbol: Symbol) -> Response:
        return json_response(unified_answer(source, symbol))

    @get("/api/v1/depth/{symbol:path}", schemas.Depth, "Order-book depth over time (time x price notional) and walls",
         tag="unified", extra={404: "no liquidity layer kept (the detail says how to turn it on), or no book of the "
                                    "symbol sampled yet"})
    async def depth(
        symbol: Symbol,
        window: Annotated[str, Query(max_length=20, description="how far back from now: 5m, 30m, 2h... from 1m to "
                                                               "7d")] = "30m",
        step: Annotated[str | None, Query(max_length=20, description="column width: 1s, 10s, 1m... (default: the "
                                                                    "window over 300, at least 1s)")] = None,
    ) -> Response:
        return json_response(depth_answer(source, symbol, window, step))

    @get("/api/v1/density/{symbol:path}", schemas.Density,
         "Density profile: decayed liquidation notional per price and side (a Gaussian kernel on log price)",
         tag="stats")
    async def density(symbol: Symbol, bandwidth: Annotated[float | None, Query(
            ge=0.0001, le=0.5, description="the kernel's width as a fraction of the price, 0.0001..0.5 (0.003 = "
                                           "0.3 %; default: stats.bandwidth)")] = None) -> Response:
        return json_response(density_answer(source, symbol, bandwidth))

    @get("/api/v1/stats/{symbol:path}", schemas.Stats,
         "Summary: total notional, dominant side, clusters at risk high or above, each cluster's z-score",
         tag="stats")
    async def stats(symbol: Symbol) -> Response:
        return json_response(stats_answer(source, symbol))

    @get("/api/v1/status", schemas.Status, "Bot status: stream health, positions, equity, halt", tag="bot",
         extra={503: "the bot has written no books yet"})
    async def status() -> Response:
        return json_response(source.status())

    no_books = {404: "no books: the server reads no bot's books (it serves a recording)",
                503: "no books yet: the bot has written none"}

    @get("/api/v1/positions", schemas.Positions, "The bot's open positions at the current price", tag="bot",
         extra=no_books)
    async def positions() -> Response:
        return json_response(source.positions())

    @get("/api/v1/trades", schemas.Trades, "The bot's closed trades, newest first", tag="bot", extra=no_books)
    async def trades(limit: Annotated[int, Query(ge=1, le=TRADES_LIMIT_MAX, description="at most this many")] = 50
                     ) -> Response:
        return json_response(source.trades(limit))

    @get("/api/v1/equity", schemas.Equity, "The bot's equity curve (its snapshots)", tag="bot", extra=no_books)
    async def equity(since: Annotated[str | None, Query(**_TIME)] = None) -> Response:
        return json_response(source.equity(since))

    @get("/api/v1/export/{symbol:path}", None, "Events or clusters as a CSV or JSON file", tag="export",
         response_class=Response, responses={200: {"description": "the file", "content": {
             "text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "array"}}}}})
    async def export(
        symbol: Symbol,
        what: Annotated[Literal["events", "clusters"], Query(description="what to export")] = "events",
        format: Annotated[Literal["csv", "json"], Query(description="file format")] = "csv",
        start: Annotated[str | None, Query(alias="from", **_TIME)] = None,
        end: Annotated[str | None, Query(alias="to", **_TIME)] = None,
    ) -> Response:
        download: Download = source.export(symbol, what, format, start, end)
        return Response(download.body, 200, {**_HEADERS, "Content-Disposition":
                                             f'attachment; filename="{download.filename}"'}, download.content_type)

