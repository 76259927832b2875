"""``python -m core.testsite``: see :mod:`core.testsite.cli`."""

import sys

from core.testsite.cli import main

sys.exit(main())
