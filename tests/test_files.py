"""autograd.files.atomic_write: whole files or none, with the usual permissions."""
import os
import stat

import pytest

from autograd.files import atomic_write


def test_writes_text_and_bytes(tmp_path):
    atomic_write(tmp_path / "a.txt", "héllo")
    atomic_write(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_new_file_gets_umask_mode_and_replacement_keeps_mode(tmp_path):
    p = tmp_path / "f.txt"
    atomic_write(p, "1")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~umask
    os.chmod(p, 0o640)
    atomic_write(p, "2")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640 and p.read_text() == "2"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    p = tmp_path / "f.txt"
    atomic_write(p, "old")

    def boom(*a):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(p, "new")
    assert p.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.txt"]
