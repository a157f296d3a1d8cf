"""The estimated-levels model's settings (issue 14): leverage mix, attribution, window, bins."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

HOUR_MS = 3_600_000
#: The windows the model allows (name -> milliseconds): positions older than this leave.
WINDOWS_MS: dict[str, int] = {"12h": 12 * HOUR_MS, "24h": 24 * HOUR_MS, "3d": 72 * HOUR_MS, "7d": 168 * HOUR_MS}

Attribution = Literal["taker", "candle", "even"]
ATTRIBUTIONS: tuple[str, ...] = get_args(Attribution)

#: The leverage mix of gptprojectmanager/liquidations: (leverage, share of new notional).
DEFAULT_LEVERAGE_MIX: tuple[tuple[float, float], ...] = ((5.0, 0.15), (10.0, 0.30), (25.0, 0.25),
                                                         (50.0, 0.20), (100.0, 0.10))


class ModelConfigError(ValueError):
    """A model setting out of range; the message names the setting."""


@dataclass(frozen=True)
class ModelConfig:
    """Settings of :class:`~live_heatmap.estimated.model.EstimatedLevels`.

    - ``leverage_mix``: (leverage, share) pairs, shares > 0 summing to 1; tiers above
      ``max_leverage`` (the symbol's first-bracket maximum) fold into a ``max_leverage`` tier.
    - ``maint_margin_ratio``: the maintenance margin ratio of the symbol's first bracket (Binance
      BTCUSDT: 0.004).
    - ``attribution``: how new notional is split between longs and shorts (docs/ESTIMATED.md).
    - ``window_ms``: one of :data:`WINDOWS_MS` (12 h default).
    - ``bin_width``: log-price bin width of the binned output (0.001 = 0.1 %).
    - ``range_fraction``: the binned output covers +-this around the reference price.
    - ``bar_ms``: the expected bar length; sizes the vintage ring (it grows if bars come faster).
    """

    leverage_mix: tuple[tuple[float, float], ...] = DEFAULT_LEVERAGE_MIX
    max_leverage: float = 125.0
    maint_margin_ratio: float = 0.004
    attribution: Attribution = "taker"
    window_ms: int = WINDOWS_MS["12h"]
    bin_width: float = 0.001
    range_fraction: float = 0.20
    bar_ms: int = 300_000

    def __post_init__(self) -> None:
        if not self.leverage_mix:
            raise ModelConfigError("leverage_mix is empty")
        for leverage, share in self.leverage_mix:
            if not (math.isfinite(leverage) and leverage > 1):
                raise ModelConfigError(f"leverage_mix: leverage must be > 1 (a 1x long is never liquidated), "
                                       f"got {leverage!r}")
            if not (math.isfinite(share) and share > 0):
                raise ModelConfigError(f"leverage_mix: share must be > 0, got {share!r}")
        total = sum(share for _, share in self.leverage_mix)
        if abs(total - 1.0) > 1e-9:
            raise ModelConfigError(f"leverage_mix: shares must sum to 1, got {total!r}")
        if not (math.isfinite(self.max_leverage) and self.max_leverage > 1):
            raise ModelConfigError(f"max_leverage must be > 1, got {self.max_leverage!r}")
        if not (math.isfinite(self.maint_margin_ratio) and 0 <= self.maint_margin_ratio < 1):
            raise ModelConfigError(f"maint_margin_ratio must be in [0, 1), got {self.maint_margin_ratio!r}")
        highest = min(max(lev for lev, _ in self.leverage_mix), self.max_leverage)
        if 1 / highest <= self.maint_margin_ratio:
            raise ModelConfigError(f"leverage {highest:g} with maint_margin_ratio {self.maint_margin_ratio:g} "
                                   "is liquidated as soon as it opens (1/L <= MMR)")
        if self.attribution not in ATTRIBUTIONS:
            raise ModelConfigError(f"attribution must be one of {', '.join(ATTRIBUTIONS)}, got {self.attribution!r}")
        if self.window_ms not in WINDOWS_MS.values():
            raise ModelConfigError(f"window_ms must be one of {', '.join(WINDOWS_MS)} "
                                   f"({', '.join(str(v) for v in WINDOWS_MS.values())} ms), got {self.window_ms!r}")
        if not (math.isfinite(self.bin_width) and 0 < self.bin_width < 0.1):
            raise ModelConfigError(f"bin_width must be in (0, 0.1), got {self.bin_width!r}")
        if not (math.isfinite(self.range_fraction) and 0 < self.range_fraction < 1):
            raise ModelConfigError(f"range_fraction must be in (0, 1), got {self.range_fraction!r}")
        if self.bar_ms <= 0:
            raise ModelConfigError(f"bar_ms must be > 0, got {self.bar_ms!r}")

    def tiers(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(leverages ascending, shares) after folding tiers above ``max_leverage`` into it."""
        folded: dict[float, float] = {}
        for leverage, share in self.leverage_mix:
            key = min(float(leverage), float(self.max_leverage))
            folded[key] = folded.get(key, 0.0) + float(share)
        leverages = sorted(folded)
        return (np.array(leverages, dtype=np.float64),
                np.array([folded[lev] for lev in leverages], dtype=np.float64))
