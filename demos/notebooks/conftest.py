"""pytest runs every notebook in this folder, top to bottom, in a fresh kernel of the Python
that runs pytest (nbclient, the runner nbmake and nbconvert use). A cell that raises fails the
test, naming the cell and the error. Outputs are never written back: the notebooks stay clean.
"""
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds per cell


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".ipynb" and ".ipynb_checkpoints" not in file_path.parts:
        return NotebookFile.from_parent(parent, path=file_path)


class NotebookFile(pytest.File):
    def collect(self):
        yield NotebookItem.from_parent(self, name=self.path.name)


class NotebookItem(pytest.Item):
    def runtest(self):
        nbformat = pytest.importorskip("nbformat")
        nbclient = pytest.importorskip("nbclient")
        pytest.importorskip("ipykernel")
        nb = nbformat.read(self.path, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                         resources={"metadata": {"path": str(self.path.parent)}})
        # the kernel starts in this folder: let it import this checkout's autograd and nn, even
        # where the Python has another checkout installed
        path = os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
        client.execute(env=dict(os.environ, PYTHONPATH=path))

    def repr_failure(self, excinfo):
        err = excinfo.value
        if type(err).__name__ == "CellExecutionError":
            return f"{self.path.name}: a cell failed\n" + re.sub(r"\x1b\[[0-9;]*m", "", str(err))
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"notebook {self.path.name}"
