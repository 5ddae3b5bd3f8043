"""Tests that kill mutants of the compile cache (autograd/compiler/cache.py), the packed dot
kernels (dot_kernels.py) and the C back end (c_backend.py): docs/mutation.md lists which."""
import hashlib
import json
import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import autograd
from autograd import Value
from autograd.compiler import c_backend, cache


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
def test_load_names_files_by_the_key_and_records_everything(fresh, monkeypatch):
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
    monkeypatch.setattr(cache, "_read_verified", None)  # served from memory: no disk read, no dlopen
    monkeypatch.setattr(cache, "_dlopen", None)
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
    monkeypatch.setattr(cache, "_loaded", {})
    assert cache.find("tiny", CC, FLAGS, notes_ok=lambda n: n == {"n": 8}) is None  # notes refused
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
@pytest.mark.parametrize("what", ["source", "notes", "json-list", "not-utf8", "garbage", "deep"])
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
    elif what == "garbage":
        with open(meta_path, "wb") as f:
            f.write(b"\x00{not json")
    elif what == "deep":
        with open(meta_path, "w") as f:
            f.write("[" * 100_000 + "]" * 100_000)
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
    r, w = os.pipe()  # the process's own stdin holds text: the compiler must not read it
    os.write(w, b"typed ahead\n")
    os.close(w)
    saved = os.dup(0)
    try:
        os.dup2(r, 0)
        code, out = cache.run_compiler(["sh", "-c", "echo one; echo two >&2; cat; exit 5"], 30)
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(r)
    assert code == 5 and out == "one\ntwo\n"
    code, out = cache.run_compiler(["sh", "-c", "printf '\\377ok'"], 30)
    assert code == 0 and out == "\ufffdok"


def test_run_compiler_timeout_message():
    with pytest.raises(cache.CompileTimeout) as e:
        cache.run_compiler(["sleep", "30"], 0.2)
    assert str(e.value) == ("C compiler sleep did not finish within 0.2 s (killed); "
                            "set VALUEGRAD_CC_TIMEOUT to allow longer")
    assert isinstance(e.value, cache.CompileError) and e.value.__suppress_context__


# -- cache.py: reading files, leftovers, the size limit, clear, the folder ----------------------

