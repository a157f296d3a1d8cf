"""The live-stream snippet of docs/STREAM.md, run as written against the local fake of Binance (the URL changed)."""

from __future__ import annotations

import re
from pathlib import Path

from fakes.binance import FakeBinance

from live_heatmap.stream.stream import LiquidationStream

STREAM_DOC = Path(__file__).resolve().parents[3] / "docs" / "STREAM.md"
BINANCE = "wss://fstream.binance.com/market"


def snippet() -> str:
    section = STREAM_DOC.read_text().split("# The live stream", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def test_the_live_stream_snippet_runs() -> None:
    code = snippet()
    assert BINANCE in code and "LiquidationStream(heatmap" in code and "stream.stop()" in code
    with FakeBinance(ping_interval=None) as fake:
        scope: dict[str, object] = {}
        exec(compile(code.replace(BINANCE, fake.market_url), str(STREAM_DOC), "exec"), scope)
        stream = scope["stream"]
        assert isinstance(stream, LiquidationStream)
        assert stream.plan.shards == (("btcusdt@forceOrder", "btcusdt@markPrice@1s", "ethusdt@forceOrder",
                                       "ethusdt@markPrice@1s"),)
    assert LiquidationStream.threads_alive() == []
