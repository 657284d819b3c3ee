"""Lazy reductions: sum, prod, min, max, mean, var, std, any, all.

``Reduce`` is a graph node: the C engine evaluates the elementwise graph
under it tile by tile, reduces each tile into its own partial and combines
the partials in a fixed pairwise order, so results do not depend on the
thread count.  Dtypes follow NumPy: the accumulator is what ``ufunc.reduce``
picks for the input (NumPy itself is asked), mean/var/std follow NumPy's
``_methods`` step by step (f8 accumulation for integers, float16 computed in
float32).  A reduction used inside a larger expression (``x - x.mean(0)``)
is computed first when that expression is computed; it is small.
"""
from __future__ import annotations

import operator

import numpy as np

from .config import report_fp
from .graph import Cast
from .ufuncs import SUPPORTED_DTYPES, Unsupported, _loop_index

__all__ = ["Reduce", "reduce", "mean", "var", "std"]


class Reduce:
    __slots__ = ("ufunc", "loop", "node", "axes", "keepdims", "shape", "dtype")

    def __init__(self, ufunc, loop, node, axes, keepdims, dtype):
        self.ufunc = ufunc
        self.loop = loop
        self.node = node
        self.axes = axes
        self.keepdims = keepdims
        self.dtype = dtype
        self.shape = tuple(1 if k in axes else n for k, n in enumerate(node.shape)
                           if keepdims or k not in axes)

    @property
    def chunks(self):
        return self.shape

    def evaluate(self, threads, memory_limit):
        """The result as an ndarray (small), computed from the sources as
        they are now: like every read, not kept between calls."""
        from .graph import compile_expr
        node = self.node
        kept = tuple(n for k, n in enumerate(node.shape) if k not in self.axes)
        if any(node.shape[k] == 0 for k in self.axes) or 0 in node.shape:
            # Nothing to read: NumPy gives the identity or its error.
            empty = np.empty(node.shape, self.dtype)
            out = self.ufunc.reduce(empty, axis=self.axes, keepdims=self.keepdims)
            return np.asarray(out)
        from .progress import reporter
        out = np.empty(kept, self.dtype)
        mask = [k in self.axes for k in range(len(node.shape))]
        bar = reporter(f"{self.ufunc.__name__}.reduce")
        try:
            ids = []
            ex = compile_expr(node, ids=ids)
            ex.pass_([], [], [(ids[0], self.ufunc, self.loop, mask, out)], threads,
                     memory_limit, bar)
        finally:
            if bar is not None:
                bar.close()
        report_fp(f"chunkwise {self.ufunc.__name__}.reduce")
        return out.reshape(self.shape)


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


def reduce(ufunc, x, axis=None, dtype=None, keepdims=False):
    """A lazy ``ufunc.reduce(x, axis, dtype, keepdims=...)``."""
    from .array import Array
    axes = _axes(axis, x.ndim)
    # The accumulator dtype NumPy would use, from a one-element probe.
    acc = np.dtype(ufunc.reduce(np.zeros(1, x.dtype), dtype=dtype).dtype)
    if acc not in SUPPORTED_DTYPES:
        raise Unsupported(f"{ufunc.__name__}.reduce to {acc}")
    loop = _loop_index(ufunc, (acc, acc), acc)
    node = x._node if x.dtype == acc else Cast(x._node, acc)
    if not axes:
        return Array(node)  # reducing over no axis: the (cast) input
    return Array(Reduce(ufunc, loop, node, axes, bool(keepdims), acc))


def _count(x, axes):
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n


def mean(x, axis=None, dtype=None, keepdims=False):
    """numpy.mean, as NumPy's _mean computes it."""
    axes = _axes(axis, x.ndim)
    f16 = False
    if dtype is None:
        if x.dtype.kind in "biu":
            dtype = np.dtype("f8")
        elif x.dtype == np.float16:
            dtype, f16 = np.dtype("f4"), True
    s = reduce(np.add, x, axes, dtype, keepdims)
    m = np.true_divide(s, _count(x, axes))
    return m.astype(np.float16) if f16 else m


def var(x, axis=None, dtype=None, ddof=0, keepdims=False):
    """numpy.var, as NumPy's _var computes it (two passes)."""
    axes = _axes(axis, x.ndim)
    n = _count(x, axes)
    if dtype is None and x.dtype.kind in "biu":
        dtype = np.dtype("f8")
    arrmean = np.true_divide(reduce(np.add, x, axes, dtype, True), n)
    d = x - arrmean
    d = d * d
    ret = reduce(np.add, d, axes, dtype, keepdims)
    return np.true_divide(ret, max(n - ddof, 0))


