"""NumPy functions on lazy arrays: ``Array.__array_function__``, and the
fallback for everything chunkwise does not evaluate lazily.

A function with a lazy implementation is registered with
``@implements(np.func)``.  Any other NumPy function (and ufunc methods such
as ``reduce``) falls back: its chunkwise inputs are materialised, NumPy runs,
and the result comes back through ``Array.__array_wrap__`` as a chunked
array, with a ``FallbackWarning`` naming the function.  Nothing computes
silently; inputs larger than ``memory_limit`` make it refuse; with
``cw.config(fallback="error")`` every fallback is an error.
"""
from __future__ import annotations

import warnings

import numpy as np

from . import _core
from ._core import MemoryBudgetError
from .config import get_config

__all__ = ["FallbackWarning", "HANDLED", "implements", "fallback"]

HANDLED: dict = {}


class FallbackWarning(UserWarning):
    """A NumPy function ran eagerly on materialised chunkwise inputs."""


def implements(*funcs):
    def deco(f):
        for func in funcs:
            HANDLED[func] = f
        return f
    return deco


def _arrays_in(obj, out):
    from .array import Array
    if isinstance(obj, Array):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            _arrays_in(x, out)
    elif isinstance(obj, dict):
        for x in obj.values():
            _arrays_in(x, out)
    return out


