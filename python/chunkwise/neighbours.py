"""Differences, neighbourhoods and the small reductions NumPy writes over
them, lazily: ``diff``, ``ediff1d``, ``gradient``, ``convolve``,
``correlate``, ``trapezoid``, ``cumulative_sum``, ``cumulative_prod``,
``nancumsum``, ``nancumprod``, ``ptp``,
``average``, ``nanprod``, ``nanargmin`` and ``nanargmax``.

Each follows NumPy's own code step by step on Arrays: shifted lazy slices
(``x[1:] - x[:-1]``), joined with lazy ``concatenate``, so a result reads
only the chunks its part shows plus the edge (halo) of each neighbour.
``convolve``/``correlate`` run NumPy's ``convolve`` on each block widened by
the kernel's length (``map_overlap``) and on the two edges, so every output
is the same dot product NumPy computes, in the same order.
"""
from __future__ import annotations


import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from .array import Array
from .blocks import map_blocks, map_overlap
from .creation import asarray, full, zeros
from .functions import implements

__all__ = []


def _lazy(x):
    return x if isinstance(x, Array) else asarray(x)


def _at(nd, axis, s):
    key = [slice(None)] * nd
    key[axis] = s
    return tuple(key)


def _join(parts, axis):
    parts = [p for p in parts if p is not None]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis)


# ---------------------------------------------------------------- diff

@implements(np.diff)
def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    a = _lazy(a)
    nd = a.ndim
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = normalize_axis_index(axis, nd)
    combined = []
    for extra, last in ((prepend, False), (append, True)):
        if extra is np._NoValue:
            continue
        extra = extra if isinstance(extra, Array) else np.asanyarray(extra)
        if extra.ndim == 0:
            shape = list(a.shape)
            shape[axis] = 1
            extra = np.broadcast_to(extra, tuple(shape))
        combined.append((last, _lazy(extra)))
    if combined:
        a = np.concatenate([e for last, e in combined if not last] + [a]
                           + [e for last, e in combined if last], axis)
    op = np.not_equal if a.dtype == np.bool_ else np.subtract
    hi, lo = _at(nd, axis, slice(1, None)), _at(nd, axis, slice(None, -1))
    if a.shape[axis] <= n:  # empty along axis; one step gives the dtype
        none = _at(nd, axis, slice(0, 0))
        return op(a[none], a[none])
    if n == 1:
        for _ in range(n):
            a = op(a[hi], a[lo])
        return a
    # Repeated differences as one expression would hold 2**n terms: NumPy's
    # own diff runs on each block widened by n elements (each output needs
    # only its n following neighbours, computed by the same operations).
    depth = {k: (n if k == axis else 0) for k in range(nd)}
    out = map_overlap(_diff_block, a, depth=depth, boundary="none",
                      dtype=np.diff(np.zeros(n + 1, a.dtype), n).dtype, n=n, axis=axis)
    return out[_at(nd, axis, slice(0, a.shape[axis] - n))]


def _diff_block(w, n, axis):
    """NumPy's diff of one widened block at the block's own positions
    (out[k] starts at w[k]); the tail is filler that the caller cuts off."""
    out = np.zeros(w.shape, np.diff(np.zeros(n + 1, w.dtype), n).dtype)
    if w.shape[axis] > n:
        out[_at(w.ndim, axis, slice(0, w.shape[axis] - n))] = np.diff(w, n, axis)
    return out


