"""External sort: the flattened sort and argsort of an array larger than
``memory_limit`` allows in one block.

Runs: the flattened array is cut into runs of about memory_limit / (16 x
threads) bytes, each sorted by NumPy's stable sort in one block of the
engine (``map_blocks``, in parallel) and spilled to a temporary HDF5
dataset (uncompressed; for argsort a second dataset holds each element's
flat index).  The spill lives in a directory of the temporary directory
(``TMPDIR`` chooses where) named ``chunkwise-sort-<pid>-*``; one left by a
killed process is removed by the next sort or store of any process.

Merge: the result is cut into output chunks; chunk k holds the elements
of ranks [k c, (k + 1) c).  For every chunk boundary the value at that
rank is found exactly by the selection passes of quantiles.py, and one
pass over the runs searches those values in each run (``searchsorted``,
left and right), so the position of every boundary in every run is known,
ties split by run order (earlier runs first).  Output chunk k is then one
block of a ``Blocks`` node whose arguments are the runs, each cut at its
own boundary positions: the engine reads from every run exactly the
elements of chunk k and the block function sorts their concatenation
stably.  Each chunk is independent of the others: blocks run in parallel,
and ``to_hdf5`` writes them as they come, in memory of a few chunks per
thread.  At most 32 runs are merged at once (16 with indices): with more,
groups of runs are merged into longer runs, spilled again, level by level.

Values are ``np.sort(x, axis=None, kind='stable')``'s exactly (NaNs last,
-0.0 and 0.0 in their input order, as they compare equal), and indices
``np.argsort(x, axis=None, kind='stable')``'s.  The spill directory is
removed when the last array reading it is dropped (or at exit), and at
once when building the runs fails or is interrupted.
"""
from __future__ import annotations

import math
import os
import shutil
import weakref

import numpy as np

from ._coerce import lazy_node
from ._core import MemoryBudgetError
from ._execute import StoreTarget, materialise, store, temporary_folder
from ._nodes import HALO, BlockCall, Blocks, Cast, leaf
from .array import wrap
from .blocks import map_blocks
from .config import current, size_text
from .quantiles import _selected, _summary
from .rechunk import rechunk

__all__ = ["external_sort", "quiet", "sortable"]

_I64 = np.dtype(np.int64)
_INTP = np.dtype(np.intp)
_CLEAR = np.zeros(1)
_FAN = 32                     # CW_BLOCK_MAX_ARGS: arguments of one block function


def quiet(func):
    """``func`` whose floating-point status flags are cleared afterwards:
    NumPy's vectorised sorts compare NaNs with signalling instructions and
    do not report it, so neither does the engine (a float ufunc clears the
    status before its loop)."""
    def call(*args, **kwargs):
        r = func(*args, **kwargs)
        np.add(_CLEAR, 0.0)
        return r
    return call


def sortable(dtype) -> bool:
    """Whether the external sort takes this dtype (booleans, integers and
    real floats: the selection passes order them by integer keys)."""
    return np.dtype(dtype).kind in "biuf"


# ------------------------------------------------------------ the spill

class _Spill:
    """The temporary directory of one sort's runs: removed by ``remove``,
    or when the last block function holding it is collected."""

    def __init__(self):
        self.dir = temporary_folder("chunkwise-sort-")
        self._done = weakref.finalize(self, shutil.rmtree, self.dir, True)
        self._n = 0

    def write(self, node, chunk, small):
        """``node`` (1-d, in blocks of ``chunk``) stored, then copied into
        chunks of ``small`` elements (a merge block reads a few from each
        run): a Leaf over the copy."""
        first = self._path()
        big = store(node, StoreTarget(first, "/v", (chunk,), "none", "lz4", 0, False, False,
                                      True))
        out = store(big, StoreTarget(self._path(), "/v", (small,), "none", "lz4", 0, False,
                                     False, True), stage=False)
        os.remove(first)
        return out

    def _path(self):
        self._n += 1
        return os.path.join(self.dir, f"spill{self._n}.h5")

    def remove(self):
        self._done()


# ------------------------------------------------------------ block functions

def _sort_run(b):
    """A run (rows of the array: contiguous in flat order) flattened and
    sorted."""
    r = np.sort(b, axis=None, kind="stable")
    np.add(_CLEAR, 0.0)
    return r


def _argsort_run(b, rest, block_info=None):
    """A run's flat indices in stable sorted order (``rest`` elements per
    row of its first axis)."""
    r = np.argsort(b, axis=None, kind="stable").astype(_INTP, copy=False)
    r += block_info[0]["array-location"][0][0] * rest
    np.add(_CLEAR, 0.0)
    return r


