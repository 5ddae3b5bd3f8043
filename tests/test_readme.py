"""Every ```python block in the README runs as written, and prints exactly what the ```text
block right after it shows (a block without one must print nothing)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
# a python block, and the text block that follows it directly (its printed output), if any
BLOCK = re.compile(r"```python\n(.*?)```\n(?:```text\n(.*?)```\n)?", flags=re.S)
BLOCKS = [(m.group(1), m.group(2)) for m in BLOCK.finditer(README.read_text())]


def test_readme_has_examples_and_outputs():
    assert len(BLOCKS) >= 6
    assert sum(out is not None for _, out in BLOCKS) >= 3
    text = README.read_text()
    assert text.count("```python") == len(BLOCKS)  # the pattern found every block


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_block_prints_what_the_readme_shows(i, tmp_path, monkeypatch, capsys):
    code, shown = BLOCKS[i]
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    namespace = {"__name__": f"readme_block_{i}"}
    exec(compile(code, f"README.md block {i}", "exec"), namespace)
    for name, fn in list(namespace.items()):
        if name.startswith("test_") and callable(fn):
            fn()  # a block that shows a pytest test: run it too
    assert capsys.readouterr().out == (shown or "")


def test_the_drawing_block_writes_the_files_it_names(tmp_path, monkeypatch):
    from autograd.draw import RendererNotFoundError, find_renderer
    try:
        find_renderer()
    except RendererNotFoundError:
        pytest.skip("no renderer here")
    (code, _), = [b for b in BLOCKS if "draw_backward(loss" in b[0]]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md drawing block", "exec"), {"__name__": "readme_drawing"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "loss.svg", "steps.html"]
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "loss.svg").read_text()


def test_every_environment_variable_the_code_reads_is_in_the_readme_table():
    root = README.parent
    used = set()
    for folder in ("autograd", "nn"):
        for path in (root / folder).rglob("*.py"):
            used |= set(re.findall(r"\b(VALUEGRAD_[A-Z_]+)\b", path.read_text()))
    rows = set(re.findall(r"^\| `(VALUEGRAD_[A-Z_]+)` \|", README.read_text(), flags=re.M))
    assert {"VALUEGRAD_CACHE", "VALUEGRAD_CC", "VALUEGRAD_RENDERER"} <= used
    assert used <= rows, f"not in README's table of variables: {sorted(used - rows)}"


def test_the_cache_is_where_the_readme_says(tmp_path, monkeypatch):
    from autograd.compiler.cache import cache_dir
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == str(tmp_path / "mine")
    monkeypatch.delenv("VALUEGRAD_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == str(tmp_path / "xdg" / "valuegrad")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == str(tmp_path / "home" / ".cache" / "valuegrad")
