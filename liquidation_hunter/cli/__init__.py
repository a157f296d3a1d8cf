"""The ``liquidation-hunter`` command: one module per command group; ``main`` dispatches."""

from liquidation_hunter.cli.main import main

__all__ = ["main"]
