"""The bulk path decides exactly like the careful one.

A frame can be parsed two ways (``parse_force_order``, the careful per-frame parser, which names the reason;
the bulk path's ``decode_chunk``: msgspec on whole chunks in Binance's own shape) and ingested two ways
(``ingest`` one frame at a time, ``ingest_many`` a chunk or a sorted block at a time). Every way must give
the same events, the same duplicates and the same reject reasons. The frames here are real recorded ones,
broken at random.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import orjson
import pytest
from conftest import WIRE
from hypothesis import given, settings
from hypothesis import strategies as st

from live_heatmap import FrameRejected, LiquidationEvent, LiveLiquidationHeatmap, parse_force_order
from live_heatmap.wire.frame_batch import decode_chunk

PATHS = ["e", "E", "o", "o.s", "o.S", "o.ap", "o.z", "o.p", "o.q", "o.T", "o.X", "o.o", "o.l", "data"]
ODD_VALUES: list[object] = [
    None, True, False, 0, -1, 1.5, 2**70, 1_546_300_800_000 - 1, 1_546_300_800_000, 4_102_444_800_000 - 1,
    4_102_444_800_000, 1_718_901_133_106.0, "0", "0.0", "-1", "1e5", "1_0", " 1", "nan", "inf", "1.2.3", "",
    "SELL", "BUY", "sell", "forceOrder", "FILLED", "NEW", "btcusdt", "BTC USDT", "币安人生USDT", "ǅUSDT", "ßUSDT",
    "0.0000001", "9" * 400, "1718901133106", [], [1], {}, {"e": 1}, KeyError,
]
"""Values a field is set to (``KeyError``: the field is removed)."""
VALUES = st.one_of(st.sampled_from(ODD_VALUES), st.sampled_from(ODD_VALUES), st.sampled_from(ODD_VALUES),
                   st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6))
BYTE_EDITS = st.sampled_from(["none", "space", "garbage", "truncate", "bad_utf8", "dup_key", "big_number",
                              "envelope", "unknown_key", "newline"])


def _set(frame: dict[str, Any], path: str, value: object) -> None:
    *parents, leaf = path.split(".")
    target: Any = frame
    for key in parents:
        target = target.get(key) if isinstance(target, dict) else None
    if isinstance(target, dict):
        if value is KeyError:
            target.pop(leaf, None)
        else:
            target[leaf] = value


def _edit(raw: bytes, how: str) -> bytes:
    if how == "space":
        return raw.replace(b",", b", ", 1)
    if how == "garbage":
        return raw + b"x"
    if how == "truncate":
        return raw[: len(raw) // 2]
    if how == "bad_utf8":
        return raw.replace(b'"o":{', b'"o":{"o":"\xff",', 1)
    if how == "dup_key":
        return raw.replace(b'"E":', b'"E":1,"E":', 1)
    if how == "big_number":
        return raw.replace(b'"o":{', b'"o":{"l":1e999,', 1)
    if how == "envelope":
        return b'{"stream":"x@forceOrder","data":' + raw + b"}"
    if how == "unknown_key":
        return raw.replace(b'"o":{', b'"o":{"rp":"1",', 1)
    if how == "newline":
        return raw.replace(b",", b",\n", 1)
    return raw


@st.composite
def broken_frames(draw: st.DrawFn, lines: list[bytes]) -> bytes | str | dict[str, Any] | bytearray:
    raw = lines[draw(st.integers(0, len(lines) - 1))]
    frame = orjson.loads(raw)
    for _ in range(draw(st.integers(0, 2))):
        _set(frame, draw(st.sampled_from(PATHS)), draw(VALUES))
    try:
        out = orjson.dumps(frame)
    except TypeError:  # a value orjson cannot write (an int past 64 bits)
        out = raw
    out = _edit(out, draw(BYTE_EDITS))
    form = draw(st.sampled_from(["bytes", "bytes", "bytes", "str", "dict", "bytearray"]))
    if form == "str":
        return out.decode("utf-8", errors="replace")
    if form == "bytearray":
        return bytearray(out)
    if form == "dict":
        try:
            return orjson.loads(out)  # type: ignore[no-any-return]
        except orjson.JSONDecodeError:
            return out
    return out


def _outcome(frame: object) -> LiquidationEvent | str:
    try:
        return parse_force_order(frame)  # type: ignore[arg-type]
    except FrameRejected as exc:
        return exc.reason.value


def _bulk(raw: bytes) -> LiquidationEvent | None:
    """The bulk path's event for a chunk of one frame, or None when it leaves the frame to the careful parser."""
    rows = decode_chunk([raw])
    return None if rows is None else next(map(LiquidationEvent._make, rows.tuples()))


_WIRE = WIRE.read_bytes().splitlines()
LINES = _WIRE[:300] + _WIRE[-50:]  # the newest include the non-ASCII symbol


@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_the_bulk_path_gives_the_careful_answer(data: st.DataObject) -> None:
    frame = data.draw(broken_frames(LINES))
    if type(frame) is bytes:
        fast = _bulk(frame)
        assert fast is None or fast == _outcome(frame)


