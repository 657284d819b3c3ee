"""xarray's chunk manager for chunkwise arrays (``chunked_array_type="chunkwise"``).

xarray finds this class through the ``xarray.chunkmanagers`` entry point
(pyproject.toml) and imports this module only then: chunkwise itself never
imports xarray.  What chunkwise can do lazily it does (chunks, opening an
HDF5-backed variable as ``cw.open``, computing, storing).  The block-function
hooks ``apply_gufunc`` (``apply_ufunc(..., dask="parallelized")``),
``map_blocks``, ``blockwise`` and ``rechunk`` are chunkwise's own
(chunkwise.blocks, chunkwise.rechunk); ``reduction``, ``scan`` and
``unify_chunks`` raise NotImplementedError saying so.
"""
from __future__ import annotations

import math

import numpy as np
from xarray.namedarray.parallelcompat import ChunkManagerEntrypoint

from ._core import MemoryBudgetError
from . import blocks as _blocks
from .array import Array
from .config import current, size_text
from .creation import asarray, open as cw_open
from .rechunk import rechunk as _rechunk

__all__ = ["ChunkwiseManager"]


def _unsupported(what):
    return NotImplementedError(
        f"{what} is not available on chunkwise arrays: chunkwise computes whole "
        "expressions, not Python functions per block.  Compute the result "
        "(.compute() / .load()) or use dask (Array.to_dask()) for this step")


def _regular(chunks, shape):
    """The regular chunk shape of a dask-style grid (tuple of tuples), or
    of a chunk shape (tuple of ints) as it is."""
    out = []
    for blocks, n in zip(chunks, shape):
        if isinstance(blocks, (int, np.integer)):
            out.append(max(int(blocks), 1))
            continue
        c = blocks[0] if blocks else n
        if any(b != c for b in blocks[:-1]) or (blocks and blocks[-1] > c):
            raise NotImplementedError(
                f"chunkwise arrays have regular chunks; {blocks} along an axis of "
                f"{n} is not a regular grid")
        out.append(max(int(c), 1))
    return tuple(out)


def _hdf5_variable(data):
    """(path, dataset) when ``data`` is an xarray backend array that reads a
    whole HDF5 dataset through h5netcdf or netCDF4-python (a NETCDF4-format
    file), else None."""
    seen = 0
    while seen < 16:
        seen += 1
        name = type(data).__name__
        if name == "H5NetCDFArrayWrapper":
            try:
                return data.datastore._filename, data.get_array().name
            except Exception:  # noqa: BLE001 - any backend trouble: no shortcut
                return None
        if name == "NetCDF4ArrayWrapper":
            # netCDF4-python: an HDF5 dataset only in the NETCDF4 formats
            try:
                var = data.get_array()
                if not var.group().data_model.startswith("NETCDF4"):
                    return None
                group = var.group().path.rstrip("/")
                return data.datastore._filename, f"{group}/{var.name}"
            except Exception:  # noqa: BLE001 - any backend trouble: no shortcut
                return None
        if name == "LazilyIndexedArray":
            key = getattr(data.key, "tuple", None)
            if key is None or any(k != slice(None) for k in key):
                return None
        elif name not in ("CopyOnWriteArray", "MemoryCachedArray",
                          "ImplicitToExplicitIndexingAdapter"):
            return None
        data = getattr(data, "array", None)
    return None


