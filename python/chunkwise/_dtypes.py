"""The element types chunkwise supports: the one list the package uses.

The C engine has the same fourteen (``CW_DTYPE_MAP`` on the C side); NumPy
dtypes of other kinds (strings, objects, datetimes, structured types,
longdouble) fall back to NumPy or are refused.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SUPPORTED", "NAMES", "check"]

SUPPORTED = frozenset(np.dtype(t) for t in (
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"))

NAMES = ("bool, int8-int64, uint8-uint64, float16, float32, float64, "
          "complex64 and complex128")


def check(dtype) -> np.dtype:
    """``np.dtype(dtype)``, or TypeError when chunkwise cannot hold it (any
    byte order of a supported type is accepted)."""
    dt = np.dtype(dtype)
    if dt.kind not in "biufc" or dt.newbyteorder("=") not in SUPPORTED:
        raise TypeError(f"unsupported dtype {dt}: chunkwise supports {NAMES}")
    return dt
