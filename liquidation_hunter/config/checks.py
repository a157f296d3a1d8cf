"""The pieces every config section is checked with: the error, value rules, unknown-key and secret checks.

Every problem becomes a :class:`ConfigFileError` whose message reads
``<file>: <key path>: expected <what>, got <value>``. Values are shown the way
YAML writes them (``null``, ``true``), long strings are cut, and anything that
looks like an API key, or equals one of the environment's secrets, is masked.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from live_heatmap import ConfigError

__all__ = [
    "SECRET_ENV",
    "Check",
    "ConfigFileError",
    "boolean",
    "build_section",
    "choice",
    "find_secret_key",
    "integer",
    "mask",
    "number",
    "reject_unknown",
    "show",
    "suggestion",
    "validate",
]

SECRET_ENV = ("BINANCE_API_KEY", "BINANCE_API_SECRET")
"""The environment variables the API credentials come from (and the only place they come from)."""

_SECRETISH = re.compile(r"apikey|secret|password|passphrase|privatekey")
_TOKENISH = re.compile(r"[A-Za-z0-9]{32,}")


def mask(value: str) -> str:
    """``****`` plus at most the last 4 characters (fewer for short values: at most a quarter shown)."""
    shown = min(4, len(value) // 4)
    return "****" + (value[-shown:] if shown else "")


def _redact(text: str) -> str:
    for name in SECRET_ENV:
        secret = os.environ.get(name, "").strip()
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, mask(secret))
    return text


class ConfigFileError(ConfigError):
    """A configuration problem: ``file``, ``key`` (a dotted path such as ``risk.leverage``) and ``problem``.

    ``str()`` is one line: ``config/paper.yaml: risk.leverage: expected an integer from 1 to 125, got 200``.
    ``expected`` holds the "what was expected" part when the problem is a wrong value; ``line`` and
    ``column`` (1-based) where the YAML text is known. The environment's secrets never appear in it.
    """

    def __init__(self, key: str | None, problem: str, *, file: str | None = None, expected: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        self.key = key
        self.problem = _redact(" ".join(problem.split()))
        self.file = file
        self.expected = expected
        self.line = line
        self.column = column
        parts = [file, key, self.problem] if key is not None or line is None else \
            [file, f"line {line}, column {column or 1}", self.problem]
        super().__init__(": ".join(p for p in parts if p))

    @classmethod
    def wrong(cls, key: str | None, expected: str, value: object) -> ConfigFileError:
        """``<key>: expected <expected>, got <value>``."""
        return cls(key, f"expected {expected}, got {show(value)}", expected=expected)

    def within(self, prefix: str | None = None, *, file: str | None = None,
               lines: Mapping[str, int] | None = None) -> ConfigFileError:
        """The same error with its key under ``prefix`` and, if not set yet, the file (and the key's line)."""
        key = self.key
        if prefix and key is not None:
            key = prefix + key if key.startswith("[") else f"{prefix}.{key}"
        elif prefix and self.line is None:
            key = prefix
        line = self.line
        if line is None and lines is not None and key is not None:
            line = lines.get(key)
        return ConfigFileError(key, self.problem, file=self.file or file, expected=self.expected,
                               line=line, column=self.column)


def show(value: object) -> str:
    """A value as an error message shows it: YAML spelling, short, secrets masked."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if _TOKENISH.fullmatch(value):
            return repr(mask(value))
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class Check:
    """One field's rule: ``ok(value)`` or the error says ``expected <expected>``."""

    expected: str
    ok: Callable[[Any], bool]
    to_float: bool = False
    """Ints are accepted where a float is expected and stored as floats."""
    options: tuple[str, ...] = ()
    """For a choice: the allowed words (a near miss gets a "did you mean")."""


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def number(low: float | None = None, high: float | None = None, *, low_open: bool = True, high_open: bool = False,
           optional: bool = False, unit: str = "") -> Check:
    """A finite number (ints accepted) in the given range; ``optional`` also allows null."""
    if low is not None and high is not None:
        what = f"a number in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
    elif low is not None:
        what = f"a number {'>' if low_open else '>='} {_fmt(low)}"
    elif high is not None:
        what = f"a number {'<' if high_open else '<='} {_fmt(high)}"
    else:
        what = "a number"
    what += unit
    if optional:
        what += " or null"

    def ok(v: Any) -> bool:
        if v is None:
            return optional
        if not _is_number(v):
            return False
        if low is not None and (v <= low if low_open else v < low):
            return False
        return not (high is not None and (v >= high if high_open else v > high))

    return Check(what, ok, to_float=True)


def integer(low: int, high: int | None = None, *, optional: bool = False) -> Check:
    """An int (not a bool, not a float) from ``low`` to ``high``."""
    what = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    if optional:
        what += " or null"

    def ok(v: Any) -> bool:
        if v is None:
            return optional
        return isinstance(v, int) and not isinstance(v, bool) and v >= low and (high is None or v <= high)

    return Check(what, ok)


def boolean() -> Check:
    return Check("true or false", lambda v: isinstance(v, bool))


def choice(*options: str) -> Check:
    """One of ``options`` exactly (case matters)."""
    quoted = [repr(o) for o in options]
    what = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return Check(what, lambda v: isinstance(v, str) and v in options, options=options)


def validate(obj: object, rules: Mapping[str, Check]) -> None:
    """Check each field of a (frozen) dataclass instance against its rule; ints become floats where asked."""
    for key, rule in rules.items():
        value = getattr(obj, key)
        if not rule.ok(value):
            error = ConfigFileError.wrong(key, rule.expected, value)
            if isinstance(value, str) and rule.to_float and _parses_as_float(value):
                error = ConfigFileError(key, error.problem + " (text, not a number: YAML 1.1 reads 1e-3 as text;"
                                        " write 0.001 or 1.0e-3)", expected=rule.expected)
            elif isinstance(value, str) and rule.options:
                close = difflib.get_close_matches(value.lower(), rule.options, n=1, cutoff=0.6)
                if close:
                    error = ConfigFileError(key, error.problem + f" (did you mean {close[0]!r}?)",
                                            expected=rule.expected)
            raise error
        if rule.to_float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(obj, key, float(value))


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def suggestion(key: str, known: Iterable[str]) -> str | None:
    """The closest known key to a misspelt one, if any is close."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return close[0] if close else None


def reject_unknown(values: Mapping[Any, Any], known: Iterable[str], *,
                   elsewhere: Mapping[str, str] | None = None) -> None:
    """Raise for the first key (in file order) that is not in ``known``, with a "did you mean" hint.

    ``elsewhere`` maps keys that belong in another section to their path there (``leverage`` -> ``risk.leverage``).
    """
    known = set(known)
    for key in values:
        if isinstance(key, str) and key in known:
            continue
        if not isinstance(key, str):
            yaml11 = " (YAML 1.1 reads on/off/yes/no as true/false: quote the key)" if isinstance(key, bool) else ""
            raise ConfigFileError(show(key), "keys must be text" + yaml11)
        close = suggestion(key, known)
        if close is not None:
            raise ConfigFileError(key, f"unknown key, did you mean {close!r}?")
        if elsewhere and key in elsewhere:
            raise ConfigFileError(key, f"unknown key here, did you mean {elsewhere[key]!r}?")
        raise ConfigFileError(key, f"unknown key (known: {', '.join(sorted(known))})")


def find_secret_key(data: Any, path: str = "") -> str | None:
    """The path of the first key anywhere in ``data`` that names a credential (``api_key``, ``secret``...)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SECRETISH.search(key.lower().replace("_", "").replace("-", "")):
                return here
            found = find_secret_key(value, here)
            if found is not None:
                return found
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found = find_secret_key(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


S = TypeVar("S")


def build_section(cls: type[S], values: Any, where: str) -> S:
    """``cls(**values)`` for a YAML section: null means all defaults; a non-mapping, an unknown key or a
    bad value raises :class:`ConfigFileError` with the key's full path (``where.key``)."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigFileError.wrong(where, "a mapping", values)
    try:
        reject_unknown(values, (f.name for f in fields(cls)))  # type: ignore[arg-type]
        return cls(**dict(values))
    except ConfigFileError as exc:
        raise exc.within(where) from None
