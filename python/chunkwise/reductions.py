"""Lazy reductions: sum, prod, min, max, mean, var, std, any, all, the
cumulative ones and argmax/argmin.  Builders: they return nodes.

A ``Reduce`` node is computed by a pass of the C engine: it evaluates the
elementwise graph under it tile by tile, reduces each tile into its own
partial and combines the partials in a fixed pairwise order, so results do
not depend on the thread count.  Dtypes follow NumPy: the accumulator is
what ``ufunc.reduce`` picks for the input (NumPy itself is asked),
mean/var/std follow NumPy's ``_methods`` step by step (f8 accumulation for
integers, float16 computed in float32).  A reduction used inside a larger
expression (``x - x.mean(0)``) is computed first when that expression is
computed (see _plan.py); it is small.
"""
from __future__ import annotations

import functools
import math
import operator

import numpy as np

from ._coerce import Unsupported, cast, node_of
from ._dtypes import SUPPORTED
from ._nodes import Accumulate, ArgReduce, Op, Reduce, Reshape, leaf
from ._rewrite import index_node
from .ufuncs import apply_ufunc, loop_index

__all__ = ["reduce", "mean", "var", "std", "accumulate", "cumulative", "argreduce",
           "METHODS"]


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, tuple):
        axis = (axis,)
    out = []
    for a in axis:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        a %= ndim if ndim else 1
        if a in out:
            raise ValueError("duplicate value in 'axis'")
        out.append(a)
    return tuple(sorted(out))


@functools.cache
def _reorderable(ufunc) -> bool:
    """Whether NumPy lets ``ufunc.reduce`` group its operands in any order
    (add, maximum: yes; subtract: no).  The engine combines the partials of
    tiles pairwise, so it reduces only with such ufuncs; NumPy itself says
    so by refusing a reduction over two axes of the others."""
    try:
        ufunc.reduce(np.zeros((1, 1)), axis=(0, 1))
    except (ValueError, TypeError):
        return False
    return True


def reduce(ufunc, x, axis=None, dtype=None, keepdims=False):
    """A lazy ``ufunc.reduce(x, axis, dtype, keepdims=...)``."""
    x = node_of(x)
    axes = _axes(axis, len(x.shape))
    if len(axes) > 0 and not _reorderable(ufunc):
        raise Unsupported(f"{ufunc.__name__}.reduce is not reorderable")
    # The accumulator dtype NumPy would use, from a one-element probe.
    acc = np.dtype(ufunc.reduce(np.zeros(1, x.dtype), dtype=dtype).dtype)
    if acc not in SUPPORTED:
        raise Unsupported(f"{ufunc.__name__}.reduce to {acc}")
    loop = loop_index(ufunc, (acc, acc), acc)
    node = cast(x, acc)
    if not axes:
        return node  # reducing over no axis: the (cast) input
    return Reduce(ufunc, loop, node, axes, bool(keepdims), acc)


def _count(x, axes):
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n


def mean(x, axis=None, dtype=None, keepdims=False):
    """numpy.mean, as NumPy's _mean computes it."""
    x = node_of(x)
    axes = _axes(axis, len(x.shape))
    f16 = False
    if dtype is None:
        if x.dtype.kind in "biu":
            dtype = np.dtype("f8")
        elif x.dtype == np.float16:
            dtype, f16 = np.dtype("f4"), True
    s = reduce(np.add, x, axes, dtype, keepdims)
    m = apply_ufunc(np.true_divide, (s, _count(x, axes)))
    return cast(m, np.float16) if f16 else m


