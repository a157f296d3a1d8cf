"""OKX's recent liquidations over REST, read once on start to cover the time the bot was down.

``GET /api/v5/public/liquidation-orders?instType=SWAP&state=filled&uly=<uly>&limit=100`` per underlying of the
configured symbols (``BTC-USDT`` for ``BTC-USDT-SWAP``), through ccxt's generic ``request`` (ccxt 4.5 has no
implicit method for this path; ``request`` is what its implicit methods call: signing, rate limit, errors). The
answer is parsed by the OKX parser (:func:`live_heatmap.wire.okx.parse_okx_frame`, which reads the REST shape)
and the events go into the heatmap like the stream's: its listeners (the recorder) see the new ones, and the
stream's copies of the same events are duplicates by their dedupe keys, dropped by the heatmap and the store.

A failure (network, a 5xx, an answer that is not JSON, an OKX error code) is one warning and a count; the bot
starts anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from liquidation_hunter.trading.venue_markets import venue_exchange
from live_heatmap.common.instruments import Instruments
from live_heatmap.venue import Venue
from live_heatmap.wire.events import LiquidationEvent
from live_heatmap.wire.okx import parse_okx_frame

__all__ = ["BackfillResult", "EventSink", "backfill_okx", "fetch_liquidation_orders", "underlyings"]

log = structlog.get_logger("liquidation_hunter.backfill")

PATH = "public/liquidation-orders"
LIMIT = 100
"""Rows OKX returns at most per request (its maximum)."""


class EventSink(Protocol):
    """Where the events go (a :class:`~live_heatmap.heatmap.LiveLiquidationHeatmap`)."""

    def ingest_many(self, frames: Any, *, notify: bool = True) -> Any: ...


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """What the start's backfill did: requests sent and failed, events read and new, rejects by reason."""

    requests: int = 0
    failed: int = 0
    events: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    skipped: str | None = None
    """Why no request was sent (``backfill: false``, no symbol list), else None."""

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "failed": self.failed, "events": self.events, "accepted": self.accepted,
                "rejected": dict(self.rejected), "last_error": self.last_error, "skipped": self.skipped}


def underlyings(instruments: Instruments, symbols: Iterable[str]) -> list[str]:
    """The distinct underlyings (``BTC-USDT``) of the configured unified ``symbols`` OKX lists, in order."""
    out: dict[str, None] = {}
    for symbol in symbols:
        instrument = instruments.for_unified(symbol)
        if instrument is not None and instrument.venue_id.endswith("-SWAP"):
            out[instrument.venue_id.removesuffix("-SWAP")] = None
    return list(out)


def fetch_liquidation_orders(exchange: Any, uly: str) -> Any:
    """One ``liquidation-orders`` request for ``uly`` through ``exchange`` (a ccxt ``okx``): the decoded answer."""
    params = {"instType": "SWAP", "state": "filled", "uly": uly, "limit": str(LIMIT)}
    return exchange.request(PATH, ["public"], "GET", params, config={"cost": 1})


def backfill_okx(instruments: Instruments, symbols: Iterable[str], sink: EventSink, *, exchange: Any = None,
                 rest_url: str | None = None, timeout_s: float = 10.0) -> BackfillResult:
    """Read the recent liquidations of each configured symbol's underlying into ``sink``; never raises for the
    venue's failures (module docstring). ``exchange``: a ccxt ``okx`` (default: :func:`venue_exchange` of
    ``rest_url``, closed afterwards)."""
    ccxt_error = _ccxt_error()
    ulys = underlyings(instruments, symbols)
    client = exchange if exchange is not None else venue_exchange(Venue.OKX, rest_url=rest_url, timeout_s=timeout_s)
    requests = failed = read = 0
    rejected: Counter[str] = Counter()
    events: list[LiquidationEvent] = []
    last_error: str | None = None
    try:
        for uly in ulys:
            requests += 1
            try:
                answer = fetch_liquidation_orders(client, uly)
            except (ccxt_error, ValueError) as exc:
                failed += 1
                last_error = f"{uly}: {type(exc).__name__}: {str(exc)[:200]}"
                continue
            if not isinstance(answer, dict):  # ccxt hands back a body it could not decode as it is
                failed += 1
                last_error = f"{uly}: the answer is not JSON: {str(answer)[:80]!r}"
                continue
            parsed = parse_okx_frame(answer, instruments)
            rejected.update(r.reason.value for r in parsed.rejects)
            if not parsed.events and parsed.rejects and str(answer.get("code")) != "0":
                failed += 1
                last_error = f"{uly}: {parsed.rejects[0]}"
            read += len(parsed.events)
            events.extend(parsed.events)
    finally:
        if exchange is None:
            client.close()
    accepted = sink.ingest_many(events).accepted if events else 0
    result = BackfillResult(requests=requests, failed=failed, events=read, accepted=accepted, rejected=dict(rejected),
                            last_error=last_error)
    if failed:
        log.warning("backfill_failed", venue="okx", failed=failed, requests=requests, last_error=last_error,
                    consequence="liquidations of the time the bot was down are missing for these symbols")
    log.info("backfill", venue="okx", underlyings=len(ulys), events=read, new=accepted, failed=failed)
    return result


def _ccxt_error() -> type[Exception]:
    # lazy: ccxt (about 0.4 s) only when a backfill runs, as venue_markets and exchange do
    import ccxt  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy: ccxt, about 0.4 s

    error: type[Exception] = ccxt.BaseError
    return error
