"""The notebooks in demos/notebooks: committed without outputs (pytest --nbmake runs them, see
pyproject), and with what they promise to show."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "demos" / "notebooks").glob("*.ipynb"))


def test_the_two_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["micrograd_lecture.ipynb", "train_and_check.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code
    for i, cell in enumerate(code):
        assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"code cell {i} has outputs"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}  # no widget state, no run times


def _source(name):
    nb = json.loads((NOTEBOOKS[0].parent / name).read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"])


def test_the_lecture_covers_the_neuron_backward_by_hand_and_the_moons():
    text = _source("micrograd_lecture.ipynb")
    for needle in ("draw(o)", "n.grad = (1 - o.data ** 2) * o.grad", "o.backward()",
                   "assert by_engine == by_hand", "make_moons", "MLP(2, [16, 16, 1])",
                   "assert loss.data == 0.010978370135492717 and accuracy == 1.0"):
        assert needle in text


def test_train_and_check_trains_and_runs_gradcheck():
    text = _source("train_and_check.ipynb")
    for needle in ("load_breast_cancer_wisconsin", "fit(", "callbacks=[record]",
                   "autograd.gradcheck(loss_on_rows, first_layer)", "GradcheckError"):
        assert needle in text


def test_the_runner_fails_a_failing_notebook_and_gives_kernels_this_checkout(tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import os
    import shutil
    import subprocess
    import sys
    root = NOTEBOOKS[0].parents[2]
    folder = tmp_path / "demos" / "notebooks"
    folder.mkdir(parents=True)
    shutil.copy(root / "demos" / "notebooks" / "conftest.py", folder)
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}

    def notebook(name, *cells):
        cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c}
                 for c in cells]
        (folder / name).write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": meta,
                                               "cells": cells}))
    notebook("a_ok.ipynb", f"import os\nassert os.environ['PYTHONPATH'].split(os.pathsep)[0] == {str(tmp_path)!r}")
    notebook("b_fails.ipynb", "x = 1", "assert x == 2, 'x is not 2'")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:nbmake",
                        "demos/notebooks"], capture_output=True, text=True, cwd=tmp_path,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 1, r.stdout
    assert "1 failed, 1 passed" in r.stdout
    assert "b_fails.ipynb: a cell failed" in r.stdout and "AssertionError: x is not 2" in r.stdout
    assert "\x1b[" not in r.stdout
    assert json.loads((folder / "b_fails.ipynb").read_text())["cells"][0]["outputs"] == []  # not written back
