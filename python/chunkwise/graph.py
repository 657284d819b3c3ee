"""Graph nodes of lazy arrays, and their compilation into C programs.

Nodes are plain data (no callbacks into Python at run time):

- ``Leaf``: a view (indexing.View) of a source in the C engine;
- ``Const``: a scalar, already converted to the dtype its loop expects;
- ``Op``: a NumPy ufunc applied elementwise, with the inner loop NumPy
  itself selects for the operand dtypes (``loop``: index into
  ``ufunc.types``) and the dtypes that loop takes (``in_dtypes``);
- ``Cast``: a conversion (``astype``).

Shapes broadcast as in NumPy, right-aligned.  ``compile_expr`` turns the
graph under a root into one C program (``_core.Expr``): every elementwise
node becomes one instruction of a single fused kernel; a node reached twice
is compiled once.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from . import _core
from .indexing import View, _expand, index_view

__all__ = ["Leaf", "Const", "Op", "Select", "Cast", "compile_expr", "compile_many",
           "index_node", "transpose_node"]


class Leaf:
    __slots__ = ("src", "view", "origin")

    def __init__(self, src, view=None, origin=None):
        self.src = src
        self.view = view if view is not None else View.whole(src.shape)
        self.origin = origin

    @property
    def shape(self):
        return self.view.shape

    @property
    def dtype(self):
        return self.src.dtype

    @property
    def chunks(self):
        v, sc = self.view, self.src.chunks
        out = []
        for sd, n in zip(v.axes, v.shape):
            if sd < 0:
                out.append(min(n, 1))
            else:
                out.append(min(n, -(-sc[sd] // abs(v.step[sd]))))
        return tuple(out)


class Const:
    __slots__ = ("value",)

    def __init__(self, value: np.ndarray):
        self.value = value      # 0-d ndarray of the loop's input dtype

    shape = ()

    @property
    def dtype(self):
        return self.value.dtype


class Op:
    # `loop`: the index of NumPy's inner loop in ufunc.types, or the name
    # of an engine built-in that replaces it (integer power).
    __slots__ = ("ufunc", "loop", "in_dtypes", "inputs", "shape", "dtype", "_chunks")

    def __init__(self, ufunc, loop, in_dtypes, inputs, shape, dtype):
        self.ufunc = ufunc
        self.loop = loop
        self.in_dtypes = in_dtypes
        self.inputs = inputs
        self.shape = shape
        self.dtype = dtype
        self._chunks = None

    @property
    def chunks(self):
        if self._chunks is None:
            self._chunks = broadcast_chunks(self.shape, self.inputs)
        return self._chunks

    def with_inputs(self, inputs, shape):
        return Op(self.ufunc, self.loop, self.in_dtypes, inputs, shape, self.dtype)


class Select:
    """numpy.where(cond, a, b): inputs are a bool node and two nodes of the
    result's dtype."""
    __slots__ = ("inputs", "shape", "dtype", "_chunks")

    def __init__(self, inputs, shape, dtype):
        self.inputs = inputs
        self.shape = shape
        self.dtype = dtype
        self._chunks = None

    @property
    def in_dtypes(self):
        return (np.dtype(bool), self.dtype, self.dtype)

    @property
    def chunks(self):
        if self._chunks is None:
            self._chunks = broadcast_chunks(self.shape, self.inputs)
        return self._chunks

    def with_inputs(self, inputs, shape):
        return Select(inputs, shape, self.dtype)


class Broadcast:
    """numpy.broadcast_to: the input seen with a larger shape.  The kernel
    evaluates every value at the result's shape, so this compiles to its
    input: broadcasting happens where inputs are read (stride 0)."""
    __slots__ = ("inputs", "shape", "dtype")

    def __init__(self, node, shape):
        self.inputs = [node]
        self.shape = tuple(shape)
        self.dtype = node.dtype

    @property
    def chunks(self):
        return broadcast_chunks(self.shape, self.inputs)

    def with_inputs(self, inputs, shape):
        return Broadcast(inputs[0], shape)


