"""chunkwise: parallel, out-of-core, chunked arrays over HDF5.

    import chunkwise as cw
    a = cw.open("data.h5", "/temperature")   # lazy, read-only
    a[::2, 10:20].compute()                  # reads only the chunks it needs
    a.to_hdf5("copy.h5", "/t", compression="blosc-zstd")
"""
from ._core import CorruptChunkError, MemoryBudgetError
from .array import Array, open
from .config import config, get_config
from .creation import arange, asarray, empty, full, ones, zeros
from .functions import FallbackWarning

__version__ = "0.1.0"

__all__ = [
    "Array", "CorruptChunkError", "FallbackWarning", "MemoryBudgetError", "arange",
    "asarray", "compute",
    "config", "empty", "full", "get_config", "ones", "open", "zeros", "stats",
    "reset_stats",
]


def compute(*arrays):
    """Evaluate several arrays; returns a tuple of ndarrays.

    Results over the same shape share one pass of the C engine: elementwise
    results of that shape and reductions of values of that shape (also
    those inside other results, such as the sum inside a mean) are
    computed from each tile together, so the inputs they share are read,
    decoded and computed once per chunk (up to 8 results a pass).  A result
    that needs another one first (``x - x.mean()``, the second pass of
    ``var``) is computed afterwards from that result; anything that is not a
    chunkwise Array goes through numpy.asarray.
    """
    import numpy as np
    from . import graph
    from .config import get_config, report_fp
    from .graph import Broadcast, Cast, Deferred, Op, Select, compile_expr
    from .progress import reporter
    from .reductions import Accumulate, ArgReduce, Reduce
    cfg = get_config()
    deferred = (Reduce, Accumulate, ArgReduce, Deferred)

    def children(node):
        if isinstance(node, (Op, Select, Broadcast)):
            return node.inputs
        if isinstance(node, (Cast,) + deferred):
            return (node.node,)
        return ()

    # Every node under the arrays, and whether a node needs another result
    # first (a reduction, accumulation or argmax under it).
    nodes, pending = {}, {}

    def visit(node):
        key = id(node)
        if key not in pending:
            nodes[key] = node  # keeps it alive while its id is a key
            below = [visit(c) for c in children(node)]
            pending[key] = isinstance(node, deferred) or any(below)
        return pending[key]

    # What a pass over each shape computes: elementwise results, and every
    # reduction whose operand needs no other result first.
    groups = {}

    def group(shape):
        return groups.setdefault(shape, {"reads": {}, "reds": {}})

    for a in arrays:
        if isinstance(a, Array) and a.size and not visit(a._node):
            group(a.shape)["reads"][id(a._node)] = a._node
    for n in nodes.values():
        if isinstance(n, Reduce) and 0 not in n.node.shape and not visit(n.node):
            group(n.node.shape)["reds"][id(n)] = n
    results = {}
    for shape, g in groups.items():
        reads, reds = list(g["reads"].values()), list(g["reds"].values())
        if len(reads) + len(reds) < 2:
            continue
        work = [("read", n) for n in reads] + [("red", n) for n in reds]
        for k in range(0, len(work), 8):
            part = work[k:k + 8]
            roots = [n if kind == "read" else n.node for kind, n in part]
            ids = []
            ex = compile_expr(roots[0], extra=roots[1:], ids=ids)
            read_ids, bufs, red_specs, red_outs = [], [], [], []
            for (kind, n), vid in zip(part, ids):
                if kind == "read":
                    read_ids.append(vid)
                    bufs.append(np.empty(shape, n.dtype))
                else:
                    kept = tuple(x for j, x in enumerate(shape) if j not in n.axes)
                    out = np.empty(kept, n.dtype)
                    mask = [j in n.axes for j in range(len(shape))]
                    red_specs.append((vid, n.ufunc, n.loop, mask, out))
                    red_outs.append((n, out))
            bar = reporter("computing")
            try:
                ex.pass_(read_ids, bufs, red_specs, cfg["threads"], cfg["memory_limit"],
                         bar)
            finally:
                if bar is not None:
                    bar.close()
            report_fp("chunkwise computation")
            for (kind, n), b in zip([w for w in part if w[0] == "read"], bufs):
                results[id(n)] = b
            for n, out in red_outs:
                results[id(n)] = out.reshape(n.shape)

    # Everything else, with the shared results standing in for the
    # reductions they contain.
    out = [None] * len(arrays)
    with graph.shared_results(results):
        for i, a in enumerate(arrays):
            if not isinstance(a, Array):
                out[i] = np.asarray(a)
            elif id(a._node) in results:
                r = results[id(a._node)]
                # The same array asked for twice gets two arrays.
                dup = any(isinstance(b, Array) and b._node is a._node
                          for b in arrays[:i])
                out[i] = r.copy() if dup else r
            else:
                out[i] = a.compute()
    return tuple(out)


def stats() -> dict:
    """Process-wide counters: chunks and bytes read from HDF5 files, chunks
    decoded outside the HDF5 lock or through its pipeline, chunks written."""
    from . import _core
    return _core.stats()


def reset_stats() -> None:
    """Zero the counters of :func:`stats`."""
    from . import _core
    _core.reset_stats()
