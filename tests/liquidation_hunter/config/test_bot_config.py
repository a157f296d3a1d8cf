"""The bot's configuration file: every mistake named by file and key, secrets only from the environment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from liquidation_hunter.bot.assembly import check_layers, check_strategy, stream_settings
from liquidation_hunter.cli import main
from liquidation_hunter.config.model import BotConfig, ConfigFileError, Secrets, load_config
from liquidation_hunter.config.sections import RiskConfig, ScheduleConfig, StorageConfig
from live_heatmap import ConfigError
from live_heatmap.common.structs import mask

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config"
SCRIPT = Path(sys.executable).parent / "liquidation-hunter"
SECRET = "supersecretvalue1234"
TOKEN = "Zx9" * 22  # looks like a 64-character API key

# (id, YAML text, key path the error names (None: the file itself), fragment of the message)
MISTAKES: list[tuple[str, str, str | None, str]] = [
    # unknown keys, at every level, with a suggestion
    ("unknown top-level", "risks:\n  leverage: 3\n", "risks", "unknown key, did you mean 'risk'?"),
    ("key of another section", "leverage: 3\n", "leverage", "did you mean 'risk.leverage'?"),
    ("unknown nested", "risk:\n  levrage: 3\n", "risk.levrage", "did you mean 'leverage'?"),
    ("unknown two deep", "exchange:\n  timeouts:\n    silense: 300\n", "exchange.timeouts.silense",
     "did you mean 'silence'?"),
    ("unknown heatmap key", "heatmap:\n  min_cluster_sise: 3\n", "heatmap.min_cluster_sise",
     "did you mean 'min_cluster_size'?"),
    ("unknown hunter key", "hunter:\n  min_strenght: 0.5\n", "hunter.min_strenght", "did you mean 'min_strength'?"),
    ("unknown, nothing close", "logging:\n  colour: true\n", "logging.colour", "unknown key (known: format, level)"),
    ("non-text key", "risk:\n  1: 2\n", "risk.1", "keys must be text"),
    # wrong types are reported, not coerced
    ("text for an integer", "risk:\n  leverage: '5'\n", "risk.leverage", "expected an integer from 1 to 125, got '5'"),
    ("float for an integer", "risk:\n  leverage: 5.0\n", "risk.leverage", "got 5.0"),
    ("bool for a number", "schedule:\n  signals: yes\n", "schedule.signals",
     "expected a number in (0, 86400], got true"),
    ("YAML 1.1 exponent", "risk:\n  risk_per_trade: 1e-3\n", "risk.risk_per_trade", "write 0.001 or 1.0e-3"),
    ("text for a bool", "exchange:\n  demo: 'yes'\n", "exchange.demo", "expected true or false, got 'yes'"),
    ("bool in heatmap", "heatmap:\n  time_decay_minutes: true\n", "heatmap.time_decay_minutes", "expected a number"),
    ("float for heatmap int", "heatmap:\n  max_events: 1.5\n", "heatmap.max_events",
     "expected an integer >= 1, got 1.5"),
    ("section not a mapping", "risk: 5\n", "risk", "expected a mapping, got 5"),
    ("params not a mapping", "strategy:\n  params: [1, 2]\n", "strategy.params", "expected a mapping, got a list"),
    ("mode null", "mode:\n", "mode", "expected 'paper' or 'live', got null"),
    # out of range
    ("leverage 200", "risk:\n  leverage: 200\n", "risk.leverage", "expected an integer from 1 to 125, got 200"),
    ("risk_per_trade too big", "risk:\n  risk_per_trade: 0.2\n", "risk.risk_per_trade", "a number in (0, 0.1]"),
    ("heatmap range", "heatmap:\n  cluster_window_pct: 1.5\n", "heatmap.cluster_window_pct",
     "expected a number in (0, 1), got 1.5"),
    ("hunter band", "hunter:\n  min_distance_pct: 6\n", "hunter.max_distance_pct", "more than min_distance_pct"),
    ("silence below Binance pings", "exchange:\n  timeouts:\n    silence: 60\n", "exchange.timeouts.silence",
     "Binance pings every 180 s"),
    ("heartbeat under 1 s", "schedule:\n  heartbeat: 0.5\n", "schedule.heartbeat", "a number in [1, 86400]"),
    ("negative cooldown", "risk:\n  cooldown_minutes: -1\n", "risk.cooldown_minutes", "[0, 1440]"),
    ("empty storage path", "storage:\n  path: ''\n", "storage.path", "expected a file path"),
    ("empty events path", "storage:\n  events: ''\n", "storage.events",
     "expected a file path, a postgresql://user@host:port/db URL (the password from PGPASSWORD or PGPASSFILE), "
     "or null"),
    ("events a number", "storage:\n  events: 5\n", "storage.events", "(null: no recording), got 5"),
    ("events a folder", "storage:\n  events: var/\n", "storage.events", "a file path, not a folder"),
    ("events in memory", "storage:\n  events: ':memory:'\n", "storage.events", "null turns recording off"),
    ("events in the books", "storage:\n  path: var/x.sqlite\n  events: var/x.sqlite\n", "storage.events",
     "a file other than storage.path"),
    ("retention zero", "storage:\n  retention_days: 0\n", "storage.retention_days",
     "expected a number in (0, 3650] (days), got 0"),
    ("retention too long", "storage:\n  retention_days: 4000\n", "storage.retention_days", "(0, 3650]"),
    ("retention as text", "storage:\n  retention_days: '30'\n", "storage.retention_days", "got '30'"),
    ("retention null", "storage:\n  retention_days:\n", "storage.retention_days", "got null"),
    ("infinite wallet", "risk:\n  starting_wallet: .inf\n", "risk.starting_wallet",
     "expected a number in (0, 1000000000] (USDT), got inf"),
    ("not a number", "heatmap:\n  count_weight: .nan\n", "heatmap.count_weight",
     "expected a number in [0, 1], got nan"),
    ("bad log level", "logging:\n  level: verbose\n", "logging.level",
     "expected 'debug', 'info', 'warning', 'error' or 'critical' (either case), got 'verbose'"),
    # choices
    ("bad mode", "mode: backtest\n", "mode", "expected 'paper' or 'live', got 'backtest'"),
    ("mode near miss", "mode: Live\n", "mode", "did you mean 'live'?"),
    ("bad exchange", "exchange:\n  name: binance\n", "exchange.name", "expected 'binanceusdm'"),
    ("bad strategy", "strategy:\n  name: magnet\n", "strategy.name", "'liquidation_magnet' or 'cascade_fade'"),
    ("bad log format", "logging:\n  format: text\n", "logging.format", "'auto', 'json' or 'console'"),
    ("ws_url scheme", "exchange:\n  ws_url: https://fstream.binance.com/market\n", "exchange.ws_url", "a ws/wss URL"),
    ("ws_url with /ws", "exchange:\n  ws_url: wss://fstream.binance.com/market/ws\n", "exchange.ws_url",
     "without /ws or /stream"),
    # symbols
    ("bad symbol", "symbols: [BTCUSDT, BTC-USD]\n", "symbols[1]", "expected a symbol such as BTCUSDT"),
    ("spot symbol", "symbols: [BTC/USDT]\n", "symbols[0]", "got 'BTC/USDT'"),
    ("hyphenated symbol", "symbols: [BTC-USDT]\n", "symbols[0]", "got 'BTC-USDT'"),
    ("duplicate symbols", "symbols: [BTCUSDT, ETHUSDT, btc/usdt:usdt]\n", "symbols[2]",
     "repeats symbols[0] (BTC/USDT:USDT)"),
    ("one symbol as text", "symbols: BTCUSDT\n", "symbols", "one symbol: [BTCUSDT]"),
    ("no symbols", "symbols: []\n", "symbols", "at least one symbol"),
    # secrets belong in the environment
    ("api_key in the file", "exchange:\n  api_key: abc\n", "exchange.api_key",
     "set BINANCE_API_KEY and BINANCE_API_SECRET in the environment"),
    ("secret at the top", "secret: xyz\n", "secret", "not read from config files"),
    ("secret in params", "strategy:\n  params:\n    binance-api-secret: x\n", "strategy.params.binance-api-secret",
     "in the environment"),
    ("password in the store URL", "storage:\n  events: postgresql://bob:hunter2@db:5432/liq\n", "storage.events",
     "a postgresql:// URL without a password (secrets never in a config file: set PGPASSWORD or PGPASSFILE), "
     "got 'postgresql://bob:***@db:5432/liq'"),
    ("password parameter in the store URL", "storage:\n  events: postgres://bob@db/liq?password=hunter2\n",
     "storage.events", "got 'postgres://bob@db/liq?password=***'"),
    # the file itself
    ("YAML syntax", "mode: paper\nrisk:\n  leverage: 3\n   stop: 1\n", None, "line 4, column 8: invalid YAML"),
    ("tab indentation", "risk:\n\tleverage: 3\n", None, "line 2, column 1: invalid YAML"),
    ("unclosed list", "symbols: [BTCUSDT, ETHUSDT\n", None, "invalid YAML"),
    ("two documents", "mode: paper\n---\nmode: live\n", None, "expected a single document"),
    ("top level a list", "- mode: paper\n", None, "expected a mapping of sections (mode, symbols, exchange"),
    ("top level text", "paper\n", None, "got 'paper'"),
    ("repeated key", "risk:\n  leverage: 3\n  leverage: 4\n", "risk.leverage", "repeated key (lines 2 and 3)"),
    # rules across fields
    ("no direction", "hunter:\n  allow_long: false\n  allow_short: false\n", "hunter.allow_short",
     "true when allow_long is false"),
    ("demo with rest_url", "exchange:\n  demo: true\n  rest_url: https://proxy.example/fapi\n", "exchange.rest_url",
     "null when exchange.demo is true"),
    ("fixed exits missing", "risk:\n  from_signal: false\n", "risk.stop_loss_pct", "when from_signal is false"),
    ("two sources of exits", "risk:\n  stop_loss_pct: 1.0\n", "risk.stop_loss_pct", "null when from_signal is true"),
    ("leverage past the hunter's stop", "risk:\n  leverage: 50\n", "risk.leverage",
     "expected an integer from 1 to 25 (the hunter's widest stop is 2 %"),
    ("leverage past a fixed stop",
     "risk:\n  from_signal: false\n  stop_loss_pct: 5\n  take_profit_pct: 10\n  leverage: 20\n",
     "risk.leverage", "expected an integer from 1 to 10 (stop_loss_pct is 5 %"),
    ("open risk above the daily limit", "risk:\n  max_open_positions: 10\n", "risk.risk_per_trade",
     "at most 0.005 (max_open_positions 10"),
    ("time exit finer than the check", "risk:\n  time_exit_minutes: 1\nschedule:\n  positions: 120\n",
     "schedule.positions", "at most 60 seconds"),
    ("live on every symbol", "mode: live\n", "symbols", "a list of symbols when mode is live"),
    ("live without a notional cap", "mode: live\nsymbols: [BTCUSDT]\n", "risk.max_notional_per_position",
     "a positive number when mode is live (no limit is for paper), got null"),
    ("live without a daily halt",
     "mode: live\nsymbols: [BTCUSDT]\nrisk:\n  max_notional_per_position: 100\n  daily_loss_limit_pct: null\n",
     "risk.daily_loss_limit_pct", "when mode is live"),
    ("live in memory",
     "mode: live\nsymbols: [BTCUSDT]\nrisk:\n  max_notional_per_position: 100\nstorage:\n  path: ':memory:'\n",
     "storage.path", "trades must survive a restart"),
    # the api section
    ("unknown api key", "api:\n  prot: 8700\n", "api.prot", "did you mean 'port'?"),
    ("api port out of range", "api:\n  port: 70000\n", "api.port", "expected an integer from 0 to 65535, got 70000"),
    ("api port as text", "api:\n  port: '8700'\n", "api.port", "got '8700'"),
    ("api host with a space", "api:\n  host: 'my host'\n", "api.host", "expected an IP address or host name"),
    ("api token_env not a name", "api:\n  token_env: 'MY TOKEN'\n", "api.token_env",
     "expected the name of an environment variable"),
    ("api enabled as text", "api:\n  enabled: 'on'\n", "api.enabled", "expected true or false, got 'on'"),
    # exchanges and venues
    ("unknown venue", "exchanges: [binance, kraken]\n", "exchanges[1]",
     "unknown venue 'kraken'; the venues are binance, bybit, okx"),
    ("a venue twice", "exchanges: [binance, okx, okx]\n", "exchanges[2]", "'okx' is listed twice"),
    ("no binance", "exchanges: [bybit]\n", "exchanges", "a list including binance"),
    ("exchanges empty", "exchanges: []\n", "exchanges", "a list of venues among binance, bybit, okx"),
    ("exchanges not a list", "exchanges: binance\n", "exchanges", "expected a list, got 'binance'"),
    ("bad ws url", "venues:\n  bybit:\n    ws_url: https://stream.bybit.com\n", "venues.bybit.ws_url",
     "a ws/wss URL"),
    ("bad rest url", "venues:\n  okx:\n    rest_url: www.okx.com\n", "venues.okx.rest_url", "a http/https URL"),
    ("unknown venue key", "venues:\n  okx:\n    backfil: true\n", "venues.okx.backfil", "did you mean 'backfill'?"),
    ("venue section at the top", "okx:\n  backfill: false\n", "okx", "did you mean 'venues.okx'?"),
]


# The strategy's parameters are read where the bot is assembled: check-config, run and backtest refuse them.
PARAMS_MISTAKES: list[tuple[str, str, str, str]] = [
    ("strategy param typo", "strategy:\n  name: cascade_fade\n  params:\n    burst_minuts: 3\n",
     "strategy.params.burst_minuts", "unknown key, did you mean 'burst_minutes'?"),
    ("strategy param range", "strategy:\n  name: cascade_fade\n  params:\n    retrace_fraction: 2\n",
     "strategy.params.retrace_fraction", "expected a number in (0, 1], got 2"),
    ("magnet takes no params", "strategy:\n  params:\n    min_strength: 0.5\n", "strategy.params.min_strength",
     "unknown key here, did you mean 'hunter.min_strength'?"),
    ("magnet takes none at all", "strategy:\n  params:\n    window: 5\n", "strategy.params.window",
     "unknown key (nothing is accepted here)"),
    ("params past the heatmap's horizon", "heatmap:\n  time_decay_minutes: 20\nstrategy:\n  name: cascade_fade\n",
     "strategy.params.baseline_minutes", "expected max_age_minutes + burst_minutes + baseline_minutes to fit the "
     "heatmap's horizon of 60 minutes, got 75 in all"),
]


def _write(tmp_path: Path, text: str, name: str = "bot.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "key", "fragment"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, key: str | None, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigFileError) as info:
        load_config(path)
    error = info.value
    message = str(error)
    assert error.key == key
    assert error.file == str(path)
    assert message.startswith(f"{path}: " + (f"{key}: " if key else ""))
    assert fragment in message
    assert "\n" not in message
    assert isinstance(error, ConfigError) and isinstance(error, ValueError)


@pytest.mark.parametrize(("text", "key", "problem"), [m[1:] for m in PARAMS_MISTAKES],
                         ids=[m[0] for m in PARAMS_MISTAKES])
def test_strategy_params_are_refused_where_the_bot_is_assembled(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                text: str, key: str, problem: str) -> None:
    path = _write(tmp_path, text)
    config = load_config(path)  # the file itself is fine
    with pytest.raises(ConfigFileError) as info:
        check_strategy(config)
    assert (info.value.key, info.value.file, str(info.value)) == (key, str(path), f"{path}: {key}: {problem}")
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"error: {path}: {key}: {problem}\n")
    assert main(["run", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: {key}: {problem}\n"


def test_there_are_enough_mistakes() -> None:
    assert len(MISTAKES) >= 25
    assert len({m[0] for m in MISTAKES}) == len(MISTAKES)


def test_message_format_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    _write(tmp_path / "config", "mode: paper\nrisk:\n  leverage: 200\n", "paper.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigFileError) as info:
        load_config("config/paper.yaml")
    assert str(info.value) == "config/paper.yaml: risk.leverage: expected an integer from 1 to 125, got 200"
    assert (info.value.key, info.value.expected, info.value.line) == ("risk.leverage", "an integer from 1 to 125", 3)


def test_yaml_errors_carry_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as info:
        load_config(_write(tmp_path, "mode: paper\nrisk:\n  leverage: 3\n   stop: 1\n"))
    assert (info.value.line, info.value.column) == (4, 8)
    with pytest.raises(ConfigFileError) as info:
        load_config(_write(tmp_path, "symbols:\n  - BTCUSDT\n  - nonsense\n"))
    assert (info.value.key, info.value.line) == ("symbols[1]", 3)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"missing\.yaml: no such file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigFileError, match="is a folder"):
        load_config(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("mode: paper # caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigFileError, match="not UTF-8 text"):
        load_config(bad)


@pytest.mark.parametrize("text", ["", "# only comments\n", "---\n", "risk:\nschedule:\n# all commented out\n"])
def test_empty_file_or_sections_mean_all_defaults(tmp_path: Path, text: str) -> None:
    """Decision: an empty file (or section) is all defaults; the defaults are paper mode, which trades nothing."""
    path = _write(tmp_path, text)
    config = load_config(path)
    assert config == BotConfig.from_mapping({}, source=path)
    assert config.mode == "paper" and config.symbols == "all"


# ------------------------------------------------------------------ shipped files

def test_default_yaml_is_the_code_defaults() -> None:
    path = CONFIG / "default.yaml"
    config = load_config(path)
    assert config == BotConfig.from_mapping({}, source=path)
    assert config.to_dict(masked=False) == BotConfig.from_mapping({}, source=path).to_dict(masked=False)
    # Apart from where the SQLite file is resolved against, BotConfig() is the same thing.
    plain, loaded = BotConfig().to_dict(masked=False), config.to_dict(masked=False)
    assert plain.pop("storage") == {"path": "var/liquidation-hunter.sqlite", "events": "var/liquidations.sqlite",
                                    "retention_days": 30.0}
    assert loaded.pop("storage") == {"path": str(CONFIG / "var" / "liquidation-hunter.sqlite"),
                                     "events": str(CONFIG / "var" / "liquidations.sqlite"), "retention_days": 30.0}
    assert plain == loaded


def _key_paths(data: Any, prefix: str = "") -> set[str]:
    out = set()
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            if key != "params":
                out |= _key_paths(value, path)
    return out


def test_default_yaml_documents_every_key() -> None:
    path = CONFIG / "default.yaml"
    raw = yaml.safe_load(path.read_text())
    assert _key_paths(raw) == _key_paths(BotConfig().to_dict(masked=False))
    section = r"^\s*(heatmap|hunter|exchange|timeouts|strategy|risk|schedule|storage|logging):\s*(#.*)?$"
    for line in path.read_text().splitlines():
        if re.match(r"^\s*\w+:", line) and not re.match(section, line):
            assert "#" in line, f"no comment on: {line}"


@pytest.mark.parametrize("name", ["default.yaml", "paper.yaml", "live.yaml", "paper_estimated.yaml",
                                  "paper_orderbook.yaml"])
def test_shipped_files_load_and_round_trip(name: str) -> None:
    path = CONFIG / name
    config = load_config(path)
    assert BotConfig.from_mapping(config.to_dict(masked=False), source=path) == config
    json.dumps(config.to_dict())  # plain data
    hash(config)


def test_paper_and_live_files() -> None:
    paper = load_config(CONFIG / "paper.yaml")
    assert paper.mode == "paper" and not paper.real_money
    assert paper.symbols == ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT", "DOGE/USDT:USDT")
    assert paper.exchange.mark_price and stream_settings(paper.exchange).mark_price
    assert paper.storage.path == str(ROOT / "var" / "paper.sqlite")
    live = load_config(CONFIG / "live.yaml")
    assert live.mode == "live" and live.real_money and isinstance(live.symbols, tuple)
    assert live.risk.max_notional_per_position is not None
    assert live.risk.risk_per_trade < paper.risk.risk_per_trade and live.risk.leverage <= paper.risk.leverage
    estimated = load_config(CONFIG / "paper_estimated.yaml")
    assert estimated.mode == "paper" and estimated.estimated.enabled and estimated.hunter.target == "agree"
    orderbook = load_config(CONFIG / "paper_orderbook.yaml")
    assert orderbook.mode == "paper" and orderbook.orderbook.enabled and orderbook.hunter.wall == "prefer"
    check_layers(orderbook)  # the wall option's layer is kept
    text = (CONFIG / "live.yaml").read_text()
    assert "--live" in text and "BINANCE_API_KEY" in text and "BINANCE_API_SECRET" in text


# ------------------------------------------------------------------ objects made in Python

def test_sections_check_themselves_when_made_directly() -> None:
    with pytest.raises(ConfigFileError, match=r"^leverage: expected an integer from 1 to 125, got 0$"):
        RiskConfig(leverage=0)
    with pytest.raises(ConfigFileError, match=r"^risk: expected a RiskConfig, got a mapping$"):
        BotConfig(risk={"leverage": 200})  # type: ignore[arg-type]
    with pytest.raises(ConfigFileError, match=r"^risk\.leverage: expected an integer from 1 to 125, got 200$"):
        BotConfig.from_mapping({"risk": {"leverage": 200}})
    with pytest.raises(ConfigFileError, match=r"^signals: expected a number in \(0, 86400\], got true$"):
        ScheduleConfig(signals=True)  # type: ignore[arg-type]
    assert ScheduleConfig(signals=3).signals == 3  # an int where a number is expected; from a file, a float
    assert BotConfig(symbols=("BTC/USDT:USDT",)).symbols == ("BTC/USDT:USDT",)
    with pytest.raises(ConfigFileError, match=r"^symbols: expected unified symbols such as BTC/USDT:USDT"):
        BotConfig(symbols=("btcusdt",))
    assert BotConfig.from_mapping({"symbols": ["btcusdt", "ETH/USDT:USDT"]}).symbols == ("BTC/USDT:USDT",
                                                                                          "ETH/USDT:USDT")
    with pytest.raises(ConfigFileError, match=r"^events: expected a file other than storage\.path"):
        StorageConfig(path="x.sqlite", events="x.sqlite")


def test_log_level_in_either_case(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "logging:\n  level: WARNING\n")).logging.level == "WARNING"


def test_ints_become_floats_where_a_number_is_expected(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "heatmap:\n  time_decay_minutes: 30\nrisk:\n  starting_wallet: 500\n"))
    assert config.heatmap.time_decay_minutes == 30.0 and isinstance(config.heatmap.time_decay_minutes, float)
    assert isinstance(config.risk.starting_wallet, float)
    assert isinstance(config.risk.leverage, int)


def test_storage_path_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "bots"
    sub.mkdir()
    assert load_config(_write(sub, "storage:\n  path: db/x.sqlite\n")).storage.path == str(sub / "db" / "x.sqlite")
    assert load_config(_write(sub, "storage:\n  path: ../x.sqlite\n")).storage.path == str(tmp_path / "x.sqlite")
    assert load_config(_write(sub, "storage:\n  path: /srv/x.sqlite\n")).storage.path == "/srv/x.sqlite"
    assert load_config(_write(sub, "storage:\n  path: ':memory:'\n")).storage.path == ":memory:"


def test_event_store_path_is_resolved_like_the_books(tmp_path: Path) -> None:
    sub = tmp_path / "bots"
    sub.mkdir()

    def events(text: str) -> str | None:
        return load_config(_write(sub, "storage:\n" + text)).storage.events

    config = load_config(_write(sub, "storage:\n  events: rec/liq.sqlite\n  retention_days: 7\n"))
    assert config.storage.events == str(sub / "rec" / "liq.sqlite")
    assert config.storage.retention_days == 7.0 and isinstance(config.storage.retention_days, float)
    assert events("  events: ../liq.sqlite\n") == str(tmp_path / "liq.sqlite")
    assert events("  events: /srv/liq.sqlite\n") == "/srv/liq.sqlite"
    assert events("  events: null\n") is None  # recording off
    assert events("  path: ':memory:'\n") == str(sub / "var" / "liquidations.sqlite")
    with pytest.raises(ConfigFileError, match=r"storage\.events: expected a file other than storage\.path"):
        events("  path: x.sqlite\n  events: ./x.sqlite\n")  # the same file once resolved
    # A PostgreSQL store is a URL, kept as written (not a path under the config's folder), either scheme.
    assert events("  events: postgresql://bob@db.internal:5432/liq\n") == "postgresql://bob@db.internal:5432/liq"
    assert events("  events: postgres:///liq?host=/run/postgresql\n") == "postgres:///liq?host=/run/postgresql"


def test_strategy_params_are_read_only(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "strategy:\n  name: cascade_fade\n  params:\n    burst_minutes: 4\n"
                                          "    min_burst_notional: 200000\n"))
    assert config.strategy.name == "cascade_fade" and config.strategy.params["burst_minutes"] == 4
    with pytest.raises(TypeError):
        config.strategy.params["burst_minutes"] = 6  # type: ignore[index]
    assert config.to_dict()["strategy"]["params"] == {"burst_minutes": 4, "min_burst_notional": 200000}


def test_stream_settings_follow_the_exchange_section(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "exchange:\n  ws_url: ws://127.0.0.1:9000/market\n  combined: false\n"
                                          "  mark_price: false\n  timeouts:\n    silence: 200\n    pong: 5\n"))
    settings = stream_settings(config.exchange)
    assert (settings.ws_url, settings.combined, settings.mark_price) == ("ws://127.0.0.1:9000/market", False, False)
    assert (settings.connection.silence_timeout, settings.connection.pong_timeout) == (200.0, 5.0)


def test_warnings(tmp_path: Path) -> None:
    live = load_config(CONFIG / "live.yaml")
    assert any("BINANCE_API_KEY and BINANCE_API_SECRET are not set" in w for w in live.warnings({}))
    assert any("--live" in w for w in live.warnings({}))
    full = {"BINANCE_API_KEY": "k" * 16, "BINANCE_API_SECRET": "s" * 16}
    assert not any("not set" in w for w in live.warnings(full))
    paper = load_config(_write(tmp_path, "exchange:\n  demo: true\n"))
    assert paper.warnings({}) == ["exchange.demo is ignored in paper mode (fills are simulated locally)"]


# ------------------------------------------------------------------ secrets

def test_masking() -> None:
    assert mask(SECRET) == "****1234"
    assert mask("abcdefgh") == "****gh"  # at most a quarter shown
    assert mask("abc") == "****"
    secrets = Secrets.from_environ({"BINANCE_API_KEY": "  keyvalue-12-ABCD\n", "BINANCE_API_SECRET": ""})
    assert secrets.api_key == "keyvalue-12-ABCD" and secrets.api_secret is None
    assert secrets.missing() == ("BINANCE_API_SECRET",) and not secrets.complete
    assert repr(secrets) == str(secrets) == f"{secrets}" == "Secrets(api_key='****ABCD', api_secret=None)"


def test_env_secrets_are_masked_everywhere(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", "publickeyvalue5678")
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    config = load_config(CONFIG / "live.yaml")
    secrets = config.secrets()
    assert secrets.api_secret == SECRET and secrets.complete
    shown = config.to_dict()
    assert shown["secrets"] == {"BINANCE_API_KEY": "****5678", "BINANCE_API_SECRET": "****1234"}
    assert "secrets" not in config.to_dict(masked=False)
    for text in (json.dumps(shown), json.dumps(config.to_dict(masked=False)), repr(config), str(config),
                 repr(secrets), str(secrets)):
        assert SECRET not in text and "publickeyvalue" not in text
    for argv in (["check-config", str(CONFIG / "live.yaml")], ["check-config", "--json", str(CONFIG / "live.yaml")]):
        assert main(argv) == 0
        out, err = capsys.readouterr()
        assert SECRET not in out + err and "publickeyvalue" not in out + err
        assert "****1234" in out and "****5678" in out
    assert json.loads(out)["secrets"]["BINANCE_API_SECRET"] == "****1234"


def test_secrets_pasted_as_values_are_not_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    for text in (f"mode: {SECRET}\n", f"exchange:\n  name: {TOKEN}\n", f"symbols: [{TOKEN}]\n"):
        with pytest.raises(ConfigFileError) as info:
            load_config(_write(tmp_path, text))
        assert SECRET not in str(info.value) and TOKEN not in str(info.value)
        assert "****" in str(info.value)


# ------------------------------------------------------------------ the command

def test_check_config_prints_the_effective_config(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    assert main(["check-config", str(CONFIG / "paper.yaml")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "valid; paper" in out.splitlines()[0]
    shown = yaml.safe_load(out)
    assert shown["risk"]["leverage"] == 5 and shown["heatmap"]["min_cluster_size"] == 5  # defaults filled in
    assert shown["secrets"] == {"BINANCE_API_KEY": None, "BINANCE_API_SECRET": None}
    assert main(["check-config", "--json", str(CONFIG / "paper.yaml")]) == 0
    assert json.loads(capsys.readouterr().out)["symbols"][3] == "XRP/USDT:USDT"


def test_check_config_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = _write(tmp_path, "risk:\n  leverage: 200\n")
    assert main(["check-config", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {bad}: risk.leverage: expected an integer from 1 to 125, got 200\n"
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_console_script_check_config(tmp_path: Path) -> None:
    bad = _write(tmp_path, "risk:\n  levrage: 3\n")
    done = subprocess.run([SCRIPT, "check-config", str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"error: {bad}: risk.levrage: unknown key, did you mean 'leverage'?\n"
    assert "Traceback" not in done.stderr


def test_bot_config_import_stays_light() -> None:
    code = ("import sys, liquidation_hunter.config.model, liquidation_hunter.cli; "
            "print(sorted(m for m in ('pandas', 'scipy', 'ccxt', 'websocket') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
