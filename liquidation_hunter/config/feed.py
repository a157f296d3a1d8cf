"""The config's ``feed`` section (issue 17; ``docs/FEED.md``): one liquidation feed for many bots over Redis
Streams, where ``record`` (or a bot) publishes and where a bot reads. Beside :mod:`.sections`, which holds the
others."""

from __future__ import annotations

import os
import re
from typing import Annotated

from msgspec import Meta
from msgspec.structs import replace

from liquidation_hunter.config.sections import FilePath
from live_heatmap import ConfigError
from live_heatmap.common.structs import Settings
from live_heatmap.store.target import is_postgres_url, mask_url, password_in

__all__ = ["REDIS_URL", "FeedConfig"]


REDIS_URL = re.compile(r"rediss?://[^\s/?#@]+(/[0-9]{0,2})?")
"""``redis://host:port/db`` (``rediss://``: TLS); no credentials (checked apart, so a password is never echoed)."""


class FeedConfig(Settings, frozen=True):
    """``feed``: one liquidation feed for many bots over Redis Streams (issue 17, ``docs/FEED.md``). ``publish``:
    where ``record`` appends every event it stores (``XADD liq:<exchange> MAXLEN ~ maxlen``); ``source``: where a
    bot reads them instead of opening the venues' liquidation streams. A Redis password comes only from the
    environment (``REDIS_PASSWORD``), never from the URL."""

    publish: str | None = None
    """``record`` publishes to this Redis (null: it does not publish)."""
    maxlen: Annotated[int, Meta(ge=1_000, le=1_000_000_000)] = 1_000_000
    """Entries kept per stream (approximately: ``MAXLEN ~``); a bot stopped for longer than these last finds a
    gap (filled from ``fill_from`` when set)."""
    buffer: Annotated[int, Meta(ge=1_000, le=10_000_000)] = 200_000
    """Events the publisher holds while Redis is unreachable; past it the oldest are dropped and counted."""
    source: str | None = None
    """The bot reads its liquidations from this Redis (null: from the venues, the default)."""
    exchanges: tuple[str, ...] | None = None
    """The venues' streams read (``liq:<exchange>``); null: the config's ``exchanges``."""
    fill_from: Annotated[FilePath | None, Meta(description=(
        "an event store: a file path, a postgresql:// URL without a password, or null"))] = None
    """A gap (stream trimmed past the bot's last id, entries lost by a Redis restart) is filled from this event
    store (the publisher's ``storage.events``): a file resolved like ``storage.path``, or a ``postgresql://`` URL
    (a shared store, its password from ``PGPASSWORD``/``PGPASSFILE``); null: counted only."""
    block_ms: Annotated[int, Meta(ge=10, le=60_000)] = 1_000
    """How long one ``XREAD BLOCK`` waits for new entries (the stop's latency)."""

    def check(self) -> None:
        for key in ("publish", "source"):
            url = getattr(self, key)
            if url is not None and "@" in url:
                raise ConfigError.wrong(key, "a URL without credentials (a password comes from REDIS_PASSWORD in "
                                        "the environment)", "<a URL with credentials>")
            if url is not None and not REDIS_URL.fullmatch(url):
                raise ConfigError.wrong(key, "a Redis URL such as redis://127.0.0.1:6379/0", url)
        if self.exchanges is not None:
            if not self.exchanges:
                raise ConfigError.wrong("exchanges", "null or a list of venues", [])
            for i, name in enumerate(self.exchanges):
                if name not in {"binance", "bybit", "okx"}:
                    raise ConfigError.wrong(f"exchanges[{i}]", "one of binance, bybit, okx", name)
        if self.fill_from is not None and self.source is None:
            raise ConfigError.wrong("fill_from", "null without feed.source (only a bot on a feed fills gaps)",
                                    mask_url(self.fill_from))
        if self.fill_from is not None and is_postgres_url(self.fill_from) and password_in(self.fill_from):
            raise ConfigError.wrong("fill_from", "a postgresql:// URL without a password (secrets never in a config "
                                    "file: set PGPASSWORD or PGPASSFILE)", mask_url(self.fill_from))

    def resolved(self, config_file: str | None) -> FeedConfig:
        """``fill_from`` resolved against ``config_file``'s folder, as ``storage.path`` (a URL unchanged)."""
        if self.fill_from is None or is_postgres_url(self.fill_from):
            return self
        base = os.path.dirname(os.path.abspath(config_file)) if config_file is not None else os.getcwd()
        return replace(self, fill_from=os.path.normpath(os.path.join(base, os.path.expanduser(self.fill_from))))
