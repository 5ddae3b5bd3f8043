"""fit's display (verbose 0/1/2, the old progress= switch), its callbacks, and the checks of
X and y that name the argument and its shape."""
import io
import re
import sys

import numpy as np
import pytest

import nn
from nn import MLP, EarlyStopping, fit, optim
from nn import train as train_mod
from nn.callbacks import Callback, LambdaCallback


@pytest.fixture(scope="module")
def data():
    X, y = nn.data.make_moons(60, noise=0.1, random_state=0)
    return X, y.astype(float)


def run(data, epochs=3, **kw):
    X, y = data
    model = MLP(2, [4, 1], output_activation="sigmoid", init="he", seed=0)
    h = fit(model, "binary_cross_entropy", optim.Adam(model.parameters(), lr=0.05), X, y,
            epochs=epochs, batch_size=20, seed=0, **kw)
    return model, h


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_0_prints_nothing(data, capsys):
    run(data, verbose=0)
    run(data, progress=False)  # the old switch
    assert capsys.readouterr() == ("", "")


def test_verbose_2_prints_one_line_per_epoch(data, capsys):
    _, h = run(data, verbose=2, metrics=["accuracy"], val=data)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == "" and len(lines) == 3
    for i, line in enumerate(lines):
        assert line == (f"epoch {i + 1}/3: loss {h['loss'][i]:.4g} - val_loss {h['val_loss'][i]:.4g} - "
                        f"accuracy {h['accuracy'][i]:.4g} - val_accuracy {h['val_accuracy'][i]:.4g}")


def test_verbose_1_without_a_terminal_leaves_the_last_line(data, capsys):
    _, h = run(data)  # verbose=1 is the default; pytest's stderr is no terminal
    out, err = capsys.readouterr()
    assert out == f"epoch 3/3: loss {h['loss'][-1]:.4g}\n" and err == ""


def test_verbose_1_on_a_terminal_draws_a_bar_that_stays(data, monkeypatch, capsys):
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    _, h = run(data, epochs=4, metrics=["accuracy"])
    shown = term.getvalue()
    last = shown.replace("\r", "\n").strip().splitlines()[-1]  # what stays on screen
    assert re.search(r"100%.*4/4", last), last
    assert f"loss {h['loss'][-1]:.4g} - accuracy {h['accuracy'][-1]:.4g}" in last
    assert not shown.endswith("\r")  # closed with leave=True: the line is kept, not erased
    assert capsys.readouterr().out == ""  # the bar is the summary: no second copy
    monkeypatch.setattr(train_mod, "_in_notebook", lambda: True)  # Jupyter: no tty, still a bar
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    run(data, epochs=2)
    assert "2/2" in sys.stderr.getvalue()


def test_progress_true_is_verbose_1_and_bad_verbose_is_named(data, capsys):
    run(data, progress=True)
    assert capsys.readouterr().out.startswith("epoch 3/3: loss ")
    with pytest.raises(ValueError, match=r"verbose must be 0 \(silent\), 1 \(progress bar\) or 2 .*got 3"):
        run(data, verbose=3)


def test_callbacks_get_the_documented_calls_in_order(data):
    calls = []

    class Full(Callback):
        def on_train_begin(self, model, history):
            calls.append(("begin", model, sorted(history), history))

        def on_epoch_end(self, epoch, logs, model):
            calls.append(("epoch", epoch, dict(logs), model))

        def on_train_end(self, history, model):
            calls.append(("end", history, model))

    class OnlyEpochs:  # a plain object: fit looks methods up by name
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, epoch, logs, model):
            self.epochs.append(epoch)

    plain = OnlyEpochs()
    model, h = run(data, verbose=0, metrics=["accuracy"], val=data, callbacks=[Full(), plain])
    assert [c[0] for c in calls] == ["begin", "epoch", "epoch", "epoch", "end"]
    assert calls[0][1] is model and calls[0][3] is h  # the very dict fit fills and returns
    assert calls[0][2] == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for epoch in range(3):
        _, e, logs, m = calls[1 + epoch]
        assert e == epoch and m is model
        assert logs == {k: h[k][epoch] for k in ("loss", "val_loss", "accuracy", "val_accuracy")}
    assert calls[-1][1] is h and calls[-1][2] is model and h["epochs"] == 3
    assert plain.epochs == [0, 1, 2]


