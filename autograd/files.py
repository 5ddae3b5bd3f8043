"""Writing files so that a reader sees the old file or the whole new one, never half of it.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> atomic_write(path, "hello")
    >>> open(path).read()
    'hello'
"""
from __future__ import annotations

import os
import tempfile


def atomic_write(path, data):
    """Write str (UTF-8) or bytes to a temporary file beside `path`, then rename it over `path`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
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
