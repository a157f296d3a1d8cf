"""What a backtest produced: its trades, equity series and signals, and the figures derived from them
(:class:`BacktestResult`). Built by :mod:`.runner`, written out by :mod:`.report`."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from liquidation_hunter.bot.risk import NO_RULES, TOO_SMALL
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.books import SignalRecord
from live_heatmap import to_exchange_id

__all__ = ["BacktestResult", "EquityPoint", "OpenRecord", "TradeRecord", "action_kind", "is_refused"]


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """A closed trade. Money in USDT; ``fees`` both fees; ``net_pnl = gross_pnl - fees + funding``."""

    id: int
    client_id: str
    symbol: str
    side: str
    quantity: float
    entry_time: int
    entry_price: float
    exit_time: int
    exit_price: float
    reason: str
    stop_loss: float
    take_profit: float
    entry_fee: float
    exit_fee: float
    funding: float
    gross_pnl: float
    net_pnl: float
    slippage: float
    """What the slippage cost, estimated from the fills (it is already in the prices and the PnL)."""

    @property
    def fees(self) -> float:
        return self.entry_fee + self.exit_fee


@dataclass(frozen=True, slots=True)
class OpenRecord:
    """A position still open when the replay ended, valued at the last price."""

    id: int
    client_id: str
    symbol: str
    side: str
    quantity: float
    entry_time: int
    entry_price: float
    last_price: float
    entry_fee: float
    funding: float
    unrealized: float


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """One snapshot of the books (the snapshot job's, and one at each session's end)."""

    at: int
    wallet: float
    unrealized: float
    equity: float
    positions: int


@dataclass(frozen=True)
class BacktestResult:
    """Everything a report shows; every figure of :meth:`summary` is computed from the records here."""

    config: BotConfig
    """The configuration replayed (paper, mark prices, in-memory books, the traded symbols)."""
    config_hash: str
    inputs: Mapping[str, Any]
    start_ms: int
    end_ms: int
    sessions: tuple[tuple[int, int], ...]
    symbols: tuple[str, ...]
    """Unified symbols that could trade (in the config and with prices)."""
    events_by_symbol: Mapping[str, int]
    """Events replayed, by Binance id (all symbols)."""
    price_points: Mapping[str, int]
    """Price points replayed, by Binance id (traded symbols)."""
    unpriced: tuple[str, ...]
    """Binance ids without prices, not traded: the config's (with ``symbols: all``: those with events)."""
    without_rules: tuple[str, ...]
    """Unified symbols among :attr:`symbols` the market rules do not list: replayed, never entered."""
    events_accepted: int
    duplicates: int
    trades: tuple[TradeRecord, ...]
    open_positions: tuple[OpenRecord, ...]
    equity: tuple[EquityPoint, ...]
    signals: tuple[SignalRecord, ...]
    audit: tuple[str, ...]
    starting_wallet: float
    final_wallet: float
    final_equity: float
    jobs: Mapping[str, Mapping[str, int]]
    """``{"runs": {...}, "skipped": {...}, "failures": {...}, "errors": {...}}`` by job name (errors: programming
    errors, :data:`~liquidation_hunter.bot.engine.PROGRAMMING_ERRORS`)."""
    problems: tuple[str, ...]
    """Errors and warnings the bot logged during the replay (job failures...); normally empty."""
    sensitivity: tuple[Mapping[str, Any], ...] = ()
    """The same replay with other costs (:func:`~.sweep.sensitivity`): one row per case, the configured costs
    first; empty when not computed."""
    wall_seconds: float = field(default=0.0, compare=False)
    """How long the replay took; not part of any report (reports are byte-identical across runs)."""

    @property
    def events(self) -> int:
        return sum(self.events_by_symbol.values())

    @property
    def replayed_ms(self) -> int:
        """Simulated time covered by the sessions (gaps left out)."""
        return sum(b - a for a, b in self.sessions)

    def summary(self) -> dict[str, Any]:
        """Trades, win rate, PnL, fees, drawdown, exposure: computed from :attr:`trades` and :attr:`equity`."""
        trades = self.trades
        wins = [t for t in trades if t.net_pnl > 0]
        losses = [t for t in trades if t.net_pnl <= 0]
        won = sum((t.net_pnl for t in wins), 0.0)
        lost = sum((t.net_pnl for t in losses), 0.0)
        net = sum((t.net_pnl for t in trades), 0.0)
        peak, drawdown, drawdown_pct = -math.inf, 0.0, 0.0
        for point in self.equity:
            peak = max(peak, point.equity)
            if peak > 0:
                drawdown = max(drawdown, peak - point.equity)
                drawdown_pct = max(drawdown_pct, 100.0 * (peak - point.equity) / peak)
        reasons = Counter(t.reason for t in trades)
        return {
            "trades": len(trades),
            "wins": len(wins),
            "losses": len(losses),
            "win_rate": len(wins) / len(trades) if trades else None,
            "gross_pnl": sum((t.gross_pnl for t in trades), 0.0),
            "fees": sum((t.fees for t in trades), 0.0),
            "funding": sum((t.funding for t in trades), 0.0),
            "slippage": sum((t.slippage for t in trades), 0.0),
            "net_pnl": net,
            "average_win": won / len(wins) if wins else None,
            "average_loss": lost / len(losses) if losses else None,
            "profit_factor": won / -lost if lost < 0 else None,
            "exits": dict(sorted(reasons.items())),
            "open_positions": len(self.open_positions),
            "unrealized": sum((p.unrealized for p in self.open_positions), 0.0),
            "starting_wallet": self.starting_wallet,
            "final_equity": self.final_equity,
            "return_pct": 100.0 * (self.final_equity - self.starting_wallet) / self.starting_wallet,
            "max_drawdown": drawdown,
            "max_drawdown_pct": drawdown_pct,
            "exposure_pct": 100.0 * self.exposure(),
        }

    def exposure(self) -> float:
        """The share (0..1) of the replayed time with at least one position open."""
        spans = sorted([(t.entry_time, t.exit_time) for t in self.trades]
                       + [(p.entry_time, self.end_ms) for p in self.open_positions])
        covered, until = 0, -1
        for opened, closed in spans:
            a = max(opened, until)
            if closed > a:
                covered += closed - a
                until = closed
        total = self.replayed_ms
        return min(1.0, covered / total) if total > 0 else 0.0

    def per_symbol(self) -> list[dict[str, Any]]:
        """One row per traded symbol: events, prices, signals, trades, wins, PnL."""
        rows = []
        for symbol in self.symbols:
            ex = to_exchange_id(symbol)
            mine = [t for t in self.trades if t.symbol == symbol]
            wins = sum(1 for t in mine if t.net_pnl > 0)
            rows.append({
                "symbol": symbol, "events": self.events_by_symbol.get(ex, 0),
                "price_points": self.price_points.get(ex, 0),
                "signals": sum(1 for s in self.signals if s.symbol == symbol),
                "trades": len(mine), "wins": wins, "win_rate": wins / len(mine) if mine else None,
                "gross_pnl": sum((t.gross_pnl for t in mine), 0.0), "fees": sum((t.fees for t in mine), 0.0),
                "funding": sum((t.funding for t in mine), 0.0), "net_pnl": sum((t.net_pnl for t in mine), 0.0),
                "open": sum(1 for p in self.open_positions if p.symbol == symbol),
            })
        return rows

    def signal_counts(self) -> dict[str, int]:
        """Signals recorded, by the kind of what the bot did (:func:`action_kind`: ``entered``, ``skipped: take-profit
        away does not cover the round-trip costs``...), most frequent first."""
        counts: Counter[str] = Counter(action_kind(s.action) for s in self.signals)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def refused(self) -> list[SignalRecord]:
        """Signals refused for size: below the market's minimum quantity or order value, a symbol without
        market rules, or an entry the broker rejected."""
        return [s for s in self.signals if is_refused(s.action)]


def is_refused(action: str) -> bool:
    """Whether a signal's action is a refusal for size (see :meth:`BacktestResult.refused`)."""
    return action.startswith("rejected:") or action.startswith((f"skipped: {TOO_SMALL}", f"skipped: {NO_RULES}"))


_NUMBER = re.compile(r"[-+]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?(\s*(%|x|USDT|min)(?![\w/]))?")


def action_kind(action: str) -> str:
    """What kind of outcome ``action`` is, for counting alike ones together: the text of its first clause with
    parentheses, client ids and figures left out (``skipped: take-profit 0.150 % away does not cover 2 x the
    round-trip costs (0.280 %)`` -> ``skipped: take-profit away does not cover the round-trip costs``;
    ``skipped: too small for the exchange: notional ...`` -> ``skipped: too small for the exchange``)."""
    verb, sep, why = action.partition(": ")
    if not sep:
        return action
    why = re.sub(r"lh-[0-9a-f]{8,}(-x)?:\s*", "", why)
    head, sep, _rest = why.partition(": ")
    text = re.sub(r"\s*\([^)]*\)", "", head)
    text = _NUMBER.sub("", text)
    return f"{verb}: " + re.sub(r"\s{2,}", " ", text).strip(" ,;")
