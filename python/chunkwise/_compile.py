"""One pass's nodes compiled into one C program (``_core.Expr``), and the
engine objects behind sources.

Every elementwise node becomes one instruction of a single fused kernel; a
node reached twice is compiled once.  A deferred result (a reduction's,
say) stands in as a source over the ndarray a previous pass computed
(``results``, by node id); to describe a plan before anything has run it
stands in as a placeholder of zeros instead.  Composite sources (Concat,
MatMul) are built here from their parts' programs (``Expr.as_source``).

Making programs and sources starts no engine run: runs are _execute.py's.
"""
from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from . import _core
from ._nodes import (DEFERRED, Accumulate, Arange, Broadcast, Cast, Concat, Const, Full, Hdf5, Leaf,
                     MatMul, Memory, Op, ResultView, Select, leaf, postorder)
from ._nodes import Blocks, Gather, Rechunk, Reshape
from ._rewrite import index_node, transpose_node

__all__ = ["program", "source", "chunks_of", "open_hdf5", "stand_in", "take_block_error",
           "staging"]

# Rechunked nodes a run on this thread reads from their staged copies:
# id(Rechunk spec) -> (spec, Leaf over the copy).  Per thread, so that two
# threads computing the same node each read their own copy.
_staged = threading.local()


@contextlib.contextmanager
def staging(mapping):
    """``with staging({id(spec): (spec, leaf)}):`` programs built on this
    thread inside read those Rechunk specs from the leaves."""
    saved = getattr(_staged, "map", {})
    _staged.map = {**saved, **mapping}
    try:
        yield
    finally:
        _staged.map = saved


def staged_copy(spec):
    """The Leaf a run on this thread reads ``spec`` from, or None."""
    hit = getattr(_staged, "map", {}).get(id(spec))
    return None if hit is None else hit[1]

# Block functions called by the sources made on this thread since the last
# take_block_error(): the run that reads them looks for their errors.
_callers = threading.local()


class _Caller:
    """What the engine calls for each block of a Blocks source (on its
    worker threads, with the GIL): ``error`` keeps the first exception.
    The function runs under the np.errstate in effect where the program
    is built (the computing thread's; worker threads have NumPy's
    default), so NumPy inside it warns, raises or stays quiet as the
    caller asked."""
    __slots__ = ("spec", "error", "err", "__weakref__")

    def __init__(self, spec):
        self.spec, self.error, self.err = spec, None, np.geterr()

    def __call__(self, block_id, *tiles):
        with np.errstate(**self.err):
            return self.spec.call.run(self.spec, block_id, tiles)


def take_block_error():
    """The first exception a block function of the sources made on this
    thread raised (None if none); forgets those sources."""
    made = getattr(_callers, "made", None) or []
    _callers.made = []
    for c in made:
        if c.error is not None:
            return c.error
    return None


def _offsets(b):
    return np.ascontiguousarray(b, dtype=np.int64)


def _blocks_source(spec, results, describe_only, cuts):
    args = []
    for node, axes, ab, depth, bnd, fill in zip(spec.args, spec.axes, spec.arg_bounds,
                                                 spec.depth, spec.boundary, spec.fill):
        src = program([node], results, describe_only, cuts=cuts)[0].as_source()
        bounds = [_offsets(b) if k >= 0 else None for k, b in zip(axes, ab)]
        args.append((src, axes, bounds, depth, bnd, fill))
    caller = _Caller(spec)
    made = getattr(_callers, "made", None)
    if made is None or len(made) > 4096:
        made = _callers.made = []
    made.append(caller)
    return _core.blocks(args, spec.shape, [_offsets(b) for b in spec.bounds], spec.dtype,
                        caller)


