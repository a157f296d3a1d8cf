"""The text of a downloaded data file: plain, gzip or a zip with one ``.csv`` (Binance's archive), as the readers
of price and open-interest files take it. One place for it, with the readers' one-line errors."""

from __future__ import annotations

import gzip
import io
import zipfile

__all__ = ["csv_text"]


def csv_text(raw: bytes, where: str, error: type[ValueError]) -> str:
    """``raw`` (plain, gzip or a zip holding one ``.csv``) as text; a broken archive, an archive without exactly
    one ``.csv`` or bytes that are not UTF-8 raise ``error`` naming ``where``."""
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        elif raw[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(members) != 1:
                    raise error(f"{where}: expected one .csv in the archive, found {len(members)}")
                raw = archive.read(members[0])
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"{where}: a broken archive ({exc})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text (byte {exc.start})") from None
