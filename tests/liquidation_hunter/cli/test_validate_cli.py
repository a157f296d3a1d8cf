"""``liquidation-hunter validate-estimated`` on the project's shipped real data: it must be able to say no."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liquidation_hunter.cli.main import main
from live_heatmap.store.history import load_events
from live_heatmap.store.parquet import export_parquet

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "data" / "binance" / "forceorder_wire.jsonl"
TRADES = ROOT / "data" / "binance" / "aggtrades_large.csv"


def test_recent_prints_on_the_shipped_liquidations_scores_below_climatology(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-estimated", "--events", str(EVENTS), "--predictor", "recent-prints", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    score = out["score"]
    assert score["predictor"] == "recent-prints" and score["events"] >= 1000
    assert score["g_count"]["value"] < 0 and score["g_count"]["high"] < 0
    assert score["g_notional"]["value"] < 0
    assert out["validated"] is False
    assert any("lower bound" in r for r in out["reasons"])
    assert any("does not beat recent prints" in r for r in out["reasons"])  # it cannot beat itself
    assert "events themselves" in out["marks"] and out["predictor"] == "recent-prints" and out["history"] is None
    shares = {k: v["top5_share"] for k, v in out["baselines"].items()}
    assert shares["shuffled"] < shares["recent-prints"]  # prints near recent prints, not at random times


def test_a_parquet_dataset_scores_as_the_recording_it_was_exported_from(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The harness reads the Parquet dataset (issue 17) through load_events: the same score to the last digit."""
    export_parquet(load_events(EVENTS), tmp_path / "history")
    answers = []
    for events in (EVENTS, tmp_path / "history"):
        assert main(["validate-estimated", "--events", str(events), "--predictor", "recent-prints", "--json"]) == 0
        answers.append(json.loads(capsys.readouterr().out))
    assert answers[0]["score"]["events"] >= 1000
    assert answers[1]["score"] == answers[0]["score"] and answers[1]["baselines"] == answers[0]["baselines"]


def test_text_output_with_price_files_says_where_marks_come_from(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-estimated", "--events", str(EVENTS), "--prices", str(TRADES)]) == 0
    out = capsys.readouterr().out
    assert "marks from aggtrades_large.csv" in out and "verdict: not validated" in out
    assert "fewer than 20" in out  # the trades file covers a few symbols only


@pytest.mark.parametrize(("argv", "message"), [
    (["--events", "no/such.jsonl"], "--events no/such.jsonl: no such file"),
    (["--events", str(EVENTS), "--max-age-minutes", "0"], "--max-age-minutes 0.0: must be a positive"),
])
def test_a_users_mistake_is_one_line_and_exit_2(argv: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-estimated", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
