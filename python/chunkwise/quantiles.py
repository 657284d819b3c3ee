"""Order statistics: numpy.percentile, quantile, median, their nan forms,
partition and argpartition.

Over the whole array (``axis=None``, or every axis) nothing is sorted in
full and the input is never held: the order statistics NumPy's formula
reads are found by selection passes.  One pass counts the values, their
NaNs and their extremes; each following pass counts the values per bin
of explicit edges (the engine's table search and bincount, as
numpy.histogram with given bins does), so the bin holding each needed
rank is known exactly and becomes its new bracket.  Edges are spread
evenly over the bracket's order-preserving integer keys (the bit pattern
of a float, the value of an integer), so a bracket narrows by the number
of bins per pass whatever the values' spread.  Once the elements of every
bracket fit in a small share of ``memory_limit`` they are extracted with
one lazy boolean mask (``x[mask]``) and sorted in memory; a bracket
holding one value only (ties) needs no extraction.  NumPy's own helpers
(``_QuantileMethods``, ``_get_indexes``, ``_get_gamma``, ``_lerp``, and
numpy.median on the middle values) then make the result from those few
values, so it is NumPy's bit for bit.

Along axes that are not all of them, the array is rechunked so those
axes are whole in every block, and NumPy's function runs per block
(map_blocks): the result is lazy.  A block must hold the reduced axes of
at least one output element within a quarter of ``memory_limit`` per
thread, else MemoryBudgetError says so.  ``weights=`` is NumPy's, on the
materialised inputs (a FallbackWarning); ``overwrite_input`` changes
nothing.  When the compaction of the extraction mask does not fit the
budget, brackets are narrowed to one value each instead (more counting
passes, no extraction).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.lib import _function_base_impl as _fb

from ._coerce import Fallback, array_leaf, lazy_node, node_of
from ._core import MemoryBudgetError
from ._dtypes import SUPPORTED
from ._execute import bincount as _count, compute, materialise
from ._nodes import Cast
from .array import wrap
from .blocks import map_blocks
from .config import current
from .functions import implements
from .histograms import searchsorted
from .rechunk import rechunk
from .reductions import reduce
from .ufuncs import apply_ufunc

__all__ = ["order_statistics"]

_I64 = np.dtype(np.int64)
_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _u(ufunc, *operands):
    return apply_ufunc(ufunc, operands)


# ------------------------------------------------------------ keys

def _key(v, dtype) -> int:
    """An order-preserving integer of value v (zeros of both signs alike)."""
    if dtype.kind != "f":
        return int(v)
    v = np.asarray(v, dtype)
    if v == 0:
        v = np.zeros((), dtype)
    bits = int(v.view(_UINT[dtype.itemsize]))
    top = 1 << (8 * dtype.itemsize - 1)
    return bits | top if bits < top else (2 * top - 1) ^ bits


def _values(keys, dtype) -> np.ndarray:
    """The values of integer keys (inverse of _key), sorted and distinct."""
    if dtype.kind != "f":
        return np.unique(np.array(keys, dtype))
    top = 1 << (8 * dtype.itemsize - 1)
    bits = [k ^ top if k >= top else (2 * top - 1) ^ k for k in keys]
    return np.unique(np.array(bits, _UINT[dtype.itemsize]).view(dtype))


def _edges(lo, hi, m, dtype) -> np.ndarray:
    """About m + 1 edges from lo to hi (both included): for floats half
    even in value (typical data) and half even in key space (values
    spread over many magnitudes), for integers even in value."""
    kl, kh = _key(lo, dtype), _key(hi, dtype)
    step = max(1, m if dtype.kind != "f" else m // 2)
    keyed = _values([kl + (kh - kl) * i // step for i in range(step + 1)], dtype)
    if dtype.kind != "f" or not (np.isfinite(lo) and np.isfinite(hi)):
        return keyed
    with np.errstate(all="ignore"):
        even = np.linspace(float(lo), float(hi), step + 1).astype(dtype)
    even = even[np.isfinite(even) & (even >= lo) & (even <= hi)]
    return np.unique(np.concatenate([keyed, even]))


def _single(lo, hi, dtype) -> bool:
    """Whether no value lies strictly between lo and hi (zeros alike)."""
    kl, kh = _key(lo, dtype), _key(hi, dtype)
    if kh - kl <= 1:
        return True
    between = _values(list(range(kl + 1, min(kh, kl + 3))), dtype)
    return not np.any((between > lo) & (between < hi))


# ------------------------------------------------------------ selection

def _selected(x, ranks, n, lo, hi):
    """The values of ranks (ints in [0, n)) of node x in sorted order
    (NaN last), x's valid values spanning [lo, hi]: {rank: value}."""
    cfg = current()
    dtype = x.dtype
    item = dtype.itemsize
    # Elements extracted at once, and bins counted per pass, within
    # memory_limit (a partial count vector per thread).
    room = max(1024, cfg.memory_limit // (8 * item))
    nbins = int(min(1 << 16, max(256, cfg.memory_limit // (64 * max(cfg.threads, 1)))))
    found = {}
    if lo == hi:
        return {r: lo for r in ranks}
    # A bracket: [lo, hi) in values, elements below it, its element count,
    # its ranks.  The first is [lo, hi] closed: the values equal to hi are
    # the last bin of the table.
    pending = [(lo, hi, 0, n, sorted(ranks))]
    ready = []
    per = max(1, room // max(1, len(ranks)))
    while pending:
        # Bins enough for each bracket's elements to fit after this pass
        # (a small table searches fastest), at most nbins in all.
        m = max(2, nbins // len(pending))
        parts = [_edges(b[0], b[1], min(m, max(16, 1 << (4 * b[3] // max(per, 1))
                                               .bit_length())), dtype)
                 for b in pending]
        t = np.unique(np.concatenate(parts))
        idx = searchsorted(t, x, "right")
        counts = _count(idx, None, len(t) + 1, _I64)
        cs = np.cumsum(counts)
        nxt = []
        groups = {}
        for b, part in zip(pending, parts):
            for r in b[4]:
                j = int(np.searchsorted(cs, r, "right"))
                if j >= len(t):           # equal to the greatest edge: the maximum
                    found[r] = t[-1]
                    continue
                groups.setdefault(j, []).append(r)
        for j, rs in sorted(groups.items()):
            blo, bhi, below, c = t[j - 1], t[j], int(cs[j - 1]), int(counts[j])
            if _single(blo, bhi, dtype):       # one value in [blo, bhi): known
                for r in rs:
                    found[r] = blo
            elif c <= per:
                ready.append((blo, bhi, below, c, rs))
            else:
                nxt.append((blo, bhi, below, c, rs))
        pending = nxt
        if ready and not pending:
            try:
                found.update(_extracted(x, ready))
            except MemoryBudgetError:
                # The mask's compaction does not fit: narrow every bracket
                # to one value instead (a few more counting passes).
                pending, per = ready, -1
            ready = []
    return found


def _extracted(x, ready):
    """The ranks of brackets small enough to hold: one masked pass."""
    ready.sort(key=lambda b: b[0])
    bounds = []
    for b in ready:
        if bounds and bounds[-1] == b[0]:
            bounds[-1] = b[1]                 # adjacent brackets: one interval
        else:
            bounds += [b[0], b[1]]
    t = np.array(bounds, x.dtype)
    inside = _u(np.equal, _u(np.bitwise_and, searchsorted(t, x, "right"), 1), 1)
    vals = np.sort(np.asarray(wrap(x)[wrap(inside)]).ravel())
    out = {}
    for blo, _, below, _, rs in ready:
        start = int(np.searchsorted(vals, blo, "left"))
        for r in rs:
            out[r] = vals[start + r - below]
    return out


def _summary(x):
    """(valid count, NaN count, least and greatest valid value)."""
    if x.dtype.kind != "f":
        lo, hi = compute([reduce(np.minimum, x), reduce(np.maximum, x)])
        return math.prod(x.shape), 0, lo[()], hi[()]
    nans = reduce(np.add, _u(np.isnan, x), dtype=_I64)
    lo, hi, k = compute([reduce(np.fmin, x), reduce(np.fmax, x), nans])
    k = int(k)
    return math.prod(x.shape) - k, k, lo[()], hi[()]


def _gather(x, ranks, n, lo, hi, dtype):
    """The sorted-order values at ``ranks`` as an ndarray of dtype."""
    uniq = sorted({int(r) for r in ranks})
    got = _selected(x, uniq, n, lo, hi)
    return np.array([got[r] for r in uniq], x.dtype).astype(dtype), uniq


def _at(vals, uniq, idx, n):
    """vals at positions idx (NumPy's indexes, -1 the last) as NumPy's
    arr[idx] / take(arr, idx) give them."""
    pos = np.searchsorted(np.array(uniq, np.intp), np.asarray(idx) % n)
    return vals[pos]


def _whole_quantile(x, q, method, weak_q, n, lo, hi, dtype):
    """NumPy's _quantile on the 1-d sorted valid values, from the few
    order statistics it reads (no NaN among them)."""
    props = _fb._QuantileMethods[method]
    vi = np.asanyarray(props["get_virtual_index"](n, q))
    if props["fix_gamma"] is None:
        integers = True
    else:
        integers = method == "linear" and np.issubdtype(vi.dtype, np.integer)
    if integers:
        vals, uniq = _gather(x, vi.ravel() % n, n, lo, hi, dtype)
        return np.take(vals, np.searchsorted(np.array(uniq, np.intp), vi % n), axis=0)
    prev, nxt = _fb._get_indexes(np.empty(0, dtype), vi, n)
    vals, uniq = _gather(x, np.concatenate([prev.ravel(), nxt.ravel()]) % n, n, lo, hi,
                         dtype)
    previous, following = _at(vals, uniq, prev, n), _at(vals, uniq, nxt, n)
    gamma = _fb._get_gamma(vi, prev, props)
    gamma = float(gamma) if weak_q else gamma.reshape(vi.shape)
    return _fb._lerp(previous, following, gamma)


def _whole(kind, nan, x, q, method, weak_q, keepdims, ndim):
    """The order statistic over every element (ndarray or NumPy scalar)."""
    dtype = x.dtype
    sel = Cast(x, np.dtype(np.uint8)) if dtype == bool else x
    n, nans, lo, hi = _summary(sel)
    if nans and not nan or n == 0:
        # NaN propagates, or nothing is valid: NumPy's answer (and warning)
        # on one NaN of the dtype has the same dtype and shape.
        proxy = np.full((1,) * ndim, np.nan, dtype)
        return _numpy(kind, nan)(proxy, *(() if kind == "median" else (q,)),
                                 **_kw(kind, method, keepdims, None))
    if kind == "median":
        h = n // 2
        vals, _ = _gather(sel, [h - 1, h] if n % 2 == 0 else [h], n, lo, hi, dtype)
        r = np.median(vals)
    else:
        r = _whole_quantile(sel, q, method, weak_q, n, lo, hi, dtype)
    if keepdims:
        r = np.asanyarray(r)[(Ellipsis,) + (np.newaxis,) * ndim]
    return r


# ------------------------------------------------------------ dispatch

def _numpy(kind, nan):
    return {("median", False): np.median, ("median", True): np.nanmedian,
            ("quantile", False): np.quantile, ("quantile", True): np.nanquantile,
            ("percentile", False): np.percentile,
            ("percentile", True): np.nanpercentile}[(kind, nan)]


def _kw(kind, method, keepdims, axis):
    kw = {"axis": axis, "keepdims": keepdims}
    if kind != "median":
        kw["method"] = method
    return kw


def _fits(nbytes) -> bool:
    cfg = current()
    return nbytes * 4 <= cfg.memory_limit // max(1, cfg.threads)


def order_statistics(kind, nan, a, q, axis, out, method, keepdims, weights):
    """numpy.<kind> (nan-form if nan) of a chunkwise array."""
    func = _numpy(kind, nan)
    qa = () if kind == "median" else (q,)
    node = node_of(a)
    lazy_ok = node.dtype in SUPPORTED and node.dtype.kind in "biuf"
    if not lazy_ok or weights is not None or len(node.shape) == 0:
        kw = {} if kind == "median" else {"weights": weights}
        kw.update(_kw(kind, method, keepdims, axis))
        return Fallback(f"numpy.{func.__name__}", func, (a,) + qa, dict(out=out, **kw))
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
    shape, dtype = tuple(node.shape), node.dtype
    ndim = len(shape)
    if math.prod(shape) == 0:    # NumPy's own warnings, errors and shapes
        return func(np.empty(shape, dtype), *qa, out=out, **_kw(kind, method, keepdims, axis))
    # NumPy checks the arguments and gives the result's dtype on a probe.
    probe = np.zeros((1,) * ndim, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.asarray(func(probe, *qa, **_kw(kind, method, keepdims, axis)))
    axes = tuple(range(ndim)) if axis is None else np.lib.array_utils.normalize_axis_tuple(
        axis, ndim)
    if len(axes) == ndim:
        weak_q = type(q) in (int, float)
        qn = None
        if kind == "percentile":
            qn = np.true_divide(q, 100, out=...)
        elif kind == "quantile":
            qn = np.asanyarray(q)
        r = _whole(kind, nan, node, qn, method, weak_q, keepdims, ndim)
        if keepdims and axis is not None:
            r = np.asanyarray(r).reshape(ref.shape)
        if out is not None:
            np.copyto(out, r, casting="same_kind")
            return out
        # A reduction over every axis is an Array, as a sum is (0-d for a
        # scalar q); its passes ran above.
        return array_leaf(np.asarray(r))
    res = _along(func, node, qa, axes, method, keepdims, kind, ref.dtype)
    if out is not None:
        return materialise(res, out)
    return res


def _along(func, node, qa, axes, method, keepdims, kind, rdtype):
    """Per block along whole axes: a lazy result."""
    x = wrap(node)
    whole = math.prod(x.shape[d] for d in axes) * x.dtype.itemsize
    cfg = current()
    if not _fits(whole):
        raise MemoryBudgetError(
            f"numpy.{func.__name__}: the reduced axes {axes} hold {whole / 2**20:.1f} MiB "
            f"per output element, more than a quarter of memory_limit per thread "
            f"({cfg.memory_limit / 2**20:.1f} MiB over {cfg.threads} threads); use "
            f"axis=None (computed by selection passes) or raise memory_limit to at least "
            f"{4 * whole * cfg.threads / 2**20:.0f} MiB")
    limit = max(whole, cfg.memory_limit // (4 * max(1, cfg.threads)))
    chunks = {d: (-1 if d in axes else "auto") for d in range(x.ndim)}
    xr = rechunk(x, chunks, block_size_limit=limit)
    kw = _kw(kind, method, keepdims, axes)
    qshape = np.shape(qa[0]) if qa else ()

    def block(b):
        return np.asarray(func(b, *qa, **kw), rdtype)

    out_chunks = [(s,) for s in qshape]
    for d in range(x.ndim):
        if d not in axes:
            out_chunks.append(xr.chunks[d])
        elif keepdims:
            out_chunks.append((1,))
    drop = [] if keepdims else list(axes)
    return map_blocks(block, xr, dtype=rdtype, drop_axis=drop or None,
                      new_axis=list(range(len(qshape))) or None,
                      chunks=tuple(out_chunks))._node


# ------------------------------------------------------------ NumPy's names

@implements(np.quantile)
def _np_quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                 keepdims=False, *, weights=None):
    return order_statistics("quantile", False, a, q, axis, out, method, keepdims, weights)


@implements(np.percentile)
def _np_percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                   keepdims=False, *, weights=None):
    return order_statistics("percentile", False, a, q, axis, out, method, keepdims,
                            weights)


@implements(np.nanquantile)
def _np_nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                    keepdims=False, *, weights=None):
    return order_statistics("quantile", True, a, q, axis, out, method, keepdims, weights)


@implements(np.nanpercentile)
def _np_nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                      keepdims=False, *, weights=None):
    return order_statistics("percentile", True, a, q, axis, out, method, keepdims,
                            weights)


@implements(np.median)
def _np_median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return order_statistics("median", False, a, None, axis, out, "linear", keepdims, None)


@implements(np.nanmedian)
def _np_nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return order_statistics("median", True, a, None, axis, out, "linear", keepdims, None)


def _partition(func, a, kth, axis, kind, order):
    node = node_of(a)
    if order is not None or node.dtype not in SUPPORTED or node.dtype.kind not in "biuf" \
            or len(node.shape) == 0:
        return Fallback(f"numpy.{func.__name__}", func, (a, kth),
                        dict(axis=axis, kind=kind, order=order))
    shape, dtype = tuple(node.shape), node.dtype
    kth = np.asarray(materialise(lazy_node(kth)) if lazy_node(kth) is not None else kth)
    if axis is None:
        nbytes = math.prod(shape) * max(dtype.itemsize, 8)
        if nbytes * 2 > current().memory_limit:
            raise MemoryBudgetError(
                f"numpy.{func.__name__} with axis=None sorts all {nbytes / 2**20:.1f} MiB "
                f"in memory, more than half of memory_limit "
                f"({current().memory_limit / 2**20:.1f} MiB); partition along an axis")
        return array_leaf(func(materialise(node).ravel(), kth, kind=kind))
    ax = np.lib.array_utils.normalize_axis_index(axis, len(shape))
    # NumPy checks kth and gives the dtype on one row of the axis.
    probe = np.zeros(tuple(s if d == ax else 1 for d, s in enumerate(shape)), dtype)
    rdtype = func(probe, kth, axis=ax, kind=kind).dtype
    if not _fits(shape[ax] * max(dtype.itemsize, 8)):
        raise MemoryBudgetError(
            f"numpy.{func.__name__}: axis {ax} of length {shape[ax]} does not fit a task "
            f"within memory_limit; raise memory_limit")
    x = wrap(node)
    limit = max(shape[ax] * 8, current().memory_limit // (4 * max(1, current().threads)))
    xr = rechunk(x, {d: (-1 if d == ax else "auto") for d in range(len(shape))},
                 block_size_limit=limit)

    def block(b):
        return func(b, kth, axis=ax, kind=kind)

    return map_blocks(block, xr, dtype=rdtype)._node


@implements(np.partition)
def _np_partition(a, kth, axis=-1, kind="introselect", order=None):
    return _partition(np.partition, a, kth, axis, kind, order)


@implements(np.argpartition)
def _np_argpartition(a, kth, axis=-1, kind="introselect", order=None):
    return _partition(np.argpartition, a, kth, axis, kind, order)
