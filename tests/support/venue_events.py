"""Liquidations of one moment on three venues, built directly as events (the Bybit and OKX parsers are
tested on their own frames): what the heatmap, the API and the page tests read across venues.

BTCUSDT, at :data:`AT`:

* longs at about 100,000: three on Binance (average fills) and three on Bybit (bankruptcy prices, a little
  lower): neither venue alone reaches ``min_cluster_size`` (5), together they make one cluster;
* shorts at about 102,500: six on Bybit only;
* longs at about 97,000: five on OKX (``BTC-USDT-SWAP``), bankruptcy prices.
"""

from __future__ import annotations

from live_heatmap import LiquidationEvent, Side
from live_heatmap.venue import PriceKind, Venue

AT = 1_737_998_400_000  # 2025-01-27T17:20:00Z
MINUTE = 60_000


def venue_event(venue: Venue, price: float, qty: float, *, age_min: float, side: Side = Side.LONG,
                symbol: str = "BTCUSDT", venue_symbol: str = "") -> LiquidationEvent:
    t = int(AT - age_min * MINUTE)
    kind = PriceKind.FILL_AVG if venue is Venue.BINANCE else PriceKind.BANKRUPTCY
    return LiquidationEvent(symbol, side, price, qty, t + 3, t, "FILLED", False, venue, kind, venue_symbol)


def three_venues() -> list[LiquidationEvent]:
    """The events of the module docstring, in trade time order."""
    events = [
        *(venue_event(Venue.BINANCE, 100_000.0 + 40 * i, 0.5 + 0.1 * i, age_min=20 - i) for i in range(3)),
        *(venue_event(Venue.BYBIT, 99_700.0 + 30 * i, 0.4 + 0.1 * i, age_min=19.5 - i) for i in range(3)),
        *(venue_event(Venue.BYBIT, 102_500.0 + 25 * i, 0.2, age_min=15 - i, side=Side.SHORT) for i in range(6)),
        *(venue_event(Venue.OKX, 97_000.0 + 20 * i, 0.0855 * (i + 1), age_min=10 - i, venue_symbol="BTC-USDT-SWAP")
          for i in range(5)),
    ]
    return sorted(events, key=lambda e: e.trade_time)
