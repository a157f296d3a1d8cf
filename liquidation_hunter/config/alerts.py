"""The config's ``alerts`` section (issue 16; ``docs/ALERTS.md``): the channels (secrets named by environment
variable, never in the file), the rules, the cooldown and the outbox's cap. Beside :mod:`.sections`, which holds
the others."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, field

from liquidation_hunter.config.sections import HttpUrl, Timeout, Usdt
from live_heatmap import ConfigError
from live_heatmap.common.structs import Settings
from live_heatmap.stats.risk import RiskLevel

__all__ = ["BOT_EVENT_KINDS", "AlertChannelsConfig", "AlertRulesConfig", "AlertsConfig", "TelegramChannelConfig",
           "WallPulledRuleConfig", "WebhookChannelConfig"]

EnvName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                              description="the name of an environment variable (letters, digits, _)")]
BotEventKind = Literal["entry", "exit", "halt", "drawdown_halt", "flatten"]
BOT_EVENT_KINDS: tuple[BotEventKind, ...] = ("entry", "exit", "halt", "drawdown_halt", "flatten")
RateSeconds = Annotated[float, Meta(ge=0, le=3600, description="seconds")]


class WebhookChannelConfig(Settings, frozen=True):
    """``alerts.channels.webhook``: a JSON ``POST`` of ``{id, kind, symbol, time, text, data}`` with the header
    ``Idempotency-Key: <id>``; signed (``X-Signature: sha256=<HMAC of the body>``) when ``signing_key_env`` names a
    variable holding the key."""

    enabled: bool = False
    url: HttpUrl | None = None
    """Where each alert is posted (required when enabled)."""
    signing_key_env: EnvName | None = None
    """The environment variable holding the HMAC key (null: unsigned). The key itself is never in the file."""
    min_interval_seconds: RateSeconds = 0.0
    """At least this long between two requests to this channel (0: no limit but the receiver's 429s)."""

    def check(self) -> None:
        if self.enabled and self.url is None:
            raise ConfigError.wrong("url", "a http/https URL when the webhook is enabled", self.url)


class TelegramChannelConfig(Settings, frozen=True):
    """``alerts.channels.telegram``: the Bot API's ``sendMessage`` (HTML) to one chat."""

    enabled: bool = False
    chat_id: Annotated[str, Meta(pattern=r"^(-?[0-9]{1,20}|@[A-Za-z0-9_]{4,64})$",
                                 description="a chat id such as -1001234567890 or @channel_name")] | None = None
    """The chat (a number, quoted, or ``@channel``; required when enabled)."""
    token_env: EnvName = "TELEGRAM_BOT_TOKEN"
    """The environment variable holding the bot's token (never in the file)."""
    api_url: HttpUrl = "https://api.telegram.org"
    """The Bot API's base (a proxy, or a local server in tests)."""
    min_interval_seconds: RateSeconds = 1.0
    """Telegram allows about one message a second per chat."""

    def check(self) -> None:
        if self.enabled and self.chat_id is None:
            raise ConfigError.wrong("chat_id", "a chat id when telegram is enabled", self.chat_id)


class DiscordChannelConfig(Settings, frozen=True):
    """``alerts.channels.discord``: a Discord webhook (its URL carries its token: it comes from the environment)."""

    enabled: bool = False
    url_env: EnvName = "DISCORD_WEBHOOK_URL"
    """The environment variable holding the webhook's URL."""
    min_interval_seconds: RateSeconds = 1.0
    """Discord's webhooks take about 30 messages a minute; bursts are answered 429 with ``retry_after``."""


class AlertChannelsConfig(Settings, frozen=True):
    """``alerts.channels``: each channel is off unless enabled."""

    webhook: WebhookChannelConfig = field(default_factory=WebhookChannelConfig)
    telegram: TelegramChannelConfig = field(default_factory=TelegramChannelConfig)
    discord: DiscordChannelConfig = field(default_factory=DiscordChannelConfig)

    def names(self) -> tuple[str, ...]:
        """The enabled channels' names."""
        return tuple(name for name in ("webhook", "telegram", "discord") if getattr(self, name).enabled)


class ClusterRuleConfig(Settings, frozen=True):
    """``alerts.rules.cluster``: a cluster at or above a risk level, or a z-score, against its symbol's history."""

    enabled: bool = True
    risk_level: RiskLevel = "high"
    """A cluster whose ``risk_level`` is this or above alerts ..."""
    z_score: Annotated[float, Meta(gt=0, le=100)] | None = None
    """... or whose ``z_score`` is at least this (null: the risk level alone decides)."""


class CascadeRuleConfig(Settings, frozen=True):
    """``alerts.rules.cascade``: liquidations of one symbol summing above ``notional`` within ``window_seconds``."""

    enabled: bool = True
    window_seconds: Annotated[float, Meta(ge=1, le=3600, description="seconds")] = 60.0
    notional: Usdt = 1_000_000.0


class BotEventsRuleConfig(Settings, frozen=True):
    """``alerts.rules.bot_events``: the bot's own events."""

    enabled: bool = True
    kinds: tuple[BotEventKind, ...] = BOT_EVENT_KINDS
    """Which: ``entry``, ``exit``, ``halt``, ``drawdown_halt``, ``flatten``."""


class StreamDownRuleConfig(Settings, frozen=True):
    """``alerts.rules.stream_down``: the stream, or one venue, disconnected longer than ``seconds``."""

    enabled: bool = True
    seconds: Annotated[float, Meta(ge=1, le=86_400, description="seconds")] = 120.0


class WallPulledRuleConfig(Settings, frozen=True):
    """``alerts.rules.wall_pulled``: an order-book wall pulled within ``pct`` percent of a liquidation cluster
    (needs the liquidity layer: ``orderbook.enabled``; without it the rule is not run)."""

    enabled: bool = True
    pct: Annotated[float, Meta(gt=0, le=10, description="percent")] = 0.3


class AlertRulesConfig(Settings, frozen=True):
    """``alerts.rules``: what raises an alert."""

    cluster: ClusterRuleConfig = field(default_factory=ClusterRuleConfig)
    cascade: CascadeRuleConfig = field(default_factory=CascadeRuleConfig)
    bot_events: BotEventsRuleConfig = field(default_factory=BotEventsRuleConfig)
    stream_down: StreamDownRuleConfig = field(default_factory=StreamDownRuleConfig)
    wall_pulled: WallPulledRuleConfig = field(default_factory=WallPulledRuleConfig)


class AlertsConfig(Settings, frozen=True):
    """``alerts``: notifications (issue 16; ``docs/ALERTS.md``). Off by default: with no channel configured nothing
    is evaluated, stored or sent."""

    channels: AlertChannelsConfig = field(default_factory=AlertChannelsConfig)
    rules: AlertRulesConfig = field(default_factory=AlertRulesConfig)
    cooldown_seconds: Annotated[float, Meta(ge=0, le=86_400, description="seconds")] = 300.0
    """One alert per (rule, symbol, cluster) in this long; repeats inside it are not sent."""
    outbox_cap: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    """Alerts waiting at most; more are dropped and counted (``status``)."""
    timeout_seconds: Timeout = 10.0
    """One request to a channel."""
    max_attempts: Annotated[int, Meta(ge=1, le=100)] = 8
    """Attempts before an alert is given up as ``failed`` (network errors, 5xx and 429 are retried)."""

    @property
    def enabled(self) -> bool:
        """A channel is enabled."""
        return bool(self.channels.names())
