"""The ledger: orders, fills, positions and every money movement (deposit, fee, realised PnL, funding,
adjustment; the wallet is their sum), and the audit that checks they add up.

Every change a broker makes is **one transaction**: an entry writes its order, fill, position and fee
together, an exit its order, fill, position update, PnL and fee together. A process killed at any
instant (``kill -9``) leaves either all of it or none, so the books balance after a restart
(:meth:`Ledger.audit`). ``orders.client_id`` is unique, so an entry recorded once can never be recorded
again: the same signal cannot open two positions, even across restarts. At most one position per symbol
is open (a partial unique index).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from liquidation_hunter.trading.books.file import BooksError, BooksFile, finite
from liquidation_hunter.trading.model import AccountState, ClosedTrade, EntryOrder, ExitReason, Position

__all__ = ["Ledger", "OrderRecord"]

_EPS = 1e-6
"""Tolerance of the audit, in USDT: sums of floats may differ in the last bits."""

_POSITION_COLUMNS = ("id, client_id, symbol, direction, quantity, entry_price, leverage, margin, stop_loss, "
                     "take_profit, liquidation_price, opened_at, entry_fee, funding, strategy")


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A row of ``orders``."""

    client_id: str
    exchange_id: str | None
    symbol: str
    side: str
    type: str
    purpose: str
    position_id: int | None
    quantity: float
    price: float | None
    reduce_only: bool
    status: str
    created_at: int
    updated_at: int
    error: str | None


def _position(row: sqlite3.Row) -> Position:
    return Position(**{name: row[name] for name in _POSITION_COLUMNS.split(", ")})


