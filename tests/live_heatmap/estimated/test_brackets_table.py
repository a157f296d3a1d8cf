"""The bracket table: the shipped dated file read whole, both symbol forms, the exchange's shape (numbers or
strings, the list or one symbol's object), and malformed answers refused with one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from live_heatmap.estimated import liquidation_price_at_leverage, parse_leverage_brackets, shipped_brackets
from live_heatmap.estimated.brackets import SHIPPED_AS_OF, SHIPPED_FILE

SHIPPED = Path(__file__).resolve().parents[3] / "live_heatmap" / "estimated" / SHIPPED_FILE
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_shipped_table_holds_every_symbol_of_the_file_with_its_date() -> None:
    raw = json.loads(SHIPPED.read_text("utf-8"))
    table = shipped_brackets()
    assert table.as_of == SHIPPED_AS_OF
    assert table.source == "shipped"
    assert table.label == f"brackets of {SHIPPED_AS_OF:%Y-%m-%d} (shipped table)"
    assert set(table) == {row["symbol"] for row in raw}
    for row in raw:
        brackets = table.for_symbol(row["symbol"])
        assert [(b.bracket, b.maint_margin_ratio, b.cum, b.notional_cap) for b in brackets] == [
            (int(r["bracket"]), float(r["maintMarginRatio"]), float(r["cum"]), float(r["notionalCap"]))
            for r in row["brackets"]]


def test_both_symbol_forms_and_an_unknown_symbol() -> None:
    table = shipped_brackets()
    assert table.for_symbol("BTC/USDT:USDT") is table.for_symbol("BTCUSDT")
    assert table.get("NOTLISTEDUSDT") is None
    assert table.get("weird/symbol") is None
    with pytest.raises(KeyError, match="no leverage brackets for NOTLISTEDUSDT in the brackets of"):
        table.for_symbol("NOTLISTEDUSDT")


def test_a_shipped_bracket_prices_like_the_formula() -> None:
    btc = shipped_brackets().for_symbol("BTCUSDT")
    first = btc.for_notional(67_000.0)
    assert first.bracket == 1
    assert liquidation_price_at_leverage(1, 67_000.0, 10, btc) == pytest.approx(
        67_000.0 * 0.9 / (1.0 - first.maint_margin_ratio), rel=1e-12)
    assert btc.max_leverage(btc.notional_cap) == btc[-1].initial_leverage


def test_the_exchange_shape_with_numbers_and_one_symbol() -> None:
    answer = [{"symbol": "ETHUSDT", "notionalCoef": 1.0, "brackets": [
        {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004,
         "cum": 0.0},
        {"bracket": 2, "initialLeverage": 100, "notionalCap": 250000, "notionalFloor": 50000,
         "maintMarginRatio": 0.005, "cum": 50.0}]}]
    local = datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    table = parse_leverage_brackets(answer, as_of=local, source="exchange")
    assert table.as_of == NOW and table.as_of.tzinfo == UTC
    assert table.label == "brackets of 2026-01-02 (from the exchange)"
    assert table.for_symbol("ETHUSDT").for_notional(50_000.0).cum == 50.0
    one = parse_leverage_brackets(answer[0], as_of=NOW, source="exchange")
    assert one.for_symbol("ETHUSDT") == table.for_symbol("ETHUSDT")


@pytest.mark.parametrize(("payload", "message"), [
    ("nope", "expected a list of symbols"),
    ([{"brackets": []}], "a row without a symbol"),
    ([{"symbol": "XUSDT"}], "XUSDT: no 'brackets' list"),
    ([{"symbol": "XUSDT", "brackets": []}], "XUSDT: no leverage brackets"),
    ([{"symbol": "XUSDT", "brackets": [{"bracket": 1}]}], "XUSDT: a leverage bracket without 'initialLeverage'"),
    ([{"symbol": "XUSDT", "brackets": [{"bracket": 1, "initialLeverage": "x", "notionalCap": 1, "notionalFloor": 0,
                                        "maintMarginRatio": 0.01, "cum": 0}]}], "XUSDT: a leverage bracket with a bad"),
])
def test_malformed_answers_are_refused(payload: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_leverage_brackets(payload, as_of=NOW, source="exchange")


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_leverage_brackets([], as_of=datetime(2026, 1, 1), source="exchange")
