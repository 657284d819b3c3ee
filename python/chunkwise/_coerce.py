"""Operands to nodes, and the small values builders hand back.

Builders (ufuncs, reductions, functions) take lazy arrays (``Lazy``: their
``_node``), nodes, ndarrays (a ``Memory`` leaf, zero-copy) and scalars.
What they cannot do lazily they say with ``Unsupported`` or by returning a
``Fallback`` request; array.py runs fallbacks, so builders never compute.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import _dtypes
from ._nodes import NODES, Cast, Const, Lazy, Memory, leaf

__all__ = ["Unsupported", "Fallback", "Scalar", "node_of", "lazy_node", "array_leaf",
           "cast", "operand", "shape_of", "normalize_chunks"]


class Unsupported(Exception):
    """The call has no lazy form here (the caller falls back to NumPy)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Fallback:
    """Run ``call(*args, **kwargs)`` in NumPy on materialised inputs, with a
    FallbackWarning naming ``name`` (array.py does it)."""
    name: str
    call: object
    args: tuple
    kwargs: dict


@dataclasses.dataclass(frozen=True, slots=True)
class Scalar:
    """A Python scalar result: ``convert`` of the computed 0-d ``node``
    (numpy.allclose's bool)."""
    node: object
    convert: type


def lazy_node(x):
    """The node of a lazy array or a node; None for anything else."""
    if isinstance(x, Lazy):
        return x._node
    if isinstance(x, NODES):
        return x
    return None


def array_leaf(arr: np.ndarray, chunks=None):
    """A Leaf over ndarray ``arr`` (shared, not copied, when it is native,
    aligned and of a supported dtype)."""
    _dtypes.check(arr.dtype)
    if not arr.dtype.isnative or not arr.flags.aligned:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return leaf(Memory(arr, normalize_chunks(chunks, arr.shape)))


def node_of(x):
    """The node of a lazy array or node, else a leaf over np.asarray(x)."""
    n = lazy_node(x)
    return n if n is not None else array_leaf(np.asarray(x))


def cast(node, dtype):
    dtype = np.dtype(dtype)
    return node if node.dtype == dtype else Cast(node, dtype)


def operand(x, dtype, wrap_scalars=False):
    """A node of ``dtype`` for an operand: lazy (cast if needed), ndarray
    (wrapped without copying), or scalar (a constant; with ``wrap_scalars``
    a Python int out of range wraps, as numpy.where does)."""
    n = lazy_node(x)
    if n is not None:
        return cast(n, dtype)
    a = np.asarray(x)
    if a.ndim == 0:
        if type(x) in (int, float, bool) and not wrap_scalars:
            return Const(np.asarray(x, dtype=dtype))
        return Const(a.astype(dtype))
    return cast(array_leaf(a), dtype)


def shape_of(x) -> tuple:
    n = lazy_node(x)
    return n.shape if n is not None else np.shape(x)


def dtype_of(x) -> np.dtype:
    n = lazy_node(x)
    return n.dtype if n is not None else np.asarray(x).dtype


AUTO_CHUNK_BYTES = 128 * 2**20   # dask's default array.chunk-size


def normalize_chunks(chunks, shape, current=None, itemsize=8,
                     auto_bytes=AUTO_CHUNK_BYTES):
    """A chunk shape from dask's spellings: None, an int (every dim), a
    tuple or a dict (axis -> entry; axes not named keep ``current``) whose
    entries are a positive int, -1 or None (the whole dimension), a tuple
    of block extents (regular: all but the last equal) or "auto" (extents
    making chunks of about ``auto_bytes``); clipped to the shape."""
    if chunks is None:
        return None
    nd = len(shape)
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * nd
    elif isinstance(chunks, str):
        chunks = (chunks,) * nd
    elif isinstance(chunks, dict):
        base = tuple(current) if current is not None else tuple(shape)
        for k in chunks:
            if not isinstance(k, (int, np.integer)) or not -nd <= k < nd:
                raise ValueError(f"chunks: axis {k!r} is out of range for {nd} dimensions")
        chunks = tuple(chunks.get(k, chunks.get(k - nd, base[k])) for k in range(nd))
    try:
        chunks = tuple(chunks)
    except TypeError:
        raise TypeError(f"chunks must be an int or a tuple of ints, not {chunks!r}") from None
    if len(chunks) != nd:
        raise ValueError(f"chunks {chunks} do not match the {nd}-d shape {shape}")
    out = []
    for c, n in zip(chunks, shape):
        if isinstance(c, tuple):
            c = _regular(c, n)
        if c is None or (not isinstance(c, str) and c == -1):
            c = max(n, 1)
        if isinstance(c, str):
            if c != "auto":
                raise ValueError(f"unknown chunks entry {c!r}: use an int, -1, None, a "
                                 "tuple of extents or 'auto'")
            out.append(None)
            continue
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"chunk extents must be ints, not {c!r}")
        if c < 1:
            raise ValueError(f"chunk extents must be positive, got {chunks}")
        out.append(int(min(c, max(n, 1))))
    auto = [k for k, c in enumerate(out) if c is None]
    if auto:
        fixed = int(np.prod([c for c in out if c is not None], dtype=np.float64))
        room = max(auto_bytes / max(itemsize, 1) / max(fixed, 1), 1.0)
        for k in sorted(auto, key=lambda k: shape[k]):
            rest = len([j for j in auto if out[j] is None])
            e = int(max(1, min(max(shape[k], 1), room ** (1 / rest))))
            out[k] = e
            room = max(room / e, 1.0)
    return tuple(out)


def _regular(blocks, n):
    """The chunk extent of a dask-style tuple of block extents along an
    axis of n elements (all but the last equal, the last no larger)."""
    blocks = tuple(int(b) for b in blocks)
    if sum(blocks) != n:
        raise ValueError(f"chunks {blocks} do not add up to the extent {n}")
    if not blocks or n == 0:
        return max(n, 1)
    c = blocks[0]
    if any(b != c for b in blocks[:-1]) or blocks[-1] > c:
        raise ValueError(f"chunks {blocks}: chunkwise arrays have one chunk extent per "
                         "axis (all blocks but the last equal)")
    return c
