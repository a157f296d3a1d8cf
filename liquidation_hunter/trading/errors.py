"""The project's own trading errors. :mod:`.exchange` translates ccxt's exceptions into these, so nothing
else needs to know ccxt's class tree."""

from __future__ import annotations

__all__ = ["ExchangeUnavailable", "OrderRejected", "TradingError"]


class TradingError(Exception):
    """Base of the trading errors."""


class OrderRejected(TradingError):
    """Permanent: the exchange refused the request as asked (bad symbol, insufficient funds, invalid order,
    bad credentials or permissions). Retrying the same request cannot help; it is logged with the order."""


class ExchangeUnavailable(TradingError):
    """Temporary: network error, timeout, rate limit or exchange maintenance, still failing after the
    retries. The bot's loop carries on and tries again at the next run of the job."""
