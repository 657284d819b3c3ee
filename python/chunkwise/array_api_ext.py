"""The linalg and fft extensions of the array API namespace
(``chunkwise.array_api.linalg`` and ``.fft``).

matmul, matrix_transpose, tensordot, vecdot, diagonal, trace and outer are
lazy (the lazy NumPy surface); qr (mode "reduced"), svd
(full_matrices=False) and svdvals of a tall 2-d floating array run out of
core by TSQR (numpy.linalg's, decompositions.py); the other
decompositions, solvers, norms and the transforms read their inputs (within
``cw.config(memory_limit=...)``, with a ``FallbackWarning``, or an error
under ``cw.config(fallback="error")``), run NumPy's function and wrap the
result as an in-memory Array.
"""
from __future__ import annotations

import types
from collections import namedtuple

import numpy as np

from . import creation
from .array import Array, _fallback

__all__ = ["linalg", "fft"]

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


def _eager(name, call, *args, **kwargs):
    return _fallback(f"array_api.{name}", call, args, kwargs)


# ----------------------------------------------------------------- linalg
def matmul(x1, x2, /):
    return np.matmul(x1, x2)


def matrix_transpose(x, /):
    if x.ndim < 2:
        raise ValueError("matrix_transpose needs an array of at least 2 dimensions")
    return x.mT


def tensordot(x1, x2, /, *, axes=2):
    return np.tensordot(x1, x2, axes=axes)


def vecdot(x1, x2, /, *, axis=-1):
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    if not -len(shape) <= axis < len(shape) or x1.shape[axis] != x2.shape[axis]:
        raise ValueError("vecdot: the arrays must have the same extent along axis")
    prod = np.conjugate(x1) * x2
    return np.sum(prod, axis=axis, dtype=prod.dtype)


def diagonal(x, /, *, offset=0):
    return np.diagonal(x, offset, axis1=-2, axis2=-1)


def trace(x, /, *, offset=0, dtype=None):
    if dtype is None and x.dtype.kind in "fc":
        dtype = x.dtype
    return np.trace(x, offset, axis1=-2, axis2=-1, dtype=dtype)


def outer(x1, x2, /):
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError("outer needs two one-dimensional arrays")
    return np.multiply(x1[:, None], x2[None, :])


def cross(x1, x2, /, *, axis=-1):
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError("cross needs an extent of 3 along axis in both arrays")
    return _eager("linalg.cross", np.linalg.cross, x1, x2, axis=axis)


def cholesky(x, /, *, upper=False):
    return _eager("linalg.cholesky", np.linalg.cholesky, x, upper=upper)


def det(x, /):
    return _eager("linalg.det", np.linalg.det, x)


def eigh(x, /):
    return EighResult(*_eager("linalg.eigh", np.linalg.eigh, x))


def eigvalsh(x, /):
    return _eager("linalg.eigvalsh", np.linalg.eigvalsh, x)


def inv(x, /):
    return _eager("linalg.inv", np.linalg.inv, x)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):  # noqa: A002 - the standard's name
    return _eager("linalg.matrix_norm", np.linalg.matrix_norm, x, keepdims=keepdims,
                  ord=ord)


def matrix_power(x, n, /):
    return _eager("linalg.matrix_power", np.linalg.matrix_power, x, n)


def matrix_rank(x, /, *, rtol=None):
    return _eager("linalg.matrix_rank", np.linalg.matrix_rank, x, rtol=rtol)


def pinv(x, /, *, rtol=None):
    return _eager("linalg.pinv", np.linalg.pinv, x, rtol=rtol)


def _tall_floating(x):
    """A 2-d floating Array with at least as many rows as columns: its QR
    and SVD run out of core (numpy.linalg's, decompositions.py)."""
    return isinstance(x, Array) and x.ndim == 2 and x.dtype.kind in "fc" and \
        x.shape[0] >= x.shape[1] > 0


def qr(x, /, *, mode="reduced"):
    if mode == "reduced" and _tall_floating(x):
        return QRResult(*np.linalg.qr(x))
    return QRResult(*_eager("linalg.qr", np.linalg.qr, x, mode=mode))


def slogdet(x, /):
    return SlogdetResult(*_eager("linalg.slogdet", np.linalg.slogdet, x))


def _solve(x1, x2):
    # The standard treats a 1-d x2 as a vector only then; NumPy 2 too.
    return np.linalg.solve(x1, x2)


def solve(x1, x2, /):
    return _eager("linalg.solve", _solve, x1, x2)


def svd(x, /, *, full_matrices=True):
    if not full_matrices and _tall_floating(x):
        return SVDResult(*np.linalg.svd(x, full_matrices=False))
    return SVDResult(*_eager("linalg.svd", np.linalg.svd, x, full_matrices=full_matrices))


def svdvals(x, /):
    if _tall_floating(x):
        return np.linalg.svdvals(x)
    return _eager("linalg.svdvals", np.linalg.svdvals, x)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):  # noqa: A002
    axis = tuple(axis) if isinstance(axis, list) else axis
    return _eager("linalg.vector_norm", np.linalg.vector_norm, x, axis=axis,
                  keepdims=keepdims, ord=ord)


linalg = types.SimpleNamespace(**{f.__name__: f for f in (
    cholesky, cross, det, diagonal, eigh, eigvalsh, inv, matmul, matrix_norm,
    matrix_power, matrix_rank, matrix_transpose, outer, pinv, qr, slogdet, solve, svd,
    svdvals, tensordot, trace, vecdot, vector_norm)})


# -------------------------------------------------------------------- fft
def _transform(name):
    call = getattr(np.fft, name)

    def f(x, /, *, n=None, axis=-1, norm="backward"):
        return _eager(f"fft.{name}", _keep_precision(call, x), x, n=n, axis=axis,
                      norm=norm)

    def fn(x, /, *, s=None, axes=None, norm="backward"):
        return _eager(f"fft.{name}", _keep_precision(call, x), x, s=s, axes=axes,
                      norm=norm)
    g = fn if name.endswith("n") else f
    g.__name__ = g.__qualname__ = name
    return g


def _keep_precision(call, x):
    """NumPy's transform, with single precision results for single
    precision inputs (as the standard asks)."""
    single = x.dtype in (np.float32, np.complex64)

    def run(*args, **kwargs):
        r = call(*args, **kwargs)
        if single:
            r = r.astype(np.complex64 if r.dtype.kind == "c" else np.float32)
        return r
    return run


def _freq(name):
    call = getattr(np.fft, name)

    def f(n, /, *, d=1.0, dtype=None, device=None):
        if device is not None and device != "cpu":
            raise ValueError(f"chunkwise arrays live on the device 'cpu', not {device!r}")
        return creation.asarray(call(n, d).astype(dtype or np.float64))
    f.__name__ = f.__qualname__ = name
    return f


def _shift(x, axes, sign):
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, int):
        axes = (axes,)
    axes = tuple(axes)
    return np.roll(x, tuple(sign * (x.shape[a] // 2) for a in axes), axis=axes)


def fftshift(x, /, *, axes=None):
    return _shift(x, axes, 1)


def ifftshift(x, /, *, axes=None):
    return _shift(x, axes, -1)


fft = types.SimpleNamespace(
    **{n: _transform(n) for n in ("fft", "ifft", "fftn", "ifftn", "rfft", "irfft",
                                  "rfftn", "irfftn", "hfft", "ihfft")},
    fftfreq=_freq("fftfreq"), rfftfreq=_freq("rfftfreq"), fftshift=fftshift,
    ifftshift=ifftshift)
