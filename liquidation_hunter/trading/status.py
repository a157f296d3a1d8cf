"""``liquidation-hunter status``: what a bot's books say, as plain data (``--json``) or a table."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from liquidation_hunter.trading.books import Books, ControlRequest, OutboxCounts
from live_heatmap.common.timeparse import utc_day

__all__ = ["StatusReport", "bot_running", "render_status", "render_venue", "status_report"]

STALE_HEARTBEAT_FACTOR = 3
_HEALTH_KEYS = ("connected", "events", "rejected", "symbols", "reconnects", "stream", "prices", "job_failures",
                "jobs_skipped", "job_errors", "last_job_error", "ready", "stale_prices", "unknown_symbols",
                "disconnected_s", "exchange", "venues", "estimated", "orderbook", "statistics", "alerts", "feed")


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class BotState:
    running: bool
    last_heartbeat: str | None
    stopped: str | None
    pid: int | None


@dataclass(frozen=True, slots=True)
class AccountSummary:
    wallet: float
    margin: float
    available: float
    unrealized: float
    equity: float
    starting_wallet: float
    peak_equity: float | None


@dataclass(frozen=True, slots=True)
class Today:
    realized_pnl: float
    trades: int
    wins: int


@dataclass(frozen=True, slots=True)
class PositionRow:
    symbol: str
    side: str
    quantity: float
    entry: float
    price: float | None
    unrealized: float | None
    stop_loss: float
    take_profit: float
    liquidation: float
    margin: float
    opened_at: str | None
    client_id: str


@dataclass(frozen=True, slots=True)
class TransferRow:
    """A deposit or withdrawal the live bot found comparing the exchange's wallet with the books'."""

    at: str | None
    kind: str
    amount: float
    exchange_wallet: float


@dataclass(frozen=True, slots=True)
class SignalRow:
    at: str | None
    symbol: str
    direction: int
    strength: float
    entry: float | None
    level: float | None
    action: str


@dataclass(frozen=True, slots=True)
class ControlRow:
    """A ``close``/``flatten`` asked for by hand: pending until the bot carried it out (``result`` says how)."""

    id: int
    at: str | None
    kind: str
    symbol: str | None
    status: str
    attempts: int
    done_at: str | None
    result: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What ``status`` shows (:func:`status_report`); :meth:`to_dict` is its JSON (``status --json``, the API).

    ``stream`` is the bot's last health record as the books hold it (JSON written by another process, possibly an
    older version): the keys ``status`` shows, each None when the record has none."""

    books: str
    mode: str
    at: str | None
    bot: BotState
    halted: str | None
    account: AccountSummary
    today: Today
    positions: tuple[PositionRow, ...]
    recent_signals: tuple[SignalRow, ...]
    stream: Mapping[str, Any]
    transfers: tuple[TransferRow, ...] = ()
    """Live: the latest deposits and withdrawals, newest first."""
    controls: tuple[ControlRow, ...] = ()
    """The pending ``close``/``flatten`` requests and the last few done, newest first."""
    outbox: Mapping[str, int] | None = None
    """The alerts' outbox: rows pending, delivered, failed, and the alerts dropped when it was full (None: the
    books have never held an alert)."""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "positions": [asdict(p) for p in self.positions],
                "recent_signals": [asdict(s) for s in self.recent_signals], "stream": dict(self.stream),
                "transfers": [asdict(t) for t in self.transfers],
                "controls": [asdict(c) for c in self.controls],
                "outbox": None if self.outbox is None else dict(self.outbox)}


def bot_running(health: Mapping[str, Any], health_at: int | None, *, now_ms: int, heartbeat_s: float) -> bool:
    """A bot runs on the books when its health record does not say it stopped and either its last heartbeat is
    recent (3 heartbeats) or the process that wrote it is still there (this machine): a bot whose jobs are slow
    (a rate-limited exchange) can miss heartbeats without being gone. A recycled pid errs on the safe side (a
    bot taken for running: ``close`` waits for it, nothing is closed beside it)."""
    if health_at is None or "stopped" in health:
        return False
    return now_ms - health_at <= STALE_HEARTBEAT_FACTOR * heartbeat_s * 1000 or _process_alive(health.get("pid"))