@implements(np.ediff1d)
def _ediff1d(ary, to_end=None, to_begin=None):
    ary = np.ravel(_lazy(ary))
    dtype_req = ary.dtype
    if to_begin is None and to_end is None:
        return ary[1:] - ary[:-1]
    parts = []
    for name, extra in (("to_begin", to_begin), ("to_end", to_end)):
        if extra is None:
            parts.append(None)
            continue
        extra = extra if isinstance(extra, Array) else np.asanyarray(extra)
        probe = extra if isinstance(extra, np.ndarray) else np.zeros(0, extra.dtype)
        if not np.can_cast(probe, dtype_req, casting="same_kind"):
            raise TypeError(f"dtype of `{name}` must be compatible "
                            "with input `ary` under the `same_kind` rule.")
        parts.append(np.ravel(_lazy(extra)).astype(dtype_req))
    if ary.dtype == np.bool_:
        raise TypeError("numpy boolean subtract, the `-` operator, is not supported, "
                        "use the bitwise_xor, the `^` operator, or the logical_xor "
                        "function instead.")
    # NumPy subtracts into an array of ary's dtype (same_kind casting).
    d = np.subtract(ary[1:], ary[:-1])
    if not np.can_cast(d.dtype, dtype_req, casting="same_kind"):
        raise TypeError(f"Cannot cast ufunc 'subtract' output from {d.dtype!r} to "
                        f"{dtype_req!r} with casting rule 'same_kind'")
    return _join([parts[0], d.astype(dtype_req), parts[1]], 0)


# ------------------------------------------------------------- gradient

def _spacing(varargs, f, axes):
    """NumPy's spacings: per axis a scalar or the differences of 1-d
    coordinates (in memory; a constant one becomes its scalar)."""
    n = len(varargs)
    if n == 0:
        return [1.0] * len(axes)
    if n == 1 and np.ndim(varargs[0]) == 0:
        return list(varargs) * len(axes)
    if n != len(axes):
        raise TypeError("invalid number of arguments")
    dx = list(varargs)
    for i, distances in enumerate(dx):
        distances = np.asanyarray(distances)
        if distances.ndim == 0:
            continue
        if distances.ndim != 1:
            raise ValueError("distances must be either scalars or 1d")
        if len(distances) != f.shape[axes[i]]:
            raise ValueError("when 1d, distances must match "
                             "the length of the corresponding dimension")
        if np.issubdtype(distances.dtype, np.integer):
            distances = distances.astype(np.float64)
        diffx = np.diff(distances)
        if (diffx == diffx[0]).all():
            diffx = diffx[0]
        dx[i] = diffx
    return dx


def _gradient_axis(f, axis, ax_dx, edge_order, otype):
    nd = f.ndim
    at = lambda s: f[_at(nd, axis, s)]  # noqa: E731
    shape = [1] * nd
    shape[axis] = -1
    if np.ndim(ax_dx) == 0:
        inner = (at(slice(2, None)) - at(slice(None, -2))) / (2. * ax_dx)
    else:
        dx1, dx2 = ax_dx[0:-1], ax_dx[1:]
        a = (-(dx2) / (dx1 * (dx1 + dx2))).reshape(shape)
        b = ((dx2 - dx1) / (dx1 * dx2)).reshape(shape)
        c = (dx1 / (dx2 * (dx1 + dx2))).reshape(shape)
        inner = a * at(slice(None, -2)) + b * at(slice(1, -1)) + c * at(slice(2, None))
    uniform = np.ndim(ax_dx) == 0
    if edge_order == 1:
        first = (at(slice(1, 2)) - at(slice(0, 1))) / (ax_dx if uniform else ax_dx[0])
        last = (at(slice(-1, None)) - at(slice(-2, -1))) / (ax_dx if uniform else ax_dx[-1])
    else:
        if uniform:
            a, b, c = -1.5 / ax_dx, 2. / ax_dx, -0.5 / ax_dx
        else:
            dx1, dx2 = ax_dx[0], ax_dx[1]
            a = -(2. * dx1 + dx2) / (dx1 * (dx1 + dx2))
            b = (dx1 + dx2) / (dx1 * dx2)
            c = - dx1 / (dx2 * (dx1 + dx2))
        first = a * at(slice(0, 1)) + b * at(slice(1, 2)) + c * at(slice(2, 3))
        if uniform:
            a, b, c = 0.5 / ax_dx, -2. / ax_dx, 1.5 / ax_dx
        else:
            dx1, dx2 = ax_dx[-2], ax_dx[-1]
            a = (dx2) / (dx1 * (dx1 + dx2))
            b = - (dx2 + dx1) / (dx1 * dx2)
            c = (2. * dx2 + dx1) / (dx2 * (dx1 + dx2))
        last = a * at(slice(-3, -2)) + b * at(slice(-2, -1)) + c * at(slice(-1, None))
    # NumPy assigns each part into an array of otype (unsafe casting).
    return _join([first.astype(otype), inner.astype(otype), last.astype(otype)], axis)


