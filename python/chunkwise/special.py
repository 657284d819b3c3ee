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
from .creation import arange, asarray, zeros
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


# ------------------------------------------------ diag, select, choose

@implements(np.diag)
def _diag(v, k=0):
    if not isinstance(v, Array):
        return Fallback("numpy.diag", np.diag, (v,), dict(k=k))
    k = int(k)
    if v.ndim == 2:
        return np.diagonal(v, k)._node
    if v.ndim != 1:
        raise ValueError("Input must be 1- or 2-d.")
    # A square matrix with v on diagonal k: v (padded to the matrix's
    # size) broadcast along rows or columns, kept where column - row == k.
    n = v.shape[0] + abs(k)
    ext = np.concatenate([v, zeros(abs(k), v.dtype)]) if k else v
    rows, cols = arange(n)[:, None], arange(n)[None, :]
    vals = ext[:, None] if k >= 0 else ext[None, :]
    return np.where(cols - rows == k, vals, np.zeros((), v.dtype))._node


@implements(np.select)
def _select(condlist, choicelist, default=0):
    # NumPy's numpy.select: its checks, its dtype, the first true condition
    # wins (applied in reverse, each a lazy where).
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    choices = [c if isinstance(c, Array) else np.asarray(c) for c in choicelist]
    choices.append(default if isinstance(default, Array) else np.asarray(default))
    try:
        dtype = np.result_type(*choices)
    except TypeError as e:
        raise TypeError(f"Choicelist and default value do not have a common dtype: {e}")
    for i, cond in enumerate(condlist):
        dt = cond.dtype if isinstance(cond, Array) else np.asarray(cond).dtype
        if dt != np.bool_:
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    shape = np.broadcast_shapes(*(np.shape(c) for c in list(condlist) + choices))
    last = choices[-1]
    result = np.broadcast_to(last.astype(dtype) if isinstance(last, Array)
                             else asarray(np.broadcast_to(np.asarray(last, dtype), shape)),
                             shape)
    for choice, cond in zip(choices[-2::-1], list(condlist)[::-1]):
        c = choice.astype(dtype) if isinstance(choice, Array) else np.asarray(choice, dtype)
        result = np.where(cond, c, result)
    return np.broadcast_to(result, shape)._node


@implements(np.choose)
def _choose(a, choices, out=None, mode="raise"):
    if out is not None or not isinstance(a, Array) or a.dtype.kind not in "biu":
        return Fallback("numpy.choose", np.choose, (a, choices), dict(out=out, mode=mode))
    n = len(choices)
    if mode == "raise":
        # NumPy checks every index; so does this (one pass over a).
        bad = ((a < 0) | (a >= n)).any().compute() if n else a.size > 0
        if bad:
            raise ValueError("invalid entry in choice array")
        idx = a
    elif mode == "wrap":
        idx = np.mod(a, n)
    elif mode == "clip":
        idx = np.clip(a, 0, n - 1)
    else:
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    conv = [c if isinstance(c, Array) else np.asarray(c) for c in choices]
    dtype = np.result_type(*conv)
    shape = np.broadcast_shapes(a.shape, *(np.shape(c) for c in conv))
    result = None
    for k in range(n - 1, -1, -1):
        c = conv[k].astype(dtype) if isinstance(conv[k], Array) else np.asarray(conv[k], dtype)
        if result is None:
            result = np.broadcast_to(c if isinstance(c, Array)
                                     else asarray(np.broadcast_to(c, shape)), shape)
        else:
            result = np.where(idx == k, c, result)
    return np.broadcast_to(result, shape)._node
