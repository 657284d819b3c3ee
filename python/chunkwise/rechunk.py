"""``rechunk``: the same values cut into other chunks (dask.array.rechunk).

The result is a lazy node (``Rechunk``) whose chunks are the new ones:
passes over it tile by the new chunks, ``to_hdf5`` writes them, and
``Array.chunks`` shows them.  Reading a new chunk reads the source chunks
it overlaps.  When one task could not hold those source chunks and the
new chunk within ``memory_limit`` (rows to columns of a large dataset: a
column chunk overlaps every row chunk), the run first copies the source
into a temporary HDF5 dataset of intermediate chunks (per axis the smaller
of the two extents) in a temporary directory; every new chunk is then read
from whole intermediate chunks, and the directory is removed after the run
(_execute.py).  Memory stays within one source chunk and one new chunk per
thread either way.
"""
from __future__ import annotations

from ._coerce import lazy_node, normalize_chunks
from ._nodes import Rechunk, leaf
from .array import Array, wrap

__all__ = ["rechunk"]


def rechunk(x, chunks="auto", threshold=None, block_size_limit=None, balance=False,
            method=None):
    """``x`` in chunks ``chunks``: an int (every axis), a tuple or a dict
    (axis -> entry) whose entries are an int, -1 (the whole axis), None (as
    it is),
    a tuple of block extents (all but the last equal) or "auto" (chunks of
    about 128 MiB).  Lazy; staged through a temporary HDF5 dataset when
    that keeps memory within ``memory_limit``."""
    node = lazy_node(x)
    if node is None:
        raise TypeError(f"rechunk needs a chunkwise Array, not {type(x).__name__}")
    a = wrap(node)
    # None keeps an axis's chunks (dask's spelling), in a tuple or a dict.
    if isinstance(chunks, dict):
        chunks = {k: (a.chunksize[k] if v is None else v) for k, v in chunks.items()}
    elif isinstance(chunks, (tuple, list)) and len(chunks) == a.ndim:
        chunks = tuple(c if c is not None else a.chunksize[k] for k, c in enumerate(chunks))
    if block_size_limit is not None:
        new = normalize_chunks(chunks, a.shape, a.chunksize, a.dtype.itemsize,
                               auto_bytes=int(block_size_limit))
    else:
        new = normalize_chunks(chunks, a.shape, a.chunksize, a.dtype.itemsize)
    if new is None or tuple(new) == tuple(a.chunksize) or 0 in a.shape:
        return a
    return wrap(leaf(Rechunk(node, tuple(new))))


def _rechunk_method(self, chunks="auto", threshold=None, block_size_limit=None,
                    balance=False, method=None):
    return rechunk(self, chunks, threshold, block_size_limit, balance, method)


_rechunk_method.__doc__ = rechunk.__doc__
Array.rechunk = _rechunk_method
