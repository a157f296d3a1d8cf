"""A synthetic Binance depth recording in the recorded fixture's format (``data/orderbook``): one REST snapshot line
then ``depth@100ms`` diffs with an unbroken ``pu`` chain, for the backtest on recorded depth (issue 15)."""

from __future__ import annotations

from pathlib import Path

import orjson
from liquidity_books import STEP


def write_depth_recording(path: Path, symbol: str, mid: float, walls: list[tuple[str, float]], *, start_ms: int,
                          end_ms: int, every_ms: int = 10_000, level_notional: float = 40_000.0) -> Path:
    """An even book of 400 levels a side around ``mid`` (levels every 0.01 %), each ``(side, price)`` of ``walls``
    a level forty times the others, standing from ``start_ms`` to ``end_ms``; a snapshot at ``start_ms`` and an
    empty diff every ``every_ms`` (the book does not change; the chain goes on)."""
    bids = [[mid * (1 - STEP * k), level_notional / (mid * (1 - STEP * k))] for k in range(1, 401)]
    asks = [[mid * (1 + STEP * k), level_notional / (mid * (1 + STEP * k))] for k in range(1, 401)]
    for side, price in walls:
        rows = bids if side == "bid" else asks
        row = min(rows, key=lambda r: abs(r[0] - price))
        row[1] *= 40
    update_id = 1000
    lines = [f"https://fapi.binance.com/fapi/v1/depth?symbol={symbol}&limit=1000 -> {start_ms / 1000}: "
             + orjson.dumps({"lastUpdateId": update_id, "E": start_ms, "T": start_ms,
                             "bids": [[f"{p:.2f}", f"{q:.6f}"] for p, q in bids],
                             "asks": [[f"{p:.2f}", f"{q:.6f}"] for p, q in asks]}).decode()]
    previous = update_id - 5
    for at in range(start_ms + 100, end_ms + 1, every_ms):
        first, last = previous + 1, previous + 10
        lines.append(orjson.dumps({"recv_ts": at / 1000, "stream": f"{symbol.lower()}@depth@100ms", "data": {
            "e": "depthUpdate", "E": at, "T": at, "s": symbol, "U": first, "u": last, "pu": previous,
            "b": [], "a": []}}).decode())
        previous = last
    path.write_text("\n".join(lines) + "\n")
    return path
