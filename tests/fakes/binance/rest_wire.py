"""Wire-level pieces of the fake USD-M REST API: Binance's error answers, request parsing, signatures.

Binance signs `totalParams`, the query string concatenated with the request body (no `&` between
them), with HMAC-SHA256 under the API secret, hex-encoded; the `signature` parameter itself may sit
in either part and is left out of what is signed. A parameter sent in both parts takes the query
string's value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

RECORDED_HEADERS = ("X-MBX-APIKEY", "Content-Type", "User-Agent")
MAX_RECV_WINDOW = 60_000
DEFAULT_RECV_WINDOW = 5_000
NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")


class ApiError(Exception):
    """An answer in Binance's error form: HTTP `status` with body `{"code": code, "msg": msg}`."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> ApiError:
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> ApiError:
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


INVALID_SYMBOL = ApiError(-1121, "Invalid symbol.")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it. `params` merges query and body (query wins), without
    `signature`; `signed` says a signature was sent, `signature_ok` that it was right (False when
    none was sent). `status` and `error_code` describe the answer (`error_code` None on success);
    `handled` is False for a path the fake does not implement (answered 404)."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    signed: bool
    signature_ok: bool
    status: int = 0
    error_code: int | None = None
    handled: bool = True
    body: str = field(default="", repr=False)
    query: str = field(default="", repr=False)


def _split_signature(raw: str) -> tuple[str, str | None]:
    """`raw` without its `signature=` item, and that item's value (None when absent)."""
    if not raw:
        return raw, None
    items = raw.split("&")
    kept = [item for item in items if not item.startswith("signature=")]
    found = [item.partition("=")[2] for item in items if item.startswith("signature=")]
    return "&".join(kept), (found[-1] if found else None)


def parse_params(query: str, body: str) -> dict[str, str]:
    """Query and form body as one dict of strings, the query's value winning; `signature` left out."""
    params = dict(parse_qsl(body, keep_blank_values=True))
    params.update(parse_qsl(query, keep_blank_values=True))
    params.pop("signature", None)
    return params


def check_signature(query: str, body: str, secret: str) -> tuple[bool, bool]:
    """(signed, signature_ok) for a request, verified the way Binance does."""
    query_rest, sig_q = _split_signature(query)
    body_rest, sig_b = _split_signature(body)
    signature = sig_q if sig_q is not None else sig_b
    if signature is None:
        return False, False
    total = query_rest + body_rest
    expected = hmac.new(secret.encode(), total.encode(), hashlib.sha256).hexdigest()
    return True, hmac.compare_digest(expected, signature.lower())


def authenticate(params: dict[str, str], headers: dict[str, str], *, signed: bool, signature_ok: bool,
                 api_key: str, now_ms: int) -> None:
    """Raise the ApiError Binance answers a SIGNED (TRADE / USER_DATA) request with, if any."""
    key = headers.get("X-MBX-APIKEY")
    if not key:
        raise ApiError(-2014, "API-key format invalid.", 401)
    if key != api_key:
        raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    raw_ts = params.get("timestamp", "")
    if not raw_ts.isdigit():
        raise mandatory("timestamp")
    recv_window = params.get("recvWindow", str(DEFAULT_RECV_WINDOW))
    if not recv_window.isdigit():
        raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'; legal range is '^[0-9]{1,20}$'.")
    if int(recv_window) > MAX_RECV_WINDOW:
        raise ApiError(-1131, "recvWindow must be less than 60000")
    ts = int(raw_ts)
    if ts >= now_ms + 1000 or now_ms - ts > int(recv_window):
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")
    if not signed:
        raise mandatory("signature")
    if not signature_ok:
        raise ApiError(-1022, "Signature for this request is not valid.")


# ----------------------------------------------------------------- parameter readers

def need(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if value == "":
        raise mandatory(name)
    return value


def decimal_param(params: dict[str, str], name: str, *, required: bool = True) -> Decimal | None:
    """A decimal parameter as Binance reads it; None when optional and absent."""
    raw = params.get(name, "")
    if raw == "":
        if required:
            raise mandatory(name)
        return None
    if not NUMBER.match(raw):
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; "
                              "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already rules this out
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.") from exc


def bool_param(params: dict[str, str], name: str) -> bool | None:
    """'true'/'false' in any case; None when absent."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise ApiError(-1130, f"Data sent for parameter '{name}' is not valid.")
    return raw.lower() == "true"


def int_param(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(raw)


def fmt(value: Decimal, places: int) -> str:
    """`value` with exactly `places` decimals, never `-0`."""
    if value == 0:
        value = Decimal(0)
    return f"{value:.{places}f}"
