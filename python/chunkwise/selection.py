"""Reshapes and NumPy's advanced indexing on lazy arrays.

- ``reshape`` (``x.reshape``, ``np.reshape``, ``ravel``, ``flatten``): a
  ``Reshape`` source over the node, C order; a region of it reads only the
  input chunks holding its elements.
- ``getitem``: basic indexing (ints, slices, None, Ellipsis) composes views
  (_rewrite.index_node); integer arrays and boolean masks become a
  ``Gather`` source, whose regions read only the chunks holding selected
  elements.  Index arrays broadcast together, and the broadcast axes go
  where NumPy puts them: in place of the advanced indices when these are
  adjacent, first otherwise.  A lazy index or mask is computed first (a
  mask after a counting pass sizes what it selects), within memory_limit.

Index tables are data: the engine borrows them, Python never loops over
elements.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from numpy.lib.array_utils import normalize_axis_index

from ._coerce import Scalar, array_leaf, lazy_node, node_of
from ._core import MemoryBudgetError
from ._execute import materialise
from ._nodes import Cast, Full, Gather, Lazy, Leaf, Reshape, leaf
from ._rewrite import index_node
from .config import current, size_text
from .functions import HANDLED, implements, transpose
from .reductions import reduce

__all__ = ["reshape", "ravel", "getitem", "count_nonzero", "nonzero", "take", "diagonal"]


# ----------------------------------------------------------------- reshape

def _newshape(size, shape):
    if isinstance(shape, (int, np.integer)) or hasattr(shape, "__index__"):
        shape = (shape,)
    shape = tuple(operator.index(s) for s in shape)
    unknown = [k for k, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise ValueError("can only specify one unknown dimension")
    if any(s < -1 for s in shape):
        raise ValueError("negative dimensions not allowed")
    known = math.prod(s for s in shape if s != -1)
    if unknown:
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape "
                             f"{_fmt(shape)}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    elif known != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {_fmt(shape)}")
    return shape


def _fmt(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _order(order):
    if order in ("F", "A", "K"):
        raise NotImplementedError(f"order={order!r} is not supported on chunkwise "
                                  "arrays: only C order (order='C')")
    if order not in ("C", None):
        raise ValueError(f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")


def reshape(x, shape, order="C"):
    """A lazy ``numpy.reshape(x, shape)`` in C order."""
    _order(order)
    node = node_of(x)
    shape = _newshape(math.prod(node.shape), shape)
    if shape == tuple(node.shape):
        return node
    # A reshape of a whole reshape is one reshape of its input (composite
    # sources nest 8 deep at most in the engine).
    while isinstance(node, Leaf) and isinstance(node.spec, Reshape) and \
            node.view.is_whole(node.spec.shape):
        node = node.spec.node
    if shape == tuple(node.shape):
        return node
    return leaf(Reshape(node, shape))


def ravel(x, order="C"):
    node = node_of(x)
    return reshape(node, (math.prod(node.shape),), order)


@implements(np.reshape)
def _np_reshape(a, /, shape=None, order="C", *, newshape=None, copy=None):
    if shape is None:
        shape = newshape
    if shape is None:
        raise TypeError("reshape() missing required argument 'shape'")
    if copy is False:
        raise ValueError("a chunkwise reshape is a new lazy array, not a view "
                         "(copy=False cannot be honoured)")
    return reshape(a, shape, order)


@implements(np.ravel)
def _np_ravel(a, order="C"):
    return ravel(a, order)


# ---------------------------------------------------------------- indexing

def _is_advanced(k):
    return (isinstance(k, (list, np.ndarray, Lazy)) or
            (isinstance(k, tuple)) or isinstance(k, (bool, np.bool_)))


def _computed(x, what):
    """A lazy index or mask as an ndarray, computed within memory_limit."""
    node = lazy_node(x)
    if node is None:
        return np.asarray(x)
    limit = current().memory_limit
    nbytes = math.prod(node.shape) * node.dtype.itemsize
    if nbytes > limit:
        raise MemoryBudgetError(
            f"a lazy {what} of {size_text(nbytes)} is larger than memory_limit "
            f"({size_text(limit)})")
    return materialise(node)


def _lazy_nonzero(node):
    """``numpy.nonzero`` of a lazy bool node (at least 1-d), as ndarrays.

    A counting pass sizes the result first: its index arrays must fit
    memory_limit.  A mask that fits memory_limit too is computed whole; a
    larger one is seen flattened, in blocks of ``b`` elements (padded with
    False): one pass counts each block, and only the blocks holding
    selected elements are computed, as many at a time as fit a quarter of
    memory_limit, so the mask is never held whole and only the chunks of
    its inputs under those blocks are read again."""
    limit = current().memory_limit
    size, k = math.prod(node.shape), len(node.shape)
    count = int(materialise(count_nonzero(node)))
    need = count * 8 * (k + 1)
    if need > limit:
        raise MemoryBudgetError(
            f"a boolean mask selecting {count} elements needs {size_text(need)} of "
            f"indices, more than memory_limit ({size_text(limit)})")
    if count == 0:
        return tuple(np.zeros(0, np.intp) for _ in range(k))
    if need + size <= limit:
        return np.nonzero(materialise(node))
    b = max(min(1 << 16, max(1 << 10, limit // 64)), -(-size * 32 // limit))
    nb = -(-size // b)
    flat = ravel(node)
    if nb * b > size:
        pad = leaf(Full((nb * b - size,), np.dtype(bool), b"\x00"))
        flat = HANDLED[np.concatenate]([flat, pad], axis=0)
    blocks = reshape(flat, (nb, b))
    hit = np.flatnonzero(materialise(count_nonzero(blocks, axis=1)))
    group = max(1, (limit // 4) // b)
    found = []
    for start in range(0, len(hit), group):      # passes within memory_limit
        rows = hit[start:start + group]
        r, off = np.nonzero(materialise(getitem(blocks, (rows,))))
        found.append(rows[r] * b + off)
    return np.unravel_index(np.concatenate(found), node.shape)


def _mask_indices(item, dims, shape):
    """The integer index arrays (np.nonzero) a boolean mask stands for,
    found in bounded memory when the mask is lazy (_lazy_nonzero)."""
    node = lazy_node(item)
    if node is not None:
        _check_mask(node.shape, dims, shape)
        if node.shape:
            return list(_lazy_nonzero(node))
        item = materialise(node)
    item = np.asarray(item)
    _check_mask(item.shape, dims, shape)
    return list(np.nonzero(item)) if item.ndim else [item]


def _check_mask(mshape, dims, shape):
    if math.prod(mshape) == 0 and len(mshape):
        return  # an empty mask selects nothing, whatever the extents (as NumPy)
    for j, (m, d) in enumerate(zip(mshape, dims)):
        if m != shape[d]:
            raise IndexError(
                f"boolean index did not match indexed array along axis {d}; size of "
                f"axis is {shape[d]} but size of corresponding boolean axis is {m}")


_ONLY = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and "
         "integer or boolean arrays are valid indices")


def getitem(node, key):
    """The node of ``x[key]`` for any NumPy index."""
    items = key if isinstance(key, tuple) else (key,)
    if not any(_is_advanced(k) for k in items):
        return index_node(node, key)
    # Arrays as ndarrays (lazy integer indices computed first); a boolean
    # scalar is a 0-d mask, as NumPy's.
    conv = []
    for k in items:
        if k is None or k is Ellipsis or isinstance(k, slice):
            conv.append(k)
        elif isinstance(k, (bool, np.bool_)):
            conv.append(np.asarray(k))
        elif isinstance(k, Lazy):
            conv.append(k if k.dtype == bool else _computed(k, "index"))
        elif isinstance(k, (list, tuple, np.ndarray)):
            a = np.asarray(k)
            if a.size == 0 and not isinstance(k, np.ndarray):
                a = a.astype(np.intp)
            if a.dtype.kind not in "iub" and not isinstance(k, np.ndarray):
                raise IndexError(_ONLY)
            conv.append(a)
        else:
            conv.append(k)
    # Expand Ellipsis: each array eats one axis, a mask as many as it has.
    def eats(k):
        if k is None or k is Ellipsis:
            return 0
        if isinstance(k, Lazy) or (isinstance(k, np.ndarray) and k.dtype == bool):
            return len(k.shape)
        return 1
    ndim = len(node.shape)
    used = sum(eats(k) for k in conv)
    if sum(1 for k in conv if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if used > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, "
                         f"but {used} were indexed")
    full = []
    for k in conv:
        full.extend([slice(None)] * (ndim - used) if k is Ellipsis else [k])
    if not any(k is Ellipsis for k in conv):
        full.extend([slice(None)] * (ndim - used))
    # Per key position: basic (None / slice) or advanced (one index array
    # per input axis); ints count as advanced here, as NumPy's.
    basic, adv, groups, d = [], [], [], 0
    for pos, k in enumerate(full):
        if k is None:
            basic.append(None)
            continue
        if isinstance(k, slice):
            basic.append(k)
            d += 1
            continue
        if isinstance(k, Lazy) or (isinstance(k, np.ndarray) and k.dtype == bool):
            dims = list(range(d, d + len(k.shape)))
            arrays = _mask_indices(k, dims, node.shape)
            if not dims:        # 0-d mask: a new axis of length 0 or 1
                basic.append(None)
                arrays = [np.zeros(int(arrays[0]), np.intp)]
                dims = [None]
        else:
            a = np.asarray(k) if isinstance(k, np.ndarray) else k
            if not isinstance(a, np.ndarray):
                if isinstance(a, bool) or not hasattr(a, "__index__"):
                    raise IndexError(_ONLY)
                a = np.asarray(operator.index(a))
            elif a.dtype.kind not in "iu":
                raise IndexError("arrays used as indices must be of integer (or boolean) "
                                 "type")
            dims, arrays = [d], [a]
        groups.append(pos)
        for dd, a in zip(dims, arrays):
            if dd is None:
                adv.append((len(basic) - 1, a, d))
            else:
                basic.append(slice(None))
                adv.append((len(basic) - 1, a, dd))
                d += 1
    y = index_node(node, tuple(basic))
    try:
        arrays = np.broadcast_arrays(*[a for _, a, _ in adv])
    except ValueError:
        shapes = "".join(_fmt(a.shape) + " " for _, a, _ in adv)
        raise IndexError("shape mismatch: indexing arrays could not be broadcast "
                         f"together with shapes {shapes}") from None
    bshape = arrays[0].shape if arrays else ()
    tables, ymap = [], [None] * len(y.shape)
    for t, ((ydim, _, axis), a) in enumerate(zip(adv, arrays)):
        n = y.shape[ydim]
        a = a.astype(np.int64, copy=False)
        bad = (a < -n) | (a >= n)
        if bad.any():
            v = int(a[bad].flat[0])
            raise IndexError(f"index {v} is out of bounds for axis {axis} "
                             f"with size {n}")
        tables.append(np.ascontiguousarray(np.where(a < 0, a + n, a), dtype=np.int64))
        ymap[ydim] = -1 - t
    adjacent = groups == list(range(groups[0], groups[0] + len(groups)))
    plain = [k for k in range(len(y.shape)) if ymap[k] is None]
    first = min(yd for yd, _, _ in adv)
    pos = sum(1 for k in plain if k < first) if adjacent else 0
    shape = [y.shape[k] for k in plain]
    shape[pos:pos] = bshape
    for j, k in enumerate(plain):
        ymap[k] = j if j < pos else j + len(bshape)
    return leaf(Gather(y, tuple(shape), tuple(ymap), tuple(tables), pos, len(bshape)))


# ------------------------------------------------------------- functions

def count_nonzero(x, axis=None, keepdims=False):
    """The node of ``numpy.count_nonzero``: a sum of ``x != 0`` as intp."""
    node = node_of(x)
    b = node if node.dtype == bool else Cast(node, np.dtype(bool))
    return reduce(np.add, b, axis, np.intp, keepdims)


@implements(np.count_nonzero)
def _np_count_nonzero(a, axis=None, *, keepdims=False):
    node = count_nonzero(a, axis, keepdims)
    return Scalar(node, int) if axis is None and not keepdims else node


def _nonzero_arrays(x):
    """``numpy.nonzero(x)`` as ndarrays; a lazy ``x`` in bounded memory."""
    node = lazy_node(x)
    if node is None:
        a = np.asarray(x)
    else:
        b = node if node.dtype == bool else Cast(node, np.dtype(bool))
        if b.shape:
            return _lazy_nonzero(b)
        a = materialise(b)
    if a.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use "
                         "np.atleast_1d(scalar).nonzero() instead.")
    return np.nonzero(a)


def nonzero(x):
    """The index arrays of ``numpy.nonzero(x)``, computed (tuple of nodes)."""
    return tuple(array_leaf(i) for i in _nonzero_arrays(x))


@implements(np.nonzero)
def _np_nonzero(a):
    return nonzero(a)


_where3 = HANDLED.get(np.where)


@implements(np.where)
def _np_where(condition, x=None, y=None):
    if x is None and y is None:
        return nonzero(condition)
    return _where3(condition, x, y)


@implements(np.flatnonzero)
def _np_flatnonzero(a):
    return nonzero(ravel(a))[0]


@implements(np.argwhere)
def _np_argwhere(a):
    if len(np.shape(a) if lazy_node(a) is None else lazy_node(a).shape) == 0:
        b = lazy_node(a)
        return array_leaf(np.argwhere(materialise(b) if b is not None else np.asarray(a)))
    return array_leaf(np.stack(_nonzero_arrays(a), axis=1).astype(np.intp, copy=False))


def _index_array(indices):
    if isinstance(indices, Lazy):
        return _computed(indices, "index")
    return np.asarray(indices)


def take(a, indices, axis=None, mode="raise"):
    node = node_of(a)
    if axis is None:
        node, axis = ravel(node), 0
    axis = normalize_axis_index(axis, len(node.shape))
    idx = _index_array(indices)
    if idx.dtype.kind not in "iu":
        if idx.size == 0:
            idx = idx.astype(np.intp)
        else:
            raise TypeError("Cannot cast array data from dtype('float64') to "
                            "dtype('int64') according to the rule 'safe'"
                            if idx.dtype.kind == "f" else f"indices of dtype {idx.dtype}")
    n = node.shape[axis]
    if mode == "wrap":
        if n == 0 and idx.size:
            raise IndexError("cannot do a non-empty take from an empty axes.")
        idx = idx % n if n else idx
    elif mode == "clip":
        if n == 0 and idx.size:
            raise IndexError("cannot do a non-empty take from an empty axes.")
        idx = np.clip(idx, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    return getitem(node, (slice(None),) * axis + (idx.astype(np.int64),))


@implements(np.take)
def _np_take(a, indices, axis=None, out=None, mode="raise"):
    if out is not None:
        raise TypeError("numpy.take: out= is not supported on chunkwise arrays")
    return take(a, indices, axis, mode)


@implements(np.take_along_axis)
def _np_take_along_axis(arr, indices, axis=-1):
    node = node_of(arr)
    idx = _index_array(indices)
    if axis is None:
        node, axis = ravel(node), 0
        if idx.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
    nd = len(node.shape)
    axis = normalize_axis_index(axis, nd)
    if idx.ndim != nd:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    if idx.dtype.kind not in "iu":
        raise IndexError("`indices` must be an integer array")
    key = []
    for k in range(nd):
        if k == axis:
            key.append(idx)
        else:
            shp = [1] * nd
            shp[k] = node.shape[k]
            key.append(np.arange(node.shape[k]).reshape(shp))
    return getitem(node, tuple(key))


@implements(np.compress)
def _np_compress(condition, a, axis=None, out=None):
    if out is not None:
        raise TypeError("numpy.compress: out= is not supported on chunkwise arrays")
    if isinstance(condition, Lazy):
        if condition.ndim != 1:
            raise ValueError("condition must be a 1-d array")
        return take(a, _nonzero_arrays(condition)[0], axis)
    c = np.asarray(condition)
    if c.ndim != 1:
        raise ValueError("condition must be a 1-d array")
    return take(a, np.nonzero(c)[0], axis)


@implements(np.extract)
def _np_extract(condition, arr):
    c = ravel(condition) if isinstance(condition, Lazy) else np.ravel(condition)
    return take(ravel(arr), _nonzero_arrays(c)[0])


def diagonal(a, offset=0, axis1=0, axis2=1):
    node = node_of(a)
    nd = len(node.shape)
    if nd < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    a1, a2 = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    if a1 == a2:
        raise ValueError("axis1 and axis2 cannot be the same")
    perm = [k for k in range(nd) if k not in (a1, a2)] + [a1, a2]
    t = transpose(node, tuple(perm))
    n1, n2 = node.shape[a1], node.shape[a2]
    offset = operator.index(offset)
    if offset >= 0:
        n = max(0, min(n1, n2 - offset))
        i, j = np.arange(n), np.arange(n) + offset
    else:
        n = max(0, min(n1 + offset, n2))
        i, j = np.arange(n) - offset, np.arange(n)
    return getitem(t, (Ellipsis, i, j))


@implements(np.diagonal)
def _np_diagonal(a, offset=0, axis1=0, axis2=1):
    return diagonal(a, offset, axis1, axis2)


@implements(np.trace)
def _np_trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if out is not None:
        raise TypeError("numpy.trace: out= is not supported on chunkwise arrays")
    return reduce(np.add, diagonal(a, offset, axis1, axis2), -1, dtype)


@implements(np.delete)
def _np_delete(arr, obj, axis=None):
    node = node_of(arr)
    if axis is None:
        node, axis = ravel(node), 0
    axis = normalize_axis_index(axis, len(node.shape))
    n = node.shape[axis]
    if isinstance(obj, Lazy):
        obj = _computed(obj, "index")
    keep = np.ones(n, bool)
    if isinstance(obj, slice):
        keep[obj] = False
    else:
        o = np.asarray(obj)
        if o.dtype == bool:
            if o.shape != (n,):
                raise ValueError(f"boolean array argument obj to delete must be one "
                                 f"dimensional and match the axis length of {n}")
            keep = ~o
        else:
            if o.size == 0:
                o = o.astype(np.intp)
            if o.dtype.kind not in "iu":
                raise IndexError("arrays used as indices must be of integer (or boolean) "
                                 "type")
            bad = (o < -n) | (o >= n)
            if bad.any():
                raise IndexError(f"index {int(o[bad].flat[0])} is out of bounds for axis "
                                 f"{axis} with size {n}")
            keep[o] = False
    return take(node, np.nonzero(keep)[0], axis)


@implements(np.append)
def _np_append(arr, values, axis=None):
    concatenate = HANDLED[np.concatenate]
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([node_of(arr), node_of(values)], axis=axis)



@implements(np.insert)
def _np_insert(arr, obj, values, axis=None):
    node = node_of(arr)
    if axis is None:
        node, axis = ravel(node), 0
    nd = len(node.shape)
    axis = normalize_axis_index(axis, nd)
    n = node.shape[axis]
    if isinstance(obj, Lazy):
        obj = _computed(obj, "index")
    if isinstance(values, Lazy):
        values = _computed(values, "value")
    if not isinstance(obj, slice) and np.size(obj) == 1:
        # One position, as NumPy's: values are a block (their first axis
        # moved to ``axis`` when the position is a scalar).
        v = np.array(values, dtype=node.dtype, ndmin=nd)
        if np.ndim(obj) == 0:
            v = np.moveaxis(v, 0, axis)
        numnew = v.shape[axis]
    else:
        where = np.arange(n)[obj] if isinstance(obj, slice) else np.asarray(obj)
        numnew = where.size
        v = np.array(values, dtype=node.dtype)
    # Where each element of the result comes from, as NumPy's own insert
    # places markers: old element p stays p, inserted value j is -1 - j.
    probe = np.insert(np.arange(n), obj, -1 - np.arange(numnew))
    if numnew == 0:
        return node
    shape = list(node.shape)
    shape[axis] = numnew
    block = np.ascontiguousarray(np.broadcast_to(v, shape))
    idx = np.where(probe >= 0, probe, n - 1 - probe)
    both = HANDLED[np.concatenate]([node, array_leaf(block)], axis=axis)
    return take(both, idx, axis)


_scalar_repeat = HANDLED[np.repeat]  # views.py: one count, concatenated parts
_REPEAT_PARTS = 4096                 # beyond this many parts, a take


@implements(np.repeat)
def _np_repeat(a, repeats, axis=None):
    """numpy.repeat: one count along a short axis as views.py's
    concatenation of broadcast parts; per-element counts, or a long axis,
    as a take of the repeated positions (NumPy's own numpy.repeat of the
    positions checks the counts and raises its errors)."""
    node = node_of(a)
    if np.ndim(repeats) == 0:
        n = math.prod(node.shape) if axis is None else \
            node.shape[normalize_axis_index(axis, len(node.shape))]
        if n <= _REPEAT_PARTS:
            return _scalar_repeat(a, repeats, axis)
    if axis is None:
        node, axis = ravel(node), 0
    axis = normalize_axis_index(axis, len(node.shape))
    counts = _index_array(repeats)
    positions = np.repeat(np.arange(node.shape[axis]), counts)
    return take(node, positions, axis)
