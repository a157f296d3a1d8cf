"""A real PostgreSQL 15 for the tests: ``initdb`` + ``pg_ctl`` in a temp folder, a free loopback port, its unix
socket in that folder; one server per test session (the ``postgres_server`` fixture in tests/conftest.py), a fresh
database per test (:func:`fresh_database`; the ``store_target`` fixture runs a test against SQLite and PostgreSQL).

initdb and postgres refuse to run as root: when the tests run as root the folder is given to the ``postgres``
user and the binaries run as that user (``runuser``). When PostgreSQL cannot be had, :func:`running_postgres`
raises :class:`PostgresUnavailable` saying why (how to install it), and the fixture skips with that reason.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailable", "fresh_database", "running_postgres"]

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
INSTALL = "PostgreSQL 15 not installed: apt-get install postgresql-15 (or set PG_BIN to its bin folder)"
_numbers = itertools.count(1)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: its port, and the superuser the tests connect as (no password: trust on loopback)."""

    port: int
    user: str
    folder: Path
    owner: str | None
    options: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server on its folder and port (again, after :meth:`stop`)."""
        data = self.folder / "data"
        start = subprocess.run(_as_owner([str(BIN / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "log"), "-o",
                                          self.options, "-w", "-t", "30", "start"], self.owner),
                               capture_output=True, text=True, check=False)
        if start.returncode != 0:
            log = (self.folder / "log").read_text(errors="replace")[-300:] if (self.folder / "log").exists() else ""
            raise PostgresUnavailable(f"PostgreSQL did not start: {start.stderr.strip()[:200]} {log}")

    def stop(self) -> None:
        """Stop it at once (``-m immediate``: connections cut, as in a crash)."""
        subprocess.run(_as_owner([str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w",
                                  "stop"], self.owner), capture_output=True, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str], owner: str | None) -> list[str]:
    return argv if owner is None else ["runuser", "-u", owner, "--", *argv]


@contextmanager
def running_postgres(*, fsync: bool = False) -> Iterator[PostgresServer]:
    """A PostgreSQL server in a temp folder until the block ends (stopped, folder removed).
    :class:`PostgresUnavailable` when it cannot be had. ``fsync=False`` for the tests (nothing to survive)."""
    if not (BIN / "initdb").is_file() or not (BIN / "pg_ctl").is_file():
        raise PostgresUnavailable(INSTALL)
    owner = "postgres" if os.geteuid() == 0 else None
    if owner is not None and shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root needs runuser (util-linux) to start PostgreSQL as postgres")
    folder = Path(tempfile.mkdtemp(prefix="lh-pg-"))
    data = folder / "data"
    if owner is not None:
        shutil.chown(folder, owner)
    user = owner or "postgres"
    try:
        init = subprocess.run(_as_owner([str(BIN / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E",
                                         "UTF8", "--no-sync", "--locale=C"], owner),
                              capture_output=True, text=True, check=False)
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[:300]}")
        port = _free_port()
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        if not fsync:
            options += " -c fsync=off -c full_page_writes=off"
        server = PostgresServer(port, user, folder, owner, options)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server: PostgresServer) -> str:
    """A new empty database on ``server``; returns its URL."""
    import psycopg  # lazy: the suite's other tests need not load the driver
    name = f"t{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server.url(), autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return server.url(name)
