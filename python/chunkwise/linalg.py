"""Norms on lazy arrays: ``numpy.linalg.norm``, ``vector_norm`` and
``matrix_norm``, as NumPy's ``_linalg.norm`` computes them, step for step,
on Arrays (lazy reductions that stream).

Vector norms of every order (``inf``, ``-inf``, 0, 1, 2, other p) and the
matrix norms ``'fro'``, 1, -1, ``inf`` and ``-inf`` are lazy; ``'nuc'``, 2
and -2 need singular values and fall back to NumPy (within
``memory_limit``).  Sums run in the engine's order (blocks, then a fixed
combine), so floating results differ from NumPy's by rounding only;
maxima, minima and counts are exact.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from ._coerce import Fallback
from .array import Array
from .functions import implements

__all__ = []


def _sq(x):
    """|x|**2 as NumPy's norm computes it: (conj(x) * x).real."""
    if x.dtype.kind == "c":
        return np.real(np.conjugate(x) * x)
    return x * x


def _vector(x, ord, axis, keepdims):
    if ord == np.inf:
        return np.max(np.abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(np.abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        r = np.sum(x != 0, axis=axis, keepdims=keepdims)
        return r.astype(x.real.dtype)
    if ord == 1:
        return np.sum(np.abs(x), axis=axis, keepdims=keepdims)
    if ord is None or ord == 2:
        return np.sqrt(np.sum(_sq(x), axis=axis, keepdims=keepdims))
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    absx = np.abs(x)
    absx = absx ** absx.dtype.type(ord)
    r = np.sum(absx, axis=axis, keepdims=keepdims)
    return r ** np.reciprocal(r.dtype.type(ord))


def _matrix(x, ord, axis, keepdims):
    r, c = axis
    if r == c:
        raise ValueError("Duplicate axes given.")
    if ord in (2, -2, "nuc"):
        return None
    if ord in (None, "fro", "f"):
        ret = np.sqrt(np.sum(_sq(x), axis=axis))
    elif ord in (1, -1):
        c2 = c - 1 if c > r else c
        ret = (np.max if ord == 1 else np.min)(np.sum(np.abs(x), axis=r), axis=c2)
    elif ord in (np.inf, -np.inf):
        r2 = r - 1 if r > c else r
        ret = (np.max if ord == np.inf else np.min)(np.sum(np.abs(x), axis=c), axis=r2)
    else:
        raise ValueError("Invalid norm order for matrices.")
    if keepdims:
        ret = np.expand_dims(ret, (r, c))
    return ret


@implements(np.linalg.norm)
def _norm(x, ord=None, axis=None, keepdims=False):
    if not isinstance(x, Array):
        return Fallback("numpy.linalg.norm", np.linalg.norm, (x,),
                        dict(ord=ord, axis=axis, keepdims=keepdims))
    if x.dtype.kind not in "fc":
        x = x.astype(float)
    nd = x.ndim
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            ret = np.sqrt(np.sum(_sq(x)))
            return ret.reshape((1,) * nd) if keepdims else ret
        if nd not in (1, 2):
            raise ValueError("Improper number of dimensions to norm.")
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = int(axis)
        except Exception as e:
            raise TypeError("'axis' must be None, an integer or a tuple of "
                            "integers") from e
        axis = (axis,)
    axis = tuple(int(normalize_axis_index(a, nd)) for a in axis)
    if len(axis) == 1:
        return _vector(x, ord, axis, keepdims)
    if len(axis) == 2:
        r = _matrix(x, ord, axis, keepdims)
        if r is None:
            return Fallback("numpy.linalg.norm", np.linalg.norm, (x,),
                            dict(ord=ord, axis=axis, keepdims=keepdims))
        return r
    raise ValueError("Improper number of dimensions to norm.")


if hasattr(np.linalg, "vector_norm"):  # NumPy >= 2.0
    @implements(np.linalg.vector_norm)
    def _vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
        if not isinstance(x, Array):
            return Fallback("numpy.linalg.vector_norm", np.linalg.vector_norm, (x,),
                            dict(axis=axis, keepdims=keepdims, ord=ord))
        if x.dtype.kind not in "fc":
            x = x.astype(float)
        if axis is None:
            axes = tuple(range(x.ndim))
        else:
            axes = axis if isinstance(axis, tuple) else (axis,)
            axes = tuple(int(normalize_axis_index(a, x.ndim)) for a in axes)
        if x.ndim == 0:
            return np.abs(x)
        return _vector(x, ord, axes, keepdims)

    @implements(np.linalg.matrix_norm)
    def _matrix_norm(x, /, *, keepdims=False, ord="fro"):
        if not isinstance(x, Array) or x.ndim < 2:
            return Fallback("numpy.linalg.matrix_norm", np.linalg.matrix_norm, (x,),
                            dict(keepdims=keepdims, ord=ord))
        return _norm(x, ord=ord, axis=(x.ndim - 2, x.ndim - 1), keepdims=keepdims)
