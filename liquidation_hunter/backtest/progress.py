"""A one-line progress bar on a terminal (stderr): ``[#########.........]  45 %``, redrawn at most 10 times a
second, ended with a newline at 100 %. The backtest draws it only when stderr is a terminal."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Call with the share done (0..1)."""

    def __init__(self, out: TextIO, *, width: int = 30, label: str = "backtest") -> None:
        self.out = out
        self.width = width
        self.label = label
        self._drawn = -1.0
        self._at = 0.0

    def __call__(self, share: float) -> None:
        share = min(1.0, max(0.0, share))
        now = time.monotonic()
        if share < 1.0 and (now - self._at < 0.1 or share == self._drawn):
            return
        self._at, self._drawn = now, share
        filled = round(share * self.width)
        self.out.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {100 * share:5.1f} %")
        if share >= 1.0:
            self.out.write("\n")
        self.out.flush()
