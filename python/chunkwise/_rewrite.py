"""Indexing and transposes pushed down a graph (node -> node).

Indexing a computed node indexes its inputs, so only the chunks the result
needs are ever read; a source view composes into a new view.  A deferred
result (a reduction's, say: small) is indexed after it is computed: the
index is recorded in a ``ResultView``.
"""
from __future__ import annotations

import dataclasses

from ._nodes import DEFERRED, Broadcast, Cast, Const, Leaf, Op, ResultView, Select
from .indexing import View, _expand, index_view

__all__ = ["index_node", "transpose_node"]


def _view_of_result(node, op, shape):
    if isinstance(node, ResultView):
        return ResultView(node.node, node.ops + (op,), tuple(shape))
    return ResultView(node, (op,), tuple(shape))


def _with_inputs(node, inputs, shape):
    if isinstance(node, Broadcast):
        return Broadcast(inputs[0], tuple(shape))
    return dataclasses.replace(node, inputs=tuple(inputs), shape=tuple(shape))


def _rebuild(tasks, step):
    """Run rewrite ``tasks[0]`` = (node, arg) with an explicit stack.
    ``step(node, arg, done)`` returns ``(result, None)``, or ``(None,
    needed)``: the (node, arg) rewrites it needs first, looked up in
    ``done`` by ``_task_key`` afterwards.  Graphs of any depth are rewritten
    without Python recursion, and a node shared by several others is
    rewritten once per argument."""
    done = {}
    stack = [tasks[0]]
    while stack:
        node, arg = stack[-1]
        k = _task_key(node, arg)
        if k in done:
            stack.pop()
            continue
        result, needed = step(node, arg, done)
        if needed:
            stack.extend(needed)
            continue
        stack.pop()
        done[k] = (node, result)   # keeps the node alive while its id is a key
    return done[_task_key(*tasks[0])][1]


def _task_key(node, arg):
    return id(node), repr(arg)


def _lookup(done, node, arg):
    hit = done.get(_task_key(node, arg))
    return None if hit is None else hit[1]


def index_node(node, key):
    """``node[key]`` for basic indexes (ints, slices, Ellipsis, None)."""
    return _rebuild([(node, key)], _index_step)


def _index_step(node, key, done):
    if isinstance(node, DEFERRED + (ResultView,)):
        shape = index_view(View.whole(node.shape), key).shape
        return _view_of_result(node, ("index", key), shape), None
    if isinstance(node, Leaf):
        return Leaf(node.spec, index_view(node.view, key)), None
    if isinstance(node, Cast):
        inner = _lookup(done, node.node, key)
        if inner is None:
            return None, [(node.node, key)]
        return Cast(inner, node.dtype), None
    assert isinstance(node, (Op, Select, Broadcast)), node
    # Validate against the output shape first (NumPy's errors).
    shape = node.shape
    new = index_view(View.whole(shape), key)
    items = _expand(key, len(shape))
    inputs, needed = [], []
    for x in node.inputs:
        if isinstance(x, Const):
            inputs.append(x)
            continue
        # Make the input full-rank, then index it axis by axis; along a
        # broadcast axis an int picks 0 and a slice keeps extent 1.
        pad = len(shape) - len(x.shape)
        full = x
        if pad:
            full = _lookup(done, x, (None,) * pad)
            if full is None:
                needed.append((x, (None,) * pad))
                continue
        sub = []
        k = 0
        for it in items:
            if it is None:
                sub.append(None)
                continue
            if full.shape[k] == 1 and shape[k] != 1:
                if isinstance(it, slice):
                    m = len(range(*it.indices(shape[k])))
                    sub.append(slice(0, 1 if m > 0 else 0))
                else:
                    sub.append(0)
            else:
                sub.append(it)
            k += 1
        sub = tuple(sub)
        r = _lookup(done, full, sub)
        if r is None:
            needed.append((full, sub))
            continue
        inputs.append(r)
    if needed:
        return None, needed
    return _with_inputs(node, inputs, new.shape), None


def _full_rank(x, nd):
    pad = nd - len(x.shape)
    return index_node(x, (None,) * pad) if pad else x


def transpose_node(node, perm):
    """The axes of ``node`` permuted (numpy.transpose's ``axes``)."""
    return _rebuild([(node, tuple(perm))], _transpose_step)


def _transpose_step(node, perm, done):
    if isinstance(node, DEFERRED + (ResultView,)):
        return _view_of_result(node, ("transpose", perm),
                               tuple(node.shape[p] for p in perm)), None
    if isinstance(node, Leaf):
        v = node.view
        view = View(v.start, v.step, v.count, [v.axes[p] for p in perm],
                    [v.shape[p] for p in perm])
        return Leaf(node.spec, view), None
    if isinstance(node, Cast):
        inner = _lookup(done, node.node, perm)
        if inner is None:
            return None, [(node.node, perm)]
        return Cast(inner, node.dtype), None
    nd = len(node.shape)
    inputs, needed = [], []
    for x in node.inputs:
        if isinstance(x, Const):
            inputs.append(x)
            continue
        # The padded input is made once: its identity keys the rewrite.
        pk = ("pad", id(x), nd)
        if pk not in done:
            done[pk] = (x, _full_rank(x, nd))
        full = done[pk][1]
        r = _lookup(done, full, perm)
        if r is None:
            needed.append((full, perm))
            continue
        inputs.append(r)
    if needed:
        return None, needed
    return _with_inputs(node, inputs, tuple(node.shape[p] for p in perm)), None
