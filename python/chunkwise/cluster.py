"""Running a graph on a dask.distributed cluster (``scheduler=client``).

The graph travels pickled by reference (a file and dataset, not its data),
so each worker reopens the HDF5 inputs itself; every task is one run of
the C engine on that worker's threads.

- A reduction (``Reduce``, non-empty, its inputs staged through no
  temporary dataset) is computed as ranges of its per-tile partials,
  one task per range (``_execute.partials``); the client joins them in
  index order and combines them pairwise in the engine's own order
  (``_execute.combine_partials``), so the value is bit-identical to a local
  run.  Other deferred results (cumulative sums, arg-reductions) are one
  task each.  A result inside another is computed first and handed to the
  tasks that need it as an in-memory leaf.
- An elementwise result is computed as groups of whole chunk rows along
  its first axis, one task per group, which the client puts in place.

Tasks are pure functions of their arguments (files are only read), so a
task lost with its worker is run again elsewhere with the same result.
Each task carries its graph (by reference: small, except for results
inside it, which travel as data), not a scattered copy that would be lost
with the worker holding it.
"""
from __future__ import annotations

import math

import numpy as np

from ._compile import chunks_of
from ._execute import combine_partials, materialise, partial_count, partials, splittable
from ._nodes import DEFERRED, children
from ._rewrite import index_node
from .interop import _outer_deferred, _substitute

__all__ = ["compute", "check_client"]

# Tasks per worker a result is split into: enough to balance, few enough
# that each is a sizeable engine run.
_TASKS_PER_WORKER = 4


def check_client(client):
    """``client`` when it is a dask.distributed Client, else TypeError."""
    if not (hasattr(client, "submit") and hasattr(client, "gather")
            and hasattr(client, "scheduler_info")):
        raise TypeError("scheduler must be a dask.distributed.Client, not "
                        f"{type(client).__name__}")
    return client


def _ntasks(client) -> int:
    workers = client.scheduler_info().get("workers", {})
    return _TASKS_PER_WORKER * max(len(workers), 1)


def _block(node, region):
    return materialise(index_node(node, region))


def _ranges(n, parts):
    """[lo, hi) ranges splitting range(n) into at most ``parts``."""
    parts = max(1, min(parts, n))
    edges = [n * i // parts for i in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]


def _resolve(node, client, cache):
    """``node`` with every deferred result it holds computed on the cluster
    and put in as an in-memory leaf."""
    outer = _outer_deferred(node)
    if not outer:
        return node
    values = {id(d): _deferred(d, client, cache) for d in outer}
    return _substitute(node, values, {})


def _deferred(d, client, cache):
    if id(d) in cache:
        return cache[id(d)][1]
    inner = {}
    for c in children(d):
        for dd in _outer_deferred(c):
            inner[id(dd)] = _deferred(dd, client, cache)
    node = _substitute(d, inner, {}) if inner else d
    if splittable(node):
        ranges = _ranges(partial_count(node), _ntasks(client))
        futures = [client.submit(partials, node, lo, hi, pure=False) for lo, hi in ranges]
        value = combine_partials(node, np.concatenate(client.gather(futures)))
    else:
        value = client.submit(materialise, node, pure=False).result()
    cache[id(d)] = (d, value)       # keeps ``d`` alive while its id is a key
    return value


def _value(node, client, cache):
    if isinstance(node, DEFERRED):
        return np.array(_deferred(node, client, cache), copy=True)
    node = _resolve(node, client, cache)
    shape = tuple(node.shape)
    out = np.empty(shape, node.dtype)
    if not shape or math.prod(shape) == 0:
        out[...] = client.submit(materialise, node, pure=False).result()
        return out
    c0 = max(chunks_of(node)[0], 1)
    rows = -(-shape[0] // c0)
    regions = [(slice(lo * c0, min(hi * c0, shape[0])),)
               for lo, hi in _ranges(rows, _ntasks(client))]
    futures = [client.submit(_block, node, r, pure=False) for r in regions]
    for r, f in zip(regions, futures):
        out[r] = f.result()
        f.release()
    return out


def compute(nodes, client) -> list:
    """The values of ``nodes`` computed on the cluster of ``client``;
    deferred results they share are computed once."""
    check_client(client)
    cache = {}
    return [_value(n, client, cache) for n in nodes]