@pytest.mark.parametrize("path", PATHS)
def test_every_odd_value_in_every_field_gets_the_careful_answer(path: str) -> None:
    for line in (LINES[0], LINES[-1]):
        for value in ODD_VALUES:
            frame = orjson.loads(line)
            _set(frame, path, value)
            try:
                raw = orjson.dumps(frame)
            except TypeError:
                continue
            careful = _outcome(raw)
            assert _outcome(frame) == _outcome(raw.decode()) == careful, (path, value)
            fast = _bulk(raw)
            assert fast is None or fast == careful, (path, value)


def _state(heatmap: LiveLiquidationHeatmap) -> tuple[dict[str, Any], dict[str, list[LiquidationEvent]]]:
    stats = heatmap.stats()
    del stats["rebuilds"]
    return stats, {s: heatmap.events(s) for s in heatmap.symbols()}


def _one_and_many_agree(frames: list[Any], max_events: int) -> list[LiquidationEvent]:
    """Ingest ``frames`` one at a time into one heatmap and with ``ingest_many`` into another: the same state,
    counts and events heard. Returns every event both listeners heard."""
    one, many = LiveLiquidationHeatmap(max_events=max_events), LiveLiquidationHeatmap(max_events=max_events)
    heard_one: list[LiquidationEvent] = []
    heard_many: list[LiquidationEvent] = []
    one.add_listener(heard_one.extend)
    many.add_listener(heard_many.extend)
    accepted = sum(one.ingest(f) for f in frames)
    report = many.ingest_many(frames)
    assert _state(many) == _state(one)
    assert report.accepted == accepted and report.total == len(frames)
    assert Counter(heard_many) == Counter(heard_one) and len(heard_one) == accepted
    return heard_one + heard_many


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n_real=st.integers(0, 700), n_broken=st.integers(0, 30), seed=st.integers(0, 2**32),
       max_events=st.sampled_from([3, 40, 10_000]))
def test_ingest_many_stores_what_ingest_stores(data: st.DataObject, n_real: int, n_broken: int, seed: int,
                                               max_events: int) -> None:
    rng = random.Random(seed)
    frames: list[Any] = [rng.choice(_WIRE) for _ in range(n_real)]  # repeats: duplicates across symbols
    for _ in range(n_broken):
        frames.insert(rng.randint(0, len(frames)), data.draw(broken_frames(LINES)))
    if frames and rng.random() < 0.3:
        frames += [parse_force_order(f) for f in rng.sample(_WIRE, 20)]  # parsed events mixed in
    heard = _one_and_many_agree(frames, max_events)
    assert all(type(e) is LiquidationEvent for e in heard)


def test_a_large_batch_of_one_symbol_keeps_the_newest(wire_lines: list[bytes]) -> None:
    """A block longer than the window: only its newest events stay, and the others' keys are forgotten."""
    real = [orjson.loads(line) for line in wire_lines if b'"s":"BTCUSDT"' in line]
    btc = [orjson.dumps({**f, "o": {**f["o"], "T": f["o"]["T"] + k}}) for k in range(8) for f in real]
    assert len(btc) > 300
    heatmap = LiveLiquidationHeatmap(max_events=100)
    assert heatmap.ingest_many(btc).accepted == len(btc)
    kept = heatmap.events("BTCUSDT")
    assert kept == [parse_force_order(line) for line in btc[-100:]]
    assert heatmap.ingest(btc[0])  # evicted long ago: no longer a duplicate
    assert not heatmap.ingest(btc[-1])


def test_counts_survive_a_chunk_with_every_kind_of_bad_frame(wire_lines: list[bytes]) -> None:
    frames: list[Any] = list(wire_lines[:600])
    frames[10] = b"not json"
    frames[300] = b'{"e":"markPriceUpdate"}'
    frames[301] = orjson.loads(wire_lines[0].replace(b'"ap":"0.0109313"', b'"ap":"0"'))  # falls back to p
    report = LiveLiquidationHeatmap().ingest_many(frames)
    assert dict(report.rejected) == {"not_json": 1, "wrong_event_type": 1}
    assert report.accepted + report.duplicates == 598


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), max_events=st.sampled_from([3, 40, 10_000]))
def test_the_block_write_stores_what_one_at_a_time_stores(seed: int, max_events: int) -> None:
    """The two ways ``ingest_many`` stores a batch (a sorted block per symbol when it has many rows a symbol,
    else one event at a time: benchmarks/RESULTS.md) store the same events, duplicates and counts."""
    rng = random.Random(seed)
    busy = [line for line in _WIRE if b'"s":"BTCUSDT"' in line or b'"s":"ETHUSDT"' in line]
    frames: list[Any] = [rng.choice(busy) for _ in range(400)]  # repeats: duplicates within the block
    frames += [parse_force_order(f) for f in rng.sample(busy, 10)]
    frames.insert(rng.randint(0, len(frames)), b"not json")
    _one_and_many_agree(frames, max_events)
