"""Run every demo: python -m demos"""
from __future__ import annotations

import sys

from . import gradient_descent


def main(argv=None):
    gradient_descent.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
