"""The read-only HTTP API and the heatmap page: ``ApiServer(ApiSource(heatmap, ...)).start()`` beside a bot, or
``liquidation-hunter serve`` over a recording. See ``server.py`` for the rules (auth, errors) and
``openapi.py`` for the endpoints."""

from __future__ import annotations

from liquidation_hunter.api.params import ParamError, parse_window_ms
from liquidation_hunter.api.recording import source_from_recording
from liquidation_hunter.api.server import ApiAuthError, ApiServer, bearer_ok, is_loopback, resolve_token
from liquidation_hunter.api.views import ApiError, ApiSource

__all__ = [
    "ApiAuthError",
    "ApiError",
    "ApiServer",
    "ApiSource",
    "ParamError",
    "bearer_ok",
    "is_loopback",
    "parse_window_ms",
    "resolve_token",
    "source_from_recording",
]
