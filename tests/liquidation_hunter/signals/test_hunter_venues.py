"""The hunter reads the venues it is told to (``hunter.exchanges``), through the heatmap's ``exchanges=``."""

from __future__ import annotations

import pytest
from venue_events import AT, three_venues

from liquidation_hunter import LiquidationHunter
from liquidation_hunter.signals.rules import HunterConfig
from live_heatmap import ConfigError, LiveLiquidationHeatmap
from live_heatmap.venue import Venue


def heatmap() -> LiveLiquidationHeatmap:
    hm = LiveLiquidationHeatmap(clock=lambda: AT)
    hm.ingest_many(three_venues())
    return hm


def test_config_takes_exchanges() -> None:
    assert HunterConfig().exchanges is None
    assert HunterConfig.from_mapping({"exchanges": ["bybit", "okx"]}).exchanges == (Venue.BYBIT, Venue.OKX)
    with pytest.raises(ConfigError, match="exchanges"):
        HunterConfig.from_mapping({"exchanges": ["kraken"]})
    with pytest.raises(ConfigError, match="exchanges"):
        HunterConfig.from_mapping({"exchanges": []})


def test_the_hunter_trades_the_clusters_of_its_venues() -> None:
    # Longs liquidated below the price are targets to go short toward: at 99,000 the OKX cluster at 97,000 is
    # 2 % below; the mixed Binance + Bybit cluster at 100,000 is above the price (traded through).
    hm = heatmap()
    config = {"min_strength": 0.0, "max_distance_pct": 5.0}
    every = LiquidationHunter(config, hm).evaluate("BTC/USDT:USDT", 99_000.0, now_ms=AT)
    assert every.direction == -1 and every.cluster is not None
    assert dict(every.cluster.notional_by_venue).keys() == {Venue.OKX}
    without_okx = LiquidationHunter(config, hm, exchanges=["binance", "bybit"])
    assert without_okx.exchanges == (Venue.BINANCE, Venue.BYBIT)
    signal = without_okx.evaluate("BTC/USDT:USDT", 99_000.0, now_ms=AT)
    # without OKX, no long cluster is below the price: the Bybit shorts 3.5 % above are the target (go long)
    assert signal.direction == 1 and signal.cluster is not None
    assert dict(signal.cluster.notional_by_venue).keys() == {Venue.BYBIT} and signal.cluster.side == "short"


def test_set_data_source_takes_exchanges() -> None:
    hm = heatmap()
    hunter = LiquidationHunter({"min_strength": 0.0})
    assert hunter.set_data_source("heatmap", heatmap=hm, exchanges="okx") is hm
    assert hunter.exchanges == (Venue.OKX,)
    assert hunter.evaluate("BTCUSDT", 99_000.0, now_ms=AT).cluster is not None
    hunter.set_data_source("heatmap", heatmap=hm)  # left out: the setting stands
    assert hunter.exchanges == (Venue.OKX,)
    hunter.set_exchanges(None)
    assert hunter.exchanges is None
    with pytest.raises(ValueError, match="exchanges: expected some of binance, bybit, okx"):
        hunter.set_exchanges(["ftx"])
