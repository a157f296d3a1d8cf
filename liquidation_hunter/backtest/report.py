"""A backtest's report: JSON, Markdown and a self-contained HTML page with the equity curve as a picture.

The same inputs give byte-identical files: JSON with sorted keys and numbers rounded to 8 decimals (``-0``
written as ``0``), no wall-clock time anywhere (the replay's duration is printed by the command, not stored),
and a PNG without the software/date metadata matplotlib would add. matplotlib (extra ``plot``) is imported
only when the picture is drawn, with its Agg canvas directly (no pyplot, no global backend change).

Every figure in the report comes from the trade list and the books' equity snapshots
(:meth:`BacktestResult.summary`); what produced it is named at the top: the tool's version, the SHA-256 of the
effective configuration (printed in full at the end) and of the inputs.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import math
import os
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

from liquidation_hunter import __version__
from liquidation_hunter.backtest.result import BacktestResult, action_kind

__all__ = ["equity_png", "render_html", "render_json", "render_markdown", "render_summary", "report_dict",
           "write_report"]

FORMATS = ("json", "md", "html")
PICTURE = "equity.png"
PLACES = 8
SAMPLE_NOTE = ("Binance's liquidation stream sends at most the latest liquidation per symbol per second, so in a "
               "cascade the heatmap (live and in this replay) sees a sample of the liquidations, not all of them: "
               "counts and notionals are lower bounds.")


# ---------------------------------------------------------------------- numbers and times


def clean(value: Any) -> Any:
    """Plain data with every float rounded to 8 decimals (``-0.0`` -> ``0.0``; NaN and infinities -> None)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        rounded = round(value, PLACES)
        return 0.0 if rounded == 0 else rounded
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def iso(ms: int) -> str:
    """``2025-01-27T16:50:11.123Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def when(ms: int) -> str:
    """``2025-01-27 16:50:11`` (UTC)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def money(value: float | None, sign: bool = True) -> str:
    if value is None:
        return "-"
    value = 0.0 if abs(value) < 0.005 else value
    return f"{value:+,.2f}" if sign else f"{value:,.2f}"


def pct(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f} %" if sign else f"{value:.2f} %"


def price(value: float) -> str:
    return f"{value:.8g}"


def qty(value: float) -> str:
    return f"{value:.10g}"


def level(value: float | None) -> str:
    return "-" if value is None or value == 0 else price(value)


def _side(direction: int) -> str:
    return "long" if direction > 0 else "short" if direction < 0 else "-"


# ---------------------------------------------------------------------- the content


def report_dict(result: BacktestResult) -> dict[str, Any]:
    """The report as plain data (what ``report.json`` holds), numbers rounded (:func:`clean`)."""

    summary = result.summary()
    out: dict[str, Any] = clean({
        "tool": {"name": "liquidation-hunter", "version": __version__},
        "config_sha256": result.config_hash,
        "config": result.config.to_dict(masked=False),
        "inputs": dict(result.inputs),
        "period": {
            "start": iso(result.start_ms), "end": iso(result.end_ms), "start_ms": result.start_ms,
            "end_ms": result.end_ms, "replayed_minutes": result.replayed_ms / 60_000,
            "sessions": [{"start": iso(a), "end": iso(b), "minutes": (b - a) / 60_000} for a, b in result.sessions],
        },
        "symbols": {"traded": list(result.symbols), "without_prices": list(result.unpriced),
                    "without_market_rules": list(result.without_rules)},
        "sample": SAMPLE_NOTE,
        "data": {"events": result.events, "events_accepted": result.events_accepted,
                 "duplicates": result.duplicates, "events_by_symbol": dict(result.events_by_symbol),
                 "price_points": dict(result.price_points)},
        "summary": summary,
        "per_symbol": result.per_symbol(),
        "trades": [{**asdict(t), "entry_at": iso(t.entry_time), "exit_at": iso(t.exit_time), "fees": t.fees}
                   for t in result.trades],
        "open_positions": [asdict(p) for p in result.open_positions],
        "signals": {"recorded": len(result.signals), "by_action": result.signal_counts(),
                    "refused_for_size": len(result.refused()),
                    "list": [{"at": iso(r.at), "at_ms": r.at, "symbol": r.symbol, "side": _side(r.direction),
                              "strength": r.strength, "entry": r.entry, "stop_loss": r.stop_loss,
                              "take_profit": r.take_profit, "level": r.level, "reason": r.reason, "action": r.action,
                              "kind": action_kind(r.action)} for r in result.signals]},
        "sensitivity": [dict(row) for row in result.sensitivity],
        "equity": [asdict(p) for p in result.equity],
        "audit": list(result.audit),
        "jobs": {k: dict(v) for k, v in result.jobs.items()},
        "problems": list(result.problems),
    })
    return out


