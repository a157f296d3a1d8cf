"""Walls on synthetic books (a real OrderBook): the rule of live_heatmap/orderbook/walls.py and its edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from live_heatmap.orderbook.book import OrderBook
from live_heatmap.orderbook.depth_history import bin_of
from live_heatmap.orderbook.walls import WallTracker

MID = 60_000.0
TICK = 5.0


def flat_book(extra: dict[float, float] | None = None, mid: float = MID) -> OrderBook:
    """1 BTC on every 5 USDT level within 3 % of ``mid``, plus ``extra`` (price -> size) on top."""
    n = int(mid * 0.03 / TICK)
    bids = [[mid - TICK / 2 - i * TICK, 1.0] for i in range(n)]
    asks = [[mid + TICK / 2 + i * TICK, 1.0] for i in range(n)]
    for price, size in (extra or {}).items():
        for row in bids if price < mid else asks:
            if row[0] == price:
                row[1] = size
    book = OrderBook("BTCUSDT")
    book.load(np.array(bids), np.array(asks), 1, 0)
    return book


WALL_PRICE = MID - TICK / 2 - 100 * TICK  # a bid level about 0.83 % under the mid
BIG = 60.0  # the bin around holds ~6 levels of 1 BTC: 60 BTC is about 10x the median bin


def run(tracker: WallTracker, seconds: range, book: OrderBook, start_ms: int = 0) -> list[str]:
    kinds: list[str] = []
    for s in seconds:
        kinds += [e.kind for e in tracker.sample(book, start_ms + s * 1000)]
    return kinds


def tracker() -> WallTracker:
    return WallTracker("BTCUSDT", floor=0.0)


def test_a_10x_level_held_40_s_is_one_wall() -> None:
    t = tracker()
    kinds = run(t, range(41), flat_book({WALL_PRICE: BIG}))
    assert kinds == ["new"]
    (wall,) = t.active()
    assert wall.side == "bid" and wall.state == "active"
    assert wall.price_low <= WALL_PRICE < wall.price_high
    assert wall.first_seen_ms == 0 and wall.last_seen_ms == 40_000
    assert wall.notional >= BIG * WALL_PRICE


def test_a_10x_level_held_20_s_is_no_wall() -> None:
    t = tracker()
    kinds = run(t, range(21), flat_book({WALL_PRICE: BIG}))
    kinds += run(t, range(21, 80), flat_book())
    assert kinds == [] and t.active() == [] and t.ended(0) == []


def test_a_wall_removed_with_no_trades_is_pulled() -> None:
    t = tracker()
    run(t, range(40), flat_book({WALL_PRICE: BIG}))
    kinds = run(t, range(40, 50), flat_book())
    assert kinds == ["pulled"]
    (wall,) = t.ended(0)
    assert wall.state == "pulled" and wall.traded == 0 and wall.ended_ms == 40_000
    assert t.active() == []


def test_a_wall_traded_at_least_half_is_filled_and_less_is_pulled() -> None:
    for share, state in ((0.5, "filled"), (0.45, "pulled")):
        t = tracker()
        run(t, range(40), flat_book({WALL_PRICE: BIG}))
        traded = share * t.active()[0].notional / WALL_PRICE  # the bin's last notional, in base units
        t.trade(WALL_PRICE, traded, 40_500)
        t.trade(WALL_PRICE * 1.01, 10 * BIG, 40_600)  # elsewhere: does not count
        kinds = run(t, range(40, 50), flat_book())
        assert kinds == [state], traded
        assert t.ended(0)[0].traded == pytest.approx(traded * WALL_PRICE)


def test_a_level_under_k_times_the_median_or_the_floor_is_no_wall() -> None:
    assert run(tracker(), range(41), flat_book({WALL_PRICE: 20.0})) == []  # ~3.4x the median bin
    assert run(WallTracker("BTCUSDT", floor=1e9), range(41), flat_book({WALL_PRICE: BIG})) == []


def test_a_level_present_in_under_90_percent_of_samples_is_no_wall_and_a_flicker_is_tolerated() -> None:
    with_wall, without = flat_book({WALL_PRICE: BIG}), flat_book()
    # Present 4 samples in 5 (80 %): never a wall.
    t = tracker()
    kinds = [e.kind for s in range(60) for e in t.sample(with_wall if s % 5 else without, s * 1000)]
    assert kinds == [] and t.active() == []
    # One miss in 40 samples (97.5 %): one wall, still active.
    t = tracker()
    kinds = [e.kind for s in range(41) for e in t.sample(without if s == 20 else with_wall, s * 1000)]
    assert kinds == ["new"] and len(t.active()) == 1


def test_a_wall_that_moves_one_bin_is_pulled_and_starts_again() -> None:
    moved = WALL_PRICE - 6 * TICK  # 30 USDT lower: the next bin down
    assert bin_of([moved], 0.0005)[0] == bin_of([WALL_PRICE], 0.0005)[0] - 1
    t = tracker()
    run(t, range(40), flat_book({WALL_PRICE: BIG}))
    kinds = run(t, range(40, 75), flat_book({moved: BIG}))
    assert kinds == ["pulled", "new"]
    (wall,) = t.active()
    assert wall.price_low <= moved < wall.price_high and wall.first_seen_ms == 40_000


def test_a_wall_outside_the_window_is_dropped_unlabelled() -> None:
    t = tracker()
    run(t, range(40), flat_book({WALL_PRICE: BIG}))
    # The mid jumps 3 % up (the wall's level stays in the book, now 3.8 % under the mid, outside +-2 %).
    far = flat_book({WALL_PRICE: BIG}, mid=MID * 1.03)
    far.apply(np.array([[WALL_PRICE, BIG]]), np.empty((0, 2)), 2, 0)
    assert run(t, range(40, 60), far) == []
    assert len(t.active()) == 1  # not yet: unobserved for under 30 s
    assert run(t, range(60, 75), far) == []
    assert t.active() == [] and t.ended(0) == [] and t.unobserved == 1


def test_a_book_without_a_mid_is_an_unobserved_sample() -> None:
    t = tracker()
    run(t, range(40), flat_book({WALL_PRICE: BIG}))
    assert run(t, range(40, 60), OrderBook("BTCUSDT")) == []
    assert len(t.active()) == 1
