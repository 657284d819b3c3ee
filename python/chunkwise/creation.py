"""Lazy constructors: open, asarray, zeros, ones, full, empty, arange, linspace,
eye, identity, tri, indices, meshgrid and the ``*_like`` functions."""
from __future__ import annotations

import math
import operator

import numpy as np

from . import _core, _dtypes
from ._coerce import array_leaf
from ._coerce import normalize_chunks as _normalize_chunks
from ._compile import open_hdf5, source
from ._dtypes import check as _check_dtype
from . import views
from ._nodes import Arange, Full, leaf
from .interop import from_dask, is_dask_collection
from .array import Array, wrap

try:  # NumPy 2: the converter numpy.linspace itself uses (weak Python scalars)
    from numpy._core._multiarray_umath import _array_converter
except ImportError:  # NumPy 1.x
    _array_converter = None

__all__ = ["open", "asarray", "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
           "identity", "tri", "indices", "meshgrid", "zeros_like", "ones_like",
           "empty_like", "full_like", "logspace", "geomspace"]


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
    nested sequence, or a dask array (computed when it fits
    ``memory_limit``, else MemoryBudgetError).  Memory is shared with ``obj`` whenever NumPy can view
    it without a copy (native byte order, aligned, supported dtype)."""
    if isinstance(obj, Array):
        if chunks is not None and _normalize_chunks(chunks, obj.shape) != obj.chunksize:
            raise ValueError("cannot rechunk a chunkwise Array in place; write "
                             "it with to_hdf5(..., chunks=...) instead")
        return obj
    if is_dask_collection(obj):
        return wrap(from_dask(obj, chunks))
    if (not isinstance(obj, np.ndarray) and hasattr(obj, "__dlpack__")
            and not hasattr(obj, "__array_interface__")):
        arr = _from_dlpack(obj)
    else:
        arr = np.asarray(obj)
    return wrap(array_leaf(arr, chunks))


def _converted(start, stop):
    """start and stop as numpy.linspace converts them, and its dtype."""
    if _array_converter is None:
        a, b = np.asarray(start), np.asarray(stop)
        return a, b, np.result_type(start, stop, 1.0)
    conv = _array_converter(start, stop)
    a, b = conv.as_arrays()
    return a, b, conv.result_type(ensure_inexact=True)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
             chunks=None):
    """Lazy ``numpy.linspace``: same shape, dtype and values, bit for bit.

    Element i is computed as NumPy computes it (``i * step + start``, or
    ``i / div * delta + start`` when the step underflows to 0), the last
    one is ``stop`` when ``endpoint``, integer dtypes are floored first;
    ``start`` and ``stop`` may be arrays (the new axis is ``axis``)."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div = (num - 1) if endpoint else num
    a, b, dt = _converted(start, stop)
    integer_dtype = dtype is not None and np.issubdtype(dtype, np.integer)
    if dtype is None:
        dtype = dt
    out_dt = _check_dtype(dtype)
    _check_dtype(dt)
    # Python scalars stay Python scalars: weak in NumPy's promotion, as
    # the arrays NumPy converts them to are.
    s0 = start if type(start) in (int, float, bool) else a
    s1 = stop if type(stop) in (int, float, bool) else b
    delta = np.subtract(b, a, dtype=type(dt))
    nd = np.ndim(delta)
    chunk = None if chunks is None else _normalize_chunks(chunks, (num,))
    y = arange(0, num, dtype=dt, chunks=chunk)
    if nd:
        y = y[(slice(None),) + (None,) * nd]

    def inplace(r):            # y op= v keeps y's dtype
        return r.astype(dt) if r.dtype != dt else r

    if div > 0:
        scalar = np.isscalar(delta)
        step = delta / div
        if (step == 0) if scalar else np.asanyarray(step == 0).any():
            y = inplace(y / div)
            y = inplace(y * delta) if scalar else y * delta
        elif scalar:
            y = inplace(y * step)
        else:
            y = y * step
    else:
        step = np.nan
        y = y * delta
    y = inplace(y + s0)
    if endpoint and num > 1:
        last = arange(num, dtype=np.int64, chunks=chunk) == num - 1
        if nd:
            last = last[(slice(None),) + (None,) * nd]
        # y[-1, ...] = stop: stop converted to y's dtype.
        end = np.asarray(b).astype(dt, casting="unsafe")
        y = np.where(last, end, y)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    if integer_dtype:
        y = np.floor(y)
    y = y.astype(out_dt)
    if retstep:
        return y, step
    return y


