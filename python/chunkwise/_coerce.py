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


def normalize_chunks(chunks, shape):
    """None, an int (every dim) or a tuple with one positive int per dim
    (-1 or None: the whole dimension); clipped to the shape."""
    if chunks is None:
        return None
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * len(shape)
    try:
        chunks = tuple(chunks)
    except TypeError:
        raise TypeError(f"chunks must be an int or a tuple of ints, not {chunks!r}") from None
    if len(chunks) != len(shape):
        raise ValueError(f"chunks {chunks} do not match the {len(shape)}-d shape {shape}")
    out = []
    for c, n in zip(chunks, shape):
        if c is None or c == -1:
            c = max(n, 1)
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"chunk extents must be ints, not {c!r}")
        if c < 1:
            raise ValueError(f"chunk extents must be positive, got {chunks}")
        out.append(int(min(c, max(n, 1))))
    return tuple(out)
