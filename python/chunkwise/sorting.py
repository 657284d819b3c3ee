"""Sorting: numpy.sort, argsort, sort_complex, lexsort and ``Array.argsort``.

Along an axis the result is lazy and blockwise: the array is rechunked so
the sorted axis is whole in every block (``rechunk``), and NumPy's own sort
runs on each block inside the engine's block mechanism (``map_blocks``), so
values and indices are NumPy's exactly, including the order of ties of the
default (not stable) argsort: NumPy sorts each row independently, and each
block holds whole rows.  The result feeds expressions, reductions and
``to_hdf5`` like any other lazy Array.

A flattened sort (``axis=None``, or the one axis of a 1-d array) that
fits ``memory_limit`` (twice: the input and its sorted copy) is one block
of the whole array.  Beyond that it is an external sort (extsort.py):
sorted runs spilled to a temporary HDF5 file and merged lazily, output
chunk by output chunk, in bounded memory; its values are those of NumPy's
stable sort and its indices those of NumPy's stable argsort, whatever
``kind`` (NumPy's default argsort is not stable: where ties differ in
order, the stable one is returned).  Complex values beyond that raise
``cw.MemoryBudgetError``.

``x.sort()`` sorts in place in NumPy; a chunkwise Array is immutable, so
it raises a TypeError that names ``np.sort``.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ._coerce import lazy_node
from ._core import MemoryBudgetError
from .array import Array, wrap
from .blocks import map_blocks
from .config import get_config, size_text
from .creation import asarray
from .extsort import external_sort, fits, quiet
from .functions import implements
from .rechunk import rechunk

__all__ = ["sort", "argsort", "sort_complex", "lexsort"]

_INTP = np.dtype(np.intp)


def _axis(axis, ndim, what):
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{what}: axis must be an integer or None, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


def _whole(a, axes, what):
    """``a`` rechunked so the axes in ``axes`` are whole in each block, the
    other axes' chunks narrowed until a block is about memory_limit / 16
    (a task holds the input tiles, the block, NumPy's result and the
    output's); checks that a block of one element across the others fits."""
    limit = get_config()["memory_limit"]
    whole = a.dtype.itemsize
    for d in axes:
        whole *= a.shape[d]
    if 2 * whole > limit:
        raise MemoryBudgetError(
            f"{what}: a block holding the whole sorted axis needs {size_text(2 * whole)} "
            f"(input and result), more than memory_limit ({size_text(limit)})")
    chunks = {d: -1 for d in axes}
    sizes = {d: max(a.chunksize[d], 1) for d in range(a.ndim) if d not in axes}
    target = max(limit // 16, whole)
    for d in sorted(sizes, reverse=True):
        rest = whole * math.prod(v for k, v in sizes.items() if k != d)
        sizes[d] = max(1, min(sizes[d], target // max(rest, 1)))
    chunks.update(sizes)
    return rechunk(a, chunks)


def _flat(a, what):
    flat = np.reshape(a, (-1,))
    return _whole(flat, (0,), what)


_quiet = quiet


def _sorted(a, axis, what, func, dtype, indices=None):
    """``func(block, axis)`` on blocks holding the whole axis (None: the
    flattened array in one block); a flattened sort that does not fit one
    block is an external sort (of the values, or with ``indices`` True of
    the indices; None: not available)."""
    if a.size == 0:
        # No data: NumPy's result on an empty array of the shape.
        if axis is not None:
            axis = _axis(axis, a.ndim, what)
        return asarray(func(np.empty(a.shape, a.dtype), axis).astype(dtype, copy=False))
    flat = axis is None or (a.ndim == 1 and _axis(axis, 1, what) == 0)
    if flat and indices is not None and not fits(a.nbytes):
        return external_sort(a, indices, what)
    if axis is None:
        a, axis = _flat(a, what), 0
    else:
        axis = _axis(axis, a.ndim, what)
        a = _whole(a, (axis,), what)
    return map_blocks(_quiet(func), a, axis, dtype=dtype)


def _check_kind(kind, stable, what):
    if kind is not None and kind not in ("quicksort", "mergesort", "heapsort", "stable"):
        raise ValueError(f"{what}: sort kind must be one of 'quick', 'heap', or 'stable' "
                         f"(got {kind!r})")
    if kind is not None and stable is not None:
        raise ValueError("`kind` and `stable` parameters can't be provided at the same "
                         "time. Use only one of them.")


def _lazy(a, what):
    node = lazy_node(a)
    if node is None:
        raise TypeError(f"{what} needs a chunkwise Array, not {type(a).__name__}")
    return wrap(node)


@implements(np.sort)
def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """NumPy's sort along ``axis`` (lazy; None: the flattened array)."""
    if order is not None:
        raise ValueError("Cannot specify order when the array has no fields.")
    _check_kind(kind, stable, "sort")
    a = _lazy(a, "sort")
    if a.ndim == 0 and axis is not None:
        raise np.exceptions.AxisError(axis, 0)
    return _sorted(a, axis, "sort",
                   lambda b, ax: np.sort(b, axis=ax, kind=kind, stable=stable), a.dtype,
                   indices=False)


@implements(np.argsort)
def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """NumPy's argsort along ``axis`` (lazy; None: of the flattened array)."""
    if order is not None:
        raise ValueError("Cannot specify order when the array has no fields.")
    _check_kind(kind, stable, "argsort")
    a = _lazy(a, "argsort")
    if a.ndim == 0 and axis is not None:
        # NumPy: a 0-d argsort along an axis is [0] of shape ().
        a = np.reshape(a, (1,))
        r = _sorted(a, 0, "argsort",
                    lambda b, ax: np.argsort(b, axis=ax, kind=kind, stable=stable), _INTP)
        return np.reshape(r, ())
    return _sorted(a, axis, "argsort",
                   lambda b, ax: np.argsort(b, axis=ax, kind=kind, stable=stable), _INTP,
                   indices=True)


@implements(np.sort_complex)
def sort_complex(a):
    """NumPy's sort_complex: sorted along the last axis, as complex."""
    a = _lazy(a, "sort_complex")
    dtype = np.sort_complex(np.zeros((1,), a.dtype)).dtype
    if a.ndim == 0:
        raise np.exceptions.AxisError(-1, 0)
    return _sorted(a, -1, "sort_complex",
                   lambda b, ax: np.sort_complex(b).astype(dtype, copy=False), dtype)


@implements(np.lexsort)
def lexsort(keys, axis=-1):
    """NumPy's lexsort: the last key is the primary one; ``keys`` is an
    Array whose first axis runs over the keys, or a sequence of arrays."""
    if lazy_node(keys) is None:
        keys = np.stack([k if lazy_node(k) is not None else np.asarray(k) for k in keys])
    k = _lazy(keys, "lexsort")
    if k.ndim < 2:
        if k.ndim == 1:
            # One key of rank 1: NumPy sorts that key.
            return argsort(k, kind="stable")
        raise np.exceptions.AxisError(axis, 0)
    ax = _axis(axis, k.ndim - 1, "lexsort") + 1
    k = _whole(k, (0, ax), "lexsort")

    if k.size == 0:
        return asarray(np.lexsort(np.empty(k.shape, k.dtype), axis=ax - 1))

    def block(b):
        return np.lexsort(b, axis=ax - 1)

    return map_blocks(_quiet(block), k, dtype=_INTP, drop_axis=0)


def _argsort_method(self, axis=-1, kind=None, order=None, *, stable=None):
    return argsort(self, axis, kind, order, stable=stable)


def _sort_method(self, axis=-1, kind=None, order=None, *, stable=None):
    raise TypeError("chunkwise Arrays are immutable, so x.sort() cannot sort in place: "
                    "use np.sort(x) (a lazy sorted copy)")


_argsort_method.__doc__ = argsort.__doc__
Array.argsort = _argsort_method
Array.sort = _sort_method
