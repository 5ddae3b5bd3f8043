"""Writing files so that a reader sees the old file or the whole new one, never half of it.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> atomic_write(path, "hello")
    >>> open(path).read()
    'hello'
"""
from __future__ import annotations

import os
import stat
import tempfile
import time


STALE_SECONDS = 3600  # a temporary file this old is abandoned even if its process id is alive


def atomic_write(path, data):
    """Write str (UTF-8) or bytes to a temporary file beside `path`, then rename it over `path`.

    The temporary file is removed if the write fails or is interrupted; one left behind by a
    killed process (its name holds the writer's process id) is removed by the next write
    to the same path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    clean_stale(folder, name)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".tmp-{os.getpid()}-", suffix=name)
    except OSError as e:  # name the file asked for, not the temporary one
        why = f"the folder {folder} does not exist" if isinstance(e, FileNotFoundError) else e.strerror
        raise type(e)(e.errno, f"cannot write {path}: {why}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; a saved file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _mode_for(path):
    try:
        return os.stat(path).st_mode & 0o777  # replacing a file keeps its mode
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def clean_stale(folder, name, now=None):
    """Remove `.tmp-<pid>-*<name>` files whose writer is gone (or that are over an hour old)."""
    now = time.time() if now is None else now
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(".tmp-") and entry.endswith(name)):
            continue
        pid = entry[5:].split("-", 1)[0]
        path = os.path.join(folder, entry)
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            if pid.isdigit() and _alive(int(pid)) and now - st.st_mtime < STALE_SECONDS:
                continue  # perhaps another process writing the same file right now
            os.unlink(path)
        except OSError:
            pass


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but not ours
    return True
