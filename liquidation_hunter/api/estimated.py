"""The answer of ``GET /api/v1/estimated/{symbol}``: one symbol's ESTIMATED liquidation levels (issue 14) as plain
data, from an :class:`~live_heatmap.estimated.layer.EstimatedLayer` (the bot's, or one ``serve --history`` built).

The answer always carries what the layer is (``layer: "estimated"``), its label (the bracket table's date and
whether a validation run called it validated) and the model settings, so that nothing showing it can pass the
estimate for observed liquidations. Errors are :class:`~liquidation_hunter.api.views.ApiError` (404: no layer, or
no levels for the symbol) and :class:`~liquidation_hunter.api.views.ParamError` (a bad ``price``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from liquidation_hunter.api.views import ApiError, bad_param
from live_heatmap import to_unified
from live_heatmap.common.symbols import symbol_key
from live_heatmap.estimated.config import WINDOWS_MS
from live_heatmap.estimated.layer import EstimatedLayer

__all__ = ["NO_LAYER", "estimated_answer", "layer_facts"]

_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,39}")
NO_LAYER = ("this server keeps no estimated layer: run the bot with estimated.enabled: true, or serve a recording "
            "with --history DIR (what fetch-history stores)")
"""The 404's detail without a layer: how to turn it on."""


def _window_name(ms: int) -> str:
    return next((name for name, value in WINDOWS_MS.items() if value == ms), f"{ms} ms")


def layer_facts(layer: EstimatedLayer) -> dict[str, Any]:
    """What the layer is, for every place that shows it: ``label``, ``brackets`` {as_of, source, label} and
    ``validation`` {validated, summary}."""
    return {"layer": "estimated", "label": layer.label,
            "brackets": {"as_of": f"{layer.brackets.as_of:%Y-%m-%d}", "source": layer.brackets.source,
                         "label": layer.brackets.label},
            "validation": {"validated": layer.validation.validated, "summary": layer.validation.summary}}


def estimated_answer(layer: EstimatedLayer | None, symbol: str, price: float | None, now: int) -> dict[str, Any]:
    """The answer for ``symbol`` (``BTCUSDT`` or ``BTC/USDT:USDT``) around ``price`` (default: the symbol's last
    bar's close). Raises ``ApiError`` 404 without a layer or levels for the symbol, ``ParamError`` for a price
    that is not a positive finite number."""
    if layer is None:
        raise ApiError(404, "no estimated layer", NO_LAYER)
    if price is not None and not (math.isfinite(price) and price > 0):
        raise bad_param("price", "a positive number", repr(price))
    try:
        key = symbol_key(symbol) if _SYMBOL.fullmatch(symbol) else ""
    except ValueError:
        key = ""
    with layer.lock:  # the bot's job may be updating the layer
        model = layer.get(key) if key else None
        if model is None or model.last_close is None or model.last_close_time is None:
            kept = ", ".join(list(layer)[:20]) or "none yet"
            raise ApiError(404, "no estimated levels", f"no estimated levels for {symbol[:60]!r} (the layer has: "
                           f"{kept})")
        reference = price if price is not None else model.last_close
        binned = model.binned(reference)
        zones = layer.zones(key, reference)
        distribution = model.leverage_distribution()
        config = model.config
        bars, last_bar_ms = model.bars, model.last_close_time
    try:
        unified = to_unified(key)
    except ValueError:
        unified = key
    return {
        "symbol": key, "unified": unified, **layer_facts(layer), "at": now,
        "price": reference, "price_source": "query" if price is not None else "last_close",
        "range": {"low": float(binned.prices[0]), "high": float(binned.prices[-1]),
                  "range_fraction": config.range_fraction, "bin_width": config.bin_width},
        "levels": {"prices": binned.prices, "long": binned.long, "short": binned.short,
                   "long_outside": binned.long_outside, "short_outside": binned.short_outside},
        "zones": [{"side": z.side, "price_level": z.price_level, "price_low": z.price_low,
                   "price_high": z.price_high, "notional": z.notional, "share": z.share, "strength": z.strength,
                   "distance_from_price": z.distance_from_price} for z in zones],
        "leverage": {"leverages": distribution.leverages, "long": distribution.long, "short": distribution.short},
        "bars": bars, "last_bar_ms": last_bar_ms,
        "model": {"window": _window_name(config.window_ms), "window_ms": config.window_ms,
                  "attribution": config.attribution,
                  "leverage_mix": [[float(lev), float(share)] for lev, share in config.leverage_mix],
                  "max_leverage": config.max_leverage, "maint_margin_ratio": config.maint_margin_ratio},
    }
