"""``close SYMBOL`` and ``flatten``: on real SQLite books, against the local fake Binance (REST and WebSocket).

Without a bot: paper books are closed by the command at the fake exchange's mark price; live books get the
request queued (exit 3). With a running bot (``run`` as its own process): the bot carries the request out at its
next positions run, paper at the streamed mark price, live with reduce-only market orders after cancelling the
position's stop-loss and take-profit orders on the exchange.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ccxt
import pytest
from bot_process import log_events, publishing_marks, run_cli, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest

from liquidation_hunter.cli import main
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.exchange import ExchangeClient
from liquidation_hunter.trading.live import LiveBroker
from liquidation_hunter.trading.model import EntryOrder

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
KEY, SECRET = "controls-key", "controls-secret"
PRICES = {"BTCUSDT": 101_000.0, "ETHUSDT": 3_100.0}


def _config(tmp_path: Path, rest_url: str, *, mode: str = "paper", ws_url: str | None = None,
            heartbeat: float = 1) -> Path:
    text = f"""mode: {mode}
symbols: [BTCUSDT, ETHUSDT]
exchange:
  rest_url: {rest_url}
  mark_price: true
{f'  ws_url: {ws_url}' if ws_url else ''}
risk:
  starting_wallet: 10000
  leverage: 5
  max_notional_per_position: 50000
  time_exit_minutes: null
  daily_loss_limit_pct: 50
  max_drawdown_pct: 50
schedule:
  positions: 0.5
  snapshot: 1
  heartbeat: {heartbeat}
storage:
  path: books.sqlite
  events: null
logging:
  format: json
