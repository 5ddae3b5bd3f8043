"""python -m nn.draw: drawing a saved model (moved out of autograd, which never imports nn)."""
import os
import pathlib
import subprocess
import sys

from nn import MLP
from nn.draw import main

ROOT = str(pathlib.Path(__file__).resolve().parents[1])


def test_cli_draws_a_saved_model(tmp_path, capsys):
    path = tmp_path / "model.json"
    MLP(3, [4, 2], seed=0).save(path)
    assert main([str(path), "-o", str(tmp_path / "m.gv")]) == 0
    src = (tmp_path / "m.gv").read_text()
    assert "<b>y0</b>" in src and "<b>y1</b>" in src and "(16,) mean" in src
    assert main([str(path), "--input", "1,2,3", "--detail", "neuron", "-o", str(tmp_path / "m1.gv")]) == 0
    assert "neuron view" in (tmp_path / "m1.gv").read_text()
    assert main([str(path), "-o", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    assert main([str(path), "-o", str(tmp_path / "m.html")]) == 0
    assert "const steps" in (tmp_path / "m.html").read_text()
    assert main([str(path), "--input", "1,2", "-o", str(tmp_path / "x.gv")]) == 1
    assert "--input needs 3 numbers, got 2" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{}")
    assert main([str(tmp_path / "bad.json")]) == 1
    assert "not a valuegrad model file" in capsys.readouterr().err


def test_python_dash_m_nn_draw(tmp_path):
    MLP(2, [3, 1], seed=0).save(tmp_path / "model.json")
    r = subprocess.run([sys.executable, "-m", "nn.draw", "model.json", "-o", "m.svg"], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=ROOT), cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "" and "wrote m.svg" in r.stdout
    assert (tmp_path / "m.svg").read_text().count("<g id=") > 5
