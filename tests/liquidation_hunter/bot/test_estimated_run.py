"""A paper bot with ``estimated.enabled`` as its own process against the local fake Binance WebSocket and REST
servers (issue 14, live inputs): the window backfilled over REST on start (the layer warm at once), the kline
streams subscribed beside the mark prices, the open interest polled (a failed poll counted, the loop going on),
and ``status`` (text, JSON) and the API's ``/api/v1/status`` showing the REST budget and the layer per symbol."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from bot_process import log_events, publishing_marks, run_cli, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest

from live_heatmap.estimated import shipped_brackets
from live_heatmap.estimated.budget import estimated_budget
from live_heatmap.estimated.config import WINDOWS_MS

MARKS = {"BTCUSDT": 101_000.0, "ETHUSDT": 3_050.0}
BAR = 300_000

CONFIG = """\
mode: paper
symbols: [BTCUSDT, ETHUSDT]
exchange:
  ws_url: {ws_url}
  rest_url: {rest_url}
  mark_price: true
schedule:
  heartbeat: 1
storage:
  path: books.sqlite
  events: null
logging:
  format: json
api:
  enabled: true
  port: 0
estimated:
  enabled: true
  window: 12h
  oi_poll_seconds: 10
"""


def test_a_paper_bot_keeps_the_estimated_layer_and_status_shows_it(tmp_path: Path) -> None:
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest(prices=MARKS) as rest:
        rest.fail_next("/fapi/v1/openInterest", code=-1121, msg="Invalid symbol.")  # the first poll of one symbol
        config = tmp_path / "bot.yaml"
        config.write_text(CONFIG.format(ws_url=ws.market_url, rest_url=rest.base_url), encoding="utf-8")
        log = tmp_path / "bot.log"
        expected = estimated_budget(2, 10.0, WINDOWS_MS["12h"])
        with started_bot(config, log) as bot, publishing_marks(ws, MARKS):
            wait_for(lambda: log_events(log, "loop_started"), "the bot to start", log, bot=bot)
            assert log_events(log, "loop_started")[0]["jobs"]["estimated"] == 10
            (budget_line,) = log_events(log, "estimated.budget")
            assert budget_line["budget"] == expected.line()
            assert ws.wait_for_subscription("btcusdt@kline_5m", timeout=10.0)
            assert ws.wait_for_subscription("ethusdt@kline_5m", timeout=10.0)
            now = time.time_ns() // 1_000_000
            ws.publish_kline("BTCUSDT", now - now % BAR, open_=101_000.0, high=101_100.0, low=100_900.0,
                             close=101_050.0, closed=False)  # the open bar: read, not a bar yet

            def estimated() -> dict[str, Any]:
                done = run_cli("status", "--config", str(config), "--json")
                return json.loads(done.stdout)["stream"].get("estimated") or {}

            wait_for(lambda: estimated().get("kline_frames") and estimated()["symbols"]["BTCUSDT"]["oi_errors"],
                     "the kline frame and the failed poll in status", log, bot=bot)
            est = estimated()
            assert est["label"] == f"estimated · {shipped_brackets().label} · not validated"
            assert est["budget"]["line"] == expected.line()
            assert est["budget"]["first_minute_weight"] <= est["budget"]["limit_per_minute"] / 2
            for symbol in MARKS:
                row = est["symbols"][symbol]
                assert row["bars"] == row["model_bars"] == expected.window_bars  # warm at once: the whole window
                assert row["backfilled_klines"] == expected.window_bars
                assert row["last_bar_close_ms"] is not None and row["rest_errors"] == 0
            assert (est["symbols"]["BTCUSDT"]["oi_errors"], est["symbols"]["ETHUSDT"]["oi_errors"]) == (1, 0)
            text = run_cli("status", "--config", str(config)).stdout
            assert est["label"] in text and f"REST budget: {expected.line()}" in text
            assert f"BTCUSDT: {expected.window_bars} bars" in text
            port = log_events(log, "api_listening")[-1]["port"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as answer:
                api = json.loads(answer.read())
            assert api["stream"]["estimated"]["label"] == est["label"]
            assert api["stream"]["estimated"]["budget"]["line"] == expected.line()
            heartbeat = log_events(log, "heartbeat")[-1]
            assert not (heartbeat.get("job_failures") or {}).get("estimated")
        assert bot.returncode == 0
