"""Classification metrics (numpy only), matching sklearn.metrics' definitions.

Binary metrics (precision, recall, f1, roc_auc) take labels 0/1 (or bools),
with 1 as the positive class; a zero denominator gives 0.0.

>>> from nn.metrics import accuracy, f1, roc_auc
>>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
0.75
>>> f1([0, 1, 1, 0], [0, 1, 0, 0])
0.6666666666666666
>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
"""

import numpy as np

__all__ = ["accuracy", "precision", "recall", "f1", "confusion_matrix", "roc_auc"]


def _as_1d(a, name):
    a = np.asarray(a)
    # Models often return a column (n, 1); accept it rather than mis-broadcast.
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (or a single column), got shape {a.shape}")
    return a


def _pair(y_true, y_pred, pred_name="y_pred"):
    y_true = _as_1d(y_true, "y_true")
    y_pred = _as_1d(y_pred, pred_name)
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true has {len(y_true)} samples but {pred_name} has {len(y_pred)}; "
            "they must have the same length"
        )
    if len(y_true) == 0:
        raise ValueError("y_true and {} are empty".format(pred_name))
    return y_true, y_pred


def _binary(a, name):
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold binary labels 0/1, got dtype {a.dtype}")
    bad = (a != 0) & (a != 1)
    if bad.any():
        raise ValueError(
            f"{name} must hold binary labels 0/1 (1 = positive), found {a[bad][0].item()!r}"
        )
    return a == 1


def _counts(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    t = _binary(y_true, "y_true")
    p = _binary(y_pred, "y_pred")
    tp = int(np.sum(t & p))
    fp = int(np.sum(~t & p))
    fn = int(np.sum(t & ~p))
    return tp, fp, fn


def _ratio(num, den):
    return num / den if den else 0.0


def accuracy(y_true, y_pred):
    """Fraction of exactly matching labels (any label values).

    >>> accuracy([1, 2, 3], [1, 2, 0])
    0.6666666666666666
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def precision(y_true, y_pred):
    """tp / (tp + fp) for positive label 1; 0.0 when nothing is predicted positive.

    >>> precision([1, 0, 1, 0], [1, 1, 0, 0])
    0.5
    """
    tp, fp, _ = _counts(y_true, y_pred)
    return _ratio(tp, tp + fp)


def recall(y_true, y_pred):
    """tp / (tp + fn) for positive label 1; 0.0 when there are no positives.

    >>> recall([1, 1, 1, 0], [1, 0, 0, 0])
    0.3333333333333333
    """
    tp, _, fn = _counts(y_true, y_pred)
    return _ratio(tp, tp + fn)


def f1(y_true, y_pred):
    """Harmonic mean of precision and recall, 2tp / (2tp + fp + fn); 0.0 if undefined.

    >>> f1([1, 1, 0, 0], [1, 0, 1, 0])
    0.5
    """
    tp, fp, fn = _counts(y_true, y_pred)
    # This form equals 2PR/(P+R) but is exact in the integer counts, as sklearn's is.
    return _ratio(2 * tp, 2 * tp + fp + fn)


def confusion_matrix(y_true, y_pred, labels=None):
    """Counts C[i, j] of samples with true label ``labels[i]`` predicted as ``labels[j]``.

    ``labels`` defaults to the sorted union of both inputs; pairs involving a
    label not in ``labels`` are left out (as in sklearn). Returns int64.

    >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2]).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    else:
        labels = _as_1d(labels, "labels")
        if len(labels) == 0:
            raise ValueError("labels must not be empty")
        if len(np.unique(labels)) != len(labels):
            raise ValueError(f"labels contains duplicates: {labels.tolist()!r}")
        if not np.isin(labels, y_true).any():
            # sklearn raises here too: an all-zero matrix is almost surely a label mix-up.
            raise ValueError(f"none of labels {labels.tolist()!r} occurs in y_true")
    k = len(labels)
    index = {lab: i for i, lab in enumerate(labels.tolist())}
    cm = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        i, j = index.get(t), index.get(p)
        if i is not None and j is not None:
            cm[i, j] += 1
    return cm


def roc_auc(y_true, scores):
    """Area under the ROC curve for labels 0/1 and real-valued scores.

    Computed as the Mann-Whitney statistic with average ranks for tied
    scores, which equals sklearn's ``roc_auc_score`` (a tie counts 1/2).
    Needs both classes present.

    >>> roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])
    0.875
    """
    y_true, scores = _pair(y_true, scores, pred_name="scores")
    pos = _binary(y_true, "y_true")
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores must be numbers, got dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinity")
    n_pos = int(pos.sum())
    n_neg = len(pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            "roc_auc needs both classes in y_true, got only "
            f"{'1' if n_neg == 0 else '0'} ({len(pos)} samples)"
        )
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    # Tie group [a, b] (1-based positions) shares rank (a + b) / 2; summing
    # 2 * rank keeps everything in exact integers until the final division.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], len(s)]  # exclusive
    twice_rank = np.repeat(starts + 1 + ends, ends - starts)
    twice_rank_pos = int(twice_rank[pos[order]].sum())
    twice_u = twice_rank_pos - n_pos * (n_pos + 1)
    return twice_u / (2 * n_pos * n_neg)