def _process_alive(pid: object) -> bool:
    """Whether process ``pid`` (another than this one) exists."""
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def status_report(books: Books, *, now_ms: int, heartbeat_s: float, signals: int = 10) -> StatusReport:
    """Open positions, equity, today's PnL, recent signals, stream health and the halt switch."""
    health_row = books.health()
    health, health_at = health_row if health_row else ({}, None)
    prices: dict[str, float | None] = health.get("held_prices", {})
    known = {s: p for s, p in prices.items() if p is not None}
    account = books.account(known, now_ms)
    positions = []
    for p in books.open_positions():
        price = prices.get(p.symbol)
        positions.append(PositionRow(
            symbol=p.symbol, side="long" if p.direction > 0 else "short", quantity=p.quantity,
            entry=p.entry_price, price=price, unrealized=None if price is None else p.unrealized(price),
            stop_loss=p.stop_loss, take_profit=p.take_profit, liquidation=p.liquidation_price,
            margin=p.margin, opened_at=_iso(p.opened_at), client_id=p.client_id))
    day_start = int(datetime.strptime(utc_day(now_ms), "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
    today = books.closed_trades(since_ms=day_start)
    running = bot_running(health, health_at, now_ms=now_ms, heartbeat_s=heartbeat_s)
    return StatusReport(
        books=books.path, mode=books.mode, at=_iso(now_ms),
        bot=BotState(running=running, last_heartbeat=_iso(health_at), stopped=health.get("stopped"),
                     pid=health.get("pid")),
        halted=books.halt_reason(),
        account=AccountSummary(wallet=account.wallet, margin=account.margin, available=account.available,
                               unrealized=account.unrealized, equity=account.equity,
                               starting_wallet=books.starting_wallet, peak_equity=books.peak_equity()),
        today=Today(realized_pnl=books.realized_since(day_start), trades=len(today),
                    wins=sum(1 for t in today if t.net_pnl > 0)),
        positions=tuple(positions),
        recent_signals=tuple(SignalRow(at=_iso(s.at), symbol=s.symbol, direction=s.direction, strength=s.strength,
                                       entry=s.entry, level=s.level, action=s.action)
                             for s in books.recent_signals(signals)),
        stream={k: health.get(k) for k in _HEALTH_KEYS},
        transfers=tuple(TransferRow(at=_iso(t.at), kind=t.kind, amount=t.amount, exchange_wallet=t.exchange_wallet)
                        for t in books.transfers(limit=5)),
        controls=tuple(ControlRow(id=c.id, at=_iso(c.at), kind=c.kind, symbol=c.symbol, status=c.status,
                                  attempts=c.attempts, done_at=_iso(c.done_at), result=c.result)
                       for c in _controls(books)),
        outbox=_outbox(books),
    )


def _outbox(books: Books) -> dict[str, int] | None:
    counts = books.outbox_counts()
    return None if counts == OutboxCounts() else counts.to_dict()


def _controls(books: Books) -> list[ControlRequest]:
    """Every pending control request and the last 5, newest first."""
    wanted = {c.id: c for c in (*books.control_requests(pending=True, limit=100), *books.control_requests(limit=5))}
    return [wanted[i] for i in sorted(wanted, reverse=True)]


def render_venue(venue: Mapping[str, Any]) -> str:
    """One venue's line of ``status``: stream health, instruments (how many, as of, from where), skipped symbols,
    the start's backfill (OKX)."""
    name = venue.get("venue", "?")
    if not venue.get("streaming"):
        head = f"venue {name}: NOT STREAMED ({venue.get('markets_error') or 'no instruments'})"
    else:
        rejected = sum((venue.get("rejected") or {}).values())
        head = (f"venue {name}: {'connected' if venue.get('connected') else 'DISCONNECTED'}; "
                f"{venue.get('events') or 0} events, {venue.get('connections') or 0} connections, "
                f"reconnects {venue.get('reconnects') or 0}, rejected {rejected}")
    parts = [head]
    if venue.get("instruments") is not None:
        stale = f", venue failed: {venue['markets_error']}" if venue.get("markets_error") else ""
        if venue.get("markets_refresh_failures"):
            stale += f", {venue['markets_refresh_failures']} daily refreshes failed"
        parts.append(f"instruments {venue['instruments']} as of {venue.get('instruments_as_of')} "
                     f"({venue.get('markets_source')}{stale})")
    if venue.get("skipped_symbols"):
        parts.append(f"not listed (skipped): {', '.join(venue['skipped_symbols'])}")
    backfill = venue.get("backfill")
    if backfill:
        if backfill.get("skipped"):
            parts.append(f"backfill skipped: {backfill['skipped']}")
        else:
            failed = f", {backfill['failed']} FAILED (last: {backfill['last_error']})" if backfill.get("failed") else ""
            parts.append(f"backfill {backfill['events']} events ({backfill['accepted']} new) from "
                         f"{backfill['requests']} requests{failed}")
    return "; ".join(parts)


def render_estimated(est: Mapping[str, Any]) -> list[str]:
    """The estimated layer's lines of ``status``: its label, the REST budget, one line per symbol."""
    budget = est.get("budget") or {}
    lines = [f"{est.get('label')} ({est.get('validation')})",
             f"  REST budget: {budget.get('line', '-')}"]
    for symbol, row in sorted((est.get("symbols") or {}).items()):
        lines.append(f"  {symbol}: {row.get('bars')} bars, last bar {row.get('last_bar_close') or 'none yet'}, "
                     f"OI errors {row.get('oi_errors')}, REST errors {row.get('rest_errors')}, dropped without OI "
                     f"{row.get('dropped_no_oi')}, missed {row.get('missing_bars')}, trade extremes "
                     f"{row.get('trade_extremes')}")
    if est.get("last_error"):
        lines.append(f"  last exchange error: {est['last_error']}")
    return lines


def render_orderbook(book: Mapping[str, Any]) -> list[str]:
    """The liquidity layer's lines of ``status`` (issue 15): the mode (and Bybit, when its books are kept) and its
    REST budget, the depth stream, the frames rejected by reason, one line per symbol with its book's state and
    resyncs."""
    budget = book.get("budget") or {}
    venue = book.get("venue") or "binance"
    lines = [f"order books ({book.get('mode')} mode{', Bybit' if venue == 'bybit' else ''}), REST budget: "
             f"{budget.get('line', '-')}"]
    stream = book.get("stream")
    if stream:
        rejected = ", ".join(f"{k} {v}" for k, v in sorted((stream.get("rejected") or {}).items())) or "none"
        lines.append(f"  depth stream {stream.get('url')}: {'connected' if stream.get('connected') else 'DISCONNECTED'}"
                     f", {stream.get('events')} {'messages' if venue == 'bybit' else 'diffs'}, reconnects "
                     f"{stream.get('reconnects')}, rejected {rejected}")
    if book.get("rejects"):
        lines.append("  frames not used: " + ", ".join(f"{k} {v}" for k, v in sorted(book["rejects"].items())))
    for symbol, row in sorted((book.get("symbols") or {}).items()):
        rejects = sum((row.get("rejects") or {}).values())
        lines.append(f"  {symbol}: book {row.get('state')}, resyncs {row.get('resyncs')}, rejects {rejects}, "
                     f"snapshots {row.get('snapshots')} ({row.get('snapshot_errors')} failed), "
                     f"samples {row.get('samples')}")
    if book.get("last_error"):
        lines.append(f"  last exchange error: {book['last_error']}")
    return lines


def render_statistics(stats: Mapping[str, Any]) -> list[str]:
    """The statistics' lines of ``status`` (issue 16): one line per symbol with clusters (the most at risk first):
    total weighted notional, dominant side, clusters at risk high or above, the highest z-score and its history."""
    rows = stats.get("symbols") or []
    lines = [f"statistics: {stats.get('symbols_with_clusters', 0)} symbols with clusters"
             + (f" (the first {len(rows)})" if len(rows) < stats.get("symbols_with_clusters", 0) else "")]
    for row in rows:
        z = row.get("max_z_score")
        history = row.get("history_events", 0)
        z_text = f"max z {z:.2f}" if isinstance(z, int | float) else (
            f"z null (history {history} < {stats.get('min_history')})")
        lines.append(f"  {row.get('symbol')}: {row.get('total_notional', 0.0):,.0f} USDT in {row.get('clusters')} "
                     f"clusters, dominant {row.get('dominant_side') or '-'}, high risk {row.get('high_risk_clusters')}"
                     f", {z_text}, history {history}")
    return lines


def render_feed(feed: Mapping[str, Any]) -> list[str]:
    """A bot on a feed's lines of ``status`` (issue 17): the source, its state, the gaps and each stream's cursor."""
    state = "connected" if feed.get("connected") else f"DISCONNECTED ({feed.get('last_error')})"
    lines = [f"feed {feed.get('source')}: {state}; {feed.get('events', 0)} events, {feed.get('duplicates', 0)} "
             f"copies dropped; gaps {feed.get('gaps', 0)} (missed {feed.get('missed', 0)} entries, filled "
             f"{feed.get('filled', 0)} events{'' if feed.get('fill_from') else ': no feed.fill_from'})"]
    for stream, cur in sorted((feed.get("streams") or {}).items()):
        lines.append(f"  {stream}: last id {cur.get('last_id')}, seq {cur.get('seq')}, gaps {cur.get('gaps', 0)}")
    for gap in feed.get("recent_gaps") or ():
        lines.append(f"  GAP {gap.get('stream')} {gap.get('kind')}: {gap.get('missed')} entries missed after "
                     f"{gap.get('after_id')}, filled {gap.get('filled')}")
    return lines


def render_alerts(alerts: Mapping[str, Any] | None, outbox: Mapping[str, int] | None) -> list[str]:
    """The alerts' lines of ``status`` (issue 16): the channels (secrets masked) and the outbox by state."""
    lines = []
    if alerts:
        channels = []
        for c in alerts.get("channels") or ():
            shown = ", ".join(f"{k} {v}" for k, v in c.items() if k != "channel" and v is not None)
            channels.append(f"{c.get('channel')} ({shown})")
        lines.append(f"alerts to {'; '.join(channels) or 'no channel'}; rules {', '.join(alerts.get('rules') or [])}")
        if alerts.get("rule_failures"):
            lines.append(f"  ALERT RULES FAILED {alerts['rule_failures']}: last {alerts.get('last_error')}")
    if outbox:
        lines.append(f"{'  ' if alerts else 'alerts '}outbox: {outbox.get('pending', 0)} pending, "
                     f"{outbox.get('delivered', 0)} delivered, {outbox.get('failed', 0)} failed, "
                     f"{outbox.get('dropped', 0)} dropped (full)")
    return lines


def render_status(report: StatusReport) -> str:
    """The report as readable text tables."""
    a, bot, today = report.account, report.bot, report.today
    lines = [f"books {report.books} ({report.mode}) at {report.at}"]
    state = "running" if bot.running else f"not running (last heartbeat {bot.last_heartbeat or 'never'}" + (
        f", stopped by {bot.stopped})" if bot.stopped else ")")
    lines.append(f"bot: {state}; entries {'HALTED: ' + report.halted if report.halted else 'allowed'}")
    lines.append(f"equity {a.equity:,.2f}  wallet {a.wallet:,.2f}  margin {a.margin:,.2f}  "
                 f"available {a.available:,.2f}  unrealized {a.unrealized:,.2f}  "
                 f"(start {a.starting_wallet:,.2f})")
    lines.append(f"today: realized {today.realized_pnl:+,.2f} over {today.trades} trades "
                 f"({today.wins} won)")
    exchange = report.stream.get("exchange")
    if exchange:
        lines.append(f"exchange: wallet {exchange['wallet']:,.2f}  available {exchange['available']:,.2f} "
                     "(at the last heartbeat; the books' wallet follows it)")
    for t in report.transfers:
        lines.append(f"  {t.kind} {t.amount:+,.2f} at {t.at} (exchange wallet {t.exchange_wallet:,.2f})")
    lines.append(f"open positions: {len(report.positions)}")
    if report.positions:
        lines.append(f"  {'symbol':<18}{'side':<6}{'qty':>12}{'entry':>14}{'price':>14}{'uPnL':>11}"
                     f"{'stop':>14}{'take':>14}{'liq':>14}")
        for p in report.positions:
            price = "-" if p.price is None else f"{p.price:.6g}"
            upnl = "-" if p.unrealized is None else f"{p.unrealized:+.2f}"
            lines.append(f"  {p.symbol:<18}{p.side:<6}{p.quantity:>12.6g}{p.entry:>14.6g}{price:>14}"
                         f"{upnl:>11}{p.stop_loss:>14.6g}{p.take_profit:>14.6g}{p.liquidation:>14.6g}")
    lines.append(f"recent signals: {len(report.recent_signals)}")
    for s in report.recent_signals:
        side = {1: "long", -1: "short"}.get(s.direction, "-")
        lines.append(f"  {s.at}  {s.symbol:<18}{side:<6}strength {s.strength:.2f}  {s.action}")
    for c in report.controls:
        what = f"{c.kind} {c.symbol}" if c.symbol else c.kind
        if c.status == "pending":
            tried = f"; {c.attempts} attempts, last: {c.result}" if c.attempts else ""
            lines.append(f"PENDING {what} (request {c.id}, asked {c.at}{tried})")
        else:
            lines.append(f"done {what} (request {c.id}, {c.done_at}): {c.result}")
    st = report.stream
    if st.get("connected") is None:
        lines.append("stream: no heartbeat recorded yet")
        lines.extend(render_alerts(None, report.outbox))
    else:
        lines.append(f"stream: {'connected' if st['connected'] else 'DISCONNECTED'}; {st['events']} events, "
                     f"{st['symbols']} symbols, {st['prices']} prices, reconnects {st['reconnects']}, "
                     f"rejected {st['rejected'] or 0}, job failures {st['job_failures'] or 0}")
        if st.get("disconnected_s"):
            lines.append(f"stream DISCONNECTED for {st['disconnected_s']:.0f} s (reconnects {st['reconnects']})")
        if st.get("ready") is False:
            lines.append("NOT TRADING: the exchange has not answered yet (the bot keeps trying; see its log)")
        if st.get("stale_prices"):
            ages = ", ".join(f"{s} {age:.0f} s" for s, age in sorted(st["stale_prices"].items()))
            lines.append(f"stale prices (not traded): {ages}")
        if st.get("unknown_symbols"):
            lines.append(f"symbols the exchange does not list (never traded): {', '.join(st['unknown_symbols'])}")
        for venue in st.get("venues") or ():
            lines.append(render_venue(venue))
        if st.get("feed"):
            lines.extend(render_feed(st["feed"]))
        if st.get("estimated"):
            lines.extend(render_estimated(st["estimated"]))
        if st.get("orderbook"):
            lines.extend(render_orderbook(st["orderbook"]))
        if st.get("statistics"):
            lines.extend(render_statistics(st["statistics"]))
        lines.extend(render_alerts(st.get("alerts"), report.outbox))
        if st.get("job_errors"):
            lines.append(f"PROGRAMMING ERRORS in jobs {st['job_errors']}: last {st['last_job_error']} "
                         "(a bug: the log has the traceback; please report it)")
    return "\n".join(lines)
