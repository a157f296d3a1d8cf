"""The heatmap across venues: the venue kept per event, dedupe per venue, ``exchanges=`` views, each cluster's
notional per venue, accepted events per venue (issue 13)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from venue_events import AT, MINUTE, three_venues, venue_event

from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap, Side
from live_heatmap.grid import grid_from_heatmap
from live_heatmap.venue import Venue

BINANCE, BYBIT, OKX = Venue.BINANCE, Venue.BYBIT, Venue.OKX


def fed(events: list[LiquidationEvent], *, one_by_one: bool = True, **params: float) -> LiveLiquidationHeatmap:
    heatmap = LiveLiquidationHeatmap(clock=lambda: AT, **params)  # type: ignore[arg-type]
    if one_by_one:
        for e in events:
            heatmap.ingest(e)
    else:
        heatmap.ingest_many(events)
    return heatmap


def many(venue: Venue, n: int = 200, symbol: str = "BTCUSDT") -> list[LiquidationEvent]:
    """``n`` distinct events of ``venue``: enough a symbol for ingest_many's block path."""
    return [venue_event(venue, 100.0 + i * 0.01, 1.0 + i, age_min=30 - i * 0.1, symbol=symbol,
                        venue_symbol="BTC-USDT-SWAP" if venue is OKX else "") for i in range(n)]


def same_tuple(e: LiquidationEvent, venue: Venue) -> LiquidationEvent:
    """``e`` as published by ``venue`` (everything else equal)."""
    return e._replace(exchange=venue, venue_symbol="BTC-USDT-SWAP" if venue is OKX else "")


@pytest.mark.parametrize("one_by_one", [True, False], ids=["ingest", "ingest_many block path"])
def test_the_same_tuple_from_two_venues_is_two_events_a_replay_is_one(one_by_one: bool) -> None:
    binance = many(BINANCE)
    bybit = [same_tuple(e, BYBIT) for e in binance]
    assert [e.dedupe_key[1:] for e in binance] == [e.dedupe_key[1:] for e in bybit]  # only the venue differs
    heatmap = fed([*binance, *bybit], one_by_one=one_by_one)
    assert heatmap.event_count("BTCUSDT") == 400
    if one_by_one:
        assert not any(heatmap.ingest(e) for e in bybit)  # a replayed Bybit frame: nothing new
    else:
        report = heatmap.ingest_many(bybit)
        assert (report.accepted, report.duplicates) == (0, 200)
    assert heatmap.event_count("BTCUSDT") == 400
    status = heatmap.status()
    assert status.accepted_by_venue == {"binance": 200, "bybit": 200} and status.duplicates == 200
    assert heatmap.event_count("BTCUSDT", exchanges=["bybit"]) == 200


@pytest.mark.parametrize("one_by_one", [True, False], ids=["ingest", "ingest_many block path"])
def test_events_come_back_with_all_their_fields(one_by_one: bool) -> None:
    events = [*many(BINANCE), *many(BYBIT), *many(OKX)]
    heatmap = fed(events, one_by_one=one_by_one)
    held = heatmap.events("BTCUSDT")
    assert sorted(held) == sorted(events)  # every one of the 11 fields, OKX's venue symbol too
    assert all(type(e.exchange) is Venue for e in held)
    assert heatmap.events("BTCUSDT", exchanges=["okx"]) == [e for e in held if e.exchange == OKX]
    assert {e.venue_symbol for e in held if e.exchange == OKX} == {"BTC-USDT-SWAP"}
    assert {e.venue_symbol for e in held if e.exchange != OKX} == {""}


def test_events_since_carries_the_venue_and_filters() -> None:
    events = three_venues()
    heatmap = fed(events)
    cols = heatmap.events_since("BTCUSDT", 0)
    assert [Venue.BINANCE if c == 0 else Venue.BYBIT if c == 1 else Venue.OKX for c in cols.exchange.tolist()] == [
        e.exchange for e in events]
    since = AT - 12 * MINUTE
    bybit_okx = heatmap.events_since("BTCUSDT", since, exchanges=[BYBIT, "okx"])
    expected = [e for e in events if e.trade_time >= since and e.exchange != BINANCE]
    assert bybit_okx.trade_time.tolist() == [e.trade_time for e in expected]
    assert bybit_okx.price.tolist() == [e.price for e in expected]


def test_unknown_or_no_venue_is_an_error() -> None:
    heatmap = fed(three_venues())
    with pytest.raises(ValueError, match=r"unknown exchange 'kraken' \(known: binance, bybit, okx\)"):
        heatmap.get_clusters("BTCUSDT", exchanges=["bybit", "kraken"])
    with pytest.raises(ValueError, match="exchanges: expected at least one"):
        heatmap.events_since("BTCUSDT", 0, exchanges=[])


def test_a_cluster_made_of_two_venues_says_how_much_each_brought() -> None:
    heatmap = fed(three_venues())
    clusters = heatmap.get_clusters("BTCUSDT", now_ms=AT)
    by_side_level = {(c.side, round(c.price_level, -3)): c for c in clusters}
    assert set(by_side_level) == {("long", 100_000), ("short", 103_000), ("long", 97_000)}
    mixed = by_side_level[("long", 100_000)]
    assert mixed.liquidation_count == 6
    split = dict(mixed.notional_by_venue)
    events = three_venues()
    for venue in (BINANCE, BYBIT):
        assert split[venue] == pytest.approx(sum(e.notional for e in events
                                                 if e.exchange == venue and e.side == "long"), rel=1e-12)
    assert list(split) == [BINANCE, BYBIT]
    assert sum(split.values()) == pytest.approx(mixed.total_notional, rel=1e-12)
    assert mixed.to_dict()["notional_by_venue"] == {"binance": split[BINANCE], "bybit": split[BYBIT]}
    assert by_side_level[("long", 97_000)].notional_by_venue == ((OKX, by_side_level[("long", 97_000)].total_notional),)


