"""report.html: each demo's numbers, plots and a few words on what it shows."""
from __future__ import annotations

import html
import os

from nn.io import atomic_write_text

EXPLAIN = {
    "micrograd_moons": "micrograd's own demo notebook, run on valuegrad: same data, same initial weights "
                       "(Python's random with seed 1337), same hinge loss, L2 term and learning-rate schedule. "
                       "The loss at step 0 and step 99 must equal micrograd's to the last digit.",
    "perceptron": "The 'neural network in 11 lines' perceptron. Its hand-written update is a gradient step; "
                  "here autograd computes that gradient and lands on the published weights.",
    "britz_moons": "Denny Britz's two-layer network from scratch (tanh hidden layer, softmax output, "
                   "summed cross-entropy with L2). The published losses come out to six decimals; the grid "
                   "shows how the decision boundary changes with the hidden size.",
    "gradient_descent": "Gradient descent on f(x) = x^4 - 3x^3 + 2 from x = 6, derivative by autograd.",
    "wisconsin": "Breast cancer (Wisconsin, original): the tutorial's setup (min-max scaling over all rows, "
                 "a split by file order) and a clean one (stratified split, scaler fitted on the training "
                 "rows only, Adam, early stopping).",
    "digits": "8x8 digits: the tutorial's sigmoid network with squared error, and a modern ReLU / softmax "
              "cross-entropy / Adam / mini-batch network.",
    "check_backprop": "The tutorials' own hand-derived numpy gradients, held against exact ones: each forward "
                      "pass runs unchanged on arrays of Values (autograd.lift) and autograd.check_backprop "
                      "compares. All five agree; then one mistake of each kind is planted in a hand derivation "
                      "and must be caught and named (below).",
}


def _table(d, depth=0):
    rows = []
    for k, v in d.items():
        if k in ("plots",) or isinstance(v, list) and len(v) > 12:
            continue
        if isinstance(v, dict):
            v = _table(v, depth + 1)
        elif isinstance(v, float):
            v = html.escape(repr(v))  # every digit: the published numbers are checked to the last one
        else:
            v = html.escape(str(v))
        rows.append(f"<tr><th>{html.escape(str(k))}</th><td>{v}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _planted_table(planted):
    """check_backprop's planted mistakes: one row each, with the diagnosis it printed."""
    head = "<tr><th>tutorial</th><th>planted mistake</th><th>parameter</th><th>caught</th><th>diagnosis</th></tr>"
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(p[k]))}</td>" for k in
                                     ("tutorial", "mistake", "parameter", "caught", "diagnosis")) + "</tr>"
                   for p in planted)
    return f"<table>{head}{rows}</table>"


def write_report(results, out):
    parts = ["<!doctype html><meta charset='utf-8'><title>valuegrad demos</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 6px;"
             "text-align:left;vertical-align:top;font-size:90%}img{max-width:48%;margin:4px}</style>",
             f"<h1>valuegrad demos</h1><p>Total time {results.get('total_seconds')} s"
             f"{' (quick mode: shortened runs)' if results.get('quick') else ''}. Every gradient below comes "
             "from autograd; none is derived by hand.</p>"]
    for key, r in results.items():
        if not isinstance(r, dict):
            continue
        parts.append(f"<h2 id='{key}'>{key}</h2><p>{html.escape(EXPLAIN.get(key, ''))}</p>")
        parts.append(_table(r))
        if key == "check_backprop":
            parts.append(_planted_table(r.get("planted", [])))
        for img in r.get("plots", []):
            style = " style='max-width:100%'" if img.endswith(".svg") else ""
            parts.append(f"<img src='{html.escape(img)}' alt='{html.escape(img)}'{style}>")
    path = os.path.join(out, "report.html")
    atomic_write_text(path, "\n".join(parts))
    return path
