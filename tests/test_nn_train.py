"""nn.train: fit's history, reproducibility, early stopping, non-finite losses, the GC pause,
predict / predict_classes, and two real data sets (Wisconsin, digits)."""
import gc
import re

import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from nn import MLP, EarlyStopping, NonFiniteLossError, fit, losses, optim, predict, predict_classes


@pytest.fixture(scope="module")
def moons():
    X, y = nn.data.make_moons(200, noise=0.1, random_state=0)
    Xtr, Xva, ytr, yva = nn.data.train_test_split(X, y, test_size=0.25, random_state=0)
    return Xtr, Xva, ytr, yva


def new_model(seed=0):
    return MLP(2, [8, 1], output_activation="sigmoid", init="he", seed=seed)


def weights(model):
    return [p.data for p in model.parameters()]


def train(moons, seed=0, epochs=8, model_seed=0, **kw):
    Xtr, Xva, ytr, yva = moons
    model = new_model(model_seed)
    opt = optim.Adam(model.parameters(), lr=0.05)
    kw.setdefault("val", (Xva, yva))
    h = fit(model, losses.binary_cross_entropy, opt, Xtr, ytr, epochs=epochs, batch_size=32,
            progress=False, seed=seed, **kw)
    return h, model


def test_history_keys_and_lengths(moons):
    def ones_frac(y_true, y_pred):
        return float(np.mean(y_pred))
    h, _ = train(moons, epochs=5, metrics=["accuracy", "f1", ones_frac])
    assert set(h) == {"loss", "val_loss", "accuracy", "val_accuracy", "f1", "val_f1",
                      "ones_frac", "val_ones_frac", "epochs"}
    assert h["epochs"] == 5
    for key in set(h) - {"epochs"}:
        assert len(h[key]) == 5, key
        assert all(isinstance(v, float) and np.isfinite(v) for v in h[key])
    assert all(0 <= a <= 1 for a in h["accuracy"] + h["val_accuracy"])


def test_history_without_val_or_metrics(moons):
    h, _ = train(moons, epochs=3, val=None)
    assert set(h) == {"loss", "epochs"} and len(h["loss"]) == 3


def test_history_values_are_what_they_say(moons):
    Xtr, Xva, ytr, yva = moons
    h, model = train(moons, epochs=4, metrics=["accuracy"])
    # after the last epoch, the val loss and both accuracies are those of the final model
    assert h["val_loss"][-1] == pytest.approx(
        losses.binary_cross_entropy(model(Xva), yva).data, rel=1e-12)
    assert h["val_accuracy"][-1] == nn.metrics.accuracy(yva, predict_classes(model, Xva))
    assert h["accuracy"][-1] == nn.metrics.accuracy(ytr, predict_classes(model, Xtr))


def test_full_batch_epoch_loss_is_the_loss_before_the_step(moons):
    Xtr, _, ytr, _ = moons
    model = new_model()
    before = losses.binary_cross_entropy(model(Xtr), ytr).data
    h = fit(model, "binary_cross_entropy", optim.SGD(model, lr=0.1), Xtr, ytr, epochs=1, progress=False)
    assert h["loss"][0] == pytest.approx(before, rel=1e-12)


def test_loss_decreases_on_moons(moons):
    h, model = train(moons, epochs=25, metrics=["accuracy"])
    assert h["loss"][-1] < 0.5 * h["loss"][0]
    assert h["val_loss"][-1] < h["val_loss"][0]
    assert h["val_accuracy"][-1] >= 0.9


def test_same_seed_same_history_different_seed_differs(moons):
    h1, m1 = train(moons, seed=3, epochs=4)
    h2, m2 = train(moons, seed=3, epochs=4)
    assert h1 == h2
    assert weights(m1) == weights(m2)
    h3, m3 = train(moons, seed=4, epochs=4)
    assert h3["loss"] != h1["loss"]
    assert weights(m3) != weights(m1)


def test_shuffle_false_ignores_the_seed(moons):
    h1, m1 = train(moons, seed=1, epochs=2, shuffle=False)
    h2, m2 = train(moons, seed=2, epochs=2, shuffle=False)
    assert h1 == h2 and weights(m1) == weights(m2)