def render_json(result: BacktestResult) -> bytes:
    return (json.dumps(report_dict(result), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
            + "\n").encode()


@dataclass
class _Section:
    title: str
    text: list[str] = field(default_factory=list)
    headers: Sequence[str] = ()
    rows: list[Sequence[str]] = field(default_factory=list)
    align: str = ""
    """One letter per column: ``l`` or ``r`` (default right for all but the first)."""
    code: str | None = None
    picture: bool = False


def _title(result: BacktestResult) -> str:
    first, last = result.start_ms, result.end_ms
    span = f"{when(first)} - {when(last)[11:] if when(first)[:10] == when(last)[:10] else when(last)} UTC"
    return f"Backtest: {result.config.strategy.name}, {span}"


def _sections(result: BacktestResult, picture: bool) -> list[_Section]:
    s = result.summary()
    sessions = len(result.sessions)
    intro = _Section("", [
        f"{result.config.strategy.name} on {', '.join(result.symbols)}: {result.events:,} liquidations "
        f"({len(result.events_by_symbol)} symbols) and {sum(result.price_points.values()):,} price points replayed, "
        f"{result.replayed_ms / 60_000:,.1f} minutes in {sessions} session{'s' if sessions != 1 else ''}, through "
        "the live bot's heatmap, strategy, risk rules and paper broker on a simulated clock.",
        SAMPLE_NOTE,
        "Orders follow Binance's market rules (step, tick, minimum quantity and minimum order value, "
        "`liquidation_hunter/trading/exchangeInfo_markets_2025.json`): quantities are rounded down to the step and "
        "a signal too small for the market is refused for size (listed below), as Binance would refuse it.",
        f"Produced by liquidation-hunter {__version__} from the configuration with SHA-256 "
        f"`{result.config_hash}` (printed at the end) and these inputs:",
    ], ("input", "SHA-256"), _input_rows(result), "ll")
    summary = _Section("Summary", [], ("figure", "value"), [
        ("trades", f"{s['trades']} ({s['wins']} won, {s['losses']} lost)"),
        ("win rate", pct(100 * s["win_rate"]) if s["win_rate"] is not None else "-"),
        ("gross PnL", f"{money(s['gross_pnl'])} USDT"),
        ("fees", f"{money(-s['fees'])} USDT"),
        ("funding", f"{money(s['funding'])} USDT"),
        ("net PnL (after fees, slippage and funding)", f"{money(s['net_pnl'])} USDT"),
        ("slippage (already in the fill prices)", f"{money(-s['slippage'])} USDT"),
        ("starting wallet -> final equity", f"{money(s['starting_wallet'], False)} -> "
                                            f"{money(s['final_equity'], False)} USDT ({pct(s['return_pct'], True)})"),
        ("max drawdown (equity snapshots)", f"{money(-s['max_drawdown'])} USDT ({pct(s['max_drawdown_pct'])})"),
        ("exposure (time with a position open)", pct(s["exposure_pct"])),
        ("average win / loss", f"{money(s['average_win'])} / {money(s['average_loss'])} USDT"),
        ("profit factor", f"{s['profit_factor']:.2f}" if s["profit_factor"] is not None else "-"),
        ("exits", ", ".join(f"{k} {v}" for k, v in s["exits"].items()) or "-"),
        ("open at the end", f"{s['open_positions']} (unrealised {money(s['unrealized'])} USDT)"),
        ("signals refused for size (below the exchange's minimums)", str(len(result.refused()))),
    ], "lr")
    per_symbol = _Section("Per symbol", [], (
        "symbol", "events", "prices", "signals", "trades", "won", "win rate", "fees", "net PnL"), [
        (r["symbol"], f"{r['events']:,}", f"{r['price_points']:,}", str(r["signals"]), str(r["trades"]),
         str(r["wins"]), pct(100 * r["win_rate"]) if r["win_rate"] is not None else "-", money(-r["fees"]),
         money(r["net_pnl"])) for r in result.per_symbol()])
    if result.unpriced:
        counts = result.events_by_symbol
        listed = sorted(result.unpriced, key=lambda x: (-counts.get(x, 0), x))
        shown = ", ".join(f"{x} ({counts.get(x, 0)})" for x in listed[:30])
        more = f" and {len(listed) - 30} more" if len(listed) > 30 else ""
        per_symbol.text.append(f"Not traded, for want of prices: {len(listed)} symbols (events): {shown}{more}.")
    if result.without_rules:
        per_symbol.text.append(f"Never entered, for want of market rules (step, tick, minimums): "
                               f"{', '.join(result.without_rules)}; their signals are listed with the reason.")
    trades = _Section("Trades", [] if result.trades else ["No trade."], (
        "#", "symbol", "side", "quantity", "entry (UTC)", "entry price", "exit (UTC)", "exit price", "reason",
        "fees", "funding", "net PnL"), [
        (str(i), t.symbol, t.side, qty(t.quantity), when(t.entry_time), price(t.entry_price), when(t.exit_time),
         price(t.exit_price), t.reason, money(-t.fees), money(t.funding), money(t.net_pnl))
        for i, t in enumerate(result.trades, 1)], "rllrlrlrlrrr")
    trades.text.append("Entries fill at the price worsened by the slippage; stops at the stop (or the price, if it "
                       "gapped through) worsened by the slippage; take-profits at their level; `end_of_data`: closed "
                       "at market at the last price where the recording stops.")
    if result.open_positions:
        trades.text.append("Still open: " + "; ".join(
            f"{p.symbol} {p.side} {qty(p.quantity)} from {price(p.entry_price)}, last {price(p.last_price)}, "
            f"unrealised {money(p.unrealized)}" for p in result.open_positions))
    signals = _Section("Signals", [
        f"{len(result.signals)} signals recorded (the bot records a signal once per idea and outcome), by what the "
        "bot did:"], ("what the bot did", "signals"),
        [(k, str(v)) for k, v in result.signal_counts().items()], "lr")
    refused = result.refused()
    refusals = _Section("Signals refused for size", [
        "Signals the exchange would refuse: the quantity, rounded down to the market's step, is below its minimum "
        "quantity or its value below the minimum order value (Binance's `MIN_NOTIONAL`), the symbol has no known "
        "market rules, or the paper broker rejected the entry." if refused else "None: every sized entry met the "
        "market's minimums."], ("time (UTC)", "symbol", "side", "reason") if refused else (),
        [(when(r.at), r.symbol, _side(r.direction), r.action) for r in refused], "llll")
    every = _Section("Every signal", [
        "Each signal the bot recorded and what it did with it (entry, stop-loss and take-profit are the "
        "signal's; fills are in the trade list)." if result.signals else "No signal."],
        ("#", "time (UTC)", "symbol", "side", "strength", "entry", "stop-loss", "take-profit", "what the bot did")
        if result.signals else (),
        [(str(i), when(r.at), r.symbol, _side(r.direction), f"{r.strength:.3f}", level(r.entry), level(r.stop_loss),
          level(r.take_profit), r.action) for i, r in enumerate(result.signals, 1)], "rlllrrrrl")
    sensitivity = _sensitivity(result)
    equity = _Section("Equity", [
        f"Equity at each snapshot (every {result.config.schedule.snapshot:g} s of simulated time and at each "
        "session's end); the drawdown above is measured on these points."], picture=picture)
    audit = _Section("Books audit", ["Balanced: the wallet equals the starting wallet plus realised PnL, less fees, "
                                     "plus funding; every position has its fills; no entry was doubled."]
                     if not result.audit else ["**The books do not balance:**", *[f"- {p}" for p in result.audit]])
    problems = _Section("Problems logged", ["None."] if not result.problems else [f"- {p}" for p in result.problems])
    jobs = _Section("Sessions and jobs", [
        f"Data more than the gap apart split the replay into sessions; jobs run on the `schedule` section's grid "
        f"inside each session. Job runs: {_counts(result.jobs.get('runs', {}))}; skipped as they could change "
        f"nothing: {_counts(result.jobs.get('skipped', {}))}; failed: {_counts(result.jobs.get('failures', {}))}; "
        f"programming errors (a bug: see Problems): {_counts(result.jobs.get('errors', {}))}."],
        ("#", "start (UTC)", "end (UTC)", "minutes"),
        [(str(i), when(a), when(b), f"{(b - a) / 60_000:.1f}") for i, (a, b) in enumerate(result.sessions, 1)])
    config = _Section("Configuration", [f"SHA-256 `{result.config_hash}`:"],
                      code=json.dumps(clean(result.config.to_dict(masked=False)), sort_keys=True, indent=2,
                                      ensure_ascii=False))
    sections = [intro, summary]
    if sensitivity is not None:
        sections.append(sensitivity)
    return [*sections, per_symbol, trades, signals, refusals, every, equity, audit, problems, jobs, config]


def _sensitivity(result: BacktestResult) -> _Section | None:
    rows = result.sensitivity
    if not rows:
        return None
    nets = [row["net_pnl"] for row in rows if row.get("net_pnl") is not None]
    spread = (f" Net PnL goes from {money(min(nets))} to {money(max(nets))} USDT across these cases: a figure that "
              "moves this much with the costs is fragile." if nets else "")
    return _Section("Sensitivity to costs", [
        "The same replay with other costs (the same signals may size, fill and exit differently):" + spread],
        ("costs", "trades", "net PnL", "return", "fees", "max drawdown"),
        [(str(row["case"]), str(row["trades"]) if row.get("trades") is not None else "-",
          money(row.get("net_pnl")), pct(row.get("return_pct"), True),
          money(-row["fees"]) if row.get("fees") is not None else "-", pct(row.get("max_drawdown_pct")))
         if row.get("error") is None
         else (str(row["case"]), f"error: {row['error']}", "", "", "", "") for row in rows], "lrrrrr")


def _counts(counts: Any) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"


def _input_rows(result: BacktestResult) -> list[Sequence[str]]:
    inputs = result.inputs
    files = inputs.get("files", [])
    known = {s.get("sha256") for s in files}
    rows: list[Sequence[str]] = [(f"{item.get('role', 'file')}: {item.get('name')}", str(item.get("sha256")))
                                 for item in files]
    rows += [(f"prices: {item.get('name')} ({item.get('format')})", str(item.get("sha256")))
             for item in inputs.get("price_files", []) if item.get("sha256") not in known]
    rows.append(("events replayed (content)", str(inputs.get("events_sha256"))))
    rows.append(("prices replayed (content)", str(inputs.get("prices_sha256"))))
    return rows


def render_markdown(result: BacktestResult, *, picture: str | None = PICTURE) -> str:
    """The report as Markdown; ``picture``: the PNG's file name next to it (None: no picture)."""
    out = [f"# {_title(result)}", ""]
    for section in _sections(result, picture is not None):
        if section.title:
            out += [f"## {section.title}", ""]
        for line in section.text:
            out += [line, ""] if not line.startswith("- ") else [line]
        if section.text and section.text[-1].startswith("- "):
            out.append("")
        if section.headers:
            align = section.align or "l" + "r" * (len(section.headers) - 1)
            out.append("| " + " | ".join(section.headers) + " |")
            out.append("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in section.rows]
            out.append("")
        if section.picture and picture is not None:
            out += [f"![equity curve]({picture})", ""]
        if section.code is not None:
            out += ["```json", section.code, "```", ""]
    return "\n".join(out)


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1a1a1a;line-height:1.45}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;
border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.25em .6em}th{background:#f4f4f4}td.r{text-align:right;
font-variant-numeric:tabular-nums}code,pre{background:#f6f6f6;font-size:.85em}pre{padding:.8em;overflow:auto}
img{max-width:100%}"""


def render_html(result: BacktestResult, *, png: bytes | None = None) -> str:
    """The report as one self-contained HTML page (the picture inlined as a data URI)."""
    esc = html.escape
    title = _title(result)
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", f"<h1>{esc(title)}</h1>"]
    for section in _sections(result, png is not None):
        if section.title:
            out.append(f"<h2>{esc(section.title)}</h2>")
        items = [line for line in section.text if line.startswith("- ")]
        for line in section.text:
            if not line.startswith("- "):
                out.append(f"<p>{_inline(line)}</p>")
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i[2:])}</li>" for i in items) + "</ul>")
        if section.headers:
            align = section.align or "l" + "r" * (len(section.headers) - 1)
            out.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in section.headers)
                       + "</tr></thead><tbody>")
            for row in section.rows:
                out.append("<tr>" + "".join(f'<td class="{a}">{esc(c)}</td>' for a, c in zip(align, row, strict=False))
                           + "</tr>")
            out.append("</tbody></table>")
        if section.picture and png is not None:
            data = base64.b64encode(png).decode()
            out.append(f'<p><img alt="equity curve" src="data:image/png;base64,{data}"></p>')
        if section.code is not None:
            out.append(f"<pre><code>{esc(section.code)}</code></pre>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** in one line of text, as HTML."""

    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def render_summary(result: BacktestResult) -> str:
    """A few lines for a terminal: what was replayed, trades, PnL, drawdown, exposure, signals, audit."""
    s = result.summary()
    lines = [
        _title(result),
        f"  replayed {result.events:,} liquidations of {len(result.events_by_symbol)} symbols "
        f"({result.duplicates:,} duplicates) and {sum(result.price_points.values()):,} price points; "
        f"{result.replayed_ms / 60_000:,.1f} min in {len(result.sessions)} session(s)",
        f"  traded: {', '.join(result.symbols)}"
        + (f"; {len(result.unpriced)} symbols without prices not traded" if result.unpriced else ""),
        f"  trades {s['trades']}: {s['wins']} won, {s['losses']} lost"
        + (f" (win rate {100 * s['win_rate']:.1f} %)" if s["win_rate"] is not None else "")
        + (f"; exits: {', '.join(f'{k} {v}' for k, v in s['exits'].items())}" if s["exits"] else ""),
        f"  PnL: gross {money(s['gross_pnl'])}, fees {money(-s['fees'])}, funding {money(s['funding'])}, "
        f"net {money(s['net_pnl'])} USDT ({pct(s['return_pct'], True)}); slippage in the prices "
        f"{money(-s['slippage'])}",
        f"  max drawdown {money(-s['max_drawdown'])} USDT ({pct(s['max_drawdown_pct'])}); exposure "
        f"{pct(s['exposure_pct'])} of the replayed time",
        f"  signals recorded {len(result.signals)}: "
        + (", ".join(f"{k} {v}" for k, v in result.signal_counts().items()) or "none"),
        f"  refused for size (below the exchange's minimums): {len(result.refused())}"
        + (f"; never entered for want of market rules: {', '.join(result.without_rules)}" if result.without_rules
           else ""),
        "  books audit: " + ("balanced" if not result.audit else "; ".join(result.audit)),
    ]
    if result.sensitivity:
        lines.append("  sensitivity: " + "; ".join(
            f"{row['case']}: net {money(row.get('net_pnl'))}" if row.get("error") is None else f"{row['case']}: error"
            for row in result.sensitivity))
    lines.append("  note: Binance sends at most one liquidation per symbol per second: in a cascade the heatmap sees a "
                 "sample")
    if result.problems:
        lines.append(f"  problems logged: {len(result.problems)} (first: {result.problems[0]})")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the picture


def equity_png(result: BacktestResult) -> bytes:
    """The equity curve as PNG bytes (byte-identical for the same result). Needs matplotlib (extra ``plot``).

    The x axis is replayed time: the gaps between sessions are cut out and marked with a dashed line. Each trade
    is marked on the curve: its entry by a triangle (green up: long, red down: short), its exit by a ring (green:
    won, red: lost after costs)."""
    # matplotlib (about 0.4 s) loads only to draw
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - lazy: matplotlib
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: matplotlib
    from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: PLC0415 - lazy: matplotlib

    sessions = list(result.sessions)
    *offsets, acc = accumulate((b - a for a, b in sessions), initial=0)

    def replayed(ms: int) -> float:
        for (a, b), off in zip(sessions, offsets, strict=True):
            if ms <= b:
                return (off + max(0, ms - a)) / 60_000
        return acc / 60_000

    def label(x: float, _pos: int) -> str:
        target = x * 60_000
        for (a, b), off in zip(sessions, offsets, strict=True):
            if target <= off + (b - a):
                moment = datetime.fromtimestamp((a + target - off) / 1000, UTC)
                return moment.strftime("%H:%M" if len(sessions) == 1 else "%m-%d\n%H:%M")
        return ""

    xs = [replayed(p.at) for p in result.equity]
    ys = [p.equity for p in result.equity]
    fig = Figure(figsize=(9.0, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.axhline(result.starting_wallet, color="#999999", linewidth=0.8, linestyle=":")
    ax.step(xs, ys, where="post", color="#1f6fb4", linewidth=1.4)
    ax.fill_between(xs, ys, list(accumulate(ys, max)), step="post", color="#d62728", alpha=0.15, linewidth=0)
    for off in offsets[1:]:
        ax.axvline(off / 60_000, color="#777777", linewidth=0.8, linestyle="--")
    times = [p.at for p in result.equity]

    def on_curve(ms: int) -> float:  # the step curve's value at ms (the last snapshot at or before it)
        return ys[max(0, bisect_right(times, ms) - 1)] if ys else result.starting_wallet

    for t in result.trades:
        long = t.side == "long"
        ax.plot([replayed(t.entry_time)], [on_curve(t.entry_time)], linestyle="none", marker="^" if long else "v",
                markersize=7, color="#2ca02c" if long else "#d62728", markeredgecolor="#333333", zorder=3)
        ax.plot([replayed(t.exit_time)], [on_curve(t.exit_time)], linestyle="none", marker="o", markersize=7,
                markerfacecolor="none", markeredgewidth=1.6, color="#2ca02c" if t.net_pnl > 0 else "#d62728",
                zorder=3)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8))
    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.set_ylabel("equity (USDT)")
    ax.set_xlabel("UTC" + (" (gaps between sessions cut out, dashed)" if len(sessions) > 1 else ""))
    ax.set_title(_title(result), fontsize=10)
    ax.grid(True, color="#eeeeee")
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def write_report(result: BacktestResult, out_dir: str | os.PathLike[str], *,
                 formats: Sequence[str] = FORMATS, picture: bool = True) -> list[Path]:
    """Write ``report.json``, ``report.md``, ``report.html`` (those of ``formats``) and ``equity.png`` into
    ``out_dir`` (created if missing); returns the paths written. Without matplotlib the picture is left out
    (the pages say so) rather than failing."""
    unknown = next((f for f in formats if f not in FORMATS), None)
    if unknown is not None:
        raise ValueError(f"formats: expected some of {', '.join(FORMATS)}, got {unknown!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png: bytes | None = None
    if picture:
        with contextlib.suppress(ImportError):
            png = equity_png(result)
    written: list[Path] = []
    if png is not None:
        written.append(_write(out / PICTURE, png))
    if "json" in formats:
        written.append(_write(out / "report.json", render_json(result)))
    if "md" in formats:
        text = render_markdown(result, picture=PICTURE if png is not None else None)
        if picture and png is None:
            text += "\nThe equity picture was not drawn: matplotlib is not installed (extra `plot`).\n"
        written.append(_write(out / "report.md", text.encode()))
    if "html" in formats:
        written.append(_write(out / "report.html", render_html(result, png=png).encode()))
    return written


def _write(path: Path, data: bytes) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
