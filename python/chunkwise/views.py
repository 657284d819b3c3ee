"""Views, stacking, padding and generators of NumPy's array surface, lazy.

Each function here composes nodes that exist (views of sources with any
step, ``Concat``, ``Broadcast``, ``Select``, ufunc ``Op``s and the ``Full``
and ``Arange`` generators), so nothing is read until a result is computed
and only the parts a result needs are read: ``np.flip(x)[:10]`` reads the
last ten elements, ``np.pad(x, 3, mode="reflect")`` reads ``x`` once per
piece it shows.  Values, dtypes, shapes and errors are NumPy's: where NumPy
validates arguments, the same checks run here (often by calling NumPy on a
stand-in that holds no data).

Functions are registered with ``functions.implements``; array.py imports
this module so that the registrations happen.  They return nodes, or tuples
and lists of nodes (array.py wraps them), or ``Fallback`` requests for the
cases with no lazy form here (``np.repeat`` with per-element counts, which
selection.py builds on the gather source).
"""
from __future__ import annotations

import math
import operator

import numpy as np
from numpy._core._multiarray_umath import _array_converter  # linspace's own type rules
from numpy.lib._arraypad_impl import _as_pairs  # NumPy's own pad-width parsing
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from ._coerce import Fallback, cast, dtype_of, node_of, shape_of
from ._nodes import Arange, Broadcast, Concat, Full, Lazy, Reshape, leaf
from ._rewrite import index_node
from .functions import _concatenate, _u, _where, implements, transpose
from ._dtypes import check as _check_dtype

__all__ = ["flip", "concat", "full_node", "arange_node", "tri_node", "eye_node",
           "indices_node", "meshgrid_nodes", "like_node"]


# ------------------------------------------------------------------ helpers

def _along(nd, axis, key):
    """An index tuple applying ``key`` on ``axis`` of an ``nd``-d array."""
    return (slice(None),) * axis + (key,) + (slice(None),) * (nd - axis - 1)


def _take(x, axis, key):
    return index_node(x, _along(len(x.shape), axis, key))


def concat(parts, axis):
    """Nodes of one dtype joined along ``axis`` (one part: itself)."""
    parts = [p for p in parts if p.shape[axis] > 0] or parts[:1]
    if len(parts) == 1:
        return parts[0]
    return leaf(Concat(tuple(parts), axis))


def full_node(shape, dtype, value):
    """A lazy constant of ``shape``; ``value`` converted as NumPy's setitem."""
    v = np.full((), value, dtype=dtype)
    return leaf(Full(tuple(shape), v.dtype, v.tobytes()))


def arange_node(start, n, dtype=np.dtype(np.intp)):
    """start, start+1, ... (n integers) as a lazy generator."""
    return leaf(Arange(int(n), int(start), 1, 0.0, 0.0, np.dtype(dtype)))


# -------------------------------------------------------------- flips, rolls

def flip(m, axis=None):
    x = node_of(m)
    nd = len(x.shape)
    axes = range(nd) if axis is None else normalize_axis_tuple(axis, nd)
    key = [slice(None)] * nd
    for a in axes:
        key[a] = slice(None, None, -1)
    return index_node(x, tuple(key))


@implements(np.flip)
def _flip(m, axis=None):
    return flip(m, axis)


@implements(np.fliplr)
def _fliplr(m):
    if len(shape_of(m)) < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip(m, 1)


@implements(np.flipud)
def _flipud(m):
    if len(shape_of(m)) < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip(m, 0)


@implements(np.rot90)
def _rot90(m, k=1, axes=(0, 1)):
    # NumPy's rot90, step for step.
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    x = node_of(m)
    nd = len(x.shape)
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == nd:
        raise ValueError("Axes must be different.")
    if axes[0] >= nd or axes[0] < -nd or axes[1] >= nd or axes[1] < -nd:
        raise ValueError(f"Axes={axes} out of range for array of ndim={nd}.")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, axes[0]), axes[1])
    perm = list(range(nd))
    perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
    if k == 1:
        return transpose(flip(x, axes[1]), perm)
    return flip(transpose(x, perm), axes[1])


