"""``liquidation-hunter validate-estimated --history DIR``: the model run over fetched history (archive-shaped zips
written here) and scored against an events file; the verdict, the events of symbols without history named, the
JSON the layer's verdict is read from (:func:`liquidation_hunter.data.validation_report.load_validation`), and a
user's mistakes as one line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fakes.binance.archive_server import metrics_csv
from history_dir import kline_line, klines_text, write_zip

from liquidation_hunter.cli.main import main
from liquidation_hunter.data.history_parquet import export_history
from liquidation_hunter.data.validation_report import load_validation

DAYS = (date(2024, 3, 1), date(2024, 3, 2))
START = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
BAR = 300_000
BASE = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}


def closes(symbol: str) -> np.ndarray:
    rng = np.random.default_rng(len(symbol) + int(BASE[symbol]))
    return BASE[symbol] * np.exp(np.cumsum(rng.normal(0.0, 0.003, 288 * len(DAYS))))


def klines_csv(symbol: str, day: int, *, mark: bool = False) -> str:
    c = closes(symbol)
    lines = []
    for i in range(288 * day, 288 * (day + 1)):
        close = float(c[i])
        opened = float(c[i - 1]) if i else BASE[symbol]
        high, low = max(opened, close) * 1.002, min(opened, close) * 0.998
        volume, buy = (0.0, 0.0) if mark else (120.5, 60.0 + 10 * np.sin(i))
        lines.append(kline_line(START + i * BAR, opened, high, low, close, volume, buy))
    return klines_text(lines)


def write_history(root: Path, symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")) -> None:
    for symbol in symbols:
        for n, day in enumerate(DAYS):
            for kind, mark in (("klines", False), ("markPriceKlines", True)):
                write_zip(root, kind, symbol, day, klines_csv(symbol, n, mark=mark))
            write_zip(root, "metrics", symbol, day, metrics_csv(day, symbol=symbol))


def force_order(symbol: str, side: str, price: float, quantity: float, at_ms: int) -> str:
    return json.dumps({"e": "forceOrder", "E": at_ms, "o": {
        "s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": f"{quantity}", "p": f"{price}", "ap": f"{price}",
        "X": "FILLED", "l": f"{quantity}", "z": f"{quantity}", "T": at_ms}})


def write_events(path: Path) -> int:
    """Liquidations on day 2 in two sessions (14:00 and 18:00 UTC) at each bar's wick, three of XRPUSDT (no
    history); returns how many have history."""
    lines = []
    for symbol in BASE:
        c = closes(symbol)
        for hour in (14, 18):
            for k in range(12):
                i = 288 + hour * 12 + k
                at = START + i * BAR + 150_000
                lines.append(force_order(symbol, "SELL", float(c[i - 1]) * 0.997, 0.5, at))  # a long liquidated
                lines.append(force_order(symbol, "BUY", float(c[i - 1]) * 1.003, 0.5, at + 1_000))
    with_history = len(lines)
    lines += [force_order("XRPUSDT", "SELL", 0.6, 1000.0, START + 300 * BAR + j * 60_000) for j in range(3)]
    lines.sort(key=lambda line: json.loads(line)["o"]["T"])
    path.write_text("\n".join(lines) + "\n")
    return with_history


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, int]:
    write_history(tmp_path / "history")
    events = tmp_path / "events.jsonl"
    return tmp_path / "history", events, write_events(events)


def test_the_model_is_scored_and_says_not_validated_with_reasons(setup: tuple[Path, Path, int],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    history, events, scored = setup
    assert main(["validate-estimated", "--events", str(events), "--history", str(history)]) == 0
    out = capsys.readouterr().out
    assert "predictor model on events.jsonl" in out and "marks from the history's bars" in out
    assert "model: window 12h, attribution taker" in out and "brackets of 2025-12-25" in out
    assert "history " + str(history) + ": 2 symbols, 1152 bars, 2024-03-01T00:00:00Z .. 2024-03-02T23:59:59Z" in out
    assert "3 events of 1 symbols without history: not scored (XRPUSDT)" in out
    assert f"  {scored} events scored (0 without a mark" in out
    assert "verdict: not validated" in out
    assert "2 symbols, fewer than 20" in out and "days, fewer than 14" in out and "2 sessions, fewer than 5" in out
    assert "shuffled" in out and "not wired" not in out


def test_json_carries_what_the_layer_shows_and_reads_back(setup: tuple[Path, Path, int], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    history, events, scored = setup
    assert main(["validate-estimated", "--events", str(events), "--history", str(history), "--json",
                 "--window", "24h", "--attribution", "even", "--leverage-mix", "10:0.5,25:0.5"]) == 0
    text = capsys.readouterr().out
    out = json.loads(text)
    assert out["predictor"] == "model" and out["validated"] is False and out["events_file"] == "events.jsonl"
    assert out["score"]["predictor"] == "model" and out["score"]["events"] == scored
    assert out["score"]["abstained"] < scored  # the model had a state for most events (24h window: day 2 only)
    assert out["baselines"]["shuffled"]["predictor"] == "shuffled model"
    assert out["model"] == {"window": "24h", "attribution": "even", "leverage_mix": [[10.0, 0.5], [25.0, 0.5]]}
    assert out["history"]["from"] == "2024-03-01T00:00:00Z" and out["history"]["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert out["brackets"].startswith("brackets of 2025-12-25")
    assert out["without_history"] == {"events": 3, "symbols": ["XRPUSDT"]}
    assert any("fewer than 20" in r for r in out["reasons"])
    report = tmp_path / "validation.json"
    report.write_text(text)
    verdict = load_validation(report)
    assert not verdict.validated and verdict.label == "not validated"
    assert "fewer than 20" in verdict.summary and "window 24h" in verdict.summary


def test_recent_prints_over_the_same_history_scores_the_same_events(setup: tuple[Path, Path, int],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    history, events, scored = setup
    assert main(["validate-estimated", "--events", str(events), "--history", str(history), "--json",
                 "--predictor", "recent-prints"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predictor"] == "recent-prints" and out["score"]["events"] == scored
    assert set(out["baselines"]) == {"recent-prints", "climatology", "shuffled", "model"}
    assert out["baselines"]["shuffled"]["predictor"] == "shuffled model"


@pytest.mark.parametrize(("predictor", "validated", "expected", "said"), [
    ("model", True, True, "validated: r.json"),
    ("model", False, False, "not validated: too few"),
    ("recent-prints", True, False, "scored recent-prints, not the model"),
])
def test_load_validation_trusts_only_a_model_that_passed(tmp_path: Path, predictor: str, validated: bool,
                                                         expected: bool, said: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"predictor": predictor, "validated": validated,
                                "reasons": [] if validated else ["too few"]}))
    verdict = load_validation(path)
    assert verdict.validated is expected and said in verdict.summary


@pytest.mark.parametrize(("text", "message"), [
    (None, "no such validation report"),
    ("{not json", "not a validation report"),
    ('{"predictor": "model"}', "not a validate-estimated --json report"),
    ("[1]", "expected a JSON object"),
])
def test_load_validation_names_a_bad_file(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "r.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        load_validation(path)
    assert str(path) in str(err.value)


def test_bad_history_is_one_line_and_exit_2(setup: tuple[Path, Path, int], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    history, events, _ = setup
    cases = [
        (["--history", str(tmp_path / "nowhere")], "--history " + str(tmp_path / "nowhere") + ": no such folder"),
        (["--predictor", "model"], "--predictor model needs --history DIR"),
        (["--history", str(history), "--leverage-mix", "10:0.5"], "--leverage-mix 10:0.5: leverage_mix: shares"),
        (["--history", str(history), "--leverage-mix", "ten"], "expected LEVERAGE:SHARE pairs"),
        (["--history", str(tmp_path / "empty")], "no history of any of the events' 3 symbols"),
    ]
    (tmp_path / "empty").mkdir()
    for argv, message in cases:
        assert main(["validate-estimated", "--events", str(events), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
    # a symbol whose klines cover a day without open interest: no bars
    other = DAYS[1] + timedelta(days=5)
    for f in (history / "metrics" / "ETHUSDT").iterdir():
        f.unlink()
    write_zip(history, "metrics", "ETHUSDT", other, metrics_csv(other, symbol="ETHUSDT"))
    assert main(["validate-estimated", "--events", str(events), "--history", str(history)]) == 2
    err = capsys.readouterr().err
    assert "no bars of ETHUSDT at 5m" in err and err.count("\n") == 1


def test_parquet_history_scores_what_the_zips_score(setup: tuple[Path, Path, int], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The history kept as Parquet (fetch-history --parquet, issue 17) is read through DuckDB: the same verdict."""
    history, events, _scored = setup
    parquet = tmp_path / "parquet"
    for symbol in ("BTCUSDT", "ETHUSDT"):
        export_history(history, parquet, symbol)
    said = []
    for root in (history, parquet):
        assert main(["validate-estimated", "--events", str(events), "--history", str(root), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["history"].pop("dir", str(root)) == str(root)
        said.append(out)
    assert said[0]["history"]["symbols"] == ["BTCUSDT", "ETHUSDT"] and said[0]["without_history"]["events"] == 3
    assert said[0] == said[1]
