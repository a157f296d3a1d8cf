"""The risk manager pinned at its edges: which entries are allowed, how big they are, and what the user reads
when one is not. Real SQLite books, time passed as an argument, every expected number worked out by hand in
the comments (``RiskConfig`` defaults: taker fee 0.05 %, slippage 2 bps, leverage 3, risk 1 % a trade)."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from liquidation_hunter.bot.risk import RiskManager, Sizing, entry_client_id, utc_day
from liquidation_hunter.config.sections import RiskConfig
from liquidation_hunter.signals.rules import Signal
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.model import AccountState, EntryOrder
from live_heatmap import LiquidationCluster

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
XRP = "XRP/USDT:USDT"
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
DAY0 = 1_737_936_000_000  # 2025-01-27T00:00:00Z
T = DAY0 + 17 * HOUR  # 2025-01-27T17:00:00Z
START = 10_000.0
REL = 1e-12


# ------------------------------------------------------------------ builders


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    with Books.open(tmp_path / "risk.sqlite", starting_wallet=START, now_ms=DAY0) as b:
        yield b


def manager(books: Books, **risk: Any) -> RiskManager:
    return RiskManager(RiskConfig(**risk), books)


def bare(books: Books, **risk: Any) -> RiskManager:
    """A manager without costs (no fee, no slippage) nor margin cap, where the loss at the stop is the price move
    alone: ``notional = equity * risk_per_trade / stop distance`` exactly (the costs are tested apart)."""
    settings: dict[str, Any] = {"taker_fee": 0.0, "slippage_bps": 0.0, "max_margin_pct": 100.0}
    settings.update(risk)
    return RiskManager(RiskConfig(**settings), books)


def account(wallet: float = START, *, margin: float = 0.0, unrealized: float = 0.0, at: int = T) -> AccountState:
    """``equity = wallet + unrealized``, ``available = wallet - margin``."""
    return AccountState(wallet=wallet, margin=margin, unrealized=unrealized, positions=0, at=at)


def signal(direction: int = 1, entry: float | None = 100.0, stop: float | None = 98.0, take: float | None = 104.0,
           *, symbol: str = BTC, cluster: LiquidationCluster | None = None, origin: str = "",
           at: int = T) -> Signal:
    return Signal(symbol, direction, 0.9, cluster, entry, stop, take, "test idea", at, origin=origin)


def cluster(cluster_id: str = "BTCUSDT-short-1737997140000", level: float = 104.0) -> LiquidationCluster:
    return LiquidationCluster(
        cluster_id=cluster_id, symbol="BTCUSDT", side="short", price_level=level, price_low=level,
        price_high=level, liquidation_count=5, total_notional=1e6, weighted_notional=1e6, strength=0.9,
        distance_from_price=4.0, current_price=100.0, first_event_ms=T - MINUTE, last_updated=T, built_at=T)


def closed_position(books: Books, symbol: str, *, opened_at: int, closed_at: int) -> None:
    """A position on ``symbol`` that was opened and closed (its close starts the symbol's cooldown)."""
    order = EntryOrder(client_id=f"lh-{symbol[:3].lower()}-{opened_at}", symbol=symbol, direction=1, quantity=1.0,
                       reference_price=100.0, stop_loss=98.0, take_profit=104.0, leverage=3, created_at=opened_at)
    position = books.record_entry(order, quantity=1.0, fill_price=100.0, fee=0.0, liquidation_price=67.0,
                                  now_ms=opened_at)
    assert position is not None
    assert books.record_exit(position.id, client_id=f"{order.client_id}-x", exit_price=104.0, fee=0.0,
                             reason="take_profit", now_ms=closed_at) is not None


# ------------------------------------------------------------------ 3: max_open_positions


@pytest.mark.parametrize("limit", [1, 3])
def test_max_open_positions_blocks_at_the_limit_and_allows_one_below(books: Books, limit: int) -> None:
    risk = manager(books, max_open_positions=limit)
    others = [ETH, SOL, XRP][:limit]
    # N open symbols (none of them BTC): the (N+1)-th position is refused
    assert risk.entry_block(BTC, account(), set(others), T) == f"max_open_positions ({limit}) reached"
    # N-1 open: one more is allowed
    assert risk.entry_block(BTC, account(), set(others[:-1]), T) is None


def test_a_symbol_with_an_open_position_gets_no_second_one(books: Books) -> None:
    risk = manager(books, max_open_positions=3)
    assert risk.entry_block(BTC, account(), {BTC}, T) == "a position is open on this symbol"
    assert risk.entry_block(ETH, account(), {BTC}, T) is None


# ------------------------------------------------------------------ 4, 13: sizing


def test_without_costs_sizing_risks_the_configured_share_of_equity_between_entry_and_stop(books: Books) -> None:
    risk = bare(books)
    # long 100 -> stop 98: stop distance 2 %; equity 10,000 * 1 % = 100 at risk -> notional 100 / 0.02 = 5,000
    sizing = risk.size(signal(1, 100.0, 98.0, 104.0), account())
    assert sizing == Sizing(quantity=pytest.approx(50.0, rel=REL), notional=pytest.approx(5_000.0, rel=REL),
                            stop_loss=98.0, take_profit=104.0)
    assert sizing.reason == ""
    # short 100 -> stop 101 (1 %): 100 / 0.01 = 10,000; margin cap 10,000 * 3 * 0.99 = 29,700 is not reached
    short = risk.size(signal(-1, 100.0, 101.0, 97.0), account())
    assert (short.quantity, short.notional) == (pytest.approx(100.0, rel=REL), pytest.approx(10_000.0, rel=REL))
    assert (short.stop_loss, short.take_profit, short.reason) == (101.0, 97.0, "")


def test_sizing_uses_equity_with_the_unrealized_pnl(books: Books) -> None:
    risk = bare(books, risk_per_trade=0.02)
    # equity = 10,000 + 500 unrealized = 10,500; 2 % of it = 210 at risk over a 2 % stop -> notional 10,500
    # (available 10,000 - 1,000 margin = 9,000 -> margin cap 9,000 * 3 * 0.99 = 26,730 is not reached)
    sizing = risk.size(signal(1, 100.0, 98.0, 104.0), account(margin=1_000.0, unrealized=500.0))
    assert sizing.notional == pytest.approx(10_500.0, rel=REL)
    assert sizing.quantity == pytest.approx(105.0, rel=REL)


def test_a_cheap_coin_under_one_dollar_is_sized_like_any_other(books: Books) -> None:
    risk = bare(books)
    # entry 0.5, stop 0.49 (2 %), take 0.52: notional 100 / 0.02 = 5,000 -> quantity 5,000 / 0.5 = 10,000
    sizing = risk.size(signal(1, 0.5, 0.49, 0.52), account())
    assert sizing.notional == pytest.approx(5_000.0, rel=1e-9)
    assert sizing.quantity == pytest.approx(10_000.0, rel=1e-9)


def test_max_notional_per_position_caps_the_size(books: Books) -> None:
    risk = bare(books, max_notional_per_position=2_000.0)
    # uncapped 5,000 (as above) -> capped at 2,000, quantity 2,000 / 100 = 20
    sizing = risk.size(signal(1, 100.0, 98.0, 104.0), account())
    assert (sizing.quantity, sizing.notional, sizing.reason) == (pytest.approx(20.0, rel=REL),
                                                                 pytest.approx(2_000.0, rel=REL), "")
    # a cap above the risk-based size changes nothing
    loose = bare(books, max_notional_per_position=6_000.0).size(signal(1, 100.0, 98.0, 104.0), account())
    assert loose.notional == pytest.approx(5_000.0, rel=REL)


def test_the_size_is_capped_by_what_the_available_balance_can_margin(books: Books) -> None:
    # equity 1,000, risk 5 %, stop 1 % away: 1,000 * 0.05 / 0.01 = 5,000 wanted;
    # available 1,000 - 500 margin = 500 -> 500 * leverage 3 * 0.99 = 1,485 can be margined
    acct = account(1_000.0, margin=500.0)
    sig = signal(1, 100.0, 99.0, 104.0)
    sizing = bare(books, risk_per_trade=0.05).size(sig, acct)
    assert sizing.notional == pytest.approx(1_485.0, rel=REL)
    assert sizing.quantity == pytest.approx(14.85, rel=REL)
    # with 10x leverage: 500 * 10 * 0.99 = 4,950
    assert bare(books, risk_per_trade=0.05, leverage=10).size(sig, acct).notional == pytest.approx(4_950.0,
                                                                                                      rel=REL)
    # both caps: the smaller one wins (cap 2,000 > 1,485 margin; cap 1,000 < 1,485)
    assert bare(books, risk_per_trade=0.05, max_notional_per_position=2_000.0).size(
        sig, acct).notional == pytest.approx(1_485.0, rel=REL)
    assert bare(books, risk_per_trade=0.05, max_notional_per_position=1_000.0).size(
        sig, acct).notional == pytest.approx(1_000.0, rel=REL)


def test_a_small_balance_gives_a_small_position(books: Books) -> None:
    # available 0.1: 0.1 * 3 * 0.99 = 0.297 notional, quantity 0.00297 (the exchange's minimum is not ours)
    sizing = bare(books).size(signal(1, 100.0, 98.0, 104.0), account(1_000.0, margin=999.9))
    assert sizing.notional == pytest.approx(0.297, rel=1e-9)
    assert sizing.quantity == pytest.approx(0.00297, rel=1e-9)
    assert sizing.reason == ""


@pytest.mark.parametrize("margin", [1_000.0, 1_200.0], ids=["none-left", "negative"])
def test_no_available_balance_means_no_trade(books: Books, margin: float) -> None:
    sizing = bare(books).size(signal(1, 100.0, 98.0, 104.0), account(1_000.0, margin=margin))
    assert sizing == Sizing(0.0, 0.0, 98.0, 104.0, "no available balance")


@pytest.mark.parametrize("entry", [None, 0.0, -5.0])
def test_a_signal_without_an_entry_price_is_not_sized(books: Books, entry: float | None) -> None:
    sizing = manager(books).size(signal(1, entry, 98.0, 104.0), account())
    assert sizing == Sizing(0.0, 0.0, 0.0, 0.0, "the signal has no entry")


def test_a_signal_without_a_direction_is_not_sized(books: Books) -> None:
    assert manager(books).size(signal(0, 100.0, 98.0, 104.0), account()) == Sizing(0.0, 0.0, 0.0, 0.0,
                                                                                      "the signal has no entry")


@pytest.mark.parametrize(("stop", "take"), [(None, 104.0), (98.0, None), (None, None)])
def test_from_signal_needs_both_levels(books: Books, stop: float | None, take: float | None) -> None:
    sizing = manager(books).size(signal(1, 100.0, stop, take), account())
    assert sizing == Sizing(0.0, 0.0, 0.0, 0.0, "the signal has no stop-loss or take-profit")


WRONG_SIDE = "stop-loss or take-profit on the wrong side of the entry"


@pytest.mark.parametrize(("direction", "stop", "take"), [
    (1, 101.0, 104.0),  # long, stop above the entry
    (1, 98.0, 97.0),  # long, take-profit below the entry
    (1, 100.0, 104.0),  # long, stop at the entry (no distance to size over)
    (1, 98.0, 100.0),  # long, take-profit at the entry
    (-1, 99.0, 97.0),  # short, stop below the entry
    (-1, 101.0, 103.0),  # short, take-profit above the entry
    (-1, 100.0, 97.0),  # short, stop at the entry
    (-1, 101.0, 100.0),  # short, take-profit at the entry
])
def test_levels_on_the_wrong_side_of_the_entry_are_refused(books: Books, direction: int, stop: float,
                                                           take: float) -> None:
    sizing = manager(books).size(signal(direction, 100.0, stop, take), account())
    assert sizing == Sizing(0.0, 0.0, stop, take, WRONG_SIDE)


# ------------------------------------------------------------------ 5: fixed-percentage exits


@pytest.mark.parametrize(("direction", "stop", "take"), [(1, 196.0, 210.0), (-1, 204.0, 190.0)], ids=["long", "short"])
def test_fixed_percentage_exits_are_placed_around_the_entry(books: Books, direction: int, stop: float,
                                                            take: float) -> None:
    risk = bare(books, from_signal=False, stop_loss_pct=2.0, take_profit_pct=5.0)
    # entry 200: stop 2 % = 4 away, take-profit 5 % = 10 away, each on its side of the trade; the signal's own
    # levels are ignored. Notional 10,000 * 1 % / 2 % = 5,000 -> quantity 25
    sizing = risk.size(signal(direction, 200.0, 150.0, 250.0), account())
    assert sizing.stop_loss == pytest.approx(stop, rel=REL)
    assert sizing.take_profit == pytest.approx(take, rel=REL)
    assert sizing.notional == pytest.approx(5_000.0, rel=REL)
    assert sizing.quantity == pytest.approx(25.0, rel=REL)
    assert sizing.reason == ""
    # and without any levels on the signal
    levels = risk.size(signal(direction, 200.0, None, None), account())
    assert (levels.stop_loss, levels.take_profit) == (pytest.approx(stop, rel=REL), pytest.approx(take, rel=REL))


def test_fixed_percentage_exits_are_checked_against_the_costs_too(books: Books) -> None:
    # take-profit 0.2 % < 2 x round-trip costs 2 * (0.05 % + 0.02 %) = 0.28 %
    risk = manager(books, from_signal=False, stop_loss_pct=1.0, take_profit_pct=0.2)
    sizing = risk.size(signal(-1, 100.0, None, None), account())
    assert (sizing.quantity, sizing.notional) == (0.0, 0.0)
    assert (sizing.stop_loss, sizing.take_profit) == (pytest.approx(101.0, rel=REL), pytest.approx(99.8, rel=REL))
    assert sizing.reason == "take-profit 0.200 % away does not cover 2 x the round-trip costs (0.140 %)"


# ------------------------------------------------------------------ 13: the cost-cover edge

# Fees chosen exactly representable in binary so the edge is exact: taker fee 2^-11, slippage 10^4 * 2^-10 bps
# (= 2^-10 as a fraction). Round trip 2 * (2^-11 + 2^-10) = 3 * 2^-10; twice that is 3 * 2^-9 = 0.005859375.
# At entry 64 that is a take-profit 64 * 3 * 2^-9 = 0.375 away: 64.375 for a long, 63.625 for a short.
EXACT_COSTS = {"taker_fee": 2.0**-11, "slippage_bps": 10_000 * 2.0**-10}


@pytest.mark.parametrize(("direction", "stop", "edge", "inward"), [(1, 63.0, 64.375, -1e-6), (-1, 65.0, 63.625, 1e-6)],
                         ids=["long", "short"])
def test_a_take_profit_must_cover_twice_the_round_trip_costs(books: Books, direction: int, stop: float, edge: float,
                                                             inward: float) -> None:
    risk = manager(books, **EXACT_COSTS)
    at_edge = risk.size(signal(direction, 64.0, stop, edge), account())
    assert at_edge.reason == "" and at_edge.quantity > 0
    # a hair closer (1e-6 in price, 1.6e-8 of the entry) does not pay for itself
    inside = risk.size(signal(direction, 64.0, stop, edge + inward), account())
    assert (inside.quantity, inside.notional, inside.stop_loss, inside.take_profit) == (0.0, 0.0, stop, edge + inward)
    # 100 * 0.375 / 64 = 0.5859... % away; costs 100 * 3 * 2^-10 = 0.29296875 %
    assert inside.reason == "take-profit 0.586 % away does not cover 2 x the round-trip costs (0.293 %)"


def test_the_default_costs_need_a_take_profit_0_28_percent_away(books: Books) -> None:
    risk = manager(books)  # 2 * 2 * (0.0005 + 0.0002) = 0.0028
    assert risk.size(signal(1, 100.0, 98.0, 100.2801), account()).reason == ""
    blocked = risk.size(signal(1, 100.0, 98.0, 100.2799), account())
    assert blocked.quantity == 0.0
    assert blocked.reason == "take-profit 0.280 % away does not cover 2 x the round-trip costs (0.140 %)"


# ------------------------------------------------------------------ entry orders


def test_the_entry_order_carries_the_sizing_the_signal_and_the_leverage(books: Books) -> None:
    risk = bare(books, leverage=5)
    sig = signal(-1, 100.0, 101.0, 97.0, cluster=cluster())
    sizing = risk.size(sig, account())
    order = risk.entry_order(sig, sizing, strategy="liquidation_magnet", now_ms=T + 5)
    assert order == EntryOrder(client_id=entry_client_id(sig, "liquidation_magnet"), symbol=BTC, direction=-1,
                               quantity=sizing.quantity, reference_price=100.0, stop_loss=101.0, take_profit=97.0,
                               leverage=5, created_at=T + 5, strategy="liquidation_magnet", reason="test idea")
    assert order.side == "sell"
    assert order.quantity == pytest.approx(100.0, rel=REL)  # 10,000 * 1 % / 1 % = 10,000 notional at 100


# ------------------------------------------------------------------ 8: client ids


def expected_id(idea: str, *, strategy: str = "liquidation_magnet", symbol: str = BTC, direction: int = 1) -> str:
    """The documented recipe: ``lh-`` + the first 24 hex digits of SHA-256 of ``strategy|symbol|direction|idea``."""
    text = f"{strategy}|{symbol}|{direction}|{idea}"
    return "lh-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def test_client_ids_fit_binance_and_are_stable_across_releases() -> None:
    # a restart after an upgrade must find the entry it already placed: the recipe is part of the contract
    with_cluster = signal(cluster=cluster("BTCUSDT-short-1737997140000"))
    assert entry_client_id(with_cluster, "liquidation_magnet") == expected_id("BTCUSDT-short-1737997140000")
    with_origin = signal(-1, 100.0, 101.0, 97.0, origin="long-1737997100000")
    assert entry_client_id(with_origin, "cascade_fade") == expected_id("long-1737997100000", strategy="cascade_fade",
                                                                       direction=-1)
    bare = signal(at=T)
    assert entry_client_id(bare, "liquidation_magnet") == expected_id(str(T))
    for sig in (with_cluster, with_origin, bare):
        cid = entry_client_id(sig, "liquidation_magnet")
        assert re.fullmatch(r"lh-[0-9a-f]{24}", cid), cid  # 27 characters of [.A-Z:/a-z0-9_-]: Binance allows 36


def test_different_clusters_are_different_ideas() -> None:
    a = entry_client_id(signal(cluster=cluster("BTCUSDT-short-1737997140000")), "liquidation_magnet")
    b = entry_client_id(signal(cluster=cluster("BTCUSDT-short-1737997260000")), "liquidation_magnet")
    assert a != b


def test_without_a_cluster_different_origins_are_different_ideas() -> None:
    a = entry_client_id(signal(origin="long-1737997100000"), "cascade_fade")
    b = entry_client_id(signal(origin="long-1737997220000"), "cascade_fade")
    assert a != b


def test_without_cluster_and_origin_each_signal_time_is_its_own_idea() -> None:
    a = entry_client_id(signal(at=T), "liquidation_magnet")
    b = entry_client_id(signal(at=T + 10_000), "liquidation_magnet")
    assert a != b


def test_the_same_idea_gets_the_same_id_whatever_else_changes() -> None:
    # the cluster names the idea: a later call with another price, levels, time and origin is the same trade
    first = signal(1, 100.0, 98.0, 104.0, cluster=cluster("BTCUSDT-short-1737997140000", 104.0), at=T)
    again = signal(1, 100.5, 98.5, 104.2, cluster=cluster("BTCUSDT-short-1737997140000", 104.2), at=T + 10_000,
                   origin="ignored while a cluster is given")
    assert entry_client_id(first, "liquidation_magnet") == entry_client_id(again, "liquidation_magnet")
    # the origin names it without a cluster, whatever the signal's time
    a = signal(origin="long-1737997100000", at=T)
    b = signal(1, 101.0, 99.0, 105.0, origin="long-1737997100000", at=T + 30_000)
    assert entry_client_id(a, "cascade_fade") == entry_client_id(b, "cascade_fade")


def test_strategy_symbol_and_direction_are_part_of_the_idea() -> None:
    base = signal(cluster=cluster())
    cid = entry_client_id(base, "liquidation_magnet")
    assert cid != entry_client_id(base, "cascade_fade")
    assert cid != entry_client_id(signal(symbol=ETH, cluster=cluster()), "liquidation_magnet")
    assert cid != entry_client_id(signal(-1, 100.0, 102.0, 96.0, cluster=cluster()), "liquidation_magnet")


# ------------------------------------------------------------------ 11: daily loss and drawdown


def test_the_daily_loss_limit_blocks_exactly_at_the_limit(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=5.0, max_drawdown_pct=None)
    assert risk.account_block(account(), T) is None  # today's start: 10,000
    # limit: 10,000 * (1 - 5 / 100) = 9,500
    assert risk.account_block(account(9_500.01), T + MINUTE) is None
    block = risk.account_block(account(9_500.0), T + 2 * MINUTE)
    assert block == "daily loss limit: equity 9500.00 is 5.00 % below today's start 10000.00 (limit 5 %)"
    # the unrealized PnL counts: wallet 9,800 with 300 open loss is 9,500 too
    assert risk.account_block(account(9_800.0, unrealized=-300.0), T + 3 * MINUTE) == block
    assert risk.entry_block(BTC, account(9_500.0), set(), T + 4 * MINUTE) == block
    assert books.halt_reason() is None  # a daily limit does not halt: it lifts by itself


def test_the_daily_loss_limit_message_shows_the_loss(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=2.5, max_drawdown_pct=None)
    assert risk.account_block(account(8_000.0), T) is None  # today's start: 8,000
    # 7,700 is 300 / 8,000 = 3.75 % below; limit 8,000 * 0.975 = 7,800
    assert risk.account_block(account(7_800.01), T + MINUTE) is None
    assert risk.account_block(account(7_700.0), T + MINUTE) == (
        "daily loss limit: equity 7700.00 is 3.75 % below today's start 8000.00 (limit 2.5 %)")


def test_today_starts_with_the_first_equity_of_the_utc_day(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=5.0, max_drawdown_pct=None)
    assert risk.account_block(account(), DAY0 + HOUR) is None  # 10,000 at 01:00
    assert risk.account_block(account(9_000.0), DAY0 + 23 * HOUR) is not None  # 10 % down: blocked until midnight
    assert risk.account_block(account(9_000.0), DAY0 + DAY - 1) is not None  # 23:59:59.999
    assert risk.account_block(account(9_000.0), DAY0 + DAY) is None  # a new UTC day starts at 9,000
    # 9,000 * 0.95 = 8,550 is the new day's limit
    assert risk.account_block(account(8_550.01), DAY0 + DAY + HOUR) is None
    assert risk.account_block(account(8_550.0), DAY0 + DAY + HOUR) == (
        "daily loss limit: equity 8550.00 is 5.00 % below today's start 9000.00 (limit 5 %)")


def test_a_tiny_account_has_a_daily_limit_too(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=5.0, max_drawdown_pct=None)
    assert risk.account_block(account(0.5), T) is None
    block = risk.account_block(account(0.4), T + MINUTE)  # 20 % below 0.5
    assert block is not None and block.startswith("daily loss limit: equity 0.40 is 20.00 % below today's start 0.50")


def test_an_account_starting_the_day_at_zero_is_not_a_daily_loss(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=5.0, max_drawdown_pct=None)
    assert risk.account_block(account(0.0), T) is None
    assert risk.account_block(account(0.0), T + MINUTE) is None  # no division by a zero start


def test_without_limits_any_loss_is_allowed(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=None, max_drawdown_pct=None)
    books.snapshot(account(at=T))  # peak 10,000
    assert risk.account_block(account(), T) is None
    assert risk.account_block(account(100.0), T + MINUTE) is None  # 99 % down
    assert books.halt_reason() is None


DRAWDOWN_8000 = ("max drawdown: equity 8000.00 is 20.00 % below the peak 10000.00 (limit 20 %); "
                 "`liquidation-hunter resume` lifts it")


def test_the_drawdown_limit_halts_exactly_at_the_limit_and_writes_the_halt(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=None, max_drawdown_pct=20.0)
    books.snapshot(account(at=T))  # peak 10,000; limit 10,000 * (1 - 20 / 100) = 8,000
    assert risk.account_block(account(8_000.01), T + MINUTE) is None
    assert books.halt_reason() is None
    assert risk.account_block(account(8_000.0), T + 2 * MINUTE) == f"halted: {DRAWDOWN_8000}"
    assert books.halt_reason() == DRAWDOWN_8000  # in the books: `status` shows it, a restart keeps it
    # the halt stays even when equity recovers, until `resume` lifts it
    assert risk.entry_block(BTC, account(12_000.0), set(), T + 3 * MINUTE) == f"halted: {DRAWDOWN_8000}"
    books.set_halt(None, T + 4 * MINUTE)
    books.reset_peak(8_000.0, T + 4 * MINUTE)
    assert risk.entry_block(BTC, account(8_000.0), set(), T + 5 * MINUTE) is None


def test_the_drawdown_halt_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "restart.sqlite"
    with Books.open(path, starting_wallet=START, now_ms=DAY0) as books:
        books.snapshot(account(at=T))
        risk = manager(books, daily_loss_limit_pct=None, max_drawdown_pct=20.0)
        assert risk.account_block(account(7_000.0), T + MINUTE) is not None
    with Books.open(path, now_ms=T + HOUR) as books:
        block = manager(books, max_drawdown_pct=20.0).entry_block(BTC, account(), set(), T + HOUR)
        assert block == ("halted: max drawdown: equity 7000.00 is 30.00 % below the peak 10000.00 (limit 20 %); "
                         "`liquidation-hunter resume` lifts it")


def test_drawdown_counts_from_the_peak_not_the_start(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=None, max_drawdown_pct=10.0)
    books.snapshot(account(at=T))
    books.snapshot(account(12_000.0, at=T + HOUR))  # new peak 12,000; limit 12,000 * 0.9 = 10,800
    assert risk.account_block(account(10_800.01), T + 2 * HOUR) is None
    assert risk.account_block(account(10_800.0), T + 2 * HOUR) == (
        "halted: max drawdown: equity 10800.00 is 10.00 % below the peak 12000.00 (limit 10 %); "
        "`liquidation-hunter resume` lifts it")


def test_no_recorded_peak_no_drawdown(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=None, max_drawdown_pct=20.0)
    assert books.peak_equity() is None
    assert risk.account_block(account(1_000.0), T) is None
    assert books.halt_reason() is None


def test_a_tiny_account_halts_on_drawdown_and_a_zero_peak_does_not_crash(books: Books, tmp_path: Path) -> None:
    risk = manager(books, daily_loss_limit_pct=None, max_drawdown_pct=20.0)
    books.snapshot(account(0.5, at=T))  # peak 0.5 (below one USDT); limit 0.4
    block = risk.account_block(account(0.3), T + MINUTE)
    assert block is not None and block.startswith("halted: max drawdown: equity 0.30 is 40.00 % below the peak 0.50")
    with Books.open(tmp_path / "zero.sqlite", starting_wallet=START, now_ms=DAY0) as empty:
        empty.snapshot(account(0.0, at=T))  # the first snapshot was of an empty account: peak 0
        assert manager(empty, daily_loss_limit_pct=None, max_drawdown_pct=20.0).account_block(account(0.0),
                                                                                              T) is None
        assert empty.halt_reason() is None


def test_with_both_limits_reached_the_drawdown_halt_is_written_at_once(books: Books) -> None:
    risk = manager(books, daily_loss_limit_pct=5.0, max_drawdown_pct=20.0)
    books.snapshot(account(at=T))  # peak 10,000
    assert risk.account_block(account(), T) is None  # today's start 10,000
    # 30 % down: both limits; the halt is the one that outlives the day, so it is written now
    halted = ("halted: max drawdown: equity 7000.00 is 30.00 % below the peak 10000.00 (limit 20 %); "
              "`liquidation-hunter resume` lifts it")
    assert risk.entry_block(BTC, account(7_000.0), set(), T + MINUTE) == halted
    halt = books.halt_reason()
    assert halt is not None and halt.startswith("max drawdown")
    # the next UTC day starts at 7,000 (no daily loss), but the bot stays halted
    assert risk.entry_block(BTC, account(7_000.0), set(), DAY0 + DAY + HOUR) == halted


def test_a_manual_halt_blocks_every_entry(books: Books) -> None:
    risk = manager(books)
    books.set_halt("halted from the command line", T)
    assert risk.entry_block(BTC, account(), set(), T + MINUTE) == "halted: halted from the command line"
    books.set_halt(None, T + 2 * MINUTE)
    assert risk.entry_block(BTC, account(), set(), T + 3 * MINUTE) is None


# ------------------------------------------------------------------ 11: the UTC day on a non-UTC host

# (zone, its UTC offset in seconds in January 2025)
ZONES = [("Pacific/Kiritimati", 14 * 3600), ("America/Los_Angeles", -8 * 3600)]


@pytest.fixture(params=ZONES, ids=[z for z, _ in ZONES])
def host_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    """The process runs in another time zone (``TZ`` + ``time.tzset``), restored afterwards."""
    zone, offset = request.param
    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        assert time.localtime(T / 1000).tm_gmtoff == offset, f"time zone {zone} is not installed"
        yield zone
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_utc_day_is_the_utc_date(host_tz: str) -> None:
    assert utc_day(DAY0) == "2025-01-27"  # 00:00Z
    assert utc_day(DAY0 - 1) == "2025-01-26"  # 23:59:59.999Z the day before
    assert utc_day(DAY0 + DAY - 1) == "2025-01-27"
    assert utc_day(DAY0 + DAY) == "2025-01-28"
    # 10:00Z is local midnight in Kiritimati (UTC+14) and 02:00 local in Los Angeles (UTC-8) the day before
    assert utc_day(DAY0 + 10 * HOUR) == "2025-01-27"
    assert utc_day(DAY0 + 2 * HOUR) == "2025-01-27"  # 18:00 on the 26th in Los Angeles
    # a date far from the others: 2000-02-29T12:00:00Z
    assert utc_day(951_825_600_000) == "2000-02-29"
    assert utc_day(DAY0 + 10 * HOUR) == datetime.fromtimestamp((DAY0 + 10 * HOUR) / 1000, UTC).date().isoformat()


def test_the_daily_limit_resets_at_utc_midnight_not_local_midnight(books: Books, host_tz: str) -> None:
    risk = manager(books, daily_loss_limit_pct=5.0, max_drawdown_pct=None)
    assert risk.account_block(account(), DAY0 + HOUR) is None  # 01:00Z: today's start 10,000
    blocked = "daily loss limit: equity 9000.00 is 10.00 % below today's start 10000.00 (limit 5 %)"
    # local midnight passes inside the UTC day (Kiritimati 10:00Z, Los Angeles 08:00Z): still the same day
    for hour in (8, 10, 11, 20, 23):
        assert risk.account_block(account(9_000.0), DAY0 + hour * HOUR) == blocked, hour
    assert risk.account_block(account(9_000.0), DAY0 + DAY - 1) == blocked
    assert risk.account_block(account(9_000.0), DAY0 + DAY) is None  # 00:00Z: a new day starting at 9,000


# ------------------------------------------------------------------ 13: cooldown and time exits


def test_the_cooldown_ends_exactly_cooldown_minutes_after_the_last_exit(books: Books) -> None:
    risk = manager(books, cooldown_minutes=15.0)
    exit_at = T - HOUR
    closed_position(books, BTC, opened_at=exit_at - HOUR, closed_at=exit_at)
    assert risk.entry_block(BTC, account(), set(), exit_at + 15 * MINUTE) is None
    assert risk.entry_block(BTC, account(), set(), exit_at + 15 * MINUTE - 1) == (
        "cooldown after the last exit (0.0 min left)")
    assert risk.entry_block(BTC, account(), set(), exit_at + 6 * MINUTE) == (
        "cooldown after the last exit (9.0 min left)")
    # 10.25 min after: 4.75 min left (exact in binary; rounds half to even)
    assert risk.entry_block(BTC, account(), set(), exit_at + 615_000) == "cooldown after the last exit (4.8 min left)"
    assert risk.entry_block(BTC, account(), set(), exit_at) == "cooldown after the last exit (15.0 min left)"
    # the cooldown is per symbol
    assert risk.entry_block(ETH, account(), set(), exit_at + MINUTE) is None


def test_the_cooldown_follows_the_latest_exit(books: Books) -> None:
    risk = manager(books, cooldown_minutes=30.0)
    closed_position(books, BTC, opened_at=T - 3 * HOUR, closed_at=T - 2 * HOUR)
    closed_position(books, BTC, opened_at=T - HOUR, closed_at=T - 20 * MINUTE)
    assert risk.entry_block(BTC, account(), set(), T) == "cooldown after the last exit (10.0 min left)"
    assert risk.entry_block(BTC, account(), set(), T + 10 * MINUTE) is None


def test_a_fractional_cooldown(books: Books) -> None:
    risk = manager(books, cooldown_minutes=0.5)  # 30 s
    closed_position(books, BTC, opened_at=T - HOUR, closed_at=T)
    assert risk.entry_block(BTC, account(), set(), T + 29_999) == "cooldown after the last exit (0.0 min left)"
    assert risk.entry_block(BTC, account(), set(), T + 30_000) is None


def test_the_time_exit_is_due_exactly_after_time_exit_minutes(books: Books) -> None:
    risk = manager(books, time_exit_minutes=240.0)
    opened = T - DAY
    assert not risk.time_exit_due(opened, opened + 240 * MINUTE - 1)
    assert risk.time_exit_due(opened, opened + 240 * MINUTE)
    assert risk.time_exit_due(opened, opened + 241 * MINUTE)
    assert not risk.time_exit_due(opened, opened)
    half = manager(books, time_exit_minutes=0.5)
    assert not half.time_exit_due(opened, opened + 29_999)
    assert half.time_exit_due(opened, opened + 30_000)


def test_without_a_time_exit_nothing_is_ever_due(books: Books) -> None:
    risk = manager(books, time_exit_minutes=None)
    assert not risk.time_exit_due(T, T + 7 * DAY)
