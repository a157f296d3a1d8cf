"""The bot's alerts (issue 16): its entries, exits and halts, the cascade and stream-down rules, the cluster rule
on statistics, all queued by the jobs into the books' outbox and delivered by the sender to a local receiver; a
receiver that hangs holds the sender, not the jobs; nothing exists without a channel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.alert_receiver import AlertReceiver
from helpers import MINUTE, NOW, event

from liquidation_hunter import LiquidationHunter
from liquidation_hunter.alerts import ClusterRule, StreamDownRule
from liquidation_hunter.bot.alerts import BotAlerts, StreamWatch
from liquidation_hunter.bot.engine import Bot
from liquidation_hunter.bot.risk import DRAWDOWN_HALT
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.paper import PaperBroker
from live_heatmap import LiquidationCluster, LiveLiquidationHeatmap
from strategies import make_strategy

BTC = "BTC/USDT:USDT"


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with AlertReceiver() as server:
        yield server


def make_bot(tmp_path: Path, clock: Clock, alerts: dict[str, Any], **extra: Any) -> Bot:
    config = BotConfig.from_mapping({
        "symbols": [BTC], "storage": {"path": str(tmp_path / "books.sqlite")},
        "risk": {"leverage": 3, "funding": False, "max_margin_pct": 100.0}, "alerts": alerts, **extra})
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
    heatmap.track(["BTCUSDT"])
    books = Books.open(config.storage.path, starting_wallet=config.risk.starting_wallet, now_ms=clock())
    broker = PaperBroker.from_risk(books, config.risk)
    strategy = make_strategy("liquidation_magnet", LiquidationHunter(config.hunter, heatmap), {})
    bot = Bot(config=config, heatmap=heatmap, strategy=strategy, broker=broker, books=books, clock=clock)
    bot.alerts = BotAlerts.from_config(config, books, heatmap, clusters=bot.statistics.kept_clusters,
                                       environ={"HOOK_KEY": "hook-signing-key"})
    return bot


def webhook(receiver: AlertReceiver, **rules: Any) -> dict[str, Any]:
    return {"channels": {"webhook": {"enabled": True, "url": f"{receiver.base_url}/hook",
                                     "signing_key_env": "HOOK_KEY"}}, "rules": rules}


def test_no_channel_no_alerts(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, Clock(), {})
    assert bot.alerts is None
    assert "alerts" not in bot.health(NOW).to_dict()


def test_an_entry_and_its_exit_are_queued_at_once_and_delivered_by_the_sender(
        tmp_path: Path, receiver: AlertReceiver) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, webhook(receiver, cascade={"notional": 1e12}))
    assert bot.alerts is not None
    for i in range(10):  # a strong short cluster above 100,000
        bot.heatmap.ingest(event(101_500.0 + i, 1.0, side="short", age_min=1 + i / 10))
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")
    [position] = bot.broker.positions()
    clock.now += MINUTE
    bot.heatmap.update_price("BTCUSDT", position.take_profit + 1.0, clock.now)
    bot.run_job("positions")
    assert receiver.received == []  # the jobs queue; only the sender sends
    assert [r.kind for r in bot.books.outbox()] == ["exit", "entry"]  # queued as they happened, no alerts job yet
    bot.alerts.sender.step(int(time.time() * 1000))
    kinds = [r.json()["kind"] for r in receiver.received]
    assert kinds == ["entry", "exit"]
    entry, exit_ = (r.json() for r in receiver.received)
    assert entry["symbol"] == "BTCUSDT" and entry["data"]["client_id"] == position.client_id
    assert exit_["data"]["reason"] == "take_profit"
    health = bot.health(clock.now).to_dict()["alerts"]
    assert health["channels"] == [{"channel": "webhook", "url": f"{receiver.base_url}/hook",
                                   "signing_key": "HOOK_KEY=****-key", "min_interval_s": 0.0}]
    assert health["rules"] == ["cluster", "cascade", "bot_events"]  # no stream here: no stream-down rule


def test_a_halt_and_a_drawdown_halt_alert_once_each(tmp_path: Path, receiver: AlertReceiver) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, webhook(receiver))
    assert bot.alerts is not None
    bot.alerts.start(clock())
    bot.alerts.sender.stop()  # the test drives the sender itself
    bot.books.set_halt("halted by hand", clock())
    bot.run_job("alerts")
    bot.run_job("alerts")  # the same halt: nothing new
    bot.books.set_halt(None, clock())
    bot.run_job("alerts")
    bot.books.set_halt(f"{DRAWDOWN_HALT}: equity 7000 is 30 % below the peak", clock())
    clock.now += 1
    bot.run_job("alerts")
    assert [r.kind for r in reversed(bot.books.outbox())] == ["halt", "drawdown_halt"]


def test_a_cascade_alerts_once_per_cooldown(tmp_path: Path, receiver: AlertReceiver) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, webhook(receiver, cascade={"window_seconds": 60, "notional": 500_000}))
    for i in range(6):  # 6 x 100,000 USDT within the last minute
        bot.heatmap.ingest(event(100_000.0, 1.0, age_min=i / 10))
    bot.run_job("alerts")
    clock.now += 10_000
    bot.run_job("alerts")  # still above, inside the cooldown
    [row] = bot.books.outbox()
    assert row.kind == "cascade" and row.symbol == "BTCUSDT" and row.data["notional"] == pytest.approx(600_000)


def test_stream_down_alerts_once_per_outage() -> None:
    state = {"binance": True, "bybit": False}
    watch = StreamWatch(lambda: [{"venue": v, "connected": up} for v, up in state.items()])
    rule = StreamDownRule(watch, seconds=120)
    assert rule.evaluate(NOW) == []
    assert rule.evaluate(NOW + 119_000) == []
    [alert] = rule.evaluate(NOW + 120_000)
    assert alert.data == {"venue": "bybit", "down_s": 120.0}
    assert rule.evaluate(NOW + 500_000) == []  # the same outage
    state["bybit"] = True
    assert rule.evaluate(NOW + 510_000) == []
    state["bybit"] = False
    rule.evaluate(NOW + 520_000)
    assert [a.data["venue"] for a in rule.evaluate(NOW + 640_000)] == ["bybit"]  # a new outage


@dataclass(frozen=True)
class Stats:
    """The statistics' ClusterStats as the rule reads it."""

    cluster: LiquidationCluster
    z_score: float | None
    risk_level: str | None


