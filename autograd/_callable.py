"""Modules that can be called: `autograd.draw` is both the module and its function.

`autograd.draw(loss)` draws, as the README's first picture does, and `autograd.draw.save`,
`autograd.draw.use_renderer` and `import autograd.draw as d` reach the module's other names.
A plain function of the same name would hide the module (an attribute of the package wins
over the submodule of that name), so the module itself is made callable instead.

    >>> import autograd
    >>> from autograd import Value
    >>> g = autograd.draw(Value(1.0, label='x'))
    >>> g is not None and callable(autograd.draw.save)
    True
"""
from __future__ import annotations

import sys
import types


class CallableModule(types.ModuleType):
    """A module whose call runs its function of the same name (module `draw` -> `draw()`)."""

    def __call__(self, *args, **kwargs):
        return getattr(self, self.__name__.rpartition(".")[2])(*args, **kwargs)


def make_callable(name):
    """Make the imported module `name` callable (not `__main__`: `python -m` runs a copy)."""
    if name != "__main__":
        sys.modules[name].__class__ = CallableModule
