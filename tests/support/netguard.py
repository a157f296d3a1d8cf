"""The guard that makes any attempt to leave 127.0.0.1 fail loudly: installed for every test by conftest.py,
and in the bot processes the end-to-end tests start (tests/support/guarded_cli.py)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

__all__ = ["InternetAccessError", "install_network_guard"]


class InternetAccessError(RuntimeError):
    """A test tried to reach a host that is not this machine."""


def _is_local(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(str(address[0])):
        raise InternetAccessError(f"tests may not reach the internet: connect to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(str(address[0])):
        raise InternetAccessError(f"tests may not reach the internet: connect to {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if host is not None and not _is_local(name):
        raise InternetAccessError(f"tests may not reach the internet: DNS lookup of {name!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def install_network_guard() -> None:
    """From now on, any connection or DNS lookup beyond 127.0.0.1 in this process raises."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
