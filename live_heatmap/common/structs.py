"""Config values as msgspec Structs: declared constraints, one error, one converter.

msgspec (not pydantic, not hand-written checks): it already decodes the wire frames on the hot path, it is
fast and strict (no bool for a number, no text for a number, no float for an integer), and it is no new
dependency. A config value is a :class:`Settings` (``frozen=True, forbid_unknown_fields=True``) whose fields
declare their ranges, ``Annotated[float, Meta(gt=0, le=1)]``. msgspec enforces ``Meta`` only when it decodes,
so a value checks its fields itself whenever it is made, then its own rules across fields (:meth:`check`).

Every problem is a :class:`ConfigError` whose message is one line, ``<key>: expected <what>, got <value>``.
``<what>`` is written from the declared type; ``Meta(description=...)`` names a number's unit (shown after
the range) and is the whole expectation for any other value (a host name, a file path).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import typing
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import msgspec
import msgspec.inspect as mi

__all__ = ["ConfigError", "Settings", "convert", "mask", "plain", "reject_unknown", "show"]

_TOKENISH = re.compile(r"[A-Za-z0-9]{32,}")
S = TypeVar("S", bound="Settings")


def mask(value: str) -> str:
    """``****`` plus at most the last 4 characters (fewer for short values: at most a quarter shown)."""
    shown = min(4, len(value) // 4)
    return "****" + (value[-shown:] if shown else "")


def show(value: object) -> str:
    """A value as an error message shows it: YAML spelling, short, anything like an API key masked."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return repr(mask(value) if _TOKENISH.fullmatch(value) else value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, Mapping | msgspec.Struct):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class ConfigError(ValueError):
    """A config value is unknown, of the wrong type or out of range: ``key`` (a dotted path such as
    ``risk.leverage``), ``problem``, and where known ``expected``, ``file``, ``line`` and ``column`` (1-based).

    ``str()`` is one line: ``config/paper.yaml: risk.leverage: expected an integer from 1 to 125, got 200``.
    """

    def __init__(self, key: str | None, problem: str, *, expected: str | None = None, file: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        self.key, self.expected, self.file, self.line, self.column = key, expected, file, line, column
        self.problem = " ".join(problem.split())
        where = key if key is not None or line is None else f"line {line}, column {column or 1}"
        super().__init__(": ".join(part for part in (file, where, self.problem) if part))

    @classmethod
    def wrong(cls, key: str | None, expected: str, value: object, hint: str = "") -> ConfigError:
        """``<key>: expected <expected>, got <value><hint>``."""
        return cls(key, f"expected {expected}, got {show(value)}{hint}", expected=expected)

    def within(self, prefix: str | None = None, *, file: str | None = None, lines: Mapping[str, int] | None = None,
               secrets: Iterable[str] = ()) -> ConfigError:
        """The same error with its key under ``prefix``, the file (and the key's line) if not set yet, and each
        of ``secrets`` (4 characters or more) masked."""
        key, line, problem = self.key, self.line, self.problem
        if prefix and key is not None:
            key = prefix + key if key.startswith("[") else f"{prefix}.{key}"
        elif prefix and line is None:
            key = prefix
        if line is None and lines is not None and key is not None:
            line = lines.get(key)
        for secret in secrets:
            if len(secret) >= 4:
                problem = problem.replace(secret, mask(secret))
        return ConfigError(key, problem, expected=self.expected, file=self.file or file, line=line,
                           column=self.column)


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every config value: its fields are checked against their declared types whenever one is made
    (in Python or by :func:`convert`), then :meth:`check` runs its rules across fields."""

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            _checked(type(self), name, getattr(self, name))
        self.check()

    def check(self) -> None:
        """Rules across this value's fields (none by default); raise :class:`ConfigError` naming the key."""


def convert(cls: type[S], values: Any, where: str | None = None, *,
            elsewhere: Mapping[str, str] | None = None) -> S:
    """``cls`` from a YAML mapping (null: all defaults): unknown keys refused (``elsewhere``: key -> its place
    in another section), ints stored as floats where a number is expected, mappings read-only, lists tuples,
    nested values converted likewise. Errors name the key under ``where``."""
    try:
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ConfigError.wrong(None, "a mapping", values)
        reject_unknown(values, cls.__struct_fields__, elsewhere)
        fields = _fields(cls)
        converted = {}
        for key, value in values.items():
            kind = _bare(fields[key][1])
            if isinstance(kind, mi.StructType) and (value is None or isinstance(value, Mapping)):
                converted[key] = convert(typing.cast("type[Settings]", kind.cls), value, key)
            else:
                converted[key] = _checked(cls, key, value)
        return cls(**converted)
    except ConfigError as exc:
        raise exc.within(where) from None


def reject_unknown(values: Mapping[Any, Any], known: Iterable[str], elsewhere: Mapping[str, str] | None = None) -> None:
    """Raise for the first key (in file order) not in ``known``: a near miss gets "did you mean", a key of
    another section its place there (``elsewhere``)."""
    known = sorted(known)
    for key in values:
        if isinstance(key, str) and key in known:
            continue
        if not isinstance(key, str):
            yaml11 = " (YAML 1.1 reads on/off/yes/no as true/false: quote the key)" if isinstance(key, bool) else ""
            raise ConfigError(show(key), "keys must be text" + yaml11)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            raise ConfigError(key, f"unknown key, did you mean {close[0]!r}?")
        if elsewhere and key in elsewhere:
            raise ConfigError(key, f"unknown key here, did you mean {elsewhere[key]!r}?")
        listed = f"known: {', '.join(known)}" if known else "nothing is accepted here"
        raise ConfigError(key, f"unknown key ({listed})")


def plain(value: Any) -> Any:
    """Plain data (dicts, lists) from a config value, for display and JSON."""
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


# ---------------------------------------------------------------------- one field


@functools.cache
def _fields(cls: type[msgspec.Struct]) -> dict[str, tuple[Any, mi.Type, tuple[Any, ...]]]:
    """Each field's annotated type (for :func:`msgspec.convert`), its description and its choices in the
    order written (msgspec sorts them) for messages."""
    described = {f.name: f.type for f in mi.type_info(cls).fields}  # type: ignore[attr-defined]
    return {f.name: (f.type, described[f.name], _choices(f.type)) for f in msgspec.structs.fields(cls)}


def _choices(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return tuple(v for inner in typing.get_args(annotation) for v in _choices(inner))


def _checked(cls: type[msgspec.Struct], key: str, value: Any) -> Any:
    """``value`` as field ``key`` of ``cls`` stores it, or :class:`ConfigError`."""
    annotated, kind, choices = _fields(cls)[key]
    bare = _bare(kind)
    if isinstance(bare, mi.StructType):
        if isinstance(value, bare.cls):
            return value
        raise ConfigError.wrong(key, f"a {bare.cls.__name__}" if isinstance(value, Mapping) else "a mapping", value)
    try:
        if isinstance(value, float) and not math.isfinite(value):
            raise msgspec.ValidationError("not finite")
        return _frozen(msgspec.convert(dict(value) if isinstance(value, MappingProxyType) else value, annotated))
    except msgspec.ValidationError:
        raise ConfigError.wrong(key, _expected(kind, choices), value, _hint(kind, value)) from None


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _bare(kind: mi.Type) -> mi.Type:
    return kind.type if isinstance(kind, mi.Metadata) else kind


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _expected(kind: mi.Type, choices: tuple[Any, ...] = ()) -> str:
    """What a value of this (msgspec-described) type must be, in words: ``a number in (0, 1]``; a choice's
    options in the order of ``choices``."""
    if isinstance(kind, mi.Metadata):
        note = (kind.extra_json_schema or {}).get("description")
        if note is None:
            return _expected(kind.type, choices)
        return f"{_expected(kind.type)} ({note})" if isinstance(kind.type, mi.FloatType | mi.IntType) else note
    if isinstance(kind, mi.UnionType):
        parts = [_expected(k, choices) for k in kind.types if not isinstance(k, mi.NoneType)]
        nullable = any(isinstance(k, mi.NoneType) for k in kind.types)
        return " or ".join(parts + (["null"] if nullable else []))
    if isinstance(kind, mi.FloatType):
        low, high = (kind.gt if kind.gt is not None else kind.ge), (kind.lt if kind.lt is not None else kind.le)
        if low is not None and high is not None:
            opening, closing = "(" if kind.gt is not None else "[", ")" if kind.lt is not None else "]"
            return f"a number in {opening}{_fmt(low)}, {_fmt(high)}{closing}"
        if low is not None:
            return f"a number {'>' if kind.gt is not None else '>='} {_fmt(low)}"
        return f"a number {'<' if kind.lt is not None else '<='} {_fmt(high)}" if high is not None else "a number"
    if isinstance(kind, mi.IntType):
        low = kind.gt + 1 if kind.gt is not None else kind.ge
        high = kind.lt - 1 if kind.lt is not None else kind.le
        if low is not None and high is not None:
            return f"an integer from {low} to {high}"
        return f"an integer >= {low}" if low is not None else "an integer"
    if isinstance(kind, mi.LiteralType):
        quoted = [repr(v) for v in sorted(kind.values, key=lambda v: choices.index(v) if v in choices else 0)]
        return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    words: dict[type, str] = {mi.BoolType: "true or false", mi.StrType: "text", mi.DictType: "a mapping",
             mi.StructType: "a mapping", mi.VarTupleType: "a list", mi.ListType: "a list"}
    return words.get(type(kind), "a valid value")


def _kinds(kind: mi.Type) -> list[mi.Type]:
    """The plain types a (described, optional) type allows."""
    kind = _bare(kind)
    return [k for inner in kind.types for k in _kinds(inner)] if isinstance(kind, mi.UnionType) else [kind]


def _hint(kind: mi.Type, value: Any) -> str:
    """A likely fix for a wrong text value: a choice it nearly spells, or the YAML 1.1 exponent trap."""
    if not isinstance(value, str):
        return ""
    kinds = _kinds(kind)
    choices = [v for k in kinds if isinstance(k, mi.LiteralType) for v in k.values if isinstance(v, str)]
    close = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    try:
        float(value)
    except ValueError:
        return ""
    numeric = any(isinstance(k, mi.FloatType | mi.IntType) for k in kinds)
    return " (text, not a number: YAML 1.1 reads 1e-3 as text; write 0.001 or 1.0e-3)" if numeric else ""
