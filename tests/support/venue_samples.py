"""The Bybit and OKX sample messages in ``data/``, an instruments table for them, and the edited messages the
parsers' property tests feed (tests of the parsers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from live_heatmap.common.instruments import Instrument, Instruments
from live_heatmap.venue import Venue

__all__ = ["BYBIT_CONTROL", "BYBIT_DOC", "DATA", "OKX_DOC", "OKX_INSTRUMENTS", "OKX_RECORDED", "OKX_SUBSCRIBE",
           "THREE_VENUES", "edited_forms", "fuzz_values", "three_venues"]

DATA = Path(__file__).resolve().parents[2] / "data"
BYBIT_DOC = DATA / "bybit" / "bybit_allLiquidation_doc_example.json"
BYBIT_CONTROL = DATA / "bybit" / "bybit_ws_control_messages.jsonl"
OKX_DOC = DATA / "okx" / "okx_liquidation_orders_doc_example.json"
OKX_SUBSCRIBE = DATA / "okx" / "okx_ws_subscribe_request.json"
OKX_RECORDED = DATA / "okx" / "liquidation_orders_frames_2024-01-30.json"
THREE_VENUES = DATA / "single_frames_three_venues.jsonl"

OKX_INSTRUMENTS = Instruments.of(Venue.OKX, 1_791_500_000_000, [
    # BTC-USDT-SWAP: 0.01 BTC a contract, BTC-USD-SWAP: 100 USD a contract (OKX's published ctVal). The others'
    # sizes are this test's table (the parser takes whatever the instruments say; the live table comes from ccxt).
    Instrument(Venue.OKX, "BTC-USDT-SWAP", "BTC/USDT:USDT", "BTCUSDT", 0.01),
    Instrument(Venue.OKX, "BTC-USD-SWAP", "BTC/USD:BTC", "BTC/USD:BTC", 100.0, inverse=True),
    Instrument(Venue.OKX, "ETH-USDT-SWAP", "ETH/USDT:USDT", "ETHUSDT", 0.1),
    Instrument(Venue.OKX, "API3-USDT-SWAP", "API3/USDT:USDT", "API3USDT", 1.0),
    Instrument(Venue.OKX, "SUI-USDT-SWAP", "SUI/USDT:USDT", "SUIUSDT", 1.0),
    Instrument(Venue.OKX, "CELO-USDT-SWAP", "CELO/USDT:USDT", "CELOUSDT", 10.0),
    Instrument(Venue.OKX, "IOST-USDT-SWAP", "IOST/USDT:USDT", "IOSTUSDT", 1000.0),
])


def three_venues() -> list[bytes]:
    """The six single frames; the first three are the 2026-10-09 moment (Binance, Bybit, OKX)."""
    return THREE_VENUES.read_bytes().splitlines()



def fuzz_values(*samples: object) -> st.SearchStrategy[object]:
    """Any JSON-ish value to put in a message: wrong types, numbers past 64 bits, NaN, and ``samples`` (values
    near the venue's real ones)."""
    return st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=8),
                     st.sampled_from(samples), st.lists(st.integers(), max_size=2),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


def edited_forms(frame: Any, edits: list[tuple[str, object]], cut: int) -> tuple[Any, bytes, bytes]:
    """A copy of ``frame`` with each edit (a dotted path, list indexes as digits: the value) made where the path's
    container exists (in a list: its first element is replaced), as a dict, as JSON (``{`` when an int past 64
    bits cannot be encoded) and that JSON cut at ``cut`` bytes."""
    edited = orjson.loads(orjson.dumps(frame))
    for path, value in edits:
        *parents, leaf = path.split(".")
        target = _target(edited, parents)
        if isinstance(target, dict):
            target[leaf] = value
        elif isinstance(target, list) and target:
            target[0] = value
    try:
        raw = orjson.dumps(edited)
    except orjson.JSONEncodeError:
        raw = b"{"
    return edited, raw, raw[:cut]


def _target(frame: Any, parents: list[str]) -> Any:
    """The container at ``parents`` (list indexes as digits), or None when the path is not there."""
    target = frame
    for key in parents:
        if isinstance(target, list):
            target = target[int(key)] if key.isdigit() and int(key) < len(target) else None
        elif isinstance(target, dict):
            target = target.get(key)
        else:
            return None
    return target