@implements(np.roll)
def _roll(a, shift, axis=None):
    x = node_of(a)
    nd = len(x.shape)
    if axis is None:
        if nd == 0:
            return x
        if nd != 1:
            # A roll of the flattened array, seen with the array's shape.
            flat = leaf(Reshape(x, (math.prod(x.shape),)))
            return leaf(Reshape(_roll(flat, shift, 0), tuple(x.shape)))
        axis = 0
    axes = normalize_axis_tuple(axis, nd, allow_duplicate=True)
    pairs = np.broadcast(shift, axes)
    if pairs.ndim > 1:
        raise ValueError("'shift' and 'axis' should be scalars or 1D sequences")
    shifts = [0] * nd
    for sh, ax in pairs:
        shifts[ax] += int(sh)
    for ax, sh in enumerate(shifts):
        n = x.shape[ax]
        if n == 0 or sh % n == 0:
            continue
        s = sh % n
        x = concat([_take(x, ax, slice(n - s, n)), _take(x, ax, slice(0, n - s))], ax)
    return x


# ------------------------------------------------------------------ splitting

def _split(ary, indices_or_sections, axis, equal):
    x = node_of(ary)
    nd = len(x.shape)
    axis = operator.index(axis)
    ax = int(normalize_axis_index(axis, nd))
    total = x.shape[ax]
    try:
        len(indices_or_sections)
    except TypeError:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.") from None
        if equal and total % sections:
            raise ValueError("array split does not result in an equal division") from None
        each, extras = divmod(total, sections)
        sizes = [each + 1] * extras + [each] * (sections - extras)
        points = [0]
        for s in sizes:
            points.append(points[-1] + s)
    else:
        points = [0] + [operator.index(i) for i in indices_or_sections] + [total]
    return [_take(x, ax, slice(points[i], points[i + 1])) for i in range(len(points) - 1)]


@implements(np.array_split)
def _array_split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, False)


@implements(np.split)
def _split_f(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, True)


@implements(np.hsplit)
def _hsplit(ary, indices_or_sections):
    nd = len(shape_of(ary))
    if nd == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return _split(ary, indices_or_sections, 1 if nd > 1 else 0, True)


@implements(np.vsplit)
def _vsplit(ary, indices_or_sections):
    if len(shape_of(ary)) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return _split(ary, indices_or_sections, 0, True)


@implements(np.dsplit)
def _dsplit(ary, indices_or_sections):
    if len(shape_of(ary)) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return _split(ary, indices_or_sections, 2, True)


if hasattr(np, "unstack"):  # NumPy >= 2.1
    @implements(np.unstack)
    def _unstack(x, /, *, axis=0):
        n = node_of(x)
        if not n.shape:
            raise ValueError("Input array must be at least 1-d.")
        ax = int(normalize_axis_index(axis, len(n.shape)))
        return tuple(_take(n, ax, i) for i in range(n.shape[ax]))


# ----------------------------------------------------------------- dimensions

def _atleast(x, nd):
    x = node_of(x)
    k = len(x.shape)
    if k >= nd:
        return x
    if nd == 3 and k == 1:
        return index_node(x, (None, slice(None), None))
    if nd == 3 and k == 2:
        return index_node(x, (Ellipsis, None))
    return index_node(x, (None,) * (nd - k) + (Ellipsis,))


def _atleast_f(nd):
    def impl(*arys):
        res = tuple(_atleast(a, nd) for a in arys)
        return res[0] if len(res) == 1 else res
    return impl


implements(np.atleast_1d)(_atleast_f(1))
implements(np.atleast_2d)(_atleast_f(2))
implements(np.atleast_3d)(_atleast_f(3))


