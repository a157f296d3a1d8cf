"""The one reader of recorded depth files: every line kind -> ``(recv_ms, DepthDiff | DepthSnapshot)``.

Line kinds (one file may mix them; blank lines are skipped):

* Binance REST snapshots, ``<url> -> <recv_ts>: <json>`` (the ``/fapi/v1/depth?symbol=...`` answer; the symbol
  comes from the URL's ``symbol=``);
* Binance depth diffs, one JSON object per line with ``recv_ts`` (seconds) beside the combined-stream
  ``stream``/``data``;
* cryptofeed's recording of a websocket (``{"t": "recv", "ts": <seconds>, "data": "<message>"}``): Bybit
  ``orderbook.*`` messages are read, every other line of such a file (a header, http, sends, other topics) is
  skipped.

A line that is none of these, or a depth message that does not parse, raises ``ValueError`` naming the file,
the line and the reason: a recording is data the user chose, not a live stream to survive.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from live_heatmap.wire.depth import (
    BYBIT_BOOK_PREFIX,
    DepthUpdate,
    parse_bybit_depth,
    parse_depth_diff,
    parse_depth_snapshot,
)
from live_heatmap.wire.events import FrameRejected

__all__ = ["load_depth_recording", "merge_depth_recordings"]

_REST_SEP = " -> "


def _ms(seconds: Any) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"recv time {str(seconds)[:40]!r} is not a number of seconds")
    return round(seconds * 1000)


def _rest_line(line: str) -> tuple[int, DepthUpdate]:
    url, _, rest = line.partition(_REST_SEP)
    stamp, sep, body = rest.partition(": ")
    if not sep:
        raise ValueError("a REST line is '<url> -> <recv_ts>: <json>'")
    symbols = parse_qs(urlsplit(url).query).get("symbol")
    if not symbols:
        raise ValueError(f"no symbol= in {url[:80]!r}")
    try:
        recv = float(stamp)
    except ValueError:
        raise ValueError(f"recv time {stamp[:40]!r} is not a number of seconds") from None
    return _ms(recv), parse_depth_snapshot(body, symbols[0])


def _json_line(line: str) -> tuple[int, DepthUpdate] | None:
    obj = orjson.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if "recv_ts" in obj:
        diff, rejected = parse_depth_diff(obj)
        if rejected is not None:
            raise rejected
        assert diff is not None
        return _ms(obj["recv_ts"]), diff
    if "t" in obj:  # cryptofeed
        data = obj.get("data")
        if obj["t"] != "recv" or not isinstance(data, str) or BYBIT_BOOK_PREFIX not in data[:40]:
            return None
        update, rejected = parse_bybit_depth(data)
        if rejected is not None:
            raise rejected
        assert update is not None
        return _ms(obj.get("ts")), update
    raise ValueError("neither a depth diff with recv_ts nor a cryptofeed line")


def load_depth_recording(path: str | Path) -> Iterator[tuple[int, DepthUpdate]]:
    """``(recv_ms, update)`` for each depth line of ``path``, in file order; ``ValueError`` naming the line
    for one that is not readable."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                item = _json_line(line) if line.startswith("{") else _rest_line(line)
            except (ValueError, FrameRejected, orjson.JSONDecodeError) as exc:
                raise ValueError(f"{path.name}:{number}: {exc}") from None
            if item is not None:
                yield item


def merge_depth_recordings(*paths: str | Path) -> Iterator[tuple[int, DepthUpdate]]:
    """The updates of several recordings (say, the stream and the REST snapshots taken meanwhile) in receive
    order; ties keep the order of ``paths``."""
    streams = [((recv, i, n, update) for n, (recv, update) in enumerate(load_depth_recording(p)))
               for i, p in enumerate(paths)]
    for recv, _, _, update in heapq.merge(*streams):
        yield recv, update
