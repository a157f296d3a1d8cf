"""``liquidation-hunter alerts test CHANNEL`` and ``alerts list``, and the alerts in ``status`` (issue 16)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.alert_receiver import AlertReceiver, Answer

from liquidation_hunter.alerts import ChannelError
from liquidation_hunter.bot.runner import build_bot
from liquidation_hunter.cli.main import main
from liquidation_hunter.config.model import load_config
from liquidation_hunter.trading.books import Books

TOKEN = "123456:AAFakeTelegramTokenForTests"


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with AlertReceiver() as server:
        yield server


def _config(tmp_path: Path, receiver: AlertReceiver) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(f"""\
storage:
  path: {tmp_path / 'books.sqlite'}
alerts:
  channels:
    webhook:
      enabled: true
      url: {receiver.base_url}/hook
      signing_key_env: TEST_HOOK_KEY
    telegram:
      enabled: true
      chat_id: "-1001"
      token_env: TEST_TELEGRAM_TOKEN
      api_url: {receiver.base_url}
""")
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_KEY", "hook-signing-key")
    monkeypatch.setenv("TEST_TELEGRAM_TOKEN", TOKEN)


@pytest.mark.usefixtures("env")
def test_alerts_test_sends_one_message_and_says_what_came_back(tmp_path: Path, receiver: AlertReceiver,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, receiver)
    assert main(["alerts", "test", "telegram", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("telegram: delivered (HTTP 200) to chat_id -1001") and TOKEN not in out
    assert "TEST_TELEGRAM_TOKEN=****ests" in out
    receiver.answer(Answer(500, {"error": "down"}))
    assert main(["alerts", "test", "webhook", "--config", str(config)]) == 1
    assert capsys.readouterr().out.startswith(
        'webhook: NOT delivered: HTTP 500: {"error": "down"} (the bot would try again)')
    assert [r.path for r in receiver.received] == [f"/bot{TOKEN}/sendMessage", "/hook"]
    assert receiver.received[1].headers["X-Signature"].startswith("sha256=")


def test_alerts_test_refuses_a_channel_not_enabled_or_without_its_secret(
        tmp_path: Path, receiver: AlertReceiver, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, receiver)
    monkeypatch.delenv("TEST_TELEGRAM_TOKEN", raising=False)
    assert main(["alerts", "test", "discord", "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"error: {config}: alerts.channels.discord.enabled is false\n"
    assert main(["alerts", "test", "telegram", "--config", str(config)]) == 2
    assert capsys.readouterr().err == ("error: alerts.channels.telegram.token_env: TEST_TELEGRAM_TOKEN is not set in "
                                       "the environment\n")
    assert receiver.received == []


def test_alerts_list_and_status_show_the_outbox(tmp_path: Path, receiver: AlertReceiver,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, receiver)
    with Books.open(tmp_path / "books.sqlite", starting_wallet=1000.0, now_ms=1) as books:
        for i in range(3):
            books.enqueue_alert(alert_id=f"id{i}", channels=["webhook"], rule="cascade", kind="cascade",
                                symbol="BTCUSDT", at=1000 + i, text=f"cascade {i}", data={})
        books.alert_failed(1, "HTTP 400: bad", 2000)
    assert main(["alerts", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"outbox of {tmp_path / 'books.sqlite'}: 2 pending, 0 delivered, 1 failed, 0 dropped (full)"
    assert [line.split()[1] for line in out[1:]] == ["pending", "pending", "failed"]
    assert out[3].endswith("cascade 0  (HTTP 400: bad)")
    assert main(["alerts", "list", "--config", str(config), "--state", "failed", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed["rows"]] == ["id0"] and listed["counts"]["failed"] == 1
    assert main(["status", "--config", str(config)]) == 0
    assert "alerts outbox: 2 pending, 0 delivered, 1 failed, 0 dropped (full)" in capsys.readouterr().out
    assert main(["status", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outbox"] == {"pending": 2, "delivered": 0, "failed": 1, "dropped": 0}


def test_a_bot_config_with_a_missing_secret_is_refused_in_one_line(
        tmp_path: Path, receiver: AlertReceiver, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(_config(tmp_path, receiver))
    with pytest.raises(ChannelError, match="TEST_HOOK_KEY is not set"):
        build_bot(config, environ={})
