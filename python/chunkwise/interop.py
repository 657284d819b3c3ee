"""Other array libraries: dask collections in and out, DLPack out.

- ``to_dask``: a dask array over a node, one task per dask block; a block's
  task evaluates the node restricted to that block's region with the
  chunkwise engine (``_block``), so dask schedules blocks and chunkwise
  computes each one in parallel over its chunks.  A reduction (or other
  deferred result) the blocks need is one task of its own, computed once
  and handed to every block.  The node travels once,
  as its own graph key: pickled by reference (a file and dataset, not its
  data), so dask's processes and distributed schedulers can move it.
- ``from_dask``: a dask collection as a node.  It is computed (by dask's
  scheduler) into one ndarray when its size fits ``memory_limit``, and
  refused with MemoryBudgetError otherwise; write it to HDF5 with
  ``dask.array.to_hdf5`` / ``store`` first to work on it out of core.
- ``dlpack``: the value of a node exported through DLPack (CPU): computed
  into an ndarray, or an in-memory leaf viewed whole as it is, then
  handed to ``numpy.ndarray.__dlpack__``, so nothing is copied twice.

dask is imported only when a dask array is asked for.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import numbers

import numpy as np

from ._coerce import array_leaf
from ._compile import chunks_of
from ._core import MemoryBudgetError
from ._execute import materialise
from ._nodes import DEFERRED, NODES, Leaf, Memory, ResultView, SourceSpec
from ._rewrite import index_node, transpose_node
from .config import current, size_text

__all__ = ["to_dask", "from_dask", "is_dask_collection", "dlpack", "DLPACK_CPU"]

DLPACK_CPU = 1  # kDLCPU in dlpack.h


def _outer_deferred(node) -> list:
    """The deferred nodes (reductions, cumulative sums, arg-reductions) of
    ``node``'s graph that no other deferred node holds, in a fixed order
    (depth first, fields in order).  Iterative: graphs of any depth."""
    seen, out, stack = set(), [], [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, DEFERRED):
            out.append(n)
            continue
        if dataclasses.is_dataclass(n):
            items = [item for f in dataclasses.fields(n)
                     for item in (getattr(n, f.name) if isinstance(getattr(n, f.name), tuple)
                                  else (getattr(n, f.name),))
                     if isinstance(item, NODES + (SourceSpec,))]
            stack.extend(reversed(items))
    return out


def _substitute(node, values, memo):
    """``node`` with each deferred node in ``values`` (by id) replaced by a
    leaf over its computed ndarray."""
    key = id(node)
    if key in memo:
        return memo[key][1]
    if key in values:
        new = array_leaf(np.ascontiguousarray(values[key]))
    elif isinstance(node, ResultView) and id(node.node) in values:
        new = _substitute(node.node, values, memo)
        for kind, arg in node.ops:
            new = index_node(new, arg) if kind == "index" else transpose_node(new, arg)
    elif dataclasses.is_dataclass(node):
        changes = {}
        for f in dataclasses.fields(node):
            v = getattr(node, f.name)
            if isinstance(v, NODES + (SourceSpec,)):
                nv = _substitute(v, values, memo)
            elif isinstance(v, tuple) and any(isinstance(i, NODES) for i in v):
                nv = tuple(_substitute(i, values, memo) for i in v)
            else:
                continue
            if nv is not v and nv != v:
                changes[f.name] = nv
        new = dataclasses.replace(node, **changes) if changes else node
    else:
        new = node
    memo[key] = (node, new)   # keeps ``node`` alive while its id is a key
    return new


def _deferred_value(node, k):
    """The value of ``node``'s k-th outer deferred node (one dask task each,
    shared by every block)."""
    return materialise(_outer_deferred(node)[k])


def _block(node, region, *values):
    """One dask block: ``node`` restricted to ``region`` (a tuple of slices),
    computed by the engine; ``values`` are its outer deferred nodes'
    results, computed once by their own tasks."""
    if values:
        ids = [id(d) for d in _outer_deferred(node)]
        node = _substitute(node, dict(zip(ids, values)), {})
    return materialise(index_node(node, region))


def to_dask(node, chunks=None, name=None):
    """A dask array computing ``node`` block by block.  ``chunks`` is
    anything dask.array.core.normalize_chunks takes (default: the node's
    chunk shape, ``Array.chunksize``)."""
    # Imported here: dask is optional and slow to import.
    import dask.array as da  # noqa: I001 (optional dependency)
    from dask.array.core import normalize_chunks  # optional dependency
    from dask.base import tokenize  # optional dependency
    from dask.highlevelgraph import HighLevelGraph  # optional dependency

    shape = tuple(node.shape)
    if chunks is None:
        chunks = tuple(max(c, 1) for c in chunks_of(node))
    chunks = normalize_chunks(chunks, shape, dtype=node.dtype)
    if name is None:
        name = "chunkwise-" + tokenize(id(node), shape, str(node.dtype), chunks)
    source = "original-" + name
    dsk = {source: node}
    parts = []
    for k in range(len(_outer_deferred(node))):
        parts.append(f"{name}-deferred-{k}")
        dsk[parts[-1]] = (_deferred_value, source, k)
    starts = [list(itertools.accumulate((0,) + c[:-1])) for c in chunks]
    for index in itertools.product(*(range(len(c)) for c in chunks)):
        region = tuple(slice(starts[k][i], starts[k][i] + chunks[k][i])
                       for k, i in enumerate(index))
        dsk[(name,) + index] = (_block, source, region, *parts)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=())
    meta = np.empty((0,) * len(shape), node.dtype)
    return da.Array(graph, name, chunks, meta=meta)


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a dask collection (without importing dask)."""
    return hasattr(type(obj), "__dask_graph__") and obj.__dask_graph__() is not None


