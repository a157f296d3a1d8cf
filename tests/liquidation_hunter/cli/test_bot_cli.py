"""The bot's commands: the live opt-in, status, halt and resume, on real config files and real SQLite books."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from liquidation_hunter.bot.runner import LiveModeRefused, check_live_opt_in
from liquidation_hunter.cli import main
from liquidation_hunter.config.model import load_config
from liquidation_hunter.trading.books import Books, SignalRecord
from liquidation_hunter.trading.model import AccountState, EntryOrder

ROOT = Path(__file__).resolve().parents[3]
KEYS = {"BINANCE_API_KEY": "k" * 64, "BINANCE_API_SECRET": "s" * 64}
LIVE = """mode: live
symbols: [BTCUSDT]
risk:
  max_notional_per_position: 100
storage:
  path: books.sqlite
"""


def _config(tmp_path: Path, text: str = "storage:\n  path: books.sqlite\n") -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "flag", "env", "fragment"), [
    (LIVE, False, KEYS, "also needs --live on the command line"),
    ("mode: paper\n", True, KEYS, "--live given but"),
    (LIVE, True, {}, "needs BINANCE_API_KEY and BINANCE_API_SECRET in the environment"),
    (LIVE.replace("mode: live", "mode: live\nexchange:\n  demo: true"), False, KEYS, "needs --live"),
])
def test_live_trading_needs_the_file_and_the_flag(tmp_path: Path, text: str, flag: bool, env: dict[str, str],
                                                  fragment: str) -> None:
    config = load_config(_config(tmp_path, text))
    with pytest.raises(LiveModeRefused, match=fragment):
        check_live_opt_in(config, flag, env)


def test_live_opt_in_passes_when_both_say_live(tmp_path: Path) -> None:
    check_live_opt_in(load_config(_config(tmp_path, LIVE)), True, KEYS)
    check_live_opt_in(load_config(_config(tmp_path, "mode: paper\n")), False, {})


def test_run_refuses_live_without_the_flag_before_touching_anything(tmp_path: Path) -> None:
    """Exit 2 with one line on stderr, no books created, no secret printed."""
    path = _config(tmp_path, LIVE)
    out = subprocess.run([sys.executable, "-m", "liquidation_hunter.cli", "run", "--config", str(path)],
                         capture_output=True, text=True, env={**KEYS, "PATH": "/usr/bin:/bin"}, timeout=60, cwd=ROOT,
                         check=False)
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "--live" in out.stderr and out.stderr.count("\n") == 1
    assert KEYS["BINANCE_API_SECRET"] not in out.stdout + out.stderr
    assert not (tmp_path / "books.sqlite").exists()


def test_run_with_a_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(_config(tmp_path, "risk:\n  leverage: 0\n"))]) == 2
    assert "risk.leverage" in capsys.readouterr().err


def test_run_on_estimated_levels_needs_the_layer_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Refused when the config is read, before logging is set up or anything is opened; check-config says it too."""
    path = _config(tmp_path, "storage:\n  path: books.sqlite\nhunter:\n  target: estimated\n")
    for command in (["run", "--config", str(path)], ["check-config", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "hunter.target" in err and "estimated.enabled is false" in err and err.count("\n") == 1, command
    assert not (tmp_path / "books.sqlite").exists()


def test_run_on_walls_needs_the_order_book_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """hunter.wall prefer/require reads the liquidity layer: refused while orderbook.enabled is false."""
    path = _config(tmp_path, "storage:\n  path: books.sqlite\nhunter:\n  wall: require\n")
    for command in (["run", "--config", str(path)], ["check-config", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "hunter.wall" in err and "orderbook.enabled is false" in err and err.count("\n") == 1, command
    assert not (tmp_path / "books.sqlite").exists()


def _books_with_history(path: Path) -> None:
    books = Books.open(path, mode="paper", starting_wallet=10_000.0, now_ms=1_000)
    order = EntryOrder("lh-a", "BTC/USDT:USDT", 1, 0.1, 100_000.0, 99_000.0, 102_000.0, 5, 2_000)
    position = books.record_entry(order, quantity=0.1, fill_price=100_020.0, fee=5.0, liquidation_price=80_000.0,
                                  now_ms=2_000)
    assert position is not None
    books.record_signal(SignalRecord(at=2_000, symbol="BTC/USDT:USDT", direction=1, strength=0.8, entry=100_000.0,
                                     stop_loss=99_000.0, take_profit=102_000.0, level=102_500.0,
                                     strategy="liquidation_magnet", reason="test", action="entered"))
    books.snapshot(AccountState(wallet=books.wallet(), margin=position.margin, unrealized=0.0, positions=1,
                                at=3_000))
    books.set_health({"connected": True, "events": 42, "symbols": 3, "prices": 3, "rejected": {},
                      "reconnects": 0, "held_prices": {"BTC/USDT:USDT": 101_000.0}}, 3_000)
    books.close()


def test_status_halt_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    _books_with_history(tmp_path / "books.sqlite")

    assert main(["status", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "paper" and report["halted"] is None
    assert report["bot"]["running"] is False  # the heartbeat is from 1970
    [position] = report["positions"]
    assert position["symbol"] == "BTC/USDT:USDT" and position["side"] == "long"
    assert position["unrealized"] == pytest.approx(0.1 * (101_000.0 - 100_020.0))
    assert report["account"]["wallet"] == pytest.approx(10_000.0 - 5.0)
    assert report["account"]["equity"] == pytest.approx(10_000.0 - 5.0 + 98.0)
    assert report["recent_signals"][0]["action"] == "entered"
    assert report["stream"]["events"] == 42

    assert main(["halt", "--config", str(config), "--reason", "news"]) == 0
    assert main(["status", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "HALTED: halted by hand: news" in text and "BTC/USDT:USDT" in text and "long" in text

    assert main(["resume", "--config", str(config)]) == 0
    assert "was: halted by hand: news" in capsys.readouterr().out
    with Books.open_readonly(tmp_path / "books.sqlite") as books:
        assert books.halt_reason() is None


def test_status_and_halt_work_with_a_broken_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The strategy's parameters (or file) broken since the bot started: its books can still be read and halted."""
    config = _config(tmp_path, "storage:\n  path: books.sqlite\nstrategy:\n  name: cascade_fade\n  params:\n"
                     "    burst_minutes: 0\n")
    _books_with_history(tmp_path / "books.sqlite")
    assert main(["run", "--config", str(config)]) == 2
    assert "strategy.params.burst_minutes" in capsys.readouterr().err
    assert main(["status", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["positions"][0]["symbol"] == "BTC/USDT:USDT"
    assert main(["halt", "--config", str(config)]) == 0
    with Books.open_readonly(tmp_path / "books.sqlite") as books:
        assert books.halt_reason() == "halted by hand"


def test_status_without_books_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--config", str(_config(tmp_path))]) == 2
    assert "no books yet" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["halt", "resume"])
def test_halt_and_resume_refuse_a_config_without_books(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        command: str) -> None:
    assert main([command, "--config", str(_config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no books at {tmp_path / 'books.sqlite'}: is this the bot's config?" in err
    assert not (tmp_path / "books.sqlite").exists()  # nothing created
    assert main([command, "--config", str(_config(tmp_path, "storage:\n  path: ':memory:'\n"))]) == 2
    assert "no books at :memory:" in capsys.readouterr().err


def test_status_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """`status --json | head`: the reader leaves early; the command ends without a traceback."""
    config = _config(tmp_path)
    _books_with_history(tmp_path / "books.sqlite")
    proc = subprocess.Popen([sys.executable, "-m", "liquidation_hunter.cli", "status", "--config", str(config),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes: its write finds no reader
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 1 and err == "", err


def test_bot_start_path_stays_off_heavy_modules() -> None:
    code = ("import sys, liquidation_hunter.cli, liquidation_hunter.bot.runner, liquidation_hunter.bot.engine; "
            "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'duckdb', 'redis', 'psycopg', 'dask', "
            "'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
