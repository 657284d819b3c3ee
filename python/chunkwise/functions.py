"""NumPy functions on lazy arrays: the builders behind
``Array.__array_function__``.

A function with a lazy implementation is registered with
``@implements(np.func)``; it returns a node (array.py wraps it into an
Array), a plain value (``np.shape``), a ``Scalar`` request (``np.allclose``)
or a ``Fallback`` request.  Any other NumPy function (and ufunc methods such
as ``reduce``) falls back: array.py materialises its chunkwise inputs, NumPy
runs, and the result comes back as a chunked array, with a
``FallbackWarning`` naming the function.  Nothing computes silently; inputs
larger than ``memory_limit`` make it refuse; with
``cw.config(fallback="error")`` every fallback is an error.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from . import _dtypes
from ._coerce import (Fallback, Scalar, Unsupported, cast, dtype_of, lazy_node, node_of,
                      operand, shape_of)
from ._dtypes import SUPPORTED
from ._nodes import Broadcast, Concat, Full, Lazy, MatMul, Op, Select, leaf
from ._rewrite import index_node, transpose_node
from .reductions import METHODS, argreduce, cumulative, mean, reduce
from .ufuncs import apply_ufunc

__all__ = ["FallbackWarning", "HANDLED", "implements", "transpose", "swapaxes",
           "squeeze", "astype"]

HANDLED: dict = {}


class FallbackWarning(UserWarning):
    """A NumPy function ran eagerly on materialised chunkwise inputs."""


def implements(*funcs):
    def deco(f):
        for func in funcs:
            HANDLED[func] = f
        return f
    return deco


def _u(ufunc, *operands):
    return apply_ufunc(ufunc, operands)


# ------------------------------------------------- metadata, no computing

@implements(np.shape)
def _shape(a):
    return tuple(shape_of(a))


@implements(np.ndim)
def _ndim(a):
    return len(shape_of(a))


@implements(np.size)
def _size(a, axis=None):
    shape = shape_of(a)
    return math.prod(shape) if axis is None else shape[axis]


def astype(x, dtype):
    """Lazy conversion, as ``ndarray.astype`` (unsafe casting)."""
    return cast(node_of(x), _dtypes.check(dtype))


if hasattr(np, "astype"):  # NumPy >= 2.1
    @implements(np.astype)
    def _astype(x, dtype, /, *, copy=True, device=None):
        return astype(x, dtype)


# ---------------------------------------------------------------- reductions

def _reduction(method):
    def impl(a, axis=None, dtype=None, out=None, keepdims=np._NoValue, **kw):
        name = f"numpy.{method}"
        kw = {k: v for k, v in kw.items() if v is not np._NoValue}
        if out is not None or kw or not isinstance(a, Lazy):
            args = dict(axis=axis, out=out, **kw)
            if dtype is not None:
                args["dtype"] = dtype
            if keepdims is not np._NoValue:
                args["keepdims"] = keepdims
            return Fallback(name, getattr(np, method), (a,), args)
        keep = False if keepdims is np._NoValue else keepdims
        if method in ("min", "max", "any", "all"):
            if dtype is not None:
                return Fallback(name, getattr(np, method), (a,),
                                dict(axis=axis, dtype=dtype, keepdims=keep))
            return METHODS[method](a, axis=axis, keepdims=keep)
        return METHODS[method](a, axis=axis, dtype=dtype, keepdims=keep)
    return impl


for _m, _funcs in [("sum", [np.sum]), ("prod", [np.prod]), ("mean", [np.mean]),
                   ("min", [np.min, np.amin]), ("max", [np.max, np.amax]),
                   ("any", [np.any]), ("all", [np.all])]:
    implements(*_funcs)(_reduction(_m))


def _varstd(method):
    def impl(a, axis=None, dtype=None, out=None, ddof=0, keepdims=np._NoValue, **kw):
        kw = {k: v for k, v in kw.items() if v is not np._NoValue}
        if out is not None or kw or not isinstance(a, Lazy):
            args = dict(axis=axis, dtype=dtype, out=out, ddof=ddof, **kw)
            if keepdims is not np._NoValue:
                args["keepdims"] = keepdims
            return Fallback(f"numpy.{method}", getattr(np, method), (a,), args)
        keep = False if keepdims is np._NoValue else keepdims
        return METHODS[method](a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keep)
    return impl


implements(np.var)(_varstd("var"))
implements(np.std)(_varstd("std"))


# -------------------------------------------------------------- elementwise

@implements(np.where)
def _where(condition, x=None, y=None):
    if x is None and y is None:
        return Fallback("numpy.where", np.where, (condition,), {})
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")

    def stand_in(v):
        # Python scalars as they are (their value matters: NumPy 2.5 refuses
        # one out of range of the other operand's dtype), others as one
        # element of their dtype.
        return v if type(v) in (int, float, bool, complex) else np.zeros(1, dtype_of(v))
    # NumPy's result dtype, and its errors.
    dtype = np.where(np.ones(1, bool), stand_in(x), stand_in(y)).dtype
    if dtype not in SUPPORTED:
        return Fallback("numpy.where", np.where, (condition, x, y), {})
    shape = np.broadcast_shapes(shape_of(condition), shape_of(x), shape_of(y))
    return Select((operand(condition, np.dtype(bool)), operand(x, dtype, True),
                   operand(y, dtype, True)), tuple(shape), dtype)


@implements(np.clip)
def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
          max=np._NoValue, **kwargs):
    lo = a_min if a_min is not np._NoValue else min
    hi = a_max if a_max is not np._NoValue else max
    lo = None if lo is np._NoValue else lo
    hi = None if hi is np._NoValue else hi
    if out is not None or kwargs or (lo is None and hi is None):
        return Fallback("numpy.clip", np.clip, (a, lo, hi), dict(out=out, **kwargs))
    # As NumPy: one-sided clips are minimum/maximum, two-sided its clip ufunc.
    try:
        if lo is None:
            return _u(np.minimum, a, hi)
        if hi is None:
            return _u(np.maximum, a, lo)
        return _u(np._core.umath.clip, a, lo, hi)
    except Unsupported:
        return Fallback("numpy.clip", np.clip, (a, lo, hi), {})


@implements(np.round, np.around)
def _round(a, decimals=0, out=None):
    if out is not None or not isinstance(a, Lazy):
        return Fallback("numpy.round", np.round, (a,), dict(decimals=decimals, out=out))
    decimals = int(decimals)
    if a.dtype.kind == "b":
        # As NumPy: bool is no integer here; rint gives float16, and other
        # decimals are NumPy's casting error (raised on an empty stand-in).
        if decimals != 0:
            np.round(np.zeros(0, bool), decimals)
        return _u(np.rint, a)
    if a.dtype.kind in "iu":
        if decimals >= 0:
            return node_of(a)
        # NumPy's PyArray_Round for integers: divide by 10**-decimals into
        # float64, rint, multiply back, convert to the integer dtype.
        f = float(10.0 ** -decimals)
        t = cast(_u(np.true_divide, a, f), np.float64)
        return cast(_u(np.multiply, _u(np.rint, t), f), a.dtype)
    # NumPy's PyArray_Round for floats: scale, rint, unscale.
    if decimals == 0:
        return _u(np.rint, a)
    f = float(10.0 ** abs(decimals))
    if decimals > 0:
        return _u(np.true_divide, _u(np.rint, _u(np.multiply, a, f)), f)
    return _u(np.multiply, _u(np.rint, _u(np.true_divide, a, f)), f)


# ----------------------------------------------------------------- axes

def _perm(ndim, axes):
    if axes is None:
        return tuple(range(ndim))[::-1]
    axes = tuple(int(normalize_axis_index(a, ndim)) for a in axes)
    if sorted(axes) != list(range(ndim)):
        raise ValueError("axes don't match array")
    return axes


def transpose(x, axes=None):
    """numpy.transpose; the node itself when the order is unchanged."""
    x = node_of(x)
    perm = _perm(len(x.shape), axes)
    if perm == tuple(range(len(x.shape))):
        return x
    return transpose_node(x, perm)


def swapaxes(x, axis1, axis2):
    x = node_of(x)
    nd = len(x.shape)
    a1, a2 = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    perm = list(range(nd))
    perm[a1], perm[a2] = perm[a2], perm[a1]
    return transpose(x, perm)


def squeeze(x, axis=None):
    x = node_of(x)
    if axis is None:
        axes = tuple(k for k, n in enumerate(x.shape) if n == 1)
    else:
        axes = normalize_axis_tuple(axis, len(x.shape))
        for k in axes:
            if x.shape[k] != 1:
                raise ValueError("cannot select an axis to squeeze out which "
                                 "has size not equal to one")
    return index_node(x, tuple(0 if k in axes else slice(None)
                               for k in range(len(x.shape))))


def _expand(x, axis):
    x = node_of(x)
    if not isinstance(axis, (tuple, list)):
        axis = (axis,)
    nd = len(x.shape) + len(axis)
    axes = normalize_axis_tuple(axis, nd)
    return index_node(x, tuple(None if k in axes else slice(None) for k in range(nd)))


@implements(np.transpose)
def _transpose(a, axes=None):
    return transpose(a, axes)


@implements(np.swapaxes)
def _swapaxes(a, axis1, axis2):
    return swapaxes(a, axis1, axis2)


@implements(np.moveaxis)
def _moveaxis(a, source, destination):
    nd = len(shape_of(a))
    src = normalize_axis_tuple(source, nd, "source")
    dst = normalize_axis_tuple(destination, nd, "destination")
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have "
                         "the same number of elements")
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


@implements(np.expand_dims)
def _expand_dims(a, axis):
    return _expand(a, axis)


@implements(np.squeeze)
def _squeeze(a, axis=None):
    return squeeze(a, axis)


# ---------------------------------------------------------------- compare

def _isclose_node(a, b, rtol, atol, equal_nan):
    # NumPy 2's isclose, operation for operation.
    x, y = a, b
    if not isinstance(y, (int, float)):
        ydt = dtype_of(y)
        dt = np.result_type(ydt, 1.0)
        if lazy_node(y) is not None:
            y = cast(lazy_node(y), dt)
        elif dt != getattr(y, "dtype", None):
            y = np.asarray(y, dtype=dt)
    result = _u(np.bitwise_or,
                _u(np.bitwise_and,
                   _u(np.less_equal, _u(np.absolute, _u(np.subtract, x, y)),
                      _u(np.add, atol, _u(np.multiply, rtol, _u(np.absolute, y)))),
                   _u(np.isfinite, y)),
                _u(np.equal, x, y))
    if equal_nan:
        result = _u(np.bitwise_or, result,
                    _u(np.bitwise_and, _u(np.isnan, x), _u(np.isnan, y)))
    return result


@implements(np.isclose)
def _isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    try:
        return _isclose_node(a, b, rtol, atol, equal_nan)
    except Unsupported:
        return Fallback("numpy.isclose", np.isclose, (a, b),
                        dict(rtol=rtol, atol=atol, equal_nan=equal_nan))


@implements(np.allclose)
def _allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Streams: a lazy isclose reduced with all; nothing large is held."""
    try:
        close = _isclose_node(a, b, rtol, atol, equal_nan)
    except Unsupported:
        return Fallback("numpy.allclose", np.allclose, (a, b),
                        dict(rtol=rtol, atol=atol, equal_nan=equal_nan))
    return Scalar(reduce(np.logical_and, close, None, bool), bool)


