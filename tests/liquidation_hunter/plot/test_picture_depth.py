"""The depth picture (issue 15): ``heatmap SYMBOL --layer depth --depth FILE`` replays a depth recording through the
book sync into a liquidity layer and draws its depth over time (bids blue, asks orange) and the walls; on the real
Binance fixture (``data/orderbook``) and a synthetic layer with walls; bad input is one line and exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import DATA
from liquidity_books import WallPlan, fed_layer

import liquidation_hunter.cli.heatmap as heatmap_cli
from liquidation_hunter.cli.heatmap import add_heatmap_parser
from liquidation_hunter.data.depth_replay import replay_depth
from liquidation_hunter.plot.depth import WALL_ASK, WALL_BID, render_depth

pytest.importorskip("matplotlib")
from PIL import Image

BOOK = DATA.parent / "orderbook"
DIFFS = BOOK / "binance_usdm_depth100ms_2021-07-22.jsonl"
SNAPSHOTS = BOOK / "binance_usdm_rest_depth_2021-07-22.txt"
NOW = 1_737_997_200_000


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liquidation-hunter")
    add_heatmap_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def rgb_of(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def ink(rgb: np.ndarray) -> tuple[float, float]:
    """The share of pixels in the bid (blue) and ask (orange) depth colours."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    bid = (b > 1.6 * g) & (b > 2.5 * r) & (b > 60)
    ask = (r > 1.25 * g) & (r > 2 * b) & (g > 0.4 * r) & (r > 50)
    return float(bid.mean()), float(ask.mean())


def test_the_real_fixture_replays_without_a_resync() -> None:
    replay = replay_depth([DIFFS, SNAPSHOTS])
    assert replay.resyncs() == 0 and replay.updates == 768
    assert set(replay.syncs) == {"SUSHIUSDT", "AKROUSDT", "CTKUSDT", "KEEPUSDT"}
    for symbol in replay.syncs:
        history = replay.layer.history(symbol)
        assert history is not None and history.samples > 20, symbol  # ~30 s at 1 s


@pytest.fixture
def given(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the command passed to the (real) plot function."""
    seen: list[dict[str, Any]] = []
    real = heatmap_cli.render_depth

    def spy(grid: Any, walls: Any, out: Any, **kwargs: Any) -> Path:
        seen.append({**kwargs, "grid": grid, "walls": walls})
        return real(grid, walls, out, **kwargs)

    monkeypatch.setattr(heatmap_cli, "render_depth", spy)
    return seen


def test_heatmap_layer_depth_draws_the_recorded_book(tmp_path: Path, given: list[dict[str, Any]],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "depth.png"
    assert run_cli(["heatmap", "SUSHIUSDT", "--layer", "depth", "--depth", str(DIFFS), "--depth", str(SNAPSHOTS),
                    "--size", "900x500", "--out", str(out)]) == 0
    assert "SUSHIUSDT depth" in capsys.readouterr().out
    grid = given[0]["grid"]
    mids = given[0]["mids"]
    assert grid.times.size > 20 and mids[1].size > 20
    mid = float(np.median(mids[1]))
    below, above = grid.prices < mid * 0.999, grid.prices > mid * 1.001
    assert grid.bid[:, below].sum() > 0 and grid.ask[:, above].sum() > 0
    assert grid.bid[:, above].sum() == 0 and grid.ask[:, below].sum() == 0  # bids under the mid, asks over it
    with Image.open(out) as image:
        assert image.size == (900, 500)
    bid, ask = ink(rgb_of(out))
    assert bid > 0.05 and ask > 0.05, (bid, ask)


def test_walls_are_marked_in_their_side_colour(tmp_path: Path) -> None:
    layer = fed_layer("BTCUSDT", 100.0, [WallPlan("bid", 99.0, NOW - 120_000),
                                         WallPlan("ask", 101.0, NOW - 120_000, NOW - 30_000)], NOW - 120_000, NOW)
    history, tracker = layer.history("BTCUSDT"), layer.walls("BTCUSDT")
    assert history is not None and tracker is not None
    walls = [*tracker.active(), *tracker.ended(NOW - 120_000)]
    assert {(w.side, w.state) for w in walls} == {("bid", "active"), ("ask", "pulled")}
    out = render_depth(history.grid(NOW - 120_000, NOW, 1000), walls, tmp_path / "walls.png", symbol="BTCUSDT",
                       width_px=900, height_px=500)
    rgb = rgb_of(out)
    for colour in (WALL_BID, WALL_ASK):
        want = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(rgb - want).sum(axis=2) < 30).sum() > 200, colour


@pytest.mark.parametrize(("extra", "message"), [
    ([], "--layer depth needs --depth FILE"),
    (["--depth", "nope.jsonl"], "--depth nope.jsonl: no such file"),
    (["--depth", str(DIFFS), "--sample", "soon"], "--sample"),
])
def test_bad_input_is_one_line(extra: list[str], message: str, capsys: pytest.CaptureFixture[str],
                               tmp_path: Path) -> None:
    assert run_cli(["heatmap", "SUSHIUSDT", "--layer", "depth", "--out", str(tmp_path / "x.png"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_symbol_the_recording_lacks_and_a_bad_line_are_one_line(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    assert run_cli(["heatmap", "BTCUSDT", "--layer", "depth", "--depth", str(DIFFS), "--depth", str(SNAPSHOTS),
                    "--out", str(tmp_path / "x.png")]) == 2
    assert "no synced BTCUSDT book" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(DIFFS.read_text().splitlines()[0] + "\nnot json\n")
    assert run_cli(["heatmap", "SUSHIUSDT", "--layer", "depth", "--depth", str(bad),
                    "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2" in err and err.count("\n") == 1


def test_depth_a_bot_recorded_to_its_event_store_is_drawn(tmp_path: Path, given: list[dict[str, Any]],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from live_heatmap.store.depth_runs import write_depth_runs

    layer = fed_layer("BTCUSDT", 100.0, [WallPlan("bid", 99.0, NOW - 120_000)], NOW - 120_000, NOW)
    history = layer.history("BTCUSDT")
    assert history is not None
    history.close(NOW)  # the runs end: recordable
    store = tmp_path / "events.db"
    assert write_depth_runs(store, "BTCUSDT", history.runs_between(NOW - 120_000, NOW + 1),
                            history.bin_width) > 0
    out = tmp_path / "stored.png"
    assert run_cli(["heatmap", "BTCUSDT", "--layer", "depth", "--depth", str(store), "--size", "900x500",
                    "--out", str(out)]) == 0
    assert "recorded depth" in capsys.readouterr().out
    grid = given[0]["grid"]
    bids, asks = grid.bid.sum(axis=0), grid.ask.sum(axis=0)  # over the window (the runs end at its end)
    assert bids.max() > 0 and asks.max() > 0
    assert abs(float(grid.prices[int(np.argmax(bids))]) - 99.0) / 99.0 < 0.001  # the wall's bin
    walls = given[0]["walls"]  # found again from the recorded runs, by the same rules
    assert [w.side for w in walls] == ["bid"] and abs(walls[0].price - 99.0) / 99.0 < 0.001
    bid, ask = ink(rgb_of(out))
    assert bid > 0.05 and ask > 0.05, (bid, ask)
    assert run_cli(["heatmap", "ETHUSDT", "--layer", "depth", "--depth", str(store), "--out", str(out)]) == 2
    assert "no recorded depth of ETHUSDT" in capsys.readouterr().err
