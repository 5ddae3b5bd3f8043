"""The demos land on the tutorials' published numbers (quick mode, as CI runs it)."""
import json
import os
import re

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
        for page in results[key].get("pages", []):
            assert os.path.getsize(out / page) > 1000 and f"href='{page}'" in report


def _axes(png):
    """What save_fig wrote into the PNG about its axes: title, x and y labels, legend."""
    from PIL import Image
    return json.loads(Image.open(png).text["Description"])


def test_the_report_pictures_say_their_units_and_have_captions(quick):
    out, results = quick
    report = (out / "report.html").read_text()
    units = ("iteration", "epoch", "step")
    curves = [img for k in KEYS for img in results[k].get("plots", [])
              if re.search(r"_(loss|cost)\.png$", img)]
    assert len(curves) >= 7
    for img in curves:
        (ax,) = _axes(out / img)
        assert ax["x"].startswith(units) and ax["y"], (img, ax)
    assert "every 1,000" in _axes(out / "britz_loss.png")[0]["x"]
    assert "every 100" in _axes(out / "wisconsin_tutorial_loss.png")[0]["x"]
    best = results["wisconsin"]["clean"]["best_epoch"]
    assert f"best epoch {best} (weights restored)" in _axes(out / "wisconsin_clean_loss.png")[0]["legend"]
    # every figure has one sentence under it; graphs at their own size, with a link
    figures = re.findall(r"<figure[^>]*>(.*?)</figure>", report, re.S)
    assert len(figures) >= 15
    for fig in figures:
        cap = re.search(r"<figcaption>(.*?)</figcaption>", fig, re.S).group(1)
        assert len(cap) > 40 and cap.rstrip().endswith("."), fig
    graph = next(f for f in figures if ".svg" in f)
    assert "class='graph'" in graph and "href='micrograd_moons_graph.svg'" in graph
    assert "y·score ≥ 1" in graph  # why the gradients are zero after training


def test_the_report_rounds_numbers_and_tables_confusion_matrices(quick):
    out, results = quick
    report = (out / "report.html").read_text()
    numbers = re.findall(r"\d+\.\d+", re.sub(r"<style>.*?</style>", "", report, flags=re.S))
    assert max(len(n.replace(".", "").lstrip("0")) for n in numbers) <= 7  # no 17-digit floats ...
    assert results["micrograd_moons"]["step0_loss"] == 0.8958441028683222  # ... results.json has them
    assert ">0.8958441<" in report and ">2.249965<" in report
    assert report.count("<table class='cm'>") == 4
    assert "<th>malignant</th>" in report and "[[" not in report
    for key in ("digits", "wisconsin", "britz_moons"):  # --quick numbers that mean nothing, marked
        section = report.split(f"id='{key}'")[1].split("<h2")[0]
        assert "class='quick'" in section
    assert "class='quick'" not in report.split("id='micrograd_moons'")[1].split("<h2")[0]


def test_the_moons_demo_writes_a_training_page_that_plays(quick, plays_in_a_browser):
    out, results = quick
    assert "micrograd_moons_training.gif" in results["micrograd_moons"]["plots"]
    page = out / "micrograd_moons_training.html"
    assert "micrograd_moons_training.html" in results["micrograd_moons"]["pages"]
    data = json.loads(re.search(r"const data = (\{.*?\});\n", page.read_text()).group(1))
    assert len(data["frames"]) == 100 and data["layers"] == ["layers.0", "layers.1", "layers.2"]
    losses = [f["logs"]["loss"] for f in data["frames"]]
    assert losses == results["micrograd_moons"]["loss_curve"]
    last, first, later = plays_in_a_browser(page)
    assert (last, first) == (100, 1) and later > 1


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