def test_read_own_file_reads_regular_private_files_only(tmp_path, monkeypatch):
    """Whole bytes (also past one read of 1 MiB), up to the limit inclusive; None for a file
    bigger than the limit, writable by group or others, a link, a folder, a FIFO (without
    blocking), missing, or another user's."""
    p = tmp_path / "f"
    data = bytes(range(256)) * 10_000  # 2.56 MB: three reads
    p.write_bytes(data)
    os.chmod(p, 0o644)
    assert cache._read_own_file(str(p), len(data)) == data
    assert cache._read_own_file(str(p), len(data) - 1) is None
    small = tmp_path / "small"
    small.write_bytes(b"abc")
    assert cache._read_own_file(str(small), 3) == b"abc"
    (tmp_path / "empty").write_bytes(b"")
    assert cache._read_own_file(str(tmp_path / "empty"), 0) == b""
    for mode in (0o620, 0o602, 0o622):
        os.chmod(small, mode)
        assert cache._read_own_file(str(small), 100) is None
    for mode in (0o755, 0o711, 0o644, 0o400):  # readable or executable by others: fine
        os.chmod(small, mode)
        assert cache._read_own_file(str(small), 100) == b"abc"
    os.chmod(small, 0o600)
    os.symlink(small, tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    import signal

    class Blocked(Exception):  # not an OSError, which _read_own_file turns into None
        pass

    def hung(signum, frame):
        raise Blocked("opening a FIFO blocked")
    old_handler = signal.signal(signal.SIGALRM, hung)  # a blocked open() would hang the test
    signal.alarm(5)
    try:
        for name in ("link", "fifo", "missing", ""):
            assert cache._read_own_file(str(tmp_path / name), 100) is None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
    real = os.getuid()
    monkeypatch.setattr(cache.os, "getuid", lambda: real + 1)
    assert cache._read_own_file(str(small), 100) is None


def test_clean_leftovers_removes_only_abandoned_builds(tmp_path):
    """Names starting .build-, .load- or .tmp, files or folders, at least ten minutes old (600 s
    exactly counts as abandoned); younger ones and every other name stay."""
    folder = str(tmp_path)
    now = 2_000_000_000.0
    names = {".build-a": 600, ".load-b": 601, ".tmpc": 10_000, ".build-young": 599,
             ".load-young": 0, "vg_k.so": 10_000, ".other": 10_000, "build-x": 10_000,
             "x.tmp": 10_000}
    for name, age in names.items():
        path = os.path.join(folder, name)
        if name.startswith((".build", ".load")):
            os.mkdir(path)
            with open(os.path.join(path, "inside"), "w") as f:
                f.write("x")
        else:
            with open(path, "w") as f:
                f.write("x")
        os.utime(path, (now - age, now - age))
    cache._clean_leftovers(folder, now=now)
    assert sorted(os.listdir(folder)) == sorted([".build-young", ".load-young", "vg_k.so", ".other",
                                                 "build-x", "x.tmp"])
    cache._clean_leftovers(str(tmp_path / "missing"), now=now)  # no folder: nothing to do
    os.utime(os.path.join(folder, ".build-young"), (time.time() - 700, time.time() - 700))
    cache._clean_leftovers(folder)  # now = the clock
    assert ".build-young" not in os.listdir(folder) and ".load-young" in os.listdir(folder)


def _entry(folder, key, sizes, mtime):
    for ext, n in zip((".so", ".json", ".c"), sizes):
        p = os.path.join(folder, f"vg_{key}{ext}")
        with open(p, "wb") as f:
            f.write(b"x" * n)
        os.utime(p, (mtime, mtime))


def test_entries_sum_an_entrys_files_and_take_its_latest_use(tmp_path):
    folder = str(tmp_path)
    _entry(folder, "a", (100, 10, 5), 1000.0)
    os.utime(os.path.join(folder, "vg_a.json"), (3000.0, 3000.0))  # the sidecar: touched on use
    _entry(folder, "b", (7, 3), 2000.0)
    _entry(folder, "c.d", (1,), 500.0)  # a dot in the key: only the extension is cut
    for other in ("vg_x.txt", "x_vg_y.so", "vg_z.so.bak", "README"):
        with open(os.path.join(folder, other), "wb") as f:
            f.write(b"x" * 50)
    _entry(folder, "epoch", (2,), 0.5)  # any time counts, even the first second of 1970
    assert cache._entries(folder) == [(0.5, 2, "epoch"), (500.0, 1, "c.d"), (2000.0, 10, "b"),
                                      (3000.0, 115, "a")]
    assert cache._entries(str(tmp_path / "missing")) == []


def test_entries_of_equal_age_are_ordered_by_size_then_key(tmp_path):
    folder = str(tmp_path)
    _entry(folder, "b", (5,), 1000.0)
    _entry(folder, "a", (9,), 1000.0)
    _entry(folder, "c", (5,), 1000.0)
    assert cache._entries(folder) == [(1000.0, 5, "b"), (1000.0, 5, "c"), (1000.0, 9, "a")]


def test_prune_stops_at_the_limit_in_megabytes(tmp_path, monkeypatch):
    """The limit is VALUEGRAD_CACHE_MAX_MB * 10**6 bytes, inclusive; the oldest entries go
    first, each with all three of its files; the entry being loaded is never deleted."""
    folder = str(tmp_path)
    _entry(folder, "old", (300_000, 100_000, 100_000), 1000.0)
    _entry(folder, "mid", (250_000, 0, 0), 2000.0)
    _entry(folder, "new", (250_000, 0, 0), 3000.0)
    monkeypatch.setenv("VALUEGRAD_CACHE_MAX_MB", "1")
    cache._prune(folder)  # 1,000,000 bytes: exactly the limit, nothing to do
    assert len(os.listdir(folder)) == 9
    with open(os.path.join(folder, "vg_new.c"), "ab") as f:
        f.write(b"x")
    os.utime(os.path.join(folder, "vg_new.c"), (3000.0, 3000.0))
    cache._prune(folder)  # one byte over: the oldest entry goes, all of it
    assert sorted(os.listdir(folder)) == ["vg_mid.c", "vg_mid.json", "vg_mid.so", "vg_new.c",
                                          "vg_new.json", "vg_new.so"]
    monkeypatch.setenv("VALUEGRAD_CACHE_MAX_MB", "0.3")
    cache._prune(folder, keep="mid")  # 'mid' is older but kept: 'new' goes
    assert sorted(os.listdir(folder)) == ["vg_mid.c", "vg_mid.json", "vg_mid.so"]
    monkeypatch.delenv("VALUEGRAD_CACHE_MAX_MB")
    _entry(folder, "big", (200_000,), 500.0)
    cache._prune(folder)  # the default, 512 MB: nothing to do
    assert len(os.listdir(folder)) == 4


def test_clear_counts_entries_and_removes_every_file_and_leftover(tmp_path, monkeypatch):
    folder = str(tmp_path / "c")
    assert cache.clear(folder) == 0  # made, private, empty
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    _entry(folder, "a", (3, 2, 1), time.time())
    _entry(folder, "b", (3,), time.time())
    os.mkdir(os.path.join(folder, ".load-x"))  # fresh: cleared anyway
    with open(os.path.join(folder, ".tmpq"), "w") as f:
        f.write("x")
    with open(os.path.join(folder, "keep.txt"), "w") as f:
        f.write("x")
    monkeypatch.setattr(cache, "_loaded", {(folder, "a"): None, ("elsewhere", "z"): None})
    assert cache.clear(folder) == 2
    assert os.listdir(folder) == ["keep.txt"] and cache._loaded == {}
    monkeypatch.setenv("VALUEGRAD_CACHE", folder)
    _entry(folder, "a", (3,), time.time())
    assert cache.clear() == 1  # the default folder: $VALUEGRAD_CACHE


def test_cache_dir_precedence(tmp_path, monkeypatch):
    """The argument, else $VALUEGRAD_CACHE, else $XDG_CACHE_HOME/valuegrad, else
    ~/.cache/valuegrad (empty variables count as unset); an absolute path either way."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "env"))
    assert cache.cache_dir("rel") == str(tmp_path / "rel")
    assert cache.cache_dir() == str(tmp_path / "env")
    monkeypatch.setenv("VALUEGRAD_CACHE", "")
    assert cache.cache_dir() == str(tmp_path / "xdg" / "valuegrad")
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert cache.cache_dir() == str(tmp_path / "home" / ".cache" / "valuegrad")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("VALUEGRAD_CACHE")
    assert cache.cache_dir() == str(tmp_path / "home" / ".cache" / "valuegrad")
    for d in ("rel", "env", "xdg/valuegrad", "home/.cache/valuegrad"):
        assert stat.S_IMODE(os.stat(tmp_path / d).st_mode) == 0o700


def test_cache_dir_messages(tmp_path, monkeypatch):
    """Each refusal names the folder, the problem and what to do."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(cache.CacheError) as e:
        cache.cache_dir(str(tmp_path / "f"))
    assert str(e.value) == (f"compile cache {tmp_path / 'f'}: cannot create it (File exists); set "
                            f"VALUEGRAD_CACHE to a private folder")
    assert e.value.__suppress_context__
    with pytest.raises(cache.CacheError) as e:
        cache._check_private(str(tmp_path / "f"), os.stat(tmp_path / "f"))
    assert str(e.value) == f"compile cache {tmp_path / 'f'} is not a folder"
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o775)
    with pytest.raises(cache.CacheError) as e:
        cache.cache_dir(str(shared))
    assert str(e.value) == (f"compile cache {shared} is writable by others (mode 0o775); refusing to "
                            f"load libraries from it. `chmod 700 {shared}` after checking its "
                            f"contents, or delete it")
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o775  # refused, not changed
    real = os.getuid()
    monkeypatch.setattr(cache.os, "getuid", lambda: real + 1)
    with pytest.raises(cache.CacheError) as e:
        cache.cache_dir(str(tmp_path / "mine"))
    assert str(e.value) == (f"compile cache {tmp_path / 'mine'} belongs to user id {real}, not to you "
                            f"({real + 1}); refusing to load libraries from it. Set VALUEGRAD_CACHE "
                            f"to a folder of your own")


@pytest.mark.parametrize("mode", [0o740, 0o704, 0o710, 0o701])
def test_a_folder_readable_by_others_is_tightened(tmp_path, mode):
    d = tmp_path / "d"
    d.mkdir()
    os.chmod(d, mode)
    assert cache.cache_dir(str(d)) == str(d)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


@needs_cc
def test_load_wraps_os_errors_naming_the_folder(fresh, monkeypatch):
    def fail(*a, **k):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(cache, "_dlopen", fail)
    with pytest.raises(cache.CacheError) as e:
        _load(made_from="io")
    assert str(e.value) == f"compile cache {fresh}: [Errno 5] Input/output error"
    assert e.value.__suppress_context__


# -- cache.py: aliases -------------------------------------------------------------------------

