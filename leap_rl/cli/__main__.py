"""``python -m leap_rl.cli``: the ``leap-rl`` command."""

import sys

from leap_rl.cli import main

sys.exit(main())
