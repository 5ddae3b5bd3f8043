"""Tests that kill mutants of the compile cache (autograd/compiler/cache.py), the packed dot
kernels (dot_kernels.py) and the C back end (c_backend.py): docs/mutation.md lists which."""
import os

import pytest

from autograd.compiler import cache


def test_env_number_reads_positive_numbers_and_defaults(monkeypatch):
    """Unset or blank: the default; a positive number: itself; anything else: a ValueError
    naming the variable and the text."""
    monkeypatch.delenv("VG_TEST_NUMBER", raising=False)
    assert cache._env_number("VG_TEST_NUMBER", 7.5) == 7.5
    monkeypatch.setenv("VG_TEST_NUMBER", "  ")
    assert cache._env_number("VG_TEST_NUMBER", 7.5) == 7.5
    monkeypatch.setenv("VG_TEST_NUMBER", "0.25")
    assert cache._env_number("VG_TEST_NUMBER", 7.5) == 0.25
    for bad in ("0", "-1", "inf", "nan", "abc"):
        monkeypatch.setenv("VG_TEST_NUMBER", bad)
        with pytest.raises(ValueError) as e:
            cache._env_number("VG_TEST_NUMBER", 7.5)
        assert str(e.value) == f"VG_TEST_NUMBER must be a positive number, got {bad!r}"


# -- dot_kernels.scratch_sizes ----------------------------------------------------------------

