"""Alerts (issue 16; ``docs/ALERTS.md``): rules raise :class:`Alert` s, the :class:`AlertHub` applies the cooldown
and queues them in the books' outbox, one :class:`Sender` thread delivers them to the channels (webhook,
Telegram, Discord) with retries, backoff and rate limits. Off while no channel is enabled."""

from __future__ import annotations

from liquidation_hunter.alerts.channels import Channel, ChannelError, Outcome, alert_secrets, build_channels
from liquidation_hunter.alerts.hub import AlertHub
from liquidation_hunter.alerts.model import Alert
from liquidation_hunter.alerts.rules import (
           BotEventsRule,
           CascadeRule,
           ClusterRule,
           Rule,
           StreamDownRule,
           WallPulledRule,
)
from liquidation_hunter.alerts.sender import Sender

__all__ = ["Alert", "AlertHub", "BotEventsRule", "CascadeRule", "Channel", "ChannelError", "ClusterRule", "Outcome",
           "Rule", "Sender", "StreamDownRule", "WallPulledRule", "alert_secrets", "build_channels"]
