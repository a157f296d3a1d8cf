"""A local fake of Binance's USD-M market-stream WebSocket server, for stream-client tests."""

from .protocol import Route, RouteError, is_valid_stream, parse_route
from .replay import ReplayHandle, thin_snapshot
from .session import ConnectionInfo
from .ws_server import FakeBinance

__all__ = [
    "ConnectionInfo",
    "FakeBinance",
    "ReplayHandle",
    "Route",
    "RouteError",
    "is_valid_stream",
    "parse_route",
    "thin_snapshot",
]
