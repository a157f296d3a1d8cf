"""``liquidation-hunter validate-estimated --events FILE [--history DIR] [--prices FILE] [--predictor NAME]
[--json]``: score a predictor of liquidation levels against observed liquidations
(:mod:`live_heatmap.estimated.harness`) and print the gate's verdict (docs/ESTIMATED.md, "Validation" and
"Validating the model").

With ``--history`` (what ``fetch-history`` stored) the model runs over each event symbol's bars
(:func:`~liquidation_hunter.data.history_bars.load_history_bars`, an
:class:`~live_heatmap.estimated.layer.EstimatedLayer` with the ``--window``/``--attribution``/``--leverage-mix``
settings, :class:`~live_heatmap.estimated.replay.ModelStates`) and is the default predictor; the events of
symbols without history are left out and named. ``--json`` is what
:func:`~liquidation_hunter.data.validation_report.load_validation` reads back for the layer's verdict."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liquidation_hunter.data.history_bars import has_history, load_history_bars
from liquidation_hunter.data.prices import load_prices
from live_heatmap.common.symbols import symbol_key
from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.baselines import MarkAt
from live_heatmap.estimated.config import ATTRIBUTIONS, DEFAULT_LEVERAGE_MIX, WINDOWS_MS, Attribution, ModelConfig
from live_heatmap.estimated.harness import PREDICTORS, Report, evaluate
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.estimated.marks import LastPrice
from live_heatmap.estimated.replay import ModelStates
from live_heatmap.estimated.validation import LAG_MS, Event, Interval, Score
from live_heatmap.store.history import load_events
from live_heatmap.store.target import mask_url, source_exists, source_name

__all__ = ["add_validate_parser", "cmd_validate"]

WINDOW_NAMES = {v: k for k, v in WINDOWS_MS.items()}


@dataclass(frozen=True, slots=True)
class _Model:
    """What the model ran on: the history folder, its symbols and range, the settings and the bracket label."""

    folder: str
    symbols: tuple[str, ...]
    first_ms: int
    last_ms: int
    bars: int
    notes: tuple[str, ...]
    config: ModelConfig
    brackets: str
    without: tuple[str, ...]
    """Event symbols without history (their events are not scored)."""
    without_events: int


def add_validate_parser(sub: Any) -> None:
    """Register ``validate-estimated`` on the command's subparsers."""
    p = sub.add_parser("validate-estimated", help="score estimated liquidation levels against observed ones",
                       description="Log-score gain G over climatology (count- and notional-weighted, session-block "
                       "bootstrap interval), top-5 shares against the baselines, and the verdict: 'validated' "
                       "only when G's lower bound > 0, the top-5 share beats recent prints, over >= 1,000 events, "
                       ">= 20 symbols, >= 5 sessions and >= 14 days. With --history the model is scored (default).")
    p.add_argument("--events", required=True, help="observed liquidations: any file `clusters --events` reads")
    p.add_argument("--prices", action="append", metavar="[SYMBOL=]FILE",
                   help="trades, aggTrades or klines (repeatable): the mark at each event; default: the last "
                        "liquidation price of the symbol before it")
    p.add_argument("--history", metavar="DIR",
                   help="what `fetch-history` stored (e.g. var/history/binance): the model runs over each event "
                        "symbol's bars; the marks are the bars' closes unless --prices is given")
    p.add_argument("--interval", default="5m", help="the klines' interval under --history (default 5m)")
    p.add_argument("--predictor", choices=PREDICTORS, default=None,
                   help="what is scored (default: model with --history, recent-prints without); 'shuffled' is the "
                        "model at other times with --history, recent prints at other times without")
    p.add_argument("--window", choices=tuple(WINDOWS_MS), default="12h",
                   help="the model's window: positions older than this leave (default 12h)")
    p.add_argument("--attribution", choices=ATTRIBUTIONS, default="taker",
                   help="how the model splits new notional between longs and shorts (default taker)")
    p.add_argument("--leverage-mix", metavar="LEV:SHARE,...",
                   help="the model's leverage mix, shares summing to 1 (default "
                        + ",".join(f"{lev:g}:{share:g}" for lev, share in DEFAULT_LEVERAGE_MIX) + ")")
    p.add_argument("--max-age-minutes", type=float, default=60.0,
                   help="a mark older than this at an event's state time leaves the event unscored (default 60)")
    p.add_argument("--session-gap-minutes", type=float, default=60.0,
                   help="a gap between events longer than this starts a new session (default 60)")
    p.add_argument("--seed", type=int, default=14, help="the bootstrap's and the shuffle's seed (default 14)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    path = args.events  # a file, a Parquet dataset's directory or a postgresql:// URL
    if not source_exists(path):
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
        raise ValueError(f"{mask_url(path)} holds no liquidation events")
    events = [Event(symbol_key(e.symbol), e.trade_time, str(e.side), e.price, e.notional) for e in loaded]
    stale = int(args.max_age_minutes * 60_000)
    predictor = args.predictor or ("model" if args.history else "recent-prints")
    if predictor == "model" and not args.history:
        raise ValueError("--predictor model needs --history DIR (the bars the model runs over; see fetch-history)")
    model: _Model | None = None
    states: ModelStates | None = None
    closes: list[tuple[str, int, float]] = []
    if args.history:
        config = ModelConfig(leverage_mix=_leverage_mix(args.leverage_mix), attribution=_attribution(args.attribution),
                             window_ms=WINDOWS_MS[args.window])
        layer = EstimatedLayer(config)
        bars, notes = _history(Path(args.history), sorted({e.symbol for e in events}), args.interval)
        if not bars:
            raise ValueError(f"--history {args.history}: no history of any of the events' "
                             f"{len({e.symbol for e in events})} symbols")
        without = tuple(sorted({e.symbol for e in events} - set(bars)))
        scored = [e for e in events if e.symbol in bars]
        times: dict[str, list[int]] = {}
        for e in scored:
            times.setdefault(e.symbol, []).append(e.time_ms - LAG_MS)
        states = ModelStates(layer, bars, times, max_age_ms=stale)
        closes = [(s, b.close_time, b.close) for s, series in bars.items() for b in series]
        model = _Model(args.history, tuple(sorted(bars)), min(v[0].open_time for v in bars.values()),
                       max(v[-1].close_time for v in bars.values()), sum(len(v) for v in bars.values()), tuple(notes),
                       config, layer.brackets.label, without, len(events) - len(scored))
        events = scored
    if args.prices:
        try:
            series = load_prices(args.prices)
        except ValueError as exc:
            raise ValueError(f"--prices {exc}") from None
        mark_at: MarkAt = LastPrice(((s, int(t), float(p)) for s in series.symbols
                                     for t, p in zip(series.times(s), series.prices(s), strict=True)), stale_ms=stale)
        origin = f"marks from {', '.join(Path(p).name for p in args.prices)}"
    elif model is not None:
        mark_at = LastPrice(closes, stale_ms=stale)
        origin = "marks from the history's bars (the close of the last bar closed by each event's state time)"
    else:
        mark_at = LastPrice(((e.symbol, e.time_ms, e.price) for e in events), stale_ms=stale)
        origin = "marks from the events themselves (the symbol's last liquidation price before each event's state)"
    report = evaluate(events, mark_at, predictor, state_at=states, gap_minutes=args.session_gap_minutes,
                      seed=args.seed)
    name = source_name(path)
    if args.json:
        print(json.dumps(_as_json(report, predictor, name, origin, model), indent=2))
    else:
        print(_as_text(report, name, origin, model))
    return 0


def _leverage_mix(text: str | None) -> tuple[tuple[float, float], ...]:
    """``5:0.15,10:0.3,...`` as (leverage, share) pairs (None: the default mix)."""
    if text is None:
        return DEFAULT_LEVERAGE_MIX
    pairs = []
    for part in text.split(","):
        lev, sep, share = part.partition(":")
        try:
            if not sep:
                raise ValueError
            pairs.append((float(lev), float(share)))
        except ValueError:
            raise ValueError(f"--leverage-mix {text}: expected LEVERAGE:SHARE pairs separated by commas, "
                             f"e.g. 10:0.5,25:0.5 (got {part!r})") from None
    try:
        ModelConfig(leverage_mix=tuple(pairs))
    except ValueError as exc:
        raise ValueError(f"--leverage-mix {text}: {exc}") from None
    return tuple(pairs)


def _attribution(name: str) -> Attribution:
    for known in ATTRIBUTIONS:
        if name == known:
            return known  # type: ignore[return-value]  # one of Attribution's literals
    raise ValueError(f"--attribution {name}: one of {', '.join(ATTRIBUTIONS)}")


def _history(root: Path, symbols: Sequence[str], interval: str) -> tuple[dict[str, list[Bar]], list[str]]:
    """The bars of each of ``symbols`` with history under ``root`` (klines or metrics folder present), and the
    join's notes. A symbol with a folder but no bars is an error naming it."""
    if not root.is_dir():
        raise ValueError(f"--history {root}: no such folder")
    bars: dict[str, list[Bar]] = {}
    notes: list[str] = []
    for symbol in symbols:
        if not has_history(root, symbol):
            continue
        try:
            found = load_history_bars(root, symbol, interval=interval)
        except ValueError as exc:
            raise ValueError(f"--history {exc}") from None
        if not found.bars:
            raise ValueError(f"--history {root}: no bars of {symbol} at {interval} (no kline with open interest)")
        bars[symbol] = found.bars
        notes += [f"{symbol}: {n}" for n in found.notes()]
    return bars, notes

def _interval(i: Interval) -> dict[str, float | None]:
    return {k: (None if math.isnan(v) else round(v, 6)) for k, v in (("value", i.value), ("low", i.low),
                                                                      ("high", i.high))}


def _score(s: Score) -> dict[str, Any]:
    return {"predictor": s.predictor, "g_count": _interval(s.g_count), "g_notional": _interval(s.g_notional),
            "top5_share": round(s.top5_share, 6), "events": s.events, "symbols": s.symbols, "sessions": s.sessions,
            "days": round(s.days, 3), "abstained": s.abstained, "outside": s.outside, "unmarked": s.unmarked}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _model_json(m: _Model) -> dict[str, Any]:
    return {"history": {"dir": m.folder, "symbols": list(m.symbols), "from": _iso(m.first_ms), "to": _iso(m.last_ms),
                        "bars": m.bars, "notes": list(m.notes)},
            "model": {"window": WINDOW_NAMES[m.config.window_ms], "attribution": m.config.attribution,
                      "leverage_mix": [[lev, share] for lev, share in m.config.leverage_mix]},
            "brackets": m.brackets,
            "without_history": {"events": m.without_events, "symbols": list(m.without)}}


def _as_json(report: Report, predictor: str, events: str, origin: str, model: _Model | None) -> dict[str, Any]:
    out = {"predictor": predictor, "events_file": events, "marks": origin, "state_lag_s": LAG_MS // 1000,
           "score": _score(report.score), "baselines": {k: _score(v) for k, v in report.baselines.items()},
           "validated": report.gate.validated, "reasons": list(report.gate.reasons)}
    return out | (_model_json(model) if model is not None else
                  {"history": None, "model": None, "brackets": None, "without_history": None})


def _g(i: Interval) -> str:
    return f"{i.value:+.4f} [{i.low:+.4f}, {i.high:+.4f}]"


def _without(m: _Model) -> str:
    named = ", ".join(m.without[:10]) + (f" and {len(m.without) - 10} more" if len(m.without) > 10 else "")
    return f"{m.without_events} events of {len(m.without)} symbols without history: not scored ({named})"


def _as_text(report: Report, events: str, origin: str, model: _Model | None) -> str:
    s = report.score
    lines = [f"validate-estimated: predictor {s.predictor} on {events}; {origin}"]
    if model is not None:
        c = model.config
        mix = ",".join(f"{lev:g}:{share:g}" for lev, share in c.leverage_mix)
        lines += [f"  model: window {WINDOW_NAMES[c.window_ms]}, attribution {c.attribution}, leverage mix {mix}; "
                  f"{model.brackets}",
                  f"  history {model.folder}: {len(model.symbols)} symbols, {model.bars} bars, "
                  f"{_iso(model.first_ms)} .. {_iso(model.last_ms)}"]
        lines += [f"    note: {n}" for n in model.notes]
        if model.without:
            lines.append(f"  {_without(model)}")
    lines += [f"  {s.events} events scored ({s.unmarked} without a mark, {s.outside} beyond +-10 % of it; "
              f"{s.abstained} with no prediction, scored as climatology), {s.symbols} symbols, {s.sessions} "
              f"sessions, {s.days:.1f} days",
              f"  G (log-score gain over climatology, 95 % session-bootstrap interval): count-weighted "
              f"{_g(s.g_count)}, notional-weighted {_g(s.g_notional)}",
              "  top-5 share (liquidation notional within 0.25 % of the five heaviest bins):"]
    lines += [f"    {name:<14} {b.top5_share:6.1%}" + ("  <- scored" if b is s else "")
              for name, b in report.baselines.items()]
    lines.append("  verdict: " + ("validated" if report.gate.validated else "not validated"))
    lines += [f"    - {reason}" for reason in report.gate.reasons]
    return "\n".join(lines)
