"""The Wisconsin breast cancer data: a 9 -> 15 ReLU -> 1 sigmoid network, as the tutorial
does it and then done cleanly.

Tutorial: the 683 complete rows in file order, labels 2/4 -> 0/1, the 9 features min-max
scaled over all 683 rows, rows 0-499 train and 501-682 test (row 500 unused), mean binary
cross-entropy, full batch, np.random.seed(1) then W1 = randn(15,9)/sqrt(9),
W2 = randn(1,15)/sqrt(15), zero biases, step 0.07, 67000 iterations, threshold 0.5.
Clean: a stratified 80/20 split, the scaler fitted on the training rows only, Adam,
mini-batches, early stopping on a validation split carved from the training rows.

    >>> r = tutorial(steps=10)
    >>> sorted(r)[:2]
    ['confusion_matrix', 'loss_curve']
"""
from __future__ import annotations

import numpy as np

import autograd
from nn import MLP, EarlyStopping, fit, losses, metrics, optim, predict_classes
from nn.data import MinMaxScaler, StandardScaler, load_breast_cancer_wisconsin, train_test_split

from .common import Timer, finish, parse_args, plot_confusion, plot_curves, progress


def tutorial(steps=67000):
    X, y = load_breast_cancer_wisconsin()
    X = MinMaxScaler().fit_transform(X)  # over all rows, as the tutorial does (a leak it makes)
    Xtr, ytr, Xte, yte = X[:500], y[:500], X[501:], y[501:]
    np.random.seed(1)
    W1 = np.random.randn(15, 9) / np.sqrt(9)
    W2 = np.random.randn(1, 15) / np.sqrt(15)
    model = MLP(9, [15, 1], activation="relu", output_activation="sigmoid")
    model.load_state_dict({"layers.0.weight": W1, "layers.0.bias": np.zeros(15),
                           "layers.1.weight": W2, "layers.1.bias": np.zeros(1)})
    params, curve = model.parameters(), []
    step = autograd.compile(lambda X, t: losses.binary_cross_entropy(model(X), t), Xtr, ytr.astype(float))
    for i in progress(range(steps), steps, "wisconsin (tutorial)"):
        for p in params:
            p.grad = 0.0
        loss = step(Xtr, ytr.astype(float))
        for p in params:
            p.data -= 0.07 * p.grad
        if i % 100 == 0:
            curve.append(loss)
    pred = predict_classes(model, Xte)
    return {"test_accuracy": metrics.accuracy(yte, pred), "train_accuracy":
            metrics.accuracy(ytr, predict_classes(model, Xtr)),
            "confusion_matrix": metrics.confusion_matrix(yte, pred).tolist(), "loss_curve": curve,
            "steps": steps}


def clean(seed=1, epochs=200):
    X, y = load_breast_cancer_wisconsin()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=True, random_state=seed)
    Xfit, Xval, yfit, yval = train_test_split(Xtr, ytr, test_size=0.2, stratify=True, random_state=seed)
    scaler = StandardScaler().fit(Xfit)  # fitted on the rows we train on, applied to all
    Xfit, Xval, Xte = scaler.transform(Xfit), scaler.transform(Xval), scaler.transform(Xte)
    model = MLP(9, [15, 1], activation="relu", output_activation="sigmoid", init="he", seed=seed)
    history = fit(model, losses.binary_cross_entropy, optim.Adam(model.parameters(), lr=0.005),
                  Xfit, yfit, epochs=epochs, batch_size=32, val=(Xval, yval),
                  early_stopping=EarlyStopping(patience=15), metrics=["accuracy"], seed=seed)
    pred = predict_classes(model, Xte)
    return {"test_accuracy": metrics.accuracy(yte, pred),
            "confusion_matrix": metrics.confusion_matrix(yte, pred).tolist(),
            "precision": metrics.precision(yte, pred), "recall": metrics.recall(yte, pred),
            "epochs_run": history["epochs"], "best_epoch": history.get("best_epoch"),
            "val_loss_curve": history["val_loss"], "loss_curve_epochs": history["loss"]}


def run(steps=67000, seed=1, out=None):
    t, c = tutorial(steps), clean(seed)
    result = {"tutorial": t, "clean": c, "test_accuracy": {"tutorial": t["test_accuracy"],
                                                           "clean": c["test_accuracy"]}}
    if out:
        names = ["benign", "malignant"]
        result["plots"] = [p for p in (
            plot_confusion(t["confusion_matrix"], names, out, "wisconsin_tutorial_cm.png",
                           f"tutorial: test accuracy {t['test_accuracy']:.3f}"),
            plot_confusion(c["confusion_matrix"], names, out, "wisconsin_clean_cm.png",
                           f"clean: test accuracy {c['test_accuracy']:.3f}"),
            plot_curves({"train": t["loss_curve"]}, out, "wisconsin_tutorial_loss.png",
                        "tutorial: full-batch gradient descent", ylabel="binary cross-entropy, mean",
                        x=np.arange(0, t["steps"], 100), xlabel="iteration (logged every 100)"),
            plot_curves({"train": c["loss_curve_epochs"], "validation": c["val_loss_curve"]}, out,
                        "wisconsin_clean_loss.png", "clean: Adam, early stopping (patience 15)",
                        ylabel="binary cross-entropy, mean", xlabel="epoch (mini-batches of 32)",
                        best=c["best_epoch"])) if p]
    return result


def main(argv=None):
    args = parse_args(__doc__, argv, 67000)
    with Timer() as t:
        r = run(args.steps or (3000 if args.quick else 67000), args.seed if args.seed is not None else 1,
                None if args.no_plots else args.out)
    r["seconds"] = round(t.seconds, 2)
    return finish("wisconsin", r, args)


if __name__ == "__main__":
    main()