def test_string_loss_names_and_minus_one_plus_one_labels(moons):
    Xtr, Xva, ytr, yva = moons
    model = MLP(2, [8, 1], init="he", seed=0)
    h = fit(model, "hinge", optim.SGD(model, lr=0.05, momentum=0.9), Xtr, 2 * ytr - 1, epochs=30,
            batch_size=32, val=(Xva, 2 * yva - 1), metrics=["accuracy"], progress=False)
    assert h["val_accuracy"][-1] >= 0.8  # -1/+1 labels are scored as 0/1
    assert h["loss"][-1] < h["loss"][0]


def test_regularization_is_added_to_every_batch(moons):
    Xtr, _, ytr, _ = moons
    results = []
    for reg in (None, lambda m: Value(5.0) + 0.0 * m.parameters()[0]):
        model = new_model()
        h = fit(model, "binary_cross_entropy", optim.SGD(model, lr=0.1), Xtr, ytr, epochs=3,
                batch_size=50, progress=False, regularization=reg)
        results.append((h["loss"], weights(model)))
    (plain, w_plain), (shifted, w_shifted) = results
    assert w_plain == w_shifted  # a constant adds no gradient
    np.testing.assert_allclose(np.array(shifted) - np.array(plain), 5.0, rtol=1e-12)


def test_regularization_l2_shrinks_weights(moons):
    Xtr, _, ytr, _ = moons
    norms = []
    for reg in (None, lambda m: losses.l2(m.parameters(), 0.05)):
        model = new_model()
        fit(model, "binary_cross_entropy", optim.Adam(model, lr=0.05), Xtr, ytr, epochs=10, batch_size=50,
            progress=False, regularization=reg)
        norms.append(sum(w * w for w in weights(model)))
    assert norms[1] < norms[0]


def test_x_y_length_mismatch(moons):
    Xtr, _, ytr, _ = moons
    model = new_model()
    with pytest.raises(ValueError, match="rows"):
        fit(model, "mse", optim.SGD(model), Xtr, ytr[:-1], progress=False)


# early stopping ----------------------------------------------------------------------------

def test_early_stopping_stops_and_restores_the_best_weights(moons):
    # min_delta=10: nothing after epoch 1 counts as an improvement
    es = EarlyStopping(patience=3, min_delta=10.0)
    h, model = train(moons, epochs=50, early_stopping=es)
    assert h["epochs"] == 4 == len(h["loss"]) == len(h["val_loss"])
    assert h["best_epoch"] == 1
    _, after_one = train(moons, epochs=1)
    assert weights(model) == weights(after_one)  # the weights of epoch 1, not of epoch 4


def test_early_stopping_by_patience_number(moons):
    h, _ = train(moons, epochs=40, early_stopping=2)
    best = int(np.argmin(h["val_loss"]))
    assert h["best_epoch"] == best + 1
    assert h["epochs"] <= 40
    if h["epochs"] < 40:  # it stopped: the last 2 epochs were no better than the best
        assert h["epochs"] == best + 1 + 2


def test_early_stopping_picks_the_best_epoch_of_a_real_run(moons):
    """A large learning rate makes the validation loss go up and down; the restored weights
    are those of the epoch with the lowest val_loss."""
    Xtr, Xva, ytr, yva = moons
    model = new_model()
    h = fit(model, "binary_cross_entropy", optim.SGD(model, lr=2.0, momentum=0.9), Xtr, ytr, epochs=30,
            batch_size=16, val=(Xva, yva), early_stopping=EarlyStopping(patience=4), progress=False, seed=0)
    best = int(np.argmin(h["val_loss"]))
    assert h["best_epoch"] == best + 1
    assert losses.binary_cross_entropy(model(Xva), yva).data == pytest.approx(h["val_loss"][best], rel=1e-12)


def test_early_stopping_on_training_loss_needs_no_val(moons):
    h, _ = train(moons, epochs=3, val=None, early_stopping=EarlyStopping(patience=1, monitor="loss"))
    assert "best_epoch" in h


def test_early_stopping_on_val_without_val_raises(moons):
    with pytest.raises(ValueError, match="val"):
        train(moons, val=None, early_stopping=3)