@implements(np.array_equal)
def _array_equal(a1, a2, equal_nan=False):
    if tuple(shape_of(a1)) != tuple(shape_of(a2)):
        return False
    try:
        eq = _u(np.equal, a1, a2)
        if equal_nan:
            eq = _u(np.bitwise_or, eq,
                    _u(np.bitwise_and, _u(np.isnan, a1), _u(np.isnan, a2)))
    except Unsupported:
        return Fallback("numpy.array_equal", np.array_equal, (a1, a2),
                        dict(equal_nan=equal_nan))
    return Scalar(reduce(np.logical_and, eq, None, bool), bool)


# --------------------------------------------------------------- NaN-aware

@implements(np.nansum)
def _nansum(a, axis=None, dtype=None, out=None, keepdims=np._NoValue, **kw):
    if out is not None or kw or not isinstance(a, Lazy):
        return Fallback("numpy.nansum", np.nansum, (a,), dict(axis=axis, dtype=dtype,
                                                             out=out, **kw))
    keep = False if keepdims is np._NoValue else keepdims
    if a.dtype.kind in "fc":
        a = _where(_u(np.isnan, a), 0, a)
    return reduce(np.add, a, axis, dtype, keep)


def _nanminmax(name, ufunc):
    def impl(a, axis=None, out=None, keepdims=np._NoValue, **kw):
        if out is not None or kw or not isinstance(a, Lazy):
            return Fallback(f"numpy.{name}", getattr(np, name), (a,),
                            dict(axis=axis, out=out, **kw))
        keep = False if keepdims is np._NoValue else keepdims
        # As NumPy: fmin/fmax reductions ignore NaN (all-NaN slices give NaN).
        return reduce(ufunc, a, axis, None, keep)
    return impl


