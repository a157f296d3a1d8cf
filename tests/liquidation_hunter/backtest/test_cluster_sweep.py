"""Sweeps on a Dask cluster (issue 17): a real ``LocalCluster`` of 2 worker processes started here, the command
against its ``tcp://`` scheduler, a worker killed with SIGKILL mid-sweep, and the errors a user can make."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bot_process import free_port
from conftest import DATA, WIRE

from liquidation_hunter.backtest import run_sweep
from liquidation_hunter.backtest.cluster import ClusterError
from liquidation_hunter.cli.backtest import add_backtest_parser
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.data.prices import PriceSeries, load_prices
from live_heatmap import parse_force_order

distributed = pytest.importorskip("distributed", reason="distributed not installed: pip install -e '.[cluster]'")

TRADES = DATA / "aggtrades_large.csv"
START_MS = 1_737_996_600_000  # 2025-01-27T16:50:00Z
END_MS = 1_737_998_400_000  # 2025-01-27T17:20:00Z
SETTINGS: dict[str, Any] = {  # thresholds that trade on this session (as test_backtest.py's)
    "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"],
    "heatmap": {"min_cluster_size": 3},
    "hunter": {"min_strength": 0.3, "min_distance_pct": 0.3, "max_distance_pct": 3.0, "preferred_distance_pct": 0.8},
    "risk": {"leverage": 5, "max_open_positions": 4, "cooldown_minutes": 0, "daily_loss_limit_pct": None,
             "max_drawdown_pct": None},
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of 2 worker processes (1 thread each, under nannies that restart a killed one) on loopback."""
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as local:
        yield local


@pytest.fixture
def client(cluster: Any) -> Iterator[Any]:
    """The test's own client: to find the workers' processes (the sweep connects its own)."""
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liquidation-hunter")
    add_backtest_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["backtest", *argv])
    return int(args.handler(args))


def cli_args(tmp_path: Path, out: str, *extra: str) -> list[str]:
    config = tmp_path / "bot.yaml"
    config.write_text(json.dumps(SETTINGS))
    return ["--config", str(config), "--events", str(WIRE), "--prices", str(TRADES), "--from", "2025-01-27T16:50Z",
            "--to", "2025-01-27T17:20Z", "--sweep", "hunter.min_strength=0.3,0.97",
            "--sweep", "risk.leverage=5,60", "--out", str(tmp_path / out), *extra]


def test_the_command_on_a_cluster_writes_the_bytes_of_the_local_run(cluster: Any, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(cli_args(tmp_path, "local", "--workers", "1")) == 0
    assert run_cli(cli_args(tmp_path, "dask", "--scheduler", cluster.scheduler_address)) == 0
    assert "4 backtests in" in capsys.readouterr().err
    local = json.loads((tmp_path / "local" / "sweep.json").read_bytes())
    assert len(local["rows"]) == 4 and local["spread"]["failed"] == 2  # leverage 60 is refused: rows with errors
    for name in ("sweep.json", "sweep.md"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_a_worker_killed_mid_sweep_changes_nothing(client: Any) -> None:
    events = [parse_force_order(line) for line in WIRE.read_bytes().splitlines()]
    prices = load_prices(TRADES)
    config = BotConfig.from_mapping(json.loads(json.dumps(SETTINGS)))
    grid = {"hunter.min_strength": [0.3, 0.5, 0.7, 0.97], "heatmap.cluster_window_pct": [0.005, 0.01, 0.02]}
    started = threading.Event()
    seen: list[float] = []
    outcome: dict[str, Any] = {}

    def progress(fraction: float) -> None:
        seen.append(fraction)
        started.set()

    def sweep() -> None:
        try:
            outcome["result"] = run_sweep(config, events, prices, grid, start_ms=START_MS, end_ms=END_MS,
                                          scheduler=client.scheduler.address, progress=progress)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = exc

    runner = threading.Thread(target=sweep)
    runner.start()
    assert started.wait(120), "no combination finished on the cluster"
    pids: dict[str, int] = client.run(os.getpid)
    victim = None
    deadline = time.monotonic() + 30
    while victim is None and time.monotonic() < deadline:  # a worker running a combination now
        busy = [address for address, keys in client.processing().items() if keys]
        victim = busy[0] if busy else None
    assert victim is not None, "no worker busy with the sweep"
    done_before = seen[-1]
    os.kill(pids[victim], signal.SIGKILL)
    runner.join(300)
    assert not runner.is_alive() and "error" not in outcome, outcome.get("error")
    assert done_before < 1.0 and seen[-1] == 1.0  # killed mid-sweep, then every combination came back
    with pytest.raises(ProcessLookupError):
        os.kill(pids[victim], 0)
    local = run_sweep(config, events, prices, grid, start_ms=START_MS, end_ms=END_MS, workers=1)
    assert outcome["result"].to_json() == local.to_json()
    assert len(local.rows) == 12 and all(r.figures is not None for r in local.rows)


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    assert run_cli(cli_args(tmp_path, "out", "--scheduler", address, "--scheduler-timeout", "1")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --scheduler {address}: cannot reach the Dask scheduler (") and "\n" not in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        run_sweep(BotConfig.from_mapping(json.loads(json.dumps(SETTINGS))), [], PriceSeries({}),
                  {"hunter.min_strength": [0.3]}, scheduler=address, connect_timeout=0.5)


@pytest.mark.parametrize(("extra", "message"), [
    (["--scheduler", "localhost:8786"], "error: --scheduler 'localhost:8786': expected tcp://HOST:PORT"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], "error: --workers with --scheduler: the cluster"),
    (["--scheduler-timeout", "3"], "error: --scheduler-timeout goes with --scheduler"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--scheduler-timeout", "0"], "error: --scheduler-timeout: expected a "
                                                                          "positive number"),
])
def test_bad_scheduler_options_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    extra: list[str], message: str) -> None:
    assert run_cli(cli_args(tmp_path, "out", *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err, err


def test_scheduler_without_a_sweep_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = cli_args(tmp_path, "out", "--scheduler", "tcp://127.0.0.1:8786")
    cut = argv.index("--sweep")
    assert run_cli(argv[:cut] + argv[cut + 4:]) == 2
    assert capsys.readouterr().err.strip() == ("error: --scheduler runs a sweep's combinations: give --sweep "
                                               "KEY=V1,V2,...")

