"""A real ``redis-server`` for the feed's tests (issue 17): a free port on 127.0.0.1, its own temp dir, AOF on
(``--appendonly yes --appendfsync everysec``, no RDB snapshots), killable with SIGKILL and restarted on the same
dir and port (what the AOF kept comes back). Skips the test, with the reason, when the binary is missing.

    with redis_server(tmp_path) as server:
        client = server.client()
        server.kill9(); server.start()
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from bot_process import free_port

__all__ = ["RedisServer", "redis_server"]

BINARY = "redis-server"


class RedisServer:
    """One server process on ``port`` with its files in ``folder``."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start (or restart on the same dir and port) and wait until it answers PING with its data loaded."""
        binary = shutil.which(BINARY)
        if binary is None:
            pytest.skip("redis-server not installed: apt-get install redis-server")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--appendonly",
             "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "no", "--loglevel", "warning",
             "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.ping() and int(client.info("persistence").get("loading", 0)) == 0:
                    return self
            except redis.RedisError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start on port {self.port}: {log}")
            time.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL: no shutdown, no last fsync."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    """A started :class:`RedisServer` in ``folder``, stopped when the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    server = RedisServer(folder, free_port())
    try:
        yield server.start()
    finally:
        server.stop()