class Cast:
    __slots__ = ("node", "dtype")

    def __init__(self, node, dtype):
        self.node = node
        self.dtype = np.dtype(dtype)

    @property
    def shape(self):
        return self.node.shape

    @property
    def chunks(self):
        return self.node.chunks


def broadcast_chunks(shape, inputs):
    """Per output axis, the chunk extent of the first input that is not
    broadcast along it; the whole axis otherwise."""
    nd = len(shape)
    out = []
    for k, n in enumerate(shape):
        c = None
        for x in inputs:
            if isinstance(x, Const):
                continue
            i = k - (nd - len(x.shape))
            if i >= 0 and x.shape[i] == n:
                c = x.chunks[i]
                break
        out.append(n if c is None else c)
    return tuple(out)


# ------------------------------------------------------------------ indexing

# Results cw.compute already has from a shared pass, by node id: while it
# computes the rest, reductions inside them are taken from here.
_results = None


@contextlib.contextmanager
def shared_results(results):
    """Let materialised() take these results (by node id) while active."""
    global _results
    prev, _results = _results, results
    try:
        yield
    finally:
        _results = prev


def materialised(node):
    """A reduction's (small) or accumulation's result as a Leaf over
    memory."""
    value = _results.get(id(node)) if _results is not None else None
    if value is None:
        from .config import get_config
        cfg = get_config()
        value = node.evaluate(cfg["threads"], cfg["memory_limit"])
    return Leaf(_core.from_array(np.ascontiguousarray(value), None))


class Deferred:
    """A reduction, accumulation or arg-reduction seen through indexing and
    transposes: nothing is computed until a program needs the values; then
    the whole (small) result is computed and viewed."""
    __slots__ = ("node", "ops", "shape", "dtype")

    def __init__(self, node, ops, shape):
        self.node = node
        self.ops = ops
        self.shape = tuple(shape)
        self.dtype = node.dtype

    @property
    def chunks(self):
        return self.shape

    @classmethod
    def wrap(cls, node, op, shape):
        if isinstance(node, Deferred):
            return cls(node.node, node.ops + (op,), shape)
        return cls(node, (op,), shape)

    def resolve(self):
        leaf = materialised(self.node)
        for kind, arg in self.ops:
            leaf = index_node(leaf, arg) if kind == "index" else transpose_node(leaf, arg)
        return leaf


def _deferred_types():
    from .reductions import Accumulate, ArgReduce, Reduce
    return (Reduce, Accumulate, ArgReduce, Deferred)


def index_node(node, key):
    """Index a node lazily; for computed nodes the index is pushed down to
    the inputs, so only the chunks the result needs are ever read.  (A
    reduction's result is small: it is computed whole when needed, then
    indexed.)"""
    if isinstance(node, _deferred_types()):
        shape = index_view(View.whole(node.shape), key).shape
        return Deferred.wrap(node, ("index", key), shape)
    if isinstance(node, Leaf):
        return Leaf(node.src, index_view(node.view, key), node.origin)
    if isinstance(node, Cast):
        return Cast(index_node(node.node, key), node.dtype)
    # Validate against the output shape first (NumPy's errors).
    shape = node.shape
    new = index_view(View.whole(shape), key)
    items = _expand(key, len(shape))
    inputs = []
    for x in node.inputs:
        if isinstance(x, Const):
            inputs.append(x)
            continue
        # Make the input full-rank, then index it axis by axis; along a
        # broadcast axis an int picks 0 and a slice keeps extent 1.
        full = _full_rank(x, len(shape))
        sub = []
        k = 0
        for it in items:
            if it is None:
                sub.append(None)
                continue
            bcast = full.shape[k] == 1 and shape[k] != 1
            if bcast:
                if isinstance(it, slice):
                    m = len(range(*it.indices(shape[k])))
                    sub.append(slice(0, 1 if m > 0 else 0))
                else:
                    sub.append(0)
            else:
                sub.append(it)
            k += 1
        inputs.append(index_node(full, tuple(sub)))
    return node.with_inputs(inputs, new.shape)