def test_alias_round_trip_and_its_record(fresh, monkeypatch):
    """write_alias stores the payload under sha256('alias', compiler and flags, name); read_alias
    gives it back (another name, compiler or flags: None); the record is private and touched."""
    payload = {"order": [1, 2, 3], "key": "abc"}
    made = []
    real = cache.tempfile.mkstemp
    monkeypatch.setattr(cache.tempfile, "mkstemp", lambda *a, **k: made.append(k.get("dir")) or real(*a, **k))
    cache.write_alias("model-1", ["cc"], ["-O3"], payload)
    assert len(made) == 1 and os.path.basename(made[0]).startswith(".build-")  # written in a private folder
    assert os.path.dirname(made[0]) == fresh
    h = hashlib.sha256(("alias\n" + "cc -O3" + "\n" + "model-1").encode()).hexdigest()
    path = os.path.join(fresh, f"vg_{h[:32]}.json")
    assert os.listdir(fresh) == [f"vg_{h[:32]}.json"]
    body = '{"key": "abc", "order": [1, 2, 3]}'  # sorted keys: the same payload, the same bytes
    with open(path) as f:
        assert json.load(f) == {"format": "valuegrad-c-alias", "version": 2, "key": h[:32],
                                "made_from_sha256": h, "payload": body,
                                "payload_sha256": hashlib.sha256(body.encode()).hexdigest()}
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
    os.utime(path, (1000.0, 1000.0))
    assert cache.read_alias("model-1", ["cc"], ["-O3"]) == payload
    assert os.stat(path).st_mtime > time.time() - 600
    for args in (("model-2", ["cc"], ["-O3"]), ("model-1", ["gcc"], ["-O3"]), ("model-1", ["cc"], [])):
        assert cache.read_alias(*args) is None


@pytest.mark.parametrize("field, value", [
    ("format", "valuegrad-c-cache"), ("format", None), ("version", 1), ("version", None),
    ("key", "0" * 32), ("key", None), ("made_from_sha256", "0" * 64), ("made_from_sha256", None),
    ("payload", 5), ("payload", None), ("payload_sha256", "0" * 64), ("payload_sha256", None)])
def test_each_alias_field_is_checked(fresh, field, value):
    cache.write_alias("m", ["cc"], [], {"a": 1})
    (name,) = os.listdir(fresh)
    path = os.path.join(fresh, name)
    with open(path) as f:
        meta = json.load(f)
    if value is None:
        del meta[field]
    else:
        meta[field] = value
    with open(path, "w") as f:
        json.dump(meta, f)
    assert cache.read_alias("m", ["cc"], []) is None


@pytest.mark.parametrize("text", ["[1, 2]", "{", "[" * 100_000, "\"x\""])
def test_a_damaged_alias_or_payload_is_none(fresh, text):
    """A record that is not a JSON object, or whose (hash-consistent) payload is not one: None."""
    cache.write_alias("m", ["cc"], [], {"a": 1})
    (name,) = os.listdir(fresh)
    path = os.path.join(fresh, name)
    with open(path, "w") as f:
        f.write(text)
    assert cache.read_alias("m", ["cc"], []) is None
    meta = {"format": "valuegrad-c-alias", "version": 2, "key": name[3:-5],
            "made_from_sha256": hashlib.sha256(b"alias\ncc\nm").hexdigest(), "payload": text,
            "payload_sha256": hashlib.sha256(text.encode()).hexdigest()}
    with open(path, "w") as f:
        json.dump(meta, f)
    assert cache.read_alias("m", ["cc"], []) is None


