"""chunkwise: parallel, out-of-core, chunked arrays over HDF5.

    import chunkwise as cw
    a = cw.open("data.h5", "/temperature")   # lazy, read-only
    a[::2, 10:20].compute()                  # reads only the chunks it needs
    a.to_hdf5("copy.h5", "/t", compression="blosc-zstd")
"""
import numpy as np

from . import _core, _execute, array_api, cluster, methods, special  # noqa: they register on Array
from . import decompositions, einsum, fft, linalg, linalg_names, neighbours  # noqa: NumPy functions
from . import quantiles, setops, sorting, unique, windows  # noqa: NumPy functions
from ._core import CorruptChunkError, MemoryBudgetError
from .array import Array
from .blocks import apply_along_axis, apply_gufunc, blockwise, map_blocks, map_overlap
from .config import config, get_config
from .creation import arange, asarray, empty, full, linspace, ones, open, zeros
from .creation import (empty_like, eye, full_like, geomspace, identity, indices, logspace,
                       meshgrid, ones_like, tri, zeros_like)
from .functions import FallbackWarning
from .group import Group, open_group
from .hdf5meta import register_plugin_folders
from .rechunk import rechunk

register_plugin_folders()

__version__ = "0.1.0"

__all__ = [
    "Array", "CorruptChunkError", "FallbackWarning", "MemoryBudgetError", "arange",
    "asarray", "compute",
    "config", "empty", "full", "get_config", "Group", "linspace", "ones", "open",
    "open_group", "zeros", "stats",
    "reset_stats", "eye", "identity", "tri", "indices", "meshgrid", "zeros_like",
    "ones_like", "empty_like", "full_like", "logspace", "geomspace",
    "map_blocks", "map_overlap", "blockwise", "apply_gufunc", "apply_along_axis", "rechunk",
]


def compute(*arrays, scheduler=None):
    """Evaluate several arrays; returns a tuple of ndarrays.

    ``scheduler``: a ``dask.distributed.Client`` to compute on its cluster
    (see docs/cluster.md): every worker must see the HDF5 files at the same
    paths; results are bit-identical to a local run.

    Results over the same shape share one pass of the C engine: elementwise
    results of that shape and reductions of values of that shape (also
    those inside other results, such as the sum inside a mean) are
    computed from each tile together, so the inputs they share are read,
    decoded and computed once per chunk (up to 8 results a pass).  A result
    that needs another one first (``x - x.mean()``, the second pass of
    ``var``) is computed afterwards from that result; anything that is not a
    chunkwise Array goes through numpy.asarray.
    """
    lazy = [a._node for a in arrays if isinstance(a, Array)]
    if scheduler is not None:
        values = iter(cluster.compute(lazy, cluster.check_client(scheduler)))
    else:
        values = iter(_execute.compute(lazy))
    return tuple(next(values) if isinstance(a, Array) else np.asarray(a) for a in arrays)


def stats() -> dict:
    """Process-wide counters: chunks and bytes read from HDF5 files, chunks
    decoded outside the HDF5 lock or through its pipeline, chunks written,
    and the engine's parallel runs."""
    return _core.stats()


def reset_stats() -> None:
    """Zero the counters of :func:`stats`."""
    _core.reset_stats()
