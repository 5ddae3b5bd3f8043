"""nn: what a from-scratch tutorial builds by hand, on top of autograd.

    >>> from nn import MLP
    >>> model = MLP(3, [4, 4, 1], seed=0)
    >>> [name for name, _ in model.named_parameters()][:2]
    ['layers.0.neurons.0.w.0', 'layers.0.neurons.0.w.1']
"""
from autograd._clash import require_valuegrad_autograd

require_valuegrad_autograd()  # HIPS autograd installed over valuegrad: say so, not a bare ImportError

from autograd._caller import register_package  # noqa: E402

register_package(__path__[0])  # autograd's warnings skip nn's frames: they point at the user's fit(...)

from . import data, losses, metrics, optim
from .io import ModelFileError, load, save
from .module import MLP, Dropout, Layer, Module, Neuron, Sequential
from .summary import summary
from .torch_bridge import from_torch, to_torch
from .train import L2, EarlyStopping, NonFiniteLossError, fit, predict, predict_classes

__all__ = ["Module", "Neuron", "Layer", "MLP", "losses", "optim", "data", "metrics", "fit",
           "EarlyStopping", "L2", "NonFiniteLossError", "predict", "predict_classes", "save", "load",
           "ModelFileError", "Sequential", "Dropout", "summary", "to_torch", "from_torch"]