class ChunkwiseManager(ChunkManagerEntrypoint):
    """xarray's entry point into chunkwise (see the module docstring)."""

    def __init__(self):
        self.array_cls = Array

    def is_chunked_array(self, data) -> bool:
        return isinstance(data, Array)

    def chunks(self, data):
        return data.chunks

    def normalize_chunks(self, chunks, shape=None, limit=None, dtype=None,
                         previous_chunks=None):
        """A regular grid in dask's spelling: an int, a tuple (per axis an
        int, -1/None for the whole axis, "auto" for ``previous_chunks`` or
        the whole axis) or a tuple of tuples (returned as it is)."""
        shape = tuple(shape)
        if isinstance(chunks, dict):
            chunks = tuple(chunks.get(k, "auto") for k in range(len(shape)))
        if chunks is None or isinstance(chunks, (str, int, np.integer)):
            chunks = (chunks,) * len(shape)
        chunks = tuple(chunks)
        if len(chunks) != len(shape):
            raise ValueError(f"chunks {chunks} do not match the shape {shape}")
        out = []
        for k, (c, n) in enumerate(zip(chunks, shape)):
            if isinstance(c, tuple):
                out.append(c)
                continue
            if c == "auto":
                c = previous_chunks[k] if previous_chunks is not None else -1
                if isinstance(c, tuple):
                    c = c[0] if c else -1
            if c is None or c == -1:
                c = max(n, 1)
            c = int(c)
            if c < 1:
                raise ValueError(f"chunk extents must be positive, got {chunks}")
            c = min(c, max(n, 1))
            out.append(((c,) * (n // c) + ((n % c,) if n % c else ())) if n else (0,))
        return tuple(out)

    def from_array(self, data, chunks, **kwargs):
        """A chunkwise Array over ``data``: an HDF5 variable opened through
        h5netcdf is opened lazily with cw.open; anything else is read into
        memory when it fits ``memory_limit`` (else MemoryBudgetError)."""
        if isinstance(data, Array):
            return data
        shape = tuple(data.shape)
        regular = _regular(chunks, shape) if chunks else None
        if isinstance(data, np.ndarray):
            return asarray(data, chunks=regular)         # shared, not copied
        where = _hdf5_variable(data)
        if where is not None:
            x = cw_open(*where)
            if x.shape == shape and x.dtype == np.dtype(data.dtype):
                return x
        nbytes = math.prod(shape) * np.dtype(data.dtype).itemsize
        limit = current().memory_limit
        if nbytes > limit:
            raise MemoryBudgetError(
                f"reading this {shape} {np.dtype(data.dtype)} variable needs "
                f"{size_text(nbytes)}, more than memory_limit "
                f"({size_text(limit)}); chunkwise opens only plain HDF5 "
                "variables (engine='h5netcdf', no CF decoding) lazily")
        return asarray(np.asarray(data), chunks=regular)

    def compute(self, *data, **kwargs):
        out = []
        for d in data:
            out.append(d.compute() if isinstance(d, Array) else np.asarray(d))
        return tuple(out)

    def persist(self, *data, **kwargs):
        return tuple(asarray(r) for r in self.compute(*data))

    @property
    def array_api(self):
        """The chunkwise module: xarray calls its ``full`` and ``arange``
        with ``chunks=`` (dask.array's spelling)."""
        import chunkwise    # the package itself, importing this module's parent
        return chunkwise

    def rechunk(self, data, chunks, **kwargs):
        return _rechunk(data, chunks, **kwargs)

    def reduction(self, arr, func, combine_func=None, aggregate_func=None, axis=None,
                  dtype=None, keepdims=False):
        raise _unsupported("a custom chunked reduction")

    def scan(self, func, binop, ident, arr, axis=None, dtype=None, **kwargs):
        raise _unsupported("a custom chunked scan")

    def apply_gufunc(self, func, signature, *args, **kwargs):
        return _blocks.apply_gufunc(func, signature, *args, **kwargs)

    def map_blocks(self, func, *args, **kwargs):
        return _blocks.map_blocks(func, *args, **kwargs)

    def blockwise(self, func, out_ind, *args, **kwargs):
        return _blocks.blockwise(func, out_ind, *args, **kwargs)

    def unify_chunks(self, *args, **kwargs):
        raise _unsupported("unify_chunks")

    def store(self, sources, targets, **kwargs):
        """Write each source into its target (``target[...] = value``); a
        chunkwise source is computed first, within memory_limit."""
        if isinstance(sources, Array) or not isinstance(sources, (list, tuple)):
            sources, targets = [sources], [targets]
        for s, t in zip(sources, targets):
            t[...] = s.compute() if isinstance(s, Array) else np.asarray(s)