@pytest.mark.parametrize("venues", [["binance"], ["bybit"], ["okx"], ["binance", "bybit"], ["bybit", "okx"]])
def test_a_venue_view_is_the_heatmap_of_those_venues_alone(venues: list[str]) -> None:
    """Clusters, strength included, as if only those venues had sent events: strength stays relative to the
    symbol's own events of the venues asked for."""
    events = three_venues()
    params = {"min_reference_notional": 1.0}  # the median of the events sets the reference, not the floor
    view = fed(events, **params).get_clusters("BTCUSDT", now_ms=AT, exchanges=venues)
    alone = fed([e for e in events if e.exchange in venues], **params).get_clusters("BTCUSDT", now_ms=AT)
    assert view == alone
    if venues == ["binance"]:
        assert view == []  # three Binance longs: fewer than min_cluster_size, whatever Bybit adds beside them
    everything = fed(events, **params).get_clusters("BTCUSDT", now_ms=AT)
    if venues == ["bybit", "okx"]:  # the same groups but the mixed one, with other strengths
        strengths = {c.cluster_id: c.strength for c in everything}
        assert any(strengths.get(c.cluster_id) not in (None, c.strength) for c in view)


def test_every_venue_present_is_the_default_view() -> None:
    heatmap = fed(three_venues())
    default = heatmap.get_clusters("BTCUSDT", now_ms=AT)
    assert heatmap.get_clusters("BTCUSDT", now_ms=AT, exchanges=["okx", "bybit", "binance"]) == default
    binance_bybit = fed([e for e in three_venues() if e.exchange != OKX])
    assert binance_bybit.get_clusters("BTCUSDT", now_ms=AT, exchanges=["binance", "bybit"]) is not None
    assert (binance_bybit.get_clusters("BTCUSDT", now_ms=AT, exchanges=["binance", "bybit"])
            == binance_bybit.get_clusters("BTCUSDT", now_ms=AT))


def test_venue_views_are_cached_until_the_next_rebuild() -> None:
    heatmap = fed(three_venues())
    first = heatmap.get_clusters("BTCUSDT", now_ms=AT, exchanges=["bybit"])
    rebuilds = heatmap.rebuilds
    heatmap.ingest(venue_event(BYBIT, 102_600.0, 5.0, age_min=1, side=Side.SHORT))
    assert heatmap.get_clusters("BTCUSDT", now_ms=AT + 1000, exchanges=["bybit"]) == first  # within update_interval
    assert heatmap.rebuilds == rebuilds
    heatmap.rebuild(now_ms=AT + 1000)
    short = next(c for c in heatmap.get_clusters("BTCUSDT", now_ms=AT + 1000, exchanges=["bybit"]) if c.side == "short")
    assert short.liquidation_count == 7
    later = heatmap.get_clusters("BTCUSDT", now_ms=AT + 6000, exchanges=["bybit"])  # update_interval passed
    assert [c.built_at for c in later] == [AT + 6000] * len(later)


def test_best_cluster_of_some_venues() -> None:
    heatmap = fed(three_venues())
    best = heatmap.get_best_cluster("BTCUSDT", 0.0, now_ms=AT, exchanges=["okx"])
    assert best is not None and best.notional_by_venue[0][0] == OKX and round(best.price_level, -3) == 97_000
    assert heatmap.get_best_cluster("BTCUSDT", 0.0, now_ms=AT, exchanges=["binance"]) is None


def test_the_grid_of_some_venues() -> None:
    heatmap = fed(three_venues())
    every = grid_from_heatmap(heatmap, "BTCUSDT", 30 * MINUTE, AT)
    assert every.events_by_venue() == {"binance": 3, "bybit": 9, "okx": 5} and every.exchanges is None
    bybit = grid_from_heatmap(heatmap, "BTCUSDT", 30 * MINUTE, AT, exchanges=["bybit"])
    assert bybit.events_by_venue() == {"bybit": 9} and bybit.exchanges == (BYBIT,)
    assert bybit.to_dict()["exchanges"] == ["bybit"]
    assert float(bybit.total.sum()) < float(every.total.sum())
    assert all(dict(c.notional_by_venue).keys() == {BYBIT} for c in bybit.clusters)


def test_status_counts_accepted_events_per_venue() -> None:
    heatmap = fed(three_venues())
    heatmap.ingest(three_venues()[0])  # a duplicate: not accepted
    status = heatmap.status()
    assert status.accepted_by_venue == {"binance": 3, "bybit": 9, "okx": 5}
    assert sum(status.accepted_by_venue.values()) == status.accepted == 17
    assert heatmap.stats()["accepted_by_venue"] == {"binance": 3, "bybit": 9, "okx": 5}
    assert heatmap.venues() == [BINANCE, BYBIT, OKX] and heatmap.venues("ETHUSDT") == []


def test_binance_only_clusters_carry_one_venue_and_the_same_numbers() -> None:
    events = [e._replace(exchange=BINANCE, price_kind=three_venues()[0].price_kind, venue_symbol="")
              for e in three_venues()]
    clusters = fed(events).get_clusters("BTCUSDT", now_ms=AT)
    assert clusters and all(c.notional_by_venue == ((BINANCE, c.total_notional),) for c in clusters)
    plain = [dataclasses.replace(c, notional_by_venue=()) for c in clusters]
    assert all(p.to_dict()["notional_by_venue"] == {} for p in plain)
    assert np.isclose(sum(c.total_notional for c in clusters), sum(e.notional for e in events))