def open_hdf5(path, name, swmr=False) -> Leaf:
    """A Leaf over dataset ``name`` of HDF5 file ``path`` (opened now, so a
    missing file or dataset is reported here)."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    src = _core.open_hdf5(path, name, bool(swmr))
    full = name if name.startswith("/") else "/" + name
    return leaf(Hdf5(path, full, tuple(src.shape), src.dtype, tuple(src.chunks), src,
                     bool(swmr)))


def _open(spec):
    if isinstance(spec, Hdf5):
        return _core.open_hdf5(spec.path, spec.dataset, spec.swmr)
    if isinstance(spec, Memory):
        # An array unpickled from an out-of-band buffer (dask.distributed's
        # transfers) can be unaligned: the engine reads an aligned copy.
        arr = spec.array if spec.array.flags.aligned else spec.array.copy()
        return _core.from_array(arr, spec.chunks)
    if isinstance(spec, Full):
        return _core.full(spec.shape, spec.dtype, spec.value, spec.chunks)
    if isinstance(spec, Arange):
        return _core.arange(spec.n, spec.istart, spec.istep, spec.first, spec.second,
                            spec.dtype, spec.chunk)
    raise TypeError(f"not a source: {spec!r}")


def source(spec, results=None, describe_only=False, cuts=()):
    """The engine's source for ``spec``.  A plain one is made once and kept
    on the spec; a composite is built from its parts each time (their
    deferred results may differ from one computation to the next)."""
    if isinstance(spec, Concat):
        parts = [program([p], results, describe_only, cuts=cuts)[0].as_source()
                 for p in spec.parts]
        return _core.concat(parts, spec.axis)
    if isinstance(spec, MatMul):
        sa = program([spec.a], results, describe_only, cuts=cuts)[0].as_source()
        sb = program([spec.b], results, describe_only, cuts=cuts)[0].as_source()
        return _core.matmul(sa, sb, None, spec.slice)
    if isinstance(spec, Reshape):
        return _core.reshape(program([spec.node], results, describe_only)[0].as_source(),
                             spec.shape)
    if isinstance(spec, Blocks):
        return _blocks_source(spec, results, describe_only, cuts)
    if isinstance(spec, Rechunk):
        copy = staged_copy(spec)
        inner = spec.node if copy is None else copy
        ex = program([inner], results, describe_only, tile=spec.chunks, cuts=cuts)[0]
        return ex.as_source()
    if isinstance(spec, Gather):
        return _core.gather(program([spec.node], results, describe_only)[0].as_source(),
                            spec.shape, spec.map, list(spec.tables), spec.pos, spec.m)
    if spec.source is None:
        # Frozen node, mutable cache: the engine object is not part of the data.
        object.__setattr__(spec, "source", _open(spec))
    return spec.source


def stand_in(node, results, describe_only=False):
    """What a program reads for a deferred node or a view of one (or a
    value an earlier pass computed): a Leaf over its computed result, or
    over zeros when only describing."""
    if isinstance(node, ResultView):
        base = stand_in(node.node, results, describe_only)
        for kind, arg in node.ops:
            base = index_node(base, arg) if kind == "index" else transpose_node(base, arg)
        return base
    if describe_only:
        return leaf(Full(tuple(node.shape), node.dtype, np.zeros((), node.dtype).tobytes()))
    return leaf(Memory(np.ascontiguousarray(results[id(node)])))


def _inputs(node):
    """What a program computes ``node`` from (the nodes it visits first)."""
    if isinstance(node, (Op, Select)):
        return node.inputs
    if isinstance(node, (Cast, Broadcast)):
        return (node.node,)
    return ()


def program(roots, results=None, describe_only=False, tile=None, cuts=()):
    """One finished C program computing every node of ``roots`` (one shape):
    the nodes they share, inputs included, are evaluated once per tile.
    A node other than a root that an earlier pass computed (in ``results``;
    when describing, one of ``cuts``: see _plan.py) is read from that
    result.  Returns the program and the value id of each root.

    The graph is walked with an explicit stack, so its depth is not
    limited by Python's recursion limit."""
    nd = len(roots[0].shape)
    ex = _core.expr_new(roots[0].shape)
    memo = {}       # id(node) -> (node, value id)
    subs = {}       # id(node) -> (node, what is compiled in its place)
    root_ids = {id(r) for r in roots}

    def replaced(node):
        key = id(node)
        hit = subs.get(key)
        if hit is not None:
            return hit[1]
        real = node
        if isinstance(node, DEFERRED + (ResultView,)):
            real = stand_in(node, results, describe_only)
        elif key not in root_ids and (
                (describe_only and key in cuts)
                or (results is not None and key in results)):
            real = stand_in(node, results, describe_only)
        subs[key] = (node, real)
        return real

    def operands(node):
        ids = []
        for x, dt in zip(node.inputs, node.in_dtypes):
            i = memo[id(x)][1]
            if x.dtype != dt:
                i = ex.cast(i, dt)
            ids.append(i)
        return ids

    def emit(node):
        if isinstance(node, Leaf):
            off = nd - len(node.shape)
            axes = [a + off if a >= 0 else -1 for a in node.view.axis_of_source()]
            v = node.view
            src = source(node.spec, results, describe_only, cuts)
            return ex.input(src, v.start, v.step, v.count, axes)
        if isinstance(node, Const):
            return ex.scalar(node.value.dtype, node.value.tobytes())
        if isinstance(node, Cast):
            return ex.cast(memo[id(node.node)][1], node.dtype)
        if isinstance(node, Broadcast):
            return memo[id(node.node)][1]
        if isinstance(node, Select):
            return ex.select(*operands(node))
        if isinstance(node, Op):
            ids = operands(node)
            if node.table is not None:
                return ex.table(node.loop, ids[0], node.table)
            if isinstance(node.loop, str):
                return ex.builtin(node.loop, ids, node.dtype)
            return ex.ufunc(node.ufunc, node.loop, ids)
        raise TypeError(f"cannot compile {node!r}")

    stack = list(reversed(roots))
    while stack:
        node = stack[-1]
        key = id(node)
        if key in memo:
            stack.pop()
            continue
        real = replaced(node)
        pending = [x for x in _inputs(real) if id(x) not in memo]
        if pending:
            stack.extend(reversed(pending))
            continue
        stack.pop()
        # Keeps the node alive while its id is a key.
        memo[key] = (node, emit(real))

    ids = [memo[id(r)][1] for r in roots]
    ex.finish(ids[0], tile)
    return ex, ids


