"""Histograms and counting: numpy.histogram, histogram2d, histogramdd,
histogram_bin_edges, bincount, digitize, searchsorted and isin.

Bin finding is elementwise and lazy: the engine's table lookups
(``Op`` nodes with a ``table``: the insertion index of each value in a
sorted in-memory table, or the table's element at an index) fused with
NumPy's own ufunc loops, written step by step as NumPy's
``numpy/lib/_histograms_impl.py`` computes them, so indices are NumPy's bit
for bit.  ``digitize``, ``searchsorted`` and ``isin`` return lazy arrays of
their input's shape and chunks.

Counting is one engine pass (``_execute.bincount``): each task counts a
group of consecutive tiles into its own partial vector (int64 counts, or
int64 / float64 sums of weights), combined pairwise in group order, so
results are the same for any thread count and memory stays at the
partials plus one tile per thread.  The histograms return NumPy arrays,
as NumPy does: they compute when called (range finding, when the range is
not given, is one more min/max pass).

NumPy's edges are its own: ``_get_bin_edges`` is called on a two-element
stand-in holding the data's computed minimum and maximum in the data's
dtype, which is all it reads for integer bins.  Sums of float weights are
pairwise by groups of tiles instead of NumPy's blocks of 65536 elements,
so they agree to rounding; counts and integer weights are exact.
"""
from __future__ import annotations

import math
import operator
import warnings

import numpy as np
from numpy._core.multiarray import _monotonicity
from numpy.lib import _histograms_impl as _nph

from ._coerce import Fallback, lazy_node, node_of
from ._dtypes import SUPPORTED
from ._execute import bincount as _count, compute, materialise, user_stacklevel
from ._nodes import Cast, Const, Full, Op, Select, leaf
from ._rewrite import index_node
from .config import current
from .functions import implements
from .reductions import reduce
from .ufuncs import apply_ufunc

__all__ = ["searchsorted", "take_table"]

_I64 = np.dtype(np.int64)
# Bins bincount counts into before it knows the greatest index.
_GUESS = 4096


def _u(ufunc, *operands):
    return apply_ufunc(ufunc, operands)


def _where(cond, a, b, dtype):
    shape = np.broadcast_shapes(*(x.shape for x in (cond, a, b) if lazy_node(x) is not None))
    ops = tuple(x if lazy_node(x) is not None else Const(np.asarray(x, dtype))
                for x in (cond, a, b))
    return Select(ops, tuple(shape), np.dtype(dtype))


def _cast(node, dtype):
    dtype = np.dtype(dtype)
    return node if node.dtype == dtype else Cast(node, dtype)


def _table(t, dtype):
    """A lookup table: 1-d, contiguous, native, of an engine dtype."""
    t = np.ascontiguousarray(np.asarray(t).astype(dtype, copy=False))
    return t if t.dtype.isnative else t.astype(t.dtype.newbyteorder("="))


def _orderable(dtype) -> bool:
    return np.dtype(dtype) in SUPPORTED and np.dtype(dtype).kind in "biuf"


def searchsorted(table, x, side="left"):
    """The node of numpy.searchsorted(table, x, side): ``table`` a sorted
    1-d ndarray, ``x`` a node, both compared in their common dtype."""
    common = np.promote_types(table.dtype, x.dtype)
    t = _table(table, common)
    return Op(None, "search_" + side, (common,), (x,), tuple(x.shape), _I64, table=t)


def take_table(table, idx):
    """The node of table[idx] (idx an int64 node, clipped to the table)."""
    t = _table(table, table.dtype)
    return Op(None, "take", (_I64,), (_cast(idx, _I64),), tuple(idx.shape), t.dtype,
              table=t)


def _in_memory(a):
    """A sorted table or test elements as an ndarray (a lazy one computed)."""
    n = lazy_node(a)
    return materialise(n) if n is not None else np.asarray(a)


def _fallback(func, *args, **kwargs):
    return Fallback(f"numpy.{func.__name__}", func, args, kwargs)


# ------------------------------------------------------------ searching

