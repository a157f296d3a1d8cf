"""Recording: the heatmap's listener hook, the SQLite event store, the recorder thread, warm start, kill -9,
and ``record`` (the recorder-only process) against the fake Binance server."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from bot_process import output_lines
from conftest import WIRE
from fakes.binance import FakeBinance
from helpers import NOW, event, wait_until

from liquidation_hunter.bot.record import RecordingDisabled, run_recorder
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.config.sections import ExchangeConfig, LoggingConfig, ScheduleConfig, StorageConfig
from live_heatmap import HeatmapConfig, LiquidationEvent, LiveLiquidationHeatmap, parse_force_order
from live_heatmap.store.history import event_order
from live_heatmap.store.interface import REFUSED, EventStorage
from live_heatmap.store.recorder import EventStore, EventStoreError, Recorder, warm_start
from live_heatmap.store.stores import open_event_store

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).resolve().parents[2] / "support" / "recorder_worker.py"
DAY = 86_400_000


@pytest.fixture(scope="module")
def real_events() -> list[LiquidationEvent]:
    """The real recording in the store's order (the file is sorted by trade time; ties by content here)."""
    return sorted((parse_force_order(line) for line in WIRE.read_bytes().splitlines()), key=event_order)


@pytest.fixture
def store(store_target: str) -> Iterator[EventStorage]:
    """A new store: every test taking it runs against SQLite and against PostgreSQL."""
    with open_event_store(store_target) as s:
        yield s


# ------------------------------------------------------------------ the listener hook

def test_listeners_see_accepted_events_only() -> None:
    heatmap = LiveLiquidationHeatmap(clock=lambda: NOW)
    calls: list[list[LiquidationEvent]] = []
    heatmap.add_listener(lambda events: calls.append(list(events)))
    a, b, c = event(100.0), event(101.0, age_min=1), event(102.0, symbol="ETHUSDT")
    assert heatmap.ingest(a)
    assert not heatmap.ingest(a)  # duplicate: not passed on
    assert not heatmap.ingest(b"not json")  # rejected: not passed on
    report = heatmap.ingest_many([a, b, b, b"{}", c])
    assert (report.accepted, report.duplicates, sum(report.rejected.values())) == (2, 2, 1)
    assert calls == [[a], [b, c]]
    assert heatmap.ingest_many([a, b]).accepted == 0
    assert len(calls) == 2  # nothing new: no call


def test_ingest_many_notify_false_and_remove_listener() -> None:
    heatmap = LiveLiquidationHeatmap(clock=lambda: NOW)
    seen: list[LiquidationEvent] = []
    listener = seen.extend
    heatmap.add_listener(listener)
    assert heatmap.ingest_many([event(100.0)], notify=False).accepted == 1
    assert seen == []
    heatmap.remove_listener(listener)
    heatmap.remove_listener(listener)  # not registered any more: no error
    assert heatmap.ingest(event(101.0))
    assert seen == [] and heatmap.event_count("BTCUSDT") == 2


def test_a_failing_listener_never_breaks_ingest() -> None:
    heatmap = LiveLiquidationHeatmap(clock=lambda: NOW)
    seen: list[LiquidationEvent] = []

    def broken(events: Sequence[LiquidationEvent]) -> None:
        raise RuntimeError("disk full")

    heatmap.add_listener(broken)
    heatmap.add_listener(seen.extend)  # the next listener still gets every event
    assert heatmap.ingest(event(100.0))
    assert heatmap.ingest_many([event(101.0), event(102.0)]).accepted == 2
    assert len(seen) == 3
    assert heatmap.stats()["listener_errors"] == 2


def test_listener_gets_events_from_every_frame_form(wire_lines: list[bytes]) -> None:
    heatmap = LiveLiquidationHeatmap()
    seen: list[LiquidationEvent] = []
    heatmap.add_listener(seen.extend)
    envelope = b'{"stream":"!forceOrder@arr","data":' + wire_lines[1] + b"}"
    heatmap.ingest(wire_lines[0])
    heatmap.ingest(envelope)
    heatmap.ingest(orjson.loads(wire_lines[2]))
    assert seen == [parse_force_order(line) for line in wire_lines[:3]]


