"""The estimated layer of many symbols: one :class:`~live_heatmap.estimated.model.EstimatedLevels` per symbol, the
bracket table it was built with, whether a validation called it validated, and its *zones*: the price ranges where
estimated levels pile up, what the API, the page, the picture and the hunter read.

* :class:`EstimatedLayer` -- ``update(symbol, bar)`` with each closed bar (time order per symbol); a symbol's model
  takes its first bracket's maintenance margin ratio and maximum leverage from the table (the config's when the
  table does not list it).
* :func:`zones` -- from binned levels around a price: per side, each maximal run of bins holding at least
  ``min_share`` of the side's heaviest bin is one :class:`EstimatedZone` (its level the notional-weighted mean
  price of the run, its strength its notional over the heaviest zone of either side, 0..1).
* :class:`Validation` -- the verdict shown beside the layer. The layer is "not validated" unless it is given the
  verdict of a validation run (``liquidation-hunter validate-estimated --json``) that said ``validated`` for the
  model.

Thread-safe: :meth:`EstimatedLayer.update` and :meth:`EstimatedLayer.zones` hold :attr:`EstimatedLayer.lock`; a
reader of a symbol's model (``get``) holds it too while it reads (the bot's jobs update the layer while the API
reads it). Pure otherwise: no clock, no I/O; symbols are keyed by their compact id (``BTCUSDT``;
``BTC/USDT:USDT`` is accepted).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from live_heatmap.common.symbols import symbol_key
from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.brackets import BracketTable, shipped_brackets
from live_heatmap.estimated.config import ModelConfig
from live_heatmap.estimated.model import BinnedLevels, EstimatedLevels

__all__ = ["EstimatedLayer", "EstimatedZone", "Validation", "zones"]

ZoneSide = Literal["long", "short"]


@dataclass(frozen=True, slots=True)
class Validation:
    """Whether the estimated layer is validated, and the one line that says why (shown with the layer)."""

    validated: bool
    summary: str

    @classmethod
    def not_run(cls) -> Validation:
        """The default: no validation run was given, so the layer is not validated."""
        return cls(False, "not validated (no validation run of the model given)")

    @property
    def label(self) -> str:
        """``validated`` or ``not validated``."""
        return "validated" if self.validated else "not validated"


@dataclass(frozen=True, slots=True)
class EstimatedZone:
    """A price range where estimated levels of one side pile up (quote prices, quote notional)."""

    symbol: str
    """Compact id (``BTCUSDT``)."""
    side: ZoneSide
    """The side of the positions that would be liquidated there: long levels sit below the price, short above."""
    price_level: float
    """Notional-weighted mean price of the zone's bins."""
    price_low: float
    price_high: float
    notional: float
    """Open notional (at entry) of the levels in the zone."""
    share: float
    """The zone's notional over the side's open notional within the binned range, 0..1."""
    strength: float
    """The zone's notional over the heaviest zone's (either side), 0..1."""
    distance_from_price: float
    """``|price_level - price| / price * 100`` (percent)."""


def zones(symbol: str, binned: BinnedLevels, price: float, *, min_share: float = 0.25) -> list[EstimatedZone]:
    """The zones of ``binned`` around ``price`` (module docstring), heaviest first. Long zones at or above the
    price and short zones at or below it (levels already crossed) are left out."""
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"zones: price must be a positive finite number, got {price!r}")
    if not 0 < min_share <= 1:
        raise ValueError(f"zones: min_share must be in (0, 1], got {min_share!r}")
    found: list[tuple[ZoneSide, float, float, float, float, float]] = []
    sides: tuple[tuple[ZoneSide, np.ndarray], ...] = (("long", binned.long), ("short", binned.short))
    for side, side_mass in sides:
        ahead = binned.prices < price if side == "long" else binned.prices > price
        mass = np.where(ahead, side_mass, 0.0)
        total = float(mass.sum())
        if total <= 0:
            continue
        strong = mass >= min_share * float(mass.max())
        edges = np.flatnonzero(np.diff(np.r_[0, strong.astype(np.int8), 0]))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            run, prices = mass[start:end], binned.prices[start:end]
            notional = float(run.sum())
            level = float((run * prices).sum() / notional)
            found.append((side, level, float(prices[0]), float(prices[-1]), notional, notional / total))
    if not found:
        return []
    heaviest = max(z[4] for z in found)
    out = [EstimatedZone(symbol, side, level, low, high, notional, share, notional / heaviest,
                         abs(level - price) / price * 100.0) for side, level, low, high, notional, share in found]
    out.sort(key=lambda z: (-z.notional, z.price_level))
    return out


class EstimatedLayer:
    """Estimated levels of many symbols (module docstring)."""

    def __init__(self, config: ModelConfig | None = None, brackets: BracketTable | None = None,
                 validation: Validation | None = None) -> None:
        self.config = config if config is not None else ModelConfig()
        self.brackets = brackets if brackets is not None else shipped_brackets()
        self.validation = validation if validation is not None else Validation.not_run()
        self._models: dict[str, EstimatedLevels] = {}
        self.lock = threading.RLock()
        """Held by every update and by readers of a model (module docstring)."""

    @property
    def label(self) -> str:
        """What to show beside the layer: ``estimated · brackets of 2025-12-25 (shipped table) · not
        validated``."""
        return f"estimated · {self.brackets.label} · {self.validation.label}"

    def config_for(self, symbol: str) -> ModelConfig:
        """The model settings of ``symbol``: the layer's, with the first bracket's maintenance margin ratio and
        maximum leverage when the table lists the symbol."""
        found = self.brackets.get(symbol_key(symbol))
        if found is None:
            return self.config
        first = found[0]
        return dataclasses.replace(self.config, maint_margin_ratio=first.maint_margin_ratio,
                                   max_leverage=float(first.initial_leverage))

    def update(self, symbol: str, bar: Bar) -> None:
        """Apply one closed bar of ``symbol`` (raises BarError on a bad or out-of-order bar; the state stands)."""
        key = symbol_key(symbol)
        with self.lock:
            model = self._models.get(key)
            if model is None:
                model = self._models[key] = EstimatedLevels(self.config_for(key))
            model.update(bar)

    def get(self, symbol: str) -> EstimatedLevels | None:
        """The model of ``symbol``, None before its first bar."""
        return self._models.get(symbol_key(symbol))

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and symbol_key(symbol) in self._models

    def __iter__(self) -> Iterator[str]:
        with self.lock:
            return iter(sorted(self._models))

    def __len__(self) -> int:
        return len(self._models)

    def zones(self, symbol: str, price: float | None = None, *, min_share: float = 0.25) -> list[EstimatedZone]:
        """The zones of ``symbol`` around ``price`` (default: its last bar's close); empty before its first
        bar."""
        with self.lock:
            model = self.get(symbol)
            if model is None or model.last_close is None:
                return []
            reference = price if price is not None else model.last_close
            return zones(symbol_key(symbol), model.binned(reference), reference, min_share=min_share)
