"""The compile cache under attack and damage (autograd/compiler/cache.py).

Whatever sits in the cache folder is loaded only after its bytes match the hash recorded when
it was built: planted, truncated, garbage and swapped libraries are rebuilt, never loaded.
Every load of a tampered cache runs in a child process, so that a bug (a truncated library
dlopen'ed is a SIGBUS) would fail one test instead of killing pytest.
"""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import autograd
from autograd import Value
from autograd.compiler import c_backend, cache

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X = np.array([0.5, -1.0, 2.0])

try:
    CC = c_backend.find_compiler()
except c_backend.CompilerNotFound:
    CC = None
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler")

CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import autograd
    from autograd import Value
    w = Value(0.7)
    graphs = {"a": lambda x: (w * x).tanh().sum(), "b": lambda x: ((w * x).sigmoid() * 2.0).sum()}
    x = np.array([0.5, -1.0, 2.0])
    p = autograd.compile(graphs[sys.argv[1]], x, backend=sys.argv[2])
    out = p(x)
    prog = next(iter(p.programs.values()))
    print(json.dumps({"compiled_now": prog.compiled_now, "backend": prog.backend, "out": out,
                      "grad": w.grad}))
""")


def eager(which):
    w = Value(0.7)
    x = Value(X)
    out = (w * x).tanh().sum() if which == "a" else ((w * x).sigmoid() * 2.0).sum()
    out.backward()
    return out.data, w.grad


def child(folder, which="a", backend="c", **env):
    e = dict(os.environ, VALUEGRAD_CACHE=str(folder), PYTHONPATH=REPO, OMP_NUM_THREADS="1", **env)
    r = subprocess.run([sys.executable, "-c", CHILD, which, backend], capture_output=True, text=True,
                       env=e, timeout=300)
    assert r.returncode == 0, f"child died ({r.returncode}): {r.stderr[-3000:]}"
    res = json.loads(r.stdout.strip().splitlines()[-1])
    out, grad = eager(which)
    assert res["out"] == pytest.approx(out, rel=1e-12, abs=0)  # never a wrong number
    assert res["grad"] == pytest.approx(grad, rel=1e-12, abs=0)
    return res


def entry(folder):
    (so,) = [n for n in os.listdir(folder) if n.endswith(".so")]
    return os.path.join(folder, so), os.path.join(folder, so[:-3] + ".json")


@pytest.fixture
def built(tmp_path):
    """A cache folder holding graph 'a', built by a child process."""
    folder = tmp_path / "cache"
    assert child(folder)["compiled_now"] is True
    assert child(folder)["compiled_now"] is False  # verified and reused
    return folder


# -- the folder ------------------------------------------------------------------------------

def test_folder_is_created_private_and_entries_are_ours(built):
    assert stat.S_IMODE(os.stat(built).st_mode) == 0o700
    so, meta = entry(built)
    m = json.loads(open(meta).read())
    assert m["so_sha256"] == hashlib.sha256(open(so, "rb").read()).hexdigest()
    assert m["so_bytes"] == os.path.getsize(so)
    assert not [n for n in os.listdir(built) if n.startswith(".")]  # no build or load leftovers


@needs_cc
@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_folder_writable_by_others_is_refused(tmp_path, monkeypatch, mode):
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, mode)
    monkeypatch.setenv("VALUEGRAD_CACHE", str(folder))
    w = Value(0.3)
    with pytest.raises(cache.CacheError, match="writable by others"):
        autograd.compile(lambda x: (w * x).exp().sum(), X, backend="c")
    with warnings.catch_warnings(record=True) as caught:  # 'auto': numpy, with a warning
        warnings.simplefilter("always")
        prog = autograd.compile(lambda x: (w * x).exp().sum(), X)
    assert prog.backend == "numpy"
    assert any("writable by others" in str(c.message) for c in caught)
    assert prog(X) == pytest.approx(np.exp(0.3 * X).sum(), rel=1e-15)
    assert os.listdir(folder) == []  # nothing written into it


def test_folder_of_another_user_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    real = os.getuid()
    monkeypatch.setattr(cache.os, "getuid", lambda: real + 1)  # as if the folder were theirs
    monkeypatch.setenv("VALUEGRAD_CACHE", str(folder))
    with pytest.raises(cache.CacheError, match="belongs to user id"):
        cache.cache_dir()


def test_readable_folder_is_tightened(tmp_path, monkeypatch):
    folder = tmp_path / "old"
    folder.mkdir()
    os.chmod(folder, 0o755)  # what an older valuegrad made under umask 022
    monkeypatch.setenv("VALUEGRAD_CACHE", str(folder))
    assert cache.cache_dir() == str(folder)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_a_file_in_place_of_the_folder(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "f"))
    with pytest.raises(cache.CacheError, match="cannot create it"):
        cache.cache_dir()


# -- damaged and hostile entries: rebuilt, never loaded --------------------------------------

PLANT = r"""
#include <stdio.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen("%s", "w"); if (f) { fputs("ran", f); fclose(f); }
}
int vg_run(const double *in, const double *par, double *out, double *pg, double *g, int w) {
    out[0] = 42.0; return 1;
}
"""


def _plant(tmp_path, so_path):
    marker = tmp_path / "planted_ran"
    src = tmp_path / "plant.c"
    src.write_text(PLANT % marker)
    subprocess.run(CC + ["-shared", "-fPIC", "-o", str(tmp_path / "plant.so"), str(src)], check=True)
    shutil.copyfile(tmp_path / "plant.so", so_path)
    return marker


@needs_cc
@pytest.mark.parametrize("sidecar", ["kept", "removed", "forged-source"])
def test_planted_library_never_runs(built, tmp_path, sidecar):
    so, meta = entry(built)
    marker = _plant(tmp_path, so)
    if sidecar == "removed":
        os.unlink(meta)
    elif sidecar == "forged-source":  # a sidecar naming the planted bytes but not this source
        m = json.loads(open(meta).read())
        m["so_sha256"] = hashlib.sha256(open(so, "rb").read()).hexdigest()
        m["source_sha256"] = "0" * 64
        open(meta, "w").write(json.dumps(m))
    assert child(built)["compiled_now"] is True
    assert not marker.exists(), "the planted library's constructor ran"
    assert child(built)["compiled_now"] is False


@needs_cc
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "one-bit", "symlink", "fifo"])
def test_damaged_library_is_rebuilt(built, tmp_path, damage):
    so, _ = entry(built)
    data = open(so, "rb").read()
    if damage == "truncated":
        open(so, "wb").write(data[:len(data) // 2])  # dlopen'ed, this is a SIGBUS
    elif damage == "garbage":
        open(so, "wb").write(os.urandom(len(data)))
    elif damage == "empty":
        open(so, "wb").close()
    elif damage == "one-bit":
        b = bytearray(data)
        b[len(b) // 3] ^= 1
        open(so, "wb").write(bytes(b))
    elif damage == "symlink":  # even to an intact copy: only regular files of our own
        shutil.copyfile(so, tmp_path / "elsewhere.so")
        os.unlink(so)
        os.symlink(tmp_path / "elsewhere.so", so)
    elif damage == "fifo":
        os.unlink(so)
        os.mkfifo(so)  # must not block the reader
    assert child(built)["compiled_now"] is True
    assert child(built)["compiled_now"] is False


@needs_cc
@pytest.mark.parametrize("damage", ["garbage", "truncated", "deep", "missing"])
def test_damaged_sidecar_means_rebuild(built, damage):
    _, meta = entry(built)
    text = open(meta).read()
    if damage == "garbage":
        open(meta, "wb").write(os.urandom(300))
    elif damage == "truncated":
        open(meta, "w").write(text[:len(text) // 2])
    elif damage == "deep":
        open(meta, "w").write("[" * 50000 + "]" * 50000)
    else:
        os.unlink(meta)
    assert child(built)["compiled_now"] is True
    assert child(built)["compiled_now"] is False


@needs_cc
@pytest.mark.parametrize("what", ["library", "library and sidecar"])
def test_another_graphs_library_under_this_name_is_rebuilt(tmp_path, what):
    a, b = tmp_path / "a", tmp_path / "b"
    child(a, "a")
    child(b, "b")
    so_a, meta_a = entry(a)
    so_b, meta_b = entry(b)
    shutil.copyfile(so_b, so_a)
    if what == "library and sidecar":
        shutil.copyfile(meta_b, meta_a)
    assert child(a, "a")["compiled_now"] is True  # child() checks the numbers against eager


# -- the compiler ----------------------------------------------------------------------------

@needs_cc
def test_hanging_compiler_is_killed_after_the_timeout(tmp_path, monkeypatch):
    pid_file = tmp_path / "grandchild.pid"
    script = tmp_path / "slowcc"
    script.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pid_file}\nwait\n")
    script.chmod(0o700)
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VALUEGRAD_CC", str(script))
    monkeypatch.setenv("VALUEGRAD_CC_TIMEOUT", "1")
    w = Value(0.9)
    t0 = time.monotonic()
    with pytest.raises(cache.CompileTimeout, match="did not finish within 1 s"):
        autograd.compile(lambda x: (w * x).exp().sum(), X, backend="c")
    assert time.monotonic() - t0 < 20
    pid = int(pid_file.read_text())
    time.sleep(0.2)
    assert _gone(pid)  # the compiler's own children are killed too
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prog = autograd.compile(lambda x: (w * x).exp().sum(), X)  # 'auto': numpy, warned
    assert prog.backend == "numpy" and any("did not finish" in str(c.message) for c in caught)
    assert not [n for n in os.listdir(tmp_path / "cache") if n.startswith(".build-")]


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"  # a zombie awaiting its reaper
    except FileNotFoundError:
        return True


def test_timeout_variable_must_be_a_positive_number(monkeypatch):
    for bad in ("0", "-3", "soon", "nan", "inf"):
        monkeypatch.setenv("VALUEGRAD_CC_TIMEOUT", bad)
        with pytest.raises(ValueError, match="VALUEGRAD_CC_TIMEOUT must be a positive number"):
            cache._env_number("VALUEGRAD_CC_TIMEOUT", 120.0)
    monkeypatch.setenv("VALUEGRAD_CC_TIMEOUT", "2.5")
    assert cache._env_number("VALUEGRAD_CC_TIMEOUT", 120.0) == 2.5


@needs_cc
def test_failing_compiler_names_itself(tmp_path, monkeypatch):
    script = tmp_path / "badcc"
    script.write_text("#!/bin/sh\necho 'badcc: out of cheese' >&2\nexit 3\n")
    script.chmod(0o700)
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VALUEGRAD_CC", str(script))
    w = Value(0.4)
    with pytest.raises(cache.CompileError, match=r"(?s)failed \(exit 3\).*out of cheese"):
        autograd.compile(lambda x: (w * x).exp().sum(), X, backend="c")


# -- leftovers and the size limit -------------------------------------------------------------

def _fake_entry(folder, key, size, age):
    t = time.time() - age
    for ext, n in ((".so", size), (".json", 10)):
        p = os.path.join(folder, f"vg_{key}{ext}")
        with open(p, "wb") as f:
            f.write(b"x" * n)
        os.utime(p, (t, t))


def test_prune_deletes_the_least_recently_used_first(tmp_path, monkeypatch):
    folder = str(tmp_path)
    for key, age in (("old", 300), ("mid", 200), ("new", 100), ("kept", 400)):
        _fake_entry(folder, key, 400_000, age)
    monkeypatch.setenv("VALUEGRAD_CACHE_MAX_MB", "1")  # room for two entries of 0.4 MB
    cache._prune(folder, keep="kept")
    left = sorted(n for n in os.listdir(folder))
    assert left == ["vg_kept.json", "vg_kept.so", "vg_new.json", "vg_new.so"]


@needs_cc
def test_compiling_prunes_and_cleans_leftovers(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    _fake_entry(str(folder), "stale", 2_000_000, 1000)
    old_build = folder / ".build-old"
    old_build.mkdir()
    (old_build / "graph.c").write_text("half")
    fresh_build = folder / ".build-fresh"  # perhaps another process, compiling right now
    fresh_build.mkdir()
    old_tmp = folder / ".tmp-half.so"
    old_tmp.write_bytes(b"x")
    for p in (old_build, old_tmp):
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    monkeypatch.setenv("VALUEGRAD_CACHE", str(folder))
    monkeypatch.setenv("VALUEGRAD_CACHE_MAX_MB", "1")
    w = Value(1.3)
    prog = autograd.compile(lambda x: (w * x).tanh().sum() * 3.0, X, backend="c")
    assert next(iter(prog.programs.values())).compiled_now
    names = set(os.listdir(folder))
    assert ".build-old" not in names and ".tmp-half.so" not in names
    assert ".build-fresh" in names
    assert "vg_stale.so" not in names and len([n for n in names if n.endswith(".so")]) == 1


def test_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "c"))
    folder = cache.cache_dir()
    _fake_entry(folder, "a", 10, 0)
    _fake_entry(folder, "b", 10, 0)
    os.mkdir(os.path.join(folder, ".build-x"))
    assert cache.clear() == 2
    assert os.listdir(folder) == []


@needs_cc
def test_a_read_only_cache_is_a_cache_error(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    monkeypatch.setenv("VALUEGRAD_CACHE", str(folder))
    w = Value(0.2)
    with pytest.raises(cache.CacheError, match="Permission denied"):
        autograd.compile(lambda x: (w * x).exp().sum(), X, backend="c")


@needs_cc
def test_an_os_error_while_building_is_a_cache_error(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "c"))

    def full(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cache.tempfile, "mkdtemp", full)
    w = Value(0.25)
    with pytest.raises(cache.CacheError, match="No space left"):
        autograd.compile(lambda x: (w * x).exp().sum() * 2.0, X, backend="c")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prog = autograd.compile(lambda x: (w * x).exp().sum() * 2.0, X)
    assert prog.backend == "numpy" and any("No space left" in str(c.message) for c in caught)