# ------------------------------------------------------------------ the store

def test_append_dedupes_and_reads_back_in_trade_time_order(store: EventStorage,
                                                           real_events: list[LiquidationEvent]) -> None:
    shuffled = real_events[:]
    random.Random(1).shuffle(shuffled)
    assert store.append(shuffled[:3000]) == 3000
    assert store.append(shuffled) == len(real_events) - 3000  # the first 3000 again: ignored
    assert store.append([]) == 0
    assert store.count() == len(real_events)
    assert list(store.events()) == sorted(real_events, key=event_order)  # ties: by content, not by arrival
    assert store.span() == (real_events[0].trade_time, real_events[-1].trade_time)
    assert store.symbols() == sorted({e.symbol for e in real_events})


def test_every_field_round_trips(store: EventStorage) -> None:
    odd = [LiquidationEvent("BTCUSDT", "short", 0.1 + 0.2, 1e-8, NOW + 3, NOW, "PARTIALLY_FILLED", True),
           LiquidationEvent("1000PEPEUSDT", "long", 1.2345678901234567e-05, 123456789.0, NOW, NOW, "EXPIRED", False),
           LiquidationEvent("币安人生USDT", "long", 0.25, 3.0, NOW, NOW + 1, "FILLED", False)]
    store.append(odd)
    back = list(store.events())
    assert back == sorted(odd, key=event_order)
    assert list(store.events(["BTCUSDT"])) == odd[:1]  # the one-symbol read builds events the same way
    assert [type(e.fallback) for e in back] == [bool, bool, bool]
    # The same liquidation with another status or event time is still the same liquidation.
    assert store.append([odd[0]._replace(status="FILLED", event_time=NOW + 9)]) == 0


def test_append_is_all_or_nothing(store: EventStorage) -> None:
    bad = event(101.0)._replace(side="up")  # the table's CHECK refuses it
    with pytest.raises(REFUSED):
        store.append([event(100.0), bad])
    assert store.count() == 0  # the good event of the batch is not stored either
    assert store.append([event(100.0)]) == 1  # and the connection is ready for the next batch


def test_filters(store: EventStorage, real_events: list[LiquidationEvent]) -> None:
    store.append(real_events)
    btc = [e for e in real_events if e.symbol == "BTCUSDT"]
    assert list(store.events(["BTC/USDT:USDT"])) == btc
    assert list(store.events(["btcusdt", "ETHUSDT"])) == [e for e in real_events if e.symbol in ("BTCUSDT", "ETHUSDT")]
    assert list(store.events([])) == []
    since, until = btc[10].trade_time, btc[20].trade_time
    assert list(store.events(["BTCUSDT"], since_ms=since, until_ms=until)) == btc[10:20]  # since <= t < until
    assert store.count(["BTCUSDT"], since_ms=since, until_ms=until) == 10
    everything = list(store.events(since_ms=since, until_ms=until))
    assert everything == [e for e in real_events if since <= e.trade_time < until]


def test_prune_deletes_old_events_in_chunks(store: EventStorage) -> None:
    events = [event(100.0 + i, now=NOW - i * 60_000) for i in range(1000)]
    store.append(events)
    cutoff = NOW - 600 * 60_000
    assert store.prune(cutoff, chunk=100, max_chunks=2) == 200  # stops after two transactions
    assert store.prune(cutoff, chunk=100) == 199
    assert store.count() == 601
    assert store.span() == (cutoff, NOW)
    assert store.prune(cutoff) == 0


