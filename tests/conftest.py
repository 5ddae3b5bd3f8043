"""What several test files share: driving headless Chromium, a private compile cache."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from autograd._caller import register_package

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)

_PLAY = """<script>
const seen = [+document.body.dataset.frame];
window.vg.show(1); seen.push(+document.body.dataset.frame);
document.getElementById('play').click();
setTimeout(() => { seen.push(+document.body.dataset.frame);
  const p = document.createElement('pre'); p.id = 'seen'; p.textContent = JSON.stringify(seen);
  document.body.appendChild(p); }, 1500);
</script></body>"""


def chromium(url, tmp_path, *extra):
    """The DOM headless Chromium ends with (no network, a fresh profile)."""
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'profile'}", *extra, url],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.fixture
def plays_in_a_browser(tmp_path):
    """Load a training page, press play from the first frame; (last, first, a later) frame."""
    if CHROMIUM is None:
        pytest.skip("no chromium")

    def play(path):
        harness = tmp_path / "harness.html"
        harness.write_text(path.read_text().replace("</body>", _PLAY))
        dom = chromium(harness.as_uri(), tmp_path, "--virtual-time-budget=4000", "--dump-dom")
        assert 'data-ready="1"' in dom
        return json.loads(re.search(r'<pre id="seen">(.*?)</pre>', dom).group(1))
    return play


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/compare_compiled.py


@pytest.fixture
def private_cache(tmp_path_factory, monkeypatch):
    """A compile cache of the test session's own (VALUEGRAD_CACHE), never the user's."""
    path = tmp_path_factory.mktemp("valuegrad_cache")
    monkeypatch.setenv("VALUEGRAD_CACHE", str(path))
    return path


@pytest.fixture(autouse=True)
def _mutation_run_isolation(tmp_path_factory):
    """Under mutmut (MUTANT_UNDER_TEST is set in every phase of its run) all mutants share the
    source files the compile cache is keyed by, so a library one mutant built would be loaded by
    the next: each test gets a cache of its own. And gcc at -O0 unless VALUEGRAD_CC says otherwise:
    the same IEEE numbers (no fma, sums in source order), half the test time. A MonkeyPatch of its
    own, so that a test's `monkeypatch.undo()` keeps it."""
    if "MUTANT_UNDER_TEST" not in os.environ:
        yield
        return
    # mutmut calls each function through its trampoline, a frame between the library's frames
    # and the user's: count it as the library's, so that warnings still name the test's line
    trampoline = sys.modules.get("mutmut.mutation.trampoline")
    if trampoline is not None:
        register_package(os.path.dirname(trampoline.__file__))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VALUEGRAD_CACHE", str(tmp_path_factory.mktemp("mutant_cache")))
        if not os.environ.get("VALUEGRAD_CC"):
            mp.setenv("VALUEGRAD_CC", shlex.join(["sh", "-c", 'exec gcc "$@" -O0', "cc"]))
        yield
