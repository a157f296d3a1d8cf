"""Shared fixtures, and the guard that makes any attempt to leave 127.0.0.1 fail loudly."""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from netguard import InternetAccessError, install_network_guard
from postgres_server import PostgresServer, PostgresUnavailable, fresh_database, running_postgres

from liquidation_hunter.bot.engine import RAISE_ERRORS_ENV

__all__ = ["DATA", "WIRE", "InternetAccessError"]

DATA = Path(__file__).resolve().parent.parent / "data" / "binance"
WIRE = DATA / "forceorder_wire.jsonl"
SUITE_TZ = "IST-5:30"


def pytest_configure(config: pytest.Config) -> None:
    install_network_guard()
    # A programming error in a bot job (TypeError...) fails the test instead of passing for "no entry"; the
    # bots the tests start in subprocesses inherit it.
    os.environ[RAISE_ERRORS_ENV] = "1"
    # Every test runs in a time zone that is not UTC (UTC+5:30, spelled in POSIX form so no tz database is
    # needed): code that read local time where it means UTC (a day boundary, a timestamp) fails here.
    os.environ["TZ"] = SUITE_TZ
    time.tzset()


@pytest.fixture(scope="session")
def wire_lines() -> list[bytes]:
    """Every real recorded frame, as the stream's raw form sends it."""
    return WIRE.read_bytes().splitlines()


@pytest.fixture
def manual_clock() -> Iterator[list[int]]:
    """A clock you move by hand: ``clock[0]`` is now (epoch ms)."""
    yield [1_737_997_200_000]  # 2025-01-27T17:00:00Z


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL 15 for the session (tests/support/postgres_server.py); skipped with the reason when it
    cannot be had."""
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes places for new event stores: SQLite files, then databases on the session's PostgreSQL; a test taking
    this (or ``store_target``) runs against both (``open_event_store(target)``)."""
    if request.param == "sqlite":
        numbers = itertools.count(1)
        return lambda: str(tmp_path / f"events-{next(numbers)}.sqlite")
    server = request.getfixturevalue("postgres_server")
    return lambda: fresh_database(server)


@pytest.fixture
def store_target(new_store_target: Callable[[], str]) -> str:
    """Where a test's event store lives: a new SQLite file, or a new PostgreSQL database."""
    return new_store_target()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """A test that configures logging for a process (``run_recorder``, ``record``, ``configure_logging``): structlog
    and the root logger put back afterwards (the captured stdout it was given is closed after the test)."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
