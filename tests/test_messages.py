"""Messages that name the problem as a user reads it: hinge's targets, saving into a missing
folder, and `python -m demos --help`."""
import os
import subprocess
import sys

import numpy as np
import pytest

from autograd import Value
from autograd.files import atomic_write
from nn import MLP, losses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_hinge_targets_are_minus_one_or_one_not_an_interval():
    with pytest.raises(ValueError, match=r"^hinge: targets must be -1 or 1, got 0\.0 at index 1$"):
        losses.hinge(Value(np.array([0.3, 0.4])), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"^binary_cross_entropy: targets must be between 0 and 1, "
                                         r"got 2\.0 at index 1$"):
        losses.binary_cross_entropy(Value(np.array([0.3, 0.4])), np.array([0.5, 2.0]))


def test_saving_into_a_missing_folder_names_the_target(tmp_path):
    target = tmp_path / "no" / "such" / "model.json"
    with pytest.raises(FileNotFoundError) as e:
        MLP(2, [1], seed=0).save(target)
    assert str(e.value) == f"[Errno 2] cannot write {target}: the folder {target.parent} does not exist"
    assert ".tmp-" not in str(e.value)
    with pytest.raises(FileNotFoundError, match="cannot write .*x.txt: the folder .* does not exist"):
        atomic_write(tmp_path / "missing" / "x.txt", "hello")
    assert not (tmp_path / "missing").exists()


def test_saving_into_a_file_that_is_no_folder_names_the_target(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"cannot write .*file/model\.json: Not a directory"):
        MLP(2, [1], seed=0).save(tmp_path / "file" / "model.json")


def test_demos_help_names_the_command():
    r = subprocess.run([sys.executable, "-m", "demos", "--help"], capture_output=True, text=True,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m demos ")
