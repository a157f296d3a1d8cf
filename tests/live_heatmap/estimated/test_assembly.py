"""The bar assembler (issue 14, live inputs): closed klines + mark prices + open interest -> bars, in order; what it
waits for, drops, counts and asks REST for. Time is passed in: no clock, no sleeps."""

from __future__ import annotations

from live_heatmap.estimated.assembly import BAR_MS, BarAssembler
from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.wire.kline import Kline

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, a bar boundary
TOL = 120_000


def kline(open_ms: int, *, close: float = 101.0, high: float = 103.0, low: float = 98.0, closed: bool = True,
          symbol: str = "BTCUSDT") -> Kline:
    return Kline(symbol, open_ms, open_ms + BAR_MS - 1, 100.0, high, low, close, 12.0, 12.0 * close, 7.0,
                 7.0 * close, closed)


def marks_every_second(asm: BarAssembler, open_ms: int, prices: dict[int, float], *, start_s: int = 0,
                       end_s: int = 300) -> None:
    """One mark a second from ``start_s`` to ``end_s`` (exclusive) of the bar: 100.0, or ``prices[second]``."""
    for second in range(start_s, end_s):
        asm.on_mark("BTCUSDT", prices.get(second, 100.0), open_ms + second * 1000)


def test_a_closed_kline_with_covering_marks_and_an_oi_reading_is_the_exact_bar() -> None:
    asm = BarAssembler(["BTC/USDT:USDT"], tolerance_ms=TOL)
    marks_every_second(asm, T0, {10: 100.8, 200: 99.4})
    asm.on_mark("BTCUSDT", 100.0, T0 + BAR_MS)  # the next bar's first update closes this one's coverage
    asm.on_kline(kline(T0))
    assert asm.ready(T0 + BAR_MS + 10) == []  # no open interest yet: it waits
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS - 5_000, 1.0)  # before the end: not this bar's
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS + 40_000, 5_000.0)
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS + 100_000, 6_000.0)  # later: the first one counts
    out = asm.ready(T0 + BAR_MS + 100_500)
    assert out == [("BTCUSDT", Bar(T0, T0 + BAR_MS - 1, 100.8, 99.4, 101.0, 12.0, 1212.0, 7.0, 707.0, 5_000.0))]
    status = asm.status()["BTCUSDT"]
    assert status["last_bar_close_ms"] == T0 + BAR_MS - 1
    assert status["pending"] == 0


def test_an_unclosed_kline_is_ignored() -> None:
    asm = BarAssembler(["BTCUSDT"])
    assert asm.on_kline(kline(T0, closed=False)) is False
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS, 5_000.0)
    assert asm.ready(T0 + 10 * BAR_MS) == []
    assert asm.status()["BTCUSDT"]["pending"] == 0


def test_a_bar_without_open_interest_waits_then_is_dropped_and_counted() -> None:
    asm = BarAssembler(["BTCUSDT"], tolerance_ms=TOL)
    for bar in (0, 1):
        asm.on_kline(kline(T0 + bar * BAR_MS))
        asm.on_mark_kline(kline(T0 + bar * BAR_MS, high=102.0, low=99.0))
    asm.on_open_interest("BTCUSDT", T0 + 2 * BAR_MS + 30_000, 7_000.0)  # the second bar's only
    end = T0 + BAR_MS
    assert asm.ready(end + TOL) == []  # at the tolerance it still waits
    out = asm.ready(end + TOL + 1)
    assert [(s, b.open_time, b.open_interest) for s, b in out] == [("BTCUSDT", T0 + BAR_MS, 7_000.0)]
    assert asm.status()["BTCUSDT"]["dropped_no_oi"] == 1


def test_a_bar_the_marks_do_not_cover_takes_the_rest_mark_kline() -> None:
    asm = BarAssembler(["BTCUSDT"], tolerance_ms=TOL)
    marks_every_second(asm, T0, {100: 100.9}, start_s=60)  # started a minute into the bar
    asm.on_mark("BTCUSDT", 100.0, T0 + BAR_MS)
    asm.on_kline(kline(T0))
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS + 20_000, 5_000.0)
    wanted = asm.wanted(T0 + BAR_MS + 20_000)
    assert [(w.symbol, w.klines_from, w.marks) for w in wanted] == [("BTCUSDT", None, (T0,))]
    assert asm.ready(T0 + BAR_MS + 20_000) == []
    asm.on_mark_kline(Kline("BTCUSDT", T0, T0 + BAR_MS - 1, 100.0, 101.7, 98.6, 100.2, 0, 0, 0, 0, True))
    (_, bar), = asm.ready(T0 + BAR_MS + 20_000)
    assert (bar.mark_high, bar.mark_low) == (101.7, 98.6)


