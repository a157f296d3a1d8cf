"""The one module that talks to ccxt for trading: :class:`ExchangeClient`.

It wraps a ``ccxt.binanceusdm`` instance and

* sends every ccxt call through one retry wrapper: temporary failures (ccxt's ``NetworkError`` family:
  timeouts, rate limits, 5xx, maintenance, clock drift; and Binance's "internal error, try again") are
  retried with a capped, jittered exponential backoff and become :class:`~.errors.ExchangeUnavailable`
  when the attempts run out; everything else the exchange refuses becomes :class:`~.errors.OrderRejected`
  at once, with a message naming what was asked;
* places orders idempotently on their client id: after a timeout or any other temporary failure it first
  looks the order up by that id and returns it if the exchange has it, and only resends (with the same id)
  when it does not; a "duplicate client order id" answer (-4116) returns the existing order. Binance keeps
  client ids unique only among *open* orders, so a filled market order would not refuse a resend: when the
  failed attempt's outcome is unknown (a timeout, no answer, or Binance's "execution status unknown") and
  the first look-up finds nothing, the client waits until that request's ``recvWindow`` (plus 1 s of clock
  margin) has passed, after which Binance refuses it, and looks once more before resending;
* returns small frozen records (:class:`OrderResult`, :class:`ExchangePosition`, :class:`Balance`, defined in
  :mod:`.exchange_records` and importable from here) keyed by unified symbols (``BTC/USDT:USDT``); either
  symbol form is accepted as an argument.

ccxt is imported lazily, so ``import liquidation_hunter`` stays light. API credentials never appear in what
this module logs or raises: request signatures are scrubbed from ccxt's messages, which then carry no
lower-level cause (the ``requests`` error would repeat the signed URL).
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

import structlog

from liquidation_hunter.trading.errors import ExchangeUnavailable, OrderRejected
from liquidation_hunter.trading.exchange_records import Balance, ExchangePosition, FundingPayment, OrderResult
from live_heatmap.common.backoff import Backoff
from live_heatmap.common.symbols import MarketsLike, to_exchange_id, to_unified
from live_heatmap.estimated.brackets import BracketTable, parse_leverage_brackets
from live_heatmap.estimated.budget import KLINE_PAGE
from live_heatmap.stream.depth_budget import depth_weight
from live_heatmap.wire.events import FrameRejected
from live_heatmap.wire.kline import Kline, kline_from_rest

if TYPE_CHECKING:
    from liquidation_hunter.config.model import Secrets
    from liquidation_hunter.config.sections import ExchangeConfig

__all__ = ["Balance", "ExchangeClient", "ExchangePosition", "ExitKind", "FundingPayment", "OrderResult",
           "outcome_unknown"]

T = TypeVar("T")
ExitKind = Literal["stop_loss", "take_profit"]

DUPLICATE_CLIENT_ID = -4116
"""Binance: "ClientOrderId is duplicated." (ccxt maps it to a plain InvalidOrder)."""
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
UNKNOWN_OUTCOME_CODES = frozenset({-1000, -1006, -1007})
"""Binance: unknown error; unexpected answer from the message bus, and timeout waiting for the backend,
both "execution status unknown"."""
DEFAULT_RECV_WINDOW_MS = 10_000
"""ccxt's binance ``options['recvWindow']``."""
CLOCK_MARGIN_S = 1.0
"""Binance refuses a timestamp more than 1 s ahead of its clock, so its clock lags ours by at most about
that much on any request it accepted: our ``recvWindow`` plus this is past its own."""

_SIGNATURE = re.compile(r"(signature=)[0-9A-Za-z%]+")
_BINANCE_ERROR = re.compile(r"\{.*\}", re.DOTALL)
_QUOTE = "USDT"
OPEN_INTEREST_HISTORY_MS = 30 * 86_400_000
"""How far back ``/futures/data/openInterestHist`` answers (Binance keeps 30 days; older: the archive)."""
_OI_STEP_MS = 300_000
_OI_LIMIT = 500
_KLINE_MS = 300_000


def _ccxt() -> Any:
    import ccxt  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy: ccxt, about 0.4 s

    return ccxt


# ---------------------------------------------------------------------------------------------- helpers