@implements(np.searchsorted)
def _np_searchsorted(a, v, side="left", sorter=None):
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right' (got {side!r})")
    t = _in_memory(a)
    if t.ndim != 1:
        raise ValueError("object too deep for desired array")
    if sorter is not None:
        t = t[np.asarray(_in_memory(sorter))]
    if lazy_node(v) is None:
        return np.searchsorted(t, v, side)   # in-memory values: NumPy's answer
    x = lazy_node(v)
    if not (_orderable(t.dtype) and _orderable(x.dtype)
            and _orderable(np.promote_types(t.dtype, x.dtype))):
        return _fallback(np.searchsorted, t, v, side)
    return searchsorted(t, x, side)


@implements(np.digitize)
def _np_digitize(x, bins, right=False):
    b = _in_memory(bins)
    xn = node_of(x)
    if xn.dtype.kind == "c":
        raise TypeError("x may not be complex")
    mono = _monotonicity(b)
    if mono == 0:
        raise ValueError("bins must be monotonically increasing or decreasing")
    if not (_orderable(b.dtype) and _orderable(np.promote_types(b.dtype, xn.dtype))):
        return _fallback(np.digitize, x, b, right)
    # As NumPy: the arguments of searchsorted are swapped, hence the sides.
    side = "left" if right else "right"
    if mono == -1:
        return _u(np.subtract, len(b), searchsorted(b[::-1], xn, side))
    return searchsorted(b, xn, side)


@implements(np.isin)
def _np_isin(element, test_elements, assume_unique=False, invert=False, *, kind=None):
    if kind not in (None, "sort", "table"):
        raise ValueError(f"Invalid kind: '{kind}'. Please use None, 'sort' or 'table'.")
    x = node_of(element)
    test = np.asarray(_in_memory(test_elements)).ravel()
    if kind == "table" and not all(d.kind in "biu" for d in (x.dtype, test.dtype)):
        raise ValueError("The 'table' method is only supported for boolean or integer "
                         "arrays. Please select 'sort' or None for kind.")
    common = np.result_type(x.dtype, test.dtype)
    if not _orderable(common) or not _orderable(test.dtype):
        return _fallback(np.isin, element, test, assume_unique, invert, kind=kind)
    if test.size == 0:
        return leaf(Full(tuple(x.shape), np.dtype(bool), np.array(bool(invert)).tobytes()))
    # Membership as NumPy's sort method finds it: an equal element in the
    # sorted, deduplicated table (NaN equals nothing).
    t = _table(np.unique(test.astype(common)), common)
    xc = _cast(x, common)
    found = _u(np.equal, take_table(t, searchsorted(t, xc, "left")), xc)
    return _u(np.logical_not, found) if invert else found


# ------------------------------------------------------------ counting

def _minmax(nodes):
    """[(min, max)] of each node, from one shared pass."""
    vals = compute([r for n in nodes for r in (reduce(np.minimum, n), reduce(np.maximum, n))])
    return [(vals[2 * i], vals[2 * i + 1]) for i in range(len(nodes))]


def _proxy(node, needs_range):
    """What NumPy's edge rules read of the data: its dtype, whether it is
    empty, and (when the range is found from the data) its extremes."""
    if math.prod(node.shape) == 0:
        return np.empty(0, node.dtype)
    if not needs_range:
        return np.zeros(1, node.dtype)
    (lo, hi), = _minmax([node])
    return np.array([lo, hi], node.dtype)


def _weights_dtype(w):
    """The engine's accumulator for weights: float64 sums for floats,
    int64 (wrapping) for integers and bools."""
    return np.dtype(np.float64) if w.dtype.kind == "f" else _I64


def _counted(index, weights, nbins, ntype):
    """bincount of an index node (outside [0, nbins) left out) as ntype."""
    if weights is None:
        return _count(index, None, nbins, _I64).astype(ntype, copy=False)
    acc = _weights_dtype(weights)
    return _count(index, _cast(weights, acc), nbins, acc).astype(ntype, copy=False)


