"""A sweep's combinations on a Dask cluster (``backtest --sweep ... --scheduler tcp://host:port``, issue 17).

:func:`run_on_cluster` connects a ``distributed.Client`` to the scheduler, sends the inputs every combination
shares (the events, the prices, the replay's options) ONCE with ``scatter(broadcast=True)``: every worker holds a
copy before the first task runs, so no task carries them and no worker needs a path to the files. Each
combination is then one task, a pure function of the shared inputs and its own overrides: Dask may run it again on
another worker (a worker killed mid-sweep: its tasks are rescheduled, its copy of the inputs is fetched from
another worker) and gets the same figures. Results are gathered in the grid's order, whatever order they finish
in, so ``sweep.json``/``sweep.md`` are the bytes of the local run.

Why broadcast and not paths: the workers of a cluster need not share a filesystem with the machine that runs the
command, and the inputs of a sweep (events and prices over the replayed range) are read and filtered once, by the
command, the same way as for a local sweep. The cost is one copy of the inputs per worker in memory. Losing every
worker at once loses the inputs: the sweep then fails with one line (run it again).

``distributed`` is imported here only, when a sweep runs on a cluster (the extra ``cluster``), never on the bot's
start path. The workers need the same version of liquidation-hunter (its modules are imported by name there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from live_heatmap.common.errors import first_line

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "ClusterError", "check_scheduler", "run_on_cluster"]

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to reach the scheduler before giving up."""
_ADDRESS = re.compile(r"tcp://[^\s/:]+:\d{1,5}")

T = TypeVar("T")
R = TypeVar("R")


class ClusterError(ValueError):
    """The cluster cannot run the sweep (unreachable, lost every worker, ...); a one-line message."""


def check_scheduler(address: str) -> str:
    """``address`` when it reads ``tcp://host:port``, else :class:`ClusterError` naming ``--scheduler``."""
    if not _ADDRESS.fullmatch(address):
        raise ClusterError(f"--scheduler {address!r}: expected tcp://HOST:PORT (the Dask scheduler's address)")
    return address


def _call(function: Callable[..., R], task: Any, shared: Sequence[Any]) -> R:
    """On a worker: ``function(task, *shared)``."""
    return function(task, *shared)


def run_on_cluster(address: str, function: Callable[..., R], tasks: Sequence[T], shared: Sequence[Any], *,
                   progress: Callable[[float], None] | None = None,
                   timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[R]:
    """``[function(task, *shared) for task in tasks]`` computed on the Dask cluster at ``address`` (module
    docstring); ``function`` must be importable by name on the workers (a module-level function). ``progress``
    gets the fraction done as tasks finish. :class:`ClusterError` (one line) when the scheduler cannot be
    reached or the cluster gives up on a task (it killed the workers running it too often)."""
    check_scheduler(address)
    import distributed  # noqa: PLC0415 - lazy: distributed (extra `cluster`), sweeps on a cluster only

    dask: Any = distributed  # its calls are untyped
    try:
        client = dask.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"--scheduler {address}: cannot reach the Dask scheduler ({first_line(exc, 200)})") from None
    with client:
        try:
            [inputs] = client.scatter([tuple(shared)], broadcast=True, hash=False)
            futures = [client.submit(_call, function, task, inputs, pure=False) for task in tasks]
            for done, _ in enumerate(dask.as_completed(futures, loop=client.loop), start=1):
                if progress is not None:
                    progress(done / len(futures))
            results: list[R] = client.gather(futures)
        except dask.KilledWorker as exc:
            raise ClusterError(f"--scheduler {address}: the cluster gave up on a combination "
                               f"({first_line(exc, 200)})") from None
        except ModuleNotFoundError as exc:
            raise ClusterError(f"--scheduler {address}: a worker cannot import {exc.name}; install the same "
                               "liquidation-hunter on the workers") from None
    return results
