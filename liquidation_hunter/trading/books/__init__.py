"""The books: one SQLite file (WAL) holding everything a bot did, for both brokers.

Tables: ``ledger`` (every money movement: deposit, fee, realised PnL, funding; the wallet is their sum),
``orders`` (by client order id), ``fills``, ``positions`` (open and closed), ``funding``, ``signals``,
``snapshots`` (equity over time), ``control`` (halt switch, stream health, peak equity), ``transfers``
(deposits and withdrawals seen on the exchange), ``control_requests`` (``close`` and ``flatten`` asked for by
hand, :meth:`Books.request_control`), ``alert_outbox`` (alerts waiting for their channels, issue 16),
``feed_cursors`` (a bot on a feed: where it resumes, issue 17) and ``meta``.

:class:`Books` is one object over the file; each kind of record has its module:

* :mod:`.file`: opening (mode and schema checks), closing, the transactions; :mod:`.schema`: the tables;
* :mod:`.ledger`: orders, fills, positions, money and the audit (one transaction per broker change);
* :mod:`.exchange_money`: live trading's deposits, withdrawals and funding from the exchange;
* :mod:`.signals`: the signal log; :mod:`.risk_state`: snapshots, peak, day start, halt, heartbeat;
* :mod:`.requests`: ``close`` and ``flatten`` requests; :mod:`.outbox`: the alerts' outbox;
* :mod:`.feed_cursors`: a bot on a feed's last entry per stream and its gaps.
"""

from __future__ import annotations

from liquidation_hunter.trading.books.exchange_money import ExchangeMoney, Transfer
from liquidation_hunter.trading.books.feed_cursors import FeedCursor, FeedCursors
from liquidation_hunter.trading.books.file import BooksError
from liquidation_hunter.trading.books.ledger import Ledger, OrderRecord
from liquidation_hunter.trading.books.outbox import OUTBOX_CAP, NewAlert, Outbox, OutboxCounts, OutboxRow
from liquidation_hunter.trading.books.requests import ControlRequest, ControlRequests
from liquidation_hunter.trading.books.risk_state import RiskState
from liquidation_hunter.trading.books.signals import SignalLog, SignalRecord

__all__ = ["OUTBOX_CAP", "Books", "BooksError", "ControlRequest", "FeedCursor", "NewAlert", "OrderRecord",
           "OutboxCounts", "OutboxRow", "SignalRecord", "Transfer"]


class Books(Ledger, ExchangeMoney, SignalLog, RiskState, ControlRequests, Outbox, FeedCursors):
    """The bot's books in SQLite. Open with :meth:`open`; close with :meth:`close` (or ``with``)."""
