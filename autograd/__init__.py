"""autograd: a scalar autograd engine. One Value is one number (or one number per example).

    >>> from autograd import Value
    >>> x = Value(2.0, label='x')
    >>> y = (x * x + 1).log()
    >>> y.backward()
    >>> round(x.grad, 6)         # 2x / (x^2 + 1)
    0.8
"""
from ._clash import warn_if_clashing

warn_if_clashing()  # HIPS autograd installed in the same folder: say so first (see _clash.py)

from .backward import backward, gc_paused, is_grad_enabled, no_grad, topological_order
from .compiler import compile
from . import draw, draw_backward  # modules that can be called: draw(root), draw.save(g, path)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .lifted import ValueArray, lift
from .backprop_check import BackpropReport, check_backprop
from .ops import OPS
from .value import Value, dot, dots, is_tracing, logsumexp, max_detached, maximum, minimum, sum

__all__ = [
    "Value", "sum", "dot", "dots", "logsumexp", "max_detached", "backward", "no_grad", "is_grad_enabled", "gc_paused",
    "is_tracing",
    "topological_order", "compile", "gradcheck", "gradgradcheck", "GradcheckError", "OPS",
    "draw", "draw_backward", "maximum", "minimum", "lift", "ValueArray", "check_backprop",
    "BackpropReport",
]
