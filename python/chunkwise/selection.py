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

from ._coerce import lazy_node, node_of
from ._core import MemoryBudgetError
from ._execute import materialise
from ._nodes import Cast, Gather, Lazy, Reshape, leaf
from ._rewrite import index_node
from .config import current
from .functions import implements
from .reductions import reduce

__all__ = ["reshape", "ravel", "getitem", "count_nonzero"]


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
            f"a lazy {what} of {nbytes / 2**20:.1f} MiB is larger than memory_limit "
            f"({limit / 2**20:.1f} MiB)")
    return materialise(node)


def _mask_indices(item, dims, shape):
    """The integer index arrays (np.nonzero) a boolean mask stands for,
    sized by a counting pass when the mask is lazy."""
    node = lazy_node(item)
    k = len(dims)
    if node is not None:
        _check_mask(node.shape, dims, shape)
        count = int(materialise(count_nonzero(node)))
        need = count * 8 * k + math.prod(node.shape)
        limit = current().memory_limit
        if need > limit:
            raise MemoryBudgetError(
                f"a boolean mask selecting {count} elements needs "
                f"{need / 2**20:.1f} MiB of indices, more than memory_limit "
                f"({limit / 2**20:.1f} MiB)")
        item = materialise(node)
    item = np.asarray(item)
    _check_mask(item.shape, dims, shape)
    return list(np.nonzero(item)) if item.ndim else [item]


def _check_mask(mshape, dims, shape):
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
