"""The project's own trading errors. :mod:`.exchange` translates ccxt's exceptions into these, so nothing
else needs to know ccxt's class tree."""

from __future__ import annotations

__all__ = ["ExchangeUnavailable", "OrderRejected", "ProtectionFailed", "TradingError"]


class TradingError(Exception):
    """Base of the trading errors."""


class OrderRejected(TradingError):
    """Permanent: the exchange refused the request as asked (bad symbol, insufficient funds, invalid order,
    bad credentials or permissions). Retrying the same request cannot help; it is logged with the order."""


class ExchangeUnavailable(TradingError):
    """Temporary: network error, timeout, rate limit or exchange maintenance, still failing after the
    retries. The bot's loop carries on and tries again at the next run of the job."""


class ProtectionFailed(OrderRejected):
    """An entry filled but the exchange refused its stop-loss (or take-profit): the position was opened and
    closed again at once, at a cost (exit reason ``protection_failed``). ``kind`` names the refused exit,
    ``detail`` the exchange's answer, ``closed`` whether the market close went through (False: it is tried
    again at the next prices)."""

    def __init__(self, message: str, *, kind: str, detail: str, closed: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.detail = detail
        self.closed = closed
