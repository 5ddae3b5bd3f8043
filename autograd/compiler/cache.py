"""The on-disk cache of compiled C libraries: private, verified, bounded.

A library is looked up by a key: sha256 of the compiler, its flags and what the C source is
made from (the trace's own hash and the code generator's version; see c_backend.build), so
that a hit needs no code generation. What sits on disk is never trusted by its name alone:

- the folder must be the user's own and writable by nobody else (0700 when created here);
  otherwise `CacheError` (under backend 'auto' the caller falls back to numpy);
- each ``vg_<key>.so`` has a sidecar ``vg_<key>.json`` written at build time with the
  sha256 of the library's bytes, of the C source it came from (kept beside it as
  ``vg_<key>.c``) and of what the key was made from, and the generator's notes (e.g. the
  parameters' order). Before loading, the source's and the library's bytes are read,
  hashed and compared; the very bytes that were hashed are then loaded (from a fresh
  private copy), so nothing can be swapped between the check and the load. A missing,
  damaged, truncated, foreign or mismatched entry is rebuilt, never loaded;
- files are written to a temporary name, fsync'ed, then renamed into place;
- the compiler runs under a time limit (``VALUEGRAD_CC_TIMEOUT`` seconds, default 120);
- leftovers of interrupted builds older than ten minutes are removed, and the folder is
  kept under ``VALUEGRAD_CACHE_MAX_MB`` (default 512) by deleting the least recently used
  entries.

    >>> import os, tempfile
    >>> folder = cache_dir(os.path.join(tempfile.mkdtemp(), "cache"))  # default: see cache_dir
    >>> oct(os.stat(folder).st_mode & 0o777)
    '0o700'
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections import namedtuple

__all__ = ["CacheError", "CompileError", "CompileTimeout", "cache_dir", "load", "find", "read_alias",
           "write_alias", "clear"]

FORMAT = "valuegrad-c-cache"
ALIAS_FORMAT = "valuegrad-c-alias"  # a caller's own name for a library, without tracing (see write_alias)
VERSION = 2                  # 2: keyed by what the source is made from; the source kept beside
STALE_SECONDS = 600          # a build folder or temporary file older than this was abandoned
MAX_LIBRARY_BYTES = 1 << 30  # a library bigger than this is not ours
MAX_SIDECAR_BYTES = 1 << 26   # the notes hold the parameters order (runs: a few for nn models)
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_MB = 512.0


class CacheError(RuntimeError):
    """The cache folder is unsafe or unusable (the message says why and where)."""


class CompileError(RuntimeError):
    """The C compiler failed or ran out of time."""


class CompileTimeout(CompileError):
    pass


Loaded = namedtuple("Loaded", "lib key compiled_now source notes")

_loaded = {}                 # (folder, key) -> (CDLL, source, notes): loaded once per process
_lock = threading.Lock()


def cache_dir(path=None):
    """The cache folder: `path`, else $VALUEGRAD_CACHE, else $XDG_CACHE_HOME/valuegrad, else
    ~/.cache/valuegrad; created 0700 and checked to be private (`CacheError` if not)."""
    d = path or os.environ.get("VALUEGRAD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "valuegrad")
    d = os.path.abspath(d)
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.stat(d)
    except OSError as e:
        raise CacheError(f"compile cache {d}: cannot create it ({e.strerror}); set VALUEGRAD_CACHE "
                         f"to a private folder") from None
    _check_private(d, st)
    return d


def _check_private(d, st):
    if not stat.S_ISDIR(st.st_mode):
        raise CacheError(f"compile cache {d} is not a folder")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise CacheError(f"compile cache {d} belongs to user id {st.st_uid}, not to you "
                         f"({os.getuid()}); refusing to load libraries from it. Set VALUEGRAD_CACHE "
                         f"to a folder of your own")
    if st.st_mode & 0o022:
        raise CacheError(f"compile cache {d} is writable by others (mode {oct(st.st_mode & 0o777)}); "
                         f"refusing to load libraries from it. `chmod 700 {d}` after checking its "
                         f"contents, or delete it")
    if st.st_mode & 0o077 and hasattr(os, "getuid"):
        os.chmod(d, 0o700)  # readable by others (an older valuegrad honoured the umask): tighten


def _env_number(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        x = float(raw)
    except ValueError:
        x = float("nan")
    if not x > 0 or x == float("inf"):
        raise ValueError(f"{name} must be a positive number, got {raw!r}")
    return x


def load(made_from, cc, flags, generate, notes_ok=lambda notes: True):
    """The loaded library for the C source that `generate()` would return, found by
    `made_from` (a string naming exactly what the source is made from): from the cache when
    a verified entry exists (then `generate` is not called), else generated, compiled and
    cached. `generate()` returns (source, notes), notes a small JSON-able dict kept in the
    sidecar and handed back on every hit (an entry whose notes fail `notes_ok` is rebuilt).
    Returns Loaded(lib, key, compiled_now, source, notes)."""
    key_hash = hashlib.sha256((" ".join(list(cc) + list(flags)) + "\n" + made_from).encode()).hexdigest()
    key = key_hash[:32]
    folder = cache_dir()
    with _lock:
        hit = _loaded.get((folder, key))
    if hit is not None:
        return Loaded(hit[0], key, False, hit[1], hit[2])
    try:
        found = _read_verified(folder, key, key_hash, notes_ok)
        compiled_now = found is None
        if compiled_now:
            source, notes = generate()
            _clean_leftovers(folder)
            data = _compile(folder, key, key_hash, source, notes, cc, flags)
            _prune(folder, keep=key)
        else:
            data, source, notes = found
        lib = _dlopen(data, key, folder)
    except OSError as e:  # a full disk, a read-only folder: a RuntimeError, so 'auto' falls back
        raise CacheError(f"compile cache {folder}: {e}") from None
    with _lock:
        lib, source, notes = _loaded.setdefault((folder, key), (lib, source, notes))
    return Loaded(lib, key, compiled_now, source, notes)


def find(made_from, cc, flags, notes_ok=lambda notes: True):
    """`load` when the library is already built (in this process or verified on disk), else
    None: nothing is generated or compiled."""
    def missing():
        raise _Missing
    try:
        return load(made_from, cc, flags, missing, notes_ok)
    except _Missing:
        return None


class _Missing(Exception):
    pass


def _alias_key(name, cc, flags):
    h = hashlib.sha256(("alias\n" + " ".join(list(cc) + list(flags)) + "\n" + name).encode()).hexdigest()
    return h[:32], h


def write_alias(name, cc, flags, payload):
    """Remember `payload` (a small JSON-able dict: which library, and how to call it) under
    `name`, a caller's text naming exactly what that library was made from (nn.fit: the
    model's architecture, the loss, the shapes, the sources' versions), so that another
    process finds the library without tracing. Stored as ``vg_<key>.json`` beside the
    libraries: private, written atomically, its bytes hashed, pruned and cleared with them.
    Best effort: a folder that cannot be written is left alone."""
    key, key_hash = _alias_key(name, cc, flags)
    body = json.dumps(payload, sort_keys=True)
    meta = {"format": ALIAS_FORMAT, "version": VERSION, "key": key, "made_from_sha256": key_hash,
            "payload": body, "payload_sha256": hashlib.sha256(body.encode()).hexdigest()}
    try:
        folder = cache_dir()
        tmp = tempfile.mkdtemp(dir=folder, prefix=".build-")
        try:
            _write(tmp, _paths(folder, key)[1], json.dumps(meta).encode())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _prune(folder, keep=key)
    except (OSError, CacheError):
        pass


def read_alias(name, cc, flags):
    """The payload `write_alias` stored under `name`, or None (missing, foreign, damaged)."""
    key, key_hash = _alias_key(name, cc, flags)
    try:
        folder = cache_dir()
    except CacheError:
        return None
    path = _paths(folder, key)[1]
    raw = _read_own_file(path, MAX_SIDECAR_BYTES)
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
        if not (isinstance(meta, dict) and meta.get("format") == ALIAS_FORMAT and meta.get("version") == VERSION
                and meta.get("key") == key and meta.get("made_from_sha256") == key_hash
                and isinstance(meta.get("payload"), str)
                and hashlib.sha256(meta["payload"].encode()).hexdigest() == meta.get("payload_sha256")):
            return None
        payload = json.loads(meta["payload"])
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    try:
        os.utime(path)  # recently used: pruned last
    except OSError:
        pass
    return payload


def _paths(folder, key):
    """The library, its sidecar and its C source."""
    return tuple(os.path.join(folder, f"vg_{key}{ext}") for ext in (".so", ".json", ".c"))


def _read_own_file(path, limit):
    """The bytes of a regular file of ours, writable by nobody else, at most `limit` bytes;
    None when there is no such file (missing, a link, a FIFO, foreign, too big)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or st.st_mode & 0o022 or st.st_size > limit
                or (hasattr(os, "getuid") and st.st_uid != os.getuid())):
            return None
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_verified(folder, key, key_hash, notes_ok):
    """(library bytes, source, notes) when the entry is whole and was made from what
    `key_hash` names, else None."""
    so_path, meta_path, c_path = _paths(folder, key)
    raw = _read_own_file(meta_path, MAX_SIDECAR_BYTES)
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
        ok = (isinstance(meta, dict) and meta.get("format") == FORMAT and meta.get("version") == VERSION
              and meta.get("key") == key and meta.get("made_from_sha256") == key_hash
              and isinstance(meta.get("so_sha256"), str) and isinstance(meta.get("source_sha256"), str)
              and isinstance(meta.get("notes"), dict) and notes_ok(meta["notes"]))
    except (ValueError, RecursionError):
        ok = False
    if not ok:
        return None
    src = _read_own_file(c_path, MAX_LIBRARY_BYTES)
    if src is None or hashlib.sha256(src).hexdigest() != meta["source_sha256"]:
        return None  # the library is known by its source: a damaged or foreign one, rebuilt
    data = _read_own_file(so_path, MAX_LIBRARY_BYTES)
    if data is None or hashlib.sha256(data).hexdigest() != meta["so_sha256"]:
        return None  # truncated, damaged or swapped: rebuilt, never loaded
    try:
        source = src.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        os.utime(meta_path)  # recently used: pruned last
    except OSError:
        pass
    return data, source, meta["notes"]


