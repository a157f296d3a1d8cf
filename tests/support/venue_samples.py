"""The Bybit and OKX sample messages in ``data/`` and an instruments table for them (tests of the parsers)."""

from __future__ import annotations

from pathlib import Path

from live_heatmap.common.instruments import Instrument, Instruments
from live_heatmap.venue import Venue

__all__ = ["BYBIT_CONTROL", "BYBIT_DOC", "DATA", "OKX_DOC", "OKX_INSTRUMENTS", "OKX_RECORDED", "OKX_SUBSCRIBE",
           "THREE_VENUES", "three_venues"]

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