# ------------------------------------------------- matrices and index grids

def _int(n, what):
    try:
        return operator.index(n)
    except TypeError:
        raise TypeError(f"'{type(n).__name__}' object cannot be interpreted as an "
                        f"integer ({what})") from None


def eye(N, M=None, k=0, dtype=float, order="C", *, device=None, like=None) -> Array:
    """Lazy ``numpy.eye``: ones on diagonal ``k``, zeros elsewhere."""
    N = _int(N, "N")
    M = N if M is None else _int(M, "M")
    _shape((N, M))
    return wrap(views.eye_node(N, M, _int(k, "k"), _check_dtype(dtype)))


def identity(n, dtype=None, *, like=None) -> Array:
    """Lazy ``numpy.identity``."""
    return eye(n, dtype=float if dtype is None else dtype)


def tri(N, M=None, k=0, dtype=float, *, like=None) -> Array:
    """Lazy ``numpy.tri``: ones at and below diagonal ``k``."""
    N = _int(N, "N")
    M = N if M is None else _int(M, "M")
    _shape((N, M))
    return wrap(views.tri_node(N, M, _int(k, "k"), _check_dtype(dtype)))


def indices(dimensions, dtype=int, sparse=False) -> Array:
    """Lazy ``numpy.indices``: a stacked Array, or a tuple with ``sparse``."""
    _check_dtype(dtype)
    res = views.indices_node(_shape(tuple(dimensions)), dtype, sparse)
    return tuple(wrap(r) for r in res) if sparse else wrap(res)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy") -> tuple:
    """Lazy ``numpy.meshgrid`` of 0-d and 1-d inputs (a tuple of Arrays)."""
    res = views.meshgrid_nodes(xi, sparse, indexing)
    if res is None:
        raise ValueError("meshgrid inputs must be 0-d or 1-d (flattening needs a reshape)")
    return tuple(wrap(r) for r in res)


def zeros_like(a, dtype=None, shape=None) -> Array:
    return wrap(views.like_node(a, dtype, shape, 0))


def ones_like(a, dtype=None, shape=None) -> Array:
    return wrap(views.like_node(a, dtype, shape, 1))


def empty_like(a, dtype=None, shape=None) -> Array:
    """Reads as zeros, as ``empty``."""
    return wrap(views.like_node(a, dtype, shape, 0))


def full_like(a, fill_value, dtype=None, shape=None) -> Array:
    return wrap(views.like_node(a, dtype, shape, fill_value))


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None) -> Array:
    """Lazy ``numpy.logspace`` of scalar arguments: NumPy's values exactly
    (its linspace arithmetic, then ``power``)."""
    return wrap(views.logspace_node(start, stop, num, endpoint, base, dtype))


def geomspace(start, stop, num=50, endpoint=True, dtype=None) -> Array:
    """Lazy ``numpy.geomspace`` of real scalar arguments, as NumPy computes
    it (logspace of the log10s, exact endpoints, the sign of start)."""
    return wrap(views.geomspace_node(start, stop, num, endpoint, dtype))


# DLPack type codes (dlpack.h DLDataTypeCode) and the names of their widths.
_DL_KINDS = {0: "int", 1: "uint", 2: "float", 3: "opaque handle", 4: "bfloat",
             5: "complex", 6: "bool", 7: "float8_e3m4", 8: "float8_e4m3",
             9: "float8_e4m3b11fnuz", 10: "float8_e4m3fn", 11: "float8_e4m3fnuz",
             12: "float8_e5m2", 13: "float8_e5m2fnuz", 14: "float8_e8m0fnu",
             15: "float6_e2m3fn", 16: "float6_e3m2fn", 17: "float4_e2m1fn"}


def _from_dlpack(obj) -> np.ndarray:
    """np.from_dlpack, with a TypeError naming the tensor's dtype when NumPy
    (or chunkwise) cannot hold it (bfloat16, float8, ...)."""
    try:
        return np.from_dlpack(obj)
    except (BufferError, TypeError, ValueError, RuntimeError) as e:
        err = e
    try:
        code, bits, lanes = _core.dlpack_dtype(obj.__dlpack__())
    except Exception:
        raise err from None
    kind = _DL_KINDS.get(code, f"type code {code}")
    name = kind if kind.startswith(("float8", "float6", "float4", "opaque")) else f"{kind}{bits}"
    if lanes != 1:
        name += f" x{lanes} lanes"
    raise TypeError(f"unsupported dtype {name} in a DLPack tensor: chunkwise supports "
                    f"{_dtypes.NAMES}") from err
