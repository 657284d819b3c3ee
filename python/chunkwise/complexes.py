"""Complex numbers on lazy arrays: parts, angles and the tests on them.

complex64 and complex128 are engine dtypes like the others (NumPy's own
inner loops compute every ufunc on them); this module adds what NumPy
builds from the parts of complex values: ``real`` and ``imag`` (engine
built-ins that pick one part), ``angle``, ``iscomplex``, ``isreal`` and
``real_if_close``.  On real dtypes they behave as NumPy's: ``real`` is the
array itself and ``imag`` lazy zeros.
"""
from __future__ import annotations

import numpy as np

from ._coerce import Fallback, node_of
from ._execute import materialise
from ._nodes import Full, Lazy, Op, leaf
from .functions import implements
from .reductions import reduce
from .ufuncs import apply_ufunc

__all__ = ["real", "imag", "part_dtype"]


def part_dtype(dtype) -> np.dtype:
    """The dtype of one part of a complex dtype (float32 / float64)."""
    return np.dtype(dtype).type(0).real.dtype


def _part(name, x):
    x = node_of(x)
    dt = part_dtype(x.dtype)
    return Op(None, name, (x.dtype,), (x,), tuple(x.shape), dt)


def _zeros(x):
    return leaf(Full(tuple(x.shape), x.dtype, np.zeros((), x.dtype).tobytes()))


def real(x):
    """numpy.real: the real part (a real array itself)."""
    x = node_of(x)
    return _part("real", x) if x.dtype.kind == "c" else x


def imag(x):
    """numpy.imag: the imaginary part (lazy zeros for a real array)."""
    x = node_of(x)
    return _part("imag", x) if x.dtype.kind == "c" else _zeros(x)


@implements(np.real)
def _real(val):
    return real(val)


@implements(np.imag)
def _imag(val):
    return imag(val)


@implements(np.angle)
def _angle(z, deg=False):
    # As NumPy: arctan2(imag, real), then degrees by one multiplication.
    z = node_of(z)
    if z.dtype.kind == "c":
        a = apply_ufunc(np.arctan2, (imag(z), real(z)))
    else:
        a = apply_ufunc(np.arctan2, (0, z))
    if deg:
        a = apply_ufunc(np.multiply, (a, 180 / np.pi))
    return a


@implements(np.iscomplex)
def _iscomplex(x):
    x = node_of(x)
    if x.dtype.kind == "c":
        return apply_ufunc(np.not_equal, (imag(x), 0))
    return leaf(Full(tuple(x.shape), np.dtype(bool), np.zeros((), bool).tobytes()))


@implements(np.isreal)
def _isreal(x):
    return apply_ufunc(np.equal, (imag(x), 0))


@implements(np.real_if_close)
def _real_if_close(a, tol=100):
    if not isinstance(a, Lazy):
        return Fallback("numpy.real_if_close", np.real_if_close, (a,), dict(tol=tol))
    x = node_of(a)
    if x.dtype.kind != "c":
        return x
    if tol > 1:
        tol = np.finfo(x.dtype.type).eps * tol
    # Whether every imaginary part is small is one pass; the result is the
    # real part or the array itself, still lazy.
    small = apply_ufunc(np.less, (apply_ufunc(np.absolute, (imag(x),)), tol))
    if materialise(reduce(np.logical_and, small, None, None, False)):
        return real(x)
    return x