@implements(np.broadcast_arrays)
def _broadcast_arrays(*args, subok=False):
    nodes = [node_of(a) for a in args]
    shape = tuple(np.broadcast_shapes(*(n.shape for n in nodes)))
    return tuple(n if n.shape == shape else Broadcast(n, shape) for n in nodes)


def matrix_transpose(x):
    x = node_of(x)
    nd = len(x.shape)
    if nd < 2:
        raise ValueError(f"Input array must be at least 2-dimensional, but it is {nd}")
    perm = list(range(nd))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return transpose(x, perm)


if hasattr(np, "matrix_transpose"):  # NumPy >= 2.0
    implements(np.matrix_transpose)(matrix_transpose)


# ------------------------------------------------------------------- stacking

def _seq(tup, name):
    if not isinstance(tup, (list, tuple)):
        raise TypeError("arrays to stack must be passed as a sequence type "
                        "such as list or tuple.")
    return list(tup)


def _join(parts, axis, dtype, casting, name, func, tup):
    if casting != "same_kind":
        return Fallback(f"numpy.{name}", func, (tup,), dict(dtype=dtype, casting=casting))
    return _concatenate(parts, axis=axis, dtype=dtype)


@implements(np.hstack)
def _hstack(tup, *, dtype=None, casting="same_kind"):
    arrs = [_atleast(a, 1) for a in _seq(tup, "hstack")]
    axis = 0 if arrs and len(arrs[0].shape) == 1 else 1
    return _join(arrs, axis, dtype, casting, "hstack", np.hstack, tup)


@implements(np.vstack)
def _vstack(tup, *, dtype=None, casting="same_kind"):
    arrs = [_atleast(a, 2) for a in _seq(tup, "vstack")]
    return _join(arrs, 0, dtype, casting, "vstack", np.vstack, tup)


@implements(np.dstack)
def _dstack(tup):
    arrs = [_atleast(a, 3) for a in _seq(tup, "dstack")]
    return _concatenate(arrs, axis=2)


@implements(np.column_stack)
def _column_stack(tup):
    arrs = []
    for v in _seq(tup, "column_stack"):
        x = node_of(v)
        if len(x.shape) < 2:
            x = transpose(_atleast(x, 2))
        arrs.append(x)
    return _concatenate(arrs, axis=1)


def _block_depth(arrays, index=()):
    if type(arrays) is tuple:
        raise TypeError(f"arrays is a tuple. Only lists can be used to arrange "
                        f"blocks, and np.block does not allow implicit conversion "
                        f"from tuple to ndarray.")
    if type(arrays) is list:
        if not arrays:
            raise ValueError(f"List at arrays{''.join(f'[{i}]' for i in index)} "
                             "cannot be empty")
        depths = {_block_depth(a, index + (i,)) for i, a in enumerate(arrays)}
        if len(depths) != 1:
            raise ValueError("List depths are mismatched.")
        return depths.pop() + 1
    return 0


def _block_ndim(arrays):
    if type(arrays) is list:
        return max(_block_ndim(a) for a in arrays)
    return len(shape_of(arrays))


def _block_build(arrays, depth, nd):
    if type(arrays) is list:
        parts = [_block_build(a, depth - 1, nd) for a in arrays]
        return _concatenate(parts, axis=-depth)
    x = node_of(arrays)
    return index_node(x, (None,) * (nd - len(x.shape)) + (Ellipsis,))


@implements(np.block)
def _block(arrays):
    depth = _block_depth(arrays)
    nd = max(depth, _block_ndim(arrays))
    if depth == 0:
        return node_of(arrays)
    return _block_build(arrays, depth, nd)


