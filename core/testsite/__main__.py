"""``python -m core.testsite``: see :mod:`core.testsite.cli`."""

import sys

from core.testsite.cli import main

if __name__ == "__main__":
    sys.exit(main())
