"""Delivery through the outbox and the sender, against a local HTTP server standing in for the channels (issue 16).

The timing properties are checked on the times the receiver recorded: with the real sender thread where the waits
are seconds (``500, 500, 200``; ``Retry-After: 2``; Telegram's ``retry_after: 3``), with a simulated clock where
they would be minutes (100 alerts to one chat; 8 attempts)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes.alert_receiver import AlertReceiver, Answer

from liquidation_hunter.alerts import Alert, AlertHub, Sender
from liquidation_hunter.alerts.channels import DiscordChannel, TelegramChannel, WebhookChannel
from liquidation_hunter.alerts.sender import backoff_s
from liquidation_hunter.trading.books import Books

TOKEN = "123456:AAFakeTelegramTokenForTests"


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with AlertReceiver() as server:
        yield server


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    with Books.open(tmp_path / "books.sqlite", starting_wallet=1000.0, now_ms=0) as opened:
        yield opened


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _alert(i: int = 0, *, symbol: str = "BTCUSDT", key: str = "", at: int | None = None) -> Alert:
    return Alert(rule="test", kind="cascade", symbol=symbol, time=_wall_ms() if at is None else at,
                 text=f"alert {i} <b>&", data={"i": i}, cooldown_key=key or f"k{i}")


def _until(done: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class SimClock:
    """Epoch ms that moves only when told; the receiver records it in seconds."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms

    def seconds(self) -> float:
        return self.ms / 1000


def _drive(sender: Sender, clock: SimClock, until: Callable[[], bool], *, limit: int = 100_000) -> None:
    """Run the sender's steps on the simulated clock, jumping to each next due time."""
    for _ in range(limit):
        if until():
            return
        clock.ms += sender.step(clock())
    raise AssertionError("the sender did not finish")


def test_500_500_200_is_delivered_once_after_three_attempts_with_one_idempotency_key(
        books: Books, receiver: AlertReceiver) -> None:
    receiver.answer(Answer(500), Answer(500))
    sender = Sender(books, {"webhook": WebhookChannel(f"{receiver.base_url}/hook")}, timeout_s=5.0)
    hub = AlertHub(books, ["webhook"], [], on_queued=sender.wake)
    sender.start()
    try:
        assert hub.submit(_alert(), _wall_ms())
        _until(lambda: books.outbox_counts().delivered == 1, 15, "the delivery")
    finally:
        sender.stop()
    got = receiver.received
    assert [r.status for r in got] == [500, 500, 200]
    keys = {r.headers["Idempotency-Key"] for r in got}
    assert len(keys) == 1 and keys == {got[0].json()["id"]}
    assert got[1].at - got[0].at >= 1.0 and got[2].at - got[1].at >= 2.0  # backoff 1 s, then 2 s
    (row,) = books.outbox()
    assert (row.state, row.attempts) == ("delivered", 3)
    assert set(got[0].json()) == {"id", "kind", "symbol", "time", "text", "data"}


def test_429_with_retry_after_2_is_not_retried_before_2_seconds(books: Books, receiver: AlertReceiver) -> None:
    receiver.answer(Answer(429, {"error": "slow down"}, (("Retry-After", "2"),)))
    sender = Sender(books, {"webhook": WebhookChannel(f"{receiver.base_url}/hook")}, timeout_s=5.0)
    hub = AlertHub(books, ["webhook"], [], on_queued=sender.wake)
    sender.start()
    try:
        hub.submit(_alert(), _wall_ms())
        _until(lambda: books.outbox_counts().delivered == 1, 10, "the delivery")
    finally:
        sender.stop()
    first, second = receiver.received
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 2.0


def test_telegram_retry_after_3_in_the_answer_is_honoured(books: Books, receiver: AlertReceiver) -> None:
    receiver.answer(Answer(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
                                 "parameters": {"retry_after": 3}}))
    channel = TelegramChannel(TOKEN, "-1001", api_url=receiver.base_url, min_interval_s=1.0)
    sender = Sender(books, {"telegram": channel}, timeout_s=5.0)
    hub = AlertHub(books, ["telegram"], [], on_queued=sender.wake)
    sender.start()
    try:
        hub.submit(_alert(), _wall_ms())
        _until(lambda: books.outbox_counts().delivered == 1, 12, "the delivery")
    finally:
        sender.stop()
    first, second = receiver.received
    assert second.at - first.at >= 3.0
    assert first.path == f"/bot{TOKEN}/sendMessage"
    sent = second.json()
    assert sent["chat_id"] == "-1001" and sent["parse_mode"] == "HTML"
    assert "alert 0 &lt;b&gt;&amp;" in sent["text"]  # the text is escaped for HTML