@implements(np.tile)
def _tile(A, reps):
    try:
        tup = tuple(reps)
    except TypeError:
        tup = (reps,)
    tup = tuple(operator.index(r) for r in tup)
    x = node_of(A)
    nd = max(len(tup), len(x.shape))
    x = _atleast(x, 0) if len(x.shape) >= nd else index_node(
        x, (None,) * (nd - len(x.shape)) + (Ellipsis,))
    tup = (1,) * (nd - len(tup)) + tup
    for ax, r in enumerate(tup):
        if r < 0:
            raise ValueError("negative dimensions are not allowed")
        if r == 0:
            x = _take(x, ax, slice(0, 0))
        elif r > 1:
            x = leaf(Concat((x,) * r, ax))
    return x


_REPEAT_PARTS = 4096


def repeat(a, repeats, axis=None):
    x = node_of(a)
    if axis is None and not x.shape:
        x = index_node(x, (None,))
    if axis is None and len(x.shape) != 1:
        x = leaf(Reshape(x, (math.prod(x.shape),)))  # C order, as NumPy flattens
    if np.ndim(repeats) != 0:
        # Per-element counts need a gather.
        return Fallback("numpy.repeat", np.repeat, (a, repeats), dict(axis=axis))
    r = operator.index(repeats)
    if r < 0:
        raise ValueError("repeats may not contain negative values.")
    ax = 0 if axis is None else int(normalize_axis_index(axis, len(x.shape)))
    n = x.shape[ax]
    if r == 1:
        return x
    if r == 0 or n == 0:
        return _take(x, ax, slice(0, 0))
    if n > _REPEAT_PARTS:
        return Fallback("numpy.repeat", np.repeat, (a, repeats), dict(axis=axis))
    # Each element along the axis, broadcast r times: one part per element.
    shape = list(x.shape)
    shape[ax] = r
    parts = [Broadcast(_take(x, ax, slice(i, i + 1)), tuple(shape)) for i in range(n)]
    return leaf(Concat(tuple(parts), ax))


@implements(np.repeat)
def _repeat(a, repeats, axis=None):
    return repeat(a, repeats, axis)


# -------------------------------------------------------------------- padding

def _periodic(x, ax, lo, hi, mode):
    """Indices lo..hi-1 (relative to the axis' start; may be outside it) of
    ``x`` extended periodically as mode wrap, reflect or symmetric, as
    runs of views."""
    n = x.shape[ax]
    if mode == "wrap":
        period, segs = n, [(0, n, 0, 1)]
    elif mode == "reflect":
        period = 2 * (n - 1)
        segs = [(0, n, 0, 1), (n, period, n - 2, -1)]
    else:
        period = 2 * n
        segs = [(0, n, 0, 1), (n, period, n - 1, -1)]
    parts = []
    i = lo
    while i < hi:
        p = i % period
        for s0, s1, src, step in segs:
            if s0 <= p < s1:
                take = min(s1 - p, hi - i)
                first = src + step * (p - s0)
                last = first + step * (take - 1)
                if step == 1:
                    parts.append(_take(x, ax, slice(first, last + 1)))
                else:
                    parts.append(_take(x, ax, slice(first, last - 1 if last else None, -1)))
                i += take
                break
    return parts


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


