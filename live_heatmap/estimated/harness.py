"""One validation run: a predictor and its baselines scored on the same events, and the gate's verdict.

:func:`evaluate` is what ``liquidation-hunter validate-estimated`` prints: the chosen predictor's G (count- and
notional-weighted, with the session-block bootstrap interval), the top-5 shares of it and of the baselines
(shuffled, recent prints, climatology), and :func:`.validation.gate`'s verdict with its reasons. The model is
the predictor ``"model"``: ``ModelPredictor(state_at, prior=Climatology(...))`` over the model's states
(``state_at``, e.g. :class:`.replay.ModelStates`), its shuffled baseline the same with
:func:`.baselines.shuffled_states` (the model's states from other times, the prior of the asked time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from live_heatmap.estimated.baselines import (
    Climatology,
    LevelState,
    MarkAt,
    ModelPredictor,
    RecentPrints,
    Shuffled,
    shuffled_states,
)
from live_heatmap.estimated.validation import LAG_MS, Event, Gate, Predictor, Score, gate, score

__all__ = ["BASELINES", "PREDICTORS", "Report", "evaluate"]

BASELINES = ("recent-prints", "climatology", "shuffled")
"""The baselines :func:`evaluate` can score by name; ``shuffled`` is the chosen predictor at other times (recent
prints when a baseline is chosen)."""
PREDICTORS = ("model", *BASELINES)
"""Every name :func:`evaluate` scores; ``model`` needs the model's states (``state_at``)."""


@dataclass(frozen=True, slots=True)
class Report:
    """The chosen predictor's score, each baseline's (``shuffled`` is the chosen predictor shuffled in time, the
    model shuffled when the model's states are given; ``model`` too then) and the verdict."""

    score: Score
    baselines: dict[str, Score]
    gate: Gate


def evaluate(events: Sequence[Event], mark_at: MarkAt, predictor: str | Predictor = "recent-prints", *,
             state_at: Callable[[str, int], LevelState | None] | None = None, gap_minutes: float = 60.0,
             boots: int = 1000, seed: int = 14, lag_ms: int = LAG_MS) -> Report:
    """Score ``predictor`` (a name of :data:`PREDICTORS` or any :class:`.validation.Predictor`) and the baselines
    on ``events`` (sorted by time here), each event's mark ``mark_at(symbol, time - lag_ms)``; ``state_at``: the
    model's state at a time (needed for ``"model"``; asked at the events' state times only)."""
    events = sorted(events, key=lambda e: e.time_ms)
    marks = [mark_at(e.symbol, e.time_ms - lag_ms) for e in events]
    times: dict[str, list[int]] = {}
    for e in events:
        times.setdefault(e.symbol, []).append(e.time_ms - lag_ms)
    recent = RecentPrints(events, mark_at)
    built: dict[str, Predictor] = {"recent-prints": recent,
                                   "climatology": Climatology(events, marks, mark_at, gap_minutes=gap_minutes,
                                                              lag_ms=lag_ms),
                                   "shuffled": Shuffled(recent, times, mark_at, seed=seed)}
    if state_at is not None:  # the model is scored too, and the shuffled baseline is the model shuffled
        clim = built["climatology"]
        built["model"] = ModelPredictor(state_at, prior=clim)
        built["shuffled"] = ModelPredictor(shuffled_states(state_at, times, mark_at, seed=seed),
                                           name="shuffled model", prior=clim)
    if isinstance(predictor, str):
        if predictor == "model" and state_at is None:
            raise ValueError("predictor 'model' needs the model's states (state_at)")
        if predictor not in built:
            raise ValueError(f"unknown predictor {predictor!r}: one of {', '.join(PREDICTORS)}")
        chosen = built[predictor]
        if state_at is None and predictor != "shuffled":  # the shuffled baseline: the chosen one at other times
            built["shuffled"] = Shuffled(chosen, times, mark_at, seed=seed)
    else:
        chosen = predictor
        built["shuffled"] = Shuffled(chosen, times, mark_at, seed=seed)

    def run(p: Predictor) -> Score:
        return score(events, marks, p, gap_minutes=gap_minutes, boots=boots, seed=seed, lag_ms=lag_ms)

    main = run(chosen)
    baselines = {name: (main if p is chosen else run(p)) for name, p in built.items()}
    return Report(main, baselines, gate(main, baselines["recent-prints"].top5_share))
