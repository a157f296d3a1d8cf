"""A port another process holds: ``serve`` and ``run`` (with ``api.enabled``) say which address in one line and
exit 2, with no traceback."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from bot_process import run_cli
from conftest import WIRE
from fakes.binance import FakeBinanceRest

from liquidation_hunter.api import ApiServer, source_from_recording
from liquidation_hunter.cli import main


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


def _in_use(port: int) -> str:
    return (f"error: api: cannot listen on 127.0.0.1:{port}: the port is in use (another bot or `serve`?): "
            "set api.port, or serve --port\n")


def test_the_server_names_the_address_it_cannot_bind(taken_port: int) -> None:
    server = ApiServer(source_from_recording(WIRE), port=taken_port)
    with pytest.raises(OSError, match=rf"^api: cannot listen on 127.0.0.1:{taken_port}: the port is in use") as info:
        server.start()
    assert info.value.errno == errno.EADDRINUSE


def test_serve_on_a_busy_port_is_one_line(taken_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--events", str(WIRE), "--port", str(taken_port)]) == 2
    assert capsys.readouterr().err == _in_use(taken_port)


def test_run_with_the_api_on_a_busy_port_is_one_line(taken_port: int, tmp_path: Path) -> None:
    with FakeBinanceRest(symbols=["BTCUSDT"]) as rest:
        config = tmp_path / "bot.yaml"
        config.write_text(f"symbols: [BTCUSDT]\nexchange:\n  rest_url: {rest.base_url}\n  ws_url: ws://127.0.0.1:9/market\n"
                          f"storage:\n  path: {tmp_path / 'books.sqlite'}\n  events: null\n"
                          f"api:\n  enabled: true\n  port: {taken_port}\n")
        done = run_cli("run", "--config", str(config))
    assert done.returncode == 2, done.stderr
    assert done.stderr == _in_use(taken_port)
    assert "Traceback" not in done.stdout
