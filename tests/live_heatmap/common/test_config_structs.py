"""The one config model (``live_heatmap.common.structs``): messages written from the declared types, made in Python
or read from YAML, and msgspec's own decoding as strict."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import pytest
from msgspec import Meta, field

from live_heatmap import ConfigError
from live_heatmap.common.structs import Settings, convert, plain, show


class Part(Settings, frozen=True):
    count: Annotated[int, Meta(gt=0, lt=10)] = 1


class Sample(Settings, frozen=True):
    ratio: Annotated[float, Meta(gt=0, lt=1)] = 0.5
    floor: Annotated[float, Meta(le=5, description="USDT")] = 1.0
    limit: Annotated[float, Meta(ge=2)] | None = None
    side: Literal["short", "long"] = "short"
    name: Annotated[str, Meta(pattern=r"^\w+$", description="a word")] = "x"
    tags: tuple[str, ...] = ()
    inner: Part = field(default_factory=Part)

    def check(self) -> None:
        if self.limit is not None and self.limit < self.floor:
            raise ConfigError.wrong("limit", f"at least floor ({self.floor:g})", self.limit)


@pytest.mark.parametrize(("values", "message"), [
    ({"ratio": 1}, "ratio: expected a number in (0, 1), got 1"),
    ({"floor": 6}, "floor: expected a number <= 5 (USDT), got 6"),
    ({"limit": "1e3"}, "limit: expected a number >= 2 or null, got '1e3' (text, not a number: YAML 1.1 reads 1e-3 "
                       "as text; write 0.001 or 1.0e-3)"),
    ({"side": "Long"}, "side: expected 'short' or 'long', got 'Long' (did you mean 'long'?)"),
    ({"name": "two words"}, "name: expected a word, got 'two words'"),
    ({"tags": "a"}, "tags: expected a list, got 'a'"),
    ({"inner": {"count": 10}}, "inner.count: expected an integer from 1 to 9, got 10"),
    ({"inner": 3}, "inner: expected a mapping, got 3"),
    ({"limit": 3, "floor": 4}, "limit: expected at least floor (4), got 3.0"),
    ({"ration": 1}, "ration: unknown key, did you mean 'ratio'?"),
    ({True: 1}, "true: keys must be text (YAML 1.1 reads on/off/yes/no as true/false: quote the key)"),
])
def test_messages_come_from_the_declared_types(values: dict[object, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        convert(Sample, values)
    assert str(info.value) == message


def test_made_in_python_or_read_from_yaml() -> None:
    read = convert(Sample, {"ratio": 0.25, "floor": 2, "tags": ["a"], "inner": {"count": 3}})
    assert read == Sample(ratio=0.25, floor=2.0, tags=("a",), inner=Part(count=3))
    assert isinstance(read.floor, float) and read.tags == ("a",) and read.ratio == 0.25
    assert plain(read) == {"ratio": 0.25, "floor": 2.0, "limit": None, "side": "short", "name": "x", "tags": ["a"],
                           "inner": {"count": 3}}
    with pytest.raises(ConfigError, match=r"^inner: expected a Part, got a mapping$"):
        Sample(inner={"count": 3})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^ratio: expected a number in \(0, 1\), got nan$"):
        Sample(ratio=float("nan"))
    with pytest.raises(ConfigError, match=r"^limit: expected at least floor"):
        msgspec.structs.replace(read, limit=2.0, floor=3.0)
    assert convert(Sample, None) == Sample()


def test_errors_are_placed_and_secrets_masked() -> None:
    error = ConfigError.wrong("[1]", "a symbol", "hunter2secret")
    placed = error.within("symbols", file="bot.yaml", lines={"symbols[1]": 7}, secrets=["hunter2secret", "ab"])
    assert (placed.key, placed.line, placed.file) == ("symbols[1]", 7, "bot.yaml")
    assert str(placed) == "bot.yaml: symbols[1]: expected a symbol, got '****ret'"
    assert str(ConfigError(None, "invalid YAML", file="bot.yaml", line=3)) == "bot.yaml: line 3, column 1: invalid YAML"
    assert show("A" * 40) == "'****AAAA'" and show([1]) == "a list" and show(None) == "null"


def test_msgspec_decoding_is_as_strict() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"ratoi": 0.5}', type=Sample)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"ratio": 2}', type=Sample)
