"""A paper bot with ``orderbook.enabled`` as its own process against the local fake Binance WebSocket and REST
servers (issue 15, live depth): the depth stream on the ``/public`` connection and the trades on ``/market``, the
book synchronised with a REST snapshot, a trade to the walls, an injected ``pu`` gap -> one resync, ``status``
(text, JSON) and the API's ``/api/v1/status`` showing the book, its resyncs and the REST budget, and the depth
recorded to the event store's file for replays."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from bot_process import log_events, publishing_marks, run_cli, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest

from live_heatmap.store.depth_runs import load_depth_history
from live_heatmap.stream.depth_budget import depth_budget

MARKS = {"BTCUSDT": 100_000.0}
BIDS = [(100_000.0 - i, 1.0 + i % 3) for i in range(50)]
ASKS = [(100_001.0 + i, 2.0 + i % 2) for i in range(50)]

CONFIG = """\
mode: paper
symbols: [BTCUSDT]
exchange:
  ws_url: {ws_url}
  rest_url: {rest_url}
  mark_price: true
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
  public_url: {public_url}
  sample_seconds: 0.2
  record_seconds: 10
"""


def test_a_paper_bot_keeps_a_synced_book_and_status_shows_its_resyncs(tmp_path: Path) -> None:
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest(prices=MARKS) as rest:
        rest.depth.set_book("BTCUSDT", BIDS, ASKS, last_update_id=9_000)
        config = tmp_path / "bot.yaml"
        config.write_text(CONFIG.format(ws_url=ws.market_url, rest_url=rest.base_url, public_url=ws.public_url),
                          encoding="utf-8")
        log = tmp_path / "bot.log"
        expected = depth_budget(1, mode="stream", limit=1000)
        with started_bot(config, log) as bot, publishing_marks(ws, MARKS):
            wait_for(lambda: log_events(log, "loop_started"), "the bot to start", log, bot=bot)
            jobs = log_events(log, "loop_started")[0]["jobs"]
            assert (jobs["orderbook"], jobs["orderbook_record"]) == (0.2, 10)
            assert log_events(log, "orderbook.budget")[0]["budget"] == expected.line()
            assert ws.wait_for_subscription("btcusdt@depth@100ms", timeout=10.0)
            assert ws.wait_for_subscription("btcusdt@aggTrade", timeout=10.0)
            paths = {c.path.split("/stream")[0] for c in ws.open_connections()}
            assert paths == {"/market", "/public"}

            def book() -> dict[str, Any]:
                done = run_cli("status", "--config", str(config), "--json")
                return json.loads(done.stdout)["stream"].get("orderbook") or {}

            def state() -> tuple[Any, Any]:
                row = (book().get("symbols") or {}).get("BTCUSDT") or {}
                return row.get("state"), row.get("resyncs")

            def diff_then_state(size: float) -> tuple[Any, Any]:
                """One more diff (after a snapshot the book is served from the first diff bridging it), then the
                book's state and resyncs."""
                ws.publish_depth(rest.depth.update("BTCUSDT", asks=[(100_060.0, size)]))
                return state()

            wait_for(lambda: diff_then_state(1.0) == ("synced", 0), "the book synced", log, bot=bot)
            rest.depth.update("BTCUSDT", bids=[(99_999.0, 0.0)])  # never sent: a gap in the pu chain
            ws.publish_depth(rest.depth.update("BTCUSDT", asks=[(100_070.0, 2.0)]))
            wait_for(lambda: state()[1] == 1, "the resync", log, bot=bot)
            wait_for(lambda: diff_then_state(3.0) == ("synced", 1), "the book synced again", log, bot=bot)
            assert ws.publish_agg_trade("BTCUSDT", 100_001.0, 0.5, int(time.time() * 1000)) == 1  # on /market
            wait_for(lambda: book().get("trades") == 1, "the trade in the layer's inputs", log, bot=bot)
            status = book()
            assert status["mode"] == "stream" and status["budget"]["line"] == expected.line()
            assert status["stream"]["url"] == ws.public_url and status["stream"]["connected"]
            assert status["symbols"]["BTCUSDT"]["snapshots"] == 2 and status["symbols"]["BTCUSDT"]["samples"] > 0
            text = run_cli("status", "--config", str(config)).stdout
            assert f"REST budget: {expected.line()}" in text
            assert "BTCUSDT: book synced, resyncs 1" in text
            port = log_events(log, "api_listening")[-1]["port"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as answer:
                api = json.loads(answer.read())
            assert api["stream"]["orderbook"]["symbols"]["BTCUSDT"]["resyncs"] == 1
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/unified/BTCUSDT", timeout=5) as answer:
                unified = json.loads(answer.read())
            assert unified["liquidity"] is not None  # the bot's layer behind the unified view
            assert unified["liquidity"]["book"]["book_state"] == "synced"
            codes = {w["code"] for w in unified["insights"]["warnings"]}
            assert not codes & {"no_liquidity_layer", "book_not_synced", "no_depth"}, codes
            heartbeat = log_events(log, "heartbeat")[-1]
            assert not (heartbeat.get("job_failures") or {}).get("orderbook")
        assert bot.returncode == 0
    recorded = load_depth_history(tmp_path / "events.sqlite", "BTCUSDT", 0, 2**62, bin_width=0.0005)
    assert recorded.runs > 0  # the open runs recorded at stop, for replays
