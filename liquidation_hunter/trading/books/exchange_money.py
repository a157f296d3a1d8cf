"""Money the exchange moved that no order of the books did (live trading): deposits and withdrawals, found by
comparing the exchange's wallet with the books', and funding read from the exchange's income history."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from liquidation_hunter.trading.books.file import BooksFile, finite

__all__ = ["ExchangeMoney", "Transfer"]

TRANSFER_MIN = 0.01
"""Wallet differences below this (USDT) are rounding, not a deposit or a withdrawal."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """A row of ``transfers``: money the exchange's wallet gained (``deposit``) or lost (``withdrawal``) outside
    the trades the books know, found by comparing the two wallets (live trading)."""

    at: int
    kind: str
    amount: float
    """Signed: + deposit, - withdrawal."""
    exchange_wallet: float
    books_wallet: float
    """The books' wallet before the transfer was recorded."""
    note: str


class ExchangeMoney(BooksFile):
    """The exchange's wallet and funding, brought into the books' ledger."""

    def record_transfer(self, exchange_wallet: float, *, now_ms: int, note: str = "") -> Transfer | None:
        """Make the books' wallet the exchange's: the difference is a deposit (+) or a withdrawal (-), in the
        ledger (kind ``deposit``, so it is neither profit nor loss) and in ``transfers``, in one transaction.
        The recorded peak equity and today's starting equity move by the same amount, so money moved in or out
        is not taken for a gain or a loss by the drawdown halt and the daily loss limit. None when the wallets
        agree to within 0.01 USDT (rounding)."""
        finite("exchange_wallet", exchange_wallet)
        with self._write() as db:
            books_wallet = float(db.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger").fetchone()[0])
            amount = exchange_wallet - books_wallet
            if abs(amount) < TRANSFER_MIN:
                return None
            kind = "deposit" if amount > 0 else "withdrawal"
            db.execute("INSERT INTO ledger(at, kind, amount, note) VALUES (?, 'deposit', ?, ?)",
                       (now_ms, amount, f"{kind}: {note}" if note else kind))
            db.execute("INSERT INTO transfers(at, kind, amount, exchange_wallet, books_wallet, note) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (now_ms, kind, amount, exchange_wallet, books_wallet, note))
            for row in db.execute("SELECT key, value FROM control WHERE key = 'peak_equity' OR key LIKE 'day_start:%'"
                                  ).fetchall():
                db.execute("UPDATE control SET value = ? WHERE key = ?", (repr(float(row["value"]) + amount),
                                                                          row["key"]))
            return Transfer(at=now_ms, kind=kind, amount=amount, exchange_wallet=exchange_wallet,
                            books_wallet=books_wallet, note=note)

    def transfers(self, limit: int | None = None) -> list[Transfer]:
        """Deposits and withdrawals (:meth:`record_transfer`), newest first; none in books written before
        there were any (read-only: the table is missing)."""
        rows = self._rows_if_table("SELECT * FROM transfers ORDER BY at DESC, id DESC LIMIT COALESCE(?, -1)",
                                   (limit,))
        return [Transfer(at=r["at"], kind=r["kind"], amount=r["amount"], exchange_wallet=r["exchange_wallet"],
                         books_wallet=r["books_wallet"], note=r["note"]) for r in rows]

    def record_exchange_funding(self, symbol: str, *, amount: float, at: int) -> bool:
        """Funding the exchange paid or charged (its income history) at funding time ``at`` on ``symbol``: booked
        to the position open on the symbol then (open or closed since), once per position and time, so a
        restart or a second look books nothing twice. False when no position of the books was open then, or
        it is booked already. The ``rate`` column gets ``amount / notional at entry`` (the history gives none)."""
        finite("amount", amount)
        try:
            with self._write() as db:
                row = db.execute("SELECT id, quantity, entry_price, direction FROM positions WHERE symbol = ? AND "
                                 "opened_at <= ? AND (closed_at IS NULL OR closed_at >= ?) ORDER BY id DESC LIMIT 1",
                                 (symbol, at, at)).fetchone()
                if row is None:
                    return False
                rate = -row["direction"] * amount / (row["quantity"] * row["entry_price"])
                db.execute("INSERT INTO funding(position_id, at, rate, amount) VALUES (?, ?, ?, ?)",
                           (row["id"], at, rate, amount))
                db.execute("UPDATE positions SET funding = funding + ? WHERE id = ?", (amount, row["id"]))
                db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'funding', ?, ?, ?)",
                           (at, amount, row["id"], "exchange income history"))
        except sqlite3.IntegrityError:
            return False
        return True

    def funding_window(self, now_ms: int, lookback_ms: int) -> tuple[int, list[str]] | None:
        """Where to look for funding in the exchange's income history: from the oldest opening among the
        positions open now or closed within ``lookback_ms``, on their symbols; None when there are none."""
        rows = self._rows("SELECT MIN(opened_at) AS since, GROUP_CONCAT(DISTINCT symbol) AS symbols FROM positions "
                          "WHERE status = 'open' OR closed_at >= ?", (now_ms - lookback_ms,))
        if not rows or rows[0]["since"] is None:
            return None
        return int(rows[0]["since"]), sorted(str(rows[0]["symbols"]).split(","))
