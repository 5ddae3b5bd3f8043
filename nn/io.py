"""Save and load models as JSON: architecture, weights and a format version. No pickle.

Saving is atomic (a temporary file in the same folder, then a rename), so a crash never
leaves a half-written model behind. Loading checks everything and names what is wrong.

    >>> import os, tempfile
    >>> from nn import MLP, load
    >>> model = MLP(3, [4, 2], seed=1)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.json")
    >>> model.save(path)
    >>> load(path)([1.0, 2.0, 3.0])[0].data == model([1.0, 2.0, 3.0])[0].data
    True
"""
from __future__ import annotations

import json
import math

from autograd.files import atomic_write

FORMAT = "valuegrad-model"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and the problem."""


def save(model, path):
    from .module import MLP
    if not isinstance(model, MLP):
        raise TypeError(f"save() writes MLP models; got {type(model).__name__}")
    params = {}
    for name, p in model.named_parameters():
        x = float(p.data)
        if not math.isfinite(x):
            raise ValueError(f"save: parameter {name} is {x}; refusing to save a non-finite weight")
        params[name] = x
    doc = {"format": FORMAT, "version": VERSION, "class": "MLP", "config": model.config,
           "parameters": params}
    text = json.dumps(doc, indent=1, allow_nan=False)
    atomic_write_text(path, text)


def atomic_write_text(path, text):
    """Write text to path so that readers see the old file or the whole new one, never half."""
    atomic_write(path, text)


def load(path):
    """Read a model written by `model.save(path)`; refuse anything malformed with ModelFileError."""
    from .module import MLP

    def fail(msg):
        raise ModelFileError(f"{path}: {msg}")

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        fail("not a text file (not UTF-8)")
    try:
        doc = json.loads(text, parse_constant=lambda c: fail(f"{c} is not allowed in a model file"))
    except json.JSONDecodeError as e:
        what = "truncated (the JSON ends early)" if e.pos >= len(text.rstrip()) else "not valid JSON"
        fail(f"{what}: {e.msg} at line {e.lineno}, column {e.colno}")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        fail(f"not a valuegrad model file (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    if version != VERSION:
        fail(f"unknown format version {version!r}; this valuegrad reads version {VERSION}")
    if doc.get("class") != "MLP":
        fail(f"unknown model class {doc.get('class')!r}; known: 'MLP'")
    config, params = doc.get("config"), doc.get("parameters")
    if not isinstance(config, dict):
        fail("\"config\" must be an object")
    if not isinstance(params, dict):
        fail("\"parameters\" must be an object")
    _check_config(config, fail)
    try:
        model = MLP(**{k: config[k] for k in ("nin", "nouts", "activation", "output_activation", "init")},
                    seed=0)
    except (TypeError, ValueError) as e:
        fail(f"bad config: {e}")
    expected = [n for n, _ in model.named_parameters()]
    missing = [n for n in expected if n not in params]
    extra = [n for n in params if n not in set(expected)]
    if missing or extra:
        fail(f"parameters do not fit the architecture: missing {missing[:3]}"
             f"{' ...' if len(missing) > 3 else ''}, unexpected {extra[:3]}{' ...' if len(extra) > 3 else ''}")
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"parameter {name} must be a number, got {type(value).__name__} {value!r}")
        try:
            finite = math.isfinite(float(value))
        except OverflowError:  # a 400-digit integer
            finite = False
        if not finite:
            fail(f"parameter {name} is not a finite float")
    model.load_state_dict({n: float(v) for n, v in params.items()})
    model.config["seed"] = config.get("seed")
    return model


def _check_config(config, fail):
    for key in ("nin", "nouts", "activation", "output_activation", "init"):
        if key not in config:
            fail(f"config is missing {key!r}")
    nin, nouts = config["nin"], config["nouts"]
    if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
        fail(f"config nin must be a positive integer, got {nin!r}")
    if not isinstance(nouts, list) or not nouts or \
            any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in nouts):
        fail(f"config nouts must be a list of positive integers, got {nouts!r}")
