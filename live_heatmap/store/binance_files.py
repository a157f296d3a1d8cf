"""Binance's recorded files, read for :func:`~live_heatmap.store.history.load_events`: raw ``forceOrder`` frames
(one JSON object a line), the flat normalized CSV, and the former ``liquidationSnapshot`` archive CSV (COIN-M
archives refused). Every row goes through :func:`~live_heatmap.wire.events.parse_force_order`, so the parser's
rules (the ``ap`` fallback, the checks) apply as is."""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from live_heatmap.common.symbols import symbol_key
from live_heatmap.store.file_rows import parsed_rows
from live_heatmap.wire.events import FrameRejected, LiquidationEvent, RejectReason, parse_force_order

__all__ = ["SNAPSHOT_COLUMNS", "SnapshotSymbolError"]

SNAPSHOT_COLUMNS = ("time", "side", "order_type", "time_in_force", "original_quantity", "price", "average_price",
                    "order_status", "last_fill_quantity", "accumulated_fill_quantity")
_SNAPSHOT_TO_WIRE = {"time": "T", "side": "S", "order_type": "o", "time_in_force": "f", "original_quantity": "q",
                     "price": "p", "average_price": "ap", "order_status": "X", "last_fill_quantity": "l",
                     "accumulated_fill_quantity": "z"}
NORMALIZED_NEEDS = ("T", "s", "S", "p", "ap", "q", "z")
_WIRE_KEYS = ("s", "S", "o", "f", "q", "p", "ap", "X", "l", "z")
_MISSING = {"", "None", "none", "null", "NULL", "nan", "NaN"}
_SNAPSHOT_NAME = re.compile(r"(?P<symbol>[A-Za-z0-9_]+)-liquidationSnapshot-\d{4}-\d{2}-\d{2}")
_COIN_M_ID = re.compile(r"^[A-Z0-9]+USD(?:_PERP|_\d{6})?$")  # BTCUSD_PERP, BTCUSD_230630, ETHUSD
_CONTRACTS_ABOVE = 1_000.0  # a USD-M archive of a coin priced above this holds fractional quantities


class SnapshotSymbolError(ValueError):
    """A ``liquidationSnapshot`` file whose symbol is missing or not a USD-M contract (a COIN-M archive counts
    contracts, not coins). ``str()`` names the Python argument (``symbol=``); :meth:`naming` names another
    (the command line's ``--file-symbol ``)."""

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(self.naming("symbol="))

    def naming(self, option: str) -> str:
        """The message with ``option`` (``symbol=``, ``--file-symbol ``) as the way to give the file's symbol."""
        return self.template.format(option=option)


def read_frames(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    return parsed_rows((line for line in text if line.strip()), parse_force_order, rejected)


def _frame(order: dict[str, Any], time_text: str) -> dict[str, Any]:
    """A ``forceOrder`` payload from one row's fields, so the parser's rules (fallback, checks) apply as is."""
    try:
        t: Any = int(time_text)
    except ValueError:
        t = time_text  # the parser rejects it as bad_timestamp
    order["T"] = t
    return {"e": "forceOrder", "E": t, "o": order}


def read_normalized(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    rows = csv.reader(text)
    header = next(rows)
    index = {name.strip(): i for i, name in enumerate(header)}
    columns = [(key, index[key]) for key in _WIRE_KEYS if key in index]
    at = index["T"]
    parse, missing = parse_force_order, _MISSING
    for row in rows:
        if not row:
            continue
        try:
            order = {key: row[i] for key, i in columns if row[i] not in missing}
            yield parse(_frame(order, row[at]))
        except FrameRejected as exc:
            rejected[exc.reason.value] += 1
        except IndexError:
            rejected[RejectReason.MISSING_FIELD.value] += 1


def snapshot_events(path: str, text: IO[str], rejected: Counter[str], symbol: str | None) -> list[LiquidationEvent]:
    """The events of a ``liquidationSnapshot`` file, refused when the file is a COIN-M archive."""
    where = path.replace("{", "{{").replace("}", "}}")  # the message is a template
    if symbol is not None:
        given, how = symbol_key(symbol), "{option}" + symbol.replace("{", "{{").replace("}", "}}")
    else:
        match = _SNAPSHOT_NAME.search(Path(path).name)
        if match is None:
            raise SnapshotSymbolError(
                f"{where}: a liquidationSnapshot file does not name its symbol in its rows: give its USD-M symbol "
                "({option}BTCUSDT) or keep Binance's file name (BTCUSDT-liquidationSnapshot-2023-06-25.csv)")
        given, how = match["symbol"].upper(), f"its file name ({match['symbol'].upper()})"
    if _COIN_M_ID.match(given):
        raise SnapshotSymbolError(
            f"{where}: {how} is a COIN-M contract, whose quantities are contracts (100 USD each for BTC, 10 USD "
            "for the others), not coins; only USD-M liquidations (USDT or USDC margined) are read")
    events = list(_read_snapshot(text, rejected, given))
    if events and all(e.quantity.is_integer() and e.price > _CONTRACTS_ABOVE for e in events):
        first = events[0]
        raise SnapshotSymbolError(
            f"{where}: every quantity is a whole number at prices above {_CONTRACTS_ABOVE:,.0f} ({first.quantity:g} "
            f"at {first.price:g}): a COIN-M archive, counting contracts (100 USD each for BTC), not coins, "
            f"whatever {how} says; only USD-M liquidations (USDT or USDC margined) are read")
    return events


def _read_snapshot(text: IO[str], rejected: Counter[str], symbol: str) -> Iterator[LiquidationEvent]:
    keys = [_SNAPSHOT_TO_WIRE[c] for c in SNAPSHOT_COLUMNS]

    def parse(row: list[str]) -> LiquidationEvent:
        if len(row) != len(keys):
            raise FrameRejected(RejectReason.MISSING_FIELD, f"{len(row)} columns")
        order = {key: value for key, value in zip(keys, row, strict=True) if value not in _MISSING}
        order["s"] = symbol
        return parse_force_order(_frame(order, row[0]))

    # the header is skipped (some archives have none)
    return parsed_rows((row for row in csv.reader(text) if row and row[0] != "time"), parse, rejected)


