"""Each venue's instruments through ccxt: ids, unified symbols and contract sizes, cached on disk.

The liquidation feeds of Bybit and OKX name contracts by the venue's id (``BTCUSDT``, ``BTC-USDT-SWAP``) and OKX
gives sizes in contracts, so the stream and its parsers need each venue's table
(:class:`~live_heatmap.common.instruments.Instruments`). It comes from ccxt's markets:

* Bybit: ``ccxt.bybit`` with ``options.fetchMarkets.types = ["linear"]``, so ``load_markets`` sends only
  ``GET /v5/market/instruments-info?category=linear&limit=1000`` (and the same with ``status=PreLaunch``),
  following ``nextPageCursor`` (``cursor=``) while it is set; without credentials ccxt sends no currency request;
* OKX: ``ccxt.okx`` with ``options.fetchMarkets.types = ["swap"]``: one
  ``GET /api/v5/public/instruments?instType=SWAP``; ccxt's ``contractSize`` is the instrument's ``ctVal``,
  ``inverse`` is true when the settle currency is the base (``BTC-USD-SWAP``: ``BTC/USD:BTC``, ctVal 100 USD);
* Binance: the trading client's markets (:mod:`.exchange`) when loaded, else the id rule of
  :mod:`live_heatmap.common.symbols` for the configured symbols (sizes are base units there).

Only perpetual swaps are kept. An instrument's heatmap key is the compact id of its unified symbol for linear
contracts settled in USDT or USDC (``BTC/USDT:USDT`` -> ``BTCUSDT`` on every venue), else the unified symbol.

The table is cached as ``<cache_dir>/<venue>.json`` with the time it was read: a start finds it there when it is
younger than a day (no request), reads the venue otherwise, and falls back to the cache, however old, when the
venue cannot be reached (a restart without network). Times are passed in (``now_ms``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from live_heatmap.common.errors import describe
from live_heatmap.common.instruments import Instrument, Instruments
from live_heatmap.common.symbols import LINEAR_QUOTES, symbol_key, to_exchange_id
from live_heatmap.venue import Venue

__all__ = ["MARKETS_MAX_AGE_MS", "MarketsLoad", "MarketsUnavailable", "binance_instruments",
           "instruments_from_markets", "load_instruments", "read_cache", "venue_exchange", "write_cache"]

MARKETS_MAX_AGE_MS = 24 * 3600 * 1000
"""A cached table younger than this is used without asking the venue (contract sizes change rarely)."""
_CACHE_FORMAT = 1


class MarketsUnavailable(RuntimeError):
    """The venue could not be read and no cached table exists: the venue cannot be streamed."""


def _ccxt() -> Any:
    # lazy: ccxt takes about 0.4 s to import; `import liquidation_hunter` and commands that never read a venue's
    # markets stay light (as trading/exchange.py does)
    import ccxt  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy: ccxt, about 0.4 s

    return ccxt


def venue_exchange(venue: Venue, *, rest_url: str | None = None, timeout_s: float = 10.0) -> Any:
    """A public (no credentials) ccxt instance of ``venue`` (Bybit or OKX) limited to its perpetual swaps, with
    every REST URL moved to ``rest_url`` (paths kept; None: ccxt's own)."""
    ccxt = _ccxt()
    options: dict[str, Any] = {"timeout": round(timeout_s * 1000), "enableRateLimit": True}
    if venue is Venue.BYBIT:
        exchange = ccxt.bybit({**options, "options": {"fetchMarkets": {"types": ["linear"]}}})
    elif venue is Venue.OKX:
        exchange = ccxt.okx({**options, "options": {"fetchMarkets": {"types": ["swap"]}}})
    else:
        raise ValueError(f"venue_exchange is for bybit and okx (Binance's client is trading.exchange), got {venue}")
    if rest_url is not None:
        base = rest_url.rstrip("/")
        exchange.urls["api"] = {name: base + urlsplit(url).path if isinstance(url, str) else url
                                for name, url in exchange.urls["api"].items()}
    return exchange


def instruments_from_markets(venue: Venue, markets: Iterable[Mapping[str, Any]], as_of_ms: int) -> Instruments:
    """The perpetual swaps among ccxt ``markets`` (dicts as ``load_markets`` or ``fetch_markets`` return them)."""
    items = []
    for market in markets:
        if not market.get("swap") or not market.get("id") or not market.get("symbol"):
            continue
        unified = str(market["symbol"])
        quote, settle = market.get("quote"), market.get("settle")
        linear = bool(market.get("linear")) and quote == settle and quote in LINEAR_QUOTES
        key = unified
        if linear:
            try:
                key = symbol_key(unified)
            except ValueError:  # a unified form the rule does not cover: keyed by itself
                key = unified
        size = market.get("contractSize")
        items.append(Instrument(venue=venue, venue_id=str(market["id"]), unified=unified, key=key,
                                contract_size=float(size) if size else 1.0, inverse=bool(market.get("inverse"))))
    return Instruments.of(venue, as_of_ms, items)


def binance_instruments(markets: Mapping[str, Any] | None, symbols: Sequence[str], as_of_ms: int) -> Instruments:
    """Binance's table: from the trading client's loaded ``markets`` (ccxt ``binanceusdm``) when there are any,
    else the configured unified ``symbols`` by the id rule (``BTC/USDT:USDT`` -> ``BTCUSDT``, size in base units)."""
    if markets:
        return instruments_from_markets(Venue.BINANCE, markets.values(), as_of_ms)
    items = []
    for unified in symbols:
        try:
            venue_id = to_exchange_id(unified)
        except ValueError:
            continue
        items.append(Instrument(Venue.BINANCE, venue_id, unified, venue_id))
    return Instruments.of(Venue.BINANCE, as_of_ms, items)


# ---------------------------------------------------------------------------------------------- the cache


def _cache_file(cache_dir: str | os.PathLike[str], venue: Venue) -> Path:
    return Path(cache_dir) / f"{venue.value}.json"


def write_cache(cache_dir: str | os.PathLike[str], instruments: Instruments) -> Path:
    """Write ``instruments`` to ``<cache_dir>/<venue>.json`` (atomically: a reader never sees half a file)."""
    path = _cache_file(cache_dir, instruments.venue)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [[i.venue_id, i.unified, i.key, i.contract_size, i.inverse] for i in instruments.by_id.values()]
    body = {"format": _CACHE_FORMAT, "venue": instruments.venue.value, "as_of_ms": instruments.as_of_ms,
            "instruments": rows}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(body, out, separators=(",", ":"))
    os.replace(tmp, path)
    return path


def read_cache(cache_dir: str | os.PathLike[str], venue: Venue) -> Instruments | None:
    """The cached table of ``venue``, or None when there is none or it cannot be read (a file from another
    version, damaged): the caller reads the venue instead."""
    path = _cache_file(cache_dir, venue)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != _CACHE_FORMAT or body.get("venue") != venue.value:
            return None
        items = [Instrument(venue, str(vid), str(unified), str(key), float(size), bool(inverse))
                 for vid, unified, key, size, inverse in body["instruments"]]
        return Instruments.of(venue, int(body["as_of_ms"]), items)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


# ---------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class MarketsLoad:
    """What :func:`load_instruments` found: the table, where it came from, and the error that sent it to an old
    cache (None otherwise). ``source``: ``exchange`` (read now), ``cache`` (younger than a day) or ``stale cache``
    (the venue failed)."""

    instruments: Instruments
    source: str
    error: str | None = None


def load_instruments(venue: Venue, cache_dir: str | os.PathLike[str] | None, *, now_ms: int,
                     rest_url: str | None = None, timeout_s: float = 10.0, exchange: Any = None,
                     max_age_ms: int = MARKETS_MAX_AGE_MS) -> MarketsLoad:
    """``venue``'s table: the cache when younger than ``max_age_ms``, else read through ccxt (``exchange``, or
    :func:`venue_exchange` of ``rest_url``) and cached; when that fails, the cache however old. Raises
    :class:`MarketsUnavailable` when the venue fails and there is no cache. ``cache_dir`` None: no cache."""
    cached = read_cache(cache_dir, venue) if cache_dir is not None else None
    if cached is not None and 0 <= now_ms - cached.as_of_ms < max_age_ms:
        return MarketsLoad(cached, "cache")
    ccxt = _ccxt()
    client = exchange if exchange is not None else venue_exchange(venue, rest_url=rest_url, timeout_s=timeout_s)
    try:
        markets = client.load_markets(reload=True)
        instruments = instruments_from_markets(venue, markets.values(), now_ms)
        if not instruments.by_id:
            raise ccxt.ExchangeError(f"{venue} listed no perpetual swaps")
    except (ccxt.BaseError, ValueError, TypeError, KeyError) as exc:
        error = describe(exc)[:300]
        if cached is None:
            raise MarketsUnavailable(f"{venue}: markets could not be read ({error}) and there is no cache") from None
        return MarketsLoad(cached, "stale cache", error)
    finally:
        if exchange is None:
            client.close()
    if cache_dir is not None:
        write_cache(cache_dir, instruments)
    return MarketsLoad(instruments, "exchange")
