"""``python -m structdiff.cli``: the same as the ``structdiff`` command."""

import sys

from . import main

sys.exit(main())
