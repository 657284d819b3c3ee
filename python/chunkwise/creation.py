"""Lazy constructors: zeros, ones, full, empty, arange, and asarray."""
from __future__ import annotations

import math
import operator

import numpy as np

from . import _core
from .array import Array, _normalize_chunks

__all__ = ["asarray", "zeros", "ones", "full", "empty", "arange"]

_SUPPORTED = {np.dtype(t) for t in (
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")}


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.newbyteorder("=") not in _SUPPORTED:
        raise TypeError(
            f"unsupported dtype {dt}: chunkwise supports bool, int8-int64, "
            "uint8-uint64, float16, float32 and float64")
    return dt


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
    raw = value.tobytes()
    src = _core.full(shape, dt, raw, _normalize_chunks(chunks, shape))
    return Array._from_source(src)


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
    return Array._from_source(_core.arange(n, istart, istep, first, second, dt, chunk))


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
    if arr.dtype.kind not in "biuf" or arr.dtype.newbyteorder("=") not in _SUPPORTED:
        raise TypeError(
            f"unsupported dtype {arr.dtype}: chunkwise supports bool, "
            "int8-int64, uint8-uint64, float16, float32 and float64")
    if not arr.dtype.isnative or not arr.flags.aligned:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return Array._from_source(_core.from_array(arr, _normalize_chunks(chunks, arr.shape)))