def _kernel_needs(m, B, P):
    """The doubles each kernel of dot_kernels.KERNELS touches in VG_AP, VG_BP and VG_WS, from
    their index arithmetic (the highest index written, plus one), for m neurons, B examples and
    P inputs: forward VG_AP[(jb P + k) 6 + r], jb < ceil(m / 6); the inputs' gradient
    VG_AP[(qb m + k) 6 + r], qb < ceil(P / 6); the weights' gradient chunks of kn <= 128
    examples, VG_AP[jb kn 6 + 6 k + t], VG_BP[8 k + t], VG_WS[(jb np + qp) 48 + u]."""
    up = lambda a, b: -(-a // b) * b  # noqa: E731
    kn = min(B, 128)
    ap = max(up(m, 6) * P, up(P, 6) * m, up(m, 6) * kn)
    bp = max(8 * P, 8 * m, 8 * kn)
    ws = (up(m, 6) // 6) * (up(P, 8) // 8) * 48
    return ap, bp, ws


@pytest.mark.parametrize("m, B, P", [(1, 1, 1), (2, 1, 13), (13, 1, 2), (7, 13, 2), (2, 300, 3),
                                     (9, 257, 17), (17, 5, 9), (6, 8, 8), (12, 128, 16),
                                     (1, 129, 40), (40, 129, 1), (5, 3, 200)])
def test_scratch_sizes_hold_what_the_kernels_touch(m, B, P):
    """VG_AP, VG_BP, VG_WS are static arrays declared at these sizes: a kernel writing past one
    corrupts the next (no error, wrong numbers or a crash later). Each size covers all three
    passes; none is more than needed by a factor bigger than the tile's padding allows."""
    from autograd.compiler.dot_kernels import scratch_sizes
    sizes = scratch_sizes(m, B, P)
    needs = _kernel_needs(m, B, P)
    assert all(type(s) is int for s in sizes)
    for size, need in zip(sizes, needs):
        assert need <= size
    ap, bp, ws = sizes
    assert bp == needs[1] and ws == needs[2]  # both exact: one step of 8 columns, one tile per block
    assert ap <= -(-max(m, P) // 6) * 6 * max(m, P, min(B, 128))


# -- cache.py: a tiny library through load/find, in this process -------------------------------

import hashlib  # noqa: E402
import json  # noqa: E402
import stat  # noqa: E402
import time  # noqa: E402

from autograd.compiler import c_backend  # noqa: E402

try:
    CC = c_backend.find_compiler()
except c_backend.CompilerNotFound:
    CC = None
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler")
FLAGS = ["-shared", "-fPIC"]
SOURCE = "int vg_answer(void) { return %d; }\n"


@pytest.fixture
def fresh(private_cache, monkeypatch):
    """A private cache folder and an empty table of libraries loaded by this process."""
    monkeypatch.setattr(cache, "_loaded", {})
    return str(private_cache)


def _load(made_from="tiny", answer=42, notes=None, notes_ok=lambda n: True, calls=None):
    def generate():
        if calls is not None:
            calls.append(made_from)
        return SOURCE % answer, {"n": answer} if notes is None else notes
    return cache.load(made_from, CC, FLAGS, generate, notes_ok)


def _sidecar(folder, key):
    with open(os.path.join(folder, f"vg_{key}.json")) as f:
        return json.load(f)


@needs_cc
def test_load_names_files_by_the_key_and_records_everything(fresh):
    """The key is sha256 of the compiler and flags joined by spaces, a newline, and what the
    source is made from: its first 32 hex digits name vg_<key>.so/.json/.c; the sidecar holds
    the whole hash, the hashes and size of the library and of the source, the command line,
    the notes. A second load is the same library, not compiled again."""
    calls = []
    got = _load(calls=calls)
    full = hashlib.sha256((" ".join(CC + FLAGS) + "\n" + "tiny").encode()).hexdigest()
    assert got.key == full[:32] and got.compiled_now is True and calls == ["tiny"]
    assert got.source == SOURCE % 42 and got.notes == {"n": 42} and got.lib.vg_answer() == 42
    assert sorted(os.listdir(fresh)) == [f"vg_{got.key}{e}" for e in (".c", ".json", ".so")]
    so = open(os.path.join(fresh, f"vg_{got.key}.so"), "rb").read()
    assert open(os.path.join(fresh, f"vg_{got.key}.c"), "rb").read() == (SOURCE % 42).encode()
    assert _sidecar(fresh, got.key) == {
        "format": "valuegrad-c-cache", "version": 2, "key": got.key, "made_from_sha256": full,
        "source_sha256": hashlib.sha256((SOURCE % 42).encode()).hexdigest(),
        "so_sha256": hashlib.sha256(so).hexdigest(), "so_bytes": len(so),
        "compiler": CC + FLAGS, "notes": {"n": 42}}
    for name in os.listdir(fresh):  # written by mkstemp: the user's only
        assert stat.S_IMODE(os.stat(os.path.join(fresh, name)).st_mode) & 0o077 == 0
    again = _load(calls=calls)
    assert again.compiled_now is False and again.lib is got.lib and calls == ["tiny"]
    assert again.key == got.key and again.source == got.source and again.notes == {"n": 42}


@needs_cc
def test_a_verified_entry_is_loaded_from_disk_without_generating(fresh, monkeypatch):
    """Another process (an empty table of loaded libraries): the entry on disk is verified
    and loaded, with its source and notes; `find` finds it; its sidecar is touched (used)."""
    first = _load(answer=7)
    meta = os.path.join(fresh, f"vg_{first.key}.json")
    os.utime(meta, (1000.0, 1000.0))
    monkeypatch.setattr(cache, "_loaded", {})
    calls = []
    got = _load(answer=8, calls=calls)
    assert calls == [] and got.compiled_now is False and got.lib.vg_answer() == 7
    assert got.source == SOURCE % 7 and got.notes == {"n": 7} and got.key == first.key
    assert os.stat(meta).st_mtime > time.time() - 600
    monkeypatch.setattr(cache, "_loaded", {})
    found = cache.find("tiny", CC, FLAGS)
    assert found.lib.vg_answer() == 7 and found.compiled_now is False and found.notes == {"n": 7}
    assert cache.find("other", CC, FLAGS) is None
    assert not [n for n in os.listdir(fresh) if "other" in n or n.startswith(".")]
    assert len(os.listdir(fresh)) == 3


@needs_cc
@pytest.mark.parametrize("field, value", [
    ("format", "valuegrad-c-alias"), ("format", None), ("version", 1), ("version", None),
    ("key", "0" * 32), ("key", None), ("made_from_sha256", "0" * 64), ("made_from_sha256", None),
    ("so_sha256", 5), ("so_sha256", None), ("so_sha256", "0" * 64),
    ("source_sha256", 5), ("source_sha256", None), ("source_sha256", "0" * 64),
    ("notes", []), ("notes", None), ("notes", "x")])
def test_each_sidecar_field_is_checked(fresh, monkeypatch, field, value):
    """A sidecar with one field wrong (or missing: None) means a rebuild, never a load."""
    first = _load(answer=3)
    meta = _sidecar(fresh, first.key)
    if value is None:
        del meta[field]
    else:
        meta[field] = value
    with open(os.path.join(fresh, f"vg_{first.key}.json"), "w") as f:
        json.dump(meta, f)
    monkeypatch.setattr(cache, "_loaded", {})
    calls = []
    got = _load(answer=4, calls=calls)
    assert calls == ["tiny"] and got.compiled_now is True and got.lib.vg_answer() == 4


@needs_cc
@pytest.mark.parametrize("what", ["source", "notes", "json-list", "not-utf8"])
def test_source_and_notes_are_checked(fresh, monkeypatch, what):
    """The source kept beside the library must hash to the sidecar's record and decode as
    UTF-8; notes refused by `notes_ok` or a sidecar that is not a JSON object: rebuilt."""
    first = _load(answer=5)
    c_path = os.path.join(fresh, f"vg_{first.key}.c")
    meta_path = os.path.join(fresh, f"vg_{first.key}.json")
    ok = lambda n: True  # noqa: E731
    if what == "source":
        with open(c_path, "w") as f:
            f.write(SOURCE % 6)
    elif what == "notes":
        ok = lambda n: n.get("n") == 6  # noqa: E731
    elif what == "json-list":
        meta = _sidecar(fresh, first.key)
        with open(meta_path, "w") as f:
            json.dump([meta], f)
    else:
        bad = b"\xff\xfe" + (SOURCE % 5).encode()
        with open(c_path, "wb") as f:
            f.write(bad)
        meta = _sidecar(fresh, first.key)
        meta["source_sha256"] = hashlib.sha256(bad).hexdigest()
        with open(meta_path, "w") as f:
            json.dump(meta, f)
    monkeypatch.setattr(cache, "_loaded", {})
    calls = []
    got = _load(answer=6, notes_ok=ok, calls=calls)
    assert calls == ["tiny"] and got.lib.vg_answer() == 6 and got.notes == {"n": 6}


@needs_cc
def test_a_library_that_does_not_load_is_a_cache_error(fresh):
    """The compiler succeeds but its output is no shared library (here: an object file named
    .so): a CacheError saying so, not an OSError, and no folder left behind."""
    with pytest.raises(cache.CacheError) as e:
        cache.load("not-shared", CC, ["-c"], lambda: (SOURCE % 1, {}))
    assert str(e.value).startswith("compile cache: the library built for this graph does not load (")
    assert not [n for n in os.listdir(fresh) if n.startswith(".")]


@needs_cc
def test_a_failing_compiler_shows_the_end_of_its_output(fresh):
    """The message names the compiler and its exit status, then the last 2000 characters of its
    output (stdout and stderr together)."""
    src = "#error " + "x" * 3000 + "\n#error the-last-line\n"
    with pytest.raises(cache.CompileError) as e:
        cache.load("broken", CC, FLAGS, lambda: (src, {}))
    msg = str(e.value)
    head = f"C compiler {CC[0]} failed (exit "
    assert msg.startswith(head) and "):\n" in msg
    out = msg.split("):\n", 1)[1]
    assert len(out) == 2000 and "the-last-line" in out
    assert not [n for n in os.listdir(fresh) if n.startswith(".")]


def test_run_compiler_returns_status_and_both_outputs(tmp_path):
    """(returncode, stdout and stderr in order), stdin closed (a reader sees end of file)."""
    code, out = cache.run_compiler(["sh", "-c", "echo one; echo two >&2; cat; exit 5"], 30)
    assert code == 5 and out == "one\ntwo\n"
    code, out = cache.run_compiler(["sh", "-c", "printf '\\377ok'"], 30)
    assert code == 0 and out == "\ufffdok"


def test_run_compiler_timeout_message():
    with pytest.raises(cache.CompileTimeout) as e:
        cache.run_compiler(["sleep", "30"], 0.2)
    assert str(e.value) == ("C compiler sleep did not finish within 0.2 s (killed); "
                            "set VALUEGRAD_CC_TIMEOUT to allow longer")
    assert isinstance(e.value, cache.CompileError) and e.value.__suppress_context__
