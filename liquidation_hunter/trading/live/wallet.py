"""The exchange's wallet brought into the live books: the funding the exchange's income history lists
(``GET /fapi/v1/income?incomeType=FUNDING_FEE``), booked to the position open on the symbol at the funding time
once per position and time (the books' ``funding`` table refuses a second row, so a restart books nothing twice),
then ``fetch_balance``: what still differs between the exchange's wallet and the books' is recorded as a deposit
or a withdrawal (:meth:`.Books.record_transfer`). Asking (:meth:`ExchangeWallet.look`) and booking
(:meth:`ExchangeWallet.book`) are apart, so the broker asks without holding its lock; it decides when to look
(:meth:`.LiveBroker.sync_account`)."""

from __future__ import annotations

from typing import Any

from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.exchange import Balance, ExchangeClient, FundingPayment

__all__ = ["ExchangeWallet"]

FUNDING_LOOKBACK_MS = 86_400_000
"""Funding is looked up for positions open now or closed within this (a day): the exchange's income history
may list a payment a little after its funding time."""
HOUR_MS = 3_600_000
FUNDING_SETTLE_MS = 600_000
"""Binance settles funding on the hour (every 8, 4 or 1 hours by symbol). The income history (weight 30, which
ccxt's rate limiter waits out as about 1.5 s) is read at start and then only in the first 10 minutes after each
hour and once after them, not at every look at the wallet."""


class ExchangeWallet:
    """The funding and the wallet of the exchange behind ``client``, booked into ``books``."""

    def __init__(self, books: Books, client: ExchangeClient, logger: Any) -> None:
        self._books = books
        self._client = client
        self._log = logger
        self._funding_looked_at: int | None = None
        self.balance: Balance | None = None
        """The exchange's wallet and available margin at the last :meth:`sync`."""

    def look(self, now_ms: int) -> tuple[list[FundingPayment], Balance]:
        """Ask the exchange (no booking, so the broker's lock need not be held): the funding paid since the
        books' window when it is due (an empty list otherwise), then the balance. Raises
        :class:`~liquidation_hunter.trading.errors.TradingError` when the exchange cannot be asked."""
        payments: list[FundingPayment] = []
        if self._funding_due(now_ms):
            window = self._books.funding_window(now_ms, FUNDING_LOOKBACK_MS)
            if window is not None:
                payments = self._client.funding_history(*window)
        return payments, self._client.fetch_balance()

    def book(self, payments: list[FundingPayment], balance: Balance, now_ms: int) -> Balance:
        """Book what :meth:`look` found: the funding, then the difference between the exchange's wallet and
        the books' as a deposit or a withdrawal."""
        for payment in payments:
            if self._books.record_exchange_funding(payment.symbol, amount=payment.amount, at=payment.at):
                self._log.info("funding_booked", symbol=payment.symbol, amount=payment.amount, at=payment.at)
        if self._funding_due(now_ms):
            self._funding_looked_at = now_ms
        transfer = self._books.record_transfer(balance.wallet, now_ms=now_ms,
                                               note="the exchange's wallet differs from the books'")
        if transfer is not None:
            self._log.warning("wallet_synced", kind=transfer.kind, amount=round(transfer.amount, 8),
                              exchange_wallet=balance.wallet, books_wallet=round(transfer.books_wallet, 8),
                              note="recorded as a " + transfer.kind + "; sizing and limits use the exchange's")
        self.balance = balance
        return balance

    def _funding_due(self, now_ms: int) -> bool:
        """Whether the income history is to be read now (:data:`FUNDING_SETTLE_MS`)."""
        looked = self._funding_looked_at
        return looked is None or looked < now_ms - now_ms % HOUR_MS + FUNDING_SETTLE_MS