def var(x, axis=None, dtype=None, ddof=0, keepdims=False):
    """numpy.var, as NumPy's _var computes it (two passes)."""
    x = node_of(x)
    axes = _axes(axis, len(x.shape))
    n = _count(x, axes)
    if dtype is None and x.dtype.kind in "biu":
        dtype = np.dtype("f8")
    arrmean = apply_ufunc(np.true_divide, (reduce(np.add, x, axes, dtype, True), n))
    d = apply_ufunc(np.subtract, (x, arrmean))
    if d.dtype.kind == "c":
        # As NumPy: |d|**2 as re*re + im*im, in the parts' float dtype.
        re, im = (Op(None, part, (d.dtype,), (d,), d.shape, d.dtype.type(0).real.dtype)
                  for part in ("real", "imag"))
        d = apply_ufunc(np.add, (apply_ufunc(np.multiply, (re, re)),
                                 apply_ufunc(np.multiply, (im, im))))
        if dtype is not None and np.dtype(dtype).kind == "c":
            dtype = np.dtype(dtype).type(0).real.dtype
    else:
        d = apply_ufunc(np.multiply, (d, d))
    ret = reduce(np.add, d, axes, dtype, keepdims)
    return apply_ufunc(np.true_divide, (ret, max(n - ddof, 0)))


def std(x, axis=None, dtype=None, ddof=0, keepdims=False):
    """numpy.std: the square root of var."""
    return apply_ufunc(np.sqrt, (var(x, axis, dtype, ddof, keepdims),))


def accumulate(ufunc, x, axis=0, dtype=None):
    """A lazy ``ufunc.accumulate(x, axis, dtype)``."""
    x = node_of(x)
    if not x.shape:
        raise ValueError("cannot accumulate on a scalar")
    axis = _axes(axis, len(x.shape))
    if len(axis) != 1:
        raise ValueError("accumulate takes one axis")
    # NumPy's output dtype for this accumulate, from a one-element probe.
    acc = np.dtype(ufunc.accumulate(np.zeros(1, x.dtype), dtype=dtype).dtype)
    if acc not in SUPPORTED:
        raise Unsupported(f"{ufunc.__name__}.accumulate to {acc}")
    loop = loop_index(ufunc, (acc, acc), acc)
    return Accumulate(ufunc, loop, cast(x, acc), axis[0], acc)


def cumulative(ufunc, x, axis=None, dtype=None):
    """numpy.cumsum / cumprod: dtype as NumPy's (small integers widen to the
    default integer), axis None flattens."""
    x = node_of(x)
    if axis is None:
        if len(x.shape) != 1:
            # Flattened: a view when at most one axis is longer than 1 (a
            # 0-d array, a row or a column); otherwise a lazy C-order
            # reshape source.
            long = [k for k, n in enumerate(x.shape) if n != 1]
            if len(long) > 1:
                x = leaf(Reshape(x, (math.prod(x.shape),)))
            else:
                key = tuple(slice(None) if k in long else 0 for k in range(len(x.shape)))
                x = index_node(x, key + ((None,) if not long else ()))
        axis = 0
    # NumPy's dtype for numpy.cumsum/cumprod, from a one-element probe.
    func = np.cumsum if ufunc is np.add else np.cumprod
    dtype = func(np.zeros(1, x.dtype), dtype=dtype).dtype
    return accumulate(ufunc, x, axis, dtype)


def argreduce(is_max, x, axis=None, keepdims=False):
    x = node_of(x)
    if axis is not None:
        axis = _axes(axis, len(x.shape))
        if len(axis) != 1:
            raise TypeError("axis must be an integer")
        axis = axis[0]
    return ArgReduce(is_max, x, axis, bool(keepdims))


def _ufunc_reduction(ufunc, dtype=None):
    def method(x, axis=None, keepdims=False):
        return reduce(ufunc, x, axis, dtype, keepdims)
    return method


# The reductions of Array's methods (and numpy.sum etc.), by name, with the
# keyword arguments the method takes after the array.
METHODS = {
    "sum": lambda x, axis=None, dtype=None, keepdims=False:
        reduce(np.add, x, axis, dtype, keepdims),
    "prod": lambda x, axis=None, dtype=None, keepdims=False:
        reduce(np.multiply, x, axis, dtype, keepdims),
    "min": _ufunc_reduction(np.minimum),
    "max": _ufunc_reduction(np.maximum),
    "any": _ufunc_reduction(np.logical_or, bool),
    "all": _ufunc_reduction(np.logical_and, bool),
    "mean": mean,
    "var": var,
    "std": std,
}
