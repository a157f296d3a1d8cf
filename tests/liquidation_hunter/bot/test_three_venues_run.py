"""``liquidation-hunter run`` with ``exchanges: [binance, bybit, okx]`` as its own process, against local fakes of
the three venues' WebSockets and REST APIs: OKX's backfill on start, one stream per venue, a liquidation from each
recorded, OKX's backfilled event pushed again by its stream stored once, and ``status`` per venue."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bot_process import log_events, publishing_marks, run_cli, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest
from fakes.bybit.rest_server import FakeBybitRest
from fakes.bybit.ws_server import FakeBybit
from fakes.okx.rest_server import FakeOkxRest
from fakes.okx.ws_server import FakeOkx

from live_heatmap.store.recorder import EventStore

MARKS = {"BTCUSDT": 82_600.0, "ETHUSDT": 2_450.0}

CONFIG = """\
mode: paper
symbols: [BTCUSDT, ETHUSDT, XRPUSDT]
exchanges: [binance, bybit, okx]
exchange:
  ws_url: {binance_ws}
  rest_url: {binance_rest}
venues:
  bybit:
    ws_url: {bybit_ws}
    rest_url: {bybit_rest}
  okx:
    ws_url: {okx_ws}
    rest_url: {okx_rest}
schedule:
  heartbeat: 1
storage:
  path: books.sqlite
  events: events.sqlite
logging:
  format: json
"""


def _force_order(t: int) -> dict[str, object]:
    return {"e": "forceOrder", "E": t + 3, "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.190",
                                               "p": "82338.30", "ap": "82651.90", "X": "FILLED", "l": "0.155",
                                               "z": "0.190", "T": t}}


def test_run_three_venues(tmp_path: Path) -> None:
    now = time.time_ns() // 1_000_000
    okx_rest = FakeOkxRest()
    okx_rest.add_liquidation("BTC-USDT-SWAP", pos_side="long", side="sell", sz="8.55", bk_px="82655.7", ts=now - 90_000)
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest(symbols=("BTCUSDT", "ETHUSDT", "XRPUSDT"),
                                                               prices=MARKS) as rest, \
            FakeBybit() as bybit_ws, FakeBybitRest() as bybit_rest, FakeOkx() as okx_ws, okx_rest:
        config = tmp_path / "bot.yaml"
        config.write_text(CONFIG.format(binance_ws=ws.market_url, binance_rest=rest.base_url, bybit_ws=bybit_ws.url,
                                         bybit_rest=bybit_rest.base_url, okx_ws=okx_ws.url,
                                         okx_rest=okx_rest.base_url), encoding="utf-8")
        log = tmp_path / "bot.log"
        with started_bot(config, log) as bot, publishing_marks(ws, MARKS):
            wait_for(lambda: log_events(log, "loop_started"), "the bot to start", log, bot=bot)
            assert log_events(log, "loop_started")[0]["jobs"]["markets"] == 3600  # the daily refresh's check
            assert bybit_ws.wait_for_subscription("allLiquidation.BTCUSDT", timeout=10.0)
            assert okx_ws.wait_for_subscription("liquidation-orders:SWAP", timeout=10.0)
            assert [(e["events"], e["new"], e["failed"]) for e in log_events(log, "backfill")] == [(1, 1, 0)]
            assert [(e["venue"], e["symbols"]) for e in log_events(log, "stream.symbols_skipped")] == [
                ("bybit", ["XRP/USDT:USDT"]), ("okx", ["XRP/USDT:USDT"])]
            t = time.time_ns() // 1_000_000
            ws.publish_force_order(_force_order(t - 2_000))
            bybit_ws.publish("BTCUSDT", [{"T": t - 1_500, "s": "BTCUSDT", "S": "Buy", "v": "0.006", "p": "82396.90"},
                                         {"T": t - 1_400, "s": "BTCUSDT", "S": "Buy", "v": "0.038", "p": "82394.30"}])
            okx_ws.publish([{"instId": "BTC-USDT-SWAP", "details": [  # the backfilled one again, and a new one
                {"bkLoss": "0", "bkPx": "82655.7", "ccy": "", "posSide": "long", "side": "sell", "sz": "8.55",
                 "ts": str(now - 90_000)},
                {"bkLoss": "0", "bkPx": "82700.1", "ccy": "", "posSide": "net", "side": "buy", "sz": "2",
                 "ts": str(t - 1_000)}]}])

            def status() -> dict[str, dict[str, object]]:
                done = run_cli("status", "--config", str(config), "--json")
                return {v["venue"]: v for v in json.loads(done.stdout)["stream"].get("venues") or ()}

            wait_for(lambda: all(v["connected"] and v["events"] for v in status().values()) and len(status()) == 3,
                     "every venue connected with its events in status", log, bot=bot)
            venues = status()
            assert venues["okx"]["skipped_symbols"] == ["XRP/USDT:USDT"]
            assert venues["okx"]["backfill"]["accepted"] == 1 and venues["okx"]["instruments"] == 4
            assert venues["bybit"]["markets_source"] == "exchange" and venues["binance"]["skipped_symbols"] == []
            text = run_cli("status", "--config", str(config)).stdout
            assert sum(line.startswith("venue ") for line in text.splitlines()) == 3
        assert bot.returncode == 0
    with EventStore.open_readonly(tmp_path / "events.sqlite") as store:
        # Binance 1, Bybit 2, OKX 2 (the backfilled one once, though the stream sent it again)
        assert store.count() == 5
