"""bot/app.py: services start in order and stop in reverse order, whatever happens on the way."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest

from liquidation_hunter.bot.app import App, Service
from liquidation_hunter.bot.scheduler import JobScheduler


def recording(name: str, log: list[str], *, fail_start: bool = False, fail_stop: bool = False) -> Service:
    def start() -> None:
        log.append(f"start {name}")
        if fail_start:
            raise OSError(f"{name} cannot start")

    def stop() -> None:
        log.append(f"stop {name}")
        if fail_stop:
            raise RuntimeError(f"{name} cannot stop")

    return Service(name, start, stop)


def test_started_in_order_stopped_in_reverse() -> None:
    log: list[str] = []
    app = App([recording(n, log) for n in ("api", "bot", "recorder", "stream", "scheduler")])
    until = threading.Event()
    until.set()
    assert app.run(install_signals=False, until=until) == "stopped"
    assert log == ["start api", "start bot", "start recorder", "start stream", "start scheduler",
                   "stop scheduler", "stop stream", "stop recorder", "stop bot", "stop api"]


def test_a_failed_start_stops_those_already_started_and_raises() -> None:
    log: list[str] = []
    app = App([recording("api", log), recording("bot", log, fail_start=True), recording("stream", log)])
    with pytest.raises(OSError, match="bot cannot start"):
        app.run(install_signals=False)
    assert log == ["start api", "start bot", "stop api"]


def test_a_failed_stop_does_not_keep_the_others_from_stopping() -> None:
    log: list[str] = []
    app = App([recording("a", log), recording("b", log, fail_stop=True), recording("c", log)])
    app.stop("test")
    assert app.run(install_signals=False) == "test"
    assert log[-3:] == ["stop c", "stop b", "stop a"] and app.failed == ["b"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_app_and_names_the_reason(signum: signal.Signals) -> None:
    log: list[str] = []
    before = signal.getsignal(signum)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signum))
    timer.start()
    app = App([recording("stream", log)])
    assert app.run() == signum.name
    assert log == ["start stream", "stop stream"]
    assert signal.getsignal(signum) == before  # the handlers are given back
    assert app.ran_seconds >= 0.1


class StuckBot:
    """What the scheduler needs of a bot, with a job that never ends (a network call that hangs)."""

    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.running = threading.Event()
        self.release = threading.Event()

    def run_job(self, name: str) -> None:
        self.running.set()
        self.release.wait(30.0)

    def wait_idle(self, timeout: float) -> bool:
        return self.release.wait(timeout)  # idle once the stuck job is released


def test_a_stuck_job_does_not_hold_the_stop_and_runs_on_a_daemon_thread() -> None:
    bot = StuckBot()
    scheduler = JobScheduler(bot, {"positions": 60.0}, idle_timeout=0.3)
    scheduler.start()
    try:
        assert bot.running.wait(5.0)
        jobs = [t for t in threading.enumerate() if t.name == "bot-job"]
        assert jobs and all(t.daemon for t in jobs)  # cannot keep the interpreter from exiting
        began = time.monotonic()
        scheduler.stop()
        assert 0.3 <= time.monotonic() - began < 1.0 and scheduler.jobs_finished is False
    finally:
        bot.release.set()