def _uniform_index(x, edges, first, last, nb):
    """NumPy's bin of each element of x for nb equal bins (uniform path of
    numpy.histogram), -1 outside [first, last] or NaN."""
    keep = _u(np.logical_and, _u(np.greater_equal, x, first), _u(np.less_equal, x, last))
    tmp = _cast(x, edges.dtype)
    # Elements left out are given the first edge: their index is dropped.
    tmp = _where(keep, tmp, edges[0], edges.dtype)
    norm_denom = _nph._unsigned_subtract(last, first)
    dt = np.result_type(np.empty(0, tmp.dtype), first)
    f8, f4 = np.dtype(np.float64), np.dtype(np.float32)
    # NumPy's steps in one engine loop, where its dtypes are one of the
    # loop's: a subtraction in dt, then the division in q (an integer
    # range's width is an unsigned integer, exact as a float64 below 2**53).
    q = np.result_type(np.empty(0, dt), norm_denom)
    exact = np.asarray(norm_denom).dtype.kind == "f" or int(norm_denom) < 2**53
    head = None
    if edges.dtype == f8 and dt == f8 and q == f8 and exact and nb < 2**53:
        head = [np.float64(np.asarray(first).astype(dt)), np.float64(norm_denom)]
    elif edges.dtype == f4 and dt == f4 and q in (f8, f4) and exact and nb < 2**24:
        head = [np.float64(np.asarray(first).astype(dt)), np.float64(norm_denom),
                1.0 if q == f4 else 0.0]
    if head is not None:
        t = np.concatenate([np.array(head, f8), edges.astype(f8)])
        idx = Op(None, "uniform_bins", (edges.dtype,), (tmp,), tuple(tmp.shape), _I64,
                 table=t)
        return _where(keep, idx, -1, _I64)
    diff = _u(np.subtract, _cast(tmp, dt), np.asarray(first).astype(dt)[()])
    f = _u(np.multiply, _u(np.true_divide, diff, norm_denom), nb)
    idx = _cast(f, np.intp)
    idx = _where(_u(np.equal, idx, nb), _u(np.subtract, idx, 1), idx, _I64)
    dec = _u(np.less, tmp, take_table(edges, idx))
    idx = _where(dec, _u(np.subtract, idx, 1), idx, _I64)
    inc = _u(np.logical_and,
             _u(np.greater_equal, tmp, take_table(edges, _u(np.add, idx, 1))),
             _u(np.not_equal, idx, nb - 1))
    idx = _where(inc, _u(np.add, idx, 1), idx, _I64)
    return _where(keep, idx, -1, _I64)


def _edges_index(x, edges):
    """The bin of each element for explicit edges, as NumPy's cumulative
    counts give it: edges[i] <= x < edges[i+1], the last bin closed; -1
    or len(edges) - 1 outside."""
    common = np.promote_types(x.dtype, edges.dtype)
    t = _table(edges, common)
    n = len(t) - 1
    xc = _cast(x, common)
    j = _u(np.subtract, searchsorted(t, xc, "right"), 1)
    on_last = _u(np.logical_and, _u(np.equal, j, n), _u(np.equal, xc, t[-1]))
    return _where(on_last, n - 1, j, _I64)


def _subtractable(x):
    """As NumPy: a bool array is counted as uint8, with its warning."""
    if x.dtype == bool:
        warnings.warn(f"Converting input from {x.dtype} to {np.uint8} for "
                      "compatibility.", RuntimeWarning, stacklevel=user_stacklevel())
        return Cast(x, np.dtype(np.uint8))
    return x


def _check_weights(a, weights):
    if weights is None:
        return None
    w = node_of(weights)
    if tuple(w.shape) != tuple(a.shape):
        raise ValueError("weights should have the same shape as a.")
    return w


def _lazy_ok(a, w):
    return a.dtype in SUPPORTED and a.dtype.kind in "biuf" and (
        w is None or (w.dtype in SUPPORTED and w.dtype.kind in "biuf"))


