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

    Elementwise results of one shape are computed in one pass: the C engine
    runs one program with several outputs, so inputs they share are read,
    decoded and computed once per chunk.  Other results (reductions,
    different shapes) get a pass each; anything that is not a chunkwise
    Array goes through numpy.asarray.
    """
    import numpy as np
    from .config import get_config
    from .graph import Broadcast, Cast, Leaf, Op, Select, compile_many
    cfg = get_config()
    out = [None] * len(arrays)
    groups = {}
    for i, a in enumerate(arrays):
        if isinstance(a, Array) and a.size and isinstance(
                a._node, (Op, Select, Cast, Broadcast, Leaf)):
            groups.setdefault(a.shape, []).append(i)
        else:
            out[i] = a.compute() if isinstance(a, Array) else np.asarray(a)
    for shape, members in groups.items():
        for k in range(0, len(members), 8):
            part = members[k:k + 8]
            if len(part) == 1:
                out[part[0]] = arrays[part[0]].compute()
                continue
            ex, ids = compile_many([arrays[i]._node for i in part])
            bufs = [np.empty(shape, arrays[i].dtype) for i in part]
            ex.read_many(ids, bufs, cfg["threads"], cfg["memory_limit"], None)
            for i, b in zip(part, bufs):
                out[i] = b
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