def _materialise(obj):
    from .array import Array
    if isinstance(obj, Array):
        return obj.compute()
    if isinstance(obj, list):
        return [_materialise(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    return obj


def _wrap(result):
    """NumPy results back as chunked arrays (``Array.__array_wrap__``)."""
    from .array import Array
    if isinstance(result, (np.ndarray, np.generic)):
        return Array.__array_wrap__(None, np.asarray(result))
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    return result


def fallback(name, call, args, kwargs):
    """Run ``call(*args, **kwargs)`` eagerly on materialised inputs."""
    cfg = get_config()
    arrays = _arrays_in((args, kwargs), [])
    if cfg["fallback"] == "error":
        raise TypeError(f"{name} has no lazy implementation in chunkwise and "
                        "cw.config(fallback='error') is set")
    need = sum(a.nbytes for a in arrays)
    if need > cfg["memory_limit"]:
        raise MemoryBudgetError(
            f"{name} has no lazy implementation and would materialise "
            f"{need / 2**20:.1f} MiB of inputs, more than memory_limit "
            f"({cfg['memory_limit'] / 2**20:.1f} MiB)")
    warnings.warn(f"{name}: no lazy implementation in chunkwise; materialising "
                  f"{len(arrays)} input{'s' if len(arrays) != 1 else ''} "
                  f"({need / 2**20:.1f} MiB) and calling NumPy",
                  FallbackWarning, stacklevel=4)
    result = call(*_materialise(args), **_materialise(kwargs))
    return _wrap(result)


# ------------------------------------------------- metadata, no computing

@implements(np.shape)
def _shape(a):
    return a.shape


@implements(np.ndim)
def _ndim(a):
    return a.ndim


@implements(np.size)
def _size(a, axis=None):
    return a.size if axis is None else a.shape[axis]


if hasattr(np, "astype"):  # NumPy >= 2.1
    @implements(np.astype)
    def _astype(x, dtype, /, *, copy=True, device=None):
        return x.astype(dtype)


# ---------------------------------------------------------------- reductions

def _reduction(method):
    def impl(a, axis=None, dtype=None, out=None, keepdims=np._NoValue, **kw):
        from .array import Array
        name = f"numpy.{method}"
        kw = {k: v for k, v in kw.items() if v is not np._NoValue}
        if out is not None or kw or not isinstance(a, Array):
            args = dict(axis=axis, out=out, **kw)
            if dtype is not None:
                args["dtype"] = dtype
            if keepdims is not np._NoValue:
                args["keepdims"] = keepdims
            return fallback(name, getattr(np, method), (a,), args)
        keep = False if keepdims is np._NoValue else keepdims
        f = getattr(a, method)
        if method in ("min", "max", "any", "all"):
            if dtype is not None:
                return fallback(name, getattr(np, method), (a,),
                                dict(axis=axis, dtype=dtype, keepdims=keep))
            return f(axis=axis, keepdims=keep)
        return f(axis=axis, dtype=dtype, keepdims=keep)
    return impl


for _m, _funcs in [("sum", [np.sum]), ("prod", [np.prod]), ("mean", [np.mean]),
                   ("min", [np.min, np.amin]), ("max", [np.max, np.amax]),
                   ("any", [np.any]), ("all", [np.all])]:
    implements(*_funcs)(_reduction(_m))


def _varstd(method):
    def impl(a, axis=None, dtype=None, out=None, ddof=0, keepdims=np._NoValue, **kw):
        from .array import Array
        kw = {k: v for k, v in kw.items() if v is not np._NoValue}
        if out is not None or kw or not isinstance(a, Array):
            args = dict(axis=axis, dtype=dtype, out=out, ddof=ddof, **kw)
            if keepdims is not np._NoValue:
                args["keepdims"] = keepdims
            return fallback(f"numpy.{method}", getattr(np, method), (a,), args)
        keep = False if keepdims is np._NoValue else keepdims
        return getattr(a, method)(axis=axis, dtype=dtype, ddof=ddof, keepdims=keep)
    return impl


implements(np.var)(_varstd("var"))
implements(np.std)(_varstd("std"))


# -------------------------------------------------------------- elementwise

def _node_of(x, dtype, wrap_scalars=False):
    """A graph node of `dtype` for an operand: Array (cast if needed),
    ndarray (wrapped without copying), or scalar (a constant; with
    `wrap_scalars` a Python int out of range wraps, as numpy.where does)."""
    from .array import Array
    from .creation import asarray
    from .graph import Cast, Const
    if isinstance(x, Array):
        return x._node if x.dtype == dtype else Cast(x._node, dtype)
    a = np.asarray(x)
    if a.ndim == 0:
        if type(x) in (int, float, bool) and not wrap_scalars:
            return Const(np.asarray(x, dtype=dtype))
        return Const(a.astype(dtype))
    arr = asarray(a)
    return arr._node if arr.dtype == dtype else Cast(arr._node, dtype)


def _shape_of(x):
    from .array import Array
    return x.shape if isinstance(x, Array) else np.shape(x)


@implements(np.where)
def _where(condition, x=None, y=None):
    from .array import Array
    from .graph import Select
    from .ufuncs import SUPPORTED_DTYPES
    if x is None and y is None:
        return fallback("numpy.where", np.where, (condition,), {})
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    def dt(v):
        return v.dtype if isinstance(v, Array) else v if type(v) in (int, float, bool) \
            else np.asarray(v).dtype
    dtype = np.result_type(dt(x), dt(y))
    if dtype not in SUPPORTED_DTYPES:
        return fallback("numpy.where", np.where, (condition, x, y), {})
    shape = np.broadcast_shapes(_shape_of(condition), _shape_of(x), _shape_of(y))
    node = Select([_node_of(condition, np.dtype(bool)), _node_of(x, dtype, True),
                   _node_of(y, dtype, True)], tuple(shape), dtype)
    return Array(node)


@implements(np.clip)
def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
          max=np._NoValue, **kwargs):
    lo = a_min if a_min is not np._NoValue else min
    hi = a_max if a_max is not np._NoValue else max
    lo = None if lo is np._NoValue else lo
    hi = None if hi is np._NoValue else hi
    if out is not None or kwargs or (lo is None and hi is None):
        return fallback("numpy.clip", np.clip, (a, lo, hi), dict(out=out, **kwargs))
    # As NumPy: one-sided clips are minimum/maximum, two-sided its clip ufunc.
    if lo is None:
        return np.minimum(a, hi)
    if hi is None:
        return np.maximum(a, lo)
    return np._core.umath.clip(a, lo, hi)


@implements(np.round, np.around)
def _round(a, decimals=0, out=None):
    from .array import Array
    if out is not None or not isinstance(a, Array):
        return fallback("numpy.round", np.round, (a,), dict(decimals=decimals, out=out))
    decimals = int(decimals)
    if a.dtype.kind in "biu":
        if decimals >= 0:
            return a
        return fallback("numpy.round", np.round, (a,), dict(decimals=decimals))
    # NumPy's PyArray_Round for floats: scale, rint, unscale.
    if decimals == 0:
        return np.rint(a)
    f = float(10.0 ** abs(decimals))
    if decimals > 0:
        return np.true_divide(np.rint(np.multiply(a, f)), f)
    return np.multiply(np.rint(np.true_divide(a, f)), f)


# ----------------------------------------------------------------- axes

def _perm(ndim, axes):
    if axes is None:
        return tuple(range(ndim))[::-1]
    axes = tuple(int(np._core.multiarray.normalize_axis_index(a, ndim)) for a in axes)
    if sorted(axes) != list(range(ndim)):
        raise ValueError("axes don't match array")
    return axes


@implements(np.transpose)
def _transpose(a, axes=None):
    return a.transpose(axes)


@implements(np.swapaxes)
def _swapaxes(a, axis1, axis2):
    return a.swapaxes(axis1, axis2)


@implements(np.moveaxis)
def _moveaxis(a, source, destination):
    from numpy.lib.array_utils import normalize_axis_tuple
    src = normalize_axis_tuple(source, a.ndim, "source")
    dst = normalize_axis_tuple(destination, a.ndim, "destination")
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have "
                         "the same number of elements")
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return a.transpose(order)