@implements(np.histogram_bin_edges)
def _np_histogram_bin_edges(a, bins=10, range=None, weights=None):
    x = _subtractable(node_of(a))
    w = _check_weights(x, weights)
    if isinstance(bins, str) or not _lazy_ok(x, w):
        return _fallback(np.histogram_bin_edges, a, bins, range, weights)
    if lazy_node(bins) is not None:
        bins = materialise(lazy_node(bins))
    proxy = _proxy(x, np.ndim(bins) == 0 and range is None)
    return _nph._get_bin_edges(proxy, bins, range, None)[0]


@implements(np.histogram)
def _np_histogram(a, bins=10, range=None, density=None, weights=None):
    x = _subtractable(node_of(a))
    w = _check_weights(x, weights)
    if isinstance(bins, str) or not _lazy_ok(x, w):
        return _fallback(np.histogram, a, bins, range, density, weights)
    if lazy_node(bins) is not None:
        bins = materialise(lazy_node(bins))
    proxy = _proxy(x, np.ndim(bins) == 0 and range is None)
    edges, uniform = _nph._get_bin_edges(proxy, bins, range, None)
    ntype = np.dtype(np.intp) if w is None else w.dtype
    if uniform is not None:
        first, last, nb = uniform
        index = _uniform_index(x, edges, first, last, nb)
    else:
        nb = len(edges) - 1
        index = _edges_index(x, edges)
    n = _counted(index, w, max(nb, 0), ntype)
    if density:
        db = np.array(np.diff(edges), float)
        return n / db / n.sum(), edges
    return n, edges


