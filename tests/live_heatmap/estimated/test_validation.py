"""The validation harness (live_heatmap.estimated.validation, .baselines, .harness): G on hand-made densities,
the gate's conditions, and a synthetic market (tests/support/synthetic_market.py) where it must tell the true
leverage mix from a wrong one and put a time-shuffled model near zero."""

from __future__ import annotations

import numpy as np
import pytest

from live_heatmap.estimated.baselines import Climatology, ModelPredictor, RecentPrints, shuffled_states
from live_heatmap.estimated.harness import evaluate
from live_heatmap.estimated.marks import LastPrice
from live_heatmap.estimated.validation import (
    GRID,
    Density,
    Event,
    Interval,
    Score,
    bin_of,
    gate,
    log_gain,
    score,
    sessions,
    to_density,
)
from tests.support.synthetic_market import ALL_100X, TRUE_MIX, StateBook, ledger_states, paths

HOUR = 3_600_000


class Fixed:
    """A predictor answering the same densities at every time, its mark ``mark``."""

    def __init__(self, long: np.ndarray | None, short: np.ndarray | None, mark: float = 100.0) -> None:
        self.name, self._d = "fixed", Density(mark, long, short)

    def predict(self, symbol: str, at_ms: int) -> Density | None:
        return self._d


def _events(n_sessions: int = 3, per: int = 20, offsets: tuple[float, ...] = (0.01, 0.02)) -> list[Event]:
    out = []
    for k in range(n_sessions):
        for i in range(per):
            d = offsets[i % len(offsets)]
            out.append(Event("BTCUSDT", k * 5 * HOUR + i * 60_000, "long", 100.0 * np.exp(-d), 1000.0 + i))
    return out


def test_gain_is_exactly_zero_when_q_is_c() -> None:
    c = to_density(np.array([-0.01, 0.02]), np.array([1.0, 3.0]))
    assert c is not None
    assert np.all(log_gain(c, c) == 0.0)


def test_climatology_as_predictor_scores_g_zero_exactly() -> None:
    events = _events()
    mark = LastPrice([("BTCUSDT", 0, 100.0)], stale_ms=100 * HOUR)
    marks = [mark(e.symbol, e.time_ms) for e in events]
    s = score(events, marks, Climatology(events, marks, mark), boots=50)
    assert s.g_count.value == 0.0 and s.g_notional.value == 0.0 and s.g_count.low == 0.0


def test_a_density_where_the_events_are_gains_and_one_elsewhere_loses() -> None:
    events = _events(offsets=(0.01, 0.01, 0.02, 0.03, 0.04))  # climatology spread over four distances
    marks = [100.0] * len(events)
    # the events' own distances, unsmoothed: sharper than the climatology (smoothed 0.1 %) where events are
    here = to_density(-np.array([0.01, 0.02, 0.03, 0.04]), np.array([2.0, 1.0, 1.0, 1.0]), width=1e-5)
    there = to_density(np.array([0.05]), np.array([1.0]))
    good = score(events, marks, Fixed(here, None), boots=50)
    bad = score(events, marks, Fixed(there, None), boots=50)
    assert good.g_count.value > 0 and good.top5_share > 0
    assert bad.g_count.value < 0 and bad.top5_share == 0.0
    assert bad.g_count.value >= np.log(0.1) - 1e-12  # eps = 0.1 bounds a miss at ln(0.1)


def test_no_prediction_gains_nothing_and_is_counted() -> None:
    events = _events()
    s = score(events, [100.0] * len(events), Fixed(None, None), boots=20)
    assert s.abstained == len(events) and s.g_count.value == 0.0


