"""NumPy's two-output ufuncs as pairs of single-output nodes.

The engine's operations have one output each; numpy.modf and numpy.frexp
are built here from single-output ufuncs whose compositions are exact, so
both results are bit for bit NumPy's.
"""
from __future__ import annotations

import numpy as np

from . import functions
from .ufuncs import apply_ufunc

__all__ = ["modf", "frexp"]


def modf(x):
    """numpy.modf as two single-output compositions, exact: the integral
    part is trunc(x); the fractional part x - trunc(x) (exact in floating
    point) with the sign of x, and a signed zero for infinities."""
    dt = np.modf.resolve_dtypes((x.dtype, None, None))[0]
    v = functions.astype(x, dt)
    finite = functions.HANDLED[np.where](apply_ufunc(np.isinf, [v]), 0, v)
    frac = apply_ufunc(np.subtract, [finite, apply_ufunc(np.trunc, [finite])])
    return apply_ufunc(np.copysign, [frac, v]), apply_ufunc(np.trunc, [v])


def frexp(x):
    """numpy.frexp as exact single-output compositions: the exponent from
    a float64 log2, corrected by one step either way so that the mantissa
    ldexp(x, -e) (an exact scaling) lies in [0.5, 1); zeros, infinities and
    NaN give themselves and exponent 0, as NumPy's."""
    dt = np.frexp.resolve_dtypes((x.dtype, None, None))[0]
    u = apply_ufunc
    where = functions.HANDLED[np.where]
    v = functions.astype(x, dt)
    special = u(np.logical_or, [u(np.equal, [v, 0]), u(np.logical_not, [u(np.isfinite, [v])])])
    safe = where(special, np.ones((), dt), v)
    mag = functions.astype(u(np.absolute, [safe]), np.float64)
    e = u(np.add, [functions.astype(u(np.floor, [u(np.log2, [mag])]), np.int32),
                   np.int32(1)])
    m = u(np.absolute, [u(np.ldexp, [safe, u(np.negative, [e])])])
    e = u(np.subtract, [u(np.add, [e, u(np.greater_equal, [m, 1.0])]),
                        u(np.less, [m, 0.5])])
    e = functions.astype(e, np.int32)
    mant = where(special, v, u(np.ldexp, [safe, u(np.negative, [e])]))
    return functions.astype(mant, dt), where(special, np.int32(0), e)