def test_without_marks_past_the_tolerance_the_trade_extremes_stand_in_and_are_counted() -> None:
    asm = BarAssembler(["BTCUSDT"], tolerance_ms=TOL)
    asm.on_kline(kline(T0, high=104.0, low=97.0))
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS, 5_000.0)
    assert asm.ready(T0 + BAR_MS + TOL) == []
    (_, bar), = asm.ready(T0 + BAR_MS + TOL + 1)
    assert (bar.mark_high, bar.mark_low) == (104.0, 97.0)
    assert asm.status()["BTCUSDT"]["trade_extremes"] == 1


def test_a_reconnect_gap_is_named_and_filled_from_rest_in_order() -> None:
    asm = BarAssembler(["BTCUSDT"], tolerance_ms=TOL)
    layer = EstimatedLayer()
    asm.on_kline(kline(T0))
    asm.on_mark_kline(kline(T0))
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS, 5_000.0)
    assert asm.apply(layer, T0 + BAR_MS + 1) == 1
    # the stream was down for the second bar; the third arrives with its marks and open interest
    third = T0 + 2 * BAR_MS
    marks_every_second(asm, third, {})
    asm.on_mark("BTCUSDT", 100.0, third + BAR_MS)
    asm.on_kline(kline(third))
    asm.on_open_interest("BTCUSDT", third + BAR_MS + 1_000, 5_200.0)
    now = third + BAR_MS + 20_000
    assert asm.ready(now) == []  # the hole comes first
    (want,) = asm.wanted(now)
    assert (want.klines_from, want.klines_to, want.marks) == (T0 + BAR_MS, T0 + BAR_MS, ())
    # what REST brings for it: the kline, its mark kline and the 5-minute open interest at its end
    asm.on_kline(kline(T0 + BAR_MS, close=100.5))
    asm.on_mark_kline(kline(T0 + BAR_MS, high=102.2, low=99.1))
    asm.on_open_interest("BTCUSDT", T0 + 2 * BAR_MS, 5_100.0)
    assert asm.apply(layer, now) == 2
    model = layer.get("BTCUSDT")
    assert model is not None
    assert model.bars == 3
    assert model.last_close_time == third + BAR_MS - 1
    status = asm.status()["BTCUSDT"]
    assert (status["bars"], status["missing_bars"], status["dropped_no_oi"]) == (3, 0, 0)


def test_a_hole_not_filled_within_the_tolerance_is_given_up_and_counted_once() -> None:
    asm = BarAssembler(["BTCUSDT"], tolerance_ms=TOL)
    asm.on_kline(kline(T0))
    asm.on_mark_kline(kline(T0))
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS, 5_000.0)
    assert len(asm.ready(T0 + BAR_MS + 1)) == 1
    fourth = T0 + 3 * BAR_MS
    asm.on_kline(kline(fourth))
    asm.on_mark_kline(kline(fourth))
    asm.on_open_interest("BTCUSDT", fourth + BAR_MS, 5_300.0)
    hole_end = fourth + BAR_MS + TOL  # the waiting bar's end plus the tolerance
    assert asm.ready(hole_end) == []
    assert [b.open_time for _, b in asm.ready(hole_end + 1)] == [fourth]
    asm.ready(hole_end + 2)
    assert asm.status()["BTCUSDT"]["missing_bars"] == 2


def test_a_kline_at_or_before_the_last_bar_is_a_counted_duplicate() -> None:
    asm = BarAssembler(["BTCUSDT"])
    asm.on_kline(kline(T0))
    asm.on_mark_kline(kline(T0))
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS, 5_000.0)
    assert len(asm.ready(T0 + BAR_MS)) == 1
    assert asm.on_kline(kline(T0)) is False
    assert asm.status()["BTCUSDT"]["duplicates"] == 1


def test_a_bar_the_layer_refuses_is_counted_with_its_reason() -> None:
    asm = BarAssembler(["BTCUSDT"])
    layer = EstimatedLayer()
    asm.on_kline(Kline("BTCUSDT", T0, T0 + BAR_MS - 1, 100.0, 103.0, 98.0, 101.0, 1.0, 101.0, 1.0, 101.0, True))
    asm.on_mark_kline(kline(T0))
    asm.on_open_interest("BTCUSDT", T0 + BAR_MS, float("inf"))
    assert asm.apply(layer, T0 + BAR_MS) == 0
    status = asm.status()["BTCUSDT"]
    assert status["rejected"] == 1
    assert "open_interest" in status["last_error"]


def test_another_symbol_is_not_followed() -> None:
    asm = BarAssembler(["BTCUSDT"])
    assert asm.on_kline(kline(T0, symbol="ETHUSDT")) is False
    assert list(asm.status()) == ["BTCUSDT"]
