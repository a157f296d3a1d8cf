"""The books on their own, on real SQLite files: arithmetic against hand-computed numbers, idempotency,
persistence, the control values, readers in another connection, and the audit after random histories."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liquidation_hunter.trading.books import Books, BooksError, SignalRecord
from liquidation_hunter.trading.model import EntryOrder, Position

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
T = 1_737_961_200_000  # 2025-01-27T07:00:00Z
START = 10_000.0
SHM = Path("/dev/shm")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "books.sqlite"


@pytest.fixture
def books(path: Path) -> Iterator[Books]:
    with Books.open(path, starting_wallet=START, now_ms=T) as b:
        yield b


def order(client_id: str = "o1", *, symbol: str = BTC, direction: int = 1, leverage: int = 5) -> EntryOrder:
    return EntryOrder(client_id=client_id, symbol=symbol, direction=direction, quantity=0.1,
                      reference_price=50_000.0, stop_loss=49_000.0 if direction > 0 else 51_000.0,
                      take_profit=52_000.0 if direction > 0 else 48_000.0, leverage=leverage, created_at=T,
                      strategy="test", reason="cluster")


def enter(books: Books, entry: EntryOrder | None = None, *, price: float = 50_010.0, quantity: float = 0.1,
          fee: float = 2.5005, now: int = T) -> Position:
    position = books.record_entry(entry or order(), quantity=quantity, fill_price=price, fee=fee,
                                  liquidation_price=40_000.0, now_ms=now)
    assert position is not None
    return position


# ------------------------------------------------------------------ arithmetic


def test_new_books_hold_the_starting_wallet(books: Books) -> None:
    assert (books.mode, books.starting_wallet, books.wallet()) == ("paper", START, START)
    state = books.account({}, T)
    assert (state.wallet, state.margin, state.unrealized, state.positions, state.available, state.equity) == (
        START, 0, 0, 0, START, START)
    assert books.audit() == []


def test_entry_golden(books: Books) -> None:
    position = enter(books)
    assert position == Position(id=1, client_id="o1", symbol=BTC, direction=1, quantity=0.1, entry_price=50_010.0,
                                leverage=5, margin=pytest.approx(1000.2, rel=1e-12),
                                stop_loss=49_000.0, take_profit=52_000.0, liquidation_price=40_000.0, opened_at=T,
                                entry_fee=2.5005, funding=0.0, strategy="test")
    assert books.wallet() == pytest.approx(9_997.4995, rel=1e-15)
    state = books.account({BTC: 50_510.0}, T + 1)
    assert state.unrealized == pytest.approx(50.0, rel=1e-9)
    assert state.available == pytest.approx(9_997.4995 - 1000.2, rel=1e-12)
    assert state.equity == pytest.approx(10_047.4995, rel=1e-12)
    assert books.account({}, T).unrealized == 0.0  # no price: valued at the entry
    entry = books.order("o1")
    assert entry is not None
    assert (entry.purpose, entry.status, entry.side, entry.position_id, entry.quantity, entry.price) == (
        "entry", "filled", "buy", 1, 0.1, 50_000.0)


@pytest.mark.parametrize(("direction", "exit_price", "gross"), [(1, 51_000.0, 99.0), (-1, 51_000.0, -99.0),
                                                                 (1, 49_510.0, -50.0), (-1, 49_510.0, 50.0)])
def test_exit_golden(books: Books, direction: int, exit_price: float, gross: float) -> None:
    position = enter(books, order(direction=direction))
    trade = books.record_exit(position.id, client_id="o1-x", exit_price=exit_price, fee=2.55, reason="manual",
                              now_ms=T + 60_000)
    assert trade is not None
    assert trade.gross_pnl == pytest.approx(gross, rel=1e-9)
    assert trade.net_pnl == pytest.approx(gross - 2.5005 - 2.55, rel=1e-9)
    assert books.wallet() == pytest.approx(START + gross - 2.5005 - 2.55, rel=1e-12)
    assert books.closed_trades() == [trade]
    assert books.last_exit_at(BTC) == T + 60_000 and books.last_exit_at(ETH) is None
    exit_order = books.order("o1-x")
    assert exit_order is not None
    assert (exit_order.purpose, exit_order.side, exit_order.reduce_only) == (
        "manual", "sell" if direction > 0 else "buy", True)
    assert books.account({BTC: 1.0}, T).margin == 0 and books.audit() == []


def test_liquidation_loses_at_most_the_margin(books: Books) -> None:
    position = enter(books)
    trade = books.record_exit(position.id, client_id="o1-x", exit_price=30_000.0, fee=1.0, reason="liquidation",
                              now_ms=T + 1)
    assert trade is not None and trade.gross_pnl == pytest.approx(-1000.2, rel=1e-12)
    assert books.wallet() == pytest.approx(START - 1000.2 - 2.5005 - 1.0, rel=1e-12)
    assert books.audit() == []


def test_funding_golden_and_once_per_time(books: Books) -> None:
    position = enter(books)
    eight = T + 3_600_000
    assert books.record_funding(position.id, rate=0.0001, amount=-0.5, at=eight)
    assert not books.record_funding(position.id, rate=0.0001, amount=-0.5, at=eight)  # the same time again
    assert books.record_funding(position.id, rate=-0.0002, amount=1.0, at=eight + 8 * 3_600_000)
    assert books.open_positions()[0].funding == pytest.approx(0.5)
    assert books.wallet() == pytest.approx(START - 2.5005 + 0.5, rel=1e-12)
    assert books.realized_since(eight) == pytest.approx(0.5) and books.realized_since(T) == pytest.approx(-2.0005)
    trade = books.record_exit(position.id, client_id="o1-x", exit_price=50_010.0, fee=0.0, reason="manual",
                              now_ms=T + 86_400_000)
    assert trade is not None and trade.net_pnl == pytest.approx(-2.0005)
    assert not books.record_funding(position.id, rate=0.0001, amount=-0.5, at=T + 86_400_000)  # closed
    assert books.audit() == []


def test_adjustments(books: Books) -> None:
    enter(books)
    books.record_adjustment(-3.25, now_ms=T, note="exchange wallet")
    assert books.wallet() == pytest.approx(START - 2.5005 - 3.25, rel=1e-12)
    assert books.audit() == []
    with pytest.raises(BooksError, match="finite"):
        books.record_adjustment(float("nan"), now_ms=T, note="bad")


# ------------------------------------------------------------------ idempotency, one position per symbol


def test_same_client_id_twice_is_one_position(books: Books) -> None:
    enter(books)
    assert books.record_entry(order(), quantity=0.2, fill_price=1.0, fee=9.0, liquidation_price=0.5,
                              now_ms=T + 1) is None
    assert [p.client_id for p in books.open_positions()] == ["o1"]
    assert books.wallet() == pytest.approx(START - 2.5005, rel=1e-15)
    position = books.open_positions()[0]
    assert books.record_exit(position.id, client_id="o1-x", exit_price=50_000.0, fee=1.0, reason="manual",
                             now_ms=T + 2) is not None
    assert books.record_exit(position.id, client_id="o1-x", exit_price=40_000.0, fee=1.0, reason="manual",
                             now_ms=T + 3) is None  # no double exit
    assert books.record_entry(order(), quantity=0.1, fill_price=50_000.0, fee=0.0, liquidation_price=1.0,
                              now_ms=T + 4) is None  # closed, still not a second time
    assert len(books.closed_trades()) == 1 and books.open_positions() == []
    assert books.audit() == []


def test_one_open_position_per_symbol(books: Books) -> None:
    first = enter(books)
    assert books.record_entry(order("o2", direction=-1), quantity=0.1, fill_price=50_000.0, fee=0.0,
                              liquidation_price=60_000.0, now_ms=T) is None
    assert books.order("o2") is None  # nothing written
    assert enter(books, order("o3", symbol=ETH)).symbol == ETH
    books.record_exit(first.id, client_id="o1-x", exit_price=50_000.0, fee=0.0, reason="manual", now_ms=T + 1)
    assert enter(books, order("o2", direction=-1)).direction == -1
    assert sorted(p.client_id for p in books.open_positions()) == ["o2", "o3"]


def test_bad_numbers_are_refused(books: Books) -> None:
    with pytest.raises(BooksError, match="finite"):
        books.record_entry(order(), quantity=float("nan"), fill_price=1.0, fee=0.0, liquidation_price=0.0,
                           now_ms=T)
    with pytest.raises(BooksError, match="> 0"):
        books.record_entry(order(), quantity=0.0, fill_price=1.0, fee=0.0, liquidation_price=0.0, now_ms=T)
    position = enter(books)
    with pytest.raises(BooksError, match="finite"):
        books.record_funding(position.id, rate=0.0, amount=float("inf"), at=T)
    assert books.audit() == [] and len(books.orders()) == 1


def test_orders_and_signals_round_trip(books: Books) -> None:
    assert books.record_order(client_id="c1", symbol=BTC, side="sell", type="stop_market", purpose="stop_loss",
                              quantity=0.1, now_ms=T, price=49_000.0, reduce_only=True)
    assert not books.record_order(client_id="c1", symbol=BTC, side="sell", type="market", purpose="x",
                                  quantity=1.0, now_ms=T)
    books.update_order("c1", status="open", now_ms=T + 1, exchange_id="123")
    books.update_order("c1", status="canceled", now_ms=T + 2, error="expired")
    record = books.order("c1")
    assert record is not None
    assert (record.status, record.exchange_id, record.error, record.updated_at, record.reduce_only) == (
        "canceled", "123", "expired", T + 2, True)
    assert [o.client_id for o in books.orders(status="canceled")] == ["c1"]
    assert books.orders(purpose="entry") == []
    signals = [SignalRecord(at=T + i, symbol=BTC, direction=1, strength=0.5 + i / 10, entry=50_000.0,
                            stop_loss=None, take_profit=None, level=49_000.0, strategy="s", reason="r",
                            action=f"a{i}") for i in range(3)]
    for s in signals:
        books.record_signal(s)
    assert books.recent_signals(2) == [signals[2], signals[1]]


# ------------------------------------------------------------------ persistence and control


def test_reopening_keeps_everything(path: Path) -> None:
    with Books.open(path, starting_wallet=START, now_ms=T) as books:
        closed = enter(books, order("a"))
        kept = enter(books, order("b", symbol=ETH), price=3_000.0, quantity=1.0, fee=1.5)
        books.record_funding(kept.id, rate=0.0001, amount=-0.3, at=T + 3_600_000)
        trade = books.record_exit(closed.id, client_id="a-x", exit_price=50_500.0, fee=2.0, reason="take_profit",
                                  now_ms=T + 5)
        books.set_halt("daily loss", T + 6)
        books.snapshot(books.account({ETH: 3_100.0}, T + 7))
        wallet = books.wallet()
    with Books.open(path, starting_wallet=1.0, now_ms=T + 10) as books:  # an existing file keeps its wallet
        assert books.wallet() == wallet and books.starting_wallet == START
        assert books.closed_trades() == [trade]
        [position] = books.open_positions()
        assert position.client_id == "b" and position.funding == pytest.approx(-0.3)
        assert books.halt_reason() == "daily loss"
        assert books.peak_equity() == pytest.approx(wallet + 100.0)
        assert [s.at for s in books.snapshots()] == [T + 7]
        assert books.audit() == []


def test_paper_books_are_not_live_books(path: Path) -> None:
    Books.open(path, starting_wallet=START).close()
    with pytest.raises(BooksError, match="belong to a paper bot, not live"):
        Books.open(path, mode="live")
    with Books.open(path) as books:
        assert books.mode == "paper"


@pytest.mark.parametrize("wallet", [None, 0.0, -5.0])
def test_new_books_need_a_starting_wallet(path: Path, wallet: float | None) -> None:
    with pytest.raises(BooksError, match="starting wallet"):
        Books.open(path, starting_wallet=wallet)


def test_newer_schema_is_refused(path: Path) -> None:
    Books.open(path, starting_wallet=START).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(BooksError, match="newer version"):
        Books.open(path)


def test_halt_and_resume(books: Books) -> None:
    assert books.halt_reason() is None
    books.set_halt("max drawdown 20 %", T)
    books.set_halt("daily loss 5 %", T + 1)
    assert books.halt_reason() == "daily loss 5 %"
    books.set_halt(None, T + 2)
    assert books.halt_reason() is None
    books.set_halt(None, T + 3)  # resuming twice is harmless
    assert books.halt_reason() is None


def test_health_round_trip(books: Books) -> None:
    assert books.health() is None
    books.set_health({"stream": "connected", "events": 12, "lag_ms": 3.5}, T)
    books.set_health({"stream": "reconnecting", "events": 15, "since": T}, T + 5_000)
    assert books.health() == ({"stream": "reconnecting", "events": 15, "since": T}, T + 5_000)


def test_day_start_equity_is_the_first_value_of_the_day(books: Books) -> None:
    assert books.day_start_equity("2025-01-27", 10_000.0, T) == 10_000.0
    assert books.day_start_equity("2025-01-27", 9_500.0, T + 1) == 10_000.0
    assert books.day_start_equity("2025-01-28", 9_400.0, T + 86_400_000) == 9_400.0
    assert books.day_start_equity("2025-01-28", 9_000.0, T + 86_400_001) == 9_400.0
    with sqlite3.connect(books.path) as db:  # only the current day is kept
        assert db.execute("SELECT key FROM control WHERE key LIKE 'day_start:%'").fetchall() == [
            ("day_start:2025-01-28",)]


def test_peak_equity_only_rises(books: Books) -> None:
    assert books.peak_equity() is None
    position = enter(books)
    for at, price in ((T, 50_010.0), (T + 1, 51_010.0), (T + 2, 49_010.0)):
        books.snapshot(books.account({BTC: price}, at))
    assert books.peak_equity() == pytest.approx(START - 2.5005 + 100.0, rel=1e-12)
    assert [round(s.equity, 4) for s in books.snapshots(since_ms=T + 1)] == [10_097.4995, 9_897.4995]
    assert position.id == 1


# ------------------------------------------------------------------ readers


def test_readonly_sees_what_a_running_writer_committed(path: Path) -> None:
    with pytest.raises(BooksError, match="no books yet"):
        Books.open_readonly(path)
    with Books.open(path, starting_wallet=START, now_ms=T) as writer:
        reader = Books.open_readonly(path)
        try:
            assert reader.wallet() == START and reader.open_positions() == []
            position = enter(writer)
            writer.set_health({"stream": "ok"}, T + 1)
            assert reader.open_positions() == [position]
            assert reader.health() == ({"stream": "ok"}, T + 1)
            assert reader.wallet() == writer.wallet()
            with closing(sqlite3.connect(path, isolation_level=None)) as raw:  # a transaction not yet committed
                raw.execute("BEGIN IMMEDIATE")
                raw.execute("INSERT INTO ledger(at, kind, amount) VALUES (?, 'adjustment', 1000.0)", (T,))
                assert reader.wallet() == writer.wallet() == START - 2.5005
                raw.execute("ROLLBACK")
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                reader.set_halt("nope", T)
            assert reader.audit() == []
        finally:
            reader.close()


def test_a_reader_sees_one_commit_even_while_the_writer_commits(path: Path) -> None:
    """``account`` and ``audit`` read several tables; a commit of the bot between those reads must not
    show a state that never was (the bug this test was written for: 1000 of equity went missing)."""
    with Books.open(path, starting_wallet=1_000.0, now_ms=T) as writer:
        position = writer.record_entry(EntryOrder("a", BTC, 1, 1.0, 100.0, 90.0, 120.0, 2, T), quantity=1.0,
                                       fill_price=100.0, fee=0.0, liquidation_price=50.0, now_ms=T)
        assert position is not None
        reader = Books.open_readonly(path)
        try:
            def commit_between(trigger: str, client_id: str, pid: int) -> None:
                def trace(sql: str) -> None:
                    if trigger in sql and not fired:
                        fired.append(sql)
                        writer.record_exit(pid, client_id=client_id, exit_price=150.0, fee=0.0, reason="manual",
                                           now_ms=T + 1)
                fired: list[str] = []
                reader._db.set_trace_callback(trace)

            commit_between("FROM positions", "a-x", position.id)
            assert reader.account({BTC: 150.0}, T + 2).equity == 1_050.0  # before or after the exit, both 1050
            assert reader.account({BTC: 150.0}, T + 2).equity == 1_050.0
            second = enter(writer, order("b", symbol=ETH), price=100.0, quantity=1.0, fee=0.0)
            commit_between("FROM funding", "b-x", second.id)
            assert reader.audit() == []
            assert reader.audit() == []
        finally:
            reader.close()


# ------------------------------------------------------------------ random histories


OPERATION = st.one_of(
    st.tuples(st.just("enter"), st.sampled_from([BTC, ETH, SOL]), st.sampled_from([1, -1]),
              st.floats(0.001, 5.0), st.floats(1.0, 100_000.0), st.integers(1, 50), st.floats(0.0, 5.0)),
    st.tuples(st.just("exit"), st.integers(0, 10), st.floats(0.01, 200_000.0), st.floats(0.0, 5.0),
              st.sampled_from(["manual", "stop_loss", "liquidation"])),
    st.tuples(st.just("funding"), st.integers(0, 10), st.floats(-0.003, 0.003), st.integers(0, 5)),
    st.tuples(st.just("replay"), st.integers(0, 10)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(OPERATION, max_size=25),
       prices=st.fixed_dictionaries({BTC: st.floats(1.0, 200_000.0), ETH: st.floats(1.0, 200_000.0)}))
def test_random_histories_balance(operations: list[tuple[Any, ...]], prices: dict[str, float]) -> None:
    """Whatever happened, the audit is clean, the account adds up, and the equity is what the trades made."""
    with tempfile.TemporaryDirectory(dir=SHM if SHM.is_dir() else None) as tmp, \
            Books.open(Path(tmp) / "books.sqlite", starting_wallet=START, now_ms=T) as books:
        now, entries, recorded = T, 0, []
        for op in operations:
            now += 1_000
            if op[0] == "enter":
                _, symbol, direction, quantity, price, leverage, fee = op
                entry = EntryOrder(f"c{entries}", str(symbol), int(direction), float(quantity),
                                   float(price), 0.0, 0.0, int(leverage), now)
                entries += 1
                busy = any(p.symbol == symbol for p in books.open_positions())
                position = books.record_entry(entry, quantity=entry.quantity, fill_price=entry.reference_price,
                                              fee=fee, liquidation_price=1.0, now_ms=now)
                assert (position is None) == busy
                if position is not None:
                    recorded.append(position.client_id)
            elif op[0] == "replay" and recorded:
                _, k = op
                again = EntryOrder(recorded[k % len(recorded)], SOL, 1, 1.0, 1.0, 0.0, 0.0, 1, now)
                assert books.record_entry(again, quantity=1.0, fill_price=1.0, fee=0.0, liquidation_price=0.0,
                                          now_ms=now) is None
            elif op[0] == "exit" and books.open_positions():
                _, k, price, fee, reason = op
                positions = books.open_positions()
                target = positions[int(k) % len(positions)]
                assert books.record_exit(target.id, client_id=f"{target.client_id}-x", exit_price=float(price),
                                         fee=float(fee), reason=reason, now_ms=now) is not None
            elif op[0] == "funding" and books.open_positions():
                _, k, amount, period = op
                positions = books.open_positions()
                target = positions[int(k) % len(positions)]
                books.record_funding(target.id, rate=0.0001, amount=float(amount), at=T + int(period) * 28_800_000)
        assert books.audit() == []
        assert sorted(p.client_id for p in [*books.open_positions(), *(t.position for t in books.closed_trades())]) \
            == sorted(recorded)
        state = books.account(prices, now)
        assert state.available + state.margin + state.unrealized == pytest.approx(state.equity, abs=1e-6)
        open_positions = books.open_positions()
        assert len({p.symbol for p in open_positions}) == len(open_positions) == state.positions
        closed = books.closed_trades()
        assert all(t.gross_pnl >= -t.position.margin - 1e-9 for t in closed if t.reason == "liquidation")
        made = sum(t.net_pnl for t in closed) + sum(
            p.unrealized(prices.get(p.symbol, p.entry_price)) - p.entry_fee + p.funding for p in open_positions)
        assert state.equity == pytest.approx(START + made, abs=1e-6)
        assert state.margin == pytest.approx(sum(p.quantity * p.entry_price / p.leverage for p in open_positions))


def test_readonly_books_of_an_older_version_have_no_transfers_nor_requests(path: Path) -> None:
    with Books.open(path, starting_wallet=START, now_ms=T) as writer:
        writer.record_transfer(START + 50.0, now_ms=T + 1)
        writer.request_control("flatten", None, T + 2)
    reader = Books.open_readonly(path)
    try:
        assert [t.amount for t in reader.transfers()] == [50.0]
        assert [c.kind for c in reader.control_requests()] == ["flatten"]
    finally:
        reader.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:  # as a version before these tables left it
        raw.execute("DROP TABLE transfers")
        raw.execute("DROP TABLE control_requests")
    reader = Books.open_readonly(path)
    try:
        assert reader.transfers() == [] and reader.control_requests(pending=True) == []
    finally:
        reader.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:  # tables there but unreadable
        raw.execute("CREATE VIEW transfers AS SELECT broken(amount) FROM ledger")
        raw.execute("CREATE VIEW control_requests AS SELECT broken(amount) FROM ledger")
    reader = Books.open_readonly(path)
    try:  # any other failure is raised, not taken for an older file
        with pytest.raises(sqlite3.OperationalError, match="no such function"):
            reader.transfers()
        with pytest.raises(sqlite3.OperationalError, match="no such function"):
            reader.control_requests()
    finally:
        reader.close()
