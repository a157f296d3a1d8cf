"""``liquidation-hunter record --publish`` as its own process (issue 17): every event the recorder stores is
appended to ``liq:<exchange>`` once (a frame the venue sends twice is stored and published once), with the
publisher's epoch and numbers 1, 2, 3 ...; and a trading bot (``run``) with ``feed.publish`` does the same."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from bot_process import GUARDED_CLI, PAPER_BOT, ROOT, force_order, log_events, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest
from redis_server import redis_server

from liquidation_hunter.feed.codec import decode
from live_heatmap.store.recorder import EventStore

CONFIG = """\
symbols: [BTCUSDT, ETHUSDT]
exchange:
  ws_url: {ws}
schedule:
  heartbeat: 1
storage:
  path: books.sqlite
  events: events.sqlite
logging:
  format: json
"""


def test_record_publishes_every_stored_event_once(tmp_path: Path) -> None:
    now = time.time_ns() // 1_000_000
    with redis_server(tmp_path / "redis") as server, FakeBinance(ping_interval=None) as ws:
        config = tmp_path / "record.yaml"
        config.write_text(CONFIG.format(ws=ws.market_url), encoding="utf-8")
        log = tmp_path / "record.log"
        with log.open("ab") as out:
            recorder = subprocess.Popen([sys.executable, str(GUARDED_CLI), "record", "--config", str(config),
                                         "--publish", server.url], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: log_events(log, "recorder_started"), "the recorder to start", log, bot=recorder)
            assert ws.wait_for_connections(1, timeout=10)
            time.sleep(0.3)  # subscribed
            frames = [force_order(("BTCUSDT", "ETHUSDT")[i % 2], now - 5_000 + i, 100.0 + i) for i in range(6)]
            for f in [*frames, frames[2]]:  # the venue sends one twice (a reconnect's overlap)
                ws.publish_force_order(f)
            client = server.client()
            wait_for(lambda: client.xlen("liq:binance") >= 6, "six entries in liq:binance", log, bot=recorder)
            time.sleep(0.5)  # a seventh would have come by now
            wait_for(lambda: any(b.get("feed", {}).get("published") == 6
                                 for b in log_events(log, "recorder_heartbeat")),
                     "a heartbeat with the feed's count", log, bot=recorder)
        finally:
            recorder.send_signal(signal.SIGTERM)
            recorder.wait(10)
        assert recorder.returncode == 0
        entries = [decode(fields) for _, fields in server.client().xrange("liq:binance")]
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
        assert len({e.epoch for e in entries}) == 1
        with EventStore.open_readonly(tmp_path / "events.sqlite") as store:
            assert sorted(store.events()) == sorted(e.event for e in entries)
        stopped = log_events(log, "recorder_stopped")[0]
        assert (stopped["published"], stopped["publish_dropped"]) == (6, 0)


BOT_CONFIG = PAPER_BOT + "feed:\n  publish: {redis}\n"


def test_a_trading_bot_with_feed_publish_publishes_what_it_accepts(tmp_path: Path) -> None:
    """``run`` with ``feed.publish``: the bot holds the venue's connection and the other bots read the feed."""
    now = time.time_ns() // 1_000_000
    with redis_server(tmp_path / "redis") as server, FakeBinance(ping_interval=None) as ws, \
            FakeBinanceRest(symbols=("BTCUSDT", "ETHUSDT"), prices={"BTCUSDT": 100.0, "ETHUSDT": 100.0}) as rest:
        config = tmp_path / "bot.yaml"
        config.write_text(BOT_CONFIG.format(ws=ws.market_url, rest=rest.base_url, events="events.sqlite",
                                                  redis=server.url), encoding="utf-8")
        log = tmp_path / "bot.log"
        with started_bot(config, log) as bot:
            wait_for(lambda: log_events(log, "loop_started"), "the bot to start", log, bot=bot)
            assert ws.wait_for_connections(1, timeout=10)
            time.sleep(0.3)  # subscribed
            frames = [force_order(("BTCUSDT", "ETHUSDT")[i % 2], now - 5_000 + i, 100.0 + i) for i in range(4)]
            for f in frames:
                ws.publish_force_order(f)
            client = server.client()
            wait_for(lambda: client.xlen("liq:binance") >= 4, "four entries in liq:binance", log, bot=bot)
        assert bot.returncode == 0
        entries = [decode(fields) for _, fields in server.client().xrange("liq:binance")]
        assert [e.seq for e in entries] == [1, 2, 3, 4]
        with EventStore.open_readonly(tmp_path / "events.sqlite") as store:
            assert sorted(store.events()) == sorted(e.event for e in entries)
        assert log_events(log, "feed_published")[0]["published"] == 4
