"""Demos: the tutorials valuegrad was born from, computed with autograd. `python -m demos` runs them all."""
