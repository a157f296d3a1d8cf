"""The config's ``stats`` section (issue 16): defaults, one-line errors naming the key."""

from __future__ import annotations

import pytest

from liquidation_hunter.config.model import BotConfig
from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.common.structs import ConfigError
from live_heatmap.stats import RiskThresholds, SymbolStatistics


def test_defaults_are_the_issue_thresholds() -> None:
    stats = BotConfig.from_mapping({}).stats
    assert (stats.extreme, stats.high, stats.moderate, stats.min_history) == (3.0, 2.0, 1.0, 50)
    built = SymbolStatistics.from_settings(LiveLiquidationHeatmap(), stats)
    assert built.thresholds == RiskThresholds() and built.baseline.min_history == 50
    assert built.baseline.sample_ms == 15 * 60_000 and built.bandwidth == 0.003


@pytest.mark.parametrize(("values", "key"), [
    ({"extreme": 1.5}, "stats.extreme"),
    ({"min_history": 1}, "stats.min_history"),
    ({"max_samples": 10, "min_history": 20}, "stats.max_samples"),
    ({"bandwidth": 0}, "stats.bandwidth"),
    ({"treshold": 2}, "stats"),
])
def test_a_bad_value_is_one_line_naming_the_key(values: dict[str, float], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        BotConfig.from_mapping({"stats": values})
    assert str(info.value).startswith(key) and "\n" not in str(info.value)
