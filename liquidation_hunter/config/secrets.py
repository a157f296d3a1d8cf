"""API credentials: only from the environment, never from a config file, never shown in clear."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from live_heatmap.common.structs import mask

__all__ = ["SECRET_ENV", "Secrets", "environment_secrets", "find_secret_key"]

SECRET_ENV = ("BINANCE_API_KEY", "BINANCE_API_SECRET")
"""The environment variables the API credentials come from (and the only place they come from)."""

_SECRETISH = re.compile(r"apikey|secret|password|passphrase|privatekey")


def environment_secrets() -> list[str]:
    """The credentials set in the environment (to mask wherever a message could echo them)."""
    return [os.environ.get(name, "").strip() for name in SECRET_ENV]


def find_secret_key(data: Any, path: str = "") -> str | None:
    """The path of the first key anywhere in ``data`` that names a credential (``api_key``, ``secret``...)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SECRETISH.search(key.lower().replace("_", "").replace("-", "")):
                return here
            found = find_secret_key(value, here)
            if found is not None:
                return found
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found = find_secret_key(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


@dataclass(frozen=True, slots=True, repr=False)
class Secrets:
    """API credentials from the environment. ``repr``/``str`` show them masked (``****1234``)."""

    api_key: str | None = None
    api_secret: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        """``BINANCE_API_KEY`` / ``BINANCE_API_SECRET`` (surrounding blanks dropped; empty means not set)."""
        env = os.environ if environ is None else environ
        key, secret = ((env.get(name) or "").strip() or None for name in SECRET_ENV)
        return cls(key, secret)

    @property
    def complete(self) -> bool:
        return self.api_key is not None and self.api_secret is not None

    def missing(self) -> tuple[str, ...]:
        """Names of the environment variables that are not set."""
        return tuple(name for name, value in zip(SECRET_ENV, (self.api_key, self.api_secret), strict=True)
                     if value is None)

    def masked(self) -> dict[str, str | None]:
        """``{"BINANCE_API_KEY": "****1234" or None (not set), "BINANCE_API_SECRET": ...}``."""
        return {name: None if value is None else mask(value)
                for name, value in zip(SECRET_ENV, (self.api_key, self.api_secret), strict=True)}

    def __repr__(self) -> str:
        key, secret = (None if v is None else mask(v) for v in (self.api_key, self.api_secret))
        return f"Secrets(api_key={key!r}, api_secret={secret!r})"

    __str__ = __repr__
