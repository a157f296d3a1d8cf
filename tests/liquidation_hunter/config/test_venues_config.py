"""``exchanges`` and ``venues``: the venues whose liquidations feed the heatmap, their URLs, one-line errors (the
mistakes are in test_bot_config.py's ``MISTAKES``, checked as every key's are)."""

from __future__ import annotations

from pathlib import Path

import pytest

from liquidation_hunter.cli import main
from liquidation_hunter.config.model import BotConfig, load_config
from live_heatmap.venue import Venue


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


def test_check_config_prints_one_line_naming_the_venue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("exchanges: [binance, bitget]\n", encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    assert capsys.readouterr().err == \
        f"error: {path}: exchanges[1]: unknown venue 'bitget'; the venues are binance, bybit, okx\n"