implements(np.nanmin)(_nanminmax("nanmin", np.fmin))
implements(np.nanmax)(_nanminmax("nanmax", np.fmax))


@implements(np.nanmean)
def _nanmean(a, axis=None, dtype=None, out=None, keepdims=np._NoValue, **kw):
    if out is not None or kw or not isinstance(a, Lazy) or a.dtype.kind not in "biufc":
        return Fallback("numpy.nanmean", np.nanmean, (a,),
                        dict(axis=axis, dtype=dtype, out=out, **kw))
    keep = False if keepdims is np._NoValue else keepdims
    if a.dtype.kind not in "fc":
        # As NumPy: no NaN to skip, numpy.mean.
        return mean(a, axis, dtype, keep)
    # NumPy's nanmean: sum of non-NaN values over their count, divided
    # into the sum's dtype (float32 stays float32).
    mask = _u(np.isnan, a)
    total = reduce(np.add, _where(mask, 0, a), axis, dtype, keep)
    count = reduce(np.add, _u(np.invert, mask), axis, np.intp, keep)
    return cast(_u(np.true_divide, total, count), total.dtype)


def _nanvar(a, axis, dtype, ddof, keep):
    """numpy.nanvar, step by step as NumPy's _nanvar computes it: NaNs
    replaced by 0 and left out of the counts, the deviations squared in the
    input's dtype, slices with no degree of freedom NaN."""
    if a.dtype.kind not in "fc":
        return METHODS["var"](a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keep)
    mask = _u(np.isnan, a)
    arr = _where(mask, 0, a)
    valid = _u(np.invert, mask)
    cnt = reduce(np.add, valid, axis, np.intp, True)
    total = reduce(np.add, arr, axis, dtype, True)
    avg = cast(_u(np.true_divide, total, cnt), total.dtype)
    d = _where(mask, 0, cast(_u(np.subtract, arr, avg), a.dtype))
    if d.dtype.kind == "c":
        c = _u(np.multiply, d, _u(np.conjugate, d))
        sqr = Op(None, "real", (c.dtype,), (c,), c.shape, c.dtype.type(0).real.dtype)
    else:
        sqr = cast(_u(np.multiply, d, d), a.dtype)
    v = reduce(np.add, sqr, axis, dtype, keep)
    dof = _u(np.subtract, reduce(np.add, valid, axis, np.intp, keep), ddof)
    v = cast(_u(np.true_divide, v, dof), v.dtype)
    return _where(_u(np.less_equal, dof, 0), np.nan, v)