def test_readers_see_commits_while_the_writer_works(tmp_path: Path, real_events: list[LiquidationEvent]) -> None:
    path = tmp_path / "shared.sqlite"
    with pytest.raises(EventStoreError, match="no event store here"):
        EventStore.open_readonly(path)
    writer = EventStore.open(path)
    writer.append(real_events[:100])
    reader = EventStore.open_readonly(path)
    it = reader.events()
    first = next(it)
    writer.append(real_events[100:200])  # the writer commits while a read is under way
    assert reader.count() == 200
    assert [first, *it] == real_events[:100] or reader.count() == 200
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.append(real_events[200:201])
    assert reader.integrity_check() == "ok"
    reader.close()
    writer.close()


def test_refuses_files_that_are_not_event_stores(tmp_path: Path) -> None:
    text = tmp_path / "frames.jsonl"
    text.write_text('{"e":"forceOrder"}\n')
    with pytest.raises(EventStoreError, match="not a SQLite file"):
        EventStore.open(text)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.commit()
    with pytest.raises(EventStoreError, match="not an event store"):
        EventStore.open_readonly(other)


# ------------------------------------------------------------------ the recorder

def test_recorder_flushes_every_interval_and_on_stop(store: EventStorage) -> None:
    heatmap = LiveLiquidationHeatmap(clock=lambda: NOW)
    recorder = Recorder(store, flush_interval=0.05, clock=lambda: NOW).attach(heatmap).start()
    heatmap.ingest(event(100.0))
    assert wait_until(lambda: store.count() == 1, 2.0)
    heatmap.ingest(event(101.0, age_min=1))
    assert wait_until(lambda: store.count() == 2, 2.0)
    assert recorder.running and recorder.stats()["written"] == 2 and recorder.flushes == 2
    recorder.stop()
    assert not recorder.running

    slow = Recorder(store, flush_interval=3600.0, clock=lambda: NOW).attach(heatmap).start()
    heatmap.ingest_many([event(102.0, age_min=2), event(103.0, age_min=3)])
    time.sleep(0.05)
    assert store.count() == 2 and slow.pending == 2  # not due yet
    slow.stop()  # stop() writes the rest
    assert store.count() == 4
    stats = slow.stats()
    assert (stats["written"], stats["pending"], stats["errors"], stats["running"]) == (2, 0, 0, False)
    heatmap.ingest(event(104.0, age_min=4))  # stop() detached the listener
    assert slow.pending == 0


def test_recorder_counts_events_the_store_already_has(store: EventStorage) -> None:
    store.append([event(100.0)])
    recorder = Recorder(store, clock=lambda: NOW)
    recorder.submit([event(100.0), event(101.0)])
    assert recorder.flush() == 1
    assert (recorder.written, recorder.duplicates) == (1, 1)


class FlakyStore:
    """An EventStore whose first ``failures`` appends fail."""

    def __init__(self, store: EventStorage, failures: int) -> None:
        self.store, self.failures, self.path = store, failures, store.path

    def append(self, events: list[LiquidationEvent]) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return self.store.append(events)

    def prune(self, older_than_ms: int, **kw: Any) -> int:
        return self.store.prune(older_than_ms, **kw)


def test_a_failed_write_is_retried_and_never_kills_the_thread(store: EventStorage) -> None:
    flaky = FlakyStore(store, failures=3)
    heatmap = LiveLiquidationHeatmap(clock=lambda: NOW)
    recorder = Recorder(flaky, flush_interval=0.02, clock=lambda: NOW)  # type: ignore[arg-type]
    recorder.attach(heatmap).start()
    heatmap.ingest(event(100.0))
    assert wait_until(lambda: recorder.errors >= 1)
    heatmap.ingest(event(101.0, age_min=1))  # arrives while the first is waiting for a retry
    assert wait_until(lambda: store.count() == 2, 3.0)
    assert recorder.running
    stats = recorder.stats()
    assert (stats["errors"], stats["written"], stats["pending"]) == (3, 2, 0)
    assert "database is locked" in stats["last_error"]
    recorder.stop()


