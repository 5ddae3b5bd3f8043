"""report.html: each demo's numbers (rounded for reading; every digit stays in results.json),
its figures with one sentence each on what to look at, and links to the interactive pages."""
from __future__ import annotations

import html
import os
import re

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

# what each figure shows, in one sentence: (file name pattern, caption)
CAPTIONS = [
    (r"micrograd_moons_boundary", "The plane coloured by the trained network's class, the data on top: "
                                  "every point lies on its own side (accuracy 100%)."),
    (r"micrograd_moons_loss", "Hinge loss + L2 after each SGD step (log scale): the hinge part falls to 0 once "
                              "every point is beyond the margin (y·score ≥ 1); the ~0.01 left is the L2 term."),
    (r"micrograd_moons_graph", "The trained network, one box per neuron (the neuron view). The gradients are "
                               "about 0 everywhere: after training every example has y·score ≥ 1, so "
                               "relu(1 - y·score) is 0 and its derivative passes nothing back; what is left "
                               "comes from the L2 term alone (2·1e-4·w on each weight). The backward page "
                               "shows step 0, where the gradients still flow."),
    (r"micrograd_moons_training\.gif", "Training replayed: the boundary, the loss and each layer's gradient "
                                       "norm, step by step (the training page has a slider and play button)."),
    (r"perceptron_loss", "0.5·Σ(y - out)² over the 4 rows after each iteration: it falls fast, then slowly, "
                         "as the sigmoid saturates near 0 and 1."),
    (r"britz_h1\.", "One tanh unit: the boundary is a single line, so the tips of both moons fall on the "
                     "wrong side."),
    (r"britz_h2\.", "Two units: the line bends once; still close to a straight split."),
    (r"britz_h3\.", "Three units, the tutorial's choice: the boundary now follows both moons."),
    (r"britz_h4\.", "Four units: about the same boundary as three."),
    (r"britz_h5\.", "Five units: the same shape, drawn a little tighter around the points."),
    (r"britz_h20\.", "Twenty units: the boundary starts to bend around single noisy points."),
    (r"britz_h50\.", "Fifty units: more bends around single points (overfitting), not a better fit "
                      "for new data."),
    (r"britz_logreg", "Logistic regression (no hidden layer) can only draw a straight line, so it gets the tips "
                      "of both moons wrong."),
    (r"britz_loss", "The tutorial's printed loss / N, one point every 1,000 iterations; the values at 0 and "
                    "1,000 match the published 0.432387 and 0.068947."),
    (r"wisconsin_tutorial_loss", "Mean binary cross-entropy of full-batch gradient descent, one point every "
                                 "100 iterations."),
    (r"wisconsin_clean_loss", "Train and validation loss per epoch; the dashed line marks the epoch whose "
                              "weights early stopping put back (lowest validation loss); later epochs only "
                              "fit the training rows better."),
    (r"digits_tutorial_cost", "The tutorial's squared error, every 10th iteration: slow, because sigmoid outputs "
                              "with squared error give small gradients."),
    (r"digits_modern_loss", "Cross-entropy per epoch with Adam and mini-batches: a few epochs do what the "
                            "tutorial needs thousands of iterations for."),
    (r"_cm\.png$", "The same confusion matrix as the table above, as a picture."),
]

# what --quick shortens so much that a number means nothing
QUICK = {
    "britz_moons": "quick run: 1,001 iterations instead of 20,000; the losses at 0 and 1,000 are the "
                   "tutorial's, but the accuracies and boundaries are not final.",
    "wisconsin": "quick run: 3,000 iterations instead of 67,000 for the tutorial; its accuracy is not "
                 "meaningful.",
    "digits": "quick run: 300 iterations and 5 epochs instead of 3,000 and 30; these accuracies are not "
              "meaningful.",
}
PAGES = {
    "micrograd_moons_backward.html": "the backward pass of step 0, neuron by neuron (opens each neuron to "
                                     "its chain-rule steps)",
    "micrograd_moons_training.html": "watch it learn: boundary, loss and gradient norms, step by step",
}


def caption(name):
    """The sentence under figure `name` ('' when there is none)."""
    for pattern, text in CAPTIONS:
        m = re.search(pattern, name)
        if m:
            return text.format(*m.groups())
    return ""


def fmt(v):
    """A number for reading: 7 significant digits, enough to compare with the published
    values (results.json keeps every digit).

        >>> fmt(0.8958441028683222), fmt(2.2499646074278457), fmt(1.0), fmt(7)
        ('0.8958441', '2.249965', '1', '7')
    """
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    return f"{v:.7g}"