def _nanvarstd(name):
    def impl(a, axis=None, dtype=None, out=None, ddof=0, keepdims=np._NoValue, **kw):
        kw = {k: v for k, v in kw.items() if v is not np._NoValue}
        if out is not None or kw or not isinstance(a, Lazy) or a.dtype.kind not in "biufc":
            args = dict(axis=axis, dtype=dtype, out=out, ddof=ddof, **kw)
            if keepdims is not np._NoValue:
                args["keepdims"] = keepdims
            return Fallback(f"numpy.{name}", getattr(np, name), (a,), args)
        keep = False if keepdims is np._NoValue else keepdims
        v = _nanvar(a, axis, dtype, ddof, keep)
        if name == "nanstd":
            v = cast(_u(np.sqrt, v), v.dtype)
        return v
    return impl


implements(np.nanvar)(_nanvarstd("nanvar"))
implements(np.nanstd)(_nanvarstd("nanstd"))


@implements(np.broadcast_to)
def _broadcast_to(array, shape, subok=False):
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    node = node_of(array)
    # NumPy's checks and errors, on a stand-in of the same shape that holds
    # one element.
    stand_in = np.lib.stride_tricks.as_strided(np.zeros(1), node.shape,
                                               (0,) * len(node.shape))
    np.broadcast_to(stand_in, shape)
    if tuple(shape) == node.shape:
        return node
    return Broadcast(node, tuple(shape))