@implements(np.gradient)
def _gradient(f, *varargs, axis=None, edge_order=1):
    f = _lazy(f)
    nd = f.ndim
    axes = tuple(range(nd)) if axis is None else normalize_axis_tuple(axis, nd)
    dx = _spacing(varargs, f, axes)
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    otype = f.dtype
    if otype.kind in "mM":
        raise TypeError("chunkwise does not support datetime arrays")
    if not np.issubdtype(otype, np.inexact):
        if np.issubdtype(otype, np.integer):
            f = f.astype(np.float64)
        otype = np.dtype(np.float64)
    outvals = []
    for ax, ax_dx in zip(axes, dx):
        if f.shape[ax] < edge_order + 1:
            raise ValueError(
                "Shape of array too small to calculate a numerical gradient, "
                "at least (edge_order + 1) elements are required.")
        outvals.append(_gradient_axis(f, ax, ax_dx, edge_order, otype))
    return outvals[0] if len(axes) == 1 else tuple(outvals)


# ------------------------------------------------- convolve, correlate

def _valid_block(w, kernel):
    """NumPy's valid convolution of one widened block, placed at the
    block's own positions (out[k] starts at w[k]); the tail is filler that
    the caller cuts off."""
    out = np.zeros(w.shape, np.result_type(w, kernel))
    if w.shape[0] >= kernel.shape[0]:
        v = np.convolve(w, kernel, "valid")
        out[:v.shape[0]] = v
    return out


def _edge(w, kernel, part, m):
    full = np.convolve(w, kernel, "full")
    return full[:m - 1] if part == "left" else full[-(m - 1):]


def _raw(x, kernel, mode, dtype):
    """``numpy.convolve(x, kernel, mode)`` for len(x) >= len(kernel): the
    valid outputs by blocks widened by len(kernel)-1, the partial dots of
    'full' and 'same' from the first and last len(kernel) elements."""
    n, m = x.shape[0], kernel.shape[0]
    x = x.astype(dtype)
    kernel = kernel.astype(dtype)
    mid = map_overlap(_valid_block, x, depth=m - 1, boundary="none", dtype=dtype,
                      kernel=kernel)[:n - m + 1]
    if mode == "valid" or m == 1:
        return mid
    left = map_blocks(_edge, x[:m], kernel=kernel, part="left", m=m, dtype=dtype,
                      drop_axis=0, new_axis=0, chunks=(m - 1,))
    right = map_blocks(_edge, x[n - m:], kernel=kernel, part="right", m=m, dtype=dtype,
                       drop_axis=0, new_axis=0, chunks=(m - 1,))
    full_ = np.concatenate([left, mid, right])
    if mode == "full":
        return full_
    start = (m - 1) // 2
    return full_[start:start + n]


def _kernel(v):
    return np.asarray(v.compute() if isinstance(v, Array) else v)


def _mode(mode):
    modes = {"valid": "valid", "same": "same", "full": "full", 0: "valid", 1: "same",
             2: "full", "v": "valid", "s": "same", "f": "full"}
    if isinstance(mode, str) and mode.lower() in modes:
        return modes[mode.lower()]
    if isinstance(mode, int) and mode in modes:
        return modes[mode]
    # NumPy's own error.
    np.convolve([1], [1], mode)
    raise ValueError(f"mode must be one of 'valid', 'same' or 'full', got {mode!r}")