def test_early_stopping_without_restore(moons):
    es = EarlyStopping(patience=2, min_delta=10.0, restore_best=False)
    h, model = train(moons, epochs=20, early_stopping=es)
    assert h["epochs"] == 3
    _, after_three = train(moons, epochs=3)
    assert weights(model) == weights(after_three)


def test_early_stopping_on_accuracy_maximises(moons):
    """Accuracy is better when higher: monitoring val_accuracy must keep the epoch with the
    highest accuracy (today every metric is minimised, so the first epoch always 'wins')."""
    h, model = train(moons, epochs=12, metrics=["accuracy"],
                     early_stopping=EarlyStopping(patience=12, monitor="val_accuracy"))
    assert max(h["val_accuracy"]) > h["val_accuracy"][0]  # it did improve
    assert h["best_epoch"] == int(np.argmax(h["val_accuracy"])) + 1


# non-finite losses and the GC ------------------------------------------------------------------

def test_diverging_training_raises_non_finite_loss_error(moons):
    Xtr, _, ytr, _ = moons
    model = MLP(2, [8, 1], init="he", seed=0)
    with pytest.raises(NonFiniteLossError) as e:
        with np.errstate(over="ignore", invalid="ignore"):
            fit(model, "mse", optim.SGD(model, lr=10.0), Xtr, ytr * 10.0, epochs=50, batch_size=50,
                progress=False)
    msg = str(e.value)
    assert re.search(r"at epoch [1-9]\d*, batch [1-3]\b", msg), msg  # 150 rows: 3 batches of 50
    assert "inf" in msg or "nan" in msg
    assert isinstance(e.value, FloatingPointError)


def test_inf_loss_raises_naming_the_batch(moons):
    Xtr, _, ytr, _ = moons
    calls = []

    def loss_fn(out, target):  # finite data; the loss of the third batch overflows
        calls.append(1)
        return losses.mse(out, target) * (1e308 if len(calls) == 3 else 1.0) * 10.0
    model = new_model()
    with pytest.raises(NonFiniteLossError, match=r"loss is inf at epoch 1, batch 3 \(10 rows\)"):
        with np.errstate(over="ignore"):
            fit(model, loss_fn, optim.SGD(model, lr=0.1), Xtr, ytr, epochs=2, batch_size=10, shuffle=False,
                verbose=0)
    assert gc.isenabled()


