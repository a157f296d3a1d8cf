"""``liquidation-hunter`` with the network guard installed: how the end-to-end tests start the bot, so the
process they start cannot reach the internet either."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from netguard import install_network_guard

install_network_guard()

from liquidation_hunter.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
