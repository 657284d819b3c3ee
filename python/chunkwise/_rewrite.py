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


def index_node(node, key):
    """``node[key]`` for basic indexes (ints, slices, Ellipsis, None)."""
    if isinstance(node, DEFERRED + (ResultView,)):
        shape = index_view(View.whole(node.shape), key).shape
        return _view_of_result(node, ("index", key), shape)
    if isinstance(node, Leaf):
        return Leaf(node.spec, index_view(node.view, key))
    if isinstance(node, Cast):
        return Cast(index_node(node.node, key), node.dtype)
    assert isinstance(node, (Op, Select, Broadcast)), node
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
            if full.shape[k] == 1 and shape[k] != 1:
                if isinstance(it, slice):
                    m = len(range(*it.indices(shape[k])))
                    sub.append(slice(0, 1 if m > 0 else 0))
                else:
                    sub.append(0)
            else:
                sub.append(it)
            k += 1
        inputs.append(index_node(full, tuple(sub)))
    return _with_inputs(node, inputs, new.shape)


def _full_rank(x, nd):
    pad = nd - len(x.shape)
    return index_node(x, (None,) * pad) if pad else x


def transpose_node(node, perm):
    """The axes of ``node`` permuted (numpy.transpose's ``axes``)."""
    perm = tuple(perm)
    if isinstance(node, DEFERRED + (ResultView,)):
        return _view_of_result(node, ("transpose", perm),
                               tuple(node.shape[p] for p in perm))
    if isinstance(node, Leaf):
        v = node.view
        view = View(v.start, v.step, v.count, [v.axes[p] for p in perm],
                    [v.shape[p] for p in perm])
        return Leaf(node.spec, view)
    if isinstance(node, Cast):
        return Cast(transpose_node(node.node, perm), node.dtype)
    nd = len(node.shape)
    inputs = [x if isinstance(x, Const) else transpose_node(_full_rank(x, nd), perm)
              for x in node.inputs]
    return _with_inputs(node, inputs, tuple(node.shape[p] for p in perm))
