"""``python -m mynaid``."""

import sys

from mynaid.cli.main import main

sys.exit(main())
