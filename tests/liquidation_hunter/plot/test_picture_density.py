"""The heatmap picture's side density profile (issue 16), on the real 2025-01-27 session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import WIRE

from liquidation_hunter.cli.main import main
from liquidation_hunter.plot.heatmap import DENSITY_LONG, render_heatmap
from live_heatmap import parse_force_order
from live_heatmap.grid import build_grid
from live_heatmap.stats import density_profile

pytest.importorskip("matplotlib")
from PIL import Image

END = 1_737_998_400_000  # 2025-01-27T17:20:00Z
HOUR = 3_600_000


def _side_panel(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    h, w, _ = rgb.shape
    return rgb[int(h * 0.1):int(h * 0.85), int(w * 0.78):int(w * 0.93)]  # the side panel, right of the main one


def _near(region: np.ndarray, hex_colour: str, tol: int = 30) -> int:
    colour = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return int(np.count_nonzero(np.abs(region.astype(int) - colour).max(axis=2) <= tol))


def test_the_side_panel_draws_the_density_lines(wire_lines: list[bytes], tmp_path: Path) -> None:
    events = [e for e in map(parse_force_order, wire_lines) if e.symbol == "BTCUSDT" and e.trade_time <= END]
    grid = build_grid(events, symbol="BTCUSDT", start_ms=END - HOUR, end_ms=END, time_decay_minutes=60)
    recent = [e for e in events if e.trade_time >= END - 3 * HOUR]
    density = density_profile([e.price for e in recent], [e.price * e.quantity for e in recent],
                              [e.trade_time for e in recent], [e.side == "long" for e in recent], now_ms=END,
                              time_decay_minutes=60, bandwidth=0.003)
    assert density.long_notional > 0
    plain = render_heatmap(grid, tmp_path / "plain.png")
    with_density = render_heatmap(grid, tmp_path / "density.png", density=density)
    assert _near(_side_panel(plain), DENSITY_LONG) == 0
    assert _near(_side_panel(with_density), DENSITY_LONG) > 50  # the long line, in its own dark red


def test_the_command_draws_it_with_the_config_bandwidth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("stats:\n  bandwidth: 0.002\n")
    out = tmp_path / "btc.png"
    assert main(["heatmap", "BTCUSDT", "--events", str(WIRE), "-c", str(config), "--window", "1h", "--at",
                 "2025-01-27T17:20:00Z", "--out", str(out)]) == 0, capsys.readouterr().err
    assert _near(_side_panel(out), DENSITY_LONG) > 50
