"""The demos land on the tutorials' published numbers (quick mode, as CI runs it)."""
import json
import os

import pytest

from demos import __main__ as demos_main
from demos import britz_moons, gradient_descent

KEYS = ["micrograd_moons", "perceptron", "britz_moons", "gradient_descent", "wisconsin", "digits"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("demos")
    assert demos_main.main(["--quick", "--out", str(out)]) == 0
    with open(out / "results.json") as f:
        return out, json.load(f)


def test_results_json_has_every_key_and_the_report_its_plots(quick):
    out, results = quick
    assert all(k in results for k in KEYS)
    report = (out / "report.html").read_text()
    for key in KEYS:
        assert f"id='{key}'" in report
        for img in results[key].get("plots", []):
            assert os.path.getsize(out / img) > 1000
            assert img in report


def test_micrograd_moons_digit_for_digit(quick):
    r = quick[1]["micrograd_moons"]
    assert r["step0_loss"] == pytest.approx(0.8958441028683222, rel=1e-12)
    assert r["step99_loss"] == pytest.approx(0.010978370135492717, rel=1e-12)
    assert r["accuracy"] == 1.0 and r["step0_accuracy"] == 0.5


def test_perceptron_published_numbers(quick):
    r = quick[1]["perceptron"]
    assert f"{r['predict_110']:.8f}" == "0.99996185"
    assert [round(w, 8) for w in r["weights"]] == [10.38040701, -0.20641179, -4.98452047]


def test_britz_losses_to_six_decimals(quick):
    r = quick[1]["britz_moons"]
    assert f"{r['loss']['0']:.6f}" == "0.432387"
    assert f"{r['loss']['1000']:.6f}" == "0.068947"
    assert set(r["train_accuracy"]) == {str(h) for h in britz_moons.SIZES}
    assert 0.5 < r["logistic_regression_accuracy"] < 0.95  # a line cannot separate the moons


def test_gradient_descent_lands_on_the_tutorials_x(quick):
    assert f"{quick[1]['gradient_descent']['x']:.6f}" == "2.249965"
    r = gradient_descent.run()
    assert abs(r["x"] - 2.25) < 1e-4  # near the true minimum at 9/4


def test_wisconsin_and_digits_report_accuracies_and_confusion_matrices(quick):
    w, d = quick[1]["wisconsin"], quick[1]["digits"]
    assert w["clean"]["test_accuracy"] >= 0.93
    assert sum(map(sum, w["tutorial"]["confusion_matrix"])) == 182  # rows 501-682
    assert sum(map(sum, w["clean"]["confusion_matrix"])) == 137
    assert d["modern"]["test_accuracy"] > 0.85
    assert len(d["tutorial"]["confusion_matrix"]) == 10
