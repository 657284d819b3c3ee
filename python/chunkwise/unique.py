"""Unique values: numpy.unique, unique_values, unique_counts,
unique_inverse and unique_all.

The number of unique values depends on the data, so these compute when
called and return NumPy's results (ndarrays, and NumPy's namedtuples), as
the histograms do.  An array that fits ``memory_limit`` (twice: the values
and NumPy's sorted copy) is read in one pass into memory and NumPy's own
``unique`` runs on it, so results are NumPy's exactly (values, first
indices, inverse, counts, ``equal_nan``, ``axis``).

Beyond that, the values and their counts (``np.unique`` with
``return_counts`` or without, ``axis=None``; ``unique_counts``;
``unique_values``) are found out of core, for arrays of any number of
dimensions: the array is read in blocks of whole rows (bands of its first
axis; when a row is longer than a block, single rows cut in bands of
their first axis, and so on), each flattened by NumPy's ``unique`` with
counts in one block function of the engine (in parallel): one pass counts
each block's distinct values, a second returns them with their counts,
and the blocks' tables are merged in memory (sorted, equal values' counts
added).  When those tables together take more than a quarter of
memory_limit, bands of the first axis are tabled and merged batch by
batch (at most 16 passes, each batch's tables fitting beside the merged
table); when that takes more passes (many distinct values), the same
two passes run on the external sort of the array (extsort.py), whose
blocks hold each value once but at their edges.  The
distinct values and their counts are returned as ndarrays, so they must
fit: beyond that ``cw.MemoryBudgetError`` says how many there are.
Out of core, ``unique_values`` returns its values sorted (NumPy's order
is unspecified).  ``return_index``, ``return_inverse``,
``unique_inverse``, ``unique_all`` and ``axis=`` need the array within
``memory_limit`` as before (``cw.MemoryBudgetError``).
"""
from __future__ import annotations

import math

import numpy as np

from ._coerce import lazy_node
from ._core import MemoryBudgetError
from ._execute import materialise
from ._nodes import HALO, BlockCall, Blocks, leaf
from .array import wrap
from .config import current, get_config, size_text
from .extsort import external_sort, quiet, sortable
from .functions import implements

__all__ = ["unique"]


_I64 = np.dtype(np.int64)


def _lazy(x, what):
    node = lazy_node(x)
    if node is None:
        raise TypeError(f"{what} needs a chunkwise Array, not {type(x).__name__}")
    return wrap(node)


def _fits(a) -> bool:
    return 2 * a.size * a.dtype.itemsize <= get_config()["memory_limit"]


def _values(x, what):
    a = _lazy(x, what)
    need = 2 * a.size * a.dtype.itemsize
    limit = get_config()["memory_limit"]
    if need > limit:
        raise MemoryBudgetError(
            f"{what}: finding the unique values of {size_text(a.nbytes)} with first "
            f"indices, inverse or along an axis needs {size_text(need)}, more than "
            f"memory_limit ({size_text(limit)}); the values and their counts alone "
            "are found out of core")
    return materialise(lazy_node(a))


# ------------------------------------------------------------ out of core

def _distinct(b, equal_nan, cut):
    """How many distinct values block ``b`` holds, in its grid cell (of
    ``cut`` dimensions)."""
    n = len(np.unique(b, equal_nan=equal_nan))
    return np.full((1,) * cut, n, _I64)


def _table(b, equal_nan, item, cut, width):
    """Block ``b``'s distinct values and counts, one row each: the value's
    bytes, then the count's (int64); ``width`` rows (zeros after them)
    in a grid cell of ``cut`` dimensions, or as many as there are when
    ``width`` is None."""
    v, n = np.unique(b, return_counts=True, equal_nan=equal_nan)
    rows = np.zeros((len(v) if width is None else width, item + 8), np.uint8)
    rows[:len(v), :item] = v.reshape(-1, 1).view(np.uint8)
    rows[:len(v), item:] = n.astype(_I64).reshape(-1, 1).view(np.uint8)
    return rows if width is None else rows.reshape((1,) * cut + rows.shape)


