"""autograd: a scalar autograd engine. One Value is one number (or one number per example).

    >>> from autograd import Value
    >>> x = Value(2.0, label='x')
    >>> y = (x * x + 1).log()
    >>> y.backward()
    >>> round(x.grad, 6)         # 2x / (x^2 + 1)
    0.8
"""
from .backward import backward, gc_paused, is_grad_enabled, no_grad, topological_order
from .compiler import compile
from .draw import draw
from .draw_backward import draw_backward
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import OPS
from .value import Value, dot, dots, logsumexp, sum

__all__ = [
    "Value", "sum", "dot", "dots", "logsumexp", "backward", "no_grad", "is_grad_enabled", "gc_paused",
    "topological_order", "compile", "gradcheck", "gradgradcheck", "GradcheckError", "OPS",
    "draw", "draw_backward",
]
