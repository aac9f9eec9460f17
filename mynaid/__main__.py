"""``python -m mynaid``."""

import sys

from mynaid.cli.entry import main

sys.exit(main())
