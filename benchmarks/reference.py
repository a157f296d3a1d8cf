"""Plain reference implementations of the specification in docs/INTERNALS.md, for the benchmarks.

Written the obvious way (a per-event Python loop, and pandas groupby) so the
project's vectorised code can be timed against them and checked against them.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import deque
from typing import Any

SIDES = {"SELL": "long", "BUY": "short"}


def ingest_python_loop(lines: list[bytes], maxlen: int = 10_000) -> dict[str, deque[dict[str, Any]]]:
    """json.loads + per-field checks + a deque of dicts per symbol + a dedupe set."""
    windows: dict[str, deque[dict[str, Any]]] = {}
    seen: set[tuple[Any, ...]] = set()
    for line in lines:
        try:
            frame = json.loads(line)
            o = frame.get("data", frame)["o"]
            price = float(o.get("ap") or 0) or float(o["p"])
            qty = float(o.get("z") or 0) or float(o["q"])
            side = SIDES[o["S"]]
            t = int(o["T"])
        except (ValueError, KeyError, TypeError):
            continue
        if not (price > 0 and qty > 0 and math.isfinite(price) and math.isfinite(qty)):
            continue
        key = (o["s"], t, side, qty, price)
        if key in seen:
            continue
        seen.add(key)
        windows.setdefault(o["s"], deque(maxlen=maxlen)).append(
            {"price": price, "qty": qty, "time": t, "side": side})
    return windows


def ingest_pandas(lines: list[bytes]) -> Any:
    """One DataFrame from the frames, bad rows dropped, duplicates dropped."""
    import pandas as pd

    frame = pd.json_normalize([json.loads(line) for line in lines])
    out = pd.DataFrame({
        "symbol": frame["o.s"],
        "side": frame["o.S"].map(SIDES),
        "price": pd.to_numeric(frame["o.ap"], errors="coerce"),
        "qty": pd.to_numeric(frame["o.z"], errors="coerce"),
        "time": frame["o.T"],
    })
    out = out[(out.price > 0) & (out.qty > 0)].dropna()
    return out.drop_duplicates(["symbol", "time", "side", "qty", "price"])


def split_widest_gap(prices: list[float], window: float) -> list[int]:
    """Sizes of the groups of ascending ``prices``: cut at the widest gap while wider than the window."""
    if prices[-1] <= prices[0] * (1 + window):
        return [len(prices)]
    ratios = [b / a for a, b in itertools.pairwise(prices)]
    cut = ratios.index(max(ratios)) + 1
    return split_widest_gap(prices[:cut], window) + split_widest_gap(prices[cut:], window)


def _reference(notionals: list[float], floor: float, multiple: float) -> float:
    ordered = sorted(notionals)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return max(floor, multiple * median)


def clusters_python_loop(events: list[tuple[float, float, int, str]], now: int, *, window: float = 0.02,
                         min_size: int = 5, tau_min: float = 60.0, horizon_min: float = 180.0,
                         floor: float = 10_000.0, multiple: float = 10.0,
                         count_weight: float = 0.25) -> list[dict[str, Any]]:
    """The whole specification, one event at a time. ``events``: (price, qty, trade_time_ms, side)."""
    live = [e for e in events if -60_000 <= now - e[2] <= horizon_min * 60_000]
    if not live:
        return []
    reference = _reference([p * q for p, q, _, _ in live], floor, multiple)
    out: list[dict[str, Any]] = []
    for side in ("long", "short"):
        rows = sorted((e for e in live if e[3] == side), key=lambda e: e[0])
        if len(rows) < min_size:
            continue
        start = 0
        for size in split_widest_gap([r[0] for r in rows], window):
            group = rows[start:start + size]
            start += size
            if size < min_size:
                continue
            w_sum = wp_sum = decay_sum = notional = 0.0
            for price, qty, t, _ in group:
                decay = math.exp(-max(now - t, 0) / (tau_min * 60_000))
                w = price * qty * decay
                w_sum += w
                wp_sum += w * price
                decay_sum += decay
                notional += price * qty
            strength = ((1 - math.exp(-w_sum / reference)) ** (1 - count_weight)
                        * (1 - math.exp(-decay_sum / min_size)) ** count_weight)
            out.append({"side": side, "price_level": wp_sum / w_sum, "count": size, "notional": notional,
                        "weighted": w_sum, "strength": strength})
    out.sort(key=lambda c: -c["strength"])
    return out


def clusters_pandas(frame: Any, now: int, *, window: float = 0.02, min_size: int = 5, tau_min: float = 60.0,
                    horizon_min: float = 180.0, floor: float = 10_000.0, multiple: float = 10.0,
                    count_weight: float = 0.25) -> Any:
    """The same with pandas: columns price, qty, time, side; groupby for the sums."""
    import numpy as np

    age = now - frame["time"]
    df = frame[(age <= horizon_min * 60_000) & (age >= -60_000)].copy()
    df["notional"] = df["price"] * df["qty"]
    df["decay"] = np.exp(-np.maximum(now - df["time"], 0) / (tau_min * 60_000))
    df["w"] = df["notional"] * df["decay"]
    df["wp"] = df["w"] * df["price"]
    reference = max(floor, multiple * float(df["notional"].median()))
    df = df.sort_values(["side", "price"], kind="stable")
    labels = []
    for _, prices in df.groupby("side", sort=True)["price"]:
        for label, size in enumerate(split_widest_gap(prices.tolist(), window)):
            labels.extend([label] * size)
    df["cluster"] = labels
    agg = df.groupby(["side", "cluster"]).agg(count=("price", "size"), w=("w", "sum"), wp=("wp", "sum"),
                                              decay=("decay", "sum"), notional=("notional", "sum"))
    agg = agg[agg["count"] >= min_size]
    agg["price_level"] = agg["wp"] / agg["w"]
    agg["strength"] = ((-np.expm1(-agg["w"] / reference)) ** (1 - count_weight)
                       * (-np.expm1(-agg["decay"] / min_size)) ** count_weight)
    return agg.sort_values("strength", ascending=False)
