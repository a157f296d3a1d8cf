"""Binance USD-M market-stream rules, free of I/O: URL routes, stream names and control messages.

Everything here is a pure function of its arguments, so the rules can be read (and tested) apart
from the server. The error frames copy Binance's documented ones (``{"code": .., "msg": ..}``);
where Binance answers a request that has a usable ``id``, the error carries that ``id`` too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MARKET_PREFIX = "/market"
PUBLIC_PREFIX = "/public"
"""Order-book streams (``@depth``, ``@depth@100ms``, ``@bookTicker``) since 2026-04 (issue 15)."""
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
MAX_REQUEST_ID = 2**64 - 1

# `<symbol lowercase>@<event>[@<option>...]`, or an all-market stream such as `!forceOrder@arr`.
_SYMBOL_STREAM = re.compile(r"[a-z0-9_]+(@[A-Za-z0-9_]+)+")
_ALL_MARKET_STREAM = re.compile(r"![A-Za-z]+(@[A-Za-z0-9_]+)*")

Reply = dict[str, Any]


class RouteError(ValueError):
    """The handshake must be refused with this HTTP status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass(frozen=True)
class Route:
    """What a handshake URL asks for."""

    combined: bool  # /stream?streams=... wraps frames in {"stream", "data"}; /ws sends bare payloads
    streams: tuple[str, ...]  # subscribed at connect
    market: bool  # under the /market prefix (the current Binance routes)
    public: bool = False  # under the /public prefix (order-book streams)


@dataclass
class StreamState:
    """One connection's subscriptions (in subscription order) and its `combined` property."""

    combined: bool
    subscriptions: dict[str, None] = field(default_factory=dict)

    def subscribed(self) -> list[str]:
        return list(self.subscriptions)


def is_valid_stream(name: object) -> bool:
    """Lowercase symbol streams (`btcusdt@forceOrder`) or all-market streams (`!forceOrder@arr`)."""
    if not isinstance(name, str):
        return False
    return bool(_SYMBOL_STREAM.fullmatch(name) or _ALL_MARKET_STREAM.fullmatch(name))


def parse_route(target: str, *, max_streams: int) -> Route:
    """Map a request target (`/market/ws/a/b`, `/stream?streams=a/b`...) to a Route, or raise RouteError."""
    parts = urlsplit(target)
    path = unquote(parts.path)
    market = path == MARKET_PREFIX or path.startswith(MARKET_PREFIX + "/")
    public = path == PUBLIC_PREFIX or path.startswith(PUBLIC_PREFIX + "/")
    if market:
        path = path[len(MARKET_PREFIX) :]
    elif public:
        path = path[len(PUBLIC_PREFIX) :]
    if path in ("/ws", "/ws/") or path.startswith("/ws/"):
        combined, streams = False, _split_streams(path[len("/ws") :])
    elif path in ("/stream", "/stream/"):
        names = [value for key, value in parse_qsl(parts.query, keep_blank_values=True) if key == "streams"]
        combined, streams = True, _split_streams("/".join(names))
    else:
        raise RouteError(404, f"Not found: {parts.path}\n")
    bad = [name for name in streams if not is_valid_stream(name)]
    if bad:
        raise RouteError(400, f"Invalid stream name: {bad[0]}\n")
    if len(streams) > max_streams:
        raise RouteError(400, f"Too many streams: {len(streams)} > {max_streams}\n")
    return Route(combined=combined, streams=streams, market=market, public=public)


def _split_streams(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in text.split("/") if name))


def error(code: int, msg: str, request_id: int | None = None) -> Reply:
    """An error frame as Binance sends it; `id` only when the request had a valid one."""
    frame: Reply = {"code": code, "msg": msg}
    if request_id is not None:
        frame["id"] = request_id
    return frame


def decode(message: str | bytes) -> tuple[Any, Reply | None]:
    """Parse a client message: (value, None), or (the raw text, the code 3 error frame)."""
    try:
        text = message.decode("utf-8") if isinstance(message, bytes) else message
    except UnicodeDecodeError:
        return message, error(3, "Invalid JSON: expected value at line 1 column 1")
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return text, error(3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}")


def handle_control(message: Any, state: StreamState, *, max_streams: int) -> Reply:
    """Apply one decoded control message to `state` and return the frame to answer with.

    SUBSCRIBE/UNSUBSCRIBE -> {"result": null, "id": N}; LIST_SUBSCRIPTIONS -> {"result": [...], "id": N};
    SET_PROPERTY ["combined", bool] switches the envelope; GET_PROPERTY ["combined"] reads it.
    A request that fails validation changes nothing.
    """
    if not isinstance(message, dict):
        return error(2, "Invalid request: expected a JSON object")
    request_id = message.get("id")
    if type(request_id) is not int or not 0 <= request_id <= MAX_REQUEST_ID:
        return error(2, "Invalid request: request ID must be an unsigned integer")
    method = message.get("method")
    if method is None:
        return error(2, "Invalid request: missing field `method`", request_id)
    if method not in METHODS:
        expected = ", ".join(METHODS)
        return error(2, f"Invalid request: unknown variant `{method}`, expected one of {expected}", request_id)
    params = message.get("params")
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        return _change_subscriptions(method, params, request_id, state, max_streams)
    if method == "LIST_SUBSCRIPTIONS":
        if params:
            return error(2, "Invalid request: too many parameters", request_id)
        return {"result": state.subscribed(), "id": request_id}
    return _property(method, params, request_id, state)


def _change_subscriptions(method: str, params: Any, request_id: int, state: StreamState, max_streams: int) -> Reply:
    if not isinstance(params, list):
        return error(2, "Invalid request: params must be an array of stream names", request_id)
    bad = [name for name in params if not is_valid_stream(name)]
    if bad:
        return error(2, f"Invalid request: invalid stream name {bad[0]!r}", request_id)
    if method == "UNSUBSCRIBE":
        for name in params:
            state.subscriptions.pop(name, None)
        return {"result": None, "id": request_id}
    wanted = dict.fromkeys([*state.subscriptions, *params])
    if len(wanted) > max_streams:
        return error(2, f"Invalid request: too many streams (at most {max_streams} per connection)", request_id)
    state.subscriptions = wanted
    return {"result": None, "id": request_id}


def _property(method: str, params: Any, request_id: int, state: StreamState) -> Reply:
    if not isinstance(params, list) or not params or not isinstance(params[0], str):
        return error(2, "Invalid request: property name must be a string", request_id)
    arity = 2 if method == "SET_PROPERTY" else 1
    if len(params) > arity:
        return error(2, "Invalid request: too many parameters", request_id)
    if params[0] != "combined":
        return error(0, "Unknown property", request_id)
    if method == "GET_PROPERTY":
        return {"result": state.combined, "id": request_id}
    if len(params) < 2 or not isinstance(params[1], bool):
        return error(1, "Invalid value type: expected Boolean", request_id)
    state.combined = params[1]
    return {"result": None, "id": request_id}