def _confusion(cm, labels=None):
    labels = labels or [str(i) for i in range(len(cm))]
    head = "".join(f"<th>{html.escape(l)}</th>" for l in labels)
    rows = "".join(f"<tr><th>{html.escape(l)}</th>" + "".join(
        f"<td class='{'diag' if i == j else ''}'>{int(v)}</td>" for j, v in enumerate(row)) + "</tr>"
        for i, (l, row) in enumerate(zip(labels, cm)))
    return (f"<table class='cm'><tr><th>true \\ predicted</th>{head}</tr>{rows}</table>")


_CLASS_NAMES = {"wisconsin": ["benign", "malignant"]}


def _table(d, key=""):
    rows = []
    for k, v in d.items():
        if k in ("plots", "pages") or isinstance(v, list) and len(v) > 12 and k != "confusion_matrix":
            continue
        if k == "confusion_matrix":
            v = _confusion(v, _CLASS_NAMES.get(key))
        elif isinstance(v, dict):
            v = _table(v, key)
        elif isinstance(v, list):
            v = html.escape(", ".join(fmt(x) for x in v))
        else:
            v = html.escape(fmt(v))
        rows.append(f"<tr><th>{html.escape(str(k))}</th><td>{v}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _planted_table(planted):
    """check_backprop's planted mistakes: one row each, with the diagnosis it printed."""
    head = "<tr><th>tutorial</th><th>planted mistake</th><th>parameter</th><th>caught</th><th>diagnosis</th></tr>"
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(p[k]))}</td>" for k in
                                     ("tutorial", "mistake", "parameter", "caught", "diagnosis")) + "</tr>"
                   for p in planted)
    return f"<table>{head}{rows}</table>"


def _figure(img):
    src = html.escape(img, quote=True)
    text = html.escape(caption(img))
    if img.endswith(".svg"):  # a graph: at its own size in a scroll box, never squeezed
        body = (f"<div class='graph'><img src='{src}' alt='graph drawing {src}'></div>"
                f"<figcaption>{text} <a href='{src}'>Open the drawing on its own</a>.</figcaption>")
    elif img.endswith("_cm.png"):
        return f"<p class='small'>{text} <a href='{src}'>{src}</a></p>"
    else:
        body = f"<img src='{src}' alt='{src}'><figcaption>{text}</figcaption>"
    wide = " class='wide'" if img.endswith(".gif") else ""
    return f"<figure{wide}>{body}</figure>"


def write_report(results, out):
    quick = bool(results.get("quick"))
    parts = ["<!doctype html><meta charset='utf-8'><title>valuegrad demos</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 6px;"
             "text-align:left;vertical-align:top;font-size:90%}td{font-variant-numeric:tabular-nums}"
             "table.cm td{text-align:right;min-width:2em}table.cm td.diag{background:#dfeedd;font-weight:bold}"
             "figure{display:inline-block;vertical-align:top;max-width:48%;margin:6px}figure img{max-width:100%}"
             "figure:has(.graph),figure.wide{display:block;max-width:100%}.graph{overflow:auto;max-height:620px;"
             "border:1px solid #ddd}.graph img{max-width:none}figcaption{font-size:85%;color:#444}"
             ".quick{background:#fff3cd;border:1px solid #e0c36c;padding:4px 8px}.small{font-size:85%}</style>",
             f"<h1>valuegrad demos</h1><p>Total time {html.escape(fmt(results.get('total_seconds')))} s"
             f"{' (quick mode: shortened runs, marked below)' if quick else ''}. Every gradient below comes "
             "from autograd; none is derived by hand. Numbers are rounded to 7 significant digits; "
             "<code>results.json</code> holds every digit.</p>"]
    for key, r in results.items():
        if not isinstance(r, dict):
            continue
        parts.append(f"<h2 id='{html.escape(key, quote=True)}'>{html.escape(key)}</h2>"
                     f"<p>{html.escape(EXPLAIN.get(key, ''))}</p>")
        if quick and key in QUICK:
            parts.append(f"<p class='quick'>{html.escape(QUICK[key])}</p>")
        parts.append(_table(r, key))
        for page in r.get("pages", []):
            src = html.escape(page, quote=True)
            parts.append(f"<p>Interactive: <a href='{src}'>{html.escape(PAGES.get(page, page))}</a></p>")
        parts.extend(_figure(img) for img in r.get("plots", []))
        if key == "check_backprop":
            parts.append(_planted_table(r.get("planted", [])))
    path = os.path.join(out, "report.html")
    atomic_write_text(path, "\n".join(parts))
    return path
