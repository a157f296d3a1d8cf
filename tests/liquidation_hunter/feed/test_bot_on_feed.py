"""A bot on a feed (issue 17) as its own process against the fake exchange: ``feed.source`` set, it opens no
liquidation connection (the fake Binance WebSocket sees none), stores and counts the feed's events, polls its
prices over REST, and ``status`` (text and JSON) shows the feed and its cursor; restarted, it resumes after the
cursor its books hold."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bot_process import log_events, run_cli, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest
from redis_server import redis_server

from liquidation_hunter.feed.client import connect
from liquidation_hunter.feed.publisher import FeedPublisher
from liquidation_hunter.trading.books import Books
from live_heatmap import LiquidationEvent, Side, system_clock_ms
from live_heatmap.store.recorder import EventStore

MARKS = {"BTCUSDT": 82_600.0, "ETHUSDT": 2_450.0}

CONFIG = """\
mode: paper
symbols: [BTCUSDT, ETHUSDT]
exchange:
  ws_url: {binance_ws}
  rest_url: {binance_rest}
schedule:
  heartbeat: 1
  prices: 1
storage:
  path: books.sqlite
  events: events.sqlite
logging:
  format: json
feed:
  source: {redis}
  block_ms: 200
"""


def publish(url: str, events: list[LiquidationEvent]) -> None:
    publisher = FeedPublisher(connect(url))
    publisher.submit(events)
    while publisher.pending:
        publisher.send()


def test_a_bot_on_a_feed_opens_no_liquidation_connection_and_resumes_from_its_cursor(tmp_path: Path) -> None:
    now = system_clock_ms()
    events = [LiquidationEvent(("BTCUSDT", "ETHUSDT")[i % 2], Side.LONG, (82_000.0, 2_400.0)[i % 2] + i, 0.01,
                               now - 60_000 + i, now - 60_000 + i) for i in range(40)]
    with redis_server(tmp_path / "redis") as server, FakeBinance(ping_interval=None) as ws, \
            FakeBinanceRest(symbols=("BTCUSDT", "ETHUSDT"), prices=MARKS) as rest:
        config = tmp_path / "bot.yaml"
        config.write_text(CONFIG.format(binance_ws=ws.market_url, binance_rest=rest.base_url, redis=server.url),
                          encoding="utf-8")
        publish(server.url, events[:30])
        log = tmp_path / "bot.log"
        with started_bot(config, log) as bot:
            wait_for(lambda: log_events(log, "loop_started"), "the bot to start", log, bot=bot)
            wait_for(lambda: (run := json.loads(run_cli("status", "--config", str(config), "--json").stdout))
                     ["stream"].get("feed", {}).get("events") == 30 and run, "the feed's 30 events", log, bot=bot)
            report = json.loads(run_cli("status", "--config", str(config), "--json").stdout)
            text = run_cli("status", "--config", str(config)).stdout
        assert bot.returncode == 0
        assert ws.total_connections == 0  # no liquidation (nor mark-price) connection at all
        feed = report["stream"]["feed"]
        assert (feed["source"], feed["gaps"], feed["streams"]["liq:binance"]["seq"]) == (server.url, 0, 30)
        assert f"feed {server.url}: connected; 30 events" in text
        with EventStore.open_readonly(tmp_path / "events.sqlite") as store:
            assert store.count() == 30
        with Books.open_readonly(tmp_path / "books.sqlite") as books:
            cursor = books.feed_cursors()["liq:binance"]
        assert cursor.seq == 30
        publish(server.url, events[30:])  # while the bot is stopped
        with started_bot(config, log) as bot:
            wait_for(lambda: len(log_events(log, "loop_started")) == 2, "the bot to start again", log, bot=bot)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with EventStore.open_readonly(tmp_path / "events.sqlite") as store:
                    if store.count() == 40:
                        break
                time.sleep(0.1)
        assert ws.total_connections == 0
        with EventStore.open_readonly(tmp_path / "events.sqlite") as store:
            assert sorted(store.events()) == sorted(events)
        resumed = log_events(log, "feed_consumer_started")
        assert resumed[0]["resume_from"]["liq:binance"].endswith("-0")  # no cursor yet: from the start time
        assert resumed[1]["resume_from"]["liq:binance"] == cursor.last_id  # the 30th entry's id, from the books