def _corr(a, v, mode, name):
    """NumPy's correlate of the longer input with the shorter one (the
    kernel, held in memory), as ``_pyarray_correlate`` swaps them."""
    mode = _mode(mode)
    # NumPy takes both as at least 1-d.
    a, v = (x.reshape(1) if np.ndim(x) == 0 and isinstance(x, Array)
            else np.reshape(x, 1) if np.ndim(x) == 0 else x for x in (a, v))
    for arg in (a, v):
        if np.ndim(arg) != 1:
            raise ValueError("object too deep for desired array")
    la, lv = np.shape(a)[0], np.shape(v)[0]
    if la == 0:
        raise ValueError("a cannot be empty")
    if lv == 0:
        raise ValueError("v cannot be empty")
    dtype = np.result_type(np.zeros(0, _dt(a)), np.zeros(0, _dt(v)))
    if dtype.kind in "OSUVMm":
        return None
    if dtype == np.bool_:
        return None
    if name == "convolve":
        if lv > la:
            a, v = v, a
        return _raw(_lazy(a), _kernel(v), mode, dtype)
    v = np.conjugate(v) if dtype.kind == "c" else v
    if lv <= la:
        return _raw(_lazy(a), _kernel(v)[::-1], mode, dtype)
    return _raw(_lazy(v), _kernel(a)[::-1], mode, dtype)[::-1]


def _dt(x):
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


@implements(np.convolve)
def _convolve(a, v, mode="full"):
    out = _corr(a, v, mode, "convolve")
    return np.convolve(np.asarray(a), np.asarray(v), mode) if out is None else out


@implements(np.correlate)
def _correlate(a, v, mode="valid"):
    out = _corr(a, v, mode, "correlate")
    return np.correlate(np.asarray(a), np.asarray(v), mode) if out is None else out


# ----------------------------------------------------------- trapezoid

@implements(np.trapezoid)
def _trapezoid(y, x=None, dx=1.0, axis=-1):
    y = _lazy(y)
    if x is None:
        d = dx
    else:
        x = _lazy(x)
        if x.ndim == 1:
            d = np.diff(x)
            shape = [1] * y.ndim
            shape[axis] = d.shape[0]
            d = d.reshape(shape)
        else:
            d = np.diff(x, axis=axis)
    nd = y.ndim
    axis_ = normalize_axis_index(axis, nd)
    s1, s2 = _at(nd, axis_, slice(1, None)), _at(nd, axis_, slice(None, -1))
    return (d * (y[s1] + y[s2]) / 2.0).sum(axis)


# ------------------------------------------------------- accumulations

def _cumulative_func(x, name, axis, dtype, out, include_initial):
    if out is not None:
        return None
    x = _lazy(x)
    if x.ndim == 0:
        x = x.reshape(1)    # as NumPy: atleast_1d
    if axis is None:
        if x.ndim > 1:
            raise ValueError("For arrays which have more than one dimension "
                             "``axis`` argument is required.")
        axis = 0
    axis = normalize_axis_index(axis, x.ndim)
    func = np.cumsum if name == "cumulative_sum" else np.cumprod
    res = func(x, axis=axis, dtype=dtype)
    if not include_initial:
        return res
    shape = list(res.shape)
    shape[axis] = 1
    init = (zeros if name == "cumulative_sum" else _ones)(tuple(shape), res.dtype)
    return np.concatenate([init, res], axis)


def _ones(shape, dtype):
    return full(shape, 1, dtype)


if hasattr(np, "cumulative_sum"):
    @implements(np.cumulative_sum)
    def _cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        r = _cumulative_func(x, "cumulative_sum", axis, dtype, out, include_initial)
        return r if r is not None else np.cumulative_sum(
            np.asarray(x), axis=axis, dtype=dtype, out=out, include_initial=include_initial)

    @implements(np.cumulative_prod)
    def _cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        r = _cumulative_func(x, "cumulative_prod", axis, dtype, out, include_initial)
        return r if r is not None else np.cumulative_prod(
            np.asarray(x), axis=axis, dtype=dtype, out=out, include_initial=include_initial)


def _replace_nan(a, value):
    a = _lazy(a)
    if a.dtype.kind in "fc":
        return np.where(np.isnan(a), a.dtype.type(value), a), True
    return a, False


def _nancum(name, value):
    def impl(a, axis=None, dtype=None, out=None):
        if out is not None:
            return getattr(np, name)(np.asarray(a), axis=axis, dtype=dtype, out=out)
        a, _ = _replace_nan(a, value)
        return (np.cumsum if value == 0 else np.cumprod)(a, axis=axis, dtype=dtype)
    return impl


