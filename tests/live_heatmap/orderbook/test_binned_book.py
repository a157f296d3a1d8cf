"""BinnedBook: books rebuilt from recorded depth runs give back the bins they were recorded from (the real
SUSHIUSDT book of 2021-07-22 replayed through the book sync), and their mid, sides and edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from liquidation_hunter.data.depth_replay import replay_depth
from live_heatmap.orderbook.binned_book import BinnedBook, binned_books
from live_heatmap.orderbook.depth_history import DepthHistory, bin_notional, bin_of, bin_price

BOOK = Path(__file__).resolve().parents[3] / "data" / "orderbook"
RECORDING = [BOOK / "binance_usdm_rest_depth_2021-07-22.txt", BOOK / "binance_usdm_depth100ms_2021-07-22.jsonl"]


def test_books_rebuilt_from_the_real_books_runs_bin_back_to_the_same_notional() -> None:
    replay = replay_depth(RECORDING, symbols=["SUSHIUSDT"])
    history = replay.layer.history("SUSHIUSDT")
    assert history is not None and replay.first_ms is not None and replay.last_ms is not None
    grid = history.grid(replay.first_ms, replay.last_ms, 1000)
    checked = 0
    for row, (at_ms, book) in enumerate(binned_books(grid, "SUSHIUSDT")):
        assert at_ms == grid.times[row]
        mid = book.mid()
        if mid is None:  # before the first synced sample
            assert not grid.bid[row].any() or not grid.ask[row].any()
            continue
        for side, matrix in (("bid", grid.bid), ("ask", grid.ask)):
            bins, notional, _ = bin_notional(book, side, mid, 1.0, grid.bin_width)  # type: ignore[arg-type]
            present = np.flatnonzero(matrix[row] > 0)
            assert np.array_equal(bins, bin_of(grid.prices[present] * (1 + grid.bin_width / 2), grid.bin_width))
            np.testing.assert_allclose(notional, matrix[row][present], rtol=1e-6)
        checked += 1
    assert checked >= 25  # 30 s of samples, 1 s apart


def test_a_sample_of_a_binned_book_gives_the_recorded_bins_again() -> None:
    centers = bin_price(np.arange(1000, 1006), 0.0005) * (1 + 0.0005 / 2)
    book = BinnedBook("BTCUSDT", centers, [5e5, 0, 3e5, 2e5, 0, 0], [0, 0, 0, 1e5, 4e5, 9e5])
    assert book.levels("bid")[0].tolist() == [centers[3], centers[2], centers[0]]  # best first
    assert book.levels("ask")[0].tolist() == [centers[3], centers[4], centers[5]]
    assert book.mid() == pytest.approx(centers[3])  # the touch inside one bin
    history = DepthHistory("BTCUSDT", change=0.0, range_fraction=0.5)
    assert history.sample(book, 1_000)
    grid = history.grid(1_000, 1_000, 1000, centers[0] * 0.9999, centers[-1])
    assert grid.bid[0].tolist() == pytest.approx([5e5, 0, 3e5, 2e5, 0, 0], rel=1e-6)
    assert grid.ask[0].tolist() == pytest.approx([0, 0, 0, 1e5, 4e5, 9e5], rel=1e-6)


def test_an_empty_side_or_bins_that_cross_have_no_mid() -> None:
    centers = bin_price(np.arange(10, 13), 0.0005)
    assert BinnedBook("X", centers, [1.0, 0, 0], [0, 0, 0]).mid() is None
    assert BinnedBook("X", centers, [0, 0, 1.0], [1.0, 0, 0]).mid() is None
    with pytest.raises(ValueError, match="side"):
        BinnedBook("X", centers, [1.0, 0, 0], [0, 0, 1.0]).levels("both")
