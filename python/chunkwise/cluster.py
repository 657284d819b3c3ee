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
- A store (``to_hdf5(..., scheduler=client)``) computes groups of chunks
  of the new dataset on the workers (boxes of its chunk grid in C order),
  at most a window of them in flight; the client, the only process that
  writes the file, is one local store whose source is a block function
  handing the engine each chunk of the arrived groups.  So the data goes
  through the local store's sink (its chunks, filters and attributes),
  into its temporary dataset or file, given the final name only once
  every chunk was written; a failed task fails that store, which removes
  the temporary.

Tasks are pure functions of their arguments (files are only read), so a
task lost with its worker is run again elsewhere with the same result.
Each task carries its graph (by reference: small, except for results
inside it, which travel as data), not a scattered copy that would be lost
with the worker holding it.
"""
from __future__ import annotations

import bisect
import dataclasses
import math
import os
import threading
import warnings

import numpy as np

from ._compile import chunks_of
from ._core import MemoryBudgetError
from ._execute import (combine_partials, materialise, partial_count, partials, splittable,
                       store as local_store, user_stacklevel)
from ._nodes import DEFERRED, BlockCall, Blocks, Memory, children, leaf
from ._rewrite import index_node
from .config import config, current
from .interop import _outer_deferred, _substitute

__all__ = ["compute", "store", "check_client"]

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


def _task(fn, err, args):
    """``fn(*args)`` on a worker under the client's ``np.seterr`` (so
    'raise' raises FloatingPointError there, and it comes back as the
    task's error); returns the value and the messages of the
    RuntimeWarnings the run gave, for the client to give again."""
    with np.errstate(**err), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        value = fn(*args)
    return value, sorted({str(w.message) for w in caught
                          if issubclass(w.category, RuntimeWarning)})


def _submit(client, fn, *args, err=None):
    return client.submit(_task, fn, np.geterr() if err is None else err, args, pure=False)


def _warn(messages):
    for m in sorted(set(messages)):
        warnings.warn(m, RuntimeWarning, stacklevel=user_stacklevel())


def _result(future):
    value, messages = future.result()
    _warn(messages)
    return value


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
        futures = [_submit(client, partials, node, lo, hi) for lo, hi in ranges]
        done = client.gather(futures)
        _warn([m for _, ms in done for m in ms])
        value = combine_partials(node, np.concatenate([v for v, _ in done]))
    else:
        value = _result(_submit(client, materialise, node))
    cache[id(d)] = (d, value)       # keeps ``d`` alive while its id is a key
    return value


def _value(node, client, cache):
    if isinstance(node, DEFERRED):
        return np.array(_deferred(node, client, cache), copy=True)
    node = _resolve(node, client, cache)
    shape = tuple(node.shape)
    out = np.empty(shape, node.dtype)
    if not shape or math.prod(shape) == 0:
        out[...] = _result(_submit(client, materialise, node))
        return out
    c0 = max(chunks_of(node)[0], 1)
    rows = -(-shape[0] // c0)
    regions = [(slice(lo * c0, min(hi * c0, shape[0])),)
               for lo, hi in _ranges(rows, _ntasks(client))]
    futures = [_submit(client, _block, node, r) for r in regions]
    for r, f in zip(regions, futures):
        out[r] = _result(f)
        f.release()
    return out


def compute(nodes, client) -> list:
    """The values of ``nodes`` computed on the cluster of ``client``;
    deferred results they share are computed once."""
    check_client(client)
    cache = {}
    return [_value(n, client, cache) for n in nodes]


# ------------------------------------------------------------------ stores
#
# The groups of a store are boxes of the new dataset's chunk grid (per
# axis, [lo, hi) in chunks) that follow one another in the grid's C order,
# the order in which the engine's threads take the chunks: whole chunk rows
# along the first axis, or, where one chunk row is too large, parts of one
# row (recursively along the next axis).

def _groups(nchunks, most):
    """The boxes of the chunk grid ``nchunks``, in C order, of at most
    ``most`` chunks each (one chunk at least)."""
    out = []

    def split(d, prefix):
        inner = math.prod(nchunks[d + 1:])
        rest = tuple((0, m) for m in nchunks[d + 1:])
        if inner <= most or d == len(nchunks) - 1:
            n = nchunks[d]
            per = max(1, most // inner)
            for lo, hi in _ranges(n, -(-n // per)):
                out.append(prefix + ((lo, hi),) + rest)
        else:
            for i in range(nchunks[d]):
                split(d + 1, prefix + ((i, i + 1),))

    split(0, ())
    return out


class _Group:
    """One group of a store: its task, then its value until every chunk of
    it was handed to the engine."""
    __slots__ = ("future", "value", "error", "ready", "fetching", "left")

    def __init__(self, future, nchunks):
        self.future, self.value, self.error = future, None, None
        self.ready, self.fetching, self.left = threading.Event(), False, nchunks


class _Feed:
    """The block function of a distributed store: block ``block_id`` (one
    chunk of the new dataset) cut from its group's value, computed on the
    cluster.  A group's task is submitted, in order, at most ``window``
    groups ahead of the one a chunk is asked from; its value is fetched by
    the first thread that needs it (the others wait for it), its future
    released, and the value dropped once all its chunks were handed over.
    The engine calls it on its threads (with the GIL), hence the lock."""

    def __init__(self, client, node, chunks, boxes, window):
        self.client, self.node, self.chunks = client, node, chunks
        self.boxes, self.window = boxes, window
        self.nchunks = tuple(-(-n // c) for n, c in zip(node.shape, chunks))
        self.strides = [math.prod(self.nchunks[d + 1:]) for d in range(len(chunks))]
        self.starts = [sum(lo * s for (lo, _), s in zip(b, self.strides)) for b in boxes]
        self.groups = {}
        self.messages = set()       # of the tasks' RuntimeWarnings, given after the store
        self.err = np.geterr()      # this thread's: the engine's threads have their own
        self.next = 0
        self.lock = threading.Lock()

    def _submit(self, i):
        box = self.boxes[i]
        region = tuple(slice(lo * c, min(hi * c, n)) for (lo, hi), c, n in
                       zip(box, self.chunks, self.node.shape))
        future = _submit(self.client, _block, self.node, region, err=self.err)
        self.groups[i] = _Group(future, math.prod(hi - lo for lo, hi in box))

    def _value(self, g):
        with self.lock:
            while self.next < len(self.boxes) and self.next < g + self.window:
                self._submit(self.next)
                self.next += 1
            grp = self.groups.get(g)
            if grp is None:         # asked again after it was dropped
                self._submit(g)
                grp = self.groups[g]
            fetch, grp.fetching = not grp.fetching, True
        if fetch:
            try:
                grp.value, messages = grp.future.result()    # the task's error, if any
                with self.lock:
                    self.messages.update(messages)
            except BaseException as e:
                grp.error = e
                raise
            finally:
                grp.ready.set()
            with self.lock:
                future, grp.future = grp.future, None
            future.release()
        else:
            grp.ready.wait()
            if grp.error is not None:
                raise grp.error
        return grp

    def __call__(self, block_id=None):
        lin = sum(b * s for b, s in zip(block_id, self.strides))
        g = bisect.bisect_right(self.starts, lin) - 1
        grp = self._value(g)
        key = tuple(slice((b - lo) * c, (b - lo + 1) * c)
                    for b, (lo, _), c in zip(block_id, self.boxes[g], self.chunks))
        block = grp.value[key]
        with self.lock:
            grp.left -= 1
            if grp.left == 0 and self.groups.get(g) is grp:
                del self.groups[g]
        return block

    def cancel(self):
        """Cancel the tasks not fetched; drop the values."""
        with self.lock:
            futures = [grp.future for grp in self.groups.values() if grp.future is not None]
            self.groups.clear()
            self.next = len(self.boxes)
        if futures:
            self.client.cancel(futures)


def _store_chunks(node, target):
    """The chunks the local store of ``node`` would write."""
    given = tuple(target.chunks)
    if given and all(given):
        return given
    own = [c if c > 0 else 1 for c in chunks_of(node)]     # as engine/store.c
    return tuple(n if c > n > 0 else c for c, n in zip(own, node.shape))


def _client_threads() -> int:
    t = current().threads
    return t if t and t > 0 else (os.cpu_count() or 1)


def store(node, target, client, memory_limit):
    """Store ``node`` into ``target`` (a StoreTarget), computed on the
    cluster of ``client`` and written here; returns the local store's Leaf.

    Memory here: the local store runs under half of ``memory_limit``; the
    group values held (at most one per engine thread) under the other
    half, a group taking at most a quarter of it per thread (a value is
    briefly held twice while it arrives)."""
    check_client(client)
    shape = tuple(node.shape)
    if isinstance(node, DEFERRED) or not shape or math.prod(shape) == 0:
        nbytes = math.prod(shape) * node.dtype.itemsize
        if nbytes > memory_limit // 2:
            raise MemoryBudgetError(
                f"a {type(node).__name__.lower()} result stored with scheduler= is "
                f"computed whole: {nbytes / 2**20:.1f} MiB, more than half of "
                f"memory_limit ({memory_limit / 2**20:.1f} MiB); store it without "
                "scheduler=")
        value = _value(node, client, {})
        t = dataclasses.replace(target, chunks=_store_chunks(node, target))
        return local_store(leaf(Memory(value)), t)
    node = _resolve(node, client, {})
    chunks = _store_chunks(node, target)
    nchunks = tuple(-(-n // c) for n, c in zip(shape, chunks))
    chunk_bytes = math.prod(chunks) * node.dtype.itemsize
    most = max(1, memory_limit // (4 * _client_threads()) // chunk_bytes)
    most = min(most, -(-math.prod(nchunks) // _ntasks(client)))     # balance
    boxes = _groups(nchunks, most)
    feed = _Feed(client, node, chunks, boxes, min(len(boxes), _ntasks(client)))
    bounds = tuple(tuple(min(k * c, n) for k in range(m + 1))
                   for n, c, m in zip(shape, chunks, nchunks))
    spec = Blocks(BlockCall(feed, (), (), {}), (), (), (), (), (), (), bounds, node.dtype)
    try:
        with config(memory_limit=max(memory_limit // 2, 1)):
            out = local_store(leaf(spec), dataclasses.replace(target, chunks=chunks))
    finally:
        feed.cancel()
    _warn(feed.messages)
    return out
