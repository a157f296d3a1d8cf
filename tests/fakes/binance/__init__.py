"""Local fakes of Binance's USD-M servers: the market-stream WebSocket server and the REST API."""

from .protocol import Route, RouteError, is_valid_stream, parse_route
from .replay import ReplayHandle, thin_snapshot
from .rest_account import Position
from .rest_orders import AlgoOrder, Order
from .rest_server import FakeBinanceRest, use_linear_error_table
from .rest_wire import RecordedRequest
from .session import ConnectionInfo
from .ws_server import FakeBinance

__all__ = [
    "AlgoOrder",
    "ConnectionInfo",
    "FakeBinance",
    "FakeBinanceRest",
    "Order",
    "Position",
    "RecordedRequest",
    "ReplayHandle",
    "Route",
    "RouteError",
    "is_valid_stream",
    "parse_route",
    "thin_snapshot",
    "use_linear_error_table",
]