def test_a_hundred_alerts_to_one_chat_go_at_most_one_a_second(books: Books) -> None:
    clock = SimClock()
    with AlertReceiver(clock=clock.seconds) as receiver:
        channel = TelegramChannel(TOKEN, "-1001", api_url=receiver.base_url, min_interval_s=1.0)
        sender = Sender(books, {"telegram": channel}, clock=clock)
        hub = AlertHub(books, ["telegram"], [])
        for i in range(100):
            assert hub.submit(_alert(i, at=clock()), clock())
        _drive(sender, clock, lambda: books.outbox_counts().delivered == 100)
        times = [r.at for r in receiver.received]
    assert len(times) == 100
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0
    assert [json.loads(r.body)["text"].endswith(f"alert {i} &lt;b&gt;&amp;") for i, r in
            enumerate(receiver.received)] == [True] * 100  # in order, each once


def test_a_repeat_inside_the_cooldown_sends_nothing(books: Books, receiver: AlertReceiver) -> None:
    sender = Sender(books, {"webhook": WebhookChannel(f"{receiver.base_url}/hook")})
    hub = AlertHub(books, ["webhook"], [], cooldown_s=300)
    now = _wall_ms()
    assert hub.submit(_alert(1, key="BTCUSDT-long-1"), now)
    assert not hub.submit(_alert(1, key="BTCUSDT-long-1", at=now + 1000), now + 299_000)
    assert hub.submit(_alert(1, key="BTCUSDT-long-2"), now + 1000)  # another cluster
    assert hub.submit(_alert(1, key="BTCUSDT-long-1", at=now + 300_000), now + 300_000)  # the cooldown is over
    sender.step(now + 300_000)
    assert len(receiver.received) == 3
    assert hub.counts["cooled"] == 1


def test_cooldowns_survive_a_restart(books: Books) -> None:
    now = _wall_ms()
    assert AlertHub(books, ["webhook"], []).submit(_alert(1, key="c1"), now)
    again = AlertHub(books, ["webhook"], [])
    again.restore_cooldowns(now + 10_000)
    assert not again.submit(_alert(1, key="c1", at=now + 10_000), now + 10_000)


def test_another_refusal_fails_at_once_and_eight_attempts_end_as_failed(books: Books) -> None:
    clock = SimClock()
    with AlertReceiver(clock=clock.seconds) as receiver:
        receiver.answer(Answer(400, {"error": "bad"}), *[Answer(503)] * 8)
        sender = Sender(books, {"webhook": WebhookChannel(f"{receiver.base_url}/h")}, clock=clock)
        hub = AlertHub(books, ["webhook"], [])
        hub.submit(_alert(1, at=clock()), clock())
        hub.submit(_alert(2, at=clock()), clock())
        _drive(sender, clock, lambda: books.outbox_counts().failed == 2)
        times = [r.at for r in receiver.received]
    rows = {r.data["i"]: r for r in books.outbox()}
    assert (rows[1].attempts, rows[1].last_error) == (1, 'HTTP 400: {"error": "bad"}')
    assert rows[2].attempts == 8 and rows[2].last_error.startswith("gave up after 8 attempts: HTTP 503")
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times[1:])]
    assert gaps == [backoff_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 60]


def test_network_errors_are_retried(books: Books) -> None:
    clock = SimClock()
    sender = Sender(books, {"webhook": WebhookChannel("http://127.0.0.1:9/nothing-listens")}, clock=clock)
    AlertHub(books, ["webhook"], []).submit(_alert(at=clock()), clock())
    sender.step(clock())
    (row,) = books.outbox()
    assert row.state == "pending" and row.attempts == 1 and row.last_error.startswith("network:")
    assert row.next_at == clock() + 1000


def test_the_webhook_signs_its_body_and_discord_gets_content(books: Books, receiver: AlertReceiver) -> None:
    key = "s3cret-signing-key"
    channels = {"webhook": WebhookChannel(f"{receiver.base_url}/hook", signing_key=key, signing_key_env="K"),
                "discord": DiscordChannel(f"{receiver.base_url}/api/webhooks/1/tok")}
    sender = Sender(books, channels)
    AlertHub(books, list(channels), []).submit(_alert(), _wall_ms())
    sender.step(_wall_ms())
    hook, discord = sorted(receiver.received, key=lambda r: r.path, reverse=True)
    expected = hmac.new(key.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Signature"] == f"sha256={expected}"
    assert discord.json() == {"content": "**cascade** alert 0 <b>&"}
    assert channels["webhook"].describe()["signing_key"] == "K=****-key"
    assert TOKEN not in json.dumps(TelegramChannel(TOKEN, "1").describe())


def test_the_outbox_is_capped_and_counts_what_it_dropped(books: Books) -> None:
    hub = AlertHub(books, ["webhook", "telegram"], [], cap=10, cooldown_s=0)
    now = _wall_ms()
    for i in range(8):
        hub.submit(_alert(i, at=now + i), now + i)
    counts = books.outbox_counts()
    assert counts.pending == 10 and counts.dropped == 6
    assert hub.counts["dropped"] == 6
