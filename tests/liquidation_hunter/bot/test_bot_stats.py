"""The bot's statistics (issue 16): the clusters job samples each symbol's clusters into its history once a slot,
the heartbeat carries the summary and ``status`` prints it; no trade reads them."""

from __future__ import annotations

from pathlib import Path

from conftest import DATA
from helpers import MINUTE, NOW, Clock, event
from structlog.testing import capture_logs

from liquidation_hunter import LiquidationHunter
from liquidation_hunter.bot.engine import Bot
from liquidation_hunter.bot.runner import _recorder
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.paper import PaperBroker
from liquidation_hunter.trading.status import render_status, status_report
from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.stats import ClusterBaseline, replay_history
from live_heatmap.store.history import load_events
from live_heatmap.store.recorder import EventStore
from strategies import make_strategy


def make_bot(tmp_path: Path, clock: Clock) -> Bot:
    config = BotConfig.from_mapping({
        "symbols": ["BTC/USDT:USDT"], "storage": {"path": str(tmp_path / "books.sqlite")},
        "risk": {"leverage": 3, "funding": False}, "stats": {"min_history": 3, "sample_minutes": 1},
    })
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
    heatmap.track(["BTCUSDT"])
    books = Books.open(config.storage.path, starting_wallet=config.risk.starting_wallet, now_ms=clock())
    broker = PaperBroker.from_risk(books, config.risk)
    strategy = make_strategy("liquidation_magnet", LiquidationHunter(config.hunter, heatmap), {})
    return Bot(config=config, heatmap=heatmap, strategy=strategy, broker=broker, books=books, clock=clock)


def test_the_clusters_job_builds_the_history_and_status_shows_the_summary(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock)
    baseline = bot.statistics.baseline
    sizes = (1.0, 2.0, 4.0)  # three minutes, a cluster each of a growing size
    for minute, qty in enumerate(sizes):
        for i in range(6):
            bot.heatmap.ingest(event(90_000.0 + 10 * minute + i, qty, side="long", now=clock.now))
        bot.run_job("clusters")
        bot.run_job("clusters")  # the same slot: sampled once
        clock.now += MINUTE
    assert baseline.history_events("BTCUSDT") >= len(sizes)
    bot.run_job("clusters")  # status shows what the last clusters job saw
    [stats] = bot.statistics.clusters("BTCUSDT", clock.now)
    assert stats.z_score is not None and stats.risk_level is not None
    bot.heatmap.update_price("BTCUSDT", 100_000.0, clock.now)
    bot.run_job("heartbeat")
    health = bot.books.health()
    assert health is not None
    summary = health[0]["statistics"]
    assert summary["symbols_with_clusters"] == 1
    [row] = summary["symbols"]
    assert row["symbol"] == "BTCUSDT" and row["dominant_side"] == "long" and row["clusters"] == 1
    assert row["max_z_score"] == stats.z_score
    text = render_status(status_report(bot.books, now_ms=clock.now, heartbeat_s=60.0))
    assert "statistics: 1 symbols with clusters" in text
    assert f"BTCUSDT: {row['total_notional']:,.0f} USDT in 1 clusters, dominant long" in text
    assert f"max z {stats.z_score:.2f}" in text
    assert bot.broker.positions() == [] and bot.books.recent_signals() == []  # statistics move no trade


def test_without_history_status_says_why_the_z_score_is_null(tmp_path: Path) -> None:
    clock = Clock(NOW)
    bot = make_bot(tmp_path, clock)
    for i in range(6):
        bot.heatmap.ingest(event(90_000.0 + i, 1.0, side="short", now=clock.now))
    bot.run_job("clusters")
    bot.run_job("heartbeat")
    text = render_status(status_report(bot.books, now_ms=clock.now, heartbeat_s=60.0))
    assert "dominant short, high risk 0, z null (history 1 < 3), history 1" in text  # the clusters job's sample


def test_the_start_replays_the_recorded_events_into_each_symbol_history(tmp_path: Path) -> None:
    """The recorder's service, at start: the warm start, then the stored events over stats.retention_days replayed
    into the baseline, sampled as the live rebuilds sample them (the same history replay_history builds)."""
    events = load_events(DATA / "liquidations_normalized.csv", symbols=["RAREUSDT", "SYNUSDT"])
    now = events[-1].trade_time + MINUTE
    with EventStore.open(tmp_path / "events.sqlite") as store:
        assert store.append(events) == len(events)
    clock = Clock(now)
    config = BotConfig.from_mapping({
        "storage": {"path": str(tmp_path / "books.sqlite"), "events": str(tmp_path / "events.sqlite")},
        "risk": {"leverage": 3, "funding": False}, "stats": {"min_history": 10, "retention_days": 3},
    })
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
    books = Books.open(config.storage.path, starting_wallet=config.risk.starting_wallet, now_ms=now)
    bot = Bot(config=config, heatmap=heatmap, strategy=make_strategy(
        "liquidation_magnet", LiquidationHunter(config.hunter, heatmap), {}), broker=PaperBroker.from_risk(
        books, config.risk), books=books, clock=clock)
    [service] = _recorder(config, bot, clock)
    with capture_logs() as logs:
        service.start()
    service.stop()
    expected = ClusterBaseline(min_history=10, retention_days=3)
    recent = [e for e in events if e.trade_time >= now - 3 * 86_400_000]
    taken = replay_history(expected, recent, config.heatmap, until_ms=now)
    assert taken > 0 and next(r for r in logs if r["event"] == "statistics_history")["samples"] == taken
    for symbol in ("RAREUSDT", "SYNUSDT"):
        assert bot.statistics.baseline.history_events(symbol) == expected.history_events(symbol) > 10
    assert any(s.z_score is not None for s in bot.statistics.clusters("RAREUSDT", now))


def test_the_statistics_read_nothing_the_strategy_would_not_see(tmp_path: Path) -> None:
    """The heatmap keeps what a reader asked for at a moment for update_interval: a read by the statistics at
    another moment (the heartbeat's) must not hide later events from the signals job; status reads what the
    clusters job kept. And the clusters job (rebuild, then the statistics' sample) leaves the strategy the same
    clusters as the bare rebuild: the same signals, with events arriving in between."""
    clock = Clock()
    bot = make_bot(tmp_path / "heartbeat", clock)
    bot.run_job("heartbeat")  # before any event: a read of the heatmap here would keep "no cluster" for 5 s
    for i in range(10):
        assert bot.heatmap.ingest(event(101_500.0 + i, 1.0, side="short", age_min=1 + i / 10, now=clock.now))
    bot.heatmap.update_price("BTCUSDT", 100_000.0, clock.now)
    bot.run_job("signals")
    assert [r.action for r in bot.books.recent_signals()] == ["entered"]

    records = []
    for with_statistics in (True, False):
        clock = Clock()
        bot = make_bot(tmp_path / str(with_statistics), clock)
        for i in range(10):
            assert bot.heatmap.ingest(event(101_500.0 + i, 1.0, side="short", age_min=1 + i / 10, now=clock.now))
        if with_statistics:
            bot.run_job("clusters")
            assert bot.statistics.latest()
        else:
            bot.heatmap.rebuild(now_ms=clock.now)
        clock.now += 1_000
        for i in range(6):
            assert bot.heatmap.ingest(event(101_400.0 + i, 2.0, side="short", age_min=0.1, now=clock.now))
        clock.now += 1_000
        bot.heatmap.update_price("BTCUSDT", 100_000.0, clock.now)
        bot.run_job("signals")
        records.append(bot.books.recent_signals())
    assert records[0] == records[1] and records[0]
