"""End to end: ``liquidation-hunter run --live`` started while the exchange cannot be reached (its port is
closed) keeps running, retries with a warning line per attempt and no traceback, and starts trading once the
exchange answers (the fake Binance REST server opened on that port). It then warns about the configured symbol
the exchange does not list, and ``status`` shows it, the exchange's wallet and the stream's reconnect count.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot_process import free_port, log_events, run_cli, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest

KEY, SECRET = "start-test-key", "start-test-secret"

CONFIG = """\
mode: live
symbols: [BTCUSDT, NOTACOINUSDT]
exchange:
  ws_url: {ws_url}
  rest_url: http://127.0.0.1:{port}
  timeouts:
    rest: 2
risk:
  leverage: 3
  max_notional_per_position: 1000
schedule:
  clusters: 0.5
  signals: 0.5
  positions: 0.5
  heartbeat: 1
storage:
  path: books.sqlite
logging:
  format: json
  level: info
"""


def test_a_live_start_without_the_exchange_retries_then_trades_without_a_traceback(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there yet
    log = tmp_path / "bot.log"
    env = {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
    with FakeBinance(ping_interval=None) as ws:
        config = tmp_path / "bot.yaml"
        config.write_text(CONFIG.format(ws_url=ws.market_url, port=port))
        rest = FakeBinanceRest(api_key=KEY, api_secret=SECRET, port=port, prices={"BTCUSDT": 100_000.0})
        try:
            with started_bot(config, log, "--live", env=env, cwd=tmp_path) as bot:
                wait_for(lambda: len(log_events(log, "exchange_unreachable")) >= 2, "two failed attempts", log,
                         bot=bot, timeout=90)
                wait_for(lambda: log_events(log, "loop_started"), "the loop to run meanwhile", log, bot=bot)
                rest.start()
                wait_for(lambda: log_events(log, "exchange_reachable"), "the exchange to be reached", log, bot=bot,
                         timeout=90)
                wait_for(lambda: log_events(log, "heartbeat") and log_events(log, "heartbeat")[-1].get(
                    "waiting_for") is None, "the heartbeat of a ready bot", log, bot=bot)
                status = run_cli("status", "--config", str(config), "--json", env=env, cwd=tmp_path)
                assert status.returncode == 0, status.stdout + status.stderr
        finally:
            rest.stop()
    text = log.read_text()
    assert bot.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    assert [line for line in text.splitlines() if '"level": "error"' in line] == []  # a blip is not an error
    failures = log_events(log, "exchange_unreachable")
    assert all(f["level"] == "warning" and "\n" not in f["error"] for f in failures)
    assert [f["attempt"] for f in failures] == list(range(1, len(failures) + 1))
    assert [e["symbol"] for e in log_events(log, "symbol_not_listed")] == ["NOTACOIN/USDT:USDT"]
    report = json.loads(status.stdout)
    assert report["stream"]["unknown_symbols"] == ["NOTACOIN/USDT:USDT"]
    assert report["stream"]["ready"] is True and isinstance(report["stream"]["reconnects"], int)
    assert report["stream"]["exchange"]["wallet"] == 10_000.0 == report["account"]["wallet"]
    assert rest.unexpected == []
