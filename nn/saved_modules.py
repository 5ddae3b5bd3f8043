"""A Sequential's modules in a model file (nn.io): described on save, checked whole and then
built again on load. Known: Layer, Dropout, MLP and Sequential, nested as the user built them.

    >>> from nn import Sequential, Layer, Dropout
    >>> describe(Sequential(Layer(2, 3, activation="tanh"), Dropout(0.1, seed=4)))["modules"]
    [{'class': 'Layer', 'nin': 2, 'nout': 3, 'activation': 'tanh'}, {'class': 'Dropout', 'p': 0.1, 'seed': 4}]
"""
from __future__ import annotations

import random

MAX_DEPTH = 32  # Sequentials inside Sequentials; the JSON parser's own limit is far deeper


def describe(m, where="the model"):
    """A JSON-ready description load() can build again; TypeError naming anything else."""
    from .module import MLP, Dropout, Layer, Neuron, Sequential
    t = type(m)
    if t is MLP:
        return {"class": "MLP", **m.config}
    if t is Sequential:
        return {"class": "Sequential", "modules": [describe(x, f"{where}[{i}]") for i, x in enumerate(m)]}
    if t is Layer and len(m.neurons) == m.nout and all(
            type(n) is Neuron and n.activation == m.activation and len(n.w) == m.nin for n in m.neurons):
        return {"class": "Layer", "nin": m.nin, "nout": m.nout, "activation": m.activation}
    if t is Dropout and (m.seed is None or (isinstance(m.seed, int) and not isinstance(m.seed, bool))):
        return {"class": "Dropout", "p": m.p, "seed": m.seed}
    raise TypeError(f"save() writes an MLP, or a Sequential of Layer, Dropout, MLP and Sequential "
                    f"modules (a Layer's neurons as it built them, a Dropout's seed an integer or None); "
                    f"{where} is {m!r}")


class Budget:
    """What the whole file may still hold: checked before any name is made or module built."""

    def __init__(self, parameters, modules):
        self.parameters, self.modules = parameters, modules


def check(node, fail, where, budget, depth=0):
    """(inputs, outputs) of the module `node` describes, None for a Dropout; its parameters are
    counted against `budget`. fail() on anything malformed, naming its place ('modules[2][0]')."""
    from . import io
    from .module import ACTIVATIONS, INITS
    if not isinstance(node, dict):
        fail(f"{where} must be an object describing a module, got {io._short(node)}")
    budget.modules -= 1
    if budget.modules < 0 or depth > MAX_DEPTH:
        fail(f"{where}: more than {io.MAX_LAYERS} modules, or nested more than {MAX_DEPTH} deep")
    kind = node.get("class")
    if kind == "Sequential":
        mods = node.get("modules")
        if not isinstance(mods, list):
            fail(f"{where}: a Sequential needs \"modules\", a list, got {io._short(mods)}")
        sized = []  # (place, (inputs, outputs)) of the modules with a fixed size
        for i, sub in enumerate(mods):
            size = check(sub, fail, f"{where}[{i}]", budget, depth + 1)
            if size is not None:
                if sized and sized[-1][1][1] != size[0]:
                    fail(f"{where}[{i}] takes {size[0]} inputs but {sized[-1][0]} gives {sized[-1][1][1]}")
                sized.append((f"{where}[{i}]", size))
        return (sized[0][1][0], sized[-1][1][1]) if sized else None
    if kind == "MLP":
        io._check_config(node, lambda msg: fail(f"{where}: {msg}"), ACTIVATIONS, INITS)
        _spend(budget, io.mlp_count(node["nin"], node["nouts"]), fail, where)
        return node["nin"], node["nouts"][-1]
    if kind == "Layer":
        nin, nout, act = node.get("nin"), node.get("nout"), node.get("activation")
        for key, n in (("nin", nin), ("nout", nout)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                fail(f"{where}: a Layer's {key} must be a positive integer, got {io._short(n)}")
        if not isinstance(act, str) or act not in ACTIVATIONS:
            fail(f"{where}: a Layer's activation {io._short(act)}; choose from {sorted(ACTIVATIONS)}")
        _spend(budget, io.mlp_count(nin, [nout]), fail, where)
        return nin, nout
    if kind == "Dropout":
        p, seed = node.get("p"), node.get("seed")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            fail(f"{where}: a Dropout's p must be a probability in [0, 1], got {io._short(p)}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            fail(f"{where}: a Dropout's seed must be an integer or null, got {io._short(seed)}")
        return None
    fail(f"{where}: unknown module class {io._short(kind)}; known: 'Layer', 'Dropout', 'MLP', 'Sequential'")


def names(node, prefix=""):
    """The parameter names of a checked description, in named_parameters' order, one at a time."""
    from . import io
    kind = node["class"]
    if kind == "Sequential":
        for i, sub in enumerate(node["modules"]):
            yield from names(sub, f"{prefix}{i}.")
    elif kind == "MLP":
        yield from io.parameter_names(node["nin"], node["nouts"], prefix)
    elif kind == "Layer":
        yield from io.parameter_names(node["nin"], [node["nout"]], prefix, layer=True)


def _spend(budget, count, fail, where):
    from . import io
    budget.parameters -= count
    if budget.parameters < 0:
        fail(f"{where}: the modules imply more than {io.MAX_PARAMETERS} parameters (nn.io.MAX_PARAMETERS)")


def build(node):
    """The module a checked description stands for (weights still to be set). Every random
    draw comes from a private generator: loading never moves the user's global RNG."""
    from .module import MLP, Dropout, Layer, Sequential
    kind = node["class"]
    if kind == "Sequential":
        return Sequential(*[build(sub) for sub in node["modules"]])
    if kind == "MLP":
        model = MLP(**{k: node[k] for k in ("nin", "nouts", "activation", "output_activation", "init")}, seed=0)
        model.config["seed"] = node.get("seed")
        return model
    if kind == "Layer":
        return Layer(node["nin"], node["nout"], node["activation"], "micrograd", random.Random(0))
    return Dropout(float(node["p"]), seed=node["seed"])
