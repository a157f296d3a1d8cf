"""The read-only HTTP API and the heatmap page: ``ApiServer(ApiSource(heatmap, ...)).start()`` beside a bot, or
``liquidation-hunter serve`` over a recording. ``app.py`` holds the routes and the rules (errors, read-only),
``auth.py`` the token, ``views.py`` the answers, ``server.py`` the uvicorn thread.

``ApiServer`` is imported on first use: the framework (FastAPI, uvicorn) loads with it, so the bot's start path,
which needs ``ApiAuthError`` whether or not the API is on, does not load it when ``api.enabled`` is off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liquidation_hunter.api.auth import ApiAuthError, bearer_ok, is_loopback, resolve_token
from liquidation_hunter.api.recording import source_from_recording
from liquidation_hunter.api.views import ApiError, ApiSource, ParamError

if TYPE_CHECKING:
    from liquidation_hunter.api.server import ApiServer

__all__ = [
    "ApiAuthError",
    "ApiError",
    "ApiServer",
    "ApiSource",
    "ParamError",
    "bearer_ok",
    "is_loopback",
    "resolve_token",
    "source_from_recording",
]


def __getattr__(name: str) -> Any:
    if name == "ApiServer":
        from liquidation_hunter.api.server import ApiServer  # noqa: PLC0415 - lazy: FastAPI, uvicorn

        return ApiServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
