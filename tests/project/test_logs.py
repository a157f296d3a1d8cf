"""The bot's log stream: one format for its own lines and for the stdlib loggers of APScheduler, ccxt and uvicorn
(the API's server), and no secret in any line."""

from __future__ import annotations

import io
import json
import logging
import socket
import time

import pytest
import structlog

from liquidation_hunter.api import ApiServer, ApiSource
from liquidation_hunter.bot.logs import configure_logging
from live_heatmap import LiveLiquidationHeatmap

KEY = "k3y-0123456789abcdef"
SECRET = "s3cr3t-fedcba9876543210"


@pytest.mark.usefixtures("restore_logging")
def test_stdlib_records_are_json_lines_like_the_bots_own() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", level="info", secrets=[KEY, SECRET], stream=out)
    structlog.get_logger("liquidation_hunter.bot").info("heartbeat", equity=1.5)
    logging.getLogger("apscheduler.scheduler").warning("Run time of job %r was missed by %s", "signals", "0:00:02")
    logging.getLogger("ccxt.base.exchange").error("binanceusdm GET https://x?signature=1&apiKey=%s failed", KEY)
    try:
        raise RuntimeError(f"secret {SECRET} in an exception")
    except RuntimeError:
        logging.getLogger("apscheduler.executors.default").exception("Job raised an exception")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s (below the floor: not written)", "x")
    logging.getLogger("apscheduler.scheduler").info("below the stdlib floor (warning): not written")

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "heartbeat", "Run time of job 'signals' was missed by 0:00:02",
        "binanceusdm GET https://x?signature=1&apiKey=**** failed", "Job raised an exception",
        "Invalid HTTP request received."]
    own, missed, ccxt_line, failed, uvicorn_line = lines
    assert own["level"] == "info" and own["equity"] == 1.5 and own["timestamp"].endswith("Z")
    assert missed["logger"] == "apscheduler.scheduler" and missed["level"] == "warning"
    assert missed["timestamp"].endswith("Z")
    assert ccxt_line["logger"] == "ccxt.base.exchange" and ccxt_line["level"] == "error"
    assert "RuntimeError: secret **** in an exception" in failed["exception"]
    assert uvicorn_line["logger"] == "uvicorn.error" and uvicorn_line["level"] == "warning"
    assert KEY not in out.getvalue() and SECRET not in out.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_the_api_servers_logs_are_json_lines_too() -> None:
    """uvicorn, run by the API server, adds no handler and no format of its own: a malformed request's warning
    reaches the bot's stream as a JSON line."""
    out = io.StringIO()
    configure_logging(fmt="json", level="info", stream=out)
    with ApiServer(ApiSource(LiveLiquidationHeatmap()), port=0) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GARBAGE\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 400")
        deadline = time.monotonic() + 5
        while "Invalid HTTP request" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    warning = next(line for line in lines if line.get("logger", "").startswith("uvicorn"))
    assert warning["event"] == "Invalid HTTP request received." and warning["level"] == "warning"
    assert {line["event"] for line in lines} >= {"api.started", "api.stopped"}
    assert not logging.getLogger("uvicorn").handlers and not logging.getLogger("uvicorn.error").handlers