def test_inf_or_nan_in_the_data_is_named_before_training(moons):
    Xtr, _, ytr, _ = moons
    X = Xtr.copy()
    X[25, 0] = np.inf
    model = new_model()
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"^X holds inf at index \(25, 0\); fit needs finite numbers$"):
        fit(model, "mse", optim.SGD(model, lr=0.1), X, ytr, epochs=2, batch_size=10, verbose=0)
    y = ytr.astype(float)
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"^y holds nan at index 3; fit needs finite numbers$"):
        fit(model, "mse", optim.SGD(model, lr=0.1), Xtr, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^val y holds nan at index 3"):
        fit(model, "mse", optim.SGD(model, lr=0.1), Xtr, ytr, epochs=1, verbose=0, val=(Xtr, y))
    assert model.state_dict() == before  # nothing trained


def test_gc_is_paused_during_each_step_and_restored(moons):
    Xtr, _, ytr, _ = moons
    seen = []

    def loss_fn(out, target):
        seen.append(gc.isenabled())
        return losses.binary_cross_entropy(out, target)

    assert gc.isenabled()
    model = new_model()
    fit(model, loss_fn, optim.Adam(model, lr=0.01), Xtr, ytr, epochs=2, batch_size=50, progress=False)
    assert len(seen) == 2 * 3  # 150 rows: 3 batches per epoch (no val: no evaluation call)
    assert not any(seen)
    assert gc.isenabled()


def test_gc_stays_disabled_if_it_was(moons):
    Xtr, _, ytr, _ = moons
    gc.disable()
    try:
        model = new_model()
        fit(model, "binary_cross_entropy", optim.Adam(model, lr=0.01), Xtr, ytr, epochs=1, progress=False)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_is_restored_after_an_error_in_the_loss(moons):
    Xtr, _, ytr, _ = moons

    def broken(out, target):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fit(new_model(), broken, optim.SGD(new_model()), Xtr, ytr, epochs=1, progress=False)
    assert gc.isenabled()


# predict ---------------------------------------------------------------------------------

def test_predict_shapes_and_no_graph():
    X = np.random.default_rng(0).normal(size=(5, 3))
    one = MLP(3, [4, 1], seed=0)
    out = predict(one, X)
    assert out.shape == (5,)
    np.testing.assert_array_equal(out, one(X).data)
    many = MLP(3, [4, 3], seed=0)
    out = predict(many, X)
    assert out.shape == (5, 3)
    np.testing.assert_array_equal(out[:, 1], many(X)[1].data)
    assert autograd.is_grad_enabled()


def test_predict_classes_thresholds():
    model = MLP(1, [1], activation="linear", seed=0)
    model.load_state_dict({"layers.0.neurons.0.w.0": 1.0, "layers.0.neurons.0.b": 0.0})
    X = np.array([[-0.3], [0.2], [0.7]])
    assert predict_classes(model, X).tolist() == [0, 1, 1]  # scores: > 0
    sig = MLP(1, [1], output_activation="sigmoid", seed=0)
    sig.load_state_dict({"layers.0.neurons.0.w.0": 1.0, "layers.0.neurons.0.b": 0.0})
    assert predict_classes(sig, X).tolist() == [0, 1, 1]  # probabilities: > 0.5
    assert predict_classes(sig, np.array([[-0.1]])).tolist() == [0]
    many = MLP(2, [3], activation="linear", seed=0)
    many.load_state_dict({"layers.0.weight": np.array([[1.0, 0], [0, 1.0], [-1.0, -1.0]]),
                          "layers.0.bias": np.zeros(3)})
    assert predict_classes(many, np.array([[2.0, 1.0], [0.0, 3.0], [-1.0, -1.0]])).tolist() == [0, 1, 2]


# real data -------------------------------------------------------------------------------

def test_wisconsin_test_accuracy():
    X, y = nn.data.load_breast_cancer_wisconsin()
    Xtr, Xte, ytr, yte = nn.data.train_test_split(X, y, test_size=0.2, stratify=True, random_state=1)
    scaler = nn.data.StandardScaler().fit(Xtr)  # fitted on the training rows only
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    model = MLP(9, [8, 1], activation="relu", output_activation="sigmoid", init="he", seed=1)
    h = fit(model, nn.losses.binary_cross_entropy,
            nn.optim.Adam(model.parameters(), lr=0.005, weight_decay=1e-3),
            Xtr, ytr, epochs=30, batch_size=32, progress=False, seed=1)
    assert h["loss"][-1] < h["loss"][0]
    acc = nn.metrics.accuracy(yte, nn.predict_classes(model, Xte))
    assert acc >= 0.95, acc  # 0.971 (133 of 137) for this seed


def test_digits_smoke():
    X, y = nn.data.load_digits()
    X = X / 16.0
    model = MLP(64, [16, 10], init="he", seed=0)
    h = fit(model, "cross_entropy", optim.Adam(model, lr=0.01), X, y, epochs=3, batch_size=32,
            metrics=["accuracy"], progress=False, seed=0)
    assert h["loss"][2] < h["loss"][0]
    assert h["accuracy"][-1] > 0.8
    assert nn.metrics.accuracy(y, predict_classes(model, X)) == h["accuracy"][-1]


def test_digits_one_hot_targets_and_a_last_batch_of_one():
    """1797 rows in batches of 4 leave a last batch of one row."""
    X, y = nn.data.load_digits()
    X, y = X[:201] / 16.0, y[:201]
    model = MLP(64, [10], activation="linear", init="xavier", seed=0)
    h = fit(model, "cross_entropy", optim.SGD(model, lr=0.1), X, nn.data.one_hot(y, 10), epochs=1,
            batch_size=4, metrics=["accuracy"], progress=False)
    assert len(h["loss"]) == 1 and np.isfinite(h["loss"][0])
    model2 = MLP(64, [10], activation="linear", init="xavier", seed=0)
    h2 = fit(model2, "cross_entropy", optim.SGD(model2, lr=0.1), X, y, epochs=1, batch_size=4,
             metrics=["accuracy"], progress=False)
    assert h2["loss"] == pytest.approx(h["loss"], rel=1e-12)  # index and one-hot targets agree