@implements(np.bincount)
def _np_bincount(x, weights=None, minlength=0):
    node = node_of(x)
    if len(node.shape) != 1:
        raise ValueError("object too deep for desired array")
    if not np.can_cast(node.dtype, np.intp, "safe"):
        raise TypeError(f"Cannot cast array data from {node.dtype!r} to "
                        f"{np.dtype(np.intp)!r} according to the rule 'safe'")
    minlength = operator.index(minlength)
    if minlength < 0:
        raise ValueError("'minlength' must not be negative")
    w = None
    if weights is not None:
        w = node_of(weights)
        if tuple(w.shape) != tuple(node.shape):
            raise ValueError("The weights and list don't have the same length.")
        if not np.can_cast(w.dtype, np.double, "safe"):
            return _fallback(np.bincount, x, weights, minlength)
    rtype = np.dtype(np.intp) if w is None else np.dtype(np.float64)
    if node.shape[0] == 0:
        return np.zeros(minlength, rtype)
    idx = _cast(node, _I64)
    wt = None if w is None else _cast(w, np.float64)
    acc = _I64 if w is None else np.dtype(np.float64)
    # One pass counts into a first guess of bins and finds the extremes on
    # the way; a second one only when an index lies beyond the guess.
    # (No larger than half the budget holds, so that a budget error names
    # the bins asked for, not the guess.)
    guess = max(minlength, min(_GUESS, current().memory_limit // 16))
    ext = np.empty(2, np.int64)
    n = _count(idx, wt, guess, acc, ext)
    lo, hi = int(ext[0]), int(ext[1])
    if lo < 0:
        raise ValueError("'list' argument must have no negative elements")
    nb = max(hi + 1, minlength)
    if nb > guess:
        n = _count(idx, wt, nb, acc)
    return n[:nb].astype(rtype, copy=False)


def _columns(sample):
    """The columns of histogramdd's sample as nodes: an (N, D) lazy array,
    or a sequence of D 1-d arrays."""
    n = lazy_node(sample)
    if n is not None:
        if len(n.shape) == 1:
            return [n]
        if len(n.shape) != 2:
            raise ValueError("histogramdd takes an (N, D) sample")
        return [index_node(n, (slice(None), i)) for i in np.arange(n.shape[1]).tolist()]
    cols = [node_of(c) for c in sample]
    if any(len(c.shape) != 1 for c in cols) or len({c.shape for c in cols}) > 1:
        raise ValueError("histogramdd takes a sequence of 1-d arrays of one length")
    return cols


@implements(np.histogramdd)
def _np_histogramdd(sample, bins=10, range=None, density=None, weights=None):
    cols = _columns(sample)
    D = len(cols)
    w = None if weights is None else node_of(weights)
    if not all(_lazy_ok(c, None) for c in cols) or (w is not None and not _lazy_ok(w, None)):
        return _fallback(np.histogramdd, sample, bins, range, density, weights)
    try:
        M = len(bins)
        if M != D:
            raise ValueError("The dimension of bins must be equal to the dimension of "
                             "the sample x.")
    except TypeError:
        bins = D * [bins]
    if range is None:
        range = (None,) * D
    elif len(range) != D:
        raise ValueError("range argument must have one entry per dimension")
    # The extremes of every column whose range is found, in one pass.
    need = [i for i in np.arange(D).tolist()
            if np.ndim(bins[i]) == 0 and range[i] is None and cols[i].shape[0] > 0]
    found = dict(zip(need, _minmax([cols[i] for i in need]))) if need else {}
    edges, nbin = [], []
    for i in np.arange(D).tolist():
        if np.ndim(bins[i]) == 0:
            if bins[i] < 1:
                raise ValueError(f"`bins[{i}]` must be positive, when an integer")
            lo_hi = found.get(i)
            proxy = (np.empty(0, cols[i].dtype) if lo_hi is None
                     else np.array(lo_hi, cols[i].dtype))
            smin, smax = _nph._get_outer_edges(proxy, range[i])
            try:
                n = operator.index(bins[i])
            except TypeError as e:
                raise TypeError(f"`bins[{i}]` must be an integer, when a scalar") from e
            edges.append(np.linspace(smin, smax, n + 1))
        elif np.ndim(bins[i]) == 1:
            e = np.asarray(bins[i])
            if np.any(e[:-1] > e[1:]):
                raise ValueError(f"`bins[{i}]` must be monotonically increasing, when an "
                                 "array")
            edges.append(e)
        else:
            raise ValueError(f"`bins[{i}]` must be a scalar or 1d array")
        nbin.append(len(edges[i]) + 1)   # an outlier bin at each end
    if w is not None and tuple(w.shape) != tuple(cols[0].shape):
        raise ValueError("The weights and list don't have the same length.")
    # The flat bin of each sample, as NumPy's searchsorted (right), with
    # values on the last edge moved into the last bin, and ravel_multi_index.
    xy = None
    stride = 1
    for i in reversed(np.arange(D).tolist()):
        common = np.promote_types(edges[i].dtype, cols[i].dtype)
        t = _table(edges[i], common)
        ci = _cast(cols[i], common)
        c = searchsorted(t, ci, "right")
        c = _where(_u(np.equal, ci, t[-1]), _u(np.subtract, c, 1), c, _I64)
        term = c if stride == 1 else _u(np.multiply, c, stride)
        xy = term if xy is None else _u(np.add, term, xy)
        stride *= nbin[i]
    total = math.prod(nbin)
    if w is None:
        hist = _count(xy, None, total, _I64)
    else:
        hist = _count(xy, _cast(w, np.float64), total, np.dtype(np.float64))
    hist = hist.reshape(nbin).astype(float, casting="safe")
    hist = hist[D * (slice(1, -1),)]
    if density:
        s = hist.sum()
        for i in np.arange(D).tolist():
            shape = np.ones(D, int)
            shape[i] = nbin[i] - 2
            hist = hist / np.diff(edges[i]).reshape(shape)
        hist /= s
    return hist, edges


@implements(np.histogram2d)
def _np_histogram2d(x, y, bins=10, range=None, density=None, weights=None):
    if len(x) != len(y):
        raise ValueError("x and y must have the same length.")
    try:
        N = len(bins)
    except TypeError:
        N = 1
    if N != 1 and N != 2:
        xedges = yedges = np.asarray(bins)
        bins = [xedges, yedges]
    r = _np_histogramdd([x, y], bins, range, density, weights)
    if isinstance(r, Fallback):
        return _fallback(np.histogram2d, x, y, bins, range, density, weights)
    hist, edges = r
    return hist, edges[0], edges[1]