def test_failed_writes_hold_at_most_max_pending(store: EventStorage) -> None:
    recorder = Recorder(FlakyStore(store, failures=2), clock=lambda: NOW, max_pending=5)  # type: ignore[arg-type]
    recorder.submit([event(100.0 + i, age_min=i) for i in range(4)])
    assert recorder.flush() == 0
    recorder.submit([event(200.0 + i, age_min=i) for i in range(4)])
    assert recorder.flush() == 0
    assert (recorder.pending, recorder.dropped) == (5, 3)
    assert recorder.flush() == 5  # the newest five
    assert {e.price for e in store.events()} == {201.0, 202.0, 203.0, 200.0, 103.0}


def test_an_event_the_table_refuses_is_dropped_alone(store: EventStorage) -> None:
    recorder = Recorder(store, clock=lambda: NOW)
    store.append([event(99.0)])
    recorder.submit([event(99.0), event(100.0), event(101.0)._replace(side="up"), event(102.0)])
    assert recorder.flush() == 2  # not retried forever: the bad one is dropped, the others written
    assert (recorder.written, recorder.duplicates, recorder.dropped, recorder.errors) == (2, 1, 1, 1)
    assert recorder.pending == 0 and store.count() == 3


def test_retention_prune_runs_in_the_background(store: EventStorage) -> None:
    now = [NOW]
    store.append([event(100.0 + d, now=NOW - d * DAY) for d in range(40)])  # one event a day, 40 days back
    recorder = Recorder(store, flush_interval=0.02, retention_days=30, clock=lambda: now[0], prune_every=0.05,
                        prune_chunk=3).start()
    assert wait_until(lambda: store.count() == 31)  # days 0..30 stay (cutoff is inclusive of day 30)
    now[0] += 5 * DAY  # five days later, the next hourly prune takes five more
    assert wait_until(lambda: store.count() == 26)
    recorder.stop()
    assert recorder.pruned == 14
    with pytest.raises(ValueError, match="retention_days"):
        Recorder(store, retention_days=0)


# ------------------------------------------------------------------ warm start

def _frames_by_time() -> list[tuple[int, bytes]]:
    return [(parse_force_order(line).trade_time, line) for line in WIRE.read_bytes().splitlines()]


@pytest.mark.parametrize("params", [
    {"min_cluster_size": 2},  # the default 60-minute decay: a 3-hour horizon, longer than any session
    {"min_cluster_size": 2, "time_decay_minutes": 5.0},  # a 15-minute horizon: warm start cuts real events
    {"min_cluster_size": 3, "max_age_minutes": 7.0, "max_events": 40},  # a horizon and a full window
])
def test_warm_start_rebuilds_the_clusters_of_the_uninterrupted_run(new_store_target: Callable[[], str],
                                                                    params: dict[str, Any]) -> None:
    config = HeatmapConfig(**params)
    frames = _frames_by_time()
    # The two busiest real sessions: restart in the middle of each, compare at several moments after.
    for split_at, moments in ((1_766_846_400_000, range(0, 40 * 60_000, 5 * 60_000)),  # 2025-12-27 14:40
                              (1_737_997_200_000, range(0, 20 * 60_000, 4 * 60_000))):  # 2025-01-27 17:00
        end = split_at + max(moments)
        path = new_store_target()
        continuous = LiveLiquidationHeatmap(config=config)
        for t, frame in frames:
            if t <= end:
                continuous.ingest(frame)

        first = LiveLiquidationHeatmap(config=config)
        with open_event_store(path) as store:
            recorder = Recorder(store, flush_interval=0.05, retention_days=3650).attach(first).start()
            for t, frame in frames:
                if t <= split_at:
                    first.ingest(frame)
            recorder.stop()
            assert store.count() == first.stats()["accepted"]

        restarted = LiveLiquidationHeatmap(config=config)
        with open_event_store(path) as store:
            recorder = Recorder(store, flush_interval=0.05, retention_days=3650).attach(restarted).start()
            stored = store.count()
            loaded = warm_start(restarted, store, split_at)
            horizon = int(config.horizon_minutes * 60_000)
            assert loaded == store.count(since_ms=split_at - horizon) > 0
            for t, frame in frames:
                if split_at < t <= end:
                    restarted.ingest(frame)
            recorder.stop()
            assert recorder.written == sum(1 for t, _ in frames if split_at < t <= end)  # warm start not re-recorded
            assert store.count() == stored + recorder.written

        symbols = sorted(set(continuous.symbols()) | set(restarted.symbols()))
        compared = 0
        for offset in moments:
            now = split_at + offset
            for symbol in symbols:
                expected = continuous.get_clusters(symbol, now_ms=now)
                assert restarted.get_clusters(symbol, now_ms=now) == expected, (symbol, now)
                compared += len(expected)
        assert compared > 20  # the comparison saw real clusters