@implements(np.pad)
def _pad(array, pad_width, mode="constant", **kwargs):
    x = node_of(array)
    nd = len(x.shape)
    if callable(mode) or mode not in _PAD_MODES or set(kwargs) - {
            "constant_values", "reflect_type"} or kwargs.get("reflect_type", "even") != "even":
        return Fallback("numpy.pad", np.pad, (array, pad_width), dict(mode=mode, **kwargs))
    if "constant_values" in kwargs and mode != "constant":
        raise ValueError(f"unsupported keyword arguments for mode '{mode}': "
                         f"{{'constant_values'}}")
    if "reflect_type" in kwargs and mode not in ("reflect", "symmetric"):
        raise ValueError(f"unsupported keyword arguments for mode '{mode}': "
                         f"{{'reflect_type'}}")
    if isinstance(pad_width, dict):
        # NumPy >= 2.3: {axis: width or (before, after)}, others unpadded.
        pairs = [(0, 0)] * nd
        for ax, w in pad_width.items():
            w = np.broadcast_to(np.asarray(w), (2,))
            pairs[normalize_axis_index(ax, nd)] = (w[0], w[1])
        pad_width = pairs
    pw = np.asarray(pad_width)
    if pw.dtype.kind not in "iu":
        raise TypeError("`pad_width` must be of integral type.")
    widths = _as_pairs(pw, nd, as_index=True)
    values = _as_pairs(kwargs.get("constant_values", 0), nd) if mode == "constant" else None
    for ax, (before, after) in enumerate(widths):
        before, after = int(before), int(after)
        if before == 0 and after == 0:
            continue
        n = x.shape[ax]
        if mode == "constant":
            pieces = []
            for w, v in ((before, values[ax][0]), (after, values[ax][1])):
                shape = list(x.shape)
                shape[ax] = w
                pieces.append(full_node(shape, x.dtype, v))
            x = concat([pieces[0], x, pieces[1]], ax)
            continue
        if n == 0:
            raise ValueError(f"can't extend empty axis {ax} using modes other than "
                             "'constant' or 'empty'")
        if mode == "edge" or (mode in ("reflect", "symmetric") and n == 1):
            shape = list(x.shape)
            lo, hi = list(shape), list(shape)
            lo[ax], hi[ax] = before, after
            x = concat([Broadcast(_take(x, ax, slice(0, 1)), tuple(lo)), x,
                        Broadcast(_take(x, ax, slice(n - 1, n)), tuple(hi))], ax)
            continue
        x = concat(_periodic(x, ax, -before, 0, mode) + [x]
                   + _periodic(x, ax, n, n + after, mode), ax)
    return x


# ------------------------------------------------------------- triangles, eye

def tri_node(N, M, k, dtype):
    """numpy.tri: ones at and below diagonal k, as a lazy comparison."""
    rows = index_node(arange_node(0, N), (slice(None), None))
    cols = index_node(arange_node(-k, M), (None, slice(None)))
    return cast(_u(np.greater_equal, rows, cols), dtype)


def eye_node(N, M, k, dtype):
    rows = index_node(arange_node(0, N), (slice(None), None))
    cols = index_node(arange_node(-k, M), (None, slice(None)))
    return cast(_u(np.equal, rows, cols), dtype)


def _triangle(m, k, lower):
    x = node_of(m)
    if not x.shape:
        np.tril(np.zeros(()))  # NumPy's error for a 0-d input
    if len(x.shape) < 2:
        # NumPy broadcasts a 1-d input against the triangle.
        x = _atleast(x, 2)
        x = Broadcast(x, (x.shape[-1], x.shape[-1]))
    N, M = x.shape[-2:]
    k = operator.index(k)
    mask = tri_node(N, M, k if lower else k - 1, np.dtype(bool))
    if lower:
        return _where(mask, x, np.zeros(1, x.dtype)[0])
    return _where(mask, np.zeros(1, x.dtype)[0], x)


@implements(np.tril)
def _tril(m, k=0):
    return _triangle(m, k, True)


@implements(np.triu)
def _triu(m, k=0):
    return _triangle(m, k, False)


# ------------------------------------------------------------- like, indices

def like_node(a, dtype, shape, value):
    if shape is None:
        shape = tuple(shape_of(a))
    elif isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    else:
        shape = tuple(operator.index(s) for s in shape)
    dt = _check_dtype(dtype_of(a) if dtype is None else dtype)
    v = np.empty((), dt)
    np.copyto(v, value, casting="unsafe")
    return leaf(Full(shape, dt, v.tobytes()))


