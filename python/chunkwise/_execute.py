"""Running plans: the only module that starts engine runs.

``run`` executes a plan's passes in order, keeping every deferred result
(by node id) for the passes after it; ``materialise``, ``compute`` and
``store`` are the entry points the rest of the package uses.  Each engine
run goes through ``_engine``: a progress bar when wanted, and afterwards
the floating-point conditions it raised reported as NumPy reports them.

Every engine run is one ``Expr.run`` call, in ``_run``, with the run's
outputs as data; nothing else here (or anywhere else) calls ``_core`` to run.
"""
from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np

from . import _core
from ._coerce import normalize_chunks
from ._compile import (chunks_of, open_hdf5, program, staged_copy, stand_in, staging,
                       take_block_error)
from ._nodes import (DEFERRED, Accumulate, Arange, ArgReduce, Blocks, Full, Hdf5, Leaf, Memory,
                     Rechunk, Reduce, children)
from ._nodes import leaf, postorder
from ._plan import plan
from .config import current, size_text
from .indexing import View
from .progress import reporter

__all__ = ["StoreTarget", "store_target", "run", "materialise", "compute", "store",
           "splittable", "partial_count", "partials", "combine_partials",
           "bincount", "report_fp", "user_stacklevel"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def user_stacklevel() -> int:
    """The ``stacklevel`` of a warning raised here that points at the first
    caller outside this package."""
    f, level = sys._getframe(1), 1
    while f is not None and os.path.dirname(os.path.abspath(f.f_code.co_filename)) \
            == _PACKAGE:
        f, level = f.f_back, level + 1
    return level


# ------------------------------------------------------------ store target

_BLOSC_CODECS = ("blosclz", "lz4", "lz4hc", "zlib", "zstd")


@dataclasses.dataclass(frozen=True, slots=True)
class StoreTarget:
    """A new HDF5 dataset to write, as the engine takes it."""
    path: str
    name: str
    chunks: tuple         # 0 per dim: the engine picks
    codec: str            # "none", "deflate", "zstd", "lz4", "bzip2", "lzf", "blosc",
                          # "bitshuffle", "bitshuffle-lz4", "bitshuffle-zstd",
                          # "blosc2"
    blosc_codec: str
    level: int
    shuffle: bool
    bitshuffle: bool
    overwrite: bool


def _parse_compression(compression):
    if compression is None:
        return "none", "lz4"
    if not isinstance(compression, str):
        raise TypeError(f"compression must be a str or None, not {compression!r}")
    c = compression.lower()
    if c in ("gzip", "deflate"):
        return "deflate", "lz4"
    if c in ("zstd", "lz4", "bzip2", "lzf", "bitshuffle", "bitshuffle-lz4",
             "bitshuffle-zstd"):
        return c, "lz4"
    if c.startswith("blosc-") and c[6:] in _BLOSC_CODECS:
        return "blosc", c[6:]
    if c == "blosc":
        return "blosc", "lz4"
    if c.startswith("blosc2-") and c[7:] in _BLOSC_CODECS:
        return "blosc2", c[7:]
    if c == "blosc2":
        return "blosc2", "lz4"
    names = ", ".join(f"'blosc-{x}', 'blosc2-{x}'" for x in _BLOSC_CODECS)
    raise ValueError(f"unknown compression {compression!r}: use {names}, 'gzip', "
                     "'zstd', 'lz4', 'bzip2', 'lzf', 'bitshuffle', 'bitshuffle-lz4', "
                     "'bitshuffle-zstd' or None")


def store_target(path, name, shape, chunks, compression, level, overwrite,
                 shuffle, current=None, itemsize=8) -> StoreTarget:
    """Check ``to_hdf5``'s arguments (its errors, in its order)."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    codec, blosc_codec = _parse_compression(compression)
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise TypeError(f"level must be an int, not {level!r}")
    if not 0 <= level <= 9:
        raise ValueError(f"level must be in 0..9, got {level}")
    if shuffle not in (True, False, "bit", "byte"):
        raise ValueError(f"shuffle must be True, False, 'byte' or 'bit', not {shuffle!r}")
    if codec.startswith("bitshuffle"):
        # The Bitshuffle filter is the bit shuffle; no byte shuffle filter.
        if shuffle not in (True, "bit"):
            raise ValueError(f"compression={compression!r} always shuffles bits: "
                             f"shuffle must be True or 'bit', not {shuffle!r}")
        shuffle = False
    elif shuffle == "bit" and codec not in ("blosc", "blosc2"):
        raise ValueError("bit shuffle is only available with Blosc and Blosc2")
    out_chunks = normalize_chunks(chunks, shape, current, itemsize)
    if out_chunks is None:
        out_chunks = (0,) * len(shape)
    return StoreTarget(path, name, out_chunks, codec, blosc_codec, int(level),
                       shuffle in (True, "byte"), shuffle == "bit", bool(overwrite))


# ------------------------------------------------------------ engine runs

_FP = ((1, "divide", "divide by zero"), (2, "over", "overflow"),
       (4, "under", "underflow"), (8, "invalid", "invalid value"))


def report_fp(what: str) -> None:
    """After an engine run: report the floating-point conditions it raised
    as NumPy does after a ufunc, following numpy.seterr / numpy.errstate
    (RuntimeWarning by default, FloatingPointError under 'raise')."""
    flags = _core.fp_flags()
    if not flags:
        return
    if flags & 16:  # an integer to a negative integer power
        raise ValueError("Integers to negative integer powers are not allowed.")
    err = np.geterr()
    for bit, key, text in _FP:
        if not flags & bit:
            continue
        mode = err[key]
        if mode == "ignore":
            continue
        message = f"{text} encountered in {what}"
        if mode == "raise":
            raise FloatingPointError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=user_stacklevel())


def _engine(cfg, label, what, call):
    """One engine run: ``call(progress)``, with a progress bar if wanted;
    then its floating-point conditions reported (``what`` names it)."""
    bar = reporter(label, cfg.progress)
    # A run that has no task to run (an empty array) leaves the flags as
    # they were: an earlier run's must not be reported as its own.
    _core.fp_flags_clear()
    try:
        call(bar)
    finally:
        if bar is not None:
            bar.close()
    report_fp(what)


def _run(cfg, ex, outputs, label, what):
    """The one kind of engine run: a program's outputs (Expr.run), each a
    ``(kind, id, ...)`` tuple: ``("buffer", id, out)``, ``("reduce", id,
    ufunc, loop, axes_mask, out)``, ``("accumulate", id, ufunc, loop, axis,
    out | target)``, ``("argreduce", id, is_max, axis, out)``, ``("store",
    id, target)``.  The engine shares one pass among the buffers and
    reductions; a program that only selects from one source is copied
    chunk by chunk on that source's grid."""
    try:
        _engine(cfg, label, what, lambda bar: ex.run(
            outputs, cfg.threads, cfg.memory_limit, bar, cfg.direct_io_code))
    except BaseException:
        # A block function's own exception (with its traceback) rather
        # than the engine's report that a block failed.
        err = take_block_error()
        if err is not None:
            raise err from None
        raise
    take_block_error()


def _target(t):
    """A StoreTarget as Expr.run takes it."""
    return (t.path, t.name, t.chunks, t.codec, t.blosc_codec, t.level, t.shuffle,
            t.bitshuffle, t.overwrite)


def _accumulation(node, vid, into):
    return ("accumulate", vid, node.ufunc, node.loop, node.axis, into)


# ------------------------------------------------------------------ passes

def _empty_result(node):
    """NumPy's answer (or error) for a reduction that needs no data."""
    if isinstance(node, Reduce):
        empty = np.empty(node.node.shape, node.dtype)
        return np.asarray(node.ufunc.reduce(empty, axis=node.axes,
                                            keepdims=node.keepdims))
    if isinstance(node, ArgReduce):
        f = np.argmax if node.is_max else np.argmin
        return np.asarray(f(np.zeros(node.node.shape, node.node.dtype), axis=node.axis,
                            keepdims=node.keepdims))
    return np.empty(node.shape, node.dtype)


def _kept(node):
    """A reduction's output as the engine writes it: the kept axes."""
    return tuple(n for k, n in enumerate(node.node.shape) if k not in node.axes)


_POOLED = 4 << 20       # results from this size on come from the result pool


def new_array(shape, dtype, cfg=None) -> np.ndarray:
    """A new uninitialised C-ordered result array.  Its memory comes from the
    extension's result pool: large blocks freed by earlier results (at most
    ``memory_limit`` bytes kept) are reused, so a new result does not pay for
    faulting in and zeroing fresh pages each time."""
    shape = tuple(shape)
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < _POOLED:
        return np.empty(shape, dtype)
    cfg = current() if cfg is None else cfg
    return _core.empty(shape, dtype, cfg.memory_limit)


def _buffer(node, outs, cfg):
    """The array ``node`` is computed into: the caller's, or a new one."""
    b = outs.get(id(node))
    return new_array(node.shape, node.dtype, cfg) if b is None else b


def _run_pass(ps, cfg, results, outs):
    if ps.kind == "empty":
        results[id(ps.node)] = _empty_result(ps.node)
    elif ps.kind == "read":
        node = ps.values[0]
        buf = _buffer(node, outs, cfg)
        # The view's inserted axes (extent 1, NumPy allows 64 axes, a
        # program has at most 32) are left out; dropping them from the
        # buffer is always a view.
        v = node.view
        kept = [k for k, sd in enumerate(v.axes) if sd >= 0]
        core = Leaf(node.spec, View(v.start, v.step, v.count, [v.axes[k] for k in kept],
                                    [v.shape[k] for k in kept]))
        ex, ids = program([core], results)
        _run(cfg, ex, [("buffer", ids[0], buf.reshape(core.shape))], "reading",
             "chunkwise read")
        results[id(node)] = buf
    elif ps.kind == "program":
        roots = list(ps.values) + [r.node for r in ps.reductions]
        ex, ids = program(roots, results)
        bufs = [_buffer(v, outs, cfg) for v in ps.values]
        outputs = [("buffer", vid, b) for vid, b in zip(ids, bufs)]
        for r, vid in zip(ps.reductions, ids[len(ps.values):]):
            mask = [k in r.axes for k in range(len(r.node.shape))]
            outputs.append(("reduce", vid, r.ufunc, r.loop, mask,
                            new_array(_kept(r), r.dtype, cfg)))
        if ps.values or len(ps.reductions) > 1:
            label, what = "computing", "chunkwise computation"
        else:
            name = ps.reductions[0].ufunc.__name__
            label, what = f"{name}.reduce", f"chunkwise {name}.reduce"
        _run(cfg, ex, outputs, label, what)
        for v, b in zip(ps.values, bufs):
            results[id(v)] = b
        for r, o in zip(ps.reductions, outputs[len(bufs):]):
            results[id(r)] = o[5].reshape(r.shape)
    elif ps.kind == "accumulate":
        node = ps.node
        buf = _buffer(node, outs, cfg)
        ex, ids = program([node.node], results)
        name = node.ufunc.__name__
        _run(cfg, ex, [_accumulation(node, ids[0], buf)], f"{name}.accumulate",
             f"chunkwise {name}.accumulate")
        results[id(node)] = buf
    elif ps.kind == "argreduce":
        node = ps.node
        kept = () if node.axis is None else tuple(
            n for k, n in enumerate(node.node.shape) if k != node.axis)
        buf = new_array(kept, np.int64, cfg)
        ex, ids = program([node.node], results)
        name = "argmax" if node.is_max else "argmin"
        axis = -1 if node.axis is None else node.axis
        _run(cfg, ex, [("argreduce", ids[0], node.is_max, axis, buf)], name,
             f"chunkwise {name}")
        results[id(node)] = buf.astype(np.intp, copy=False).reshape(node.shape)
    else:
        _store(ps.node, ps.target, cfg, results)


def _store(node, t, cfg, results):
    label = f"writing {t.name}"
    if isinstance(node, Accumulate):
        ex, ids = program([node.node], results)
        _run(cfg, ex, [_accumulation(node, ids[0], _target(t))], label,
             f"chunkwise {node.ufunc.__name__}.accumulate")
        return
    if isinstance(node, DEFERRED):
        node = stand_in(node, results)
    what = "chunkwise store" if isinstance(node, Leaf) else "chunkwise computation"
    ex, ids = program([node], results)
    _run(cfg, ex, [("store", ids[0], _target(t))], label, what)


# ------------------------------------------------------------- rechunking

def _threads(cfg) -> int:
    return cfg.threads if cfg.threads and cfg.threads > 0 else (os.cpu_count() or 1)


def _span(n, s, t):
    """Elements of the source chunks (extent s) one target chunk (extent
    t) of an axis of n elements overlaps, at most."""
    return min(n, (-(-t // s) + (1 if t % s else 0)) * s)


def _needs_staging(spec, cfg) -> bool:
    """Whether ``spec``'s node is copied first into intermediate chunks
    (the smaller of source and target per axis), from which every target
    chunk is read whole: when reading a target chunk would decode more
    source chunks than a task may hold, or, for data read from files,
    more than 4 times its own size (rows to columns decodes every row
    chunk for each column chunk; staged, each is decoded about once)."""
    node = spec.node
    if isinstance(node, Leaf) and isinstance(node.spec, Memory):
        return False
    nodes = postorder([node], children)
    if all(isinstance(n.spec, (Memory, Full, Arange)) for n in nodes if isinstance(n, Leaf)) \
            and not any(isinstance(n, Leaf) and isinstance(n.spec, Blocks) for n in nodes):
        return False    # arrays and generators: any region is read as cheaply
    if 0 in node.shape or any(isinstance(n, DEFERRED) for n in nodes):
        return False
    src = chunks_of(node)
    if tuple(src) == tuple(spec.chunks):
        return False
    item = node.dtype.itemsize
    span = math.prod(_span(n, max(s, 1), t) for n, s, t in zip(node.shape, src, spec.chunks))
    target = math.prod(spec.chunks)
    if (span + target) * item * _threads(cfg) > cfg.memory_limit:
        return True
    stored = any(isinstance(n, Leaf) and isinstance(n.spec, Hdf5) for n in nodes)
    return stored and span > 4 * target


def _stage(specs, cfg, tmp) -> dict:
    """Copy each Rechunk's node into a temporary HDF5 dataset of
    intermediate chunks under ``tmp``: id(spec) -> (spec, Leaf over it)."""
    copies = {}
    for i, spec in enumerate(specs):
        src = chunks_of(spec.node)
        mid = tuple(max(1, min(s, t)) for s, t in zip(src, spec.chunks))
        path = os.path.join(tmp, f"stage{i}.h5")
        t = StoreTarget(path, "/staged", mid, "none", "lz4", 0, False, False, True)
        with staging(copies):
            _store(spec.node, t, cfg, {})
        copies[id(spec)] = (spec, open_hdf5(path, "/staged"))
    return copies


# Temporary folders are <tmp>/<prefix><pid>-<random>: staged copies of a
# rechunk ("chunkwise-rechunk-") and the runs of an external sort
# ("chunkwise-sort-", extsort.py).  A later run removes those whose
# process is gone (killed before its own clean-up).
_STAGE_PREFIX = "chunkwise-rechunk-"
_TEMP_PREFIXES = (_STAGE_PREFIX, "chunkwise-sort-")


def temporary_folder(prefix: str) -> str:
    """A new folder <tmp>/<prefix><pid>-<random> (``prefix`` one of
    _TEMP_PREFIXES), old ones of killed processes removed first."""
    remove_orphaned_staging()
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")


def _stage_dir() -> str:
    """A new folder for one run's staged copies."""
    return temporary_folder(_STAGE_PREFIX)


def remove_orphaned_staging() -> None:
    """Remove the temporary folders (staged copies, sort runs) of
    processes that no longer exist."""
    tmp = tempfile.gettempdir()
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    for name in names:
        prefix = next((p for p in _TEMP_PREFIXES if name.startswith(p)), None)
        if prefix is None:
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:      # another user's process: alive
        return True
    return True


def _staged_specs(p, cfg) -> list:
    roots = list(p.roots) + [n for ps in p.passes for n in
                             (ps.values + tuple(r.node for r in ps.reductions)
                              + ((ps.node,) if ps.node is not None else ()))]
    found = []
    for n in postorder(roots, children):
        if isinstance(n, Leaf) and isinstance(n.spec, Rechunk) and staged_copy(n.spec) is None \
                and all(n.spec is not f for f in found) and _needs_staging(n.spec, cfg):
            found.append(n.spec)
    return found


def run(p, cfg=None, outs=None) -> dict:
    """Run plan ``p``: returns every result it computed, by node id.
    ``outs`` (node id -> ndarray) are buffers to compute roots into.
    Rechunked nodes that need it are staged first through temporary HDF5
    datasets, removed afterwards."""
    cfg = current() if cfg is None else cfg
    staged = _staged_specs(p, cfg)
    if not staged:
        return _run_plan(p, cfg, outs)
    tmp = _stage_dir()
    try:
        copies = _stage(staged, cfg, tmp)
        with staging(copies):
            return _run_plan(p, cfg, outs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_plan(p, cfg, outs):
    outs = {} if outs is None else outs
    results = {}
    for n in p.cut_nodes:
        nbytes = math.prod(n.shape) * n.dtype.itemsize
        if nbytes > cfg.memory_limit:
            raise _core.MemoryBudgetError(
                f"this expression is too long for one engine program and is "
                f"computed in passes; an intermediate result of shape {n.shape} "
                f"({size_text(nbytes)}) would exceed memory_limit "
                f"({size_text(cfg.memory_limit)}): store part of it with "
                "to_hdf5() first")
    for ps in p.passes:
        _run_pass(ps, cfg, results, outs)
        for k in ps.release:
            results.pop(k, None)
    return results


def _check_out(node, out):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
    if out.shape != node.shape:
        raise ValueError(f"out has shape {out.shape}, expected {node.shape}")
    if out.dtype != node.dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {node.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def materialise(node, out=None) -> np.ndarray:
    """The value of ``node`` as a new ndarray, or in ``out`` (a writeable
    ndarray of exactly its shape and dtype, filled in place)."""
    if out is not None:
        _check_out(node, out)
    results = run(plan([node]), outs={} if out is None else {id(node): out})
    r = results.get(id(node))
    if r is None:                      # nothing to compute: an empty result
        return np.empty(node.shape, node.dtype) if out is None else out
    if out is not None and r is not out:
        out[...] = r
        return out
    return r


def compute(nodes) -> list:
    """The values of several nodes, from one plan (passes shared by shape);
    the same node asked for twice gives two arrays."""
    results = run(plan(nodes))
    out, given = [], set()
    for n in nodes:
        r = results.get(id(n))
        if r is None:
            r = np.empty(n.shape, n.dtype)
        elif id(n) in given:
            r = r.copy()
        given.add(id(n))
        out.append(r)
    return out


def store(node, target: StoreTarget, stage=True) -> Leaf:
    """Stream ``node`` into a new HDF5 dataset; returns a Leaf over it.
    Chunks other than the node's are written from a rechunked node (staged
    when that needs it; with ``stage=False`` each new chunk is read from
    the node's region directly, for a stored node whose chunks each cover
    whole new chunks: each thread's last decoded chunk is kept)."""
    remove_orphaned_staging()
    chunks = tuple(target.chunks)
    if stage and chunks and all(chunks) and not isinstance(node, DEFERRED) \
            and _needs_staging(Rechunk(node, chunks), current()):
        node = leaf(Rechunk(node, chunks))
    run(plan((), store=node, target=target))
    return open_hdf5(target.path, target.name)


def bincount(index, weights, nbins, dtype, extremes=None) -> np.ndarray:
    """Count the int64 bin indices of node ``index`` in [0, nbins) (others
    are left out), or sum the weights of node ``weights`` (int64 or
    float64, ``dtype``) per bin: one engine pass over the program of both.
    ``extremes`` (an int64 array of 2), when given, receives the least and
    greatest index (int64 max and min when there is none).  Results the
    nodes need first (a reduction inside them) are computed before it."""
    cfg = current()
    if nbins * 8 > cfg.memory_limit // 2:
        raise _core.MemoryBudgetError(
            f"bincount: {nbins} bins take {size_text(nbins * 8)}, more than half "
            f"of memory_limit ({size_text(cfg.memory_limit)})")
    roots = [index] if weights is None else [index, weights]
    deferred = [n for n in postorder(roots, lambda n: () if isinstance(n, DEFERRED)
                                     else children(n))
                if isinstance(n, DEFERRED)]
    results = run(plan(deferred), cfg) if deferred else {}
    out = np.zeros(nbins, dtype)
    if extremes is not None:
        extremes[:] = (np.iinfo(np.int64).max, np.iinfo(np.int64).min)
    if nbins == 0 or math.prod(index.shape) == 0:
        return out
    ex, ids = program(roots, results)
    wid = ids[1] if weights is not None else -1
    o = ("bincount", ids[0], wid, out) + (() if extremes is None else (extremes,))
    _run(cfg, ex, [o], "bincount", "chunkwise bincount")
    return out



# ------------------------------------------------- partials of a reduction
#
# A reduction's run keeps one partial per tile of the reduced axes (in C
# order over their tile grid) and combines them pairwise in that order.
# Computing ranges of them elsewhere (a cluster's workers) and combining
# the lot here in the same order gives the local result bit for bit.

def _red_program(node: Reduce):
    ex, ids = program([node.node], {})
    mask = [k in node.axes for k in range(len(node.node.shape))]
    return ex, ids[0], mask


def splittable(node) -> bool:
    """Whether reduction ``node`` can be computed as ranges of partials:
    a non-empty Reduce whose inputs need no staging through a temporary
    dataset (those are computed whole, by ``materialise``)."""
    return (isinstance(node, Reduce) and math.prod(node.node.shape) > 0
            and not _staged_specs(plan([node]), current()))


def partial_count(node: Reduce) -> int:
    """How many partials a run of reduction ``node`` keeps (its inputs hold
    no deferred result)."""
    ex, _, mask = _red_program(node)
    return math.prod(-(-n // max(t, 1)) for n, t, m in zip(node.node.shape, ex.tile(), mask)
                     if m)


def partials(node: Reduce, lo: int, hi: int) -> np.ndarray:
    """Partials [lo, hi) of reduction ``node``, uncombined: shape
    ``(hi - lo,) + kept``."""
    cfg = current()
    ex, vid, mask = _red_program(node)
    out = np.empty((hi - lo,) + _kept(node), node.dtype)
    name = node.ufunc.__name__
    _run(cfg, ex, [("reduce", vid, node.ufunc, node.loop, mask, out, (lo, hi))],
         f"{name}.reduce", f"chunkwise {name}.reduce")
    return out


def combine_partials(node: Reduce, parts: np.ndarray) -> np.ndarray:
    """The value of ``node`` from all its partials (``parts``, in index
    order), combined pairwise in the engine's order: r with r + step for
    step 1, 2, 4, ... (one NumPy call per level)."""
    parts = np.array(parts, node.dtype, copy=True)
    sig = node.ufunc.types[node.loop] if isinstance(node.loop, int) else None
    n = len(parts)
    step = 1
    with np.errstate(all="ignore"):
        while step < n:
            a = parts[0:n - step:2 * step]
            node.ufunc(a, parts[step:n:2 * step], out=a, signature=sig)
            step *= 2
    return parts[0].reshape(node.shape)
