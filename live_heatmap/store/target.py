"""Where an event store lives: a SQLite file path or a PostgreSQL URL, told apart by the URL's scheme, and the URL
as it may be shown (its password, should one be there, masked).

A PostgreSQL URL names the server, user and database only: the password comes from libpq's environment
(``PGPASSWORD``, ``PGPASSFILE``), never from a config file or a log line. :func:`password_in` says whether a URL
carries one (in its user part or as a ``password=`` parameter) so the config can refuse it.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["POSTGRES_SCHEMES", "is_postgres_url", "mask_url", "password_in", "source_exists", "source_name"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL, False for a file path."""
    return isinstance(target, str) and target.lower().startswith(POSTGRES_SCHEMES)


def password_in(url: str) -> bool:
    """Whether ``url`` carries a password (``user:secret@host`` or ``?password=...``)."""
    parts = urlsplit(url)
    return parts.password is not None or any(k.lower() == "password" for k, _ in parse_qsl(parts.query))


def mask_url(url: str) -> str:
    """``url`` fit for a log line or a status: a password (user part or parameter) replaced by ``***``; a path
    (not a URL) unchanged."""
    if not is_postgres_url(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = "&".join(f"{k}={'***' if k.lower() == 'password' else v}" for k, v in parse_qsl(parts.query))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def source_exists(target: str | os.PathLike[str]) -> bool:
    """Whether a command's event source is there to read: a path that exists (a file, or a Parquet dataset's
    directory), or a PostgreSQL URL (whether its server answers is known on connecting)."""
    return is_postgres_url(target) or os.path.exists(target)


def source_name(target: str | os.PathLike[str]) -> str:
    """How a report names an event source: a path's file name, a URL masked."""
    return mask_url(os.fspath(target)) if is_postgres_url(target) else os.path.basename(os.fspath(target))
