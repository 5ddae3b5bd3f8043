"""Tests for nn.metrics: hand-computed cases, plus sklearn.metrics when installed."""

import ast
import pathlib
import re

import numpy as np
import pytest

from nn import metrics
from nn.metrics import accuracy, confusion_matrix, f1, precision, recall, roc_auc

# y_true  1 1 1 1 0 0 0 0 0 0
# y_pred  1 1 1 0 1 1 0 0 0 0   -> tp=3, fn=1, fp=2, tn=4
Y_TRUE = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
Y_PRED = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]


def test_metrics_module_imports_only_numpy():
    tree = ast.parse(pathlib.Path(metrics.__file__).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names == {"numpy"}


def test_hand_computed_binary_metrics():
    assert accuracy(Y_TRUE, Y_PRED) == 0.7
    assert precision(Y_TRUE, Y_PRED) == 3 / 5
    assert recall(Y_TRUE, Y_PRED) == 3 / 4
    assert f1(Y_TRUE, Y_PRED) == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75), rel=1e-15)
    assert f1(Y_TRUE, Y_PRED) == 6 / 9
    assert confusion_matrix(Y_TRUE, Y_PRED).tolist() == [[4, 2], [1, 3]]


def test_inputs_may_be_lists_arrays_bools_or_columns():
    t, p = np.array(Y_TRUE), np.array(Y_PRED)
    assert precision(t, p) == precision(Y_TRUE, Y_PRED)
    assert recall(t.astype(bool), p.astype(bool)) == 0.75
    assert f1(t.astype(float), p.reshape(-1, 1)) == 6 / 9
    assert accuracy(["a", "b", "c"], np.array(["a", "b", "x"])) == pytest.approx(2 / 3)
    assert isinstance(accuracy(t, p), float) and isinstance(roc_auc(t, p), float)


def test_zero_division_gives_zero():
    assert precision([1, 0, 1], [0, 0, 0]) == 0.0  # nothing predicted positive
    assert recall([0, 0, 0], [1, 0, 0]) == 0.0  # no true positives exist
    assert f1([0, 0], [0, 0]) == 0.0
    assert precision([1, 1], [1, 1]) == recall([1, 1], [1, 1]) == f1([1, 1], [1, 1]) == 1.0


def test_confusion_matrix_multiclass_and_labels():
    t = [2, 0, 2, 2, 0, 1]
    p = [0, 0, 2, 2, 0, 2]
    assert confusion_matrix(t, p).tolist() == [[2, 0, 0], [0, 0, 1], [1, 0, 2]]
    # rows are true labels, columns predicted, in the given label order
    assert confusion_matrix(t, p, labels=[2, 0]).tolist() == [[2, 1], [0, 2]]
    # a label that never occurs still gets a row and a column
    assert confusion_matrix([0, 1], [0, 1], labels=[0, 1, 5]).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    cm = confusion_matrix(["cat", "dog", "dog"], ["dog", "dog", "cat"])
    assert cm.dtype == np.int64 and cm.tolist() == [[0, 1], [1, 1]]


def test_roc_auc_hand_computed_with_ties():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 1], [0.2, 0.9]) == 1.0
    assert roc_auc([0, 1], [0.9, 0.2]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5  # all tied
    # positive 0.5 tied with one negative (counts 1/2), beats the 0.2 one: (0.5 + 1 + 1 + 1) / 4
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == 0.875
    # invariant to any strictly increasing transform of the scores
    s = np.array([-3.0, 0.1, 0.1, 2.0, 7.0, 7.0])
    t = [0, 1, 0, 0, 1, 1]
    assert roc_auc(t, s) == roc_auc(t, np.exp(s)) == roc_auc(t, (s * 10).astype(int))


@pytest.mark.parametrize("fn", [accuracy, precision, recall, f1, confusion_matrix, roc_auc])
def test_length_mismatch_names_both_lengths(fn):
    with pytest.raises(ValueError, match=r"y_true has 3 samples but (y_pred|scores) has 2"):
        fn([0, 1, 1], [0, 1])


@pytest.mark.parametrize("call, match", [
    (lambda: precision([0, 2], [0, 1]), "y_true must hold binary labels 0/1 (1 = positive), found 2"),
    (lambda: recall([0, 1], [0, -1]), "y_pred must hold binary labels 0/1 (1 = positive), found -1"),
    (lambda: f1(["a", "b"], ["a", "b"]), "must hold binary labels 0/1, got dtype"),
    (lambda: roc_auc([1, 1, 1], [0.2, 0.3, 0.4]), "needs both classes in y_true, got only 1"),
    (lambda: roc_auc([0, 0], [0.2, 0.3]), "needs both classes in y_true, got only 0"),
    (lambda: roc_auc([0, 1], [0.2, np.nan]), "scores contain NaN or infinity"),
    (lambda: roc_auc([0, 1], ["a", "b"]), "scores must be numbers"),
    (lambda: accuracy([], []), "are empty"),
    (lambda: accuracy([[0, 1], [1, 0]], [[0, 1], [1, 0]]), "y_true must be 1-D (or a single column)"),
    (lambda: confusion_matrix([0, 1], [0, 1], labels=[0, 0]), "labels contains duplicates"),
    (lambda: confusion_matrix([0, 1], [0, 1], labels=[7]), "none of labels [7] occurs in y_true"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        call()


def test_metrics_equal_sklearn_on_random_inputs():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(2, 80))
        t = rng.integers(0, 2, n)
        p = rng.integers(0, 2, n)
        t[0], t[1] = 0, 1  # both classes present for roc_auc
        # coarse scores force many ties
        s = rng.integers(0, 5, n) / 4 if trial % 2 else rng.normal(size=n)
        assert accuracy(t, p) == skm.accuracy_score(t, p)
        assert precision(t, p) == skm.precision_score(t, p, zero_division=0)
        assert recall(t, p) == skm.recall_score(t, p, zero_division=0)
        assert f1(t, p) == skm.f1_score(t, p, zero_division=0)
        assert roc_auc(t, s) == pytest.approx(skm.roc_auc_score(t, s), abs=1e-12)
        t3, p3 = rng.integers(0, 4, n), rng.integers(0, 4, n)
        np.testing.assert_array_equal(confusion_matrix(t3, p3), skm.confusion_matrix(t3, p3))
        labels = [3, 1] if np.isin([3, 1], t3).any() else [int(t3[0]), 2]
        np.testing.assert_array_equal(confusion_matrix(t3, p3, labels=labels),
                                      skm.confusion_matrix(t3, p3, labels=labels))


def test_zero_division_equals_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    for t, p in [([1, 0, 1], [0, 0, 0]), ([0, 0, 0], [1, 0, 0]), ([0, 0], [0, 0])]:
        assert precision(t, p) == skm.precision_score(t, p, zero_division=0)
        assert recall(t, p) == skm.recall_score(t, p, zero_division=0)
        assert f1(t, p) == skm.f1_score(t, p, zero_division=0)