def test_warm_start_of_some_symbols_and_twice(store: EventStorage, real_events: list[LiquidationEvent]) -> None:
    store.append(real_events)
    now = real_events[-1].trade_time
    heatmap = LiveLiquidationHeatmap()
    loaded = warm_start(heatmap, store, now, symbols=["BTC/USDT:USDT"])
    assert loaded == len([e for e in real_events if e.symbol == "BTCUSDT" and e.trade_time >= now - 3 * 3_600_000])
    assert heatmap.symbols() == ["BTCUSDT"]
    assert warm_start(heatmap, store, now, symbols=["BTCUSDT"]) == 0  # already there: duplicates


# ------------------------------------------------------------------ kill -9

def test_recording_survives_kill_9(tmp_path: Path) -> None:
    """SIGKILL a recorder writing 20,000 events/s (1,000 times the real all-market peak) at random instants,
    three times on one file: the file stays intact, everything reported flushed is there, events are
    stored in whole batches (no hole), and at most about one flush interval of events is lost."""
    path, rate, interval, rng = tmp_path / "kill.sqlite", 20_000, 0.25, random.Random(7)
    for _cycle in range(3):
        proc = subprocess.Popen([sys.executable, str(WORKER), str(path), str(rate), str(interval)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = output_lines(proc)
        flushed = submitted = -1
        try:
            first = lines.get(timeout=30)
            assert first is not None and first.startswith("start "), f"{first} {proc.stderr.read()}"  # type: ignore[union-attr]
            start_count = int(first.split()[1])
            flushes, kill_after = 0, rng.randint(2, 6)
            while flushes < kill_after:
                line = lines.get(timeout=20)
                assert line is not None, f"worker ended: {proc.wait()} {proc.stderr.read()}"  # type: ignore[union-attr]
                _, f, _, s = line.split()
                flushed, submitted, flushes = int(f), int(s), flushes + 1
            time.sleep(rng.uniform(0.0, interval))  # anywhere in the flush cycle, a commit included
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
        assert proc.returncode == -signal.SIGKILL

        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            count, first_t, last_t = db.execute("SELECT count(*), min(trade_time), max(trade_time) FROM events"
                                                ).fetchone()
        finally:
            db.close()
        assert count >= flushed > start_count  # everything reported flushed survived
        assert last_t - first_t + 1 == count  # events 0..count-1: whole batches, no hole
        # Lost: what was handed over after the last commit. Its lower bound here (the last report) must
        # fit in about one flush interval of events (plus the batch being committed at the kill).
        assert submitted - count <= rate * interval * 1.5 + 500, (submitted, count)


# ------------------------------------------------------------------ the record command

def _frame(symbol: str, t: int, price: float = 100.0) -> dict[str, Any]:
    return {"e": "forceOrder", "E": t + 3, "o": {"s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "1",
                                               "p": str(price * 0.99), "ap": str(price), "X": "FILLED", "l": "1",
                                               "z": "1", "T": t}}


def _stored(target: str) -> int:
    """How many events the store at ``target`` holds; 0 while there is none yet."""
    try:
        with open_event_store(target, readonly=True) as store:
            return store.count()
    except EventStoreError:
        return 0


@pytest.mark.usefixtures("restore_logging")
def test_run_recorder_records_the_stream_and_logs_heartbeats(store_target: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = store_target
    with FakeBinance(ping_interval=None) as fake:
        config = BotConfig(symbols=("BTC/USDT:USDT", "ETH/USDT:USDT"),
                           exchange=ExchangeConfig(ws_url=fake.market_url),
                           schedule=ScheduleConfig(heartbeat=1.0), logging=LoggingConfig(format="json"),
                           storage=StorageConfig(path=":memory:", events=str(path)))
        stop = threading.Event()
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(run_recorder(  # events of 2025: a clock of then
            config, clock=lambda: NOW + 60_000, install_signals=False, stop=stop)))
        thread.start()
        try:
            assert wait_until(fake.open_connections, 10)
            time.sleep(0.2)  # subscribed
            for i in range(5):
                fake.publish_force_order(_frame("BTCUSDT", NOW + i * 1000, 100.0 + i))
                fake.publish_force_order(_frame("ETHUSDT", NOW + i * 1000, 10.0 + i))
            fake.publish_force_order(_frame("SOLUSDT", NOW, 5.0))  # not subscribed
            assert wait_until(lambda: _stored(path) == 10, 5)
            time.sleep(1.2)  # one heartbeat
        finally:
            stop.set()
            thread.join(5)
    assert result == [0]
    with open_event_store(path, readonly=True) as store:
        assert store.symbols() == ["BTCUSDT", "ETHUSDT"]
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    beats = [r for r in records if r["event"] == "recorder_heartbeat"]
    assert beats and beats[-1]["written"] == 10 and beats[-1]["connected"] is True
    assert next(r for r in records if r["event"] == "recorder_stopped")["written"] == 10


def test_run_recorder_needs_an_event_store() -> None:
    with pytest.raises(RecordingDisabled, match=r"storage\.events is null"):
        run_recorder(BotConfig(storage=StorageConfig(path=":memory:", events=None)), install_signals=False)


RECORD = """
import sys
sys.path.insert(0, {tests!r})
from netguard import install_network_guard
install_network_guard()
from liquidation_hunter.config.model import load_config
from liquidation_hunter.bot.record import run_recorder
raise SystemExit(run_recorder(load_config(sys.argv[1])))
"""


def test_record_process_stops_on_sigterm_within_5_s_and_flushes(tmp_path: Path) -> None:
    with FakeBinance(ping_interval=None) as fake:
        config = tmp_path / "rec.yaml"
        # storage.events is the default var/liquidations.sqlite, next to the file (the cwd too)
        config.write_text(f"symbols: all\nexchange:\n  ws_url: {fake.market_url}\nstorage:\n  path: ':memory:'\n"
                          "schedule:\n  heartbeat: 1\nlogging:\n  format: json\n")
        path = tmp_path / "var" / "liquidations.sqlite"
        log = (tmp_path / "rec.log").open("w")
        record = RECORD.format(tests=str(ROOT / "tests" / "support"))
        proc = subprocess.Popen([sys.executable, "-c", record, str(config)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            assert wait_until(fake.open_connections, 30), (tmp_path / "rec.log").read_text()
            time.sleep(0.3)
            now = time.time_ns() // 1_000_000  # the process runs on the system clock: events of now, not pruned
            fake.publish_force_order(_frame("BTCUSDT", now))
            assert wait_until(lambda: path.exists() and EventStore.open_readonly(path).count() == 1, 5)
            for i in range(1, 6):
                fake.publish_force_order(_frame("XRPUSDT", now + i * 1000, 2.0 + i))
            time.sleep(0.3)  # received, but likely not yet written (one flush a second)
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(5) == 0
            assert time.monotonic() - sent < 5
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    with EventStore.open_readonly(path) as store:
        assert store.count() == 6 and store.integrity_check() == "ok"
    records = [json.loads(line) for line in (tmp_path / "rec.log").read_text().splitlines() if line.startswith("{")]
    stopped = [r for r in records if r["event"] == "recorder_stopped"]
    assert stopped and stopped[0]["reason"] == "SIGTERM" and stopped[0]["lost"] == 0
