"""``python -m evaluation``: see :mod:`evaluation.cli` (``--help``)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
