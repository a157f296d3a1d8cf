"""What a bot is assembled from its config: the configured strategy, its parameters read here (run, backtest,
check-config), and the live stream's settings.

``strategy.params`` is loaded as written; the strategy's own params type (``strategies``) reads it here, so a
bad parameter is one line naming the file and the key: ``bot.yaml: strategy.params.burst_minutes: expected a
number in (0, 60] (minutes), got 0``.
"""

from __future__ import annotations

from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.config.secrets import environment_secrets
from liquidation_hunter.config.sections import ExchangeConfig
from liquidation_hunter.signals.hunter import LiquidationHunter
from liquidation_hunter.signals.rules import check_estimated_target, check_wall_option
from live_heatmap import ConfigError, LiveLiquidationHeatmap
from live_heatmap.stream.connection import ConnectionSettings
from live_heatmap.stream.stream import StreamSettings
from strategies import Strategy, make_strategy, strategy_from_path

__all__ = ["check_layers", "check_strategy", "configured_strategy", "stream_settings"]


def configured_strategy(config: BotConfig, hunter: LiquidationHunter) -> Strategy:
    """``config``'s strategy reading ``hunter``: a shipped one (``strategy.name``) or the one in
    ``strategy.path``; a bad parameter, file or name raises :class:`ConfigError` (``<file>: strategy.params.<key>:
    ...``, ``<file>: strategy.path: <the file>: line 3: invalid syntax``)."""
    strategy = config.strategy
    if strategy.path is not None:
        try:
            return strategy_from_path(strategy.path, strategy.name, hunter, strategy.params)
        except ConfigError as exc:
            raise exc.within("strategy", file=config.source, secrets=environment_secrets()) from None
    try:
        return make_strategy(config.strategy.name, hunter, config.strategy.params)
    except ConfigError as exc:
        raise exc.within("strategy.params", file=config.source, secrets=environment_secrets()) from None


def check_strategy(config: BotConfig) -> None:
    """Build ``config``'s strategy once on an empty heatmap: its parameters, and their fit with the heatmap's
    horizon, are checked before anything starts."""
    configured_strategy(config, LiquidationHunter(config.hunter, LiveLiquidationHeatmap(config=config.heatmap)))


def check_layers(config: BotConfig) -> None:
    """The layers the hunter reads are kept by a running bot: ``hunter.target`` estimated or agree needs
    ``estimated.enabled``, ``hunter.wall`` prefer or require needs ``orderbook.enabled`` (:class:`ConfigError`
    naming the hunter's key). A backtest brings its own layers (``--history``, ``--depth``) and checks them there."""
    check_estimated_target(config.hunter, config.estimated.enabled)
    check_wall_option(config.hunter, config.orderbook.enabled)


def stream_settings(exchange: ExchangeConfig) -> StreamSettings:
    """The live stream's settings from the config's ``exchange`` section."""
    t = exchange.timeouts
    return StreamSettings(ws_url=exchange.ws_url, combined=exchange.combined, mark_price=exchange.mark_price,
                          per_symbol_limit=exchange.per_symbol_limit,
                          connection=ConnectionSettings(connect_timeout=t.connect, silence_timeout=t.silence,
                                                        ping_interval=t.ping_interval, pong_timeout=t.pong))
