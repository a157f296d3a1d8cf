"""The ``feed`` section (issue 17): a bad URL or combination refused in one line naming ``feed.<key>``,
``check-config`` showing it, ``record --publish`` refusing a bad URL with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from bot_process import run_cli

from liquidation_hunter.config.model import BotConfig, ConfigFileError, load_config


def load(tmp_path: Path, text: str) -> BotConfig:
    path = tmp_path / "bot.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(("text", "key", "says"), [
    ("feed: {publish: 'http://127.0.0.1:6379'}", "feed.publish", "a Redis URL"),
    ("feed: {source: 'redis://user:secret@127.0.0.1:6379/0'}", "feed.source", "REDIS_PASSWORD"),
    ("feed: {publish: 'http://u:secret@127.0.0.1'}", "feed.publish", "without credentials"),
    ("feed: {fill_from: history.sqlite}", "feed.fill_from", "null without feed.source"),
    ("feed: {source: 'redis://127.0.0.1:6379/0', exchanges: [kraken]}", "feed.exchanges[0]", "binance, bybit, okx"),
    ("feed: {source: 'redis://127.0.0.1:6379/0', exchanges: [okx]}", "feed.exchanges[0]", "one of exchanges"),
    ("feed: {maxlen: 10}", "feed.maxlen", "from 1000"),
    ("feed: {source: 'redis://127.0.0.1:6379/0', publish: 'redis://127.0.0.1:6379/0'}", "feed.publish",
     "null with feed.source"),
    ("feed: {source: 'redis://127.0.0.1:6379/0', fill_from: 'postgresql://u:hunter2pw@db/liq'}", "feed.fill_from",
     "PGPASSWORD"),
    ("symbols: [BTCUSDT]\nestimated: {enabled: true}\nfeed: {source: 'redis://127.0.0.1:6379/0'}", "feed.source",
     "estimated.enabled"),
])
def test_a_bad_feed_is_one_line_naming_its_key(tmp_path: Path, text: str, key: str, says: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert f": {key}: " in message and says in message and "\n" not in message
    assert "secret@" not in message and "hunter2pw" not in message  # the passwords of the URLs above


def test_a_feed_is_valid_and_fill_from_is_resolved_like_the_storage(tmp_path: Path) -> None:
    config = load(tmp_path, "exchanges: [binance, bybit]\nfeed: {source: 'redis://127.0.0.1:6379/1', "
                            "exchanges: [bybit], fill_from: history.sqlite}")
    assert config.feed.fill_from == str(tmp_path / "history.sqlite")
    assert config.feed_exchanges == ("bybit",)
    shared = load(tmp_path, "feed: {source: 'redis://127.0.0.1:6379/1', fill_from: 'postgresql://rec@db:5432/liq'}")
    assert shared.feed.fill_from == "postgresql://rec@db:5432/liq"  # a shared store's URL: not a path to resolve
    assert load(tmp_path, "exchanges: [binance, okx]").feed_exchanges == ("binance", "okx")
    assert BotConfig().feed.source is None and BotConfig().feed.publish is None  # the default: no feed


def test_check_config_shows_the_feed_and_record_refuses_a_bad_publish_url(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("feed: {publish: 'redis://127.0.0.1:6379/0', maxlen: 5000}\nstorage: {events: ev.sqlite}\n",
                    encoding="utf-8")
    shown = run_cli("check-config", str(path))
    assert shown.returncode == 0
    assert "feed:\n  publish: redis://127.0.0.1:6379/0\n  maxlen: 5000\n" in shown.stdout
    refused = run_cli("record", "--config", str(path), "--publish", "redis://u:pw@127.0.0.1:1/0")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
    assert "--publish: expected a Redis URL without credentials" in refused.stderr and "pw@" not in refused.stderr
