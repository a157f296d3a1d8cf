"""The one duration parser (``live_heatmap.common.timeparse.parse_duration_ms``), shared by the heatmap picture's
``--window`` and the API's ``window``: what it accepts, and the one line it says about what it refuses."""

from __future__ import annotations

import pytest

from live_heatmap.common.timeparse import parse_duration_ms

WEEK = 7 * 86_400_000


@pytest.mark.parametrize(("text", "ms"), [
    ("30m", 1_800_000), ("2h", 7_200_000), ("1d", 86_400_000), ("7d", WEEK), ("90s", 90_000), ("60s", 60_000),
    ("1.5h", 5_400_000), ("0.5d", 43_200_000), (" 2H ", 7_200_000), ("2 h", 7_200_000), ("120M", 7_200_000),
])
def test_accepts_a_number_and_a_unit(text: str, ms: int) -> None:
    assert parse_duration_ms(text, high_ms=WEEK) == ms


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "1w", "-2h", "+2h", "2 hours", "2h30m", "1e3s", "1,5h",
                                  "2 h h", "forever", "1" * 30 + "h", "\u0662h"])
def test_refuses_anything_else_in_one_line(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration_ms(text)
    message = str(caught.value)
    assert message.startswith("expected a duration such as 30m, 2h or 1d (units s, m, h, d), at least 1m, got ")
    assert "\n" not in message and len(message) < 200


def test_bounds_are_the_callers() -> None:
    assert parse_duration_ms("1m") == 60_000
    with pytest.raises(ValueError, match=r"at least 1m, got '59s'$"):
        parse_duration_ms("59s")
    with pytest.raises(ValueError, match=r"from 1m to 7d, got '8d'$"):
        parse_duration_ms("8d", high_ms=WEEK)
    with pytest.raises(ValueError, match=r"from 1m to 7d, got '0m'$"):
        parse_duration_ms("0m", high_ms=WEEK)
    assert parse_duration_ms("1s", low_ms=1_000) == 1_000
    with pytest.raises(ValueError, match=r"at least 90s, got '1m'$"):
        parse_duration_ms("1m", low_ms=90_000)
