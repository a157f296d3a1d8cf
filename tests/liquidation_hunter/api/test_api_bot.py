"""The API of a running bot (``run`` with ``api.enabled``, its own process, against the fake exchange): its open
positions, closed trades and equity curve from the books, the grid's price line from the bot's mark prices, and
the bot's entries and exits as markers on the grid. Every answer is checked against the OpenAPI description too."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from running_bot import MARKS, RunningBot, running_bot

from liquidation_hunter.api import schemas
from liquidation_hunter.bot.price_history import PriceHistory
from liquidation_hunter.trading.books import Books


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    with running_bot(tmp_path_factory.mktemp("bot")) as running:
        yield running


def get(bot: RunningBot, path: str) -> Any:
    with urllib.request.urlopen(bot.url + path, timeout=10) as answer:
        return json.loads(answer.read())


def test_positions_are_the_books_open_positions_at_the_mark_price(bot: RunningBot) -> None:
    answer = schemas.Positions.model_validate(get(bot, "/api/v1/positions"))
    rows = {p.client_id: p for p in answer.positions}
    assert set(rows) == {"lh-seed-btc-2", "lh-seed-eth"}
    btc, eth = rows["lh-seed-btc-2"], rows["lh-seed-eth"]
    assert (btc.symbol, btc.unified, btc.side, btc.entry_price) == ("BTCUSDT", "BTC/USDT:USDT", "long", 100_200.0)
    assert btc.price == MARKS["BTCUSDT"] and btc.unrealized == pytest.approx(0.01 * (101_000.0 - 100_200.0))
    assert eth.side == "short" and eth.unrealized == pytest.approx(-0.5 * (3_050.0 - 3_100.0))
    assert btc.opened_at == bot.opened_at["lh-seed-btc-2"]


def test_trades_are_the_closed_ones_newest_first(bot: RunningBot) -> None:
    answer = schemas.Trades.model_validate(get(bot, "/api/v1/trades?limit=5"))
    [trade] = answer.trades
    assert (trade.symbol, trade.side, trade.reason, trade.exit_price) == ("BTCUSDT", "long", "take_profit", 100_500.0)
    assert trade.net_pnl == pytest.approx(0.01 * 500.0 - 0.5 - 0.01 * 100_000.0 * 0.0005)
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(bot, "/api/v1/trades?limit=0")
    assert refused.value.code == 400


def test_equity_is_the_snapshots_and_grows_while_the_bot_runs(bot: RunningBot) -> None:
    first = schemas.Equity.model_validate(get(bot, "/api/v1/equity"))
    assert first.starting_wallet == 10_000.0 and len(first.points) >= 30
    assert first.points[0][1] == 10_000.0 and first.points[29][1] == 10_058.0  # the seeded half hour
    times = [p[0] for p in first.points]
    assert times == sorted(times)
    deadline = time.monotonic() + 15
    while len(get(bot, "/api/v1/equity")["points"]) <= len(first.points):  # the bot snapshots every second
        assert time.monotonic() < deadline, "no new equity snapshot"
        time.sleep(0.2)
    with Books.open_readonly(bot.books) as books:
        assert len(books.snapshots()) >= len(first.points)
    since = get(bot, f"/api/v1/equity?since={int(times[-5])}")["points"]
    assert since[0][0] == times[-5]


def test_the_grid_draws_mark_prices_and_the_bots_entries_and_exits(bot: RunningBot) -> None:
    deadline = time.monotonic() + 20
    while True:  # the bot keeps a mark price every 5 s: wait for two
        grid = get(bot, "/api/v1/grid/BTCUSDT?window=30m&points=true")
        if grid["price_source"] == "marks" and len(grid["price_points"]) >= 2:
            break
        assert time.monotonic() < deadline, grid["price_source"]
        time.sleep(0.3)
    schemas.Grid.model_validate(grid)
    assert {p[1] for p in grid["price_points"]} == {MARKS["BTCUSDT"]}
    assert [(m["kind"], m["client_id"], m["reason"]) for m in grid["markers"]] == [
        ("entry", "lh-seed-btc-1", "entry"), ("exit", "lh-seed-btc-1", "take_profit"),
        ("entry", "lh-seed-btc-2", "entry")]
    assert grid["markers"][0]["time"] == bot.opened_at["lh-seed-btc-1"] and grid["markers"][1]["price"] == 100_500.0
    eth = get(bot, "/api/v1/grid/ETHUSDT?window=30m")
    assert [(m["kind"], m["side"]) for m in eth["markers"]] == [("entry", "short")]
    # a window that starts after the entries: only what happened inside it
    assert get(bot, "/api/v1/grid/BTCUSDT?window=5m")["markers"] == []


def test_without_books_the_bot_endpoints_answer_404_or_503(tmp_path: Path) -> None:
    """No books at all (a server over a recording): 404; books named but not written yet: 503."""
    from liquidation_hunter.api import ApiServer, ApiSource
    from live_heatmap import LiveLiquidationHeatmap

    for books, code in ((None, 404), (str(tmp_path / "none.sqlite"), 503)):
        source = ApiSource(LiveLiquidationHeatmap(), books_path=books)
        with ApiServer(source, host="127.0.0.1", port=0) as server:
            for path in ("/api/v1/positions", "/api/v1/trades", "/api/v1/equity"):
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(server.url + path, timeout=10)
                assert refused.value.code == code
                assert json.loads(refused.value.read())["error"] == "no books"


def test_price_history_keeps_one_point_per_step_in_bounded_memory() -> None:
    history = PriceHistory(step_ms=5_000, keep_ms=60_000)
    added = [history.record("BTCUSDT", 100.0 + i, i * 1_000) for i in range(200)]  # one update a second
    assert sum(added) == 40  # one in five
    times, prices = history.points("BTCUSDT", 0, 10**9) or ((), ())
    assert len(times) == 13  # 60 s / 5 s + 1: the oldest overwritten
    assert list(times) == list(range(135_000, 200_000, 5_000)) and prices[-1] == 100.0 + 195
    assert history.points("BTCUSDT", 0, 100_000) is None and history.points("ETHUSDT", 0, 10**9) is None
    assert not history.record("BTCUSDT", float("nan"), 10**6) and not history.record("BTCUSDT", 1.0, 0)
