"""The channels: webhook, Telegram, Discord. Each turns an outbox row into one HTTP request and says what came of
it (:class:`Outcome`): delivered, worth trying again (a network error, a 5xx, a 429, with the wait the receiver
asked for: ``Retry-After``, Telegram's and Discord's ``retry_after``), or refused for good (any other answer).

HTTP goes through the standard library's ``urllib.request`` with a timeout (no new dependency); only the sender
thread calls :meth:`Channel.send`, never the trading loop. Tokens and secrets come from the environment and appear
nowhere but in the request: :meth:`Channel.describe` shows them masked (the last 4 characters at most).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, Protocol

from liquidation_hunter.config.alerts import AlertsConfig
from liquidation_hunter.trading.books import OutboxRow
from live_heatmap.common.structs import mask

__all__ = ["Channel", "ChannelError", "DiscordChannel", "Outcome", "TelegramChannel", "WebhookChannel",
           "alert_secrets", "build_channels", "webhook_body"]

USER_AGENT = "liquidation-hunter-alerts"


class ChannelError(ValueError):
    """A channel cannot be used as configured (its token's variable is not set...): one line naming it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to. ``retry``: worth another attempt; ``wait_s``: the receiver asked for this long
    (None: our own backoff); ``status``: the HTTP status (None: no answer); ``detail``: for the log and
    ``alerts list`` (never a secret)."""

    delivered: bool
    retry: bool
    status: int | None
    detail: str
    wait_s: float | None = None


class Channel(Protocol):
    name: str
    min_interval_s: float

    def send(self, row: OutboxRow, timeout: float) -> Outcome: ...

    def describe(self) -> dict[str, Any]: ...


def webhook_body(row: OutboxRow) -> bytes:
    """The webhook's JSON ``{id, kind, symbol, time, text, data}``: the same bytes on every attempt (sorted keys),
    so the signature is too."""
    return json.dumps({"id": row.alert_id, "kind": row.kind, "symbol": row.symbol, "time": row.at,
                       "text": row.text, "data": dict(row.data)}, sort_keys=True, separators=(",", ":")).encode()


def _retry_after(headers: Message | None) -> float | None:
    """``Retry-After`` in seconds (the delta form; an HTTP date is not followed: our backoff then)."""
    if headers is None:
        return None
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _body_retry_after(body: bytes) -> float | None:
    """Telegram's ``parameters.retry_after`` or Discord's ``retry_after`` in a JSON answer."""
    try:
        answer = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    params = answer.get("parameters")
    value = params.get("retry_after") if isinstance(params, dict) else answer.get("retry_after")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float, *, secret: str = "") -> Outcome:
    """POST ``body``; the answer classified (module docstring). ``secret`` is cut out of any error text."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status = int(answer.status)
            answer.read()
        return Outcome(True, False, status, f"HTTP {status}")
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            body_read = exc.read()
        except OSError:
            body_read = b""
        wait = _retry_after(exc.headers)
        if wait is None:
            wait = _body_retry_after(body_read)
        retry = status == 429 or status >= 500
        text = body_read[:200].decode("utf-8", "replace").strip()
        detail = _clean(f"HTTP {status}" + (f": {text}" if text else ""), secret)
        return Outcome(False, retry, status, detail, wait if retry else None)
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(False, True, None, _clean(f"network: {type(reason).__name__}: {reason}", secret))


def _clean(text: str, secret: str) -> str:
    return text.replace(secret, mask(secret)) if len(secret) >= 4 else text


def _env(name: str, environ: Mapping[str, str]) -> str:
    return (environ.get(name) or "").strip()


class WebhookChannel:
    """``POST url`` with ``Idempotency-Key: <alert id>`` (the same on every attempt) and, with a key,
    ``X-Signature: sha256=<hex HMAC-SHA256 of the body>``."""

    name = "webhook"

    def __init__(self, url: str, *, signing_key: str = "", signing_key_env: str | None = None,
                 min_interval_s: float = 0.0) -> None:
        self.url = url
        self._key = signing_key
        self._key_env = signing_key_env
        self.min_interval_s = min_interval_s

    def headers(self, row: OutboxRow, body: bytes) -> dict[str, str]:
        out = {"Idempotency-Key": row.alert_id}
        if self._key:
            out["X-Signature"] = "sha256=" + hmac.new(self._key.encode(), body, hashlib.sha256).hexdigest()
        return out

    def send(self, row: OutboxRow, timeout: float) -> Outcome:
        body = webhook_body(row)
        return post_json(self.url, body, self.headers(row, body), timeout, secret=self._key)

    def describe(self) -> dict[str, Any]:
        return {"channel": self.name, "url": self.url,
                "signing_key": None if not self._key else f"{self._key_env}={mask(self._key)}",
                "min_interval_s": self.min_interval_s}


class TelegramChannel:
    """The Bot API's ``sendMessage`` (``parse_mode: HTML``, the text escaped) to one chat."""

    name = "telegram"

    def __init__(self, token: str, chat_id: str, *, api_url: str = "https://api.telegram.org",
                 token_env: str = "TELEGRAM_BOT_TOKEN", min_interval_s: float = 1.0) -> None:
        self._token = token
        self._token_env = token_env
        self.chat_id = chat_id
        self.api_url = api_url.rstrip("/")
        self.min_interval_s = min_interval_s

    def send(self, row: OutboxRow, timeout: float) -> Outcome:
        text = f"<b>{html.escape(row.kind)}</b> {html.escape(row.text)}"
        body = json.dumps({"chat_id": self.chat_id, "text": text, "parse_mode": "HTML",
                           "disable_web_page_preview": True}).encode()
        return post_json(f"{self.api_url}/bot{self._token}/sendMessage", body, {}, timeout, secret=self._token)

    def describe(self) -> dict[str, Any]:
        return {"channel": self.name, "chat_id": self.chat_id, "api_url": self.api_url,
                "token": f"{self._token_env}={mask(self._token)}", "min_interval_s": self.min_interval_s}


class DiscordChannel:
    """A Discord webhook: ``POST <url>`` with ``{"content": text}`` (at most 2,000 characters)."""

    name = "discord"

    def __init__(self, url: str, *, url_env: str = "DISCORD_WEBHOOK_URL", min_interval_s: float = 1.0) -> None:
        self._url = url
        self._url_env = url_env
        self.min_interval_s = min_interval_s

    def send(self, row: OutboxRow, timeout: float) -> Outcome:
        body = json.dumps({"content": f"**{row.kind}** {row.text}"[:2000]}).encode()
        return post_json(self._url, body, {}, timeout, secret=self._url)

    def describe(self) -> dict[str, Any]:
        return {"channel": self.name, "url": f"{self._url_env}={mask(self._url)}",
                "min_interval_s": self.min_interval_s}


def build_channels(config: AlertsConfig, environ: Mapping[str, str] | None = None, *,
                   only: str | None = None) -> dict[str, Channel]:
    """The enabled channels by name (``only``: that one), their secrets read from the environment; a missing one is
    a :class:`ChannelError` naming the variable."""
    env = os.environ if environ is None else environ
    c = config.channels
    out: dict[str, Channel] = {}
    if c.webhook.enabled and only in {None, "webhook"}:
        assert c.webhook.url is not None  # the section's check
        key = ""
        if c.webhook.signing_key_env is not None:
            key = _env(c.webhook.signing_key_env, env)
            if not key:
                raise ChannelError(f"alerts.channels.webhook.signing_key_env: {c.webhook.signing_key_env} is not set "
                                   "in the environment")
        out["webhook"] = WebhookChannel(c.webhook.url, signing_key=key, signing_key_env=c.webhook.signing_key_env,
                                        min_interval_s=c.webhook.min_interval_seconds)
    if c.telegram.enabled and only in {None, "telegram"}:
        assert c.telegram.chat_id is not None
        token = _env(c.telegram.token_env, env)
        if not token:
            raise ChannelError(f"alerts.channels.telegram.token_env: {c.telegram.token_env} is not set in the "
                               "environment")
        out["telegram"] = TelegramChannel(token, c.telegram.chat_id, api_url=c.telegram.api_url,
                                          token_env=c.telegram.token_env,
                                          min_interval_s=c.telegram.min_interval_seconds)
    if c.discord.enabled and only in {None, "discord"}:
        url = _env(c.discord.url_env, env)
        if not url.startswith(("http://", "https://")):
            raise ChannelError(f"alerts.channels.discord.url_env: {c.discord.url_env} is "
                               f"{'not set' if not url else 'not a http(s) URL'} in the environment")
        out["discord"] = DiscordChannel(url, url_env=c.discord.url_env, min_interval_s=c.discord.min_interval_seconds)
    return out


def alert_secrets(config: AlertsConfig, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the enabled channels' secret variables (for the log's scrubber: never in a log line)."""
    env = os.environ if environ is None else environ
    c = config.channels
    names = [c.webhook.signing_key_env if c.webhook.enabled else None,
             c.telegram.token_env if c.telegram.enabled else None, c.discord.url_env if c.discord.enabled else None]
    return [value for name in names if name is not None and (value := _env(name, env))]