def _likes(value):
    def impl(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        return like_node(a, dtype, shape, value)
    return impl


implements(np.zeros_like)(_likes(0))
implements(np.ones_like)(_likes(1))
implements(np.empty_like)(_likes(0))


@implements(np.full_like)
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *,
               device=None):
    return like_node(a, dtype, shape, fill_value)


def indices_node(dimensions, dtype, sparse):
    dims = tuple(operator.index(d) for d in dimensions)
    nd = len(dims)
    dt = np.dtype(dtype)
    out = []
    for i, d in enumerate(dims):
        idx = index_node(cast(arange_node(0, d), dt),
                         (None,) * i + (slice(None),) + (None,) * (nd - i - 1))
        out.append(idx if sparse else (idx if idx.shape == dims else Broadcast(idx, dims)))
    if sparse:
        return tuple(out)
    if not out:
        return full_node((0,), dt, 0)
    return _concatenate([index_node(o, (None, Ellipsis)) for o in out], axis=0)


def meshgrid_nodes(xi, sparse, indexing):
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    nd = len(xi)
    out = []
    for i, x in enumerate(xi):
        x = node_of(x)
        if len(x.shape) > 1:
            return None
        x = _atleast(x, 1)
        out.append(index_node(x, (None,) * i + (slice(None),) + (None,) * (nd - i - 1)))
    if indexing == "xy" and nd > 1:
        out[0] = transpose(out[0], [1, 0] + list(range(2, nd)))
        out[1] = transpose(out[1], [1, 0] + list(range(2, nd)))
    if not sparse:
        out = list(_broadcast_arrays(*out))
    return tuple(out)


@implements(np.meshgrid)
def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    res = meshgrid_nodes(xi, sparse, indexing)
    if res is None:
        return Fallback("numpy.meshgrid", np.meshgrid, xi,
                        dict(copy=copy, sparse=sparse, indexing=indexing))
    return res


# ------------------------------------------------------- elementwise helpers

