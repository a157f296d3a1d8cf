"""Binance's public data archive (https://data.binance.vision): which files cover a symbol and a date range, and
their download, verified against the archive's sha256 and resumable.

Remote paths (USD-M futures; ``<interval>`` only for the kline kinds, whose file names carry the interval where
``metrics`` carries its kind)::

    data/futures/um/daily/metrics/<S>/<S>-metrics-YYYY-MM-DD.zip                (daily only: no monthly metrics)
    data/futures/um/daily/klines/<S>/<I>/<S>-<I>-YYYY-MM-DD.zip
    data/futures/um/monthly/klines/<S>/<I>/<S>-<I>-YYYY-MM.zip                   (whole past months)
    data/futures/um/{daily,monthly}/markPriceKlines/<S>/<I>/<S>-<I>-YYYY-MM[-DD].zip

each with ``<file>.CHECKSUM`` beside it (``"<sha256 hex>  <file name>"``).

Local layout (``root``, by default ``var/history/binance``): ``<kind>/<S>/[<I>/]<file>.zip`` with its
``<file>.zip.CHECKSUM``, and ``index.json`` (``{"format": 1, "files": {"<relative path>": {"sha256", "bytes",
"kind", "symbol", "interval", "period", "url"}}}``) listing every verified file. A zip is only ever moved into place
after its sha256 matched; it is downloaded to ``<file>.zip.part`` first, which a later attempt resumes with an HTTP
``Range`` request (or restarts when the server answers the whole file). A file already in the index whose bytes
still hash to its entry is skipped without a network call.

Each folder of zips is what the readers take: :func:`liquidation_hunter.data.prices.load_prices` for klines and
markPriceKlines, :func:`liquidation_hunter.data.open_interest.load_open_interest` for metrics.
"""

from __future__ import annotations

import calendar
import contextlib
import enum
import hashlib
import http.client
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

__all__ = ["DEFAULT_BASE_URL", "INTERVALS", "KINDS", "ArchiveDownloader", "ArchiveFile", "FileResult", "Outcome",
           "parse_checksum", "plan_files"]

