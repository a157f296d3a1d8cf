"""The suite's own settings (conftest.py), checked so that removing one shows: the tests run outside UTC,
and bot jobs raise programming errors instead of counting them quietly."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from liquidation_hunter.bot.engine import RAISE_ERRORS_ENV


def test_the_suite_runs_in_a_time_zone_that_is_not_utc() -> None:
    local = time.localtime(0)
    assert (local.tm_hour, local.tm_min) == (5, 30)
    assert datetime.fromtimestamp(0).date() == datetime.fromtimestamp(0, UTC).date()  # same day at 05:30
    assert datetime.fromtimestamp(19 * 3600).day != datetime.fromtimestamp(19 * 3600, UTC).day  # 00:30 next day


def test_bot_jobs_raise_programming_errors_under_the_suite() -> None:
    assert os.environ.get(RAISE_ERRORS_ENV) == "1"
