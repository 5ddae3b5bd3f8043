"""Tests that kill mutants of autograd/backward.py (docs/mutation.md, backward.py section).

Each test pins one behaviour of the reverse sweep that mutation testing found unpinned; the
expected numbers come from an independent reference (hand arithmetic, numpy, the per-node rule).
"""
