"""``GET /api/v1/estimated/{symbol}`` (issue 14): the estimated layer beside the observed one, over the real server on
127.0.0.1; and ``serve --history``, which builds the layer from fetched history up to the served moment."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import WIRE
from helpers import Client
from history_dir import BAR_MS, day_start_ms, write_history

from liquidation_hunter.api import ApiServer, ApiSource, source_from_recording
from liquidation_hunter.data.estimated_history import layer_from_history
from liquidation_hunter.data.history_bars import HistoryError
from liquidation_hunter.signals.rules import HunterConfig
from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.layer import EstimatedLayer, Validation

AT = 1_737_998_400_000  # 2025-01-27T17:20:00Z
DAY = date(2025, 1, 27)


def rising_bars(n: int, start: int = 1_700_000_000_000, close: float = 100.0) -> list[Bar]:
    """Open interest rising every bar at a steady price: the model opens levels on each."""
    out = []
    for i in range(n):
        c = close * (1 + 0.001 * i)
        out.append(Bar(start + i * BAR_MS, start + (i + 1) * BAR_MS - 1, c * 1.001, c * 0.999, c, 10.0, 10.0 * c,
                       6.0, 6.0 * c, 1000.0 + 10.0 * i))
    return out


@pytest.fixture(scope="module")
def layer() -> EstimatedLayer:
    kept = EstimatedLayer()
    for bar in rising_bars(40):
        kept.update("ABCUSDT", bar)
    return kept


@pytest.fixture(scope="module")
def client(layer: EstimatedLayer) -> Iterator[Client]:
    source = ApiSource(LiveLiquidationHeatmap(), clock=lambda: AT, estimated=layer)
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        c = Client(server.port)
        yield c
        c.close()


def test_the_answer_says_estimated_with_its_bracket_date_and_validation(client: Client, layer: EstimatedLayer
                                                                        ) -> None:
    body = client.json("/api/v1/estimated/ABCUSDT")
    model = layer.get("ABCUSDT")
    assert model is not None and model.last_close is not None
    assert body["layer"] == "estimated" and body["symbol"] == "ABCUSDT" and body["unified"] == "ABC/USDT:USDT"
    assert body["label"] == layer.label and "estimated" in body["label"] and "not validated" in body["label"]
    assert body["brackets"] == {"as_of": f"{layer.brackets.as_of:%Y-%m-%d}", "source": "shipped",
                                "label": layer.brackets.label}
    assert body["brackets"]["as_of"] in body["label"]
    assert body["validation"] == {"validated": False, "summary": layer.validation.summary}
    assert body["price"] == model.last_close and body["price_source"] == "last_close"
    assert body["bars"] == 40 and body["last_bar_ms"] == model.last_close_time
    levels = body["levels"]
    assert len(levels["prices"]) == len(levels["long"]) == len(levels["short"]) > 10
    assert levels["prices"] == sorted(levels["prices"])
    assert body["range"]["low"] == levels["prices"][0] and body["range"]["high"] == levels["prices"][-1]
    # every open notional is in the bins or counted outside them
    inside = sum(levels["long"]) + sum(levels["short"]) + levels["long_outside"] + levels["short_outside"]
    assert math.isclose(inside, sum(model.total_notional()), rel_tol=1e-9)
    assert body["zones"] and {z["side"] for z in body["zones"]} == {"long", "short"}
    assert body["zones"][0]["strength"] == 1.0
    assert all(z["price_level"] < body["price"] for z in body["zones"] if z["side"] == "long")
    lev = body["leverage"]
    assert lev["leverages"] == sorted(lev["leverages"]) and math.isclose(
        sum(lev["long"]) + sum(lev["short"]), sum(model.total_notional()), rel_tol=1e-9)
    assert body["model"]["window"] == "12h" and body["model"]["attribution"] == "taker"
    assert body["model"]["leverage_mix"] == [list(pair) for pair in layer.config.leverage_mix]


def test_either_symbol_form_and_a_price_move_the_bins(client: Client) -> None:
    compact = client.json("/api/v1/estimated/ABCUSDT")
    unified = client.json("/api/v1/estimated/" + quote("ABC/USDT:USDT", safe=""))
    assert unified == compact
    at = client.json("/api/v1/estimated/ABCUSDT?price=90")
    assert at["price"] == 90 and at["price_source"] == "query"
    assert at["range"]["high"] < compact["range"]["high"]
    # at 90 every long level (below ~104) that is above 90 is "already crossed": no long zone above the price
    assert all(z["price_level"] > 90 for z in at["zones"] if z["side"] == "short")


@pytest.mark.parametrize(("query", "said"), [("price=0", "price: expected a positive number"),
                                             ("price=-1", "price: expected a number in [0, 1e+12]"),
                                             ("price=abc", "price: expected a number in [0, 1e+12]"),
                                             ("price=", "price: expected a value")])
def test_a_bad_price_is_a_400_naming_it(client: Client, query: str, said: str) -> None:
    body = client.json(f"/api/v1/estimated/ABCUSDT?{query}", status=400)
    assert body["error"] == "bad parameter" and said in body["detail"], body


def test_a_symbol_without_levels_is_a_404_naming_it(client: Client) -> None:
    body = client.json("/api/v1/estimated/XYZUSDT", status=404)
    assert body["error"] == "no estimated levels" and "'XYZUSDT'" in body["detail"] and "ABCUSDT" in body["detail"]
    assert client.json("/api/v1/estimated/%25%25", status=404)["error"] == "no estimated levels"


def test_without_a_layer_the_404_says_how_to_turn_it_on() -> None:
    source = ApiSource(LiveLiquidationHeatmap(), clock=lambda: AT)
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        c = Client(server.port)
        body = c.json("/api/v1/estimated/BTCUSDT", status=404)
        c.close()
    assert body["error"] == "no estimated layer"
    assert "estimated.enabled" in body["detail"] and "serve" in body["detail"] and "--history" in body["detail"]


def test_a_validated_layer_says_so(layer: EstimatedLayer) -> None:
    validated = EstimatedLayer(validation=Validation(True, "beats the baselines on 3 of 3 sets"))
    for bar in rising_bars(5):
        validated.update("ABCUSDT", bar)
    source = ApiSource(LiveLiquidationHeatmap(), clock=lambda: AT, estimated=validated)
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        c = Client(server.port)
        body = c.json("/api/v1/estimated/ABCUSDT")
        c.close()
    assert body["validation"] == {"validated": True, "summary": "beats the baselines on 3 of 3 sets"}
    assert body["label"].endswith("· validated")


# ------------------------------------------------------------------ serve --history


def test_serve_history_feeds_only_the_bars_closed_by_the_served_moment(tmp_path: Path) -> None:
    write_history(tmp_path, "BTCUSDT", DAY, 100_000.0)
    source = source_from_recording(WIRE, at_ms=AT, history=tmp_path)
    assert source.estimated is not None and list(source.estimated) == ["BTCUSDT"]
    model = source.estimated.get("BTCUSDT")
    assert model is not None and model.last_close_time is not None
    closed_by_then = (AT - day_start_ms(DAY)) // BAR_MS  # 17:20 -> 208 bars closed, the 209th closes at 17:24:59
    assert model.bars == closed_by_then and model.last_close_time <= AT < model.last_close_time + BAR_MS
    # the same layer as feeding the bars by hand up to then
    by_hand, _ = layer_from_history(tmp_path, until_ms=AT)
    assert by_hand.get("BTCUSDT").total_notional() == model.total_notional()  # type: ignore[union-attr]
    later, _ = layer_from_history(tmp_path)
    assert later.get("BTCUSDT").bars == 288  # type: ignore[union-attr]


def test_history_without_a_bar_by_then_or_without_klines_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no klines/<SYMBOL>/ folder"):
        layer_from_history(tmp_path)
    with pytest.raises(HistoryError, match="no such folder"):
        layer_from_history(tmp_path / "nope")
    write_history(tmp_path, "BTCUSDT", DAY, 100_000.0)
    with pytest.raises(HistoryError, match="no bar of BTCUSDT closed by then"):
        layer_from_history(tmp_path, until_ms=day_start_ms(DAY))


def test_serve_says_what_is_wrong_with_history(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    import argparse

    from liquidation_hunter.cli.serve import add_serve_parser

    monkeypatch.delenv("LIQUIDATION_HUNTER_API_TOKEN", raising=False)
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--events", str(WIRE), "--port", "0", "--history", str(tmp_path / "none")])
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --history ") and "none: no such folder" in err and "Traceback" not in err


def test_a_hunter_on_estimated_levels_answers_the_zone_it_trades(layer: EstimatedLayer) -> None:
    model = layer.get("ABCUSDT")
    assert model is not None and model.last_close is not None
    heatmap = LiveLiquidationHeatmap()
    heatmap.update_price("ABCUSDT", model.last_close, AT)
    hunter = HunterConfig(target="estimated", min_estimated_strength=0.0, max_distance_pct=20.0,
                          preferred_distance_pct=10.0)
    source = ApiSource(heatmap, clock=lambda: AT, estimated=layer, hunter=hunter)
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        c = Client(server.port)
        body = c.json("/api/v1/signal/ABCUSDT")
        c.close()
    zone, signal = body["best_zone"], body["signal"]
    assert body["best_cluster"] is None and zone is not None
    expected = {1: "short", -1: "long"}[signal["direction"]]  # long levels below are shorted toward
    assert zone["side"] == expected and "estimated" in signal["reason"]
    assert zone in zone_rows(layer, model.last_close)


def zone_rows(layer: EstimatedLayer, price: float) -> list[dict[str, object]]:
    return [{"side": z.side, "price_level": z.price_level, "price_low": z.price_low, "price_high": z.price_high,
             "notional": z.notional, "share": z.share, "strength": z.strength,
             "distance_from_price": z.distance_from_price} for z in layer.zones("ABCUSDT", price)]