@implements(np.nan_to_num)
def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    n = node_of(x)
    if n.dtype.kind != "f":
        return n
    info = np.finfo(n.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    r = _where(_u(np.isnan, n), np.asarray(nan).astype(n.dtype)[()], n)
    r = _where(_isposinf(n), np.asarray(posinf).astype(n.dtype)[()], r)
    return _where(_isneginf(n), np.asarray(neginf).astype(n.dtype)[()], r)


@implements(np.isposinf)
def _isposinf(x, out=None):
    if out is not None:
        return Fallback("numpy.isposinf", np.isposinf, (x,), dict(out=out))
    return _u(np.logical_and, _u(np.isinf, x), _u(np.logical_not, _u(np.signbit, x)))


@implements(np.isneginf)
def _isneginf(x, out=None):
    if out is not None:
        return Fallback("numpy.isneginf", np.isneginf, (x,), dict(out=out))
    return _u(np.logical_and, _u(np.isinf, x), _u(np.signbit, x))


@implements(np.sinc)
def _sinc(x):
    # NumPy's sinc: x = pi * x; y = where(x, x, eps); sin(y) / y.
    x = _u(np.multiply, np.pi, x)
    eps = np.finfo(x.dtype).eps if x.dtype.kind == "f" else 1e-20
    y = _where(_u(np.not_equal, x, 0), x, eps)
    return _u(np.true_divide, _u(np.sin, y), y)


@implements(np.fix)
def _fix(x, out=None):
    if out is not None or not isinstance(x, Lazy):
        return Fallback("numpy.fix", np.fix, (x,), dict(out=out))
    return _u(np.trunc, x)


# --------------------------------------------------- logspace and geomspace

def _line_node(start, stop, num, endpoint, dt):
    """numpy.linspace's values for 0-d ``start``/``stop`` in inexact ``dt``,
    operation for operation: arange * step (or / div * delta when the step
    underflows) + start, the last element set to stop."""
    div = (num - 1) if endpoint else num
    delta = np.subtract(stop, start, dtype=type(dt))
    y = leaf(Arange(num, 0, 0, 0.0, 1.0, dt))
    if div > 0:
        step = delta / div
        if step == 0:
            y = _u(np.multiply, _u(np.true_divide, y, np.asarray(div, dt)[()]), delta)
        else:
            y = _u(np.multiply, y, step)
    else:
        y = _u(np.multiply, y, delta)
    y = cast(_u(np.add, y, np.asarray(start).astype(dt)[()]), dt)
    if endpoint and num > 1:
        y = concat([index_node(y, (slice(0, num - 1),)), full_node((1,), dt, stop)], 0)
    return y


def _scalars(*vals):
    for v in vals:
        a = np.asarray(v)
        if a.ndim or a.dtype.kind not in "biuf":
            raise TypeError("start, stop and base must be real scalars (arrays of "
                            "them have no lazy form here)")
    return vals


def logspace_node(start, stop, num, endpoint, base, dtype):
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    start, stop, base = _scalars(start, stop, base)
    # NumPy's linspace types: Python scalars weak, then made inexact.
    conv = _array_converter(start, stop)
    start, stop = conv.as_arrays()
    dt = conv.result_type(ensure_inexact=True)
    if type(base) not in (int, float):
        base = np.asarray(base)
    r = _u(np.power, base, _line_node(start, stop, num, endpoint, dt))
    return r if dtype is None else cast(r, _check_dtype(dtype))


def geomspace_node(start, stop, num, endpoint, dtype):
    num = operator.index(num)
    start, stop = (np.asarray(v) for v in _scalars(start, stop))
    if start == 0 or stop == 0:
        raise ValueError("Geometric sequence cannot include zero")
    dt = np.result_type(start, stop, float(num),
                        np.zeros((), dtype) if dtype is not None else np.zeros(()))
    start, stop = start.astype(dt), stop.astype(dt)
    sign = np.sign(start)
    start = start / sign
    stop = stop / sign
    r = logspace_node(np.log10(start), np.log10(stop), num, endpoint, 10.0, dt)
    if num > 0:
        ends = [full_node((1,), dt, start)]
        mid = index_node(r, (slice(1, num - 1 if num > 1 and endpoint else num),))
        if num > 1:
            ends.append(mid)
            if endpoint:
                ends.append(full_node((1,), dt, stop))
        r = concat(ends, 0)
    r = cast(_u(np.multiply, r, sign), dt)
    return r if dtype is None else cast(r, _check_dtype(dtype))


# ------------------------------------------- creation through like=Array

def _dims(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(operator.index(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError("negative dimensions are not allowed")
    return shape


@implements(np.eye)
def _eye(N, M=None, k=0, dtype=float, order="C", *, device=None, like=None):
    N = operator.index(N)
    M = N if M is None else operator.index(M)
    _dims((N, M))
    return eye_node(N, M, operator.index(k), _check_dtype(dtype))


@implements(np.identity)
def _identity(n, dtype=None, *, like=None):
    return _eye(n, dtype=float if dtype is None else dtype)


@implements(np.tri)
def _tri(N, M=None, k=0, dtype=float, *, like=None):
    N = operator.index(N)
    M = N if M is None else operator.index(M)
    _dims((N, M))
    return tri_node(N, M, operator.index(k), _check_dtype(dtype))


def _filled(value):
    def impl(shape, dtype=float, order="C", *, device=None, like=None):
        return full_node(_dims(shape), _check_dtype(dtype), value)
    return impl


implements(np.zeros)(_filled(0))
implements(np.ones)(_filled(1))
implements(np.empty)(_filled(0))


@implements(np.full)
def _full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    if np.ndim(fill_value) != 0:
        return Fallback("numpy.full", np.full, (shape, fill_value),
                        dict(dtype=dtype, order=order))
    v = np.full((), fill_value, dtype=dtype)
    return full_node(_dims(shape), _check_dtype(v.dtype), v)