def test_alias_in_an_unusable_folder_is_ignored(tmp_path, monkeypatch):
    """Best effort: an unsafe folder is neither written nor read (no error), and a write prunes
    the folder to its limit."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("VALUEGRAD_CACHE", str(shared))
    cache.write_alias("m", ["cc"], [], {"a": 1})
    assert os.listdir(shared) == []
    assert cache.read_alias("m", ["cc"], []) is None
    folder = tmp_path / "ok"
    monkeypatch.setenv("VALUEGRAD_CACHE", str(folder))
    cache.cache_dir()
    _entry(str(folder), "old", (2_000_000,), 1000.0)
    monkeypatch.setenv("VALUEGRAD_CACHE_MAX_MB", "1")
    cache.write_alias("m", ["cc"], [], {"a": 1})
    assert len(os.listdir(folder)) == 1 and cache.read_alias("m", ["cc"], []) == {"a": 1}
    monkeypatch.setenv("VALUEGRAD_CACHE_MAX_MB", "1e-9")  # even alone over the limit: kept
    cache.write_alias("n", ["cc"], [], {"b": 2})
    assert cache.read_alias("n", ["cc"], []) == {"b": 2} and cache.read_alias("m", ["cc"], []) is None


# -- c_backend.py: the compiler, the flags, the generator's version, the parameters' order -----

def test_find_compiler_order(monkeypatch, tmp_path):
    """VALUEGRAD_CC (split as a shell would) wins; then Python's own CC, cc, gcc, clang: the
    first whose program exists; empty or missing candidates are skipped; none: CompilerNotFound
    naming what was tried."""
    fake = tmp_path / "my cc"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o700)
    monkeypatch.setenv("VALUEGRAD_CC", f"'{fake}' -O1 -g")
    assert c_backend.find_compiler() == [str(fake), "-O1", "-g"]
    monkeypatch.setenv("VALUEGRAD_CC", "")
    monkeypatch.setattr(c_backend.sysconfig, "get_config_var", lambda name: {"CC": "sh -x"}.get(name))
    assert c_backend.find_compiler() == ["sh", "-x"]
    monkeypatch.setenv("VALUEGRAD_CC", "   ")  # splits to nothing: skipped
    assert c_backend.find_compiler() == ["sh", "-x"]
    monkeypatch.setenv("VALUEGRAD_CC", "no-such-compiler-xyz -O2")
    assert c_backend.find_compiler() == ["sh", "-x"]
    found = {"gcc", "clang"}
    monkeypatch.setattr(c_backend.sysconfig, "get_config_var", lambda name: None)
    monkeypatch.setattr(c_backend.shutil, "which", lambda p: f"/bin/{p}" if p in found else None)
    assert c_backend.find_compiler() == ["gcc"]
    found = {"clang", "cc"}
    assert c_backend.find_compiler() == ["cc"]
    found = {"clang"}
    assert c_backend.find_compiler() == ["clang"]
    found = set()
    with pytest.raises(c_backend.CompilerNotFound) as e:
        c_backend.find_compiler()
    assert str(e.value) == "no C compiler found (tried VALUEGRAD_CC, sysconfig CC, cc, gcc, clang)"


def test_simd_flags_follow_the_cpu(monkeypatch):
    """-mavx2 exactly when /proc/cpuinfo's flags list avx2 (a whole word: avx512 alone is not
    it); nothing when the file cannot be read; the flag is in CFLAGS beside the IEEE flags."""
    import builtins
    import io
    real_open = builtins.open

    def fake(text):
        def opener(path, *a, **k):
            if path == "/proc/cpuinfo":
                if text is None:
                    raise OSError(2, "No such file")
                return io.StringIO(text)
            return real_open(path, *a, **k)
        return opener
    for text, want in [("processor\t: 0\nflags\t\t: fpu sse2 avx2 bmi2\n", ["-mavx2"]),
                       ("flags\t\t: fpu avx avx512f\nflags\t: avx2\n", []),
                       ("model name\t: avx2 inside\nflags\t\t: fpu\n", []),
                       ("flags\t\t: fpu sse2 avx2\n", ["-mavx2"]),
                       ("processor\t: 0\n", []), (None, [])]:
        monkeypatch.setattr(builtins, "open", fake(text))
        assert c_backend._simd_flags() == want, text
    monkeypatch.setattr(builtins, "open", real_open)
    assert c_backend.CFLAGS[:6] == ["-O3", "-shared", "-fPIC", "-fno-fast-math", "-ffp-contract=off",
                                    "-fno-trapping-math"]
    assert c_backend.CFLAGS[6:] == c_backend._simd_flags()


def test_generator_version_hashes_the_generator_and_ops(monkeypatch):
    """sha256 over the compiler package's .py files in name order, then ops.py: each as its base
    name, a NUL, its bytes, a NUL. Computed once; unreadable sources: a version of this process
    only (never equal to another's)."""
    import autograd.compiler as pkg
    here = os.path.dirname(os.path.abspath(pkg.__file__))
    files = sorted(os.path.join(here, f) for f in os.listdir(here) if f.endswith(".py"))
    files.append(os.path.join(os.path.dirname(here), "ops.py"))
    h = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            h.update(os.path.basename(path).encode() + b"\0" + f.read() + b"\0")
    monkeypatch.setattr(c_backend, "_VERSION", [])
    assert c_backend.generator_version() == h.hexdigest()
    assert c_backend._VERSION == [h.hexdigest()]
    monkeypatch.setattr(c_backend, "_VERSION", ["cached"])
    assert c_backend.generator_version() == "cached"
    import builtins
    real_open = builtins.open

    def unreadable(path, *a, **k):
        if str(path).endswith(".py"):
            raise OSError(13, "Permission denied")
        return real_open(path, *a, **k)
    versions = []
    for _ in range(2):
        monkeypatch.setattr(c_backend, "_VERSION", [])
        monkeypatch.setattr(builtins, "open", unreadable)
        versions.append(c_backend.generator_version())
        monkeypatch.setattr(builtins, "open", real_open)
        assert c_backend._VERSION == versions[-1:]
    assert versions[0] != versions[1]
    for v in versions:
        assert v.startswith(f"unversioned-{os.getpid()}-") and len(v.split("-")[-1]) == 16


@pytest.mark.parametrize("perm, runs", [
    ([], []), ([0], [[0, 1, 1]]), ([3], [[3, 1, 1]]), ([0, 1, 2, 3], [[0, 1, 4]]),
    ([5, 3, 1], [[5, -2, 3]]), ([0, 2, 1, 3], [[0, 2, 2], [1, 2, 2]]),
    ([0, 1, 2, 7, 8, 3, 4, 5, 6], [[0, 1, 3], [7, 1, 2], [3, 1, 4]]),
    ([2, 0, 1], [[2, -2, 2], [1, 1, 1]]), ([0, 1, 5, 2, 3, 4], [[0, 1, 2], [5, -3, 2], [3, 1, 2]])])
def test_runs_of_a_permutation(perm, runs):
    """[start, step, length] runs, greedy: a run's second element fixes its step."""
    assert c_backend._runs(perm) == runs
    if sorted(perm) == list(range(len(perm))):
        back = c_backend._unruns(runs, len(perm))
        assert back.dtype == np.int64 and back.tolist() == perm


@pytest.mark.parametrize("runs, n", [
    (None, 0), ({"a": 1}, 1), ("x", 1), ([[0, 1]], 1), ([[0, 1, 1, 1]], 1), ([[0, 1.0, 1]], 1),
    ([[0, 1, True]], 1), ([(0, 1, 1)], 1), ([[0, 1, 0]], 0), ([[0, 1, 0], [0, 1, 1]], 1),
    ([[0, 1, -1], [0, 1, 2]], 1), ([[0, 1, 2]], 1), ([[0, 1, 1]], 2), ([[1, 1, 2]], 2),
    ([[-1, 1, 2]], 2), ([[0, 0, 2]], 2), ([[1, -1, 2], [5, 1, 1]], 3), ([[0, 1, 1], [0, 1, 1]], 2),
    ([[0, 1, 2], [1, 1, 1]], 3)])
def test_unruns_refuses_what_is_no_permutation(runs, n):
    """A damaged cache entry's order: None (then rebuilt), never an exception or a wrong order."""
    assert c_backend._unruns(runs, n) is None


def test_unruns_of_nothing():
    assert c_backend._unruns([], 0).tolist() == []
    assert c_backend._unruns([], 0).dtype == np.int64
    assert c_backend._unruns([[1, -1, 2]], 2).tolist() == [1, 0]


# -- c_backend.py: straight-line C against the eager engine, bit for bit -----------------------

XB = np.array([0.5, -1.0, 2.0, 3.5, -0.25, 0.0, -0.0])  # an odd batch with both zeros


class _bits:
    """A number or batch compared as the README promises: equal to the last bit, NaN where NaN
    (+0.0 and -0.0 equal: the sign of an all-zero gradient is the generated code's own)."""
    def __init__(self, a):
        self.a = np.asarray(a, dtype=np.float64)

    def __eq__(self, other):
        return self.a.shape == other.a.shape and bool(np.array_equal(self.a, other.a, equal_nan=True))

    def __repr__(self):
        return repr(self.a.tolist())


def _c_vs_eager(f, params, *args, calls=2):
    """f compiled to C (straight-line code, not the layered kernels) and run `calls` times,
    then eagerly: the same output and gradients to the bit (the sign of zero too)."""
    prog = autograd.compile(f, *args, backend="c")
    (p,) = prog.programs.values()
    assert p.backend == "c" and "vg_dot_fwd" not in p.source

    def rerun():
        raise AssertionError("a finite call was run again through the eager rules")
    p.numpy_run = rerun  # every number here is finite: C's own numbers, its result read as such
    for q in params:
        q.grad = 0.0
    o = f(*[Value(a) for a in args])
    o.backward()
    want = [_bits(o.data)] + [_bits(q.grad) for q in params]
    for _ in range(calls):  # again: the static arrays start from zero every call
        for q in params:
            q.grad = 0.0
        out = prog(*args)
        assert [_bits(out)] + [_bits(q.grad) for q in params] == want
    assert _bits(prog(*args, grad=False)) == want[0]
    for q in params:
        q.grad = 0.0
    return p.source


@pytest.mark.usefixtures("private_cache")
def test_c_scalar_and_batched_parents_get_their_gradients():
    """Scalar parameters meeting a batch (a running sum per parameter, added once), a batched
    parameter (element by element), a scalar-only branch (added outside the loop), a batch_sum
    and a scalar root."""
    w, b, c = Value(0.7), Value(-0.3), Value(1.25)
    v = Value(np.array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6, -0.7]))
    f = lambda x: ((w * x + v).relu() * (b * c) + (x * v).exp() * w).sum() * (c * c + b)  # noqa: E731
    _c_vs_eager(f, [w, b, c, v], XB)
    g = lambda x: (w * b - c).exp() * c  # noqa: E731  (no batch at all)
    _c_vs_eager(g, [w, b, c], 0.3)


