"""``python -m threadscope``: the same as the ``threadscope`` console script."""

import sys

from threadscope.launcher import main

if __name__ == "__main__":
    sys.exit(main())
