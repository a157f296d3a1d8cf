"""Which leverage brackets to use: the exchange's when API keys exist, else the dated table shipped in the package.

:func:`current_brackets` is the one place that decides. The estimated levels and the paper broker read a
:class:`~live_heatmap.estimated.brackets.BracketTable`; its ``label`` (date and source) is shown with them.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from liquidation_hunter.trading.errors import ExchangeUnavailable, OrderRejected
from liquidation_hunter.trading.exchange import ExchangeClient
from live_heatmap.estimated.brackets import BracketTable, shipped_brackets

__all__ = ["current_brackets"]

_log = structlog.get_logger("liquidation_hunter.brackets")


def current_brackets(client: ExchangeClient | None, *, as_of: datetime | None = None) -> BracketTable:
    """The exchange's brackets (``GET /fapi/v1/leverageBracket``, signed) when ``client`` has API keys, dated
    ``as_of`` (default now); the shipped table without a client or keys. If the exchange cannot be asked (down,
    keys refused, an answer not in Binance's shape) the shipped table is returned and a warning
    ``brackets.shipped_instead`` names why: estimated levels stay available, labelled with the older date."""
    if client is None or not client.has_credentials:
        return shipped_brackets()
    try:
        return client.leverage_brackets(as_of=as_of)
    except (ExchangeUnavailable, OrderRejected, ValueError) as exc:
        table = shipped_brackets()
        _log.warning("brackets.shipped_instead", error=str(exc), shipped=table.label)
        return table