implements(np.nancumsum)(_nancum("nancumsum", 0))
implements(np.nancumprod)(_nancum("nancumprod", 1))


# ------------------------------------------------- small reductions

@implements(np.ptp)
def _ptp(a, axis=None, out=None, keepdims=np._NoValue):
    a = _lazy(a)
    keep = False if keepdims is np._NoValue else keepdims
    if out is not None:
        return np.ptp(np.asarray(a), axis=axis, out=out, keepdims=keep)
    return np.subtract(np.max(a, axis=axis, keepdims=keep),
                       np.min(a, axis=axis, keepdims=keep))


def _weights(weights, a, axis):
    """NumPy's _weights_are_valid, the weights broadcast along a lazily."""
    wgt = _lazy(weights)
    if a.shape != wgt.shape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        if wgt.shape != tuple(a.shape[ax] for ax in axis):
            raise ValueError("Shape of weights must be consistent with "
                             "shape of a along specified axis.")
        # setup wgt to broadcast along axis
        wgt = np.moveaxis(wgt.reshape(wgt.shape + (1,) * (a.ndim - wgt.ndim)),
                          tuple(range(len(axis))), axis)
    return wgt


@implements(np.average)
def _average(a, axis=None, weights=None, returned=False, *, keepdims=np._NoValue):
    a = _lazy(a)
    if axis is not None:
        axis = normalize_axis_tuple(axis, a.ndim, argname="axis")
    kw = {} if keepdims is np._NoValue else {"keepdims": keepdims}
    if weights is None:
        avg = a.mean(axis, **kw)
        scl = avg.dtype.type(a.size / avg.size)
    else:
        wgt = _weights(weights, a, axis)
        if issubclass(a.dtype.type, (np.integer, np.bool_)):
            result_dtype = np.result_type(a.dtype, wgt.dtype, "f8")
        else:
            result_dtype = np.result_type(a.dtype, wgt.dtype)
        scl = wgt.sum(axis=axis, dtype=result_dtype, **kw)
        if bool(np.any(scl == 0.0)):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = np.multiply(a, wgt, dtype=result_dtype).sum(axis, **kw) / scl
    if not returned:
        return avg
    if np.shape(scl) != avg.shape:
        scl = np.broadcast_to(scl, avg.shape) if isinstance(scl, Array) \
            else full(avg.shape, scl, avg.dtype)
    return avg, scl


@implements(np.nanprod)
def _nanprod(a, axis=None, dtype=None, out=None, keepdims=np._NoValue, **kw):
    keep = False if keepdims is np._NoValue else keepdims
    if out is not None or kw:
        return np.nanprod(np.asarray(a), axis=axis, dtype=dtype, out=out, keepdims=keep,
                          **kw)
    a, _ = _replace_nan(a, 1)
    return np.prod(a, axis=axis, dtype=dtype, keepdims=keep)


def _nanarg(name):
    func = np.argmin if name == "nanargmin" else np.argmax

    def impl(a, axis=None, out=None, *, keepdims=np._NoValue):
        keep = False if keepdims is np._NoValue else keepdims
        if out is not None:
            return getattr(np, name)(np.asarray(a), axis=axis, out=out, keepdims=keep)
        a = _lazy(a)
        if a.dtype.kind in "fc":
            mask = np.isnan(a)
            # NumPy's check, computed now: a slice of NaN only has no answer.
            if a.size and bool(np.any(np.all(mask, axis=axis))):
                raise ValueError("All-NaN slice encountered")
            fill = np.inf if name == "nanargmin" else -np.inf
            a = np.where(mask, a.dtype.type(fill), a)
        if a.size == 0 and axis is None:
            raise ValueError(f"attempt to get {func.__name__} of an empty sequence")
        return func(a, axis=axis, keepdims=keep)
    return impl


implements(np.nanargmin)(_nanarg("nanargmin"))
implements(np.nanargmax)(_nanarg("nanargmax"))
