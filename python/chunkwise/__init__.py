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
    """Evaluate several arrays; returns a tuple of ndarrays (scalars as 0-d
    arrays).  Non-chunkwise arguments are passed through np.asarray.  Each
    result is evaluated in its own parallel pass."""
    import numpy as np
    return tuple(a.compute() if isinstance(a, Array) else np.asarray(a)
                 for a in arrays)


def stats() -> dict:
    """Process-wide counters: chunks and bytes read from HDF5 files, chunks
    decoded outside the HDF5 lock or through its pipeline, chunks written."""
    from . import _core
    return _core.stats()


def reset_stats() -> None:
    """Zero the counters of :func:`stats`."""
    from . import _core
    _core.reset_stats()
