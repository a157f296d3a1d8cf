"""``LiquidationHunter``: the best cluster of a symbol turned into a trade signal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from liquidation_hunter.signals.rules import (
    HunterConfig,
    Rule,
    Signal,
    WallLike,
    agreeing_zone,
    estimated_rule,
    facing_wall,
    magnet_rule,
    place_exits,
    walled,
    zone_origin,
)
from liquidation_hunter.signals.sources import SOURCES, Attached
from live_heatmap import LiquidationCluster, LiveLiquidationHeatmap, to_exchange_id, to_unified
from live_heatmap.common.symbols import MarketsLike
from live_heatmap.estimated.layer import EstimatedLayer, EstimatedZone
from live_heatmap.orderbook.layer import LiquidityLayer
from live_heatmap.venue import Venue

if TYPE_CHECKING:
    from live_heatmap.stream.stream import LiquidationStream

__all__ = ["LiquidationHunter"]

_T = TypeVar("_T", LiquidationCluster, EstimatedZone)


class LiquidationHunter:
    """Signals from liquidation clusters, for ccxt symbols (``BTC/USDT:USDT``).

    >>> hunter = LiquidationHunter()
    >>> hunter.set_data_source('live_binance', symbols=['BTCUSDT', 'ETH/USDT:USDT'])  # doctest: +SKIP
    >>> signal, strength, cluster = hunter.generate_signal('BTC/USDT:USDT', 90000.0)  # doctest: +SKIP
    >>> hunter.stop()  # the stream closed, its threads joined  # doctest: +SKIP

    ``config`` is a :class:`HunterConfig` or a mapping of its fields; ``rule``
    replaces the default ``magnet`` rule; ``markets`` (a ccxt exchange with
    markets loaded) makes symbol conversion use the exchange's own table; ``exchanges`` (``["bybit"]``)
    replaces ``config.exchanges``: the venues whose liquidations the hunter reads (None: every venue);
    ``estimated`` is the estimated layer (:class:`~live_heatmap.estimated.layer.EstimatedLayer`) the rules that
    read estimated levels use (None: no estimated levels known).

    ``config.target`` chooses what is traded toward (:mod:`liquidation_hunter.signals.rules`): ``observed``
    clusters (``rule``), ``estimated`` zones of the layer, or an observed cluster (``rule``'s pick) kept only when
    an estimated zone ``agree`` s with it. Without the layer, or before the symbol's first bar, ``estimated``
    and ``agree`` signal 0 with a reason saying so.

    ``liquidity`` is the order-book liquidity layer (:class:`~live_heatmap.orderbook.layer.LiquidityLayer`) whose
    active walls ``config.wall`` (``prefer``/``require``) reads; None: no walls known (``require`` then signals 0
    saying so, ``prefer`` is ``off``).
    """

    def __init__(
        self,
        config: HunterConfig | Mapping[str, Any] | None = None,
        heatmap: LiveLiquidationHeatmap | None = None,
        *,
        rule: Rule = magnet_rule,
        markets: MarketsLike | None = None,
        exchanges: Iterable[Venue | str] | None = None,
        estimated: EstimatedLayer | None = None,
        liquidity: LiquidityLayer | None = None,
    ) -> None:
        if config is None:
            config = HunterConfig()
        elif not isinstance(config, HunterConfig):
            config = HunterConfig.from_mapping(config)
        self.config = config
        if exchanges is not None:
            self.set_exchanges(exchanges)
        self.heatmap = heatmap or LiveLiquidationHeatmap()
        self.rule = rule
        self.markets = markets
        self.estimated = estimated
        self.liquidity = liquidity
        self.source: str | None = None
        self.symbols: list[str] = []
        """Unified symbols of the current data source (empty: all it delivers)."""
        self.stream: LiquidationStream | None = None
        """The stream of the ``live_binance`` source (its ``status()``: connections, reconnects...)."""

    @property
    def exchanges(self) -> tuple[Venue, ...] | None:
        """The venues whose liquidations the hunter reads (None: every venue the heatmap holds)."""
        return self.config.exchanges

    def set_exchanges(self, exchanges: Iterable[Venue | str] | None) -> None:
        """Read these venues' liquidations only (None: every venue). Raises ``ValueError`` naming an unknown one."""
        if exchanges is not None:
            if isinstance(exchanges, str):
                exchanges = [exchanges]
            try:
                exchanges = tuple(Venue(str(x).strip().lower()) for x in exchanges)
            except ValueError:
                raise ValueError(f"exchanges: expected some of {', '.join(Venue)}, got {list(exchanges)!r}") from None
            if not exchanges:
                raise ValueError(f"exchanges: expected None or some of {', '.join(Venue)}, got none")
        self.config = msgspec.structs.replace(self.config, exchanges=exchanges)

    def set_data_source(self, source: str = "live_binance", symbols: Iterable[str] | None = None,
                        *, exchanges: Iterable[Venue | str] | None = None, **options: Any) -> LiveLiquidationHeatmap:
        """Attach a source of liquidations: ``'live_binance'``, ``'replay'`` (``path=``) or
        ``'heatmap'`` (``heatmap=``), or any registered with :func:`register_source`.

        ``symbols`` may mix ``BTCUSDT`` and ``BTC/USDT:USDT``. ``exchanges`` (``["bybit", "okx"]``) makes the
        hunter read those venues' liquidations only (:meth:`set_exchanges`; left out: the hunter's setting
        stands). Returns the heatmap in use. A stream the previous source started is stopped first; :meth:`stop`
        stops this one's.
        """
        if exchanges is not None:
            self.set_exchanges(exchanges)
        factory = SOURCES.get(source)
        if factory is None:
            raise ValueError(f"unknown data source {source!r}; known: {', '.join(sorted(SOURCES))}")
        wanted = list(symbols or [])
        ids = [to_exchange_id(s, self.markets) for s in wanted]
        self.stop()
        attached = factory(self.heatmap, ids, dict(options))
        if not isinstance(attached, Attached):
            attached = Attached(attached)
        self.heatmap, self.stream = attached.heatmap, attached.stream
        self.source = source
        self.symbols = [to_unified(s, self.markets) for s in ids]
        return self.heatmap

    def stop(self, timeout: float = 1.5) -> None:
        """Stop the data source's stream, if it has one (every connection closed, every thread joined)."""
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.stop(timeout)

    def evaluate(self, symbol: str, current_price: float, *, now_ms: int | None = None) -> Signal:
        """The full signal: direction, strength, cluster, entry, stop-loss and take-profit.

        Reads only: ``current_price`` is the rule's price, never written into the heatmap (whose prices are
        its feed's: the mark price, a backtest's price series); the clusters' ``distance_from_price`` stays
        the heatmap's."""
        if not (current_price > 0.0 and current_price < float("inf")):
            raise ValueError(f"current_price for {symbol}: expected a positive finite number, got {current_price!r}")
        unified = to_unified(symbol, self.markets)
        market_id = to_exchange_id(unified, self.markets)
        now = self.heatmap.clock() if now_ms is None else now_ms
        target = self.config.target
        if target != "observed":
            missing = self._no_estimates(market_id)
            if missing is not None:
                return Signal(unified, 0, 0.0, None, None, None, None, missing, now)
        walls = self._walls(market_id)
        if self.config.wall == "require" and walls is None:
            return Signal(unified, 0, 0.0, None, None, None, None,
                          "wall require: no liquidity layer (the order book is off)", now)
        if target == "estimated":
            return self._estimated_signal(unified, market_id, current_price, now, walls)
        clusters = self.heatmap.get_clusters(market_id, now_ms=now, exchanges=self.config.exchanges)
        direction, cluster, reason = self._with_walls(
            lambda found: self.rule(found, current_price, self.config), clusters, walls)
        if direction == 0 or cluster is None:
            return Signal(unified, 0, 0.0, None, None, None, None, reason, now)
        zone = None
        if target == "agree":
            assert self.estimated is not None  # _no_estimates said so
            zone = agreeing_zone(cluster, self.estimated.zones(market_id, current_price), self.config)
            if zone is None:
                return Signal(unified, 0, 0.0, None, None, None, None,
                              f"{reason}, but no estimated {cluster.side} zone within {self.config.agree_pct:g}% "
                              f"({self._estimated_label()})", now)
            reason = f"{reason}, estimated {zone.side} levels agree at {zone.price_level:,.8g} " \
                     f"({self._estimated_label()})"
        stop_loss, take_profit = place_exits(direction, current_price, cluster.price_level, self.config)
        return Signal(unified, direction, cluster.strength, cluster, current_price, stop_loss, take_profit,
                      reason, now, zone=zone)

    def _walls(self, market_id: str) -> list[WallLike] | None:
        """The symbol's active walls when ``config.wall`` reads them; None with ``wall: off`` or no layer."""
        if self.config.wall == "off" or self.liquidity is None:
            return None
        with self.liquidity.lock:  # the bot's job may be sampling
            tracker = self.liquidity.walls(market_id)
            return [] if tracker is None else list(tracker.active())

    def _with_walls(self, pick: Callable[[Sequence[_T]], tuple[int, _T | None, str]], targets: Sequence[_T],
                    walls: list[WallLike] | None) -> tuple[int, _T | None, str]:
        """``pick`` (a rule over targets) under ``config.wall`` (rules module docstring): the pick among the walled
        targets, else (``prefer``, or no walls read) the pick among all; the reason names the wall."""
        if walls is None:
            return pick(targets)
        near = walled(targets, walls, self.config)
        if near:
            direction, found, reason = pick(near)
            if direction != 0 and found is not None:
                wall = facing_wall(found, walls, self.config)
                assert wall is not None  # walled() kept it
                return direction, found, f"{reason}, a {wall.side} wall of {wall.notional:,.0f} at " \
                                         f"{wall.price:,.8g} meets the move"
        if self.config.wall == "require":
            return 0, None, f"no target with a wall within {self.config.wall_pct:g}% (wall: require)"
        return pick(targets)

    def _no_estimates(self, market_id: str) -> str | None:
        """Why target estimated/agree cannot read estimated levels of the symbol; None when it can."""
        if self.estimated is None:
            return f"target {self.config.target}: no estimated layer (estimated levels are off)"
        if market_id not in self.estimated:
            return f"target {self.config.target}: no estimated levels for {market_id} yet (no closed bar)"
        return None

    def _estimated_label(self) -> str:
        """``brackets of 2025-12-25 (shipped table), not validated``: what a reason says of the estimates."""
        assert self.estimated is not None
        return f"{self.estimated.brackets.label}, {self.estimated.validation.label}"

    def _estimated_signal(self, unified: str, market_id: str, price: float, now: int,
                          walls: list[WallLike] | None) -> Signal:
        layer = self.estimated
        assert layer is not None  # _no_estimates said so
        direction, zone, reason = self._with_walls(lambda found: estimated_rule(found, price, self.config),
                                                   layer.zones(market_id, price), walls)
        if direction == 0 or zone is None:
            return Signal(unified, 0, 0.0, None, None, None, None, f"{reason} ({self._estimated_label()})", now)
        model = layer.get(market_id)
        bar_close = model.last_close_time if model is not None else None
        stop_loss, take_profit = place_exits(direction, price, zone.price_level, self.config)
        return Signal(unified, direction, zone.strength, None, price, stop_loss, take_profit,
                      f"{reason} ({self._estimated_label()})", now, origin=zone_origin(zone, bar_close), zone=zone)

    def generate_signal(self, symbol: str, current_price: float, *,
                        now_ms: int | None = None) -> tuple[int, float, LiquidationCluster | None]:
        """The guide's call: ``(signal, strength, cluster)`` with signal +1, -1 or 0."""
        return self.evaluate(symbol, current_price, now_ms=now_ms).as_tuple()
