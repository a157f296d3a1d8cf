"""A fake of data.binance.vision on 127.0.0.1: serves the files a test puts in it by path (404 for the rest),
answers ``Range: bytes=N-`` with 206 (unless told not to), records each request's path and Range header, and
can cut the body of the next answers of a path midway (the headers promise the whole file, the connection
closes after half of it)."""

from __future__ import annotations

import io
import re
import threading
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.served_http import ServedHttp
from liquidation_hunter.data.open_interest import METRICS_COLUMNS

__all__ = ["ArchiveServer", "Seen", "metrics_csv", "zipped"]


def metrics_csv(day: date, *, symbol: str = "BTCUSDT", skip: range = range(0)) -> str:
    """A day of 5-minute rows (288, less the indices in ``skip``) in the archive's columns."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    lines = [",".join(METRICS_COLUMNS)]
    for i in range(288):
        if i in skip:
            continue
        at = (start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")
        oi = 80_000 + 13.5 * i
        lines.append(f"{at},{symbol},{oi:.4f},{oi * 101_000:.8f},1.52,1.31,1.87,{0.9 + i / 1000:.4f}")
    return "\n".join(lines) + "\n"


def zipped(member: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text)
    return buffer.getvalue()


@dataclass(frozen=True)
class Seen:
    path: str
    range: str | None
    status: int


class ArchiveServer(ServedHttp):
    name = "fake archive"

    def __init__(self, *, ranges: bool = True) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.ranges = ranges
        self._cuts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._seen: list[Seen] = []

    def cut_next(self, path: str, *, times: int = 1) -> None:
        """The next ``times`` answers for ``path`` stop after half their body."""
        with self._lock:
            self._cuts[path] = times

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def _answer(self, path: str, range_header: str | None) -> tuple[int, dict[str, str], bytes, bool]:
        with self._lock:
            body = self.files.get(path)
            cut = self._cuts.get(path, 0) > 0
            if cut:
                self._cuts[path] -= 1
            if body is None:
                self._seen.append(Seen(path, range_header, 404))
                return 404, {}, b"not found", False
            match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
            if match and self.ranges:
                start = int(match.group(1))
                if start >= len(body):
                    self._seen.append(Seen(path, range_header, 416))
                    return 416, {"Content-Range": f"bytes */{len(body)}"}, b"", False
                self._seen.append(Seen(path, range_header, 206))
                headers = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
                return 206, headers, body[start:], cut
            self._seen.append(Seen(path, range_header, 200))
            return 200, {}, body, cut

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body, cut = fake._answer(self.path, self.headers.get("Range"))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                if cut:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                if cut:
                    self.wfile.flush()
                    self.close_connection = True

            def log_message(self, *_args: Any) -> None:
                pass

        return _Handler
