"""The Redis connection of the feed: redis-py, imported here only (off the start path of a bot without a feed).
The password comes from ``REDIS_PASSWORD`` in the environment, never from the URL (the config refuses one)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["PASSWORD_ENV", "connect"]

PASSWORD_ENV = "REDIS_PASSWORD"


def connect(url: str, *, timeout_s: float = 5.0, environ: Mapping[str, str] | None = None) -> Any:
    """A client of ``url`` (not connected yet: redis-py connects on the first command)."""
    import redis  # noqa: PLC0415 - lazy: only a publisher or a bot on a feed needs redis-py

    env = os.environ if environ is None else environ
    return redis.Redis.from_url(url, password=env.get(PASSWORD_ENV) or None, socket_timeout=timeout_s,
                                socket_connect_timeout=timeout_s)
