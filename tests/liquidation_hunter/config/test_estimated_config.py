"""The ``estimated`` section (issue 14): off by default, every bad value named by key, the validation report read
and refused by name, the REST budget refused in one line naming the numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from liquidation_hunter.config.model import BotConfig, load_config
from live_heatmap import ConfigError
from live_heatmap.estimated.budget import estimated_budget
from live_heatmap.estimated.config import WINDOWS_MS

BASE: dict[str, Any] = {"symbols": ["BTCUSDT", "ETHUSDT"]}


def config(estimated: dict[str, Any], **top: Any) -> BotConfig:
    return BotConfig.from_mapping({**BASE, **top, "estimated": {"enabled": True, **estimated}})


def test_off_by_default_and_the_model_settings_follow_the_section() -> None:
    assert BotConfig.from_mapping(BASE).estimated.enabled is False
    est = config({"window": "24h", "attribution": "candle", "leverage_mix": [[10, 0.5], [20, 0.5]]}).estimated
    model = est.model_config()
    assert (model.window_ms, model.attribution, model.leverage_mix) == (WINDOWS_MS["24h"], "candle",
                                                                        ((10.0, 0.5), (20.0, 0.5)))
    assert est.validation().validated is False


@pytest.mark.parametrize(("estimated", "top", "key"), [
    ({"window": "1h"}, {}, "estimated.window"),
    ({"attribution": "maker"}, {}, "estimated.attribution"),
    ({"leverage_mix": [[5, 0.5]]}, {}, "estimated.leverage_mix"),
    ({"leverage_mix": [[1, 1.0]]}, {}, "estimated.leverage_mix"),
    ({"oi_poll_seconds": 5}, {}, "estimated.oi_poll_seconds"),
    ({"enable": True}, {}, "estimated.enable"),
    ({}, {"symbols": "all"}, "estimated.enabled"),
    ({}, {"exchange": {"mark_price": False}}, "estimated.enabled"),
])
def test_a_bad_value_names_its_key(estimated: dict[str, Any], top: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(estimated, **top)
    assert caught.value.key == key


def test_a_setting_over_half_of_binances_weight_is_refused_naming_the_numbers() -> None:
    symbols = [f"S{i}USDT" for i in range(120)]
    budget = estimated_budget(len(symbols), 60.0, WINDOWS_MS["7d"])
    assert not budget.ok
    with pytest.raises(ConfigError) as caught:
        config({"window": "7d"}, symbols=symbols)
    assert caught.value.key == "estimated.oi_poll_seconds"
    assert budget.line() in str(caught.value)
    assert "\n" not in str(caught.value)
    assert config({"window": "12h"}, symbols=symbols[:10]).estimated.enabled


@pytest.mark.parametrize("validated", [True, False])
def test_the_validation_report_decides_validated(tmp_path: Path, validated: bool) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "v.json").write_text(json.dumps({"validated": validated, "reasons": ["G above 0"]}))
    file = tmp_path / "bot.yaml"
    file.write_text(yaml.safe_dump({**BASE, "estimated": {"enabled": True, "validation_report": "reports/v.json"}}))
    verdict = load_config(file).estimated.validation()
    assert verdict.validated is validated
    assert "v.json" in verdict.summary


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({"validated": "yes"}), json.dumps([1])])
def test_a_missing_or_unreadable_report_is_a_config_error_naming_it(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "v.json").write_text(content)
    file = tmp_path / "bot.yaml"
    file.write_text(yaml.safe_dump({**BASE, "estimated": {"enabled": True, "validation_report": "v.json"}}))
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    assert caught.value.key == "estimated.validation_report"
    assert str(tmp_path / "v.json") in str(caught.value)