@pytest.mark.usefixtures("private_cache")
def test_c_nary_nodes_with_mixed_inputs():
    """n-ary nodes (sum, dot, logsumexp, max_detached) whose inputs mix batches and scalars (a
    table of strides), whose blocks are all scalars (the weights' sums per example, added once),
    or all batches; their forward folds keep each example's left-to-right order."""
    w, b, c = Value(0.7), Value(-0.3), Value(1.25)
    v = Value(np.array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6, -0.7]))
    cases = [
        lambda x: autograd.logsumexp([w * x, b * x, w + b, v]).sum(),
        lambda x: autograd.dot([w, b, x], [x, x * c, w]).sum(),
        lambda x: autograd.dot([w, b, c], [x, x * x, v]).sum(),
        lambda x: (autograd.max_detached([w * x, b * x, w, c]) * w + autograd.sum([w * x, b, x * x, v])).sum(),
        lambda x: autograd.sum([w, b, c]) * autograd.dot([w, b], [c, b]) + autograd.logsumexp([w, c]),
    ]
    for f in cases:
        _c_vs_eager(f, [w, b, c, v], XB)


@pytest.mark.usefixtures("private_cache")
def test_c_batched_output_without_gradient():
    """A batched root comes back element by element (grad=False), as the eager values."""
    w, b = Value(0.7), Value(-0.3)
    prog = autograd.compile(lambda x: (w * x + b).relu() * x, XB, backend="c")
    out = prog(XB, grad=False)
    want = ((w * Value(XB) + b).relu() * Value(XB)).data
    assert _bits(out) == _bits(want)


# -- cache.py: durable, atomic writes and the load from a private copy -------------------------

@needs_cc
def test_every_file_and_the_folder_are_synced_before_use(fresh, monkeypatch):
    """Each file is flushed and fsync'ed whole under a temporary name in a private build folder
    (made with the .build- prefix that leftover cleaning knows), then renamed into place; the
    cache folder itself is fsync'ed after the renames."""
    synced, made = [], []
    real_fsync, real_mkdtemp = os.fsync, cache.tempfile.mkdtemp

    def fsync(fd):
        st = os.fstat(fd)
        synced.append((st.st_ino, st.st_size, stat.S_ISDIR(st.st_mode)))
        return real_fsync(fd)

    def mkdtemp(*a, **k):
        made.append((k.get("dir"), k.get("prefix")))
        return real_mkdtemp(*a, **k)
    monkeypatch.setattr(cache.os, "fsync", fsync)
    monkeypatch.setattr(cache.tempfile, "mkdtemp", mkdtemp)
    temps, real_mkstemp = [], cache.tempfile.mkstemp
    monkeypatch.setattr(cache.tempfile, "mkstemp", lambda *a, **k: temps.append(k.get("dir")) or real_mkstemp(*a, **k))
    got = _load(made_from="durable")
    assert len(temps) == 3 and len(set(temps)) == 1 and os.path.dirname(temps[0]) == fresh
    assert os.path.basename(temps[0]).startswith(".build-")  # the build folder, not /tmp
    files = [os.stat(os.path.join(fresh, f"vg_{got.key}{e}")) for e in (".so", ".c", ".json")]
    folder = os.stat(fresh)
    assert synced == [(s.st_ino, s.st_size, False) for s in files] + [(folder.st_ino, folder.st_size, True)]
    assert made == [(fresh, ".build-"), (fresh, ".load-")]
    synced.clear()
    made.clear()
    cache.write_alias("durable", CC, FLAGS, {"a": 1})
    (alias,) = [n for n in os.listdir(fresh) if n.endswith(".json") and got.key not in n]
    st = os.stat(os.path.join(fresh, alias))
    assert synced == [(st.st_ino, st.st_size, False)] and made == [(fresh, ".build-")]
    assert not [n for n in os.listdir(fresh) if n.startswith(".")]


def test_fsync_dir_of_a_missing_folder_does_nothing(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cache.os, "fsync", lambda fd: calls.append(fd))
    cache._fsync_dir(str(tmp_path / "missing"))
    assert calls == []
    cache._fsync_dir(str(tmp_path))
    assert len(calls) == 1

    def failing(fd):
        raise OSError(22, "Invalid argument")
    monkeypatch.setattr(cache.os, "fsync", failing)
    cache._fsync_dir(str(tmp_path))  # a file system that cannot sync folders: ignored


@needs_cc
def test_the_loaded_library_is_a_private_copy_of_the_checked_bytes(fresh, monkeypatch):
    """The bytes read and hashed are written to a new file (mode 0700, named vg_<key>.so in a
    fresh .load- folder of the cache) and that file is loaded; the folder is removed after."""
    seen = []
    real = cache.ctypes.CDLL

    def cdll(path, *a, **k):
        st = os.stat(path)
        with open(path, "rb") as f:
            seen.append((path, stat.S_IMODE(st.st_mode), f.read()))
        return real(path, *a, **k)
    monkeypatch.setattr(cache.ctypes, "CDLL", cdll)
    got = _load(made_from="copy")
    with open(os.path.join(fresh, f"vg_{got.key}.so"), "rb") as f:
        data = f.read()
    ((path, mode, loaded),) = seen
    assert loaded == data and mode == 0o700
    assert os.path.basename(path) == f"vg_{got.key}.so"
    parent = os.path.dirname(path)
    assert os.path.dirname(parent) == fresh and os.path.basename(parent).startswith(".load-")
    assert not os.path.exists(parent)


