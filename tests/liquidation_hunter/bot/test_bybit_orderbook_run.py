"""A paper bot with ``exchanges: [binance, bybit]`` and ``orderbook: {enabled: true, venue: bybit}`` as its own
process against the local fake Binance and Bybit WebSocket and REST servers (issue 15): Bybit's ``orderbook.200``
on a Bybit connection of its own syncs the book from the snapshot Bybit sends on subscribe (no REST snapshot,
0 weight), an injected ``u`` gap -> exactly one resync (an unsubscribe and a subscribe: a fresh snapshot) and the
book synced again, a ``publicTrade`` reaches the layer's walls, and ``status`` (text, JSON) and
``/api/v1/unified/BTCUSDT`` show the Bybit book."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from bot_process import log_events, publishing_marks, run_cli, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest
from fakes.bybit.rest_server import FakeBybitRest
from fakes.bybit.ws_server import FakeBybit

MARKS = {"BTCUSDT": 100_000.0}
BIDS = [(100_000.0 - i, 1.0 + i % 3) for i in range(50)]
ASKS = [(100_001.0 + i, 2.0 + i % 2) for i in range(50)]

CONFIG = """\
mode: paper
symbols: [BTCUSDT]
exchanges: [binance, bybit]
exchange:
  ws_url: {ws_url}
  rest_url: {rest_url}
  mark_price: true
venues:
  bybit:
    ws_url: {bybit_ws}
    rest_url: {bybit_rest}
schedule:
  heartbeat: 1
storage:
  path: books.sqlite
  events: events.sqlite
logging:
  format: json
api:
  enabled: true
  port: 0
orderbook:
  enabled: true
  venue: bybit
  sample_seconds: 0.2
  record_seconds: 10
"""


def test_a_paper_bot_keeps_bybits_book_and_a_gap_resyncs_it_once(tmp_path: Path) -> None:
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest(prices=MARKS) as rest, FakeBybit() as bybit, \
            FakeBybitRest() as bybit_rest:
        bybit.set_book("BTCUSDT", BIDS, ASKS, u=7_000)
        config = tmp_path / "bot.yaml"
        config.write_text(CONFIG.format(ws_url=ws.market_url, rest_url=rest.base_url, bybit_ws=bybit.url,
                                        bybit_rest=bybit_rest.base_url), encoding="utf-8")
        log = tmp_path / "bot.log"
        with started_bot(config, log) as bot, publishing_marks(ws, MARKS):
            wait_for(lambda: log_events(log, "loop_started"), "the bot to start", log, bot=bot)
            assert log_events(log, "loop_started")[0]["jobs"]["orderbook"] == 0.2
            budget = log_events(log, "orderbook.budget")[0]
            assert budget["venue"] == "bybit" and "0 weight" in budget["budget"]
            assert bybit.wait_for_subscription("orderbook.200.BTCUSDT", timeout=10.0)
            assert bybit.wait_for_subscription("publicTrade.BTCUSDT", timeout=10.0)
            assert bybit.wait_for_subscription("allLiquidation.BTCUSDT", timeout=10.0)
            book_conns = [c for c in bybit.open_connections() if "orderbook.200.BTCUSDT" in c.subscriptions]
            assert len(book_conns) == 1 and "allLiquidation.BTCUSDT" not in book_conns[0].subscriptions

            def book() -> dict[str, Any]:
                done = run_cli("status", "--config", str(config), "--json")
                return json.loads(done.stdout)["stream"].get("orderbook") or {}

            def row() -> dict[str, Any]:
                return (book().get("symbols") or {}).get("BTCUSDT") or {}

            def state() -> tuple[Any, Any, Any]:
                r = row()
                return r.get("state"), r.get("resyncs"), r.get("last_update_id")

            wait_for(lambda: state() == ("synced", 0, 7_000), "the book synced from Bybit's snapshot", log, bot=bot)
            bybit.book_delta("BTCUSDT", asks=[(100_060.0, 1.0)])
            wait_for(lambda: state() == ("synced", 0, 7_001), "a delta applied", log, bot=bot)
            bybit.skip_update("BTCUSDT", bids=[(99_999.0, 0.0)])  # never sent: a gap in u
            bybit.book_delta("BTCUSDT", asks=[(100_070.0, 2.0)])
            wait_for(lambda: state() == ("synced", 1, 7_003), "the resync: a fresh snapshot", log, bot=bot)
            assert (bybit.unsubscribes, bybit.snapshots_sent) == (1, 2)
            bybit.book_delta("BTCUSDT", bids=[(99_999.0, 4.0)])
            wait_for(lambda: state() == ("synced", 1, 7_004), "synced again, one resync", log, bot=bot)
            assert bybit.publish_trade("BTCUSDT", 100_001.0, 0.5, int(time.time() * 1000)) == 1
            wait_for(lambda: book().get("trades") == 1, "the trade in the layer's inputs", log, bot=bot)
            status = book()
            assert (status["venue"], status["mode"], status["budget"]["first_minute_weight"]) == ("bybit", "stream", 0)
            assert status["stream"]["url"] == bybit.url and status["stream"]["connected"]
            r = status["symbols"]["BTCUSDT"]
            assert r["snapshots"] == 0 and r["samples"] > 0 and r["rejects"].get("gap") == 1
            assert rest.depth.snapshots_served == 0  # nothing asked of Binance's REST
            text = run_cli("status", "--config", str(config)).stdout
            assert "order books (stream mode, Bybit)" in text and "0 weight" in text
            assert "BTCUSDT: book synced, resyncs 1" in text
            port = log_events(log, "api_listening")[-1]["port"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/unified/BTCUSDT", timeout=5) as answer:
                unified = json.loads(answer.read())
            liquidity = unified["liquidity"]
            assert liquidity is not None and liquidity["book"]["book_state"] == "synced"
            assert liquidity["book"]["resyncs"] == 1
            codes = {w["code"] for w in unified["insights"]["warnings"]}
            assert not codes & {"no_liquidity_layer", "book_not_synced", "no_depth"}, codes
            heartbeat = log_events(log, "heartbeat")[-1]
            assert not (heartbeat.get("job_failures") or {}).get("orderbook")
        assert bot.returncode == 0
