"""End to end: ``liquidation-hunter run --live`` started while the exchange cannot be reached (its port is
closed) keeps running, retries with a warning line per attempt and no traceback, and starts trading once the
exchange answers (the fake Binance REST server opened on that port). It then warns about the configured symbol
the exchange does not list, and ``status`` shows it, the exchange's wallet and the stream's reconnect count.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fakes.binance import FakeBinance, FakeBinanceRest

ROOT = Path(__file__).resolve().parents[2]
GUARDED_CLI = Path(__file__).resolve().parents[1] / "support" / "guarded_cli.py"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _events(log: Path, name: str) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == name:
            out.append(record)
    return out


def _wait_for(predicate: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = "\n".join(log.read_text().splitlines()[-30:])
    raise AssertionError(f"timed out waiting for {what}; the bot's log ends:\n{tail}")


def test_a_live_start_without_the_exchange_retries_then_trades_without_a_traceback(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there yet
    log = tmp_path / "bot.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
    with FakeBinance(ping_interval=None) as ws:
        config = tmp_path / "bot.yaml"
        config.write_text(CONFIG.format(ws_url=ws.market_url, port=port))
        with log.open("ab") as out:
            bot = subprocess.Popen([sys.executable, str(GUARDED_CLI), "run", "--live", "--config", str(config)],
                                   cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, env=env)
        rest = FakeBinanceRest(api_key=KEY, api_secret=SECRET, port=port, prices={"BTCUSDT": 100_000.0})
        try:
            _wait_for(lambda: len(_events(log, "exchange_unreachable")) >= 2, 90, "two failed attempts", log)
            assert bot.poll() is None, "the bot stopped"
            _wait_for(lambda: _events(log, "loop_started"), 30, "the loop to run meanwhile", log)
            rest.start()
            _wait_for(lambda: _events(log, "exchange_reachable"), 90, "the exchange to be reached", log)
            _wait_for(lambda: len(_events(log, "heartbeat")) >= 3 and _events(log, "heartbeat")[-1].get(
                "waiting_for") is None, 30, "heartbeats of a ready bot", log)
            status = subprocess.run([sys.executable, str(GUARDED_CLI), "status", "--config", str(config), "--json"],
                                    cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True, env=env)
        finally:
            if bot.poll() is None:
                bot.send_signal(signal.SIGTERM)
                bot.wait(15)
            rest.stop()
    text = log.read_text()
    assert bot.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    assert [line for line in text.splitlines() if '"level": "error"' in line] == []  # a blip is not an error
    failures = _events(log, "exchange_unreachable")
    assert all(f["level"] == "warning" and "\n" not in f["error"] for f in failures)
    assert [f["attempt"] for f in failures] == list(range(1, len(failures) + 1))
    assert [e["symbol"] for e in _events(log, "symbol_not_listed")] == ["NOTACOIN/USDT:USDT"]
    report = json.loads(status.stdout)
    assert report["stream"]["unknown_symbols"] == ["NOTACOIN/USDT:USDT"]
    assert report["stream"]["ready"] is True and isinstance(report["stream"]["reconnects"], int)
    assert report["stream"]["exchange"]["wallet"] == 10_000.0 == report["account"]["wallet"]
    assert rest.unexpected == []