class Ledger(BooksFile):
    """Orders, fills, positions and the money they moved."""

    # ------------------------------------------------------------------ orders

    def record_order(self, *, client_id: str, symbol: str, side: str, type: str, purpose: str, quantity: float,
                     now_ms: int, price: float | None = None, position_id: int | None = None,
                     reduce_only: bool = False, status: str = "new") -> bool:
        """Note an order before (or as) it is sent. False when ``client_id`` is already recorded."""
        try:
            with self._write() as db:
                db.execute("INSERT INTO orders(client_id, symbol, side, type, purpose, position_id, quantity, price, "
                           "reduce_only, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (client_id, symbol, side, type, purpose, position_id, quantity, price, int(reduce_only),
                            status, now_ms, now_ms))
        except sqlite3.IntegrityError:
            return False
        return True

    def update_order(self, client_id: str, *, status: str, now_ms: int, exchange_id: str | None = None,
                     error: str | None = None) -> None:
        with self._write() as db:
            db.execute("UPDATE orders SET status = ?, updated_at = ?, exchange_id = COALESCE(?, exchange_id), "
                       "error = COALESCE(?, error) WHERE client_id = ?",
                       (status, now_ms, exchange_id, error, client_id))

    def order(self, client_id: str) -> OrderRecord | None:
        rows = self._rows("SELECT * FROM orders WHERE client_id = ?", (client_id,))
        return self._order(rows[0]) if rows else None

    def orders(self, *, status: str | None = None, purpose: str | None = None) -> list[OrderRecord]:
        """The orders with ``status`` and ``purpose`` (None: any), oldest first."""
        return [self._order(r) for r in self._rows(
            "SELECT * FROM orders WHERE status = COALESCE(?, status) AND purpose = COALESCE(?, purpose) "
            "ORDER BY created_at, client_id", (status, purpose))]

    @staticmethod
    def _order(row: sqlite3.Row) -> OrderRecord:
        return OrderRecord(**{**dict(row), "reduce_only": bool(row["reduce_only"])})

    # ------------------------------------------------------------------ positions

    def record_entry(self, order: EntryOrder, *, quantity: float, fill_price: float, fee: float,
                     liquidation_price: float, now_ms: int, maker: bool = False,
                     exchange_id: str | None = None, stop_loss: float | None = None,
                     take_profit: float | None = None) -> Position | None:
        """An entry filled: its order (filled), fill, open position and fee, in one transaction.

        None (and nothing written) when the ``client_id`` already has a position, or the symbol
        already has an open one. ``stop_loss``/``take_profit`` override the order's (rounded levels).
        """
        for name, value in (("quantity", quantity), ("fill_price", fill_price), ("fee", fee)):
            finite(name, value)
        if quantity <= 0 or fill_price <= 0:
            raise BooksError(f"entry {order.client_id}: quantity and price must be > 0")
        margin = quantity * fill_price / order.leverage
        sl = order.stop_loss if stop_loss is None else stop_loss
        tp = order.take_profit if take_profit is None else take_profit
        try:
            with self._write() as db:
                if db.execute("SELECT 1 FROM positions WHERE client_id = ?", (order.client_id,)).fetchone():
                    return None
                cur = db.execute(
                    "INSERT INTO positions(client_id, symbol, direction, quantity, entry_price, leverage, margin, "
                    "stop_loss, take_profit, liquidation_price, opened_at, entry_fee, strategy, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
                    (order.client_id, order.symbol, order.direction, quantity, fill_price, order.leverage, margin,
                     sl, tp, liquidation_price, now_ms, fee, order.strategy))
                position_id = int(cur.lastrowid or 0)
                db.execute(
                    "INSERT INTO orders(client_id, exchange_id, symbol, side, type, purpose, position_id, quantity, "
                    "price, reduce_only, status, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, 'market', 'entry', ?, ?, ?, 0, 'filled', ?, ?) "
                    "ON CONFLICT(client_id) DO UPDATE SET status = 'filled', position_id = excluded.position_id, "
                    "exchange_id = COALESCE(excluded.exchange_id, exchange_id), updated_at = excluded.updated_at",
                    (order.client_id, exchange_id, order.symbol, order.side, position_id, quantity,
                     order.reference_price, order.created_at, now_ms))
                self._fill(db, client_id=order.client_id, position_id=position_id, symbol=order.symbol,
                           side=order.side, quantity=quantity, price=fill_price, fee=fee, maker=maker, realized=0.0,
                           now_ms=now_ms)
                if fee:
                    db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'fee', ?, ?, ?)",
                               (now_ms, -fee, position_id, f"entry {order.client_id}"))
                row = db.execute(f"SELECT {_POSITION_COLUMNS} FROM positions WHERE id = ?", (position_id,)).fetchone()
                return _position(row)
        except sqlite3.IntegrityError:
            return None

    def record_exit(self, position_id: int, *, client_id: str, exit_price: float, fee: float, reason: ExitReason,
                    now_ms: int, maker: bool = False, exchange_id: str | None = None,
                    order_type: str = "market") -> ClosedTrade | None:
        """A position closed: its exit order and fill, PnL and fee, in one transaction.

        None (nothing written) when the position is not open (already closed: no double exit).
        A liquidation loses at most the position's margin (isolated).
        """
        finite("exit_price", exit_price)
        finite("fee", fee)
        with self._write() as db:
            row = db.execute(f"SELECT {_POSITION_COLUMNS} FROM positions WHERE id = ? AND status = 'open'",
                             (position_id,)).fetchone()
            if row is None:
                return None
            pos = _position(row)
            gross = pos.unrealized(exit_price)
            if reason == "liquidation":
                gross = max(gross, -pos.margin)
            side = "sell" if pos.direction > 0 else "buy"
            db.execute(
                "INSERT INTO orders(client_id, exchange_id, symbol, side, type, purpose, position_id, quantity, "
                "price, reduce_only, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'filled', "
                "?, ?) ON CONFLICT(client_id) DO UPDATE SET status = 'filled', updated_at = excluded.updated_at, "
                "exchange_id = COALESCE(excluded.exchange_id, exchange_id)",
                (client_id, exchange_id, pos.symbol, side, order_type, reason, pos.id, pos.quantity, exit_price,
                 now_ms, now_ms))
            self._fill(db, client_id=client_id, position_id=pos.id, symbol=pos.symbol, side=side, quantity=pos.quantity,
                       price=exit_price, fee=fee, maker=maker, realized=gross, now_ms=now_ms)
            db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'pnl', ?, ?, ?)",
                       (now_ms, gross, pos.id, f"{reason} {client_id}"))
            if fee:
                db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'fee', ?, ?, ?)",
                           (now_ms, -fee, pos.id, f"exit {client_id}"))
            db.execute("UPDATE positions SET status = 'closed', closed_at = ?, exit_price = ?, exit_reason = ?, "
                       "exit_fee = ?, gross_pnl = ? WHERE id = ?", (now_ms, exit_price, reason, fee, gross, pos.id))
            return ClosedTrade(position=pos, exit_price=exit_price, reason=reason, closed_at=now_ms, exit_fee=fee,
                               gross_pnl=gross)

    @staticmethod
    def _fill(db: sqlite3.Connection, *, client_id: str, position_id: int, symbol: str, side: str, quantity: float,
              price: float, fee: float, maker: bool, realized: float, now_ms: int) -> None:
        db.execute("INSERT INTO fills(client_id, position_id, symbol, side, quantity, price, fee, maker, "
                   "realized_pnl, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (client_id, position_id, symbol, side, quantity, price, fee, int(maker), realized, now_ms))

    def record_funding(self, position_id: int, *, rate: float, amount: float, at: int) -> bool:
        """Funding paid (negative) or received at funding time ``at``; once per position and time."""
        finite("amount", amount)
        try:
            with self._write() as db:
                if db.execute("SELECT 1 FROM positions WHERE id = ? AND status = 'open'",
                              (position_id,)).fetchone() is None:
                    return False
                db.execute("INSERT INTO funding(position_id, at, rate, amount) VALUES (?, ?, ?, ?)",
                           (position_id, at, rate, amount))
                db.execute("UPDATE positions SET funding = funding + ? WHERE id = ?", (amount, position_id))
                db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'funding', ?, ?, ?)",
                           (at, amount, position_id, f"rate {rate!r}"))
        except sqlite3.IntegrityError:
            return False
        return True

    def record_adjustment(self, amount: float, *, now_ms: int, note: str) -> None:
        """A wallet correction from outside the books (live: reconciling with the exchange's wallet)."""
        with self._write() as db:
            db.execute("INSERT INTO ledger(at, kind, amount, note) VALUES (?, 'adjustment', ?, ?)",
                       (now_ms, finite("amount", amount), note))

    def open_positions(self) -> list[Position]:
        return [_position(r) for r in self._rows(
            f"SELECT {_POSITION_COLUMNS} FROM positions WHERE status = 'open' ORDER BY id")]

    def position_by_client_id(self, client_id: str) -> Position | None:
        rows = self._rows(f"SELECT {_POSITION_COLUMNS} FROM positions WHERE client_id = ?", (client_id,))
        return _position(rows[0]) if rows else None

    def closed_trades(self, *, since_ms: int | None = None, limit: int | None = None) -> list[ClosedTrade]:
        """Closed positions, newest first."""
        sql = (f"SELECT {_POSITION_COLUMNS}, closed_at, exit_price, exit_reason, exit_fee, gross_pnl FROM positions "
               "WHERE status = 'closed' AND closed_at >= COALESCE(?, closed_at) "
               "ORDER BY closed_at DESC, id DESC LIMIT COALESCE(?, -1)")
        return [ClosedTrade(position=_position(r), exit_price=r["exit_price"], reason=r["exit_reason"],
                            closed_at=r["closed_at"], exit_fee=r["exit_fee"], gross_pnl=r["gross_pnl"])
                for r in self._rows(sql, (since_ms, limit))]

    def last_exit_at(self, symbol: str) -> int | None:
        rows = self._rows("SELECT MAX(closed_at) AS at FROM positions WHERE symbol = ? AND status = 'closed'",
                          (symbol,))
        return None if rows[0]["at"] is None else int(rows[0]["at"])

    # ------------------------------------------------------------------ money

    def wallet(self) -> float:
        """The wallet balance: the sum of the ledger (margin is part of it)."""
        return float(self._rows("SELECT COALESCE(SUM(amount), 0) AS w FROM ledger")[0]["w"])

    def realized_since(self, since_ms: int) -> float:
        """Realised PnL after fees and funding since a moment."""
        rows = self._rows("SELECT COALESCE(SUM(amount), 0) AS s FROM ledger WHERE kind != 'deposit' AND at >= ?",
                          (since_ms,))
        return float(rows[0]["s"])

    def account(self, prices: Mapping[str, float], now_ms: int) -> AccountState:
        """The books valued at ``prices`` (a position without a price is valued at its entry)."""
        with self._snapshot():
            wallet = self.wallet()
            positions = self.open_positions()
        margin = sum(p.margin for p in positions)
        unrealized = sum(p.unrealized(prices.get(p.symbol, p.entry_price)) for p in positions)
        return AccountState(wallet=wallet, margin=margin, unrealized=unrealized, positions=len(positions), at=now_ms)

    # ------------------------------------------------------------------ audit

    def audit(self) -> list[str]:
        """Check the books balance; a list of problems, empty when everything adds up.

        * the wallet (ledger sum) equals the starting wallet + realised PnL of the fills - fees + funding
          + adjustments;
        * every position has its entry fill; every closed one its exit fill with the PnL it records;
        * no client order id opened two positions; at most one open position per symbol.
        """
        problems: list[str] = []
        with self._snapshot():
            q = self._db.execute
            start = float(q("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind = 'deposit'").fetchone()[0])
            fees = float(q("SELECT COALESCE(SUM(fee), 0) FROM fills").fetchone()[0])
            pnl = float(q("SELECT COALESCE(SUM(realized_pnl), 0) FROM fills").fetchone()[0])
            funding = float(q("SELECT COALESCE(SUM(amount), 0) FROM funding").fetchone()[0])
            adjust = float(q("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind = 'adjustment'").fetchone()[0])
            wallet = self.wallet()
            expected = start + pnl - fees + funding + adjust
            if abs(wallet - expected) > _EPS * max(1.0, abs(expected)):
                problems.append(f"wallet {wallet!r} != start {start} + pnl {pnl} - fees {fees} + funding {funding}"
                                f" + adjustments {adjust} = {expected!r}")
            for row in q("SELECT p.id, p.status, COUNT(f.id) AS n, COALESCE(SUM(f.realized_pnl), 0) AS r, "
                         "p.gross_pnl FROM positions p LEFT JOIN fills f ON f.position_id = p.id GROUP BY p.id"):
                want = 1 if row["status"] == "open" else 2
                if row["n"] != want:
                    problems.append(f"position {row['id']} ({row['status']}) has {row['n']} fills, expected {want}")
                elif row["status"] == "closed" and abs(row["r"] - row["gross_pnl"]) > _EPS:
                    problems.append(f"position {row['id']}: fills realise {row['r']}, position says "
                                    f"{row['gross_pnl']}")
            per_position_funding = q("SELECT p.id FROM positions p LEFT JOIN funding f ON f.position_id = p.id "
                                     "GROUP BY p.id HAVING ABS(p.funding - COALESCE(SUM(f.amount), 0)) > ?",
                                     (_EPS,)).fetchall()
            problems += [f"position {r['id']}: funding total differs from its funding rows"
                         for r in per_position_funding]
            doubled = q("SELECT client_id FROM orders WHERE purpose = 'entry' AND status = 'filled' AND client_id IN "
                        "(SELECT client_id FROM positions GROUP BY client_id HAVING COUNT(*) > 1)").fetchall()
            problems += [f"entry {r['client_id']} opened more than one position" for r in doubled]
        return problems
