"""The heatmap picture (liquidation_hunter/plot/heatmap.py) and its command, on the real 2025-01-27 session."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, WIRE

from liquidation_hunter.cli.heatmap import add_heatmap_parser
from liquidation_hunter.data.prices import load_prices
from liquidation_hunter.plot.heatmap import render_heatmap
from live_heatmap import LiquidationEvent, parse_force_order
from live_heatmap.grid import HeatmapGrid, build_grid

pytest.importorskip("matplotlib")
from PIL import Image

START = 1_737_996_600_000  # 2025-01-27T16:50:00Z
END = 1_737_998_400_000  # 2025-01-27T17:20:00Z
AGGTRADES = DATA / "aggtrades_large.csv"
VIRIDIS_LOW = (68, 1, 84)
VIRIDIS_HIGH = (253, 231, 37)


@pytest.fixture(scope="module")
def events(wire_lines: list[bytes]) -> list[LiquidationEvent]:
    return [parse_force_order(line) for line in wire_lines]


@pytest.fixture(scope="module")
def grid(events: list[LiquidationEvent]) -> HeatmapGrid:
    series = load_prices(AGGTRADES).window(START, END + 1)
    prices = (series.times("BTCUSDT"), series.prices("BTCUSDT"))
    assert prices[0].size > 1000
    return build_grid(events, symbol="BTCUSDT", start_ms=START, end_ms=END, time_decay_minutes=60,
                      price_points=prices)


@pytest.fixture(scope="module")
def pictures(grid: HeatmapGrid, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    return {scale: render_heatmap(grid, folder / f"{scale}.png", scale=scale) for scale in ("linear", "sqrt", "log")}


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def heatmap_region(rgb: np.ndarray) -> np.ndarray:
    """Well inside the main panel (it spans about 8 % to 77 % across and 7 % to 89 % down)."""
    h, w, _ = rgb.shape
    return rgb[int(h * 0.15):int(h * 0.80), int(w * 0.15):int(w * 0.70)]


def colours(rgb: np.ndarray) -> int:
    """How many distinct colours."""
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    return int(np.unique(packed).size)


def near(region: np.ndarray, colour: tuple[int, int, int], tol: int = 12) -> int:
    return int(np.count_nonzero(np.abs(region.astype(int) - colour).max(axis=2) <= tol))


def test_the_picture_has_the_requested_size_and_is_not_blank(grid: HeatmapGrid, pictures: dict[str, Path]) -> None:
    assert grid.clusters and grid.events.is_long.any() and not grid.events.is_long.all()
    for path in pictures.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        rgb = pixels(path)
        assert rgb.shape == (700, 1200, 3)
        assert colours(rgb) > 500
        region = heatmap_region(rgb)
        assert region.std() > 20
        assert colours(region) > 100
        # Purple to yellow: empty cells are viridis' purple, the brightest cell its yellow.
        assert near(region, VIRIDIS_LOW) > region.shape[0] * region.shape[1] // 5
        assert near(rgb, VIRIDIS_HIGH, tol=20) > 100


def test_the_three_scales_give_different_pictures(pictures: dict[str, Path]) -> None:
    regions = {scale: heatmap_region(pixels(path)).astype(int) for scale, path in pictures.items()}
    for a, b in (("linear", "sqrt"), ("sqrt", "log"), ("linear", "log")):
        changed = np.count_nonzero(np.abs(regions[a] - regions[b]).max(axis=2) > 30)
        assert changed > 2000, (a, b, changed)
    # Weak cells come up from purple as the scale compresses: the panel brightens from linear to log.
    green = [float(regions[s][..., 1].mean()) for s in ("linear", "sqrt", "log")]
    assert green[0] + 2 < green[1] and green[1] + 2 < green[2], green


def test_same_grid_same_bytes(grid: HeatmapGrid, pictures: dict[str, Path], tmp_path: Path) -> None:
    again = render_heatmap(grid, tmp_path / "again.png", scale="sqrt")
    assert again.read_bytes() == pictures["sqrt"].read_bytes()


def test_other_sizes_and_no_price_feed(events: list[LiquidationEvent], tmp_path: Path) -> None:
    bare = build_grid(events, symbol="ACHUSDT", start_ms=START, end_ms=END, time_decay_minutes=30)
    out = render_heatmap(bare, tmp_path / "deep" / "ach.png", scale="log", width_px=1001, height_px=613)
    rgb = pixels(out)
    assert rgb.shape == (613, 1001, 3)
    assert heatmap_region(rgb).std() > 20
    with pytest.raises(ValueError, match="scale"):
        render_heatmap(bare, tmp_path / "x.png", scale="cubic")


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liquidation-hunter")
    add_heatmap_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_the_command_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eth.png"
    code = run_cli(["heatmap", "ETH/USDT:USDT", "--events", str(WIRE), "--prices", str(AGGTRADES),
                    "--window", "30m", "--at", "2025-01-27T17:20:00Z", "--scale", "sqrt", "--size", "900x500",
                    "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert pixels(out).shape == (500, 900, 3)
    assert "ETHUSDT 2025-01-27 16:50:00 UTC to 2025-01-27 17:20:00 UTC, 47 liquidations" in printed.out
    # A bot's config sets the clusters and the decay.
    config = tmp_path / "bot.yaml"
    config.write_text("heatmap:\n  time_decay_minutes: 20\n  min_cluster_size: 3\n")
    assert run_cli(["heatmap", "ETHUSDT", "--events", str(WIRE), "-c", str(config), "--window", "30m",
                    "--out", str(tmp_path / "cfg.png")]) == 0
    assert "decay 20 min" in capsys.readouterr().out
    assert run_cli(["heatmap", "ETHUSDT", "--events", str(WIRE), "-c", str(config), "--window", "30m",
                    "--decay-minutes", "15", "--out", str(tmp_path / "cfg15.png")]) == 0  # the flag wins
    assert "decay 15 min" in capsys.readouterr().out
    # Defaults: the window ends at the symbol's last liquidation; fill prices when no --prices.
    default = tmp_path / "default.png"
    assert run_cli(["heatmap", "SOLUSDT", "--events", str(WIRE), "--window", "1h", "--out", str(default)]) == 0
    assert pixels(default).shape == (700, 1200, 3)


@pytest.mark.parametrize(("argv", "message"), [
    (["XYZUSDT", "--events", str(WIRE)], "no XYZUSDT liquidations in"),
    (["BTCUSDT", "--events", str(WIRE), "--at", "2024-01-01T00:00Z", "--window", "2h"],
     "no BTCUSDT liquidations between 2023-12-31 22:00:00 UTC and 2024-01-01 00:00:00 UTC in"),
    (["BTCUSDT", "--events", str(WIRE), "--window", "2 hours"],
     "--window: expected a duration such as 30m, 2h or 1d (units s, m, h, d), at least 1m, got '2 hours'"),
    (["BTCUSDT", "--events", str(WIRE), "--window", "10s"], "at least 1m, got '10s'"),
    (["BTCUSDT", "--events", str(WIRE), "--at", "yesterday"], "--at: expected epoch ms or an ISO-8601 time"),
    (["BTCUSDT", "--events", str(WIRE), "--size", "big"], "--size 'big'"),
    (["BTCUSDT", "--events", "missing.jsonl"], "missing.jsonl: no such file"),
    (["BTCUSDT", "--events", str(WIRE), "--prices", "nope.csv"], "error: --prices nope.csv: no such file"),
    (["BTCUSDT"], "give the recording with --events"),
    (["BTCUSDT", "--config", "missing.yaml"], "missing.yaml"),
    (["BTCUSDT", "--events", str(WIRE), "--exchange", "binance,kraken"],
     "--exchange: unknown exchange 'kraken' (known: binance, bybit, okx)"),
    (["BTCUSDT", "--events", str(WIRE), "--exchange", "bybit", "--exchange", "okx"],
     "no BTCUSDT liquidations from bybit, okx in"),
])
def test_command_errors_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never.png"
    assert run_cli(["heatmap", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not out.exists()


def test_price_files_as_the_backtest_reads_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The picture reads prices through the one price reader: Binance's dump (no header, microsecond times,
    the symbol in the file name) draws; a file of unknown columns is one line naming it."""
    dump = tmp_path / "BTCUSDT-aggTrades-2025-01-27.csv"
    dump.write_text("1,100000.5,2,1,1,1737997000000123,true\n2,100100.7,1,2,2,1737997600000456,false\n")
    out = tmp_path / "dump.png"
    argv = ["heatmap", "BTCUSDT", "--events", str(WIRE), "--at", "2025-01-27T17:20:00Z", "--window", "40m"]
    assert run_cli([*argv, "--prices", str(dump), "--out", str(out)]) == 0 and out.stat().st_size > 0
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert run_cli([*argv, "--prices", str(bad), "--out", str(tmp_path / "bad.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.csv: unknown columns" in err, err


def test_plotting_is_imported_only_by_the_picture() -> None:
    code = ("import sys, live_heatmap.grid, liquidation_hunter.plot.heatmap; "
            "print('matplotlib' in sys.modules, 'PIL' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_picture_marks_venues_and_the_command_filters_them(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from venue_events import AT, three_venues

    from live_heatmap.venue import PriceKind, Venue

    events = three_venues()
    as_binance = [e._replace(exchange=Venue.BINANCE, price_kind=PriceKind.FILL_AVG, venue_symbol="") for e in events]
    kw = {"symbol": "BTCUSDT", "start_ms": AT - 30 * 60_000, "end_ms": AT, "time_decay_minutes": 60}
    three = render_heatmap(build_grid(events, **kw), tmp_path / "three.png")
    one = render_heatmap(build_grid(as_binance, **kw), tmp_path / "one.png")

    def cyan(path: Path) -> int:  # Bybit's edge colour, #00e5ff
        px = pixels(path).astype(int)
        return int((np.abs(px - (0, 229, 255)).sum(axis=2) < 40).sum())

    assert cyan(three) > 20 and cyan(one) == 0
    bybit = build_grid(events, **kw, exchanges=["bybit"])
    assert bybit.events_by_venue() == {"bybit": 9} and bybit.exchanges == (Venue.BYBIT,)
    assert build_grid(events, **kw, exchanges=["okx", "bybit"]).events_by_venue() == {"bybit": 9, "okx": 5}
    # On a Binance recording, --exchange binance is every event; the command says which venues it drew.
    argv = ["heatmap", "ETHUSDT", "--events", str(WIRE), "--window", "30m", "--at", "2025-01-27T17:20:00Z"]
    assert run_cli([*argv, "--out", str(tmp_path / "all.png")]) == 0
    assert run_cli([*argv, "--exchange", "BINANCE", "--out", str(tmp_path / "binance.png")]) == 0
    every, binance = capsys.readouterr().out.splitlines()
    assert "47 liquidations, " in every and "47 liquidations from binance, " in binance
