"""Norms, covariance and correlation on lazy arrays: ``numpy.linalg.norm``,
``vector_norm`` and ``matrix_norm``, as NumPy's ``_linalg.norm`` computes
them, step for step, on Arrays (lazy reductions that stream); ``numpy.cov``
(with ``fweights`` / ``aweights``) and ``numpy.corrcoef`` as NumPy's
``cov`` computes them.

Vector norms of every order (``inf``, ``-inf``, 0, 1, 2, other p) and the
matrix norms ``'fro'``, 1, -1, ``inf`` and ``-inf`` are lazy; ``'nuc'``, 2
and -2 need singular values: of a 2-d array they are computed out of core
by TSQR (decompositions.py), of a stack of matrices they fall back to
NumPy (within ``memory_limit``).  Sums run in the engine's order (blocks,
then a fixed combine), so floating results differ from NumPy's by
rounding only; maxima, minima and counts are exact.
"""
from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from ._coerce import Fallback
from .array import Array
from .creation import asarray
from .decompositions import _singular_values
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
        if x.ndim != 2:
            return None
        sv = _singular_values(x, "numpy.linalg.norm")    # TSQR, one pass
        if sv is None:
            return None
        ret = np.asarray({2: np.max, -2: np.min, "nuc": np.sum}[ord](sv))
        return asarray(ret.reshape((1, 1)) if keepdims else ret)
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


# ------------------------------------------------------- cov and corrcoef

def _cov_args(m, y, rowvar, dtype):
    """NumPy's X of cov: 2-d, variables along rows, y's rows appended."""
    m = m if isinstance(m, Array) else asarray(np.asarray(m))
    if m.ndim > 2:
        raise ValueError("m has more than 2 dimensions")
    if dtype is None:
        dtype = np.result_type(m.dtype, np.float64) if y is None else \
            np.result_type(m.dtype, np.asarray(y).dtype if not isinstance(y, Array)
                           else y.dtype, np.float64)
    X = m.astype(dtype) if m.dtype != dtype else m
    if X.ndim < 2:
        X = X[None, :] if X.ndim == 1 else X.reshape(1, 1)
    if not rowvar and X.shape[0] != 1:
        X = X.T
    if y is not None:
        y = y if isinstance(y, Array) else asarray(np.asarray(y))
        if y.ndim > 2:
            raise ValueError("y has more than 2 dimensions")
        y = y.astype(dtype) if y.dtype != dtype else y
        y = y[None, :] if y.ndim == 1 else y
        if not rowvar and y.shape[0] != 1:
            y = y.T
        X = np.concatenate((X, y), axis=0)
    return X


def _weights(v, kind, n):
    """fweights / aweights as a float64 Array, checked as NumPy checks them
    (each check a small lazy reduction, computed)."""
    v = v if isinstance(v, Array) else asarray(np.asarray(v, dtype=float))
    v = v.astype(np.float64) if v.dtype != np.float64 else v
    if kind == "fweights" and not bool(np.all(v == np.around(v))):
        raise TypeError("fweights must be integer")
    if v.ndim > 1:
        raise RuntimeError(f"cannot handle multidimensional {kind}")
    if v.shape[0] != n:
        raise RuntimeError(f"incompatible numbers of samples and {kind}")
    if bool(np.any(v < 0)):
        raise ValueError(f"{kind} cannot be negative")
    return v


@implements(np.cov)
def _cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
         *, dtype=None):
    """Lazy, as NumPy computes it: the (weighted) means, then the centred
    Gram matrix through the engine's matrix product, scaled.  The weights'
    checks and their sums (the normalisation) are small computed
    reductions."""
    kw = dict(y=y, rowvar=rowvar, bias=bias, ddof=ddof, fweights=fweights,
              aweights=aweights, dtype=dtype)
    if not isinstance(m, Array):
        return Fallback("numpy.cov", np.cov, (m,), kw)
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    X = _cov_args(m, y, rowvar, dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    n = X.shape[1]
    w = aw = None
    if fweights is not None:
        w = _weights(fweights, "fweights", n)
    if aweights is not None:
        aw = _weights(aweights, "aweights", n)
        w = aw if w is None else w * aw
    if w is None:
        fact = n - ddof
        Xc = X - np.mean(X, axis=1, keepdims=True)
        XT = Xc.T
    else:
        w_sum = np.float64(np.sum(w))
        if ddof == 0:
            fact = w_sum
        elif aw is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * np.float64(np.sum(w * aw)) / w_sum
        # numpy.average: the weighted means in result_type(X, float64).
        avg = np.sum(X * w, axis=1, keepdims=True) / w_sum
        Xc = X - avg
        Xc = Xc.astype(X.dtype) if Xc.dtype != X.dtype else Xc     # X -= avg
        XT = (Xc * w).T
    if fact <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
        fact = 0.0
    c = np.matmul(Xc, np.conjugate(XT) if XT.dtype.kind == "c" else XT)
    with np.errstate(divide="ignore"):
        c = c * (1.0 / np.float64(fact)).astype(c.real.dtype)
    return np.squeeze(c)


@implements(np.corrcoef)
def _corrcoef(x, y=None, rowvar=True, bias=np._NoValue, ddof=np._NoValue, *, dtype=None):
    if bias is not np._NoValue or ddof is not np._NoValue:
        warnings.warn("bias and ddof have no effect and are deprecated",
                      DeprecationWarning, stacklevel=3)
    if not isinstance(x, Array):
        return Fallback("numpy.corrcoef", np.corrcoef, (x,), dict(y=y, rowvar=rowvar,
                                                                 dtype=dtype))
    c = _cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    s = np.sqrt(np.real(np.diagonal(c)))
    c = c / s[:, None]
    c = c / s[None, :]
    if c.dtype.kind == "c":       # NumPy clips both parts
        return np.clip(np.real(c), -1, 1) + np.clip(np.imag(c), -1, 1) * c.dtype.type(1j)
    return np.clip(c, -1, 1)
