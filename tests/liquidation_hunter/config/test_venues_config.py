"""``exchanges`` and ``venues``: the venues whose liquidations feed the heatmap, their URLs, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from liquidation_hunter.config.model import BotConfig, ConfigFileError, load_config
from live_heatmap.venue import Venue

SCRIPT = Path(sys.executable).parent / "liquidation-hunter"

MISTAKES = [
    ("unknown venue", "exchanges: [binance, kraken]\n", "exchanges[1]",
     "unknown venue 'kraken'; the venues are binance, bybit, okx"),
    ("a venue twice", "exchanges: [binance, okx, okx]\n", "exchanges[2]", "'okx' is listed twice"),
    ("no binance", "exchanges: [bybit]\n", "exchanges", "a list including binance"),
    ("empty", "exchanges: []\n", "exchanges", "a list of venues among binance, bybit, okx"),
    ("not a list", "exchanges: binance\n", "exchanges", "expected a list, got 'binance'"),
    ("bad ws url", "venues:\n  bybit:\n    ws_url: https://stream.bybit.com\n", "venues.bybit.ws_url",
     "a ws/wss URL"),
    ("bad rest url", "venues:\n  okx:\n    rest_url: www.okx.com\n", "venues.okx.rest_url", "a http/https URL"),
    ("unknown venue key", "venues:\n  okx:\n    backfil: true\n", "venues.okx.backfil", "did you mean 'backfill'?"),
    ("venue section at the top", "okx:\n  backfill: false\n", "okx", "did you mean 'venues.okx'?"),
]


@pytest.mark.parametrize(("text", "key", "fragment"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_venue_mistakes_name_the_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_config(path)
    assert info.value.key == key
    assert fragment in str(info.value)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_three_venues_and_their_urls(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("exchanges: [binance, bybit, okx]\nvenues:\n  markets_dir: cache/markets\n"
                    "  okx:\n    rest_url: http://127.0.0.1:9/\n    backfill: false\n", encoding="utf-8")
    config = load_config(path)
    assert config.venues_on == (Venue.BINANCE, Venue.BYBIT, Venue.OKX)
    assert config.venues.markets_dir == "cache/markets"  # as written (a backtest's report is the same anywhere)
    assert config.venues.markets_path(config.source) == str(tmp_path / "cache" / "markets")
    assert config.venues.okx.rest_url == "http://127.0.0.1:9/" and not config.venues.okx.backfill
    assert config.venues.bybit.ws_url == "wss://stream.bybit.com/v5/public/linear"  # the default
    assert BotConfig.from_mapping(config.to_dict(masked=False), source=path) == config


def test_default_is_binance_alone() -> None:
    assert BotConfig().venues_on == (Venue.BINANCE,)


def test_check_config_prints_one_line_naming_the_venue(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("exchanges: [binance, bitget]\n", encoding="utf-8")
    done = subprocess.run([str(SCRIPT), "check-config", str(path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {path}: exchanges[1]: unknown venue 'bitget'; the venues are binance, bybit, okx"]