def _full_rank(x, nd):
    pad = nd - len(x.shape)
    return index_node(x, (None,) * pad) if pad else x


def transpose_node(node, perm):
    """Permute the axes of a node lazily (numpy.transpose's ``axes``)."""
    if isinstance(node, _deferred_types()):
        return Deferred.wrap(node, ("transpose", tuple(perm)),
                             tuple(node.shape[p] for p in perm))
    if isinstance(node, Leaf):
        v = node.view
        view = View(v.start, v.step, v.count, [v.axes[p] for p in perm],
                    [v.shape[p] for p in perm])
        return Leaf(node.src, view, node.origin)
    if isinstance(node, Cast):
        return Cast(transpose_node(node.node, perm), node.dtype)
    nd = len(node.shape)
    inputs = [x if isinstance(x, Const) else transpose_node(_full_rank(x, nd), perm)
              for x in node.inputs]
    return node.with_inputs(inputs, tuple(node.shape[p] for p in perm))


# --------------------------------------------------------------- compiling

def compile_many(roots):
    """One C program computing every node of ``roots`` (same shape): the
    nodes they share, inputs included, are evaluated once per tile.
    Returns the program and the value id of each root."""
    ids = []
    ex = compile_expr(roots[0], extra=roots[1:], ids=ids)
    return ex, ids


def compile_expr(root, tile=None, describe_only=False, extra=(), ids=None):
    """One C program for the elementwise graph under ``root``.  Reductions
    inside it are computed first (their results are small), unless the
    program is only to be described: then they stand in as placeholders."""
    from .reductions import Accumulate, ArgReduce, Reduce
    nd = len(root.shape)
    ex = _core.expr_new(root.shape)
    memo = {}

    def visit(node):
        key = id(node)
        if key in memo:
            return memo[key][1]
        if isinstance(node, (Reduce, Accumulate, ArgReduce, Deferred)):
            if describe_only:
                zero = np.zeros((), node.dtype).tobytes()
                node = Leaf(_core.full(node.shape, node.dtype, zero, None))
            elif isinstance(node, Deferred):
                node = node.resolve()
            else:
                node = materialised(node)
        if isinstance(node, Leaf):
            off = nd - len(node.shape)
            axes = [a + off if a >= 0 else -1 for a in node.view.axis_of_source()]
            v = node.view
            vid = ex.input(node.src, v.start, v.step, v.count, axes)
        elif isinstance(node, Const):
            vid = ex.scalar(node.value.dtype, node.value.tobytes())
        elif isinstance(node, Cast):
            vid = ex.cast(visit(node.node), node.dtype)
        elif isinstance(node, Broadcast):
            vid = visit(node.inputs[0])
        elif isinstance(node, Select):
            ids = []
            for x, dt in zip(node.inputs, node.in_dtypes):
                i = visit(x)
                if x.dtype != dt:
                    i = ex.cast(i, dt)
                ids.append(i)
            vid = ex.select(*ids)
        else:
            ids = []
            for x, dt in zip(node.inputs, node.in_dtypes):
                i = visit(x)
                if x.dtype != dt:
                    i = ex.cast(i, dt)
                ids.append(i)
            if isinstance(node.loop, str):
                vid = ex.builtin(node.loop, ids, node.dtype)
            else:
                vid = ex.ufunc(node.ufunc, node.loop, ids)
        memo[key] = (node, vid)  # keep the node alive while ids are in use
        return vid

    first = visit(root)
    if ids is not None:
        ids.append(first)
        ids.extend(visit(x) for x in extra)
    ex.finish(first, tile)
    return ex


def size_of(shape) -> int:
    return math.prod(shape)
