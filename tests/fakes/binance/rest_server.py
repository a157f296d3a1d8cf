"""A local fake of Binance's USD-M futures REST API, for testing code that trades through ccxt.

It answers the requests ccxt 4.5's `ccxt.binanceusdm` really sends, with the JSON shapes Binance
uses, on 127.0.0.1 (OS-chosen port), from a stdlib `ThreadingHTTPServer` on a daemon thread.
Signed endpoints check the API key header, `timestamp`/`recvWindow` and the HMAC-SHA256
signature as Binance does. Every request is recorded; a path the fake does not implement is
answered 404 (plain text naming it) and recorded with `handled=False`, so a test can fail on
calls it did not expect (`unexpected`).

Typical use::

    with FakeBinanceRest() as fake:
        ex = ccxt.binanceusdm({"apiKey": "test-key", "secret": "test-secret",
                               "options": {"fetchCurrencies": False}})
        fake.point(ex)
        ex.create_order("BTC/USDT:USDT", "market", "buy", 0.002, params={"newClientOrderId": "a1"})
        assert fake.requests[-1].params["quantity"] == "0.002"

Why `point` also merges ccxt's "linear" exception table: ccxt's binance `handle_errors` looks an
error code up first in `exceptions[<market type>]`, the market type being picked by
`get_exceptions_by_url` from the URL prefix (`https://fapi.binance.com/`, `https://demo-fapi`,
`https://testnet.binancefuture.com/fapi`), and then in the generic `exceptions['exact']`. A URL
on 127.0.0.1 matches no prefix, so futures-only codes such as -2019 (InsufficientFunds) or -4116
(InvalidOrder) would come back as a bare ExchangeError. Copying `exceptions['linear']` over the
generic tables gives every code the class it gets on the real futures URL (the URL table wins
there, as the copy wins here).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

import ccxt  # type: ignore[import-untyped]

from liquidation_hunter.trading.exchange import ExchangeClient

from .depth import FakeDepth
from .rest_account import Ledger, Position
from .rest_market import MarketBook
from .rest_orders import AlgoOrder, ClientIdScope, Order, OrderBook
from .rest_wire import RECORDED_HEADERS, ApiError, RecordedRequest, authenticate, check_signature, parse_params

HOST = "127.0.0.1"
Handler = Callable[[dict[str, str]], Any]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def use_linear_error_table(exchange: Any) -> None:
    """Make a binanceusdm instance map Binance error codes as on the real futures URL (see module doc)."""
    exceptions = exchange.exceptions
    linear = exceptions.get("linear") or {}
    exchange.exceptions = {
        **exceptions,
        "exact": {**(exceptions.get("exact") or {}), **(linear.get("exact") or {})},
        "broad": {**(exceptions.get("broad") or {}), **(linear.get("broad") or {})},
    }


@dataclass
class _Fault:
    prefix: str
    method: str | None
    times: int
    seconds: float = 0.0
    error: ApiError | None = None
    gate: threading.Event | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and path.startswith(self.prefix) and self.method in (None, method)


class FakeBinanceRest:
    """Binance USD-M REST on 127.0.0.1: market data, a one-way-mode USDT account, orders, faults.

    symbols: the symbols exchangeInfo lists (captured rows, or a copy of ETHUSDT's for others).
    wallet: starting USDT wallet balance. prices: starting last/mark prices by symbol.
    taker_fee / maker_fee: fee rates charged on fills.
    client_id_scope: "all" refuses any reused client order id (-4116); "open" only ids of open
        orders, as Binance's documentation words it.
    clock: epoch milliseconds, for serverTime and the recvWindow check (default: wall clock,
        which is what ccxt stamps requests with).
    port: the port to listen on (0: the OS picks), e.g. one a client was pointed at while nothing listened.
    """

    def __init__(self, *, api_key: str = "test-key", api_secret: str = "test-secret",
                 symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"), wallet: float = 10_000.0,
                 prices: dict[str, float] | None = None, taker_fee: float = 0.0005, maker_fee: float = 0.0002,
                 client_id_scope: ClientIdScope = "all", clock: Callable[[], int] = wall_clock_ms,
                 port: int = 0) -> None:
        self.port = port
        self.api_key = api_key
        self.api_secret = api_secret
        self._clock = clock
        self._lock = threading.RLock()
        self._market = MarketBook(symbols, clock, prices)
        self._ledger = Ledger(self._market, clock, wallet, taker_fee, maker_fee)
        self._book = OrderBook(self._market, self._ledger, clock, client_id_scope)
        self.depth = FakeDepth(clock)
        """The order books ``GET /fapi/v1/depth`` answers from (the test sets them; issue 15)."""
        self._requests: list[RecordedRequest] = []
        self._failures: list[_Fault] = []
        self._delays: list[_Fault] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._route_table()

    def _route_table(self) -> dict[tuple[str, str], tuple[bool, Handler]]:
        m, book, ledger = self._market, self._book, self._ledger
        public: dict[tuple[str, str], Handler] = {
            ("GET", "/fapi/v1/ping"): lambda _p: {},
            ("GET", "/fapi/v1/time"): lambda _p: {"serverTime": self._clock()},
            ("GET", "/fapi/v1/exchangeInfo"): lambda _p: m.exchange_info(),
            ("GET", "/fapi/v1/ticker/price"): m.ticker_price,
            ("GET", "/fapi/v2/ticker/price"): m.ticker_price,
            ("GET", "/fapi/v1/ticker/24hr"): m.ticker_24hr,
            ("GET", "/fapi/v1/premiumIndex"): m.premium_index,
            ("GET", "/futures/data/openInterestHist"): m.open_interest_hist,
            ("GET", "/fapi/v1/openInterest"): m.open_interest,
            ("GET", "/fapi/v1/depth"): self.depth.snapshot,
            ("GET", "/fapi/v1/klines"): m.klines,
            ("GET", "/fapi/v1/markPriceKlines"): lambda p: m.klines(p, mark=True),
        }
        signed: dict[tuple[str, str], Handler] = {
            ("POST", "/fapi/v1/order"): book.new_order,
            ("GET", "/fapi/v1/order"): book.get_order,
            ("DELETE", "/fapi/v1/order"): book.cancel_order,
            ("GET", "/fapi/v1/openOrders"): book.open_orders,
            ("DELETE", "/fapi/v1/allOpenOrders"): book.cancel_all,
            ("POST", "/fapi/v1/algoOrder"): book.new_algo_order,
            ("GET", "/fapi/v1/algoOrder"): book.get_algo_order,
            ("DELETE", "/fapi/v1/algoOrder"): book.cancel_algo_order,
            ("GET", "/fapi/v1/openAlgoOrders"): book.open_algo_orders,
            ("DELETE", "/fapi/v1/algoOpenOrders"): book.cancel_all_algo,
            ("POST", "/fapi/v1/leverage"): ledger.set_leverage,
            ("POST", "/fapi/v1/marginType"): ledger.set_margin_type,
            ("GET", "/fapi/v1/positionSide/dual"): ledger.position_mode,
            ("GET", "/fapi/v1/symbolConfig"): ledger.symbol_config,
            ("GET", "/fapi/v1/leverageBracket"): m.leverage_bracket,
            ("GET", "/fapi/v3/account"): ledger.account,
            ("GET", "/fapi/v2/account"): lambda p: ledger.account(p, version=2),
            ("GET", "/fapi/v3/positionRisk"): ledger.position_risk_v3,
            ("GET", "/fapi/v2/positionRisk"): ledger.position_risk_v2,
            ("GET", "/fapi/v1/income"): ledger.income,
        }
        return {**{k: (False, h) for k, h in public.items()}, **{k: (True, h) for k, h in signed.items()}}

    # ------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Listen on 127.0.0.1 (OS-chosen port) on a daemon thread. Returns self."""
        if self._server is not None:
            raise RuntimeError("FakeBinanceRest already started")
        self._stopping.clear()
        self._server = _Server(self, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-binance-rest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, wake delayed answers, close open connections, join the thread. Idempotent."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(5.0)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        if self._server is None:
            raise RuntimeError("FakeBinanceRest is not running")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def client(self, *, api_key: str | None = None, secret: str | None = None, retries: int = 1) -> ExchangeClient:
        """The project's :class:`ExchangeClient` on a ccxt ``binanceusdm`` pointed here (no rate limiting, no
        waiting between retries), signed when ``api_key``/``secret`` are given."""
        options: dict[str, Any] = {"timeout": 5000, "enableRateLimit": False, "options": {"fetchCurrencies": False}}
        if api_key is not None:
            options |= {"apiKey": api_key, "secret": secret}
        exchange = ccxt.binanceusdm(options)
        self.point(exchange)
        return ExchangeClient(exchange, retries=retries, sleep=lambda _s: None)

    def point(self, exchange: Any) -> None:
        """Send every request of a ccxt binance(usdm) instance here (paths kept) and make it map
        Binance's futures error codes to their specific ccxt classes (see the module doc)."""
        base = self.base_url
        for key in ("api", "test", "demo"):
            table = exchange.urls.get(key)
            if isinstance(table, dict):
                exchange.urls[key] = {name: base + urlsplit(url).path if isinstance(url, str) else url
                                      for name, url in table.items()}
        use_linear_error_table(exchange)

    # ------------------------------------------------------------- test controls

    def set_price(self, symbol: str, price: float | str, *, mark: float | str | None = None) -> None:
        """Move the last price (rounded to the tick) and the mark price (default: the same), then
        trigger conditional orders and fill resting limit orders it reaches."""
        with self._lock:
            self._market.set_price(symbol, price, mark)
            self._book.on_price(symbol)

    def set_funding_rate(self, symbol: str, rate: float | str) -> None:
        with self._lock:
            self._market.spec(symbol)
            self._market.quotes[symbol].funding_rate = Decimal(str(rate))

    def set_wallet(self, wallet: float | str) -> None:
        """Deposit or withdraw: the USDT wallet balance becomes `wallet` (a TRANSFER row in /fapi/v1/income)."""
        with self._lock:
            self._ledger.set_wallet(Decimal(str(wallet)), self._clock())

    def pay_funding(self, symbol: str, at_ms: int | None = None) -> Decimal:
        """Settle `symbol`'s funding now (or at `at_ms`) at its rate (`set_funding_rate`) and mark price: the
        wallet changes and /fapi/v1/income lists a FUNDING_FEE row. Returns the amount (+ received)."""
        with self._lock:
            self._market.spec(symbol)
            return self._ledger.pay_funding(symbol, self._clock() if at_ms is None else at_ms)

    def fail_next(self, path_prefix: str, *, status: int = 400, code: int = -2019,
                  msg: str = "Margin is insufficient.", times: int = 1, method: str | None = None) -> None:
        """Answer the next `times` requests whose path starts with `path_prefix` (and whose method
        is `method`, if given) with Binance's error JSON, without processing them."""
        with self._lock:
            self._failures.append(_Fault(path_prefix, method, times, error=ApiError(code, msg, status)))

    def delay_next(self, path_prefix: str, seconds: float, times: int = 1, *, method: str | None = None) -> None:
        """Process the next `times` matching requests at once but hold their answers `seconds`:
        a client that times out meanwhile has still had its request carried out."""
        with self._lock:
            self._delays.append(_Fault(path_prefix, method, times, seconds=seconds))

    def hold_next(self, path_prefix: str, *, method: str | None = None) -> threading.Event:
        """Process the next matching request at once but hold its answer until the returned event is set
        (or the server stops; 30 s at most): a request stuck in flight for as long as a test needs."""
        gate = threading.Event()
        with self._lock:
            self._delays.append(_Fault(path_prefix, method, 1, seconds=30.0, gate=gate))
        return gate

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def unexpected(self) -> list[RecordedRequest]:
        """Recorded requests for paths the fake does not implement."""
        return [r for r in self.requests if not r.handled]

    @property
    def orders(self) -> list[Order]:
        """Accepted /fapi/v1/order orders and triggered conditional orders' children, oldest first (copies)."""
        with self._lock:
            return [dataclasses.replace(o) for o in self._book.orders]

    @property
    def algo_orders(self) -> list[AlgoOrder]:
        with self._lock:
            return [dataclasses.replace(a) for a in self._book.algo_orders]

    @property
    def positions(self) -> dict[str, Position]:
        """Every configured symbol's position (amount 0 when flat), copies."""
        with self._lock:
            return {s: dataclasses.replace(p) for s, p in self._ledger.positions.items()}

    @property
    def leverage(self) -> dict[str, int]:
        with self._lock:
            return dict(self._ledger.leverage)

    @property
    def margin_type(self) -> dict[str, str]:
        with self._lock:
            return dict(self._ledger.margin_type)

    @property
    def wallet(self) -> Decimal:
        with self._lock:
            return self._ledger.wallet

    # ------------------------------------------------------------- request handling

    def _take(self, faults: list[_Fault], method: str, path: str) -> _Fault | None:
        for fault in faults:
            if fault.matches(method, path):
                fault.times -= 1
                return fault
        return None

    def handle(self, method: str, path: str, query: str, body: str,
               headers: dict[str, str]) -> tuple[int, bytes, str, _Fault | None]:
        """Answer one request: (status, body, content type, how to hold the answer)."""
        params = parse_params(query, body)
        signed, signature_ok = check_signature(query, body, self.api_secret)
        route = self._routes.get((method, path))
        with self._lock:
            failure = self._take(self._failures, method, path)
            delay = self._take(self._delays, method, path)
            status, payload, error_code = 200, b"", None
            try:
                if failure is not None and failure.error is not None:
                    raise failure.error
                if route is not None:
                    needs_signature, handler = route
                    if needs_signature:
                        authenticate(params, headers, signed=signed, signature_ok=signature_ok,
                                     api_key=self.api_key, now_ms=self._clock())
                    payload = json.dumps(handler(params)).encode()
            except ApiError as exc:
                status, error_code, payload = exc.status, exc.code, json.dumps(exc.body()).encode()
            except Exception as exc:  # noqa: BLE001 - a bug in the fake: answer it visibly, not by hanging up
                status, error_code = 500, -1000
                payload = json.dumps({"code": -1000, "msg": f"fake Binance REST bug: {exc!r}"}).encode()
            content_type = "application/json"
            if route is None and failure is None:
                status, content_type = 404, "text/plain; charset=utf-8"
                payload = (f"fake Binance REST: no endpoint {method} {path} (recorded as unexpected; "
                           "implement it in tests/fakes/binance if ccxt needs it)").encode()
            self._requests.append(RecordedRequest(
                method=method, path=path, params=params, headers=headers, signed=signed,
                signature_ok=signature_ok, status=status, error_code=error_code, handled=route is not None,
                body=body, query=query))
        return status, payload, content_type, delay if delay else None

    def wait_or_stop(self, hold: _Fault) -> None:
        if hold.gate is None:
            self._stopping.wait(hold.seconds)
            return
        deadline = time.monotonic() + hold.seconds
        while not hold.gate.wait(0.05) and not self._stopping.is_set() and time.monotonic() < deadline:
            pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        headers = {name: value for name in RECORDED_HEADERS if (value := self.headers.get(name)) is not None}
        fake = self.server.fake
        status, payload, content_type, hold = fake.handle(self.command, split.path, split.query, body, headers)
        if hold:
            fake.wait_or_stop(hold)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:  # the client gave up (timed out) before the answer came
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeBinanceRest, port: int) -> None:
        super().__init__((HOST, port), _Handler)
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        # the handler writes headers and body in separate sends: with Nagle's algorithm the body would wait
        # for the client's delayed ACK, about 40 ms a request
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End idle keep-alive connections so their handler threads finish."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
