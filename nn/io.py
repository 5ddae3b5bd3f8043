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

import itertools
import json
import math
import os
import stat

from autograd import gc_paused
from autograd.files import atomic_write

from . import saved_modules

FORMAT = "valuegrad-model"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and the problem."""


def save(model, path):
    """Write an MLP, or a Sequential of Layer, Dropout, MLP and Sequential modules, as JSON."""
    from .module import MLP, Sequential
    if isinstance(model, MLP):
        cls, config = "MLP", model.config
    elif type(model) is Sequential:
        cls, config = "Sequential", {"modules": saved_modules.describe(model)["modules"]}
    else:
        raise TypeError(f"save() writes an MLP or a Sequential; got {type(model).__name__} (a lone "
                        f"Layer goes in a Sequential: nn.Sequential(layer).save(path))")
    params = {}
    for name, p in model.named_parameters():
        x = float(p.data)
        if not math.isfinite(x):
            raise ValueError(f"save: parameter {name} is {x}; refusing to save a non-finite weight")
        params[name] = x
    doc = {"format": FORMAT, "version": VERSION, "class": cls, "config": config, "parameters": params}
    text = json.dumps(doc, indent=1, allow_nan=False)
    atomic_write_text(path, text)


def atomic_write_text(path, text):
    """Write text to path so that readers see the old file or the whole new one, never half."""
    atomic_write(path, text)


MAX_FILE_BYTES = 256 * 2**20   # ~5 million parameters written by save()
MAX_PARAMETERS = 5_000_000
MAX_LAYERS = 10_000


def load(path):
    """Read a model written by `model.save(path)`; refuse anything malformed with ModelFileError.

    The whole file is checked before anything is built: a regular file of at most
    `MAX_FILE_BYTES`, valid JSON, a config whose implied parameter count (at most
    `MAX_PARAMETERS`) and names match the parameters present, every one a finite number.
    """
    from .module import ACTIVATIONS, INITS

    def fail(msg):
        raise ModelFileError(f"{path}: {msg}")

    text = _read_text(path, fail)
    try:
        doc = json.loads(text, parse_constant=lambda c: fail(f"{c} is not allowed in a model file"),
                         parse_int=_parse_int)
    except json.JSONDecodeError as e:
        what = "truncated (the JSON ends early)" if e.pos >= len(text.rstrip()) else "not valid JSON"
        fail(f"{what}: {e.msg} at line {e.lineno}, column {e.colno}")
    except RecursionError:
        fail("not a model file: JSON nested too deeply")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        fail(f"not a valuegrad model file (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    if version != VERSION:
        fail(f"unknown format version {_short(version)}; this valuegrad reads version {VERSION}")
    cls = doc.get("class")
    if cls not in ("MLP", "Sequential"):
        fail(f"unknown model class {_short(cls)}; known: 'MLP', 'Sequential'")
    config, params = doc.get("config"), doc.get("parameters")
    if not isinstance(config, dict):
        fail("\"config\" must be an object")
    if not isinstance(params, dict):
        fail("\"parameters\" must be an object")
    if cls == "MLP":
        _check_config(config, fail, ACTIVATIONS, INITS)
        nin, nouts = config["nin"], config["nouts"]
        count, arch = mlp_count(nin, nouts), f"config {_short(nin)} -> {_short(nouts)}"
        names_of = lambda: parameter_names(nin, nouts)  # noqa: E731
    else:
        tree = {"class": "Sequential", "modules": config.get("modules")}
        budget = saved_modules.Budget(MAX_PARAMETERS, MAX_LAYERS)
        saved_modules.check(tree, fail, "modules", budget)
        count, arch = MAX_PARAMETERS - budget.parameters, "the modules"
        names_of = lambda: saved_modules.names(tree)  # noqa: E731
    values = _values(names_of, count, params, fail, arch)
    # Only now, with every size and number known to be sane, is the model built.
    # Tens of thousands of new Values and no cycles among them: the cyclic collector would only
    # walk every object the program holds, many times over (seconds in a big process).
    with gc_paused():
        model = saved_modules.build({**config, "class": "MLP"} if cls == "MLP" else tree)
    for p, x in zip(model.parameters(), values):  # the order of the names checked
        p.data = x
    return model


def _values(names_of, count, params, fail, arch):
    """The parameters' numbers in the architecture's order, once its `count` names (made by
    names_of(), lazily: a small file may claim millions) match the file's exactly."""
    names = list(names_of()) if count <= len(params) else None  # at most as many as the file holds
    if names is None or len(names) != len(params) or not all(n in params for n in names):
        missing = list(itertools.islice((n for n in names_of() if n not in params), 4))
        known = set(names or ())
        extra = [] if names is None else [n for n in params if n not in known][:4]
        fail(f"parameters do not fit the architecture ({arch} has {count}, the file {len(params)}): "
             f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}, "
             f"unexpected {[_short(n) for n in extra[:3]]}{' ...' if len(extra) > 3 else ''}")
    values = []
    for name in names:
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"parameter {name} must be a number, got {type(value).__name__} {_short(value)}")
        try:
            x = float(value)
        except OverflowError:  # a 400-digit integer
            x = math.inf
        if not math.isfinite(x):
            fail(f"parameter {name} is not a finite float")
        values.append(x)
    return values