def run_compiler(argv, timeout):
    """Run the compiler in its own process group; kill the whole group after `timeout` s.
    Returns (returncode, output)."""
    with tempfile.TemporaryFile() as log:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(p)
            raise CompileTimeout(f"C compiler {argv[0]} did not finish within {timeout:g} s (killed); "
                                 f"set VALUEGRAD_CC_TIMEOUT to allow longer") from None
        except BaseException:  # Ctrl-C: no compiler left running
            _kill_group(p)
            raise
        log.seek(0)
        return p.returncode, log.read().decode("utf-8", "replace")


def _kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        p.kill()
    p.wait()


def _compile(folder, key, key_hash, source, notes, cc, flags):
    timeout = _env_number("VALUEGRAD_CC_TIMEOUT", DEFAULT_TIMEOUT)
    tmp = tempfile.mkdtemp(dir=folder, prefix=".build-")  # 0700, removed whatever happens
    try:
        c_path = os.path.join(tmp, "graph.c")
        with open(c_path, "w") as f:
            f.write(source)
        tmp_lib = os.path.join(tmp, "graph.so")
        code, out = run_compiler(list(cc) + list(flags) + ["-o", tmp_lib, c_path, "-lm"], timeout)
        if code != 0:
            raise CompileError(f"C compiler {cc[0]} failed (exit {code}):\n{out[-2000:]}")
        with open(tmp_lib, "rb") as f:
            data = f.read()
        so_path, meta_path, src_path = _paths(folder, key)
        source_bytes = source.encode("utf-8")
        meta = {"format": FORMAT, "version": VERSION, "key": key, "made_from_sha256": key_hash,
                "source_sha256": hashlib.sha256(source_bytes).hexdigest(),
                "so_sha256": hashlib.sha256(data).hexdigest(), "so_bytes": len(data),
                "compiler": list(cc) + list(flags), "notes": notes}
        _write(tmp, so_path, data)  # the library and source first: a sidecar never names missing bytes
        _write(tmp, src_path, source_bytes)
        _write(tmp, meta_path, json.dumps(meta).encode())
        _fsync_dir(folder)
        return data
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write(tmp, path, data):
    fd, name = tempfile.mkstemp(dir=tmp)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(name, path)  # same folder tree: atomic


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _dlopen(data, key, folder):
    """Load exactly `data`, from a fresh copy in a new private folder removed once loaded.
    (Not a memory file: the dynamic loader knows a library by its path name, and
    /proc/self/fd/N names come back for the next file; here a reused name always holds the
    same key, so the same code.)"""
    tmp = tempfile.mkdtemp(dir=folder, prefix=".load-")
    try:
        path = os.path.join(tmp, f"vg_{key}.so")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            raise CacheError(f"compile cache: the library built for this graph does not load ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _clean_leftovers(folder, now=None):
    """Remove build and load folders, and temporary files, abandoned by a killed process."""
    now = time.time() if now is None else now
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not name.startswith((".build-", ".load-", ".tmp")):
            continue
        path = os.path.join(folder, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if now - st.st_mtime < STALE_SECONDS:
            continue  # perhaps another process's build in progress
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _entries(folder):
    """[(last use, bytes, key)] for every entry in the folder."""
    out = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        if not name.startswith("vg_") or not name.endswith((".so", ".json", ".c")):
            continue
        key = name[3:].rsplit(".", 1)[0]
        try:
            st = os.lstat(os.path.join(folder, name))
        except OSError:
            continue
        used, size = out.get(key, (0.0, 0))
        out[key] = (max(used, st.st_mtime), size + st.st_size)
    return sorted((used, size, key) for key, (used, size) in out.items())


def _prune(folder, keep=None):
    """Delete the least recently used entries until the folder is under the size limit."""
    limit = _env_number("VALUEGRAD_CACHE_MAX_MB", DEFAULT_MAX_MB) * 1e6
    entries = _entries(folder)
    total = sum(size for _, size, _ in entries)
    for used, size, key in entries:
        if total <= limit:
            break
        if key == keep:
            continue
        for path in _paths(folder, key):
            try:
                os.unlink(path)
            except OSError:
                pass
        total -= size


def clear(path=None):
    """Delete every cached library of `cache_dir(path)`; returns how many (the folder stays).
    Same as removing the folder by hand.

        >>> import os, tempfile
        >>> clear(os.path.join(tempfile.mkdtemp(), "cache"))
        0
    """
    folder = cache_dir(path)
    n = 0
    for _, _, key in _entries(folder):
        for path in _paths(folder, key):
            try:
                os.unlink(path)
            except OSError:
                pass
        n += 1
    _clean_leftovers(folder, now=float("inf"))
    with _lock:
        _loaded.clear()
    return n
