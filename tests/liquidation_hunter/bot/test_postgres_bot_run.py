"""A trading bot whose ``storage.events`` is a PostgreSQL database (issue 17), as its own process against the fake
exchange and a real PostgreSQL 15 started by the tests: it records every liquidation it accepts into the shared
store; killed with SIGKILL and started again, it warm-starts from that store; ``status`` names the store by its
URL."""

from __future__ import annotations

import time
from pathlib import Path

from bot_process import PAPER_BOT, force_order, log_events, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest
from postgres_server import PostgresServer, fresh_database

from live_heatmap.store.stores import open_event_store


def stored(url: str) -> int:
    with open_event_store(url, readonly=True) as store:
        return store.count()


def test_a_bot_records_into_postgresql_and_warm_starts_from_it_after_a_kill(postgres_server: PostgresServer,
                                                                            tmp_path: Path) -> None:
    url = fresh_database(postgres_server)
    now = time.time_ns() // 1_000_000
    with FakeBinance(ping_interval=None) as ws, \
            FakeBinanceRest(symbols=("BTCUSDT", "ETHUSDT"), prices={"BTCUSDT": 100.0, "ETHUSDT": 100.0}) as rest:
        config = tmp_path / "bot.yaml"
        config.write_text(PAPER_BOT.format(ws=ws.market_url, rest=rest.base_url, events=url), encoding="utf-8")
        log = tmp_path / "bot.log"
        with started_bot(config, log) as bot:
            wait_for(lambda: log_events(log, "loop_started"), "the bot to start", log, bot=bot)
            assert ws.wait_for_connections(1, timeout=10)
            time.sleep(0.3)  # subscribed
            for i in range(5):
                ws.publish_force_order(force_order(("BTCUSDT", "ETHUSDT")[i % 2], now - 5_000 + i, 100.0 + i))
            wait_for(lambda: stored(url) == 5, "five events in PostgreSQL", log, bot=bot)
            bot.kill()  # SIGKILL: no stop, no last flush
            bot.wait(10)
        with started_bot(config, log) as bot:
            wait_for(lambda: len(log_events(log, "loop_started")) == 2, "the bot to start again", log, bot=bot)
        assert bot.returncode == 0
    warm = log_events(log, "warm_start")
    assert [w["events"] for w in warm] == [0, 5]  # the second start loaded what the first one recorded
    assert {w["path"] for w in warm} == {url}  # named by its URL (no password in it to mask)
    assert stored(url) == 5