def _read_text(path, fail):
    """The file's text; only a regular file, at most MAX_FILE_BYTES (a FIFO or a device
    would hang or never end)."""
    st = os.stat(path)  # FileNotFoundError stays what it is
    if not stat.S_ISREG(st.st_mode):
        fail("not a regular file (a model file is a plain JSON file)")
    if st.st_size > MAX_FILE_BYTES:
        fail(f"{st.st_size} bytes, more than the {MAX_FILE_BYTES} a model file may have (nn.io.MAX_FILE_BYTES)")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped since the stat
            fail("not a regular file (a model file is a plain JSON file)")
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        fail(f"more than the {MAX_FILE_BYTES} bytes a model file may have (nn.io.MAX_FILE_BYTES)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        fail("not a text file (not UTF-8)")


def _parse_int(s):
    # int() of a 5,000-digit string is refused by Python (and slow below that): a long
    # integer becomes a float (inf when too large), which the checks below refuse by name.
    return int(s) if len(s) <= 18 else float(s)


def _short(x, n=60):
    r = repr(x)
    return r if len(r) <= n else r[:n] + "..."


def mlp_count(nin, nouts):
    """How many parameters MLP(nin, nouts) has (weights and a bias per neuron)."""
    count, fan_in = 0, nin
    for nout in nouts:
        count, fan_in = count + nout * (fan_in + 1), nout
    return count


def parameter_names(nin, nouts, prefix="", layer=False):
    """The names MLP(nin, nouts).named_parameters() gives, without building it (a lone Layer's
    with `layer`: 'neurons.3.w.1', no 'layers.0.')."""
    names, fan_in = [], nin
    for i, nout in enumerate(nouts):
        for j in range(nout):
            base = f"{prefix}neurons.{j}." if layer else f"{prefix}layers.{i}.neurons.{j}."
            names.extend([base + f"w.{k}" for k in range(fan_in)])
            names.append(base + "b")
        fan_in = nout
    return names


def _check_config(config, fail, activations, inits):
    for key in ("nin", "nouts", "activation", "output_activation", "init"):
        if key not in config:
            fail(f"config is missing {key!r}")
    nin, nouts = config["nin"], config["nouts"]
    if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
        fail(f"config nin must be a positive integer, got {_short(nin)}")
    if not isinstance(nouts, list) or not nouts or len(nouts) > MAX_LAYERS or \
            any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in nouts):
        fail(f"config nouts must be a list of at most {MAX_LAYERS} positive integers, got {_short(nouts)}")
    if mlp_count(nin, nouts) > MAX_PARAMETERS:
        fail(f"config {_short(nin)} -> {_short(nouts)} implies more than {MAX_PARAMETERS} parameters "
             f"(nn.io.MAX_PARAMETERS)")
    for key, allowed in (("activation", activations), ("output_activation", [None, *activations]),
                         ("init", inits)):
        if not isinstance(config[key], (str, type(None))) or config[key] not in allowed:
            fail(f"bad config: {key} {_short(config[key])}; choose from {sorted(a for a in allowed if a)}")
    seed = config.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        fail(f"config seed must be an integer or null, got {_short(seed)}")
