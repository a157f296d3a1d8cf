"""``strategy.path``: a strategy of your own from a file or a module, with examples/external_strategy.py as the
user's file: check-config passes, a backtest and a running bot use it, and every mistake is one line naming the
file with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bot_process import ROOT, log_events, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest

from liquidation_hunter.api.recording import source_from_recording
from liquidation_hunter.backtest import load_prices, run_backtest
from liquidation_hunter.bot.assembly import configured_strategy
from liquidation_hunter.cli import main
from liquidation_hunter.config.model import BotConfig, ConfigFileError, load_config
from liquidation_hunter.signals.hunter import LiquidationHunter
from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.store.history import load_events

EXAMPLE = ROOT / "examples" / "external_strategy.py"
EXAMPLE_CONFIG = ROOT / "examples" / "external_strategy.yaml"
DATA = ROOT / "data" / "binance"


def _strategy(config: BotConfig) -> object:
    return configured_strategy(config, LiquidationHunter(config.hunter, LiveLiquidationHeatmap(config=config.heatmap)))


def test_check_config_passes_on_the_example_and_names_its_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE_CONFIG), "--json"]) == 0
    effective = json.loads(capsys.readouterr().out)
    assert effective["strategy"] == {"name": "fresh_magnet", "path": str(EXAMPLE), "params": {"fresh_minutes": 15}}


def test_the_path_is_relative_to_the_config_and_the_example_class_is_built_with_its_params(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(EXAMPLE.read_text(), encoding="utf-8")
    path = tmp_path / "bot.yaml"
    path.write_text("strategy:\n  path: mine.py\n  params:\n    fresh_minutes: 2.5\n", encoding="utf-8")
    config = load_config(path)
    assert config.strategy.path == str(tmp_path / "mine.py")
    strategy = _strategy(config)
    # the file's only strategy, found without strategy.name; its Params read strategy.params
    assert type(strategy).__name__ == "FreshMagnet" and strategy.name == "fresh_magnet"  # type: ignore[attr-defined]
    assert strategy.fresh_ms == 150_000  # type: ignore[attr-defined]


def test_a_strategy_file_runs_once_until_it_changes(tmp_path: Path) -> None:
    """run checks the strategy, then builds it, and the API answers signals with it: the user's file is executed
    once; a file edited since runs again."""
    runs = tmp_path / "runs.txt"
    mine = tmp_path / "mine.py"
    body = EXAMPLE.read_text(encoding="utf-8") + f"\nwith open({str(runs)!r}, 'a') as _runs:\n    _runs.write('x')\n"
    mine.write_text(body, encoding="utf-8")
    config_file = tmp_path / "bot.yaml"
    config_file.write_text("strategy:\n  path: mine.py\n", encoding="utf-8")
    config = load_config(config_file)
    for _ in range(3):
        assert type(_strategy(config)).__name__ == "FreshMagnet"
    assert runs.read_text() == "x"
    mine.write_text(body + "\n# edited\n", encoding="utf-8")
    assert type(_strategy(config)).__name__ == "FreshMagnet"
    assert runs.read_text() == "xx"


def test_a_module_name_is_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "my_strategies"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "both.py").write_text(
        "from liquidation_hunter import Signal\n\n"
        "class Never:\n    name = 'never'\n\n    def __init__(self, hunter, params):\n        self.params = params\n\n"
        "    def decide(self, symbol, price, now_ms):\n"
        "        return Signal(symbol, 0, 0.0, None, None, None, None, 'never', now_ms)\n\n"
        "class Always(Never):\n    name = 'always'\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = BotConfig.from_mapping({"strategy": {"path": "my_strategies.both", "name": "always",
                                                  "params": {"anything": 1}}})
    strategy = _strategy(config)
    assert strategy.name == "always" and dict(strategy.params) == {"anything": 1}  # type: ignore[attr-defined]
    # two strategies in one module: the name is needed
    with pytest.raises(ConfigFileError, match=r"strategy\.name: expected the name of a strategy in "
                                              r"my_strategies\.both \(always, never\), got 'liquidation_magnet'"):
        _strategy(BotConfig.from_mapping({"strategy": {"path": "my_strategies.both"}}))


@pytest.mark.parametrize(("text", "fragment"), [
    (None, "strategy.path: {dir}/mine.py: no such file"),
    ("def broken(:\n", "strategy.path: {dir}/mine.py: line 1: invalid syntax"),
    ("import no_such_module_here\n", "strategy.path: {dir}/mine.py: cannot be loaded (ModuleNotFoundError: "
                                     "No module named 'no_such_module_here')"),
    ("X = 1\n", "strategy.path: {dir}/mine.py: defines no strategy: no class with a `name` and a "
                "`decide(symbol, price, now_ms)` method"),
    ("class S:\n    name = 's'\n    def __init__(self):\n        pass\n    def decide(self, *a):\n        pass\n",
     "strategy.path: {dir}/mine.py: S(hunter, params) failed (TypeError: "),
])
def test_a_bad_strategy_file_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    text: str | None, fragment: str) -> None:
    if text is not None:
        (tmp_path / "mine.py").write_text(text, encoding="utf-8")
    path = tmp_path / "bot.yaml"
    path.write_text("strategy:\n  path: mine.py\n", encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"error: {path}: " + fragment.format(dir=tmp_path)), captured.err


@pytest.mark.parametrize(("strategy", "fragment"), [
    ({"name": "mine"}, "strategy.name: expected 'liquidation_magnet' or 'cascade_fade', got 'mine' (a strategy "
                       "of your own: set strategy.path)"),
    ({"path": "no/ext"}, "strategy.path: expected a .py file"),
    ({"path": str(EXAMPLE), "name": "other"}, "strategy.name: expected the name of a strategy in"),
    ({"path": str(EXAMPLE), "params": {"fresh_minutes": 0}},
     "strategy.params.fresh_minutes: expected a number in (0, 1440] (minutes), got 0"),
    ({"path": str(EXAMPLE), "params": {"fresh": 1}}, "strategy.params.fresh: unknown key"),
])
def test_strategy_section_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str], strategy: dict[str, object],
                                   fragment: str) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(json.dumps({"strategy": strategy}), encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err


def test_a_backtest_runs_the_example_strategy() -> None:
    config = load_config(EXAMPLE_CONFIG)
    events = load_events(DATA / "forceorder_wire.jsonl")
    prices = load_prices([str(DATA / "aggtrades_large.csv")])
    result = run_backtest(config, events, prices, start_ms=1_737_996_600_000, end_ms=1_737_998_400_000)
    assert result.trades, "the example strategy should trade the recorded cascade"
    assert {s.strategy for s in result.signals} == {"fresh_magnet"}


def test_a_running_bot_uses_the_example_strategy(tmp_path: Path) -> None:
    """``run`` against the fake exchange: the bot starts with the file's strategy and says so."""
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest() as rest:
        config = tmp_path / "bot.yaml"
        config.write_text(f"symbols: [BTCUSDT]\nexchange:\n  ws_url: {ws.market_url}\n  rest_url: {rest.base_url}\n"
                          f"strategy:\n  path: {EXAMPLE}\nstorage:\n  path: books.sqlite\n  events: null\n"
                          "logging:\n  format: json\n", encoding="utf-8")
        log = tmp_path / "bot.log"
        with started_bot(config, log) as bot:
            wait_for(lambda: log_events(log, "loop_started"), "the loop", log, bot=bot)
    started = log_events(log, "bot_started")
    assert started and started[0]["strategy"] == "fresh_magnet", log.read_text()[-2000:]
    assert bot.returncode == 0


def test_the_api_signal_answers_with_the_strategy_of_the_path() -> None:
    source = source_from_recording(DATA / "forceorder_wire.jsonl", strategy="fresh_magnet",
                                   strategy_path=str(EXAMPLE), strategy_params={"fresh_minutes": 15})
    answer = source.signal("BTCUSDT")
    assert answer["strategy"] == "fresh_magnet" and answer["signal"]["reason"]