@pytest.mark.usefixtures("private_cache")
def test_c_without_arguments_or_without_parameters():
    """No arguments (the input buffer is a placeholder), no parameters, only batched
    parameters, two batched parameters of different lengths after a scalar one."""
    w, c = Value(0.7), Value(-1.5)
    v = Value(np.array([1.0, 2.0, -3.0, 0.5, 0.25, -0.125, 4.0]))
    u = Value(np.array([0.5, -2.0, 1.5]))
    _c_vs_eager(lambda: (w * w - c).exp() * c, [w, c])
    _c_vs_eager(lambda x: (x * x).exp() - x, [], 0.5)
    cache._loaded.clear()  # the same program from disk: no parameters to put in order
    _c_vs_eager(lambda x: (x * x).exp() - x, [], 0.5)
    _c_vs_eager(lambda x: (v * x).relu().sum(), [v], XB)
    f = lambda x, y: (v * x * w).sum() * (u * y + c).sum() + w * c  # noqa: E731
    _c_vs_eager(f, [w, c, v, u], XB, np.array([1.0, -1.0, 2.0]))
    cache._loaded.clear()  # from disk: the parameters' order (the identity here) from the notes
    _c_vs_eager(f, [w, c, v, u], XB, np.array([1.0, -1.0, 2.0]))


@pytest.mark.usefixtures("private_cache")
def test_c_guards_on_a_batch_and_a_scalar():
    """Branches on a batched value and on a scalar: the values the guards read are copied out
    one after the other (a batch, then a number); each call takes the branch eager would, and
    traces again exactly when a branch differs from the last call's."""
    w = Value(0.5)

    def f(x, y):
        u = w * x
        a = u.sum() if (u > 0).all() else (u * u).sum()
        s = w * y
        return a + (s.exp() if s > 0.25 else s * 3.0)
    x0 = np.array([1.0, 2.0, 3.0])
    prog = autograd.compile(f, x0, 1.0, backend="c")
    calls = [(x0, 1.0, 1), (x0, 0.1, 2), (x0 * -1, 0.1, 3), (x0 * 2, 0.2, 4), (x0 * 3, 0.3, 4), (x0, 2.0, 5),
             (-x0, 4.0, 6), (-x0 * 2, 0.0, 7), (-x0 * 3, 0.1, 7)]
    for x, y, traces in calls:
        got = prog(x, y, grad=False)
        assert got == f(Value(x), Value(y)).data
        assert prog.traces == traces, (x, y)


@pytest.mark.usefixtures("private_cache")
def test_c_operations_with_constants_and_the_batch_mean():
    """Operations carrying a constant (pow's exponent, leaky_relu's slope, clamp's two bounds)
    in C, bit for bit, and the mean over a batch (C: a sum in order times 1/n, eager: numpy's
    mean) to 1e-15, and of a batch of one."""
    w, b = Value(0.7), Value(-0.3)
    _c_vs_eager(lambda x: ((w * x) ** 3 + (b * x).leaky_relu(0.125) + (x * w).clamp(-0.5, 0.75)).sum(),
                [w, b], XB)
    _c_vs_eager(lambda x: ((w * x) ** 2).mean() * b, [w, b], np.array([1.5]))
    for x in (XB, XB[:3] * 3.0):
        prog = autograd.compile(lambda x: ((w * x).relu() + b).mean(), x, backend="c")
        w.grad = b.grad = 0.0
        got = prog(x)
        gw, gb = w.grad, b.grad
        w.grad = b.grad = 0.0
        want = ((w * Value(x)).relu() + b).mean()
        want.backward()
        assert got == pytest.approx(want.data, rel=1e-15, abs=0)
        assert (gw, gb) == pytest.approx((w.grad, b.grad), rel=1e-15, abs=0)
        w.grad = b.grad = 0.0


def test_a_file_vanishing_while_listing_is_skipped(tmp_path, monkeypatch):
    """Another process may delete a file between listdir and lstat: that name is skipped, the
    names after it are still counted (entries) or cleaned (leftovers)."""
    folder = str(tmp_path)
    _entry(folder, "a", (5,), 1000.0)
    _entry(folder, "b", (7,), 2000.0)
    for name in (".build-x", ".build-y"):
        os.mkdir(os.path.join(folder, name))
        os.utime(os.path.join(folder, name), (1000.0, 1000.0))
    real_lstat = os.lstat

    def lstat(path, *a, **k):
        if os.path.basename(path) in ("vg_gone.so", ".build-gone"):
            raise FileNotFoundError(2, "No such file or directory")
        return real_lstat(path, *a, **k)
    monkeypatch.setattr(cache.os, "lstat", lstat)
    monkeypatch.setattr(cache.os, "listdir", lambda d: ["vg_a.so", "vg_gone.so", "vg_b.so"])
    assert cache._entries(folder) == [(1000.0, 5, "a"), (2000.0, 7, "b")]
    monkeypatch.setattr(cache.os, "listdir", lambda d: [".build-x", ".build-gone", ".build-y"])
    cache._clean_leftovers(folder, now=5000.0)
    stale = real_lstat(os.path.join(folder, "vg_a.so"))  # an old stat, for a folder removed since
    monkeypatch.setattr(cache.os, "lstat", lambda path: stale if path.endswith("-race") else real_lstat(path))
    monkeypatch.setattr(cache.stat, "S_ISDIR", lambda mode: True)
    monkeypatch.setattr(cache.os, "listdir", lambda d: [".build-race"])
    cache._clean_leftovers(folder, now=5000.0)  # removed by another process meanwhile: no error
    monkeypatch.undo()
    assert sorted(os.listdir(folder)) == ["vg_a.so", "vg_b.so"]


@needs_cc
def test_the_compiler_runs_with_the_timeout_and_the_command_line(fresh, monkeypatch):
    """The compiler gets VALUEGRAD_CC_TIMEOUT seconds (120 when unset), and the command line
    cc + flags + -o <library> <source> -lm, both in the private build folder."""
    seen = []
    real = cache.run_compiler

    def run(argv, timeout):
        seen.append((argv, timeout))
        return real(argv, timeout)
    monkeypatch.setattr(cache, "run_compiler", run)
    monkeypatch.delenv("VALUEGRAD_CC_TIMEOUT", raising=False)
    _load(made_from="t1")
    monkeypatch.setenv("VALUEGRAD_CC_TIMEOUT", "2.5")
    _load(made_from="t2")
    assert [t for _, t in seen] == [120.0, 2.5]
    argv = seen[0][0]
    assert argv[:len(CC + FLAGS)] == CC + FLAGS and argv[-1] == "-lm" and argv[-4] == "-o"
    lib, src = argv[-3], argv[-2]
    assert os.path.basename(lib) == "graph.so" and os.path.basename(src) == "graph.c"
    assert os.path.dirname(lib) == os.path.dirname(src)
    assert os.path.basename(os.path.dirname(lib)).startswith(".build-")
    assert os.path.dirname(os.path.dirname(lib)) == fresh


