"""``python -m genomefactory`` = ``genomefactory-cli``."""

import sys

from .cli import main

sys.exit(main())