def test_sessions_split_on_gaps_and_bootstrap_is_deterministic() -> None:
    assert sessions([0, 60_000, 60_000 + 61 * 60_000, 60_000 + 62 * 60_000]).tolist() == [0, 0, 1, 1]
    events = [e for k in range(5) for e in _events(n_sessions=1, per=10, offsets=(0.01, 0.01 * (k + 2)))]
    events = [Event(e.symbol, e.time_ms + i // 10 * 5 * HOUR, e.side, e.price, e.notional)
              for i, e in enumerate(events)]  # five sessions, each its own mix of distances
    p = Fixed(to_density(np.array([-0.01]), np.array([1.0])), None)
    a, b = (score(events, [100.0] * len(events), p, boots=200, seed=3) for _ in range(2))
    assert a.g_count == b.g_count and a.sessions == 5
    assert a.g_count.low <= a.g_count.value <= a.g_count.high
    assert a.g_count.low < a.g_count.high  # sessions differ, so the interval has width


def test_events_off_the_grid_or_unmarked_are_not_scored() -> None:
    events = _events(n_sessions=1, per=4)
    far = Event("BTCUSDT", 10**6, "long", 50.0, 1.0)
    s = score([*events, far], [100.0, None, 100.0, 100.0, 100.0], Fixed(None, None), boots=10)
    assert (s.events, s.unmarked, s.outside) == (3, 1, 1)
    assert bin_of(np.array([0.0, 0.1, 0.1006, -0.2])).tolist() == [100, 200, -1, -1]
    assert GRID.size == 201


def _score(**kw: object) -> Score:
    base: dict[str, object] = {"predictor": "m", "g_count": Interval(0.2, 0.1, 0.3),
                               "g_notional": Interval(0.2, 0.05, 0.3), "top5_share": 0.6, "events": 1000,
                               "symbols": 20, "sessions": 5, "days": 14.0, "abstained": 0, "outside": 0}
    base.update(kw)
    return Score(**base)  # type: ignore[arg-type]


def test_gate_passes_only_when_every_condition_holds() -> None:
    assert gate(_score(), 0.5).validated and gate(_score(), 0.5).reasons == ()


@pytest.mark.parametrize(("change", "share", "named"), [
    ({"g_count": Interval(0.2, -0.01, 0.3)}, 0.5, "count-weighted G"),
    ({"g_notional": Interval(0.2, 0.0, 0.3)}, 0.5, "notional-weighted G"),
    ({}, 0.6, "does not beat recent prints"),
    ({}, None, "not measured"),
    ({"events": 999}, 0.5, "999 events, fewer than 1000"),
    ({"symbols": 19}, 0.5, "19 symbols, fewer than 20"),
    ({"sessions": 4}, 0.5, "4 sessions, fewer than 5"),
    ({"days": 13.9}, 0.5, "13.9 days, fewer than 14"),
])
def test_gate_names_each_unmet_condition(change: dict[str, object], share: float | None, named: str) -> None:
    verdict = gate(_score(**change), share)
    assert not verdict.validated
    assert len(verdict.reasons) == 1 and named in verdict.reasons[0]


def test_recent_prints_sees_nothing_after_the_asked_time() -> None:
    events = [Event("X", 0, "long", 99.0, 10.0), Event("X", 120_000, "long", 98.0, 10.0)]
    p = RecentPrints(events, lambda s, t: 100.0)
    before = p.predict("X", 60_000)
    assert before is not None and before.short is None and before.long is not None
    assert int(np.argmax(before.long)) == int(bin_of(np.log(0.99))[0])  # only the print at 0 ms


# Calibrated once (seed 7, 10 symbols x 6 sessions x 144 five-minute bars; 12,516 liquidations): the true mix
# scored G +0.20 (count; interval +0.19..+0.22), all-100x -0.11 (-0.12..-0.09), the time-shuffled true model
# -0.08 (-0.10..-0.06). The thresholds sit well inside those gaps: true's lower bound > 0.1, 100x's upper
# bound < 0, true above 100x by > 0.2, shuffled within 0.15 of zero.
def test_synthetic_market_tells_the_true_mix_from_all_100x_and_shuffled() -> None:
    true_runs, wrong_runs, events = [], [], []
    for path in paths(symbols=10, sessions=6, seed=7):
        states, implied = ledger_states(path, TRUE_MIX)
        true_runs.append((path, states))
        events += implied
        wrong_runs.append((path, ledger_states(path, ALL_100X)[0]))
    events.sort(key=lambda e: e.time_ms)
    true_book, wrong_book = StateBook(true_runs), StateBook(wrong_runs)
    mark = LastPrice(true_book.points())
    marks = [mark(e.symbol, e.time_ms - 60_000) for e in events]
    clim = Climatology(events, marks, mark)
    scores = {name: score(events, marks, ModelPredictor(book, name=name, prior=clim), boots=200)
              for name, book in (("true", true_book), ("100x", wrong_book),
                                 ("shuffled", shuffled_states(true_book, true_book.times(), mark)))}
    assert len(events) > 5000 and scores["true"].sessions == 6
    assert scores["true"].g_count.low > 0.1 and scores["true"].g_notional.low > 0.1
    assert scores["100x"].g_count.high < 0
    assert scores["true"].g_count.value - scores["100x"].g_count.value > 0.2
    assert abs(scores["shuffled"].g_count.value) < 0.15


def test_evaluate_names_the_baselines_and_refuses_an_unknown_predictor() -> None:
    events = _events(n_sessions=2, per=10)
    mark = LastPrice([("BTCUSDT", 0, 100.0)], stale_ms=100 * HOUR)
    report = evaluate(events, mark, "climatology", boots=20)
    assert set(report.baselines) == {"recent-prints", "climatology", "shuffled"}
    assert report.baselines["climatology"] is report.score and not report.gate.validated
    with pytest.raises(ValueError, match="unknown predictor 'magic'"):
        evaluate(events, mark, "magic")
    with pytest.raises(ValueError, match="predictor 'model' needs the model's states"):
        evaluate(events, mark, "model")


class _Flat:
    """A state with the same notional at every grid bin: levels that say nothing."""

    mark = 100.0

    def levels(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        return 100.0 * np.exp(GRID), np.ones(GRID.size)


def test_levels_that_say_nothing_score_about_zero_through_the_prior() -> None:
    events = [e for k in range(5) for e in _events(n_sessions=1, per=10, offsets=(0.01, 0.01 * (k + 2)))]
    events = [Event(e.symbol, e.time_ms + i // 10 * 5 * HOUR, e.side, e.price, e.notional)
              for i, e in enumerate(events)]
    mark = LastPrice([("BTCUSDT", 0, 100.0)], stale_ms=1000 * HOUR)
    marks = [mark(e.symbol, e.time_ms - 60_000) for e in events]
    flat = ModelPredictor(lambda s, t: _Flat(), prior=Climatology(events, marks, mark))
    s = score(events, marks, flat, boots=50)
    assert s.abstained == 0 and abs(s.g_count.value) < 0.01  # the prior alone gains nothing
