"""``python -m wearsdk``: the command line."""

import sys

from wearsdk.cli import main

sys.exit(main())