def _grid(a, block):
    """Array ``a`` cut into blocks of about ``block`` elements (at least
    one row of its last axis): axes before ``j`` in single elements, axis
    ``j`` in bands, the axes after it whole.  ``j`` is the first axis
    whose rows (the axes after it) fit a block.  (j, bounds of axes 0..j)."""
    j = 0
    while j < a.ndim - 1 and math.prod(a.shape[j + 1:]) > block:
        j += 1
    rest = math.prod(a.shape[j + 1:])
    k = max(1, min(a.shape[j], block // rest))
    cuts = [list(range(n + 1)) for n in a.shape[:j]]
    return j, cuts + [list(range(0, a.shape[j], k)) + [a.shape[j]]]


def _leaf(func, a, j, cuts, out_bounds, dtype, extra):
    """A Blocks leaf of ``func`` over ``a`` cut at ``cuts`` along its axes
    0..j (which output axes 0..j follow), the output cut at ``out_bounds``."""
    node = lazy_node(a)
    d = a.ndim
    call = BlockCall(func, [None] + list(extra), [0], {})
    return leaf(Blocks(call, (node,), (tuple(range(j + 1)) + (-1,) * (d - j - 1),),
                       (tuple(tuple(c) for c in cuts) + (None,) * (d - j - 1),),
                       ((0,) * d,), ((HALO["none"],) * d,), (np.zeros((), a.dtype).tobytes(),),
                       tuple(tuple(int(v) for v in b) for b in out_bounds), np.dtype(dtype)))


def _blocks_table(a, block, equal_nan, what, sorted_input):
    """The distinct values and counts per block of ``a`` (read straight
    from ``a``, each flattened by NumPy's unique; see _grid): (values,
    counts) of all blocks, concatenated; None when they would not fit
    and ``a`` is not sorted."""
    dtype = a.dtype
    item = dtype.itemsize
    j, cuts = _grid(a, block)
    grid = [range(len(c)) for c in cuts]
    per = materialise(_leaf(quiet(_distinct), a, j, cuts, grid, _I64, (equal_nan, j + 1)))
    per = per.reshape(-1)
    # One band axis: the blocks' tables one after the other; more: each
    # block's table padded to the longest in the grid.
    width = None if j == 0 else int(per.max())
    total = int(per.sum()) if j == 0 else width * len(per)
    limit = current().memory_limit
    if 4 * total * (item + 8) > limit and j == 0 and not sorted_input:
        return _batched_tables(a, cuts[0], per, equal_nan, limit // (4 * (item + 8)))
    if 4 * total * (item + 8) > limit:
        if not sorted_input:
            return None
        raise MemoryBudgetError(
            f"{what}: the array has about {int(per.sum())} distinct values "
            f"({size_text(total * (item + 8))} with their counts), more than a quarter "
            f"of memory_limit ({size_text(limit)}) holds for merging and returning them")
    if j == 0:
        return _band_tables(a, cuts[0], per, equal_nan)
    out = grid + [(0, width), (0, item + 8)]
    rows = materialise(_leaf(quiet(_table), a, j, cuts, out, np.uint8,
                             (equal_nan, item, j + 1, width)))
    rows = rows.reshape(-1, item + 8)[(np.arange(width) < per[:, None]).reshape(-1)]
    return _split_rows(rows, dtype)


def _split_rows(rows, dtype):
    """(values, counts) of table rows (the value's bytes, then the count's)."""
    item = dtype.itemsize
    values = np.ascontiguousarray(rows[:, :item]).view(dtype).reshape(-1)
    counts = np.ascontiguousarray(rows[:, item:]).view(_I64).reshape(-1)
    return values, counts


# At most this many passes merge the bands' tables batch by batch.
_BATCHES = 16


def _band_tables(a, bounds, per, equal_nan):
    """The tables of ``a``'s bands between ``bounds`` (their distinct
    counts ``per``), concatenated: (values, counts)."""
    item = a.dtype.itemsize
    out = [np.concatenate([[0], np.cumsum(per)]), (0, item + 8)]
    rows = materialise(_leaf(quiet(_table), a, 0, [bounds], out, np.uint8,
                             (equal_nan, item, 1, None)))
    return _split_rows(rows.reshape(-1, item + 8), a.dtype)


def _batched_tables(a, bounds, per, equal_nan, room):
    """The bands' tables merged batch by batch, when together they take
    more than a quarter of memory_limit: each batch of consecutive bands
    whose tables fit ``room`` rows beside the merged table so far is one
    pass, merged into it.  None when the batches would be many (more than
    _BATCHES, judged after each from the room the merged table leaves):
    many distinct values, for the external sort then."""
    values = np.empty(0, a.dtype)
    counts = np.empty(0, _I64)
    start, batches = 0, 1
    ends = np.cumsum(per)
    while start < len(per):
        free = room - len(values)
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + free, side="right"))
        if stop <= start:
            return None
        b0, b1 = bounds[start], bounds[stop]
        band = [int(v) - b0 for v in bounds[start:stop + 1]]
        v, c = _band_tables(a[b0:b1], band, per[start:stop], equal_nan)
        values, counts = _merged(np.concatenate([values, v]), np.concatenate([counts, c]),
                                 equal_nan)
        start = stop
        left = int(ends[-1] - ends[start - 1])
        if left and left > (_BATCHES - batches) * (room - len(values)):
            return None
        batches += 1
    return values, counts


def _merged(values, counts, equal_nan):
    """Equal values of the blocks' tables as one, their counts added."""
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    u, first = np.unique(values, return_index=True, equal_nan=equal_nan)
    return u, np.add.reduceat(counts, first).astype(np.intp, copy=False)


def _out_of_core(a, equal_nan, what):
    """(values, counts) of chunkwise Array ``a`` beyond memory_limit."""
    cfg = current()
    item = a.dtype.itemsize
    block = max(1024, cfg.memory_limit // (8 * max(1, cfg.threads) * (item + 8)))
    got = _blocks_table(a, block, equal_nan, what, False)
    if got is None:
        if not sortable(a.dtype):
            raise MemoryBudgetError(
                f"{what}: the blocks of this {a.dtype} array hold too many distinct values "
                "to merge within memory_limit, and it is sorted in one block only")
        got = _blocks_table(external_sort(a, False, what), block, equal_nan, what, True)
    return _merged(*got, equal_nan)


@implements(np.unique)
def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
           *, equal_nan=True, sorted=True):
    """NumPy's unique of the computed array (returns ndarrays)."""
    a = _lazy(ar, "unique")
    if not _fits(a) and not return_index and not return_inverse and axis is None:
        values, counts = _out_of_core(a, equal_nan, "unique")
        return (values, counts) if return_counts else values
    return np.unique(_values(a, "unique"), return_index=return_index,
                     return_inverse=return_inverse, return_counts=return_counts,
                     axis=axis, equal_nan=equal_nan, sorted=sorted)


@implements(np.unique_values)
def unique_values(x):
    a = _lazy(x, "unique_values")
    if not _fits(a):
        return _out_of_core(a, False, "unique_values")[0]
    return np.unique_values(_values(a, "unique_values"))


@implements(np.unique_counts)
def unique_counts(x):
    a = _lazy(x, "unique_counts")
    if not _fits(a):
        return np.lib._arraysetops_impl.UniqueCountsResult(
            *_out_of_core(a, False, "unique_counts"))
    return np.unique_counts(_values(a, "unique_counts"))


@implements(np.unique_inverse)
def unique_inverse(x):
    return np.unique_inverse(_values(x, "unique_inverse"))


@implements(np.unique_all)
def unique_all(x):
    return np.unique_all(_values(x, "unique_all"))
