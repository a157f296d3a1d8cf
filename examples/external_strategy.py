"""A strategy written outside this project, on its public API: the hunter's magnet rule restricted to *fresh*
clusters.

**As the bot's strategy** (no launcher to write): point the config's ``strategy.path`` at this file, as
``examples/external_strategy.yaml`` does, and every command that reads a config uses it::

    liquidation-hunter check-config examples/external_strategy.yaml
    liquidation-hunter backtest --config examples/external_strategy.yaml --events data/binance/forceorder_wire.jsonl \
        --prices data/binance/aggtrades_large.csv --from 2025-01-27T16:50:00Z --to 2025-01-27T17:20:00Z
    liquidation-hunter run --config examples/external_strategy.yaml

The bot finds the class defined here with a ``name`` and a ``decide(symbol, price, now_ms) -> Signal`` method
(``strategies.base.Strategy``): ``FreshMagnet``, built as ``FreshMagnet(hunter, params)``, its ``Params`` read
from ``strategy.params`` (a bad or unknown key is one line naming it, as for the shipped strategies).

**On its own**, on Binance's live liquidations::

    python examples/external_strategy.py --seconds 60 --every 5 --symbols BTCUSDT,ETH/USDT:USDT

Liquidations and mark prices stream from ``--ws-url`` (default: Binance's market streams) into the
hunter's heatmap; every ``--every`` seconds the script prints the stream's state and a signal per
symbol, for ``--seconds``, then stops the stream and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Annotated, Any

import structlog
from msgspec import Meta

from liquidation_hunter import LiquidationHunter, Signal
from live_heatmap import system_clock_ms
from live_heatmap.common.structs import Settings
from strategies import Strategy


class FreshMagnetParams(Settings, frozen=True):
    """``strategy.params`` of :class:`FreshMagnet`."""

    fresh_minutes: Annotated[float, Meta(gt=0, le=1440, description="minutes")] = 15.0
    """A cluster whose newest liquidation is older than this is not traded."""


class FreshMagnet:
    """Trade toward the hunter's best cluster only while its newest liquidation is recent."""

    name = "fresh_magnet"
    Params = FreshMagnetParams

    def __init__(self, hunter: LiquidationHunter, params: FreshMagnetParams) -> None:
        self.hunter = hunter
        self.fresh_ms = int(params.fresh_minutes * 60_000)

    def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
        signal = self.hunter.evaluate(symbol, price, now_ms=now_ms)
        if signal.cluster is not None and now_ms - signal.cluster.last_updated > self.fresh_ms:
            return Signal(signal.symbol, 0, 0.0, None, None, None, None, "the best cluster is stale", now_ms)
        return signal


def describe(signal: Signal) -> str:
    if signal.direction == 0:
        return f"no signal ({signal.reason})"
    action = "BUY" if signal.direction > 0 else "SELL"
    return (f"{action} strength {signal.strength:.2f} entry {signal.entry:.8g} stop {signal.stop_loss:.8g} "
            f"take-profit {signal.take_profit:.8g} ({signal.reason})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ws-url", help="market-stream base URL (default: Binance's wss://fstream.binance.com/market)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between reports (default 5)")
    parser.add_argument("--symbols", default="BTCUSDT,ETH/USDT:USDT", help="comma-separated, either form")
    args = parser.parse_args(argv)

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # the stream's log lines
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    options: dict[str, Any] = {"mark_price": True}  # mark prices feed heatmap.update_price: no REST polling
    if args.ws_url:
        options["ws_url"] = args.ws_url
    hunter = LiquidationHunter()
    strategy: Strategy = FreshMagnet(hunter, FreshMagnetParams(fresh_minutes=15))
    heatmap = hunter.set_data_source("live_binance", symbols=symbols, **options)
    stream = hunter.stream  # the source's LiquidationStream: connection health; the heatmap has the events
    assert stream is not None
    print(f"streaming {', '.join(hunter.symbols)} from {stream.status().url}", flush=True)
    signals = 0
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            health = stream.status()
            print(f"[{elapsed:5.1f}s] connected={health.connected} events={heatmap.status().accepted} "
                  f"reconnects={health.reconnects}", flush=True)
            now_ms = system_clock_ms()  # the script owns the clock; the strategy takes it as an argument
            for symbol in hunter.symbols:
                price = heatmap.get_price(symbol)
                if price is None:
                    print(f"  {symbol}: no price yet", flush=True)
                    continue
                signal = strategy.decide(symbol, price, now_ms)
                signals += signal.direction != 0
                print(f"  {symbol}: price {price:.8g}: {describe(signal)}", flush=True)
            if elapsed >= args.seconds:
                break
            time.sleep(min(args.every, max(0.0, args.seconds - elapsed)))
    except KeyboardInterrupt:
        pass
    finally:
        hunter.stop()
    print(f"done: {heatmap.stats()['accepted']} liquidations, {signals} signals", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