DEFAULT_BASE_URL = "https://data.binance.vision"
KINDS = ("metrics", "klines", "markPriceKlines")
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
"""The kline intervals the archive publishes daily files of."""
_CHUNK = 1 << 16
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One archive file: a kind, a symbol, an interval (klines only) and a period (a day or a whole month)."""

    kind: str
    symbol: str
    interval: str | None
    period: date
    monthly: bool = False

    @property
    def stamp(self) -> str:
        """``YYYY-MM-DD``, or ``YYYY-MM`` for a monthly file."""
        return self.period.strftime("%Y-%m" if self.monthly else "%Y-%m-%d")

    @property
    def name(self) -> str:
        label = "metrics" if self.interval is None else self.interval
        return f"{self.symbol}-{label}-{self.stamp}.zip"

    @property
    def relpath(self) -> str:
        """Where it is kept under the local root (daily and monthly files side by side)."""
        sub = "" if self.interval is None else f"{self.interval}/"
        return f"{self.kind}/{self.symbol}/{sub}{self.name}"

    @property
    def remote_path(self) -> str:
        span = "monthly" if self.monthly else "daily"
        return f"data/futures/um/{span}/{self.relpath}"

    def days(self) -> list[ArchiveFile]:
        """The daily files of a monthly one (what is fetched when the month is not published as one file)."""
        if not self.monthly:
            return [self]
        last = calendar.monthrange(self.period.year, self.period.month)[1]
        return [ArchiveFile(self.kind, self.symbol, self.interval, self.period.replace(day=d)) for d in
                range(1, last + 1)]


def plan_files(symbol: str, start: date, end: date, kinds: tuple[str, ...], interval: str, *,
               today: date) -> list[ArchiveFile]:
    """The files covering ``start..end`` (both included) for each kind: ``metrics`` day by day (the archive has
    no monthly metrics); klines and markPriceKlines by whole months when a month lies inside the range and has
    ended before ``today`` (one file instead of 28-31), by days otherwise."""
    if start > end:
        raise ValueError(f"--from {start} is after --to {end}")
    files: list[ArchiveFile] = []
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
        step = None if kind == "metrics" else interval
        day = start
        while day <= end:
            last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
            if step is not None and day.day == 1 and last <= end and last < today:
                files.append(ArchiveFile(kind, symbol, step, day, monthly=True))
                day = last + timedelta(days=1)
                continue
            files.append(ArchiveFile(kind, symbol, step, day))
            day += timedelta(days=1)
    return files


def parse_checksum(text: str, name: str) -> str:
    """The sha256 hex of a ``.CHECKSUM`` file's text (``"<hex>  <name>"``); a ValueError when it is not one or
    names another file."""
    parts = text.split()
    if not parts or not _HEX.match(parts[0]):
        raise ValueError(f"{name}.CHECKSUM: not a sha256 checksum ({text[:80]!r})")
    if len(parts) > 1 and parts[1].lstrip("*") != name:
        raise ValueError(f"{name}.CHECKSUM: names another file ({parts[1]!r})")
    return parts[0].lower()


class Outcome(enum.Enum):
    DOWNLOADED = "downloaded"
    SKIPPED = "skipped"
    """Already downloaded and verified (its bytes still match the index)."""
    MISSING = "not published"
    """The archive answered 404 for the file or its checksum."""
    FAILED = "failed"
    """A checksum mismatch (the file is not kept), an interruption that outlived the retries, an HTTP error."""


@dataclass(frozen=True, slots=True)
class FileResult:
    file: ArchiveFile
    outcome: Outcome
    detail: str = ""
    size: int = 0


class _NotFoundError(Exception):
    pass


class _FailedError(Exception):
    pass


Progress = Callable[[ArchiveFile, int, int | None], None]
"""Called as bytes arrive: the file, the bytes on disk, the total when the server said it."""


class ArchiveDownloader:
    """Download archive files into ``root`` (module docstring: layout, verification, resume).

    ``retries``: how many times an interrupted or failed (5xx, 429, connection) transfer is taken up again,
    resuming from the ``.part`` file, ``backoff`` seconds apart (doubling, at most 8).
    """

    def __init__(self, root: str | os.PathLike[str], *, base_url: str = DEFAULT_BASE_URL, retries: int = 3,
                 backoff: float = 1.0, timeout: float = 30.0, progress: Progress | None = None) -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.progress = progress
        self._index_path = self.root / "index.json"
        self._index: dict[str, dict[str, object]] = self._load_index()

    def url(self, file: ArchiveFile) -> str:
        return f"{self.base_url}/{file.remote_path}"

    def fetch_all(self, files: list[ArchiveFile]) -> Iterator[FileResult]:
        """Each file's result in order; a monthly file the archive does not have is fetched as its days."""
        for file in files:
            result = self.fetch(file)
            if result.outcome is Outcome.MISSING and file.monthly:
                yield from (self.fetch(day) for day in file.days())
            else:
                yield result

    def fetch(self, file: ArchiveFile) -> FileResult:
        local = self.root / file.relpath
        entry = self._index.get(file.relpath)
        if entry is not None and local.is_file() and _sha256(local) == entry.get("sha256"):
            return FileResult(file, Outcome.SKIPPED, "already verified", local.stat().st_size)
        url = self.url(file)
        try:
            checksum_text = self._small(url + ".CHECKSUM")
            expected = parse_checksum(checksum_text, file.name)
            part = local.with_name(local.name + ".part")
            local.parent.mkdir(parents=True, exist_ok=True)
            self._download(file, url, part)
        except _NotFoundError:
            return FileResult(file, Outcome.MISSING, "not published (404)")
        except (_FailedError, ValueError) as exc:
            return FileResult(file, Outcome.FAILED, str(exc))
        got = _sha256(part)
        if got != expected:
            part.unlink()
            return FileResult(file, Outcome.FAILED, f"sha256 mismatch (expected {expected[:12]}..., got "
                                                    f"{got[:12]}...): not kept")
        size = part.stat().st_size
        part.replace(local)
        local.with_name(local.name + ".CHECKSUM").write_text(checksum_text)
        self._index[file.relpath] = {"sha256": got, "bytes": size, "kind": file.kind, "symbol": file.symbol,
                                     "interval": file.interval, "period": file.stamp, "url": url}
        self._save_index()
        return FileResult(file, Outcome.DOWNLOADED, "verified", size)

    def _small(self, url: str) -> str:
        """A small text file (a checksum), retried like the downloads."""
        for attempt in range(self.retries + 1):
            try:
                with urlopen(Request(url, headers=_HEADERS), timeout=self.timeout) as answer:
                    return bytes(answer.read()).decode("ascii", "replace")
            except HTTPError as exc:
                self._retry_or_raise(exc, attempt, url)
            except (URLError, OSError, http.client.HTTPException) as exc:
                self._retry_or_raise(exc, attempt, url)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_or_raise(self, exc: BaseException, attempt: int, url: str, *, kept: int = 0) -> None:
        if isinstance(exc, HTTPError):
            if exc.code == 404:
                raise _NotFoundError from None
            if exc.code != 429 and exc.code < 500:
                raise _FailedError(f"HTTP {exc.code} for {url}") from None
        if attempt >= self.retries:
            reason = f"HTTP {exc.code}" if isinstance(exc, HTTPError) else _reason(exc)
            more = f"; {kept} bytes kept in the .part file, run again to resume" if kept else ""
            raise _FailedError(f"{reason} after {attempt + 1} attempts{more}") from None
        time.sleep(min(self.backoff * 2 ** attempt, 8.0))

    def _download(self, file: ArchiveFile, url: str, part: Path) -> None:
        attempt = 0
        while True:
            have = part.stat().st_size if part.is_file() else 0
            headers = dict(_HEADERS)
            if have:
                headers["Range"] = f"bytes={have}-"
            try:
                with urlopen(Request(url, headers=headers), timeout=self.timeout) as answer:
                    length = answer.headers.get("Content-Length")
                    resumed = have > 0 and answer.status == 206 and _range_start(answer.headers) == have
                    if not resumed:
                        have = 0  # a whole file (the server ignores Range): start again
                    total = None if length is None else have + int(length)
                    with part.open("ab" if resumed else "wb") as out:
                        while chunk := answer.read(_CHUNK):
                            out.write(chunk)
                            have += len(chunk)
                            if self.progress is not None:
                                self.progress(file, have, total)
                    if total is not None and have < total:
                        raise http.client.IncompleteRead(b"", total - have)
                return
            except HTTPError as exc:
                if exc.code == 416 and have:  # the .part is not a prefix of this file: start again
                    part.unlink()
                    attempt += 1
                    continue
                self._retry_or_raise(exc, attempt, url, kept=have)
            except (URLError, OSError, http.client.HTTPException) as exc:
                self._retry_or_raise(exc, attempt, url, kept=part.stat().st_size if part.is_file() else 0)
            attempt += 1

    def _load_index(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self._index_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable: every file is verified again (and the index rewritten)
        files = data.get("files") if isinstance(data, dict) else None
        return dict(files) if isinstance(files, dict) else {}

    def _save_index(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._index_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"format": 1, "files": dict(sorted(self._index.items()))}, indent=1) + "\n")
        tmp.replace(self._index_path)


_HEADERS = {"User-Agent": "liquidation-hunter fetch-history"}


def _range_start(headers: object) -> int | None:
    """The first byte of a ``Content-Range: bytes a-b/n`` answer."""
    value = getattr(headers, "get", lambda _k: None)("Content-Range")
    match = re.match(r"bytes (\d+)-", value or "")
    return int(match.group(1)) if match else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, http.client.IncompleteRead):
        return "the transfer was cut"
    if isinstance(exc, URLError):
        return f"network error ({exc.reason})"
    return f"network error ({exc.__class__.__name__}: {exc})"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with contextlib.suppress(FileNotFoundError), path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
