"""The typed statuses serialise, at the edge, to the JSON the API, the logs and the books have always held."""

from __future__ import annotations

from dataclasses import replace

import orjson

from liquidation_hunter.bot.health import BotHealth, StreamSummary
from live_heatmap.status import IngestStatus, feed_dict
from live_heatmap.stream.status import ShardStatus, StreamStatus

SHARD = ShardStatus(shard=0, streams=2, connected=True, subscribed=True, connection="0.3", uptime_s=12.5,
                    since_last_message_s=0.25, messages=40, reconnects=2, rotations=1,
                    disconnect_causes={"silent": 1, "server closed": 1}, last_disconnect_cause="silent for 300.0s",
                    subscribe_errors=("Invalid request",))
STREAM = StreamStatus(connected=True, url="wss://fstream.binance.com/market", events_received=38, events_filtered=2,
                      mark_prices=7, last_event_ms=1_737_998_400_000, since_last_event_s=1.5,
                      since_last_message_s=0.25, reconnects=2, rotations=1, shards=(SHARD,))
INGEST = IngestStatus(accepted=36, duplicates=2, fallbacks=1, rejected={"not_json": 3}, rebuilds=5, symbols=2,
                      listener_errors=0)


def test_the_feed_as_the_api_shows_it() -> None:
    got = orjson.loads(orjson.dumps(feed_dict(INGEST, STREAM)))
    assert list(got) == ["accepted", "duplicates", "fallbacks", "rejected", "rebuilds", "symbols", "listener_errors",
                         "accepted_by_venue", "stream", "connected"]
    assert list(got["stream"]) == ["connected", "url", "events_received", "events_filtered", "mark_prices",
                                   "last_event_ms", "since_last_event_s", "since_last_message_s", "reconnects",
                                   "rotations", "shards", "venue", "connections", "rejected",
                                   "subscription_errors", "skipped_symbols", "venues_down"]
    assert got["stream"]["shards"] == [{
        "shard": 0, "streams": 2, "connected": True, "subscribed": True, "connection": "0.3", "uptime_s": 12.5,
        "since_last_message_s": 0.25, "messages": 40, "reconnects": 2, "rotations": 1,
        "disconnect_causes": {"silent": 1, "server closed": 1}, "last_disconnect_cause": "silent for 300.0s",
        "subscribe_errors": ["Invalid request"], "dropped_topics": []}]
    assert (got["stream"]["events_received"], got["stream"]["events_filtered"], got["stream"]["last_event_ms"]) == (
        STREAM.events_received, STREAM.events_filtered, STREAM.last_event_ms)
    assert SHARD.last_disconnect_cause == got["stream"]["shards"][0]["last_disconnect_cause"]
    assert got["connected"] is True and INGEST.rejected_total == 3
    assert feed_dict(INGEST, None) == {**INGEST.to_dict(), "stream": None, "connected": False}
    assert feed_dict(INGEST, replace(STREAM, connected=False))["connected"] is False


def test_the_health_record_as_the_books_hold_it() -> None:
    health = BotHealth(pid=7, mode="paper", broker="paper", strategy="liquidation_magnet", started_at=1, connected=True,
                       events=36, rejected={"not_json": 3}, symbols=2, stream=StreamSummary(True, 2), prices=2,
                       held_prices={"BTC/USDT:USDT": 50_000.0, "ETH/USDT:USDT": None}, entries=1, exits=0,
                       job_runs={"signals": 3}, job_failures={}, jobs_skipped={}, job_errors={}, last_job_error=None)
    record = health.to_dict()
    assert list(record) == ["pid", "mode", "broker", "strategy", "started_at", "connected", "events", "rejected",
                            "symbols", "reconnects", "stream", "prices", "held_prices", "entries", "exits", "job_runs",
                            "job_failures", "jobs_skipped", "job_errors", "last_job_error", "ready", "stale_prices",
                            "unknown_symbols", "disconnected_s", "exchange"]
    assert (record["ready"], record["stale_prices"], record["unknown_symbols"], record["exchange"]) == (
        True, {}, [], None)  # paper: no exchange wallet
    live = replace(health, exchange_wallet=5_000.0, exchange_available=4_000.0, stale_prices={"ETH/USDT:USDT": 65.0},
                   unknown_symbols=("NOTACOIN/USDT:USDT",), disconnected_s=61.0).to_dict()
    assert live["exchange"] == {"wallet": 5_000.0, "available": 4_000.0}
    assert (live["stale_prices"], live["unknown_symbols"], live["disconnected_s"]) == (
        {"ETH/USDT:USDT": 65.0}, ["NOTACOIN/USDT:USDT"], 61.0)
    assert record["stream"] == {"connected": True, "reconnects": 2} and record["reconnects"] == 2
    beat = replace(health, equity=1.5).to_dict()
    assert beat["equity"] == 1.5 and "stopped" not in beat
    assert replace(health, stopped="SIGTERM").to_dict()["stopped"] == "SIGTERM"
    without = replace(health, stream=None, connected=False).to_dict()
    assert without["stream"] == {} and without["reconnects"] is None  # no stream: what the books always held
