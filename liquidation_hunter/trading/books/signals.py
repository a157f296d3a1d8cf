"""The signal log: what the strategy said and what the bot did with it."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from liquidation_hunter.trading.books.file import BooksFile

__all__ = ["SignalLog", "SignalRecord"]


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A row of ``signals``: what the strategy said and what the bot did with it."""

    at: int
    symbol: str
    direction: int
    strength: float
    entry: float | None
    stop_loss: float | None
    take_profit: float | None
    level: float | None
    strategy: str
    reason: str
    action: str


_SIGNAL_FIELDS = [f.name for f in fields(SignalRecord)]
_SIGNAL_COLUMNS = ", ".join(_SIGNAL_FIELDS)


class SignalLog(BooksFile):
    """The ``signals`` table."""

    def record_signal(self, record: SignalRecord) -> None:
        with self._write() as db:
            db.execute(f"INSERT INTO signals({_SIGNAL_COLUMNS}) VALUES ({', '.join('?' * len(_SIGNAL_FIELDS))})",
                       astuple(record))

    def recent_signals(self, limit: int = 10) -> list[SignalRecord]:
        return [SignalRecord(*r) for r in self._rows(
            f"SELECT {_SIGNAL_COLUMNS} FROM signals ORDER BY at DESC, id DESC LIMIT ?", (limit,))]