def _cumulative(name, ufunc):
    def impl(a, axis=None, dtype=None, out=None):
        if out is None and isinstance(a, Lazy):
            try:
                return cumulative(ufunc, a, axis, dtype)
            except Unsupported:
                pass
        return Fallback(f"numpy.{name}", getattr(np, name), (a,),
                        dict(axis=axis, dtype=dtype, out=out))
    return impl


implements(np.cumsum)(_cumulative("cumsum", np.add))
implements(np.cumprod)(_cumulative("cumprod", np.multiply))


def _arg(name, is_max):
    def impl(a, axis=None, out=None, *, keepdims=np._NoValue):
        keep = False if keepdims is np._NoValue else keepdims
        if out is not None or not isinstance(a, Lazy):
            return Fallback(f"numpy.{name}", getattr(np, name), (a,),
                            dict(axis=axis, out=out, keepdims=keep))
        return argreduce(is_max, a, axis, keep)
    return impl


implements(np.argmax)(_arg("argmax", True))
implements(np.argmin)(_arg("argmin", False))


# ------------------------------------------------------------------ joining

def _joined(arrays, axis, name, func, dtype=None):
    nodes = [node_of(a) for a in arrays]
    if not nodes:
        raise ValueError("need at least one array to concatenate")
    # NumPy's checks, errors and result dtype, on empty stand-ins (extent 0
    # along the joined axis, so nothing is allocated or copied).
    if len({len(n.shape) for n in nodes}) != 1:
        func([np.zeros((1,) * len(n.shape), n.dtype) for n in nodes], axis=axis)
    nd = len(nodes[0].shape) + (1 if func is np.stack else 0)
    ax = int(normalize_axis_index(axis, nd))
    stand_ins = [np.empty(tuple(0 if k == ax else s for k, s in enumerate(n.shape)),
                          n.dtype) for n in nodes]
    probe = func(stand_ins, axis=ax, dtype=dtype)
    if probe.dtype not in SUPPORTED:
        raise TypeError(f"{name}: unsupported result dtype {probe.dtype}")
    return tuple(cast(n, probe.dtype) for n in nodes), probe


@implements(np.concatenate)
def _concatenate(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    if out is not None or axis is None or casting != "same_kind":
        return Fallback("numpy.concatenate", np.concatenate, (arrays,),
                        dict(axis=axis, out=out, dtype=dtype, casting=casting))
    parts, probe = _joined(list(arrays), axis, "concatenate", np.concatenate, dtype)
    ax = int(normalize_axis_index(axis, probe.ndim))
    return leaf(Concat(parts, ax))


@implements(np.stack)
def _stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    if out is not None or casting != "same_kind":
        return Fallback("numpy.stack", np.stack, (arrays,),
                        dict(axis=axis, out=out, dtype=dtype, casting=casting))
    nodes = [node_of(a) for a in arrays]
    if not nodes:
        raise ValueError("need at least one array to stack")
    shapes = {tuple(n.shape) for n in nodes}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    nd = len(shapes.pop()) + 1
    ax = int(normalize_axis_index(axis, nd))
    return _concatenate([_expand(n, ax) for n in nodes], axis=ax, dtype=dtype)


# ------------------------------------------ dtype and shape questions

def _stand_in(x):
    """A lazy operand as a read-only NumPy view of one element with the
    operand's shape and dtype (no memory, nothing read); anything else
    unchanged.  NumPy's metadata functions answer on it exactly as on the
    array."""
    n = lazy_node(x)
    if n is None:
        return x
    return np.broadcast_to(np.zeros((), n.dtype), n.shape)


def _on_stand_ins(func):
    def impl(*args, **kwargs):
        return func(*[_stand_in(a) for a in args],
                    **{k: _stand_in(v) for k, v in kwargs.items()})
    return impl


for _f in (np.result_type, np.can_cast, np.common_type, np.iscomplexobj, np.isrealobj):
    implements(_f)(_on_stand_ins(_f))
del _f


@implements(np.min_scalar_type)
def _min_scalar_type(a, /):
    n = lazy_node(a)
    if n is not None and n.shape == ():
        # NumPy looks at the value of a 0-d array: one element is computed.
        return Scalar(n, lambda v: np.min_scalar_type(np.asarray(v, n.dtype)))
    return np.min_scalar_type(_stand_in(a))
