"""The bot and its commands as their own processes, as a user runs them: ``liquidation-hunter ...`` through
guarded_cli.py (so the process cannot reach the internet either), the bot's JSON log in a file, and waiting on
what that log says.

    with started_bot(config, log) as bot:
        wait_for(lambda: log_events(log, "heartbeat"), "the first heartbeat", log, bot=bot)
        report = json.loads(run_cli("status", "--config", str(config), "--json").stdout)
    assert bot.returncode == 0
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fakes.binance import FakeBinance

__all__ = ["GUARDED_CLI", "ROOT", "free_port", "log_events", "log_records", "output_lines", "publishing_marks",
           "run_cli", "start_bot", "started_bot", "stop_bot", "wait_for"]

ROOT = Path(__file__).resolve().parents[2]
GUARDED_CLI = Path(__file__).resolve().parent / "guarded_cli.py"


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}


def start_bot(config: Path, log: Path, *extra: str, env: dict[str, str] | None = None,
              cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """``run --config CONFIG EXTRA...`` (e.g. ``--live``), its output appended to ``log``; ``env`` is added to
    the environment."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, str(GUARDED_CLI), "run", "--config", str(config), *extra],
                                cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=_env(env))


def stop_bot(bot: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Send ``sig`` to a bot still running and wait for it to end (``bot.returncode`` then says how)."""
    if bot.poll() is None:
        bot.send_signal(sig)
        bot.wait(timeout)


@contextmanager
def started_bot(config: Path, log: Path, *extra: str, env: dict[str, str] | None = None,
                cwd: Path = ROOT) -> Iterator[subprocess.Popen[bytes]]:
    """:func:`start_bot`, stopped with SIGTERM when the block ends (however it ends)."""
    bot = start_bot(config, log, *extra, env=env, cwd=cwd)
    try:
        yield bot
    finally:
        stop_bot(bot)


def run_cli(*argv: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
            timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``liquidation-hunter ARGV...`` to its end, its output captured as text (the exit code is not checked)."""
    return subprocess.run([sys.executable, str(GUARDED_CLI), *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, env=_env(env))


def log_records(log: Path) -> list[dict[str, Any]]:
    """Every JSON object line of the log (``logging.format: json``); other lines are skipped."""
    out = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def log_events(log: Path, name: str) -> list[dict[str, Any]]:
    """The log's records of event ``name``, oldest first."""
    return [r for r in log_records(log) if r.get("event") == name]


def wait_for(predicate: Callable[[], Any], what: str, log: Path, *, bot: subprocess.Popen[bytes] | None = None,
             timeout: float = 60.0) -> None:
    """Poll ``predicate`` until it is truthy; fail with the log's tail after ``timeout`` seconds, or at once
    when ``bot`` (if given) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        exited = bot is not None and bot.poll() is not None  # before the predicate: it sees the last lines
        if predicate():
            return
        if exited:
            problem = f"the bot exited ({bot.returncode if bot else None}) while waiting for {what}"
        elif time.monotonic() > deadline:
            problem = f"timed out waiting for {what}"
        else:
            time.sleep(0.05)
            continue
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise AssertionError(f"{problem}; the bot's log ends:\n{tail}")


PAPER_BOT = """\
mode: paper
symbols: [BTCUSDT, ETHUSDT]
exchange:
  ws_url: {ws}
  rest_url: {rest}
schedule:
  heartbeat: 1
storage:
  path: books.sqlite
  events: {events}
logging:
  format: json
"""
"""A paper bot on BTCUSDT and ETHUSDT against the fakes (``ws``, ``rest``), recording into ``events``; a test
appends its own sections."""


def force_order(symbol: str, t: int, price: float) -> dict[str, Any]:
    """A ``forceOrder`` payload: a long of 1 ``symbol`` liquidated (a SELL filled at ``price``) at ``t`` ms."""
    return {"e": "forceOrder", "E": t + 3, "o": {"s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "1",
                                               "p": str(price * 0.99), "ap": str(price), "X": "FILLED", "l": "1",
                                               "z": "1", "T": t}}


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (the OS's pick, released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def publishing_marks(ws: FakeBinance, prices: Mapping[str, float], every: float = 0.2) -> Iterator[None]:
    """Publish ``prices`` (symbol -> mark price) on the fake stream every ``every`` seconds while the block runs:
    a bot's prices go stale without them, and paper fills need one."""
    stop = threading.Event()

    def publish() -> None:
        while not stop.wait(every):
            now = time.time_ns() // 1_000_000
            for symbol, price in prices.items():
                ws.publish_mark_price(symbol, price, now)

    publisher = threading.Thread(target=publish, name="marks", daemon=True)
    publisher.start()
    try:
        yield
    finally:
        stop.set()
        publisher.join(2)


def output_lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The lines ``proc`` writes to its stdout (a pipe, text), as they come, without their newline; None once
    it closes. Read with ``get(timeout=...)``: a process that goes quiet fails the test instead of hanging it."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines
