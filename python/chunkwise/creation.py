"""Lazy constructors: open, asarray, zeros, ones, full, empty, arange."""
from __future__ import annotations

import math
import operator

import numpy as np

from ._coerce import array_leaf
from ._coerce import normalize_chunks as _normalize_chunks
from ._compile import open_hdf5, source
from ._dtypes import check as _check_dtype
from ._nodes import Arange, Full, leaf
from .array import Array, wrap

__all__ = ["open", "asarray", "zeros", "ones", "full", "empty", "arange"]


def open(path, name, swmr=False) -> Array:  # noqa: A001 - the API's name
    """Open dataset ``name`` of HDF5 file ``path`` lazily and read-only.

    With ``swmr=True`` the file is opened for SWMR reading
    (H5F_ACC_SWMR_READ), so that a writer in SWMR mode may keep appending;
    the Array has the shape at opening, and ``refresh()`` returns one with
    the current shape.

    Raises FileNotFoundError (no file), KeyError (no such dataset), TypeError
    (a group, or an unsupported dtype), OSError (not an HDF5 file).
    """
    return wrap(open_hdf5(path, name, swmr))


def _source_leaf(spec) -> Array:
    source(spec)  # made now: the engine checks the parameters here
    return wrap(leaf(spec))


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints, not {shape!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError("negative dimensions are not allowed")
    return shape


def full(shape, fill_value, dtype=None, chunks=None) -> Array:
    """Lazy array of ``shape`` filled with ``fill_value`` (NumPy's dtype
    rules: the dtype of ``np.array(fill_value)`` unless given)."""
    shape = _shape(shape)
    if np.ndim(fill_value) != 0:
        raise ValueError("fill_value must be a scalar")
    if dtype is not None:
        _check_dtype(dtype)
    # A 0-d numpy.full converts the value exactly as NumPy would (and
    # raises NumPy's errors, e.g. for -1 into uint8).
    value = np.full((), fill_value, dtype=dtype)
    dt = _check_dtype(value.dtype)
    return _source_leaf(Full(shape, dt, value.tobytes(), _normalize_chunks(chunks, shape)))


def zeros(shape, dtype=float, chunks=None) -> Array:
    """Lazy array of zeros."""
    return full(shape, 0, _check_dtype(dtype), chunks)


def ones(shape, dtype=float, chunks=None) -> Array:
    """Lazy array of ones."""
    return full(shape, 1, _check_dtype(dtype), chunks)


def empty(shape, dtype=float, chunks=None) -> Array:
    """Lazy uninitialised array.  Its contents are unspecified by contract;
    chunkwise produces zeros without allocating anything."""
    return full(shape, 0, _check_dtype(dtype), chunks)


def arange(start, stop=None, step=None, dtype=None, chunks=None) -> Array:
    """Lazy ``numpy.arange``: same length, dtype and values."""
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    # NumPy's dtype for these arguments, from an empty arange of the same
    # types (this also raises NumPy's own errors, e.g. for step 0).
    dt = np.arange(0 * start, 0 * stop, step, dtype=dtype).dtype
    _check_dtype(dt)
    n = math.ceil((stop - start) / step)
    n = max(int(n), 0)
    if dt == np.bool_:
        # NumPy allows at most two booleans; nothing to be lazy about.
        return asarray(np.arange(start, stop, step, dtype=dt), chunks=chunks)
    if dt.kind == "f":
        first, second = float(start), float(start + step)
        istart = istep = 0
    else:
        # Elements 0 and 1 are start and start+step converted as NumPy's
        # setitem converts them; the C side continues the progression.
        first = second = 0.0
        a = int(np.asarray(start).astype(dt, casting="unsafe"))
        b = int(np.asarray(start + step).astype(dt, casting="unsafe"))
        istart = a
        istep = (b - a + 2**63) % 2**64 - 2**63
    chunk = None
    if chunks is not None:
        chunk = _normalize_chunks(chunks, (n,))[0]
    return _source_leaf(Arange(n, istart, istep, first, second, dt, chunk))


def asarray(obj, chunks=None) -> Array:
    """A chunkwise Array over ``obj``: an ndarray, anything with the buffer
    protocol, ``__array_interface__``, ``__array__`` or ``__dlpack__``, or a
    nested sequence.  Memory is shared with ``obj`` whenever NumPy can view
    it without a copy (native byte order, aligned, supported dtype)."""
    if isinstance(obj, Array):
        if chunks is not None and _normalize_chunks(chunks, obj.shape) != obj.chunks:
            raise ValueError("cannot rechunk a chunkwise Array in place; write "
                             "it with to_hdf5(..., chunks=...) instead")
        return obj
    if (not isinstance(obj, np.ndarray) and hasattr(obj, "__dlpack__")
            and not hasattr(obj, "__array_interface__")):
        arr = np.from_dlpack(obj)
    else:
        arr = np.asarray(obj)
    return wrap(array_leaf(arr, chunks))