def _binance_error(text: str) -> tuple[int | None, str]:
    """Binance's ``{"code", "msg"}`` inside a ccxt message, as (code, msg); (None, text) if there is none."""
    found = _BINANCE_ERROR.search(text)
    if found is not None:
        try:
            body = json.loads(found.group(0))
        except ValueError:
            body = None
        if isinstance(body, dict) and "msg" in body:
            code = body.get("code")
            number = str(code).lstrip("-")
            return (int(code) if isinstance(code, int | str) and number.isdigit() else None), str(body["msg"])
    return None, text


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed request may still have been carried out: a timeout, a failure without Binance's
    answer (connection dropped, a gateway's error page) or one of Binance's "execution status unknown"
    codes. Binance's other error answers (rate limit, internal error, maintenance) mean it was not."""
    ccxt = _ccxt()
    if isinstance(exc, ccxt.RequestTimeout):
        return True
    code, _ = _binance_error(str(exc))
    return code is None or code in UNKNOWN_OUTCOME_CODES


def _rewrite_urls(exchange: Any, base: str) -> None:
    """Send every ``urls['api']`` entry to ``base``, keeping each path (``/fapi/v1``...)."""
    base = base.rstrip("/")
    exchange.urls["api"] = {name: base + urlsplit(url).path if isinstance(url, str) else url
                            for name, url in exchange.urls["api"].items()}


def _use_linear_error_table(exchange: Any) -> None:
    """ccxt picks Binance's futures error classes by URL prefix; on any other URL futures-only codes (-2019,
    -4116...) would be a bare ExchangeError. Merge the linear table over the generic one."""
    exceptions = exchange.exceptions
    linear = exceptions.get("linear") or {}
    merged = {key: {**(exceptions.get(key) or {}), **(linear.get(key) or {})} for key in ("exact", "broad")}
    exchange.exceptions = {**exceptions, **merged}


# ---------------------------------------------------------------------------------------------- the client


class ExchangeClient:
    """Binance USD-M futures through ccxt: market data, account settings, orders, positions, balance.

    ``exchange``: a ``ccxt.binanceusdm`` instance (see :meth:`from_config`). ``retries``: attempts in all
    for a temporary failure before :class:`ExchangeUnavailable` (4: the first try and three more), waiting
    ``base_delay`` doubling up to ``max_delay`` seconds (jittered down by up to half) in between, through
    ``sleep``; ``clock`` (seconds, monotonic) times the wait for an order's ``recvWindow`` to pass. Two
    threads may call it at once (the live broker's entry beside its exits): every call keeps its state in its
    own frame, ccxt's HTTP session pools connections, and only :meth:`stats` may miss a count.
    """

    def __init__(self, exchange: Any, *, retries: int = 4, base_delay: float = 0.5, max_delay: float = 8.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 logger: Any = None, rng: random.Random | None = None) -> None:
        if retries < 1:
            raise ValueError(f"retries must be at least 1, got {retries}")
        if not 0 < base_delay <= max_delay:
            raise ValueError(f"need 0 < base_delay <= max_delay, got {base_delay} and {max_delay}")
        self._exchange = exchange
        self._retries = retries
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._log = logger if logger is not None else structlog.get_logger("liquidation_hunter.exchange")
        self._prepared: dict[str, int] = {}
        self._stats = {"calls": 0, "retries": 0, "temporary_failures": 0, "permanent_failures": 0}
        # open_exit_orders(None) asks for every symbol at once (weight 40): acknowledged here
        exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False

    @classmethod
    def from_config(cls, settings: ExchangeConfig, secrets: Secrets | None, **kwargs: Any) -> ExchangeClient:
        """A client for the config's ``exchange`` section: ccxt's ``binanceusdm`` with the REST timeout, ccxt's rate
        limiter, the credentials of ``secrets`` (None: public data only), ``rest_url`` (every API URL moved
        to it, paths kept, with Binance's futures error codes) or demo trading. ``kwargs`` go to the
        constructor (retries, delays, sleep, logger)."""
        ccxt = _ccxt()
        options: dict[str, Any] = {
            "timeout": round(settings.timeouts.rest * 1000),
            "enableRateLimit": True,
            "options": {"fetchCurrencies": False, "defaultType": "future"},
        }
        credentials = {} if secrets is None else {"apiKey": secrets.api_key, "secret": secrets.api_secret}
        options.update({key: value for key, value in credentials.items() if value is not None})
        exchange = ccxt.binanceusdm(options)
        if settings.rest_url is not None:
            _rewrite_urls(exchange, settings.rest_url)
            _use_linear_error_table(exchange)
        if settings.demo:
            exchange.enable_demo_trading(True)
        return cls(exchange, **kwargs)

    @classmethod
    def offline(cls, exchange_info: Mapping[str, Any], **kwargs: Any) -> ExchangeClient:
        """A client that never connects, for its market rules only: ccxt's ``binanceusdm`` with its markets
        parsed by ccxt's own ``parse_market`` from ``exchange_info`` (a ``/fapi/v1/exchangeInfo`` answer), so
        paper fills and backtests round with the same code as live orders. Any request fails at once with
        :class:`~.errors.ExchangeUnavailable`. See :mod:`liquidation_hunter.trading.markets`."""
        ccxt = _ccxt()
        exchange = ccxt.binanceusdm({"options": {"fetchCurrencies": False, "defaultType": "future"}})
        exchange.set_markets([exchange.parse_market(row) for row in exchange_info.get("symbols") or ()])

        def no_network(url: str, *_args: Any, **_kwargs: Any) -> Any:
            raise ccxt.ExchangeNotAvailable(f"offline market rules: no request is sent ({url})")

        exchange.fetch = no_network
        return cls(exchange, retries=1, **kwargs)

    def has_market(self, symbol: str) -> bool:
        """Whether the loaded markets list ``symbol`` (either form); False before they are loaded."""
        markets = self._exchange.markets or {}
        try:
            return self.unified(symbol) in markets
        except ValueError:
            return False

    @property
    def has_credentials(self) -> bool:
        """Whether an API key and secret are set (signed endpoints can be asked)."""
        return bool(getattr(self._exchange, "apiKey", None) and getattr(self._exchange, "secret", None))

    def __repr__(self) -> str:
        api = self._exchange.urls.get("api") or {}
        where = api.get("fapiPublic", "?") if isinstance(api, dict) else "?"
        return f"ExchangeClient({self._exchange.id}, {where}, markets={len(self._exchange.markets or {})})"

    @property
    def exchange(self) -> Any:
        """The wrapped ccxt instance (for tests and diagnostics; trade through the client's methods)."""
        return self._exchange

    def stats(self) -> dict[str, int]:
        """Counters since start: ``calls`` (ccxt calls, nested look-ups included), ``retries`` (attempts
        repeated after a temporary failure), ``temporary_failures`` (calls that ran out of attempts:
        :class:`ExchangeUnavailable`), ``permanent_failures`` (:class:`OrderRejected`)."""
        return dict(self._stats)

    def close(self) -> None:
        """Close the HTTP session. Idempotent."""
        self._exchange.close()

    # ------------------------------------------------------------------ the retry wrapper

    def _clean(self, exc: BaseException) -> str:
        """The exception's text without secrets; the exception itself is scrubbed too and loses its cause."""
        text = _SIGNATURE.sub(r"\1<redacted>", str(exc))
        for secret in (getattr(self._exchange, "secret", None), getattr(self._exchange, "apiKey", None)):
            if isinstance(secret, str) and len(secret) >= 4:
                text = text.replace(secret, "<redacted>")
        exc.args = (text,)
        exc.__cause__ = exc.__context__ = None
        exc.__suppress_context__ = True
        prefix = f"{self._exchange.id} "
        return text[len(prefix):] if text.startswith(prefix) else text

    def _call(self, what: str, fn: Callable[..., T], *args: Any, recover: Callable[[], T | None] | None = None) -> T:
        """``fn(*args)`` (a ccxt call) with the error policy of the module doc. ``what`` names the
        request in logs and errors. ``recover``, if given, runs before each retry; when it returns something
        that is the answer and the call is not repeated (how order placement stays idempotent)."""
        ccxt = _ccxt()
        self._stats["calls"] += 1
        backoff = Backoff(initial=self._base_delay, maximum=self._max_delay, rng=self._rng)
        attempt = 1
        while True:
            if attempt > 1 and recover is not None:
                found = recover()
                if found is not None:
                    self._log.info("exchange.recovered", what=what, attempt=attempt)
                    return found
            try:
                return fn(*args)
            except ccxt.OperationFailed as exc:  # NetworkError and its family, and "internal error, retry"
                error = f"{type(exc).__name__}: {self._clean(exc)}"
                if attempt >= self._retries:
                    self._stats["temporary_failures"] += 1
                    # a warning: the caller says what it means (the bot's job_failed at error, a start that
                    # will be tried again at warning)
                    self._log.warning("exchange.unavailable", what=what, attempts=attempt, error=error)
                    raise ExchangeUnavailable(f"{what}: {error} (gave up after {attempt} attempts)") from exc
                delay = backoff.next_delay()
                self._stats["retries"] += 1
                self._log.warning("exchange.retry", what=what, attempt=attempt, attempts=self._retries,
                                  delay=round(delay, 3), error=error)
                self._sleep(delay)
                attempt += 1
                if isinstance(exc, ccxt.InvalidNonce):  # our clock is off (-1021): sign with the server's time
                    self._call("sync clock with the server", self._exchange.load_time_difference)
            except ccxt.BaseError as exc:
                code, message = _binance_error(self._clean(exc))
                detail = f"{message} (Binance {code})" if code is not None else message
                error = f"{type(exc).__name__}: {detail}"
                self._stats["permanent_failures"] += 1
                self._log.error("exchange.rejected", what=what, error=error, code=code)
                raise OrderRejected(f"{what}: {error}") from exc

    # ------------------------------------------------------------------ markets and rounding

    def load_markets(self, reload: bool = False) -> Mapping[str, Any]:
        """The exchange's markets by unified symbol (one ``/fapi/v1/exchangeInfo``; cached unless ``reload``)."""
        return cast(Mapping[str, Any], self._call("load markets", self._exchange.load_markets, reload))

    @property
    def markets(self) -> MarketsLike:
        """For :func:`live_heatmap.common.symbols.to_unified` / ``to_exchange_id`` (the ccxt instance; its lookups
        answer once :meth:`load_markets` ran)."""
        return cast(MarketsLike, self._exchange)

    def _ensure_markets(self) -> None:
        if not self._exchange.markets:
            self.load_markets()

    def _symbol(self, symbol: str) -> str:
        """:meth:`unified`, the markets loaded first."""
        self._ensure_markets()
        return self.unified(symbol)

    def unified(self, symbol: str) -> str:
        """``BTC/USDT:USDT`` for ``BTCUSDT`` or ``BTC/USDT:USDT``."""
        return to_unified(symbol, self.markets)

    def _market(self, symbol: str) -> Mapping[str, Any]:
        unified = self._symbol(symbol)
        return cast(Mapping[str, Any], self._call(f"market {unified}", self._exchange.market, unified))

    def amount_to_precision(self, symbol: str, amount: float) -> float:
        """``amount`` truncated (never rounded up) to the symbol's quantity step; 0.0 when below one step."""
        unified = self._symbol(symbol)
        ccxt = _ccxt()

        def rounded() -> float:
            try:
                return float(self._exchange.amount_to_precision(unified, amount))
            except ccxt.InvalidOrder:  # ccxt refuses a result of 0
                if unified not in (self._exchange.markets or {}):
                    raise
                return 0.0

        return self._call(f"round amount {amount} {unified}", rounded)

    def price_to_precision(self, symbol: str, price: float) -> float:
        """``price`` rounded to the symbol's tick."""
        unified = self._symbol(symbol)
        return float(self._call(f"round price {price} {unified}", self._exchange.price_to_precision, unified,
                                price))

    def min_amount(self, symbol: str) -> float | None:
        """Smallest quantity a (market) order may have, or None if the exchange sets none."""
        limits = self._market(symbol).get("limits") or {}
        found = [float(v) for key in ("amount", "market") if (v := (limits.get(key) or {}).get("min")) is not None]
        return max(found) if found else None

    def min_notional(self, symbol: str) -> float | None:
        """Smallest ``quantity * price`` in USDT an order may have (reduce-only orders excepted), or None."""
        value = ((self._market(symbol).get("limits") or {}).get("cost") or {}).get("min")
        return None if value is None else float(value)

    # ------------------------------------------------------------------ prices

    def _wanted(self, symbols: Sequence[str] | None) -> set[str] | None:
        """``symbols`` unified (None: all), the markets loaded first."""
        self._ensure_markets()
        return None if symbols is None else {self.unified(s) for s in symbols}

    def _per_symbol(self, what: str, fetch: Callable[[], Mapping[str, Any]], key: str,
                    symbols: Sequence[str] | None) -> dict[str, Mapping[str, Any]]:
        """``fetch``'s rows by unified symbol, those with a ``key``, of ``symbols`` (either form) when given."""
        wanted = self._wanted(symbols)
        rows = self._call(what, fetch)
        return {s: row for s, row in rows.items() if row.get(key) is not None and (wanted is None or s in wanted)}

    def mark_prices(self, symbols: Sequence[str] | None = None) -> dict[str, float]:
        """Mark prices by unified symbol: one ``/fapi/v1/premiumIndex`` for all symbols, filtered to
        ``symbols`` (either form) when given; a symbol the exchange does not list is left out."""
        return {s: price for s, (price, _) in self.mark_prices_at(symbols).items()}

    def mark_prices_at(self, symbols: Sequence[str] | None = None) -> dict[str, tuple[float, int | None]]:
        """:meth:`mark_prices` with the time the exchange computed each (premiumIndex's ``time``, epoch ms;
        None when the answer has none)."""
        rows = self._per_symbol("fetch mark prices", self._exchange.fetch_mark_prices, "markPrice", symbols)
        return {s: (float(row["markPrice"]), int(row["timestamp"]) if row.get("timestamp") else None)
                for s, row in rows.items()}

    def funding_rates(self, symbols: Sequence[str] | None = None) -> dict[str, tuple[float, int]]:
        """``{unified: (funding rate, next funding time ms)}``: one ``/fapi/v1/premiumIndex``, filtered like
        :meth:`mark_prices`. A positive rate means longs pay shorts."""
        rows = self._per_symbol("fetch funding rates", self._exchange.fetch_funding_rates, "fundingRate", symbols)
        return {s: (float(row["fundingRate"]), int(row.get("fundingTimestamp") or 0)) for s, row in rows.items()}

    # ------------------------------------------------------------------ account settings

    def prepare_symbol(self, symbol: str, leverage: int) -> None:
        """Isolated margin and ``leverage`` for ``symbol``; done once per symbol and leverage per client.
        Margin already isolated (-4046) counts as done; a change refused (e.g. -4048, a position is open
        in cross margin) raises :class:`OrderRejected`."""
        unified = self._symbol(symbol)
        if self._prepared.get(unified) == leverage:
            return
        if unified not in self._prepared:
            ccxt = _ccxt()

            def isolate() -> None:
                try:
                    self._exchange.set_margin_mode("isolated", unified)
                except ccxt.OperationRejected as exc:  # MarginModeAlreadySet is one
                    already = isinstance(exc, ccxt.MarginModeAlreadySet)
                    if not already and _binance_error(str(exc))[0] != NO_NEED_TO_CHANGE_MARGIN_TYPE:
                        raise

            self._call(f"set isolated margin {unified}", isolate)
        self._call(f"set leverage {leverage} {unified}", self._exchange.set_leverage, leverage, unified)
        self._prepared[unified] = leverage
        self._log.info("exchange.symbol_prepared", symbol=unified, leverage=leverage, margin_mode="isolated")

    # ------------------------------------------------------------------ orders

    def fetch_order_by_id(self, symbol: str, order_id: str) -> OrderResult | None:
        """The (plain) order with the exchange's ``order_id``, e.g. a triggered exit's
        :attr:`OrderResult.actual_order_id`; None if the exchange has none."""
        unified = self._symbol(symbol)
        found = self._found(f"fetch order {unified} {order_id}", self._exchange.fetch_order, order_id, unified, {})
        return None if found is None else OrderResult.from_ccxt(found)

    def _fetch_raw(self, unified: str, client_id: str, *, algo: bool) -> dict[str, Any] | None:
        """The order (or algo order) with ``client_id``; None when the exchange has none (-2013)."""
        params: dict[str, Any] = {"trigger": True, "clientAlgoId": client_id} if algo \
            else {"origClientOrderId": client_id}
        kind = "algo order" if algo else "order"
        what = f"fetch {kind} {unified} by client id {client_id}"
        return cast("dict[str, Any] | None", self._found(what, self._exchange.fetch_order, None, unified, params))

    def _found(self, what: str, fn: Callable[..., T], *args: Any) -> T | None:
        """:meth:`_call`; None when the exchange has no such order (ccxt's ``OrderNotFound``)."""
        ccxt = _ccxt()

        def call() -> T | None:
            try:
                return fn(*args)
            except ccxt.OrderNotFound:
                return None

        return self._call(what, call)

    def _place(self, what: str, unified: str, client_id: str, send: Callable[[], dict[str, Any]], *,
               algo: bool) -> OrderResult:
        """Send an order idempotently on ``client_id`` (see the module doc)."""
        ccxt = _ccxt()
        unknown_since: list[float] = []  # when the last attempt of unknown outcome failed; empty: none pending

        def submit() -> dict[str, Any] | None:  # None: Binance answered -4116, the id is taken
            try:
                return send()
            except ccxt.InvalidOrder as exc:
                if _binance_error(str(exc))[0] == DUPLICATE_CLIENT_ID:
                    return None
                raise
            except ccxt.OperationFailed as exc:
                if outcome_unknown(exc):
                    unknown_since[:] = [self._clock()]  # the request's timestamp is no later than this
                raise

        def recover() -> dict[str, Any] | None:
            found = self._fetch_raw(unified, client_id, algo=algo)
            if found is not None or not unknown_since:
                return found
            # "not found" may only mean Binance has not processed the request yet; once its recvWindow is
            # over Binance refuses it, and "not found" is final. recvWindow: ccxt's ``options['recvWindow']`` (ms).
            window_ms = self._exchange.options.get("recvWindow")
            window = (DEFAULT_RECV_WINDOW_MS if window_ms is None else int(window_ms)) / 1000.0
            wait = unknown_since.pop() + window + CLOCK_MARGIN_S - self._clock()
            if wait > 0:
                self._log.warning("exchange.await_recv_window", what=what, seconds=round(wait, 3))
                self._sleep(wait)
            return self._fetch_raw(unified, client_id, algo=algo)

        answer = self._call(what, submit, recover=recover)
        if answer is None:
            found = self._fetch_raw(unified, client_id, algo=algo)
            if found is None:
                self._stats["permanent_failures"] += 1
                message = f"{what}: the client id is taken (Binance {DUPLICATE_CLIENT_ID}) but no order has it"
                self._log.error("exchange.rejected", what=what, error=message, code=DUPLICATE_CLIENT_ID)
                raise OrderRejected(message)
            self._log.warning("exchange.duplicate_client_id", what=what, client_id=client_id)
            answer = found
        result = OrderResult.from_ccxt(answer)
        self._log.info("exchange.order", symbol=result.symbol, side=result.side, type=result.type,
                       amount=result.amount, filled=result.filled, average=result.average,
                       trigger_price=result.trigger_price, reduce_only=result.reduce_only, status=result.status,
                       client_id=result.client_id, id=result.id)
        return result

    @staticmethod
    def _check(side: str, client_id: str) -> None:
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
        if not client_id:
            raise ValueError("a client id is required (it makes placing the order idempotent)")

    def _create(self, label: str, unified: str, side: str, amount: float, client_id: str, *,
                params: dict[str, Any], algo: bool) -> OrderResult:
        """A market-type order of ``amount`` truncated to the quantity step, placed by :meth:`_place`."""
        qty = self.amount_to_precision(unified, amount)
        if qty <= 0:
            self._stats["permanent_failures"] += 1
            message = f"{label}: amount {amount} is below the quantity step"
            self._log.error("exchange.rejected", what=label, error=message, code=None)
            raise OrderRejected(message)

        def send() -> dict[str, Any]:
            return cast(dict[str, Any], self._exchange.create_order(unified, "market", side, qty, None, params))

        return self._place(label.replace(f" {amount:g} ", f" {qty:g} ", 1), unified, client_id, send, algo=algo)

    def create_market_order(self, symbol: str, side: str, amount: float, client_id: str, *,
                            reduce_only: bool = False) -> OrderResult:
        """A market order of ``amount`` (truncated to the quantity step) under ``client_id``. Placing the same
        ``client_id`` again returns the order already placed instead of a second one."""
        self._check(side, client_id)
        unified = self._symbol(symbol)
        flags = ", reduce-only" if reduce_only else ""
        label = f"create market {side} {amount:g} {unified} (client id {client_id}{flags})"
        params: dict[str, Any] = {"newClientOrderId": client_id}
        if reduce_only:
            params["reduceOnly"] = True
        return self._create(label, unified, side, amount, client_id, params=params, algo=False)

    def create_exit_order(self, symbol: str, side: str, amount: float, trigger_price: float,  # noqa: PLR0917
                          kind: ExitKind, client_id: str) -> OrderResult:
        """A reduce-only ``STOP_MARKET`` (``stop_loss``) or ``TAKE_PROFIT_MARKET`` (``take_profit``) order on
        Binance's algo-order API, triggered by the mark price at ``trigger_price`` (rounded to the tick),
        idempotent on ``client_id`` like :meth:`create_market_order`. ``side`` closes the position: ``sell``
        for a long."""
        self._check(side, client_id)
        if kind not in ("stop_loss", "take_profit"):
            raise ValueError(f"kind must be 'stop_loss' or 'take_profit', got {kind!r}")
        unified = self._symbol(symbol)
        trigger = self.price_to_precision(unified, trigger_price)
        label = f"create {kind} {side} {amount:g} {unified} at {trigger:g} (client id {client_id})"
        params: dict[str, Any] = {
            "stopLossPrice" if kind == "stop_loss" else "takeProfitPrice": trigger,
            "reduceOnly": True,
            "workingType": "MARK_PRICE",
            "clientAlgoId": client_id,
        }
        return self._create(label, unified, side, amount, client_id, params=params, algo=True)

    def fetch_order_by_client_id(self, symbol: str, client_id: str, *, algo: bool = False) -> OrderResult | None:
        """The order (``algo``: the conditional order) with ``client_id``, or None if the exchange has none."""
        found = self._fetch_raw(self._symbol(symbol), client_id, algo=algo)
        return None if found is None else OrderResult.from_ccxt(found)

    def cancel_order(self, symbol: str, order_id_or_client_id: str, *, algo: bool) -> bool:
        """Cancel an open order (``algo``: a conditional one). An all-digit id is the exchange's order id,
        anything else a client id. True if cancelled; False if the exchange knows no such open order
        (already filled, triggered or cancelled: -2011)."""
        unified = self._symbol(symbol)
        by_id = order_id_or_client_id.isdigit()
        params: dict[str, Any] = {"trigger": True} if algo else {}
        if not by_id:
            params["clientAlgoId" if algo else "origClientOrderId"] = order_id_or_client_id
        order_id = order_id_or_client_id if by_id else None
        what = f"cancel {'algo order' if algo else 'order'} {order_id_or_client_id} {unified}"
        done = self._found(what, self._exchange.cancel_order, order_id, unified, params) is not None
        self._log.info("exchange.cancel", symbol=unified, order=order_id_or_client_id, algo=algo, cancelled=done)
        return done

    def open_exit_orders(self, symbol: str | None = None) -> list[OrderResult]:
        """Open conditional (stop / take-profit) orders, of ``symbol`` or of every symbol."""
        self._ensure_markets()
        unified = None if symbol is None else self.unified(symbol)
        rows = self._call(f"fetch open algo orders {unified or 'of every symbol'}", self._exchange.fetch_open_orders,
                          unified, None, None, {"trigger": True})
        return [OrderResult.from_ccxt(row) for row in rows]

    # ------------------------------------------------------------------ positions and balance

    def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[ExchangePosition]:
        """Open (non-zero) positions, of ``symbols`` (either form) or all."""
        wanted = self._wanted(symbols)
        rows = self._call("fetch positions", self._exchange.fetch_positions)
        return [ExchangePosition.from_ccxt(row) for row in rows
                if float(row.get("contracts") or 0.0) != 0.0 and (wanted is None or row.get("symbol") in wanted)]

    def fetch_balance(self) -> Balance:
        """The USDT wallet balance and the amount available for new margin."""
        balance = self._call("fetch balance", self._exchange.fetch_balance)
        info = balance.get("info") or {}
        for asset in info.get("assets") or ():
            if asset.get("asset") == _QUOTE:
                return Balance(float(asset["walletBalance"]), float(asset["availableBalance"]))
        usdt = balance.get(_QUOTE) or {}
        return Balance(float(usdt.get("total") or 0.0), float(usdt.get("free") or 0.0))

    def leverage_brackets(self, *, as_of: datetime | None = None) -> BracketTable:
        """Every symbol's leverage brackets: one signed ``GET /fapi/v1/leverageBracket`` (weight 1; ccxt's raw
        ``fapiPrivateGetLeverageBracket``, so the answer is Binance's own shape), parsed by
        :func:`live_heatmap.estimated.brackets.parse_leverage_brackets` into a table dated ``as_of`` (default:
        now, UTC). Needs API keys; see :func:`liquidation_hunter.trading.brackets.current_brackets` for the
        fallback to the shipped table. A malformed answer raises :class:`ValueError`."""
        answer = self._call("fetch leverage brackets", self._exchange.fapiPrivateGetLeverageBracket)
        return parse_leverage_brackets(answer, as_of=as_of or datetime.now(UTC), source="exchange")

    def funding_history(self, since_ms: int, symbols: Sequence[str] | None = None) -> list[FundingPayment]:
        """Funding paid and received since ``since_ms``, oldest first: one ``GET /fapi/v1/income`` with
        ``incomeType=FUNDING_FEE`` (ccxt's ``fetch_funding_history``, up to 1,000 rows), of ``symbols`` (either
        form) when given."""
        wanted = self._wanted(symbols)
        rows = self._call("fetch funding history", self._exchange.fetch_funding_history, None, since_ms, 1000)
        out = [FundingPayment(str(row["symbol"]), int(row["timestamp"]), float(row["amount"])) for row in rows
               if row.get("amount") is not None and row.get("timestamp") is not None
               and (row.get("code") in (None, _QUOTE)) and (wanted is None or row.get("symbol") in wanted)]
        return sorted(out, key=lambda p: (p.at, p.symbol))

    def open_interest_history(self, symbol: str, since_ms: int, until_ms: int, *,
                              now_ms: int) -> list[tuple[int, float, float]]:
        """5-minute open interest ``(time ms, base amount, quote value)`` from ``since_ms`` to ``until_ms``,
        oldest first: ``GET /futures/data/openInterestHist?period=5m&limit=500`` (ccxt's
        ``fetch_open_interest_history``), one request per 500 rows. Binance answers only the last 30 days
        before ``now_ms``: an older ``since_ms`` is a ValueError before any request (download the archive's
        ``metrics`` files instead: ``liquidation-hunter fetch-history``)."""
        if since_ms > until_ms:
            raise ValueError(f"open interest history: since {since_ms} is after until {until_ms}")
        if since_ms < now_ms - OPEN_INTEREST_HISTORY_MS:
            days = (now_ms - since_ms) / 86_400_000
            raise ValueError(f"open interest history: Binance's REST answers the last 30 days only, {since_ms} is "
                             f"{days:.1f} days back; use `liquidation-hunter fetch-history SYMBOL --kinds metrics`")
        unified = self._symbol(symbol)
        rows: dict[int, tuple[int, float, float]] = {}
        start = since_ms
        while start <= until_ms:
            end = min(until_ms, start + _OI_STEP_MS * (_OI_LIMIT - 1))
            page = self._call(f"fetch open interest history {unified}", self._exchange.fetch_open_interest_history,
                              unified, "5m", start, _OI_LIMIT, {"until": end})
            for row in page:
                at = row.get("timestamp")
                if at is not None and since_ms <= int(at) <= until_ms:
                    rows[int(at)] = (int(at), float(row.get("openInterestAmount") or 0.0),
                                     float(row.get("openInterestValue") or 0.0))
            start = end + 1
        return [rows[t] for t in sorted(rows)]

    def open_interest(self, symbol: str) -> tuple[int, float]:
        """The open interest now, ``(time ms, base amount)``: ``GET /fapi/v1/openInterest`` (weight 1; ccxt's raw
        ``fapiPublicGetOpenInterest``, Binance's own shape). A malformed answer raises :class:`ValueError`."""
        market_id = to_exchange_id(symbol)
        answer = self._call(f"fetch open interest {market_id}", self._exchange.fapiPublicGetOpenInterest,
                            {"symbol": market_id})
        try:
            at, amount = int(answer["time"]), float(answer["openInterest"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"open interest {market_id}: not Binance's answer: {str(answer)[:200]}") from None
        if not (math.isfinite(amount) and amount >= 0):
            raise ValueError(f"open interest {market_id}: {amount!r} is not an amount")
        return at, amount

    def depth_snapshot(self, symbol: str, limit: int = 1000) -> dict[str, Any]:
        """Binance's order book now: ``GET /fapi/v1/depth?symbol=..&limit=..`` (ccxt's raw ``fapiPublicGetDepth``,
        Binance's own shape: ``lastUpdateId``, ``E``, ``T``, ``bids``, ``asks`` as ``[price, qty]`` strings), weight
        2/5/10/20 for <= 50/100/500/1000 levels (:func:`~live_heatmap.stream.depth_budget.depth_weight`). The
        answer is handed over as Binance sent it (``live_heatmap.wire.depth.parse_depth_snapshot`` reads it); one
        without ``lastUpdateId`` or the two sides raises :class:`ValueError`, as does a ``limit`` Binance does
        not accept."""
        depth_weight(limit)  # ValueError for a limit Binance refuses
        market_id = to_exchange_id(symbol)
        answer = self._call(f"fetch depth {market_id}", self._exchange.fapiPublicGetDepth,
                            {"symbol": market_id, "limit": limit})
        if not (isinstance(answer, dict) and "lastUpdateId" in answer and isinstance(answer.get("bids"), list)
                and isinstance(answer.get("asks"), list)):
            raise ValueError(f"depth {market_id}: not Binance's answer: {str(answer)[:200]}")
        return answer

    def klines_5m(self, symbol: str, start_ms: int, end_ms: int, *, now_ms: int, mark: bool = False) -> list[Kline]:
        """The 5-minute klines opening from ``start_ms`` to ``end_ms``, oldest first: ``GET /fapi/v1/klines`` (or,
        with ``mark``, ``GET /fapi/v1/markPriceKlines``; ccxt's raw ``fapiPublicGetKlines`` /
        ``fapiPublicGetMarkPriceKlines``) in pages of up to 499 rows (weight 2 each, Binance's cheapest per row; a
        page of fewer than 100 rows: 1). A row whose ``close_time`` is not before ``now_ms`` is the open bar
        (``closed`` False). A malformed row raises :class:`ValueError`."""
        if start_ms > end_ms:
            raise ValueError(f"klines: start {start_ms} is after end {end_ms}")
        market_id = to_exchange_id(symbol)
        fetch = self._exchange.fapiPublicGetMarkPriceKlines if mark else self._exchange.fapiPublicGetKlines
        what = f"fetch {'mark price ' if mark else ''}klines {market_id}"
        out: list[Kline] = []
        start = start_ms
        while start <= end_ms:
            limit = min(KLINE_PAGE, (end_ms - start) // _KLINE_MS + 1)
            page = self._call(what, fetch, {"symbol": market_id, "interval": "5m", "startTime": start,
                                            "endTime": end_ms, "limit": limit})
            try:
                rows = [kline_from_rest(market_id, row, now_ms=now_ms) for row in page]
            except FrameRejected as exc:
                raise ValueError(f"{what}: {exc}") from None
            rows = [k for k in rows if start_ms <= k.open_time <= end_ms]
            if not rows:
                break
            out.extend(rows)
            start = rows[-1].open_time + _KLINE_MS
        return out
