"""Live trading on Binance USD-M: the broker (:mod:`.broker`), its exit orders (:mod:`.exit_orders`) and the
exchange's wallet and funding brought into the books (:mod:`.wallet`)."""

from __future__ import annotations

from liquidation_hunter.trading.live.broker import SETTLE_MS, LiveBroker
from liquidation_hunter.trading.live.exit_orders import close_client_id, exit_client_id

__all__ = ["SETTLE_MS", "LiveBroker", "close_client_id", "exit_client_id"]
