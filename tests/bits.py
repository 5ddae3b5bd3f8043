"""Bit-for-bit comparison shared by the engine's tests."""
import numpy as np


def same(a, b):
    """Equal to the bit where it matters: type, shape, value, the sign of zero, NaN."""
    if type(a) is not type(b):
        return False
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan], b[~nan])
                and np.array_equal(np.signbit(a[~nan]), np.signbit(b[~nan])))