def _cluster(cid: str, level: float) -> LiquidationCluster:
    return LiquidationCluster(cluster_id=cid, symbol="BTCUSDT", side="long", price_level=level,  # type: ignore[arg-type]
                              price_low=level, price_high=level, liquidation_count=5, total_notional=1e6,
                              weighted_notional=9e5, strength=0.5, distance_from_price=None, current_price=None,
                              first_event_ms=NOW, last_updated=NOW, built_at=NOW)


def test_the_cluster_rule_reads_risk_level_and_z_score() -> None:
    stats = [Stats(_cluster("a", 1.0), 3.4, "extreme"), Stats(_cluster("b", 2.0), 2.1, "high"),
             Stats(_cluster("c", 3.0), 1.5, "moderate"), Stats(_cluster("d", 4.0), None, None)]
    high = ClusterRule(lambda _now: stats, risk_level="high")
    assert [a.cooldown_key for a in high.evaluate(NOW)] == ["a", "b"]
    assert [a.cooldown_key for a in ClusterRule(lambda _now: stats, risk_level="extreme", z_score=1.5)
            .evaluate(NOW)] == ["a", "b", "c"]  # or a z-score of 1.5 and above; a short history never
    [alert] = ClusterRule(lambda _now: stats, risk_level="extreme").evaluate(NOW)
    assert alert.data["z_score"] == 3.4 and alert.data["risk_level"] == "extreme" and alert.symbol == "BTCUSDT"


def test_a_rule_that_fails_is_counted_and_the_others_run(tmp_path: Path, receiver: AlertReceiver) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, webhook(receiver))
    assert bot.alerts is not None

    def broken(_now: int) -> list[Stats]:
        raise RuntimeError("statistics unavailable")

    bot.alerts.hub.rules.insert(0, ClusterRule(broken))
    bot.books.set_halt("halted by hand", clock())
    bot.run_job("alerts")
    assert bot.alerts.hub.rule_failures == {"cluster": 1}
    assert [r.kind for r in bot.books.outbox()] == ["halt"]


def test_a_hanging_webhook_holds_the_sender_not_the_jobs_and_the_cap_holds(
        tmp_path: Path, receiver: AlertReceiver) -> None:
    clock = Clock()
    alerts = webhook(receiver, cascade={"window_seconds": 60, "notional": 1})
    bot = make_bot(tmp_path, clock, {**alerts, "outbox_cap": 50, "cooldown_seconds": 0, "timeout_seconds": 30})
    assert bot.alerts is not None
    bot.heatmap.ingest(event(100_000.0, 1.0))
    receiver.hang()
    bot.alerts.start(clock())
    try:
        deadline = time.monotonic() + 10
        while receiver.waiting == 0 and time.monotonic() < deadline:
            bot.run_job("alerts")
            clock.now += 1
        assert receiver.waiting == 1  # the sender is inside its first request, which does not come back
        for _ in range(200):
            clock.now += 1
            bot.run_job("alerts")
            bot.run_job("signals")
        assert receiver.waiting == 1 and receiver.received == []  # still the same request: no job waited for it
        counts = bot.books.outbox_counts()
        assert counts.pending == 50 and counts.dropped >= 150
        assert bot.failures == {} and bot.runs["alerts"] >= 200 and bot.runs["signals"] == 200
    finally:
        receiver.release()
        bot.alerts.stop()


def test_a_cluster_extreme_against_its_symbols_history_alerts_once_per_cooldown(
        tmp_path: Path, receiver: AlertReceiver) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, webhook(receiver, cascade={"enabled": False}))
    assert bot.alerts is not None
    baseline = bot.statistics.baseline
    for i in range(60):  # BTCUSDT's history: clusters of 9,000 to 11,000 USDT, one sample every 15 minutes
        baseline.add("BTCUSDT", NOW - (60 - i) * 15 * MINUTE, [9_000.0 + (i % 5) * 500.0])
    bot.run_job("clusters")
    bot.run_job("alerts")
    assert bot.books.outbox() == []  # no cluster yet
    for i in range(10):  # then 10 x 100,000 USDT near 100,000: far above anything in the history
        bot.heatmap.ingest(event(100_000.0 + i, 1.0, side="long", age_min=1 + i / 10))
    bot.run_job("alerts")
    assert bot.books.outbox() == []  # the rule reads what the clusters job kept, not the heatmap
    bot.run_job("clusters")
    bot.run_job("alerts")
    clock.now += 60_000
    bot.run_job("clusters")
    bot.run_job("alerts")  # the same cluster inside the cooldown
    [row] = bot.books.outbox()
    assert row.kind == "cluster_risk" and row.symbol == "BTCUSDT"
    assert row.data["risk_level"] == "extreme" and row.data["z_score"] > 3
    assert row.data["cluster_id"].startswith("BTCUSDT-long-")
