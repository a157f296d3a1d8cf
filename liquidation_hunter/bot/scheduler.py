"""The bot's jobs on an APScheduler ``BackgroundScheduler``, as a service (``start``/``stop``).

Each duty is one interval job with ``max_instances=1`` and ``coalesce=True``: a job still running when its
next run is due is skipped (counted and logged), and runs missed while the process was busy collapse into one.
Every job runs through :meth:`Bot.run_job`, which logs and counts failures, so a failing or slow job never stops
the others. Jobs run on daemon threads (:class:`DaemonThreadExecutor`): one stuck in a network call cannot hold
the process when it stops (the stop waits for it at most ``idle_timeout``, then the books are closed; every
write was one transaction, so leaving then loses nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from liquidation_hunter.bot.engine import Bot

__all__ = ["DaemonThreadExecutor", "JobScheduler"]

log = structlog.get_logger("liquidation_hunter.bot")


class _DaemonPool:
    """The part of ``concurrent.futures.Executor`` APScheduler uses, each call on its own daemon thread."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to APScheduler, which logs it
                future.set_exception(exc)

        threading.Thread(target=run, daemon=True, name="bot-job").start()
        return future

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to join: the bot waits for its jobs itself (:meth:`Bot.wait_idle`)."""


class DaemonThreadExecutor(BasePoolExecutor):  # type: ignore[misc]
    """APScheduler's pool executor on :class:`_DaemonPool`."""

    def __init__(self) -> None:
        super().__init__(_DaemonPool())


class JobScheduler:
    """The bot's jobs every ``intervals[name]`` seconds; ``stop`` lets running jobs finish up to ``idle_timeout``."""

    def __init__(self, bot: Bot, intervals: Mapping[str, float], *, idle_timeout: float = 2.5) -> None:
        self.bot = bot
        self.intervals = dict(intervals)
        self.idle_timeout = idle_timeout
        self.scheduler = BackgroundScheduler(
            executors={"default": DaemonThreadExecutor()},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=UTC,
        )
        self.scheduler.add_listener(self._on_skip, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self.jobs_finished: bool | None = None
        """After :meth:`stop`: whether every running job finished within ``idle_timeout``."""

    def start(self) -> JobScheduler:
        first = datetime.now(UTC)
        for index, (name, seconds) in enumerate(self.intervals.items()):
            self.scheduler.add_job(self.bot.run_job, "interval", args=(name,), id=name, name=name, seconds=seconds,
                                   next_run_time=first + timedelta(milliseconds=50 * index))
        self.scheduler.start()
        return self

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.jobs_finished = self.bot.wait_idle(timeout=self.idle_timeout)
        if not self.jobs_finished:
            log.warning("jobs_still_running", seconds=self.idle_timeout,
                        consequence="left behind on daemon threads; the books are closed")

    def _on_skip(self, event: JobExecutionEvent) -> None:
        self.bot.skipped[event.job_id] += 1
        log.warning("job_skipped", job=event.job_id, why="still running" if event.code == EVENT_JOB_MAX_INSTANCES
                    else "missed", skipped=self.bot.skipped[event.job_id])
