"""Every ```python block in the README runs as written."""
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_block_runs(i, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    namespace = {"__name__": f"readme_block_{i}"}
    exec(compile(BLOCKS[i], f"README.md block {i}", "exec"), namespace)
    for name, fn in list(namespace.items()):
        if name.startswith("test_") and callable(fn):
            fn()  # a block that shows a pytest test: run it too