@implements(np.expand_dims)
def _expand_dims(a, axis):
    from numpy.lib.array_utils import normalize_axis_tuple
    if not isinstance(axis, (tuple, list)):
        axis = (axis,)
    nd = a.ndim + len(axis)
    axes = normalize_axis_tuple(axis, nd)
    key, it = [], 0
    for k in range(nd):
        if k in axes:
            key.append(None)
        else:
            key.append(slice(None))
            it += 1
    return a[tuple(key)]


@implements(np.squeeze)
def _squeeze(a, axis=None):
    return a.squeeze(axis)


# ---------------------------------------------------------------- compare

@implements(np.isclose)
def _isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    # NumPy 2's isclose, operation for operation.
    x, y = a, b
    if not isinstance(y, (int, float)) and np.result_type(
            getattr(y, "dtype", np.asarray(y).dtype), 1.0) != getattr(
            y, "dtype", None):
        from .array import Array
        dt = np.result_type(y.dtype if isinstance(y, Array) else np.asarray(y).dtype, 1.0)
        y = y.astype(dt) if isinstance(y, Array) else np.asarray(y, dtype=dt)
    with np.errstate(invalid="ignore"):
        result = (np.less_equal(np.abs(x - y), atol + rtol * np.abs(y))
                  & np.isfinite(y)) | (x == y)
        if equal_nan:
            result = result | (np.isnan(x) & np.isnan(y))
    return result


