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