@needs_cc
def test_a_build_cleans_its_folders_leftovers_and_keeps_its_own_entry(fresh, monkeypatch, tmp_path):
    """Compiling removes stale leftovers of the cache folder (not of the working directory) and
    prunes the folder to its limit, never the entry just built."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for d in (os.path.join(fresh, ".build-old"), str(work / ".build-old")):
        os.mkdir(d)
        os.utime(d, (1000.0, 1000.0))
    _entry(fresh, "older", (100,), 1000.0)
    monkeypatch.setenv("VALUEGRAD_CACHE_MAX_MB", "1e-9")  # the new entry alone is over the limit
    got = _load(made_from="kept")
    assert sorted(os.listdir(fresh)) == [f"vg_{got.key}{e}" for e in (".c", ".json", ".so")]
    assert os.listdir(work) == [".build-old"]


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def test_run_compiler_runs_in_its_own_session_and_a_timeout_kills_its_children(tmp_path):
    """The compiler leads a session of its own (a terminal's Ctrl-C is ours to handle), so that
    a timeout kills its whole process group: the compiler's own children too."""
    code, out = cache.run_compiler([sys.executable, "-c", "import os; print(os.getsid(0), os.getpgid(0), os.getpid())"], 30)
    sid, pgid, pid = map(int, out.split())
    assert code == 0 and sid == pgid == pid != os.getsid(0)
    pid_file = tmp_path / "pid"
    with pytest.raises(cache.CompileTimeout):
        cache.run_compiler(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], 0.5)
    time.sleep(0.2)
    assert _gone(int(pid_file.read_text()))


def test_an_interrupt_while_compiling_kills_the_compiler(tmp_path, monkeypatch):
    """Ctrl-C (any exception) while waiting for the compiler: the compiler's group is killed,
    then the exception goes on."""
    started = []

    class Popen(subprocess.Popen):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            started.append(self)

        def wait(self, timeout=None):
            if timeout is not None and started[0] is self and not hasattr(self, "_interrupted"):
                self._interrupted = True
                time.sleep(0.3)
                raise KeyboardInterrupt
            return super().wait(timeout)
    monkeypatch.setattr(cache.subprocess, "Popen", Popen)
    pid_file = tmp_path / "pid"
    with pytest.raises(KeyboardInterrupt):
        cache.run_compiler(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], 30)
    time.sleep(0.2)
    assert started[0].returncode is not None and _gone(int(pid_file.read_text()))


def test_read_own_file_stops_at_the_limit_while_reading(tmp_path, monkeypatch):
    """A file that grows past the limit after its size was checked: the bytes read are counted
    too (None past the limit, over several reads), so a writer cannot feed it without bound."""
    p = tmp_path / "growing"
    p.write_bytes(b"y" * 2_500_000)
    os.chmod(p, 0o600)
    real_fstat = os.fstat

    def fstat(fd):  # the size it had when checked
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 100,
                               st.st_atime, st.st_mtime, st.st_ctime))
    monkeypatch.setattr(cache.os, "fstat", fstat)
    assert cache._read_own_file(str(p), 2_000_000) is None
    assert cache._read_own_file(str(p), 2_500_000) == b"y" * 2_500_000


@pytest.mark.parametrize("umask", [0o002, 0o000])
def test_a_new_cache_folder_is_private_whatever_the_umask(tmp_path, umask):
    """Created 0700 (not by the umask: under umask 002 a folder made 0775 would be refused as
    writable by others)."""
    old = os.umask(umask)
    try:
        d = cache.cache_dir(str(tmp_path / "new"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o500, 0o700, 0o300])
def test_a_private_folder_keeps_its_mode(tmp_path, mode):
    """Only a folder others can read or enter is changed (to 0700); a private one keeps the
    user's own mode (a read-only cache stays read-only)."""
    d = tmp_path / "mine"
    d.mkdir()
    os.chmod(d, mode)
    try:
        assert cache.cache_dir(str(d)) == str(d)
        assert stat.S_IMODE(os.stat(d).st_mode) == mode
    finally:
        os.chmod(d, 0o700)


def _loops_stay_inside(source):
    """Every `for (int i = 0; i < N; i++) NAME[...i...]` over a static array of the source runs
    inside its declared size (C would silently write into the next array)."""
    import re
    sizes = {m.group(1): int(m.group(2)) for m in re.finditer(r"static double (\w+)\[(\d+)\];", source)}
    for m in re.finditer(r"for \(int ([ik]) = 0; \1 < (\d+); \1\+\+\) (\w+)\[\1\]", source):
        if m.group(3) in sizes:
            assert int(m.group(2)) <= sizes[m.group(3)], m.group(0)
    assert "SCRATCH + " not in source  # gradients nobody wants go to its start (it holds a batch)


@pytest.mark.usefixtures("private_cache")
def test_c_scratch_arrays_hold_the_largest_fold_and_single_input_nodes():
    """A batched n-ary node then a scalar one share scratch arrays sized for the batch; n-ary
    nodes of one input; a weight in an all-scalar block that also gets gradient elsewhere
    (added after its own sum over the examples, as eager)."""
    w, b, c = Value(0.7), Value(-0.3), Value(1.25)
    v = Value(np.array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6, -0.7]))
    cases = [
        lambda x: autograd.logsumexp([autograd.logsumexp([w * x, b * x, v]).sum() * 0.1, w, c]),
        lambda x: autograd.dot([w], [x]).sum() + autograd.logsumexp([w * x]).sum() * autograd.sum([c]),
        lambda x: autograd.dot([w, b, c], [x * 0.37, x * x, v]).sum() + (w * x * 3.3e15).sum() + (c * x).sum(),
        lambda x: (w * x * 3.3e15).sum() + autograd.dot([w, b, c], [x * 0.25, x * x, v]).sum(),
        lambda x: autograd.dot([w, x], [x * 1.1, c]).sum() + autograd.dot([x, b], [v, x]).sum(),
    ]
    for f in cases:
        _loops_stay_inside(_c_vs_eager(f, [w, b, c, v], XB))