@implements(np.allclose)
def _allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Streams: a lazy isclose reduced with all; nothing large is held."""
    return bool(_isclose(a, b, rtol, atol, equal_nan).all())


@implements(np.array_equal)
def _array_equal(a1, a2, equal_nan=False):
    s1, s2 = _shape_of(a1), _shape_of(a2)
    if tuple(s1) != tuple(s2):
        return False
    eq = a1 == a2
    if equal_nan:
        eq = eq | (np.isnan(a1) & np.isnan(a2))
    from .array import Array
    return bool(eq.all()) if isinstance(eq, Array) else bool(np.all(eq))


# --------------------------------------------------------------- NaN-aware

@implements(np.nansum)
def _nansum(a, axis=None, dtype=None, out=None, keepdims=np._NoValue, **kw):
    from .array import Array
    if out is not None or kw or not isinstance(a, Array):
        return fallback("numpy.nansum", np.nansum, (a,), dict(axis=axis, dtype=dtype,
                                                             out=out, **kw))
    keep = False if keepdims is np._NoValue else keepdims
    if a.dtype.kind == "f":
        a = np.where(np.isnan(a), 0, a)
    return a.sum(axis=axis, dtype=dtype, keepdims=keep)


def _nanminmax(name, ufunc):
    def impl(a, axis=None, out=None, keepdims=np._NoValue, **kw):
        from .array import Array
        from .reductions import reduce
        if out is not None or kw or not isinstance(a, Array):
            return fallback(f"numpy.{name}", getattr(np, name), (a,),
                            dict(axis=axis, out=out, **kw))
        keep = False if keepdims is np._NoValue else keepdims
        # As NumPy: fmin/fmax reductions ignore NaN (all-NaN slices give NaN).
        return reduce(ufunc, a, axis, None, keep)
    return impl


implements(np.nanmin)(_nanminmax("nanmin", np.fmin))
implements(np.nanmax)(_nanminmax("nanmax", np.fmax))


@implements(np.nanmean)
def _nanmean(a, axis=None, dtype=None, out=None, keepdims=np._NoValue, **kw):
    from .array import Array
    if out is not None or kw or not isinstance(a, Array) or a.dtype.kind != "f":
        return fallback("numpy.nanmean", np.nanmean, (a,),
                        dict(axis=axis, dtype=dtype, out=out, **kw))
    keep = False if keepdims is np._NoValue else keepdims
    # NumPy's nanmean: sum of non-NaN values over their count.
    mask = np.isnan(a)
    total = np.where(mask, 0, a).sum(axis=axis, dtype=dtype, keepdims=keep)
    count = (~mask).sum(axis=axis, dtype=np.intp, keepdims=keep)
    return np.true_divide(total, count)


@implements(np.broadcast_to)
def _broadcast_to(array, shape, subok=False):
    from .array import Array
    from .graph import Broadcast
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    # NumPy's checks and errors, on a stand-in of the same shape that holds
    # one element.
    stand_in = np.lib.stride_tricks.as_strided(np.zeros(1), array.shape,
                                               (0,) * array.ndim)
    np.broadcast_to(stand_in, shape)
    if tuple(shape) == array.shape:
        return array
    return Array(Broadcast(array._node, shape))


def _cumulative(name, ufunc):
    def impl(a, axis=None, dtype=None, out=None):
        from .array import Array
        from .reductions import cumulative
        from .ufuncs import Unsupported
        if out is None and isinstance(a, Array):
            try:
                return cumulative(ufunc, a, axis, dtype)
            except Unsupported:
                pass
        return fallback(f"numpy.{name}", getattr(np, name), (a,),
                        dict(axis=axis, dtype=dtype, out=out))
    return impl


implements(np.cumsum)(_cumulative("cumsum", np.add))
implements(np.cumprod)(_cumulative("cumprod", np.multiply))


def _arg(name, is_max):
    def impl(a, axis=None, out=None, *, keepdims=np._NoValue):
        from .array import Array
        from .reductions import argreduce
        keep = False if keepdims is np._NoValue else keepdims
        if out is not None or not isinstance(a, Array):
            return fallback(f"numpy.{name}", getattr(np, name), (a,),
                            dict(axis=axis, out=out, keepdims=keep))
        return argreduce(is_max, a, axis, keep)
    return impl


implements(np.argmax)(_arg("argmax", True))
implements(np.argmin)(_arg("argmin", False))


# ------------------------------------------------------------------ joining

def _joined(arrays, axis, name, func, dtype=None):
    from .array import Array
    from .creation import asarray
    from .graph import compile_expr
    from .ufuncs import SUPPORTED_DTYPES
    arrays = [a if isinstance(a, Array) else asarray(np.asarray(a)) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    # NumPy's checks, errors and result dtype, on empty stand-ins (extent 0
    # along the joined axis, so nothing is allocated or copied).
    if len({a.ndim for a in arrays}) != 1:
        func([np.zeros((1,) * a.ndim, a.dtype) for a in arrays], axis=axis)
    nd = arrays[0].ndim + (1 if func is np.stack else 0)
    ax = int(np._core.multiarray.normalize_axis_index(axis, nd))
    stand_ins = [np.empty(tuple(0 if k == ax else n for k, n in enumerate(a.shape)),
                          a.dtype) for a in arrays]
    probe = func(stand_ins, axis=ax, dtype=dtype)
    if probe.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{name}: unsupported result dtype {probe.dtype}")
    parts = []
    for a in arrays:
        a = a.astype(probe.dtype)
        parts.append(compile_expr(a._node).as_source())
    return parts, probe


@implements(np.concatenate)
def _concatenate(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    from .array import Array
    from .graph import Leaf
    if out is not None or axis is None or casting != "same_kind":
        return fallback("numpy.concatenate", np.concatenate, (arrays,),
                        dict(axis=axis, out=out, dtype=dtype, casting=casting))
    arrays = list(arrays)
    parts, probe = _joined(arrays, axis, "concatenate", np.concatenate, dtype)
    ax = int(np._core.multiarray.normalize_axis_index(axis, probe.ndim))
    return Array(Leaf(_core.concat(parts, ax)))


@implements(np.stack)
def _stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    from .array import Array
    if out is not None or casting != "same_kind":
        return fallback("numpy.stack", np.stack, (arrays,),
                        dict(axis=axis, out=out, dtype=dtype, casting=casting))
    arrays = [a if isinstance(a, Array) else np.asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {tuple(np.shape(a)) for a in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    nd = len(shapes.pop()) + 1
    ax = int(np._core.multiarray.normalize_axis_index(axis, nd))
    expanded = [np.expand_dims(a, ax) for a in arrays]
    return _concatenate(expanded, axis=ax, dtype=dtype)


# ----------------------------------------------------------- matrix products

def matmul(a, b):
    """A lazy numpy.matmul for 1-d and 2-d operands: a source whose regions
    are computed block by block along the shared dimension, so memory stays
    at a few blocks per thread."""
    from .array import Array
    from .creation import asarray
    from .graph import Leaf, compile_expr
    from .ufuncs import SUPPORTED_DTYPES, Unsupported
    a = a if isinstance(a, Array) else asarray(np.asarray(a))
    b = b if isinstance(b, Array) else asarray(np.asarray(b))
    if a.ndim > 2 or b.ndim > 2:
        raise Unsupported("matmul of stacks of matrices")
    # NumPy's dtype and its errors on stand-ins that keep only the shared
    # dimension (a few KiB, whatever the operands' size).
    sa = (1, a.shape[1]) if a.ndim == 2 else a.shape
    sb = (b.shape[0], 1) if b.ndim == 2 else b.shape
    probe = np.matmul(np.zeros(sa, a.dtype), np.zeros(sb, b.dtype))
    dt = probe.dtype
    if dt not in SUPPORTED_DTYPES:
        raise Unsupported(f"matmul to {dt}")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    sa = compile_expr(a2.astype(dt)._node).as_source()
    sb = compile_expr(b2.astype(dt)._node).as_source()
    r = Array(Leaf(_core.matmul(sa, sb, None)))
    key = (0 if a.ndim == 1 else slice(None), 0 if b.ndim == 1 else slice(None))
    return r[key]


@implements(np.dot)
def _dot(a, b, out=None):
    from .ufuncs import Unsupported
    if out is None and np.ndim(a) in (1, 2) and np.ndim(b) in (1, 2):
        try:
            return matmul(a, b)
        except Unsupported:
            pass
    return fallback("numpy.dot", np.dot, (a, b), dict(out=out))


@implements(np.tensordot)
def _tensordot(a, b, axes=2):
    from .ufuncs import Unsupported
    # Two 2-d arrays contracted over one pair of axes: transposes and a
    # matrix product.
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        pair = None
        if axes == 1:
            pair = (1, 0)
        elif isinstance(axes, (tuple, list)) and len(axes) == 2:
            x, y = axes
            x = x if isinstance(x, (tuple, list)) else [x]
            y = y if isinstance(y, (tuple, list)) else [y]
            if len(x) == 1 and len(y) == 1:
                pair = (int(x[0]) % 2, int(y[0]) % 2)
        if pair is not None:
            try:
                aa = a if pair[0] == 1 else a.T
                bb = b if pair[1] == 0 else b.T
                return matmul(aa, bb)
            except Unsupported:
                pass
    return fallback("numpy.tensordot", np.tensordot, (a, b), dict(axes=axes))