"""
    path = tmp_path / "bot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _open(books: Books, cid: str, symbol: str, direction: int, quantity: float, *, price: float, at: int) -> None:
    stop, take = (price * 0.9, price * 1.1) if direction > 0 else (price * 1.1, price * 0.9)
    order = EntryOrder(cid, symbol, direction, quantity, price, stop, take, 5, at)
    assert books.record_entry(order, quantity=quantity, fill_price=price, fee=0.0, liquidation_price=price * 0.5
                              if direction > 0 else price * 1.5, now_ms=at) is not None


def _minutes_ago(minutes: int) -> int:
    """Positions are opened recently: the paper broker books funding for every funding time since the opening."""
    return time.time_ns() // 1_000_000 - minutes * 60_000


@pytest.fixture
def rest() -> Iterator[FakeBinanceRest]:
    with FakeBinanceRest(api_key=KEY, api_secret=SECRET, prices=PRICES) as server:
        yield server


@pytest.fixture
def paper_books(tmp_path: Path) -> Path:
    path = tmp_path / "books.sqlite"
    at = _minutes_ago(1)
    with Books.open(path, mode="paper", starting_wallet=10_000.0, now_ms=at) as books:
        _open(books, "lh-btc", BTC, 1, 0.01, price=100_000.0, at=at)
        _open(books, "lh-eth", ETH, -1, 0.5, price=3_000.0, at=at)
    return path


# ------------------------------------------------------------------ no bot running

def test_close_without_a_running_bot_closes_paper_books_at_the_mark_price(
        tmp_path: Path, rest: FakeBinanceRest, paper_books: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, rest.base_url)
    assert main(["close", "BTCUSDT", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "closed by this command at the exchange's mark price" in out
    assert f"closed {BTC} long 0.01 at " in out and "(manual)" in out
    with Books.open_readonly(paper_books) as books:
        [trade] = books.closed_trades()
        assert trade.reason == "manual" and trade.position.symbol == BTC
        # the paper broker's fill: the mark price less the configured slippage (2 bps by default) on a sell
        assert trade.exit_price == pytest.approx(101_000.0, rel=5e-4) and trade.exit_price <= 101_000.0
        assert [p.symbol for p in books.open_positions()] == [ETH]
        assert books.halt_reason() is None  # close does not halt
        assert books.audit() == []

    # idempotent: the second close finds nothing to close, and says so
    assert main(["close", "BTC/USDT:USDT", "--config", str(config)]) == 0
    assert f"no open position on {BTC}: nothing to close" in capsys.readouterr().out

    assert main(["status", "--config", str(config), "--json"]) == 0
    [request] = json.loads(capsys.readouterr().out)["controls"]
    assert request["kind"] == "close" and request["symbol"] == BTC and request["status"] == "done"
    assert request["result"].startswith(f"closed {BTC} long")


def test_flatten_halts_and_closes_everything_and_a_second_flatten_is_harmless(
        tmp_path: Path, rest: FakeBinanceRest, paper_books: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, rest.base_url)
    assert main(["flatten", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "new entries halted (flattened by hand" in out
    assert f"closed {BTC} long" in out and f"closed {ETH} short" in out
    with Books.open_readonly(paper_books) as books:
        assert books.open_positions() == []
        assert sorted(t.reason for t in books.closed_trades()) == ["manual", "manual"]
        assert books.halt_reason() == "flattened by hand"
        assert books.audit() == []
    assert main(["flatten", "--config", str(config)]) == 0
    assert "no open position: nothing to close" in capsys.readouterr().out
    assert main(["status", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "HALTED: flattened by hand" in text and "done flatten (request 1" in text
    assert main(["resume", "--config", str(config)]) == 0


@pytest.mark.parametrize("alive", [True, False])
def test_a_bot_process_that_missed_its_heartbeats_is_left_to_close_its_own_positions(
        tmp_path: Path, rest: FakeBinanceRest, paper_books: Path, alive: bool,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A bot busy with a slow exchange may miss heartbeats: while the process that wrote the books' health is
    there (and did not say it stopped), the command queues and waits for it rather than close paper positions
    beside it; once the process is gone, the command closes them itself."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        if not alive:
            process.kill()
            process.wait(10)
        with Books.open(paper_books, mode="paper", now_ms=_minutes_ago(1)) as books:
            books.set_health({"pid": process.pid, "mode": "paper"}, _minutes_ago(10))  # no heartbeat for 10 min
        config = _config(tmp_path, rest.base_url)
        assert main(["status", "--config", str(config), "--json"]) == 0  # status and close: one idea of "runs"
        assert json.loads(capsys.readouterr().out)["bot"]["running"] is alive
        code = main(["close", "BTCUSDT", "--config", str(config), "--wait", "0.3"])
    finally:
        process.kill()
        process.wait(10)
    out = capsys.readouterr().out
    with Books.open_readonly(paper_books) as books:
        held = [p.symbol for p in books.open_positions()]
    if alive:
        assert code == 3 and f"waiting for the running bot (pid {process.pid})" in out
        assert "queued: the bot has not carried it out yet" in out and held == [BTC, ETH]
    else:
        assert code == 0 and "closed by this command at the exchange's mark price" in out and held == [ETH]


def test_close_queues_when_the_exchange_gives_no_price(tmp_path: Path, paper_books: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """No bot and no exchange (nothing listens on the port): the request waits for the bot (exit 3)."""
    config = _config(tmp_path, "http://127.0.0.1:9")
    assert main(["close", "ETHUSDT", "--config", str(config)]) == 3
    out = capsys.readouterr().out
    assert "queued: no bot is running" in out and "the bot will close it when it runs" in out
    assert main(["status", "--config", str(config)]) == 0
    assert f"PENDING close {ETH} (request 1" in capsys.readouterr().out
    # asked again: the same request, not a second one
    assert main(["close", "ETHUSDT", "--config", str(config)]) == 3
    assert "already queued (request 1)" in capsys.readouterr().out


def test_close_on_live_books_without_a_bot_is_queued(tmp_path: Path, rest: FakeBinanceRest,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    at = _minutes_ago(1)
    with Books.open(tmp_path / "books.sqlite", mode="live", starting_wallet=10_000.0, now_ms=at) as books:
        _open(books, "lh-btc", BTC, 1, 0.01, price=100_000.0, at=at)
    config = _config(tmp_path, rest.base_url, mode="live")
    assert main(["close", "BTCUSDT", "--config", str(config)]) == 3
    assert "queued: no bot is running" in capsys.readouterr().out
    assert [r for r in rest.requests if r.method != "GET"] == []  # nothing sent to the exchange


@pytest.mark.parametrize("argv", [["close", "BTCUSDT"], ["flatten"]])
def test_close_and_flatten_refuse_a_config_without_books(tmp_path: Path, argv: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9")
    assert main([*argv, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no books at {tmp_path / 'books.sqlite'}: is this the bot's config?" in err
    assert not (tmp_path / "books.sqlite").exists()


def test_close_of_a_malformed_symbol_is_one_line(tmp_path: Path, paper_books: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["close", "BTC-USDT", "--config", str(_config(tmp_path, "http://127.0.0.1:9"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: SYMBOL: 'BTC-USDT'")


# ------------------------------------------------------------------ a running bot

def test_close_and_flatten_on_a_running_paper_bot(tmp_path: Path, rest: FakeBinanceRest, paper_books: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The bot runs as its own process; the commands run here, on its books, and wait for it."""
    with FakeBinance(ping_interval=None) as ws, publishing_marks(ws, PRICES):
        config = _config(tmp_path, rest.base_url, ws_url=ws.market_url)
        log = tmp_path / "bot.log"
        with started_bot(config, log) as bot:
            wait_for(lambda: log_events(log, "heartbeat") and ws.open_connections(), "the first heartbeat", log,
                     bot=bot)
            wait_for(lambda: log_events(log, "heartbeat")[-1]["prices"] == 2, "two prices", log, bot=bot)
            assert main(["close", "BTCUSDT", "--config", str(config)]) == 0
            out = capsys.readouterr().out
            assert "queued (request 1)" in out and "waiting for the running bot" in out
            assert f"closed {BTC} long 0.01 at " in out and "(manual)" in out
            assert "closed by this command" not in out  # the bot did it
            [closed] = log_events(log, "position_closed")
            assert closed["symbol"] == BTC and closed["reason"] == "manual"

            assert main(["close", "BTCUSDT", "--config", str(config)]) == 0
            assert f"no open position on {BTC}: nothing to close" in capsys.readouterr().out

            assert main(["flatten", "--config", str(config)]) == 0
            out = capsys.readouterr().out
            assert "new entries halted" in out and f"closed {ETH} short 0.5 at " in out
            wait_for(lambda: log_events(log, "entries_halted") or log_events(log, "heartbeat")[-1]["halted"],
                     "the halt", log, bot=bot, timeout=10)
            assert main(["flatten", "--config", str(config)]) == 0  # harmless
            assert "no open position: nothing to close" in capsys.readouterr().out

            status = run_cli("status", "--config", str(config), "--json")  # as another process sees it
            report = json.loads(status.stdout)
            assert report["bot"]["running"] is True and report["positions"] == []
            assert report["halted"] == "flattened by hand"
            assert [(c["kind"], c["status"]) for c in report["controls"]] == [("flatten", "done"), ("close", "done")]
        assert bot.returncode == 0, log.read_text()[-3000:]
    with Books.open_readonly(paper_books) as books:
        assert books.open_positions() == [] and books.audit() == []
        assert sorted(t.reason for t in books.closed_trades()) == ["manual", "manual"]