def test_a_callback_returning_true_stops_training(data, capsys):
    stop = LambdaCallback(on_epoch_end=lambda epoch, logs, model: epoch == 1)
    _, h = run(data, epochs=10, verbose=2, callbacks=[stop])
    assert h["epochs"] == 2
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "stopped by a callback after epoch 2"
    truthy = LambdaCallback(on_epoch_end=lambda epoch, logs, model: [epoch])  # only True stops
    assert run(data, epochs=3, verbose=0, callbacks=[truthy])[1]["epochs"] == 3


def test_early_stopping_says_so_and_callbacks_see_the_end(data, capsys):
    X, y = data
    ended = []
    model = MLP(2, [4, 1], output_activation="sigmoid", init="he", seed=0)
    h = fit(model, "binary_cross_entropy", optim.SGD(model.parameters(), lr=5.0, momentum=0.9), X, y,
            epochs=40, batch_size=10, val=data, early_stopping=EarlyStopping(patience=2), verbose=2,
            callbacks=[LambdaCallback(on_train_end=lambda history, m: ended.append(history["epochs"]))])
    assert h["epochs"] < 40 and ended == [h["epochs"]]
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"early stopping after epoch {h['epochs']}: best val_loss at epoch {h['best_epoch']}, "
        f"its weights restored")


# -- X and y -------------------------------------------------------------------------------
def fit1(X, y, model=None, **kw):
    model = model or MLP(2, [1], seed=0)
    return fit(model, "mse", optim.SGD(model.parameters(), lr=0.01), X, y, epochs=1, verbose=0, **kw)


def test_a_column_of_targets_is_taken_for_one_output(data):
    X, y = data
    a = MLP(2, [4, 1], seed=0)
    b = MLP(2, [4, 1], seed=0)
    ha, hb = fit1(X, y, a), fit1(X, y.reshape(-1, 1), b)
    assert ha["loss"] == hb["loss"]
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]


@pytest.mark.parametrize("X, y, message", [
    (np.zeros((150, 2)), np.zeros((150, 2)), r"^y has shape \(150, 2\); a model with 1 output needs \(n,\) or \(n, 1\)$"),
    (np.zeros((150, 2)), np.zeros((150, 1, 1)), r"^y has shape \(150, 1, 1\)"),
    (np.zeros(150), np.zeros(150), r"^X must be 2-D, \(examples, features\), got shape \(150,\); one example per row"),
    (np.zeros((150, 3)), np.zeros(150), r"^X has 3 features \(shape \(150, 3\)\) but the model takes 2$"),
    (np.zeros((150, 2)), np.zeros(149), r"^X has 150 rows \(shape \(150, 2\)\) but y has 149 \(shape \(149,\)\)$"),
    (np.zeros((0, 2)), np.zeros(0), r"^X and y have no rows$"),
    ([["a", "b"]], [1.0], r"^X must hold numbers: could not convert string to float: 'a'$"),
])
def test_bad_X_or_y_is_named_with_its_shape(X, y, message):
    with pytest.raises(ValueError, match=message):
        fit1(X, y)


def test_several_outputs_take_indices_or_one_hot_and_name_a_wrong_width():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    model = MLP(2, [3], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, "cross_entropy", opt, X, np.array([0, 2, 1]), epochs=1, verbose=0)
    fit(model, "cross_entropy", opt, X, np.eye(3), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^y has shape \(3, 2\); a model with 3 outputs needs "
                                         r"\(n,\) class indices or \(n, 3\) one-hot$"):
        fit(model, "cross_entropy", opt, X, np.eye(3)[:, :2], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^val y has shape \(3, 2\)"):
        fit(model, "cross_entropy", opt, X, np.eye(3), epochs=1, verbose=0, val=(X, np.eye(3)[:, :2]))
    with pytest.raises(TypeError, match=r"^val must be a pair \(X_val, y_val\), got ndarray$"):
        fit(model, "cross_entropy", opt, X, np.eye(3), epochs=1, verbose=0, val=X)


def test_check_data_keeps_class_indices_integers_and_names_text_targets():
    from nn.train import check_data
    X, y = check_data(MLP(2, [3], seed=0), [[0, 1], [1, 0]], [2, 0])
    assert X.dtype == np.float64 and y.dtype.kind == "i" and y.tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"^y must hold numbers: could not convert string to float: 'cat'$"):
        check_data(MLP(2, [3], seed=0), [[0, 1], [1, 0]], ["cat", "dog"])
