"""The bot's log stream: one format for its own lines and for the stdlib loggers of APScheduler and ccxt, and no
secret in any line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from liquidation_hunter.bot.logs import configure_logging

KEY = "k3y-0123456789abcdef"
SECRET = "s3cr3t-fedcba9876543210"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


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
    logging.getLogger("apscheduler.scheduler").info("below the stdlib floor (warning): not written")

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "heartbeat", "Run time of job 'signals' was missed by 0:00:02",
        "binanceusdm GET https://x?signature=1&apiKey=**** failed", "Job raised an exception"]
    own, missed, ccxt_line, failed = lines
    assert own["level"] == "info" and own["equity"] == 1.5 and own["timestamp"].endswith("Z")
    assert missed["logger"] == "apscheduler.scheduler" and missed["level"] == "warning"
    assert missed["timestamp"].endswith("Z")
    assert ccxt_line["logger"] == "ccxt.base.exchange" and ccxt_line["level"] == "error"
    assert "RuntimeError: secret **** in an exception" in failed["exception"]
    assert KEY not in out.getvalue() and SECRET not in out.getvalue()