def from_dask(obj, chunks=None):
    """A Leaf over the computed value of dask collection ``obj``, when its
    bytes fit ``memory_limit`` (else MemoryBudgetError)."""
    shape = tuple(getattr(obj, "shape", None) or ())
    if not hasattr(obj, "dtype") or not all(isinstance(n, numbers.Number) for n in shape):
        raise TypeError(f"cannot make a chunkwise Array from a {type(obj).__name__}: "
                        "only dask arrays are taken (compute it first)")
    if any(math.isnan(n) for n in shape):
        raise ValueError("a dask array of unknown shape cannot become a chunkwise "
                         "Array: call compute_chunk_sizes() on it first")
    limit = current().memory_limit
    nbytes = math.prod(int(n) for n in shape) * np.dtype(obj.dtype).itemsize
    if nbytes > limit:
        raise MemoryBudgetError(
            f"the dask array needs {size_text(nbytes)} in memory, more than "
            f"memory_limit ({size_text(limit)}): store it to HDF5 "
            "(dask.array.to_hdf5) and cw.open the file instead")
    if chunks is None and getattr(obj, "chunksize", None) is not None:
        chunks = tuple(max(int(c), 1) for c in obj.chunksize)
    return array_leaf(np.asarray(obj.compute()), chunks)


def dlpack(node, stream=None, max_version=None, dl_device=None, copy=None):
    """``node``'s value as a DLPack capsule (see ``Array.__dlpack__``)."""
    if dl_device is not None and tuple(dl_device)[0] != DLPACK_CPU:
        raise BufferError(f"chunkwise arrays live on the CPU; cannot export to "
                          f"DLPack device {tuple(dl_device)}")
    if (isinstance(node, Leaf) and isinstance(node.spec, Memory)
            and node.view.is_whole(node.spec.shape)):
        arr = node.spec.array
    else:
        arr = materialise(node)
    kwargs = {"stream": stream}
    if max_version is not None:
        kwargs["max_version"] = max_version
    if dl_device is not None:
        kwargs["dl_device"] = dl_device
    if copy is not None:
        kwargs["copy"] = copy
    return arr.__dlpack__(**kwargs)
