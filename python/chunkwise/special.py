"""Special functions NumPy writes in Python over ufuncs, run lazily by
running NumPy's own code on Arrays: ``numpy.i0``.

NumPy evaluates i0 with ``piecewise`` (a Chebyshev series below 8, another
above); here both series run over the whole array, each on inputs that
stay in its range, and ``where`` picks per element, so every element is
computed by the same operations as NumPy's, in the same order.
"""
from __future__ import annotations

import numpy as np

from .array import Array
from ._coerce import Fallback
from .functions import implements

try:  # NumPy 2: the series numpy.i0 evaluates
    from numpy.lib._function_base_impl import _i0_1, _i0_2
except ImportError:  # pragma: no cover - other NumPy layouts fall back
    _i0_1 = _i0_2 = None

__all__ = []


@implements(np.i0)
def _i0(x):
    if _i0_1 is None or not isinstance(x, Array):
        return Fallback("numpy.i0", np.i0, (x,), {})
    if x.dtype.kind == "c":
        raise TypeError("i0 not supported for complex values")
    if x.dtype.kind != "f":
        x = x.astype(float)
    x = np.abs(x)
    small = x <= 8.0
    # Each series on inputs inside its own range: no spurious warnings.
    low = _i0_1(np.where(small, x, 0))
    high = _i0_2(np.where(small, 9.0, x))
    # piecewise writes into an array of x's dtype.
    return np.where(small, low, high).astype(x.dtype)._node
