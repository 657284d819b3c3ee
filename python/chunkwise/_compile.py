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

import os

import numpy as np

from . import _core
from ._nodes import (DEFERRED, Accumulate, Arange, Broadcast, Cast, Concat, Const, Full, Hdf5, Leaf,
                     MatMul, Memory, Op, ResultView, Select, leaf)
from ._nodes import Gather, Reshape
from ._rewrite import index_node, transpose_node

__all__ = ["program", "source", "chunks_of", "open_hdf5", "stand_in"]


def open_hdf5(path, name) -> Leaf:
    """A Leaf over dataset ``name`` of HDF5 file ``path`` (opened now, so a
    missing file or dataset is reported here)."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    src = _core.open_hdf5(path, name)
    full = name if name.startswith("/") else "/" + name
    return leaf(Hdf5(path, full, tuple(src.shape), src.dtype, tuple(src.chunks), src))


def _open(spec):
    if isinstance(spec, Hdf5):
        return _core.open_hdf5(spec.path, spec.dataset)
    if isinstance(spec, Memory):
        return _core.from_array(spec.array, spec.chunks)
    if isinstance(spec, Full):
        return _core.full(spec.shape, spec.dtype, spec.value, spec.chunks)
    if isinstance(spec, Arange):
        return _core.arange(spec.n, spec.istart, spec.istep, spec.first, spec.second,
                            spec.dtype, spec.chunk)
    raise TypeError(f"not a source: {spec!r}")


def source(spec, results=None, describe_only=False):
    """The engine's source for ``spec``.  A plain one is made once and kept
    on the spec; a composite is built from its parts each time (their
    deferred results may differ from one computation to the next)."""
    if isinstance(spec, Concat):
        parts = [program([p], results, describe_only)[0].as_source() for p in spec.parts]
        return _core.concat(parts, spec.axis)
    if isinstance(spec, MatMul):
        sa = program([spec.a], results, describe_only)[0].as_source()
        sb = program([spec.b], results, describe_only)[0].as_source()
        return _core.matmul(sa, sb, None)
    if isinstance(spec, Reshape):
        return _core.reshape(program([spec.node], results, describe_only)[0].as_source(),
                             spec.shape)
    if isinstance(spec, Gather):
        return _core.gather(program([spec.node], results, describe_only)[0].as_source(),
                            spec.shape, spec.map, list(spec.tables), spec.pos, spec.m)
    if spec.source is None:
        # Frozen node, mutable cache: the engine object is not part of the data.
        object.__setattr__(spec, "source", _open(spec))
    return spec.source


def stand_in(node, results, describe_only=False):
    """What a program reads for a deferred node or a view of one: a Leaf
    over its computed result, or over zeros when only describing."""
    if isinstance(node, ResultView):
        base = stand_in(node.node, results, describe_only)
        for kind, arg in node.ops:
            base = index_node(base, arg) if kind == "index" else transpose_node(base, arg)
        return base
    if describe_only:
        return leaf(Full(tuple(node.shape), node.dtype, np.zeros((), node.dtype).tobytes()))
    return leaf(Memory(np.ascontiguousarray(results[id(node)])))


def program(roots, results=None, describe_only=False, tile=None):
    """One finished C program computing every node of ``roots`` (one shape):
    the nodes they share, inputs included, are evaluated once per tile.
    Returns the program and the value id of each root."""
    nd = len(roots[0].shape)
    ex = _core.expr_new(roots[0].shape)
    memo = {}

    def operands(node):
        ids = []
        for x, dt in zip(node.inputs, node.in_dtypes):
            i = visit(x)
            if x.dtype != dt:
                i = ex.cast(i, dt)
            ids.append(i)
        return ids

    def visit(node):
        key = id(node)
        if key in memo:
            return memo[key][1]
        seen = node
        if isinstance(node, DEFERRED + (ResultView,)):
            node = stand_in(node, results, describe_only)
        if isinstance(node, Leaf):
            off = nd - len(node.shape)
            axes = [a + off if a >= 0 else -1 for a in node.view.axis_of_source()]
            v = node.view
            src = source(node.spec, results, describe_only)
            vid = ex.input(src, v.start, v.step, v.count, axes)
        elif isinstance(node, Const):
            vid = ex.scalar(node.value.dtype, node.value.tobytes())
        elif isinstance(node, Cast):
            vid = ex.cast(visit(node.node), node.dtype)
        elif isinstance(node, Broadcast):
            vid = visit(node.node)
        elif isinstance(node, Select):
            vid = ex.select(*operands(node))
        elif isinstance(node, Op):
            ids = operands(node)
            if isinstance(node.loop, str):
                vid = ex.builtin(node.loop, ids, node.dtype)
            else:
                vid = ex.ufunc(node.ufunc, node.loop, ids)
        else:
            raise TypeError(f"cannot compile {node!r}")
        memo[key] = (seen, vid)  # keeps the node alive while its id is a key
        return vid

    ids = [visit(r) for r in roots]
    ex.finish(ids[0], tile)
    return ex, ids


# ------------------------------------------------------------------ chunks

def chunks_of(node, memo=None) -> tuple:
    """The chunk shape work on ``node`` is split by: a source's chunks as
    seen through the view, or for a computed node those of its first
    chunked input; a deferred result is one chunk."""
    memo = {} if memo is None else memo
    key = id(node)
    if key not in memo:
        memo[key] = (node, _chunks(node, memo))
    return memo[key][1]


def _chunks(node, memo):
    if isinstance(node, Leaf):
        v = node.view
        sc = source(node.spec, describe_only=True).chunks
        out = []
        for sd, n in zip(v.axes, v.shape):
            if sd < 0:
                out.append(min(n, 1))
            else:
                out.append(min(n, -(-sc[sd] // abs(v.step[sd]))))
        return tuple(out)
    if isinstance(node, (Cast, Accumulate)):
        return chunks_of(node.node, memo)
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
                    c = chunks_of(x, memo)[i]
                    break
            out.append(n if c is None else c)
        return tuple(out)
    return tuple(node.shape)     # Reduce, ArgReduce, ResultView: small, whole