def std(x, axis=None, dtype=None, ddof=0, keepdims=False):
    """numpy.std: the square root of var."""
    return np.sqrt(var(x, axis, dtype, ddof, keepdims))


class Accumulate:
    """ufunc.accumulate along one axis (cumsum, cumprod): evaluated in
    order along the axis, in parallel across the others."""
    __slots__ = ("ufunc", "loop", "node", "axis", "shape", "dtype")

    def __init__(self, ufunc, loop, node, axis, dtype):
        self.ufunc = ufunc
        self.loop = loop
        self.node = node
        self.axis = axis
        self.shape = node.shape
        self.dtype = dtype

    @property
    def chunks(self):
        return self.node.chunks

    def evaluate(self, threads, memory_limit, out=None):
        from .graph import compile_expr
        from .progress import reporter
        out = np.empty(self.shape, self.dtype) if out is None else out
        if out.size == 0:
            return out
        bar = reporter(f"{self.ufunc.__name__}.accumulate")
        try:
            compile_expr(self.node).accumulate(self.ufunc, self.loop, self.axis, out,
                                               threads, memory_limit, bar)
        finally:
            if bar is not None:
                bar.close()
        report_fp(f"chunkwise {self.ufunc.__name__}.accumulate")
        return out


def accumulate(ufunc, x, axis=0, dtype=None):
    """A lazy ``ufunc.accumulate(x, axis, dtype)``."""
    from .array import Array
    if x.ndim == 0:
        raise ValueError("cannot accumulate on a scalar")
    axis = _axes(axis, x.ndim)
    if len(axis) != 1:
        raise ValueError("accumulate takes one axis")
    # NumPy's output dtype for this accumulate, from a one-element probe.
    acc = np.dtype(ufunc.accumulate(np.zeros(1, x.dtype), dtype=dtype).dtype)
    if acc not in SUPPORTED_DTYPES:
        raise Unsupported(f"{ufunc.__name__}.accumulate to {acc}")
    loop = _loop_index(ufunc, (acc, acc), acc)
    node = x._node if x.dtype == acc else Cast(x._node, acc)
    return Array(Accumulate(ufunc, loop, node, axis[0], acc))


def cumulative(ufunc, x, axis=None, dtype=None):
    """numpy.cumsum / cumprod: dtype as NumPy's (small integers widen to the
    default integer), axis None flattens."""
    if axis is None:
        if x.ndim != 1:
            raise Unsupported("cumulative over a flattened array")
        axis = 0
    # NumPy's dtype for numpy.cumsum/cumprod, from a one-element probe.
    func = np.cumsum if ufunc is np.add else np.cumprod
    dtype = func(np.zeros(1, x.dtype), dtype=dtype).dtype
    return accumulate(ufunc, x, axis, dtype)


class ArgReduce:
    """argmax / argmin along one axis or over the flattened array."""
    __slots__ = ("is_max", "node", "axis", "keepdims", "shape", "dtype")

    def __init__(self, is_max, node, axis, keepdims):
        self.is_max = is_max
        self.node = node
        self.axis = axis          # None: flattened
        self.keepdims = keepdims
        nd = len(node.shape)
        if axis is None:
            self.shape = (1,) * nd if keepdims else ()
        else:
            self.shape = tuple(1 if k == axis else n for k, n in enumerate(node.shape)
                               if keepdims or k != axis)
        self.dtype = np.dtype(np.intp)

    @property
    def chunks(self):
        return self.shape

    def evaluate(self, threads, memory_limit):
        from .graph import compile_expr
        node = self.node
        if not node.shape or 0 in node.shape:
            # NumPy's answer (or error) needs no data: an empty or 0-d input.
            f = np.argmax if self.is_max else np.argmin
            value = f(np.zeros(node.shape, node.dtype), axis=self.axis,
                      keepdims=self.keepdims)
            return np.asarray(value)
        kept = () if self.axis is None else tuple(
            n for k, n in enumerate(node.shape) if k != self.axis)
        out = np.empty(kept, np.int64)
        compile_expr(node).argreduce(self.is_max, -1 if self.axis is None else self.axis,
                                     out, threads, memory_limit, None)
        return out.astype(np.intp, copy=False).reshape(self.shape)


def argreduce(is_max, x, axis=None, keepdims=False):
    from .array import Array
    if axis is not None:
        axis = _axes(axis, x.ndim)
        if len(axis) != 1:
            raise TypeError("axis must be an integer")
        axis = axis[0]
    return Array(ArgReduce(is_max, x._node, axis, bool(keepdims)))
