"""A fast reader of server-to-client WebSocket frames (RFC 6455), for the stream's hot path.

websocket-client does the handshake and everything we send; reading, which
happens tens of thousands of times a second, is done here on large socket
reads, so that a frame costs a few slices instead of a dozen Python calls.
Server frames are never masked; a masked one is a protocol error.
"""

from __future__ import annotations

__all__ = ["OP_BINARY", "OP_CLOSE", "OP_CONT", "OP_PING", "OP_PONG", "OP_TEXT", "FrameReader", "ProtocolError"]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_KNOWN = frozenset((OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG))


class ProtocolError(ValueError):
    """The server broke the framing rules: the connection cannot go on."""


class FrameReader:
    """Feed it bytes as they arrive; it returns the complete messages in them.

    ``max_message`` bounds one message (a larger one is a :class:`ProtocolError`,
    not an unbounded allocation). Fragmented messages are reassembled;
    control frames may arrive between fragments, as the RFC allows.
    """

    __slots__ = ("_buffer", "_fragment_opcode", "_fragment_size", "_fragments", "max_message")

    def __init__(self, max_message: int = 16 * 1024 * 1024) -> None:
        self.max_message = max_message
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._fragment_size = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Complete messages as ``(opcode, payload)``, in order."""
        buf = self._buffer + data if self._buffer else data
        out: list[tuple[int, bytes]] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            if b1 & 0x80:
                raise ProtocolError("a server frame must not be masked")
            length = b1 & 0x7F
            header = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 4], "big")
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                header = 10
            if length > self.max_message:
                raise ProtocolError(f"frame of {length} bytes exceeds {self.max_message}")
            if end - pos < header + length:
                break
            payload = buf[pos + header:pos + header + length]
            pos += header + length
            opcode, fin = b0 & 0x0F, b0 & 0x80
            if b0 & 0x70 or opcode not in _KNOWN:
                raise ProtocolError(f"unexpected frame header 0x{b0:02x}")
            if opcode >= OP_CLOSE:  # control frames: never fragmented
                if not fin or length > 125:
                    raise ProtocolError("control frames must be final and at most 125 bytes")
                out.append((opcode, payload))
            elif fin and opcode != OP_CONT and not self._fragments:
                out.append((opcode, payload))
            else:
                out.extend(self._fragment(opcode, bool(fin), payload))
        self._buffer = buf[pos:]
        return out

    def _fragment(self, opcode: int, fin: bool, payload: bytes) -> list[tuple[int, bytes]]:
        if opcode != OP_CONT:
            if self._fragments:
                raise ProtocolError("a new message started before the fragmented one ended")
            self._fragment_opcode = opcode
        elif not self._fragments:
            raise ProtocolError("a continuation frame without a message to continue")
        self._fragments.append(payload)
        self._fragment_size += len(payload)
        if self._fragment_size > self.max_message:
            raise ProtocolError(f"message exceeds {self.max_message} bytes")
        if not fin:
            return []
        message = b"".join(self._fragments)
        self._fragments, self._fragment_size = [], 0
        return [(self._fragment_opcode, message)]
