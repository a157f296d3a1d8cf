"""``Side``: the side of a liquidated position, the one type every layer uses for it.

Binance's ``o.S`` (``SELL``/``BUY``, the side of the liquidation *order*) becomes a :class:`Side` once, in the
parser (:data:`Side.of_wire`); arrays store :attr:`Side.code`; a position's direction (+1 long, -1 short)
converts with :meth:`Side.of_direction`. It is a ``str`` whose value is ``"long"`` or ``"short"``: it
compares, hashes, formats and serialises (JSON, SQLite) as that string, so the public JSON is unchanged.
(ccxt's order sides, ``"buy"``/``"sell"``, stay at the ccxt edge.)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SIDES_BY_CODE", "WIRE_SIDES", "Side"]


class Side(StrEnum):
    """The side of a liquidated (or held) position."""

    LONG = "long"
    SHORT = "short"

    @property
    def code(self) -> int:
        """0 (long) or 1 (short): the side in arrays."""
        return 0 if self is Side.LONG else 1

    @property
    def direction(self) -> int:
        """+1 (long) or -1 (short): a position's direction."""
        return 1 if self is Side.LONG else -1

    @classmethod
    def of_direction(cls, direction: int) -> Side:
        """The side of a position of ``direction`` (> 0: long, else short)."""
        return cls.LONG if direction > 0 else cls.SHORT


SIDES_BY_CODE = (Side.LONG, Side.SHORT)
"""``SIDES_BY_CODE[side.code] is side``."""
WIRE_SIDES = {"SELL": Side.LONG, "BUY": Side.SHORT}
"""Binance's ``o.S`` (the liquidation order's side) -> the side of the liquidated position."""