def test_unruns_does_bounded_work_on_a_damaged_order(monkeypatch):
    """Runs adding up to more than n are refused as soon as they do, before building them."""
    built = []
    real = np.arange
    monkeypatch.setattr(np, "arange", lambda n, *a, **k: built.append(n) or real(n, *a, **k))
    assert c_backend._unruns([[0, 1, 3]] * 1000, 3) is None
    assert sum(built) <= 3
    built.clear()
    assert c_backend._unruns([[0, 1, 2], [2, 1, 2]], 3) is None and built == [2]


@pytest.mark.usefixtures("private_cache")
def test_c_arguments_after_a_scalar_argument_and_blocks_without_gradient():
    """A scalar argument takes one slot of the input buffer (the batch after it is read from the
    next); a dot whose first block (data) wants no gradient still gives the second its own."""
    w, c = Value(0.7), Value(1.25)
    y = np.array([1.5, -2.0, 0.25])
    _c_vs_eager(lambda a, y: (w * a + y * c).relu().sum() * a, [w, c], 0.5, y)
    _c_vs_eager(lambda a, b, y: (w * a * b + y * c).sum(), [w, c], 0.5, -3.0, y)
    _c_vs_eager(lambda x: autograd.dot([x, x * x], [w, c]).sum(), [w, c], XB)


@pytest.mark.usefixtures("private_cache")
def test_c_guards_a_number_a_batch_and_a_number():
    """Three guarded values, a number, a batch, a number: each read at its own place."""
    w = Value(0.5)

    def f(x, y):
        s = w * y
        a = s * 2.0 if s > 0.25 else s * 3.0
        u = w * x
        b = u.sum() if (u > 0).all() else (u * u).sum()
        return a + b + (s.exp() if s * 4.0 > 3.0 else s)
    x0 = np.array([1.0, 2.0, 3.0])
    prog = autograd.compile(f, x0, 1.0, backend="c")
    calls = [(x0, 1.0, 1), (x0, 1.0, 1), (x0, 2.0, 2), (x0, 0.1, 3), (-x0, 0.1, 4), (-x0, 0.2, 4),
             (x0, 0.2, 5), (x0, 1.0, 6), (x0, 1.2, 6)]
    for x, y, traces in calls:
        assert prog(x, y, grad=False) == f(Value(x), Value(y)).data
        assert prog.traces == traces, (x, y)


@pytest.mark.usefixtures("private_cache")
def test_c_sum_and_mean_of_a_number():
    """sum() and mean() of a scalar node (no batch): the number itself."""
    w = Value(0.7)
    _c_vs_eager(lambda x: (w * x).sum() * 3.0 + (w * x).exp().mean(), [w], 0.3)


@pytest.mark.usefixtures("private_cache")
def test_c_layered_program_loaded_from_disk_gives_the_same_bits(monkeypatch):
    """A layered program (its parameters in the generator's own order) found on disk by a new
    process (an empty table of loaded libraries, a new CompiledFunction): no C generated, the
    parameters' order comes back from the cache's notes, the same bits as eager."""
    import nn
    model = nn.MLP(3, [8, 7, 1], seed=1)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(13, 3))
    y = np.where(rng.random(13) < 0.5, -1.0, 1.0)
    f = lambda X, y: nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters(), 1e-3)  # noqa: E731
    params = model.parameters()
    for p in params:
        p.grad = 0.0
    out = f([Value(c) for c in X.T], Value(y))
    out.backward()
    want = [_bits(out.data)] + [_bits(p.grad) for p in params]
    for compiled_now in (True, False):
        monkeypatch.setattr(cache, "_loaded", {})
        prog = autograd.compile(f, X, y, backend="c")
        (p,) = prog.programs.values()
        assert p.compiled_now is compiled_now
        for _ in range(2):
            for q in params:
                q.grad = 0.0
            got = prog(X, y)
            assert [_bits(got)] + [_bits(q.grad) for q in params] == want
    for q in params:
        q.grad = 0.0


@pytest.mark.usefixtures("private_cache")
def test_c_non_finite_values_rerun_through_the_eager_rules():
    """A NaN or inf among the values (also one the output never sees) or the gradients: the
    call is run again through the eager rules, which raise their own error or give eager's
    numbers; the program still works after."""
    w = Value(1.5)
    prog = autograd.compile(lambda x: (w * x).log().relu() + w, 2.0, backend="c")
    with pytest.raises(ValueError) as want:
        ((w * Value(-1.0)).log().relu() + w).backward()
    with pytest.raises(ValueError) as got:
        prog(-1.0)
    assert str(got.value) == str(want.value)
    with pytest.raises(ValueError):
        prog(-1.0, grad=False)
    w.grad = 0.0
    assert prog(2.0) == (w * 2.0).log().relu().data + 1.5 and w.grad == pytest.approx(1 / 1.5 + 1, rel=1e-15)
    w.grad = 0.0
    prog = autograd.compile(lambda x: (w * x).sqrt() * 2.0, 2.0, backend="c")
    with np.errstate(all="ignore"):
        got = prog(0.0)
        g = w.grad
        w.grad = 0.0
        e = (w * Value(0.0)).sqrt() * 2.0
        e.backward()
    assert got == e.data and _bits(g) == _bits(w.grad)
    w.grad = 0.0


@pytest.mark.usefixtures("private_cache")
@pytest.mark.parametrize("order", [None, [[0, 1, 1000]], [[0, 0, 2]], "x"])
def test_c_a_damaged_parameter_order_means_a_rebuild(monkeypatch, private_cache, order):
    """The parameters' order kept in a library's notes is checked before the library is used:
    a damaged one means a rebuild (never an exception, never a wrong number)."""
    w, b = Value(0.7), Value(-0.3)
    f = lambda x: ((w * x).exp() + b).sum()  # noqa: E731
    _c_vs_eager(f, [w, b], XB)
    (meta,) = [p for p in private_cache.iterdir() if p.suffix == ".json"]
    m = json.loads(meta.read_text())
    m["notes"]["param_order"] = order
    meta.write_text(json.dumps(m))
    monkeypatch.setattr(cache, "_loaded", {})
    prog = autograd.compile(f, XB, backend="c")
    (p,) = prog.programs.values()
    assert p.compiled_now is True
    _c_vs_eager(f, [w, b], XB)


@pytest.mark.usefixtures("private_cache")
def test_c_integer_arguments_are_converted():
    """Integer arguments (an int array, a Python int) reach C as doubles."""
    w = Value(0.7)
    prog = autograd.compile(lambda x, a: (w * x).sum() * a, np.array([1.0, 2.0, 3.0]), 2.0, backend="c")
    w.grad = 0.0
    assert prog(np.array([1, 2, 4]), 3) == ((w * Value(np.array([1.0, 2.0, 4.0]))).sum() * 3.0).data
    assert w.grad == 21.0
    w.grad = 0.0
