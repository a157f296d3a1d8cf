"""The stream's frame reader against frames built by the RFC's rules (and websocket-client's encoder)."""

from __future__ import annotations

import itertools

import pytest
import websocket
from hypothesis import given
from hypothesis import strategies as st

from live_heatmap.stream.wsframes import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, FrameReader, ProtocolError


def encode(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server frame (unmasked), via websocket-client's own ABNF encoder."""
    frame = websocket.ABNF(fin=int(fin), opcode=opcode, mask_value=0, data=payload)
    return frame.format()


def feed_in_chunks(data: bytes, cuts: list[int], reader: FrameReader | None = None) -> list[tuple[int, bytes]]:
    reader = reader or FrameReader()
    out: list[tuple[int, bytes]] = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in itertools.pairwise(points):
        out.extend(reader.feed(data[a:b]))
    return out


messages_st = st.lists(st.tuples(st.sampled_from([OP_TEXT, OP_BINARY]), st.binary(max_size=70_000)),
                       min_size=1, max_size=6)


@given(messages_st, st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=30))
def test_any_messages_in_any_chunking(messages: list[tuple[int, bytes]], cuts: list[int]) -> None:
    stream = b"".join(encode(op, payload) for op, payload in messages)
    assert feed_in_chunks(stream, cuts) == messages


@given(st.binary(min_size=1, max_size=3000), st.integers(min_value=1, max_value=5),
       st.lists(st.integers(min_value=0, max_value=10_000), max_size=10))
def test_fragmented_messages_with_a_ping_in_between(payload: bytes, parts: int, cuts: list[int]) -> None:
    size = -(-len(payload) // parts)
    pieces = [payload[i:i + size] for i in range(0, len(payload), size)]
    frames = []
    for i, piece in enumerate(pieces):
        frames.append(encode(OP_TEXT if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1))
        if i == 0:
            frames.append(encode(OP_PING, b"hi"))
    got = feed_in_chunks(b"".join(frames), cuts)
    # a single piece is complete before the ping; a fragmented message completes after it
    expected = [(OP_TEXT, payload), (OP_PING, b"hi")] if len(pieces) == 1 else [(OP_PING, b"hi"), (OP_TEXT, payload)]
    assert got == expected


def test_lengths_at_the_encoding_boundaries() -> None:
    for n in (0, 125, 126, 65535, 65536, 200_000):
        assert FrameReader().feed(encode(OP_TEXT, b"x" * n)) == [(OP_TEXT, b"x" * n)]


def test_close_frame_with_code() -> None:
    assert FrameReader().feed(encode(OP_CLOSE, (1000).to_bytes(2, "big") + b"bye")) == \
        [(OP_CLOSE, b"\x03\xe8bye")]


@pytest.mark.parametrize(("data", "message"), [
    (websocket.ABNF(fin=1, opcode=OP_TEXT, mask_value=1, data=b"abc").format(), "masked"),
    (bytes([0x80 | 0x3, 0]), "header"),  # reserved opcode
    (bytes([0xC1, 0]), "header"),  # RSV1 set without an extension
    (encode(OP_PING, b"x", fin=False), "control"),
    (encode(OP_CONT, b"x"), "continuation"),
    (encode(OP_TEXT, b"a", fin=False) + encode(OP_TEXT, b"b"), "new message"),
])
def test_protocol_errors(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        FrameReader().feed(data)


def test_oversized_frames_are_refused_before_allocation() -> None:
    header = bytes([0x81, 127]) + (1 << 40).to_bytes(8, "big")
    with pytest.raises(ProtocolError, match="exceeds"):
        FrameReader(max_message=1 << 20).feed(header)