def _runs(a, run, indices):
    """The sorted runs of Array ``a`` flattened (values, or with
    ``indices`` flat indices): (1-d node, its chunk, run bounds).  Runs
    are bands of whole rows of the first axis, read straight from ``a``;
    when one row is longer than a run, the array is flattened first."""
    n, rest = a.size, math.prod(a.shape[1:])
    dtype = _INTP if indices else a.dtype
    extra = (rest,) if indices else ()
    func = _argsort_run if indices else _sort_run
    if rest <= run:
        k = max(1, min(a.shape[0], run // rest))
        rows = list(range(0, a.shape[0], k)) + [a.shape[0]]
        bounds = [r * rest for r in rows]
        return _blocks(func, [lazy_node(a)], [rows], [bounds], dtype, extra), k * rest, bounds
    flat = rechunk(np.reshape(a, (-1,)), (run,))
    node = lazy_node(map_blocks(func, flat, *((1,) if indices else ()), dtype=dtype))
    return node, run, list(range(0, n, run)) + [n]


def _search(tile, values):
    """Per run: where each boundary value goes, left and right."""
    r = np.stack([np.searchsorted(tile, values, "left"),
                  np.searchsorted(tile, values, "right")]).astype(_I64, copy=False)
    np.add(_CLEAR, 0.0)
    return r[None]


class _Merge:
    """Output chunk k from the runs' pieces of it (``m`` value tiles, then
    ``m`` index tiles when ``indices``): the values, or the indices, in
    stable sorted order.  Holds the spill the tiles are read from."""

    def __init__(self, spill, m, indices):
        self.spill, self.m, self.indices = spill, m, indices

    def __call__(self, *tiles):
        vals = np.concatenate(tiles[:self.m])
        if not self.indices:
            r = np.sort(vals, kind="stable")
        else:
            order = np.argsort(vals, kind="stable")
            r = np.concatenate(tiles[self.m:])[order]
        np.add(_CLEAR, 0.0)
        return r


def _blocks(func, args, arg_bounds, out_bounds, dtype, extra=()):
    """One Blocks leaf: argument i cut at ``arg_bounds[i]`` along its
    first axis, which follows output axis 0 (its other axes are read
    whole), the output cut at ``out_bounds`` (one tuple per axis);
    ``extra`` are passed after the tiles."""
    n = len(args)
    nds = [len(a.shape) for a in args]
    call = BlockCall(func, [None] * n + list(extra), list(range(n)), {})
    return leaf(Blocks(call, tuple(args), tuple((0,) + (-1,) * (d - 1) for d in nds),
                       tuple((tuple(int(v) for v in b),) + (None,) * (d - 1)
                             for b, d in zip(arg_bounds, nds)),
                       tuple((0,) * d for d in nds), tuple((HALO["none"],) * d for d in nds),
                       tuple(np.zeros((), a.dtype).tobytes() for a in args),
                       tuple(tuple(int(v) for v in b) for b in out_bounds), np.dtype(dtype)))


# ------------------------------------------------------------ splitting

def _rank_values(seg, ranks):
    """The values at ``ranks`` (sorted ints) of node ``seg`` in sorted
    order, NaN last (selection passes)."""
    dtype = seg.dtype
    sel = Cast(seg, np.dtype(np.uint8)) if dtype == bool else seg
    n, _, lo, hi = _summary(sel)
    valid = [r for r in ranks if r < n]
    got = _selected(sel, valid, n, lo, hi) if valid else {}
    vals = np.array([got[r] for r in valid], sel.dtype).astype(dtype)
    if len(valid) < len(ranks):
        vals = np.concatenate([vals, np.full(len(ranks) - len(valid), np.nan, dtype)])
    return vals


def _counts(seg, bounds, piece, vals):
    """Per run of ``seg`` between ``bounds``: how many of its elements are
    below each of ``vals``, and how many not above (left and right
    searches), shape (runs, 2, len(vals)).  Runs are searched in pieces
    of at most ``piece`` elements (a task holds one), in passes over
    groups of ``vals`` so that the table of counts per piece stays within
    a sixteenth of memory_limit."""
    cuts = np.unique(np.concatenate(
        [np.arange(a, b, piece, dtype=_I64) for a, b in zip(bounds[:-1], bounds[1:])]
        + [np.asarray(bounds, _I64)]))
    first = np.searchsorted(cuts, np.asarray(bounds[:-1], _I64))
    n = len(cuts) - 1
    per = max(1, current().memory_limit // (16 * 16 * n))
    out = []
    for k in range(0, len(vals), per):
        part = vals[k:k + per]
        node = _blocks(_search, [seg], [cuts], [range(n + 1), (0, 2), (0, len(part))], _I64,
                       extra=(part,))
        out.append(np.add.reduceat(materialise(node), first, axis=0))
    return np.concatenate(out, axis=2)


def _positions(seg, bounds, c, piece):
    """Per output chunk boundary (rows, first 0, last the run lengths) the
    position in each run (columns) of the sorted runs of ``seg`` between
    ``bounds``: ties go to earlier runs first."""
    bounds = np.asarray(bounds, _I64)
    m, total = len(bounds) - 1, int(bounds[-1])
    lens = np.diff(bounds)
    t = np.arange(c, total, c, dtype=_I64)
    if len(t) == 0:
        return np.vstack([np.zeros(m, _I64), lens])
    cnt = _counts(seg, bounds, piece, _rank_values(seg, t.tolist()))
    lt = cnt[:, 0, :].T
    eq = cnt[:, 1, :].T - lt
    need = t - lt.sum(axis=1)
    before = np.cumsum(eq, axis=1) - eq
    inner = lt + np.clip(need[:, None] - before, 0, eq)
    if not np.array_equal(inner.sum(axis=1), t):
        raise RuntimeError("external sort: the boundary positions do not add up to the "
                           "boundary ranks (a bug)")
    return np.vstack([np.zeros(m, _I64), inner, lens])


def _merge(spill, vseg, iseg, bounds, c, piece):
    """The runs of ``vseg`` (and their indices ``iseg``, or None) between
    ``bounds`` merged: lazy nodes of the values and of the indices (None
    without ``iseg``)."""
    pos = _positions(vseg, bounds, c, piece)
    total = int(bounds[-1])
    out = [tuple(range(0, total, c)) + (total,)]
    cut = list(zip(bounds[:-1], bounds[1:]))
    v = wrap(vseg)
    vruns = [lazy_node(v[int(a):int(b)]) for a, b in cut]
    m = len(vruns)
    values = _blocks(_Merge(spill, m, False), vruns, pos.T, out, vseg.dtype)
    if iseg is None:
        return values, None
    i = wrap(iseg)
    iruns = [lazy_node(i[int(a):int(b)]) for a, b in cut]
    return values, _blocks(_Merge(spill, m, True), vruns + iruns, list(pos.T) * 2, out,
                           _INTP)


# ------------------------------------------------------------ the sort

def _sizes(item, cfg):
    """(output chunk, run length, spill chunk) in elements of ``item``
    bytes (values and indices together): a merge task holds its pieces,
    their concatenation, the sorted copy and the output block (about 4.5
    chunks); a run's task its tile, the sorted copy, the output block and
    the store's tile and chunk buffers (about 6 runs), with the decoded
    chunks of the input besides: both within memory_limit over the
    threads, runs of half a chunk."""
    thr = max(1, cfg.threads)
    c = max(4096, cfg.memory_limit // (8 * thr * item))
    c -= c % 64
    return c, c // 2, c // 64


def external_sort(a, indices, what):
    """The flattened stable sort of chunkwise Array ``a`` (its values, or
    with ``indices`` its flat indices) as a lazy 1-d Array."""
    if not sortable(a.dtype):
        raise MemoryBudgetError(
            f"{what}: an array of dtype {a.dtype} is sorted in one block only, and "
            f"{size_text(a.nbytes)} does not fit memory_limit "
            f"({size_text(current().memory_limit)})")
    cfg = current()
    item = a.dtype.itemsize + (_INTP.itemsize if indices else 0)
    c, run, small = _sizes(item, cfg)
    fan = _FAN // 2 if indices else _FAN
    spill = _Spill()
    try:
        node, chunk, bounds = _runs(a, run, False)
        vseg = spill.write(node, chunk, small)
        iseg = None
        if indices:
            node, chunk, _ = _runs(a, run, True)
            iseg = spill.write(node, chunk, small)
        while len(bounds) - 1 > fan:
            vseg, iseg, bounds = _level(spill, vseg, iseg, bounds, fan, c, run, small)
        values, idx = _merge(spill, vseg, iseg, bounds, c, run)
        node = idx if indices else values
    except BaseException:
        spill.remove()
        raise
    return wrap(node)


def _level(spill, vseg, iseg, bounds, fan, c, piece, small):
    """Groups of ``fan`` runs merged into longer runs, spilled: the new
    value and index segments and run bounds."""
    starts = bounds[::fan]
    if starts[-1] != bounds[-1]:
        starts = starts + [bounds[-1]]
    v, i = wrap(vseg), (None if iseg is None else wrap(iseg))
    vparts, iparts = [], []
    for g0, g1 in zip(starts[:-1], starts[1:]):
        rel = [b - g0 for b in bounds if g0 <= b <= g1]
        gv = lazy_node(v[g0:g1])
        gi = None if i is None else lazy_node(i[g0:g1])
        mv, mi = _merge(spill, gv, gi, rel, c, piece)
        vparts.append(wrap(mv))
        if mi is not None:
            iparts.append(wrap(mi))
    nv = spill.write(lazy_node(np.concatenate(vparts)), c, small)
    ni = None if i is None else spill.write(lazy_node(np.concatenate(iparts)), c, small)
    return nv, ni, starts


def fits(nbytes) -> bool:
    """Whether a flattened sort of ``nbytes`` (input and result) fits one
    block within memory_limit."""
    return 2 * nbytes <= current().memory_limit
