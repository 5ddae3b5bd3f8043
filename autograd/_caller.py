"""Warnings that point at the user's line, not at the library's.

A fixed `stacklevel` is right for one call path only: `compile(...)` and a later call of the
compiled function reach the same warning at different depths, and `nn.fit` adds its own frames.
So the level is found by walking out of the library's packages (autograd, and whatever
package registers itself here, as nn does).

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("look here", UserWarning)
    >>> caught[0].filename.startswith("<doctest")   # this example's line, not _caller.py's
    True
"""
from __future__ import annotations

import os
import sys
import warnings

_PACKAGES = [os.path.dirname(os.path.abspath(__file__)) + os.sep]


def register_package(folder):
    """Count frames in `folder` (a package's directory) as the library's, not the user's."""
    folder = os.path.abspath(folder) + os.sep
    if folder not in _PACKAGES:
        _PACKAGES.append(folder)


def warn(message, category):
    """warnings.warn at the first frame outside the library's packages."""
    prefixes = tuple(_PACKAGES)
    level, frame = 1, sys._getframe(0)
    while frame is not None and frame.f_code.co_filename.startswith(prefixes):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
