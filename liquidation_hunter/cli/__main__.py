"""``python -m liquidation_hunter.cli``: the same as the ``liquidation-hunter`` command."""

import sys

from liquidation_hunter.cli.main import main

sys.exit(main())
