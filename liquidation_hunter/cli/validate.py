"""``liquidation-hunter validate-estimated --events FILE [--prices FILE] [--predictor NAME] [--json]``: score a
predictor of liquidation levels against observed liquidations (:mod:`live_heatmap.estimated.harness`) and
print the gate's verdict (docs/ESTIMATED.md, "Validation"). The model's predictor is wired in a later step."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from liquidation_hunter.data.prices import load_prices
from live_heatmap.estimated.baselines import MarkAt
from live_heatmap.estimated.harness import BASELINES, Report, evaluate
from live_heatmap.estimated.marks import LastPrice
from live_heatmap.estimated.validation import LAG_MS, Event, Interval, Score
from live_heatmap.store.history import load_events

__all__ = ["add_validate_parser", "cmd_validate"]

MODEL_NOTE = "the model's predictor is not wired into this command yet (issue 14: a later step)"


def add_validate_parser(sub: Any) -> None:
    """Register ``validate-estimated`` on the command's subparsers."""
    p = sub.add_parser("validate-estimated", help="score estimated liquidation levels against observed ones",
                       description="Log-score gain G over climatology (count- and notional-weighted, session-block "
                       "bootstrap interval), top-5 shares against the baselines, and the verdict: 'validated' "
                       "only when G's lower bound > 0, the top-5 share beats recent prints, over >= 1,000 events, "
                       ">= 20 symbols, >= 5 sessions and >= 14 days. " + MODEL_NOTE + ".")
    p.add_argument("--events", required=True, help="observed liquidations: any file `clusters --events` reads")
    p.add_argument("--prices", action="append", metavar="[SYMBOL=]FILE",
                   help="trades, aggTrades or klines (repeatable): the mark at each event; default: the last "
                        "liquidation price of the symbol before it")
    p.add_argument("--predictor", choices=BASELINES, default="recent-prints",
                   help="what is scored (default recent-prints); " + MODEL_NOTE)
    p.add_argument("--max-age-minutes", type=float, default=60.0,
                   help="a mark older than this at an event's state time leaves the event unscored (default 60)")
    p.add_argument("--session-gap-minutes", type=float, default=60.0,
                   help="a gap between events longer than this starts a new session (default 60)")
    p.add_argument("--seed", type=int, default=14, help="the bootstrap's and the shuffle's seed (default 14)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.events)
    if not path.is_file():
        raise ValueError(f"--events {path}: no such file")
    for flag, value in (("--max-age-minutes", args.max_age_minutes), ("--session-gap-minutes",
                                                                       args.session_gap_minutes)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{flag} {value}: must be a positive number of minutes")
    try:
        loaded = load_events(path)
    except ValueError as exc:
        raise ValueError(f"--events {exc}") from None
    if not loaded:
        raise ValueError(f"{path} holds no liquidation events")
    events = [Event(e.symbol, e.trade_time, str(e.side), e.price, e.notional) for e in loaded]
    stale = int(args.max_age_minutes * 60_000)
    if args.prices:
        try:
            series = load_prices(args.prices)
        except ValueError as exc:
            raise ValueError(f"--prices {exc}") from None
        mark_at: MarkAt = LastPrice(((s, int(t), float(p)) for s in series.symbols
                                     for t, p in zip(series.times(s), series.prices(s), strict=True)), stale_ms=stale)
        origin = f"marks from {', '.join(Path(p).name for p in args.prices)}"
    else:
        mark_at = LastPrice(((e.symbol, e.time_ms, e.price) for e in events), stale_ms=stale)
        origin = "marks from the events themselves (the symbol's last liquidation price before each event's state)"
    report = evaluate(events, mark_at, args.predictor, gap_minutes=args.session_gap_minutes, seed=args.seed)
    if args.json:
        print(json.dumps(_as_json(report, path.name, origin), indent=2))
    else:
        print(_as_text(report, path.name, origin))
    return 0


def _interval(i: Interval) -> dict[str, float | None]:
    return {k: (None if math.isnan(v) else round(v, 6)) for k, v in (("value", i.value), ("low", i.low),
                                                                      ("high", i.high))}


def _score(s: Score) -> dict[str, Any]:
    return {"predictor": s.predictor, "g_count": _interval(s.g_count), "g_notional": _interval(s.g_notional),
            "top5_share": round(s.top5_share, 6), "events": s.events, "symbols": s.symbols, "sessions": s.sessions,
            "days": round(s.days, 3), "abstained": s.abstained, "outside": s.outside, "unmarked": s.unmarked}


def _as_json(report: Report, events: str, origin: str) -> dict[str, Any]:
    return {"events_file": events, "marks": origin, "state_lag_s": LAG_MS // 1000, "score": _score(report.score),
            "baselines": {k: _score(v) for k, v in report.baselines.items()},
            "validated": report.gate.validated, "reasons": list(report.gate.reasons), "note": MODEL_NOTE}


def _g(i: Interval) -> str:
    return f"{i.value:+.4f} [{i.low:+.4f}, {i.high:+.4f}]"


def _as_text(report: Report, events: str, origin: str) -> str:
    s = report.score
    lines = [f"validate-estimated: predictor {s.predictor} on {events}; {origin}",
             f"  {s.events} events scored ({s.unmarked} without a mark, {s.outside} beyond +-10 % of it; "
             f"{s.abstained} with no prediction, scored as climatology), {s.symbols} symbols, {s.sessions} "
             f"sessions, {s.days:.1f} days",
             f"  G (log-score gain over climatology, 95 % session-bootstrap interval): count-weighted {_g(s.g_count)}, "
             f"notional-weighted {_g(s.g_notional)}",
             "  top-5 share (liquidation notional within 0.25 % of the five heaviest bins):"]
    lines += [f"    {name:<14} {b.top5_share:6.1%}" + ("  <- scored" if b is s else "")
              for name, b in report.baselines.items()]
    lines.append("  verdict: " + ("validated" if report.gate.validated else "not validated"))
    lines += [f"    - {reason}" for reason in report.gate.reasons]
    lines.append(f"  note: {MODEL_NOTE}")
    return "\n".join(lines)
