"""Golden master of the HTTP API's answers over the recorded session (2025-01-27 17:20 UTC): the status,
content type and whole body of every endpoint, for a fixed set of requests.

It guards a rewrite of the HTTP stack (issue 11: the same endpoints and JSON on an ASGI framework): a change
of any key, value, number format or error text fails here, and the diff of the golden file shows it. A change
meant to change the answers regenerates it and commits the diff with it:

    LIQUIDATION_HUNTER_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/liquidation_hunter/api/test_api_golden.py

``/health`` (its uptime moves) and ``/openapi.json`` (a description, checked by the schemathesis test) are
left out. A body over 20 kB (the grids) is kept as its scalar fields, its keys and the SHA-256 of its
canonical JSON, so the file stays small and still pins every byte.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import orjson
from conftest import DATA, WIRE
from helpers import Client

from liquidation_hunter.api import ApiServer, source_from_recording

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "api_responses.json"
REGENERATE = os.environ.get("LIQUIDATION_HUNTER_REGENERATE_GOLDEN") == "1"
AT = 1_737_998_400_000  # 2025-01-27T17:20:00Z
LARGE = 20_000

REQUESTS = [
    "/api/v1/symbols?q=eth",
    "/api/v1/symbols?q=BTC/USDT",
    "/api/v1/status",
    "/api/v1/clusters/BTCUSDT",
    "/api/v1/clusters/ETHUSDT?min_strength=0.3",
    "/api/v1/clusters/SOL%2FUSDT%3AUSDT?side=long",
    "/api/v1/clusters/DOGEUSDT?max_distance=2",
    "/api/v1/signal/BTCUSDT",
    "/api/v1/signal/ETHUSDT",
    "/api/v1/signal/SOLUSDT",
    "/api/v1/grid/BTCUSDT?window=20m",
    "/api/v1/grid/SOLUSDT?window=10m&points=true",
    "/api/v1/events/BTCUSDT?limit=5",
    "/api/v1/events/ETHUSDT?since=2025-01-27T17:10Z&limit=20",
    "/api/v1/export/ETHUSDT?what=events&format=json&from=2025-01-27T17:00Z&to=2025-01-27T17:10Z",
    "/api/v1/export/ETHUSDT?what=events&format=csv&from=2025-01-27T17:00Z&to=2025-01-27T17:05Z",
    "/api/v1/export/BTCUSDT?what=clusters&format=json",
    "/api/v1/unified/BTCUSDT",
    "/api/v1/depth/BTCUSDT",
    "/api/v1/density/BTCUSDT?bandwidth=0.002",
    "/api/v1/stats/BTCUSDT",
    "/api/v1/clusters/NOPEUSDT",
    "/api/v1/clusters/BTCUSDT?min_strength=1.5",
    "/api/v1/grid/BTCUSDT?window=forever",
    "/api/v1/events/BTCUSDT?limit=",
    "/api/v1/clusters/BTCUSDT?unknown=1",
    "/api/v1/nothing",
]


def kept(body: bytes, kind: str) -> Any:
    """The body as the golden file holds it (module docstring)."""
    if kind != "application/json":
        return body.decode()
    data = orjson.loads(body)
    if len(body) <= LARGE or not isinstance(data, dict):
        return data
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return {"keys": sorted(data), "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
            **{k: v for k, v in data.items() if not isinstance(v, list | dict)}}


def answers() -> dict[str, Any]:
    source = source_from_recording(WIRE, at_ms=AT, prices=[DATA / "aggtrades_large.csv"])
    out: dict[str, Any] = {}
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        client = Client(server.port)
        try:
            for path in REQUESTS:
                status, head, body = client.get(path)
                kind = head.get("content-type", "")
                out[path] = {"status": status, "content_type": kind, "body": kept(body, kind)}
        finally:
            client.close()
    return out


def test_every_answer_is_the_golden_masters() -> None:
    got = answers()
    if REGENERATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert list(got) == list(expected), "the requests changed: regenerate (module docstring)"
    for path, answer in got.items():
        assert answer == expected[path], f"{path}: the answer differs from {GOLDEN.name} (module docstring)"


def test_the_golden_master_holds_real_answers() -> None:
    """A golden of errors only would guard nothing: most answers are 200 with content."""
    expected = json.loads(GOLDEN.read_text())
    ok = [path for path, answer in expected.items() if answer["status"] == 200]
    assert len(ok) >= 15
    assert expected["/api/v1/clusters/BTCUSDT"]["body"]["clusters"]
    assert expected["/api/v1/grid/BTCUSDT?window=20m"]["body"]
    assert {a["status"] for a in expected.values()} >= {200, 400, 404}
