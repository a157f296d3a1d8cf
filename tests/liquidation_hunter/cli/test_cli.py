"""The console script, run as users run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, WIRE

from liquidation_hunter import __version__
from liquidation_hunter.cli import main
from liquidation_hunter.data.prices import load_prices

SCRIPT = Path(sys.executable).parent / "liquidation-hunter"


def test_console_script_prints_version_and_help() -> None:
    out = subprocess.run([SCRIPT, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"liquidation-hunter {__version__}"
    out = subprocess.run([SCRIPT], capture_output=True, text=True, check=True)
    assert "clusters" in out.stdout and "usage" in out.stdout


def test_clusters_command_over_the_recording(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["clusters", "--events", str(WIRE), "--at", "2025-01-27T17:20:00Z", "--symbol", "ETH/USDT:USDT"])
    out = capsys.readouterr().out
    assert code == 0
    assert "clusters at 2025-01-27T17:20:00+00:00" in out
    assert "ETHUSDT" in out and "ETH/USDT:USDT" in out and "sell" in out


def test_clusters_min_strength_applies_to_the_signals_too(capsys: pytest.CaptureFixture[str]) -> None:
    def signal_strengths(*extra: str) -> list[float]:
        assert main(["clusters", "--events", str(WIRE), "--at", "2025-01-27T17:20:00Z", *extra]) == 0
        out = capsys.readouterr().out
        lines = out.split("signals (last traded liquidation price as the current price):\n", 1)[1].splitlines()
        return [float(line.split("strength ")[1].split()[0]) for line in lines]

    default, low, high = signal_strengths(), signal_strengths("--min-strength", "0.3"), signal_strengths(
        "--min-strength", "0.95")
    assert default and min(default) >= 0.6  # the hunter's default without the flag
    assert min(low) >= 0.3 and len(low) > len(default) and set(default) <= set(low)
    assert high and min(high) >= 0.95 and set(high) < set(default)
    assert main(["clusters", "--events", str(WIRE), "--min-strength", "2"]) == 2
    assert "--min-strength: min_strength: expected a number in [0, 1], got 2.0" in capsys.readouterr().err


def test_clusters_command_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["clusters", "--events", str(tmp_path / "missing.jsonl")]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("not json\n")
    assert main(["clusters", "--events", str(empty)]) == 2
    rejected = tmp_path / "rejected.jsonl"
    rejected.write_text('{"e":"forceOrder","E":1737998400000,"o":{"s":"BTCUSDT"}}\n')
    assert main(["clusters", "--events", str(rejected)]) == 2
    assert main(["clusters", "--events", str(WIRE), "--at", "yesterday"]) == 2
    missing, garbage, nothing, when = capsys.readouterr().err.splitlines()
    assert missing.startswith("error: --events ") and missing.endswith("missing.jsonl: no such file")
    assert garbage.startswith("error: --events ") and "empty.jsonl" in garbage and "not a recording" in garbage
    assert nothing.startswith("error: ") and nothing.endswith("rejected.jsonl holds no liquidation events")
    assert when == "error: expected epoch ms or an ISO-8601 time such as 2025-01-27T16:50:00Z, got 'yesterday'"


def test_clusters_reads_every_event_format(capsys: pytest.CaptureFixture[str]) -> None:
    """The normalized CSV gives the same table as the frames it was made from."""
    args = ["--at", "2025-01-27T17:20:00Z", "--symbol", "ETHUSDT"]
    assert main(["clusters", "--events", str(WIRE), *args]) == 0
    from_frames = capsys.readouterr().out
    assert main(["clusters", "--events", str(DATA / "liquidations_normalized.csv"), *args]) == 0
    from_csv = capsys.readouterr().out
    assert "ETHUSDT" in from_frames
    assert from_csv.splitlines()[1:] == from_frames.splitlines()[1:]  # the first line names the file


def test_clusters_distances_use_the_recorded_price_with_prices(capsys: pytest.CaptureFixture[str]) -> None:
    """With --prices the distances and signals are taken at the recorded trade price at --at (not the last
    liquidation's fill); a missing price file is one line naming the flag."""
    args = ["clusters", "--events", str(WIRE), "--at", "2025-01-27T17:20:00Z", "--symbol", "ETHUSDT"]
    assert main([*args, "--prices", str(DATA / "aggtrades_large.csv")]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("ETHUSDT ")]
    price = load_prices(DATA / "aggtrades_large.csv").price_at("ETHUSDT", 1_737_998_400_000)
    assert rows and price is not None
    for row in rows:  # symbol, side, level, count, notional, strength, dist %
        assert float(row[6]) == pytest.approx(abs(float(row[2]) - price) / price * 100, abs=0.006)
    assert main([*args]) == 0
    without = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("ETHUSDT ")]
    assert [r[6] for r in without] != [r[6] for r in rows]  # the last fill is not the trade price
    assert main([*args, "--prices", "nope.csv"]) == 2
    assert capsys.readouterr().err == "error: --prices nope.csv: no such file\n"


def test_library_import_stays_light() -> None:
    """No pandas, scipy or ccxt on the import path of the library (timing is the benchmark's job)."""
    code = ("import sys, live_heatmap, liquidation_hunter, strategies; "
            "print(sorted(m for m in ('pandas', 'scipy', 'ccxt', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_network_guard_refuses_the_internet() -> None:
    import socket

    from conftest import InternetAccessError

    with pytest.raises(InternetAccessError):
        socket.create_connection(("fstream.binance.com", 443), timeout=1)
    with pytest.raises(InternetAccessError), socket.socket() as sock:
        sock.connect(("203.0.113.7", 443))


def test_clusters_command_takes_exchanges(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["clusters", "--events", str(WIRE), "--at", "2025-01-27T17:20:00Z", "--symbol", "ETHUSDT"]
    assert main(argv) == 0
    every = capsys.readouterr().out
    assert main([*argv, "--exchanges", "binance"]) == 0
    binance = capsys.readouterr().out
    assert binance.replace("; clusters of binance only", "") == every  # a Binance recording: the same clusters
    assert main([*argv, "--exchanges", "bybit,okx"]) == 0
    assert "\n0 clusters\n" in capsys.readouterr().out
    assert main([*argv, "--exchanges", "bybit,mtgox"]) == 2
    assert capsys.readouterr().err == "error: --exchanges: unknown exchange 'mtgox' (known: binance, bybit, okx)\n"