def test_close_and_flatten_on_a_running_live_bot_send_reduce_only_orders_and_cancel_the_exits(
        tmp_path: Path, rest: FakeBinanceRest, capsys: pytest.CaptureFixture[str]) -> None:
    """Live on the fake exchange: two positions opened with their stop-loss and take-profit algo orders; the
    running bot closes one by ``close`` and the other by ``flatten``: each close cancels both exits and sends
    one reduce-only market order."""
    exchange = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False,
                                 "options": {"fetchCurrencies": False, "defaultType": "future"}})
    rest.point(exchange)
    client = ExchangeClient(exchange, sleep=lambda _s: None, base_delay=0.01, max_delay=0.02)
    client.load_markets()
    with Books.open(tmp_path / "books.sqlite", mode="live", starting_wallet=10_000.0, now_ms=1_000) as books:
        broker = LiveBroker(books, client, leverage=5, symbols=[BTC, ETH])
        now = time.time_ns() // 1_000_000
        for cid, symbol, direction, quantity, price in (("lh-live-btc", BTC, 1, 0.01, 101_000.0),
                                                        ("lh-live-eth", ETH, -1, 0.5, 3_100.0)):
            stop, take = (price * 0.95, price * 1.05) if direction > 0 else (price * 1.05, price * 0.95)
            assert broker.open(EntryOrder(cid, symbol, direction, quantity, price, stop, take, 5, now), price,
                               now) is not None
    client.close()
    assert len([o for o in rest.algo_orders if o.algo_status == "NEW"]) == 4
    rest.clear_requests()

    with FakeBinance(ping_interval=None) as ws:
        # a heartbeat every 5 s: the commands take the bot for stopped after 3 heartbeats without one, and a live
        # bot's runs wait for ccxt's rate limiter (2 s for the open orders of every symbol, weight 40)
        config = _config(tmp_path, rest.base_url, mode="live", ws_url=ws.market_url, heartbeat=5)
        log = tmp_path / "bot.log"
        with started_bot(config, log, "--live", env={"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}) as bot:
            wait_for(lambda: log_events(log, "heartbeat"), "the first heartbeat", log, bot=bot)
            assert main(["close", "BTCUSDT", "--config", str(config)]) == 0
            out = capsys.readouterr().out
            assert f"closed {BTC} long 0.01 at " in out and "(manual)" in out and "waiting for the running bot" in out
            assert main(["flatten", "--config", str(config)]) == 0
            assert f"closed {ETH} short 0.5 at " in capsys.readouterr().out
        assert bot.returncode == 0, log.read_text()[-3000:]

    changes = [(r.method, r.path, {k: v for k, v in r.params.items() if k not in ("timestamp", "recvWindow")})
               for r in rest.requests if r.method != "GET"]
    cancels = [c for c in changes if c[:2] == ("DELETE", "/fapi/v1/algoOrder")]
    assert sorted(c[2]["clientAlgoId"] for c in cancels) == [
        "lh-live-btc-sl", "lh-live-btc-tp", "lh-live-eth-sl", "lh-live-eth-tp"]
    orders = [c[2] for c in changes if c[:2] == ("POST", "/fapi/v1/order")]
    assert [(o["symbol"], o["side"], o["type"], o["quantity"], o["reduceOnly"]) for o in orders] == [
        ("BTCUSDT", "SELL", "MARKET", "0.01", "true"), ("ETHUSDT", "BUY", "MARKET", "0.5", "true")]
    # each close cancelled its exits before sending its market order
    for order in orders:
        sent = changes.index(("POST", "/fapi/v1/order", order))
        exits = [c for c in cancels if c[2]["clientAlgoId"].startswith(f"lh-live-{order['symbol'][:3].lower()}-")]
        assert len(exits) == 2 and all(changes.index(c) < sent for c in exits), (order, changes)
    assert all(p.amount == 0 for p in rest.positions.values())
    assert all(o.algo_status != "NEW" for o in rest.algo_orders)
    with Books.open_readonly(tmp_path / "books.sqlite") as books:
        assert books.open_positions() == [] and books.audit() == []
        assert sorted(t.reason for t in books.closed_trades()) == ["manual", "manual"]
        assert books.halt_reason() == "flattened by hand"