# ------------------------------------------------------------------ chunks

def chunks_of(node, memo=None) -> tuple:
    """The chunk shape work on ``node`` is split by: a source's chunks as
    seen through the view, or for a computed node those of its first
    chunked input; a deferred result is one chunk."""
    memo = {} if memo is None else memo
    if id(node) not in memo:
        # Children first, iteratively (no recursion over deep graphs).
        for n in postorder([node], lambda x: () if id(x) in memo else _chunk_inputs(x)):
            if id(n) not in memo:
                memo[id(n)] = (n, _chunks(n, memo))
    return memo[id(node)][1]


def _chunk_inputs(node):
    if isinstance(node, (Cast, Accumulate)):
        return (node.node,)
    if isinstance(node, (Op, Select, Broadcast)):
        return node.inputs
    return ()


def _chunks(node, memo):
    """``node``'s chunks, those of its inputs being in ``memo``."""
    if isinstance(node, Leaf):
        v = node.view
        if isinstance(node.spec, Blocks):
            sc = tuple(max(int(b[1]), 1) for b in node.spec.bounds)
        elif isinstance(node.spec, Rechunk):
            sc = node.spec.chunks
        else:
            sc = source(node.spec, describe_only=True).chunks
        out = []
        for sd, n in zip(v.axes, v.shape):
            if sd < 0:
                out.append(min(n, 1))
            else:
                out.append(min(n, -(-sc[sd] // abs(v.step[sd]))))
        return tuple(out)
    if isinstance(node, (Cast, Accumulate)):
        return memo[id(node.node)][1]
    if isinstance(node, (Op, Select, Broadcast)):
        # Per output axis, the chunk extent of the first input that is not
        # broadcast along it; the whole axis otherwise.
        nd = len(node.shape)
        out = []
        for k, n in enumerate(node.shape):
            c = None
            for x in node.inputs:
                if isinstance(x, Const):
                    continue
                i = k - (nd - len(x.shape))
                if i >= 0 and x.shape[i] == n:
                    c = memo[id(x)][1][i]
                    break
            out.append(n if c is None else c)
        return tuple(out)
    return tuple(node.shape)     # Reduce, ArgReduce, ResultView: small, whole
