"""Who may read the API: the loopback rule and the bearer token.

A server bound to an address other than the loopback refuses to start without a token (:func:`resolve_token`).
With a token, every ``/api/...`` request needs ``Authorization: Bearer <token>``, compared in constant time and
never logged; ``/health``, ``/openapi.json``, ``/docs``, ``/`` and ``/static/...`` hold no data and stay open.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping

__all__ = ["ApiAuthError", "bearer_ok", "is_loopback", "resolve_token"]


class ApiAuthError(RuntimeError):
    """The server cannot start as configured (a non-loopback address without a token)."""


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` or ``localhost``; anything else (``0.0.0.0``, a LAN address, a name) is not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token_env: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The bearer token from ``environ[token_env]`` (default ``os.environ``), or None when unset on the
    loopback. Raises :class:`ApiAuthError` for a non-loopback ``host`` without one."""
    env = os.environ if environ is None else environ
    token = env.get(token_env, "") if token_env else ""
    if token:
        return token
    if not is_loopback(host):
        raise ApiAuthError(f"api: refusing to listen on {host} without a token: set the environment variable "
                           f"{token_env or '(api.token_env is empty)'} or bind to 127.0.0.1")
    return None


def bearer_ok(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (constant-time); always true without a token."""
    if token is None:
        return True
    if not header or header[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(header[7:].strip().encode("utf-8", "replace"), token.encode())
