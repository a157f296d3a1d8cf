"""The estimated layer in the heatmap picture (issue 14): ``heatmap --layer observed|estimated|both --history DIR``
draws the estimated levels apart from the observed heat, says "estimated" with the bracket date and the validation,
and leaves the default picture as it was."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import DATA, WIRE
from history_dir import write_history

import liquidation_hunter.cli.heatmap as heatmap_cli
from liquidation_hunter.cli.heatmap import add_heatmap_parser
from liquidation_hunter.data.estimated_history import layer_from_history
from liquidation_hunter.plot.heatmap import ESTIMATED_LONG, ESTIMATED_SHORT

pytest.importorskip("matplotlib")
from PIL import Image

AT = "2025-01-27T17:20:00Z"
AT_MS = 1_737_998_400_000
AGGTRADES = DATA / "aggtrades_large.csv"


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liquidation-hunter")
    add_heatmap_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])


def share_near(path: Path, colour: str) -> float:
    """The share of the main panel's pixels near ``colour``."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB")).astype(int)
    h, w, _ = rgb.shape
    rgb = rgb[int(h * 0.15):int(h * 0.80), int(w * 0.10):int(w * 0.74)]
    return float((np.abs(rgb - hex_rgb(colour)).sum(axis=2) < 40).mean())


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # BTC traded near 102,000 then; the synthetic day drifts up 2.9 % from 100,500
    return write_history(tmp_path_factory.mktemp("history"), "BTCUSDT", date(2025, 1, 27), 100_500.0)


@pytest.fixture
def given(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the command passed to the (real) plot function."""
    seen: list[dict[str, Any]] = []
    real = heatmap_cli.render_heatmap

    def spy(grid: Any, out: Any, **kwargs: Any) -> Path:
        seen.append({**kwargs, "grid": grid})
        return real(grid, out, **kwargs)

    monkeypatch.setattr(heatmap_cli, "render_heatmap", spy)
    return seen


def draw(tmp_path: Path, name: str, *extra: str) -> list[str]:
    return ["heatmap", "BTCUSDT", "--events", str(WIRE), "--prices", str(AGGTRADES), "--window", "30m",
            "--at", AT, "--size", "900x500", "--out", str(tmp_path / name), *extra]


def test_both_layers_draw_the_estimate_apart_labelled(tmp_path: Path, history: Path, given: list[dict[str, Any]],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(draw(tmp_path, "observed.png")) == 0
    assert run_cli(draw(tmp_path, "both.png", "--layer", "both", "--history", str(history))) == 0
    assert run_cli(draw(tmp_path, "estimated.png", "--layer", "estimated", "--history", str(history))) == 0
    printed = capsys.readouterr().out.splitlines()
    observed, both, alone = given
    assert observed["estimated"] is None and observed["observed"] is True
    bands = both["estimated"]
    layer, _ = layer_from_history(history, until_ms=AT_MS)
    assert bands.label == layer.label and "brackets of 2025-12-25" in bands.label and "not validated" in bands.label
    assert both["observed"] is True and alone["observed"] is False
    model = layer.get("BTCUSDT")
    assert model is not None and model.last_close_time is not None and model.last_close_time <= AT_MS
    # the model as of the window's end, binned around the price line's last point
    binned = model.binned(float(both["grid"].price[-1]))
    assert np.array_equal(bands.prices, binned.prices) and np.array_equal(bands.long, binned.long)
    assert np.array_equal(bands.short, binned.short) and bands.long.sum() > 0 and bands.short.sum() > 0
    assert "layer both (estimated · brackets of 2025-12-25" in printed[1] and "not validated" in printed[1]
    # the estimated colours appear only when asked for; the observed heat leaves with --layer estimated
    pictures = {name: tmp_path / f"{name}.png" for name in ("observed", "both", "estimated")}
    estimated_ink = {n: share_near(p, ESTIMATED_LONG) + share_near(p, ESTIMATED_SHORT) for n, p in pictures.items()}
    assert estimated_ink["observed"] < 1e-4 < estimated_ink["both"], estimated_ink
    heat = {n: share_near(p, "#440154") for n, p in pictures.items()}  # viridis' empty purple fills the panel
    assert heat["estimated"] > heat["observed"] + 0.05, heat  # no observed cells: all of it the empty colour


def test_estimated_without_history_names_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(draw(tmp_path, "x.png", "--layer", "estimated")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--layer estimated needs --history DIR" in err
    assert run_cli(draw(tmp_path, "x.png", "--layer", "both", "--history", str(tmp_path / "none"))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--history" in err and "none: no such folder" in err
    assert not (tmp_path / "x.png").exists()
