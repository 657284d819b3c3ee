"""The Python array API standard over chunkwise arrays.

``x.__array_namespace__()`` returns this module: every function, constant
and data type of the standard (2024.12; 2023.12 and 2022.12 are accepted as
``api_version`` too), so that ``array_api_compat.array_namespace(x)`` and
code written against the standard work on lazy chunked arrays.  The
functions are thin wrappers over the lazy NumPy surface of chunkwise: they
return lazy Arrays, and what has no lazy implementation (sorting, the
``unique_*`` functions, ``searchsorted``) is computed eagerly, within
``cw.config(memory_limit=...)``, and wrapped again.  Data types are NumPy's
(``float32 == np.dtype("float32")``); the one device is ``"cpu"``.

Arrays are immutable: ``x[key] = v`` raises ``TypeError`` (the standard
leaves in-place updates optional for libraries without mutation), and the
in-place operators (``x += 1``) rebind the name to a new Array.  Shapes are
always known: data-dependent shapes (boolean indexing, ``nonzero``,
``unique_*``) are computed when the function is called.  The linalg and fft
extensions are ``linalg`` and ``fft`` (array_api_ext.py).
"""
from __future__ import annotations

import builtins
import math
import operator
import sys
from collections import namedtuple

import numpy as np

from . import creation
from .array_api_ext import fft, linalg  # noqa: F401 - the extensions
from .array_api_ext import matmul, matrix_transpose, tensordot, vecdot  # noqa: F401
from .array import Array, _fallback

__all__ = []  # the namespace is the module itself; nothing for ``import *``

__array_api_version__ = "2024.12"
_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12")

# ----------------------------------------------------------- data types
bool = np.dtype("bool")  # noqa: A001 - the standard's name
int8, int16, int32, int64 = (np.dtype(f"int{n}") for n in (8, 16, 32, 64))
uint8, uint16, uint32, uint64 = (np.dtype(f"uint{n}") for n in (8, 16, 32, 64))
float32, float64 = np.dtype("float32"), np.dtype("float64")
complex64, complex128 = np.dtype("complex64"), np.dtype("complex128")

_DTYPES = {"bool": bool, "int8": int8, "int16": int16, "int32": int32, "int64": int64,
           "uint8": uint8, "uint16": uint16, "uint32": uint32, "uint64": uint64,
           "float32": float32, "float64": float64, "complex64": complex64,
           "complex128": complex128}

e, inf, nan, pi, newaxis = math.e, math.inf, math.nan, math.pi, None


def _device(device):
    if device is not None and device != "cpu":
        raise ValueError(f"chunkwise arrays live on the device 'cpu', not {device!r}")


def _dtype(dtype):
    if dtype is None:
        return None
    dt = np.dtype(dtype)
    if dt.name not in _DTYPES:
        raise TypeError(f"{dt} is not a data type of the array API standard")
    return dt


def _arr(x) -> Array:
    return x if isinstance(x, Array) else creation.asarray(np.asarray(x))


def _eager(name, call, *args, **kwargs):
    """``call`` on the computed inputs (a FallbackWarning, within
    memory_limit), its results wrapped as Arrays."""
    return _fallback(f"array_api.{name}", call, args, kwargs)


def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# ------------------------------------------------------- the Array object
def _array_namespace(self, /, *, api_version=None):
    if api_version is not None and api_version not in _VERSIONS:
        raise ValueError(f"api_version {api_version!r} is not supported; "
                         f"chunkwise implements {', '.join(_VERSIONS)}")
    return sys.modules[__name__]


def _to_device(self, device, /, *, stream=None):
    _device(device)
    return self


Array.__array_namespace__ = _array_namespace
Array.device = property(lambda self: "cpu")
Array.to_device = _to_device


def __getattr__(name):
    """NumPy's functions beyond the standard (``pad``, ``einsum``,
    ``transpose``...), as on NumPy arrays: they dispatch to chunkwise's lazy
    implementation, or compute (cw.FallbackWarning).  Libraries that take
    this namespace for a NumPy-like one (xarray) find what they use."""
    value = getattr(np, name, None) if not name.startswith("_") else None
    if value is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return value


# ------------------------------------------------------------- creation
def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    _device(device)
    if stop is None:
        start, stop = 0, start
    dt = _dtype(dtype)
    if dt is None:
        dt = int64 if builtins.all(isinstance(v, int) for v in (start, stop, step)) else float64
    return creation.arange(start, stop, step, dtype=dt)


def asarray(obj, /, *, dtype=None, device=None, copy=None):
    _device(device)
    dt = _dtype(dtype)
    if isinstance(obj, Array):
        if dt is None or dt == obj.dtype:
            return Array.copy(obj) if copy else obj
        if copy is False:
            raise ValueError(f"asarray: converting {obj.dtype} to {dt} needs a copy")
        return obj.astype(dt)
    if dt is None and not isinstance(obj, (np.ndarray, np.generic)) and \
            not hasattr(obj, "__array__") and not hasattr(obj, "__dlpack__"):
        dt = _scalar_dtype(obj)
    if copy is True:
        a = np.array(obj, dtype=dt, copy=True)
    elif copy is False:
        a = np.asarray(obj, dtype=dt, copy=False)
    else:
        a = np.asarray(obj, dtype=dt)
    _dtype(a.dtype)
    return creation.asarray(a)


def _scalar_dtype(obj):
    """The default dtype of a (nested sequence of) Python scalars: bool,
    then int64, float64, complex128 as the kinds found need."""
    kinds = set()
    todo = [obj]
    while todo:
        v = todo.pop()
        if isinstance(v, (list, tuple)):
            todo.extend(v)
        elif isinstance(v, Array):
            return None
        else:
            kinds.add(type(v))
    if not kinds or kinds - {builtins.bool, int, float, complex}:
        return None
    for t, dt in ((complex, complex128), (float, float64), (int, int64)):
        if t in kinds:
            return dt
    return bool


def empty(shape, *, dtype=None, device=None):
    _device(device)
    return creation.empty(shape, dtype=_dtype(dtype) or float64)


def empty_like(x, /, *, dtype=None, device=None):
    _device(device)
    return creation.empty(x.shape, dtype=_dtype(dtype) or x.dtype)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    _device(device)
    cols = n_rows if n_cols is None else n_cols
    k = builtins.max(builtins.min(operator.index(k), cols), -n_rows)  # any k beyond: zeros
    return creation.eye(n_rows, n_cols, k=k, dtype=_dtype(dtype) or float64)


def from_dlpack(x, /, *, device=None, copy=None):
    _device(device)
    a = np.from_dlpack(x, copy=copy)
    return creation.asarray(a)


def full(shape, fill_value, *, dtype=None, device=None):
    _device(device)
    dt = _dtype(dtype)
    if dt is None:
        dt = _scalar_dtype(fill_value) if not isinstance(fill_value, Array) else \
            fill_value.dtype
    return creation.full(shape, fill_value, dtype=dt)


def full_like(x, /, fill_value, *, dtype=None, device=None):
    _device(device)
    return creation.full(x.shape, fill_value, dtype=_dtype(dtype) or x.dtype)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    _device(device)
    dt = _dtype(dtype)
    if dt is None:
        dt = complex128 if isinstance(start, complex) or isinstance(stop, complex) \
            else float64
    return creation.linspace(start, stop, num, endpoint=endpoint, dtype=dt)


def meshgrid(*arrays, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing must be 'xy' or 'ij', not {indexing!r}")
    return list(np.meshgrid(*arrays, indexing=indexing))


def ones(shape, *, dtype=None, device=None):
    _device(device)
    return creation.ones(shape, dtype=_dtype(dtype) or float64)


def ones_like(x, /, *, dtype=None, device=None):
    _device(device)
    return creation.ones(x.shape, dtype=_dtype(dtype) or x.dtype)


def zeros(shape, *, dtype=None, device=None):
    _device(device)
    return creation.zeros(shape, dtype=_dtype(dtype) or float64)


def zeros_like(x, /, *, dtype=None, device=None):
    _device(device)
    return creation.zeros(x.shape, dtype=_dtype(dtype) or x.dtype)


def tril(x, /, *, k=0):
    return np.tril(x, k)


def triu(x, /, *, k=0):
    return np.triu(x, k)


# ---------------------------------------------------- data type functions
def astype(x, dtype, /, *, copy=True, device=None):
    _device(device)
    return x.astype(_dtype(dtype), copy=copy)


def _dt_of(x):
    return x.dtype if isinstance(x, (Array, np.ndarray, np.generic)) else np.dtype(x)


def can_cast(from_, to, /):
    """NumPy's safe casting (which holds every cast of the standard's table)."""
    return builtins.bool(np.can_cast(_dt_of(from_), _dtype(to), "safe"))


finfo_object = namedtuple("finfo_object", ["bits", "eps", "max", "min", "smallest_normal",
                                           "dtype"])
iinfo_object = namedtuple("iinfo_object", ["bits", "max", "min", "dtype"])


def finfo(type, /):  # noqa: A002 - the standard's name
    f = np.finfo(_dt_of(type))
    return finfo_object(f.bits, float(f.eps), float(f.max), float(f.min),
                        float(f.smallest_normal), f.dtype)


def iinfo(type, /):  # noqa: A002 - the standard's name
    i = np.iinfo(_dt_of(type))
    return iinfo_object(i.bits, int(i.max), int(i.min), i.dtype)


def isdtype(dtype, kind):
    return np.isdtype(np.dtype(dtype), kind)


def result_type(*arrays_and_dtypes):
    """The standard's promotion table (NumPy's, with Python scalars taking
    the dtype of the arrays)."""
    if not arrays_and_dtypes:
        raise ValueError("result_type needs at least one array or dtype")
    args = [x if isinstance(x, (builtins.bool, int, float, complex)) else _dt_of(x)
            for x in arrays_and_dtypes]
    return np.result_type(*args)  # Python scalars alone: NumPy's answer (an extension)


# ------------------------------------------------------------ elementwise
def _unary(uf, name):
    def f(x, /):
        return uf(_arr(x))
    f.__name__ = f.__qualname__ = name
    return f


def _binary(uf, name):
    def f(x1, x2, /):
        if not isinstance(x1, Array) and not isinstance(x2, Array):
            x1 = _arr(x1)
        return uf(x1, x2)
    f.__name__ = f.__qualname__ = name
    return f


for _name, _uf in [("abs", np.absolute), ("acos", np.arccos), ("acosh", np.arccosh),
                   ("asin", np.arcsin), ("asinh", np.arcsinh), ("atan", np.arctan),
                   ("atanh", np.arctanh), ("bitwise_invert", np.invert),
                   ("conj", np.conjugate), ("cos", np.cos), ("cosh", np.cosh),
                   ("exp", np.exp), ("isfinite", np.isfinite),
                   ("isinf", np.isinf), ("isnan", np.isnan), ("log", np.log),
                   ("log1p", np.log1p), ("log2", np.log2), ("log10", np.log10),
                   ("logical_not", np.logical_not), ("negative", np.negative),
                   ("positive", np.positive), ("sign", np.sign), ("signbit", np.signbit),
                   ("sin", np.sin), ("sinh", np.sinh), ("square", np.square),
                   ("sqrt", np.sqrt), ("tan", np.tan), ("tanh", np.tanh)]:
    globals()[_name] = _unary(_uf, _name)
for _name, _uf in [("add", np.add), ("atan2", np.arctan2),
                   ("bitwise_and", np.bitwise_and), ("bitwise_left_shift", np.left_shift),
                   ("bitwise_or", np.bitwise_or), ("bitwise_right_shift", np.right_shift),
                   ("bitwise_xor", np.bitwise_xor), ("copysign", np.copysign),
                   ("divide", np.true_divide), ("equal", np.equal),
                   ("greater", np.greater),
                   ("greater_equal", np.greater_equal), ("hypot", np.hypot),
                   ("less", np.less), ("less_equal", np.less_equal),
                   ("logaddexp", np.logaddexp), ("logical_and", np.logical_and),
                   ("logical_or", np.logical_or), ("logical_xor", np.logical_xor),
                   ("maximum", np.maximum), ("minimum", np.minimum),
                   ("multiply", np.multiply), ("nextafter", np.nextafter),
                   ("not_equal", np.not_equal), ("pow", np.power),
                   ("remainder", np.remainder), ("subtract", np.subtract)]:
    globals()[_name] = _binary(_uf, _name)
del _name, _uf


def expm1(x, /):
    # NumPy's complex expm1 gives NaN for infinite parts where the standard
    # (C99's cexp) has exp(x) - 1: computed so there, lazily.
    if x.dtype.kind != "c":
        return np.expm1(x)
    finite = np.isfinite(x.real) & np.isfinite(x.imag)
    return np.where(finite, np.expm1(x), np.exp(x) - 1)


def floor_divide(x1, x2, /):
    # NumPy gives NaN or -1 for an infinite operand where the standard has
    # floor(x1 / x2) (-inf // 2 is -inf, 1 // -inf is -0): computed so there.
    out = np.floor_divide(_arr(x1) if not isinstance(x2, Array) else x1, x2)
    if out.dtype.kind != "f":
        return out
    return np.where(np.isinf(x1) | np.isinf(x2), np.floor(np.true_divide(x1, x2)), out)


def _int_or(uf, name):
    def f(x, /):
        return x if x.dtype.kind in "biu" else uf(x)
    f.__name__ = f.__qualname__ = name
    return f


ceil, floor, trunc = (_int_or(np.ceil, "ceil"), _int_or(np.floor, "floor"),
                      _int_or(np.trunc, "trunc"))


def round(x, /):  # noqa: A001 - the standard's name
    return x if x.dtype.kind in "biu" else np.round(x)


def real(x, /):
    return x.real


def imag(x, /):
    return x.imag


def reciprocal(x, /):
    return np.divide(1.0, x) if x.dtype.kind in "fc" else np.reciprocal(x)


def clip(x, /, min=None, max=None):  # noqa: A002 - the standard's names
    out = x
    if min is not None:
        out = np.maximum(out, min)
    if max is not None:
        out = np.minimum(out, max)
    if out is x:
        return Array.copy(x)
    return out if out.dtype == x.dtype else out.astype(x.dtype)


# --------------------------------------------------------------- indexing
def take(x, indices, /, *, axis=None):
    if axis is None and x.ndim != 1:
        raise ValueError("take: axis is required for arrays of more than one dimension")
    return np.take(x, indices, axis=0 if axis is None else axis)


def take_along_axis(x, indices, /, *, axis=-1):
    return np.take_along_axis(x, indices, axis)


# ----------------------------------------------------------- manipulation
def broadcast_arrays(*arrays):
    return list(np.broadcast_arrays(*arrays))


def broadcast_to(x, /, shape):
    return np.broadcast_to(x, tuple(shape))


def concat(arrays, /, *, axis=0):
    arrays = list(arrays)
    if axis is None:
        arrays = [np.reshape(a, (-1,)) for a in arrays]
        axis = 0
    dt = result_type(*arrays)
    return np.concatenate([a if a.dtype == dt else a.astype(dt) for a in arrays], axis=axis)


def expand_dims(x, /, axis=0):
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise IndexError(f"axis {axis} is out of bounds for the result of "
                         f"{x.ndim + 1} dimensions")
    return np.expand_dims(x, axis)


def flip(x, /, *, axis=None):
    return np.flip(x, axis=_axes(axis))


def moveaxis(x, source, destination, /):
    return np.moveaxis(x, source, destination)


def permute_dims(x, /, axes):
    return np.transpose(x, tuple(axes))


def repeat(x, repeats, /, *, axis=None):
    if isinstance(repeats, Array):
        repeats = repeats.compute()
    return np.repeat(x, repeats, axis=axis)


def reshape(x, /, shape, *, copy=None):
    return np.reshape(x, tuple(shape))


def roll(x, /, shift, *, axis=None):
    return np.roll(x, shift, axis=_axes(axis))


def squeeze(x, /, axis):
    return np.squeeze(x, axis=_axes(axis))


def stack(arrays, /, *, axis=0):
    arrays = list(arrays)
    dt = result_type(*arrays)
    return np.stack([a if a.dtype == dt else a.astype(dt) for a in arrays], axis=axis)


def tile(x, repetitions, /):
    return np.tile(x, tuple(repetitions))


def unstack(x, /, *, axis=0):
    if x.ndim == 0:
        raise ValueError("unstack needs an array of at least one dimension")
    return tuple(np.unstack(x, axis=axis))


# -------------------------------------------------------------- searching
def argmax(x, /, *, axis=None, keepdims=False):
    return _arr(np.argmax(x, axis=axis, keepdims=keepdims))


def argmin(x, /, *, axis=None, keepdims=False):
    return _arr(np.argmin(x, axis=axis, keepdims=keepdims))


def count_nonzero(x, /, *, axis=None, keepdims=False):
    return _arr(np.sum(np.not_equal(x, 0), axis=_axes(axis), keepdims=keepdims,
                       dtype=int64))


def nonzero(x, /):
    if x.ndim == 0:
        raise ValueError("nonzero of a 0-d array")
    return tuple(np.nonzero(x))


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    """Computed when called (NumPy's searchsorted on the computed inputs)."""
    if x1.ndim != 1:
        raise ValueError("searchsorted needs a one-dimensional x1")
    return _eager("searchsorted", np.searchsorted, x1, x2, side=side, sorter=sorter)


def where(condition, x1, x2, /):
    return np.where(condition, x1, x2)


# -------------------------------------------------------------------- sets
UniqueAllResult = namedtuple("UniqueAllResult",
                             ["values", "indices", "inverse_indices", "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def unique_all(x, /):
    """Computed when called: NumPy finds the unique values of the computed
    input (NaNs are distinct, as the standard says)."""
    return UniqueAllResult(*_eager("unique_all", np.unique_all, x))


def unique_counts(x, /):
    return UniqueCountsResult(*_eager("unique_counts", np.unique_counts, x))


def unique_inverse(x, /):
    return UniqueInverseResult(*_eager("unique_inverse", np.unique_inverse, x))


def unique_values(x, /):
    return _eager("unique_values", np.unique_values, x)


# ---------------------------------------------------------------- sorting
def _sort(a, axis, descending):
    a = np.sort(a, axis=axis, kind="stable")
    return np.ascontiguousarray(np.flip(a, axis=axis)) if descending else a


def _argsort(a, axis, descending):
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    # Stable descending: the last of equal elements of the flipped array
    # first, counted from the end.
    n = a.shape[axis] if a.ndim else 1
    r = np.flip(np.argsort(np.flip(a, axis=axis), axis=axis, kind="stable"), axis=axis)
    return np.ascontiguousarray(n - 1 - r)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    """Computed when called along ``axis`` (NumPy's stable sort)."""
    return _eager("sort", _sort, x, axis, descending)


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    """Computed when called along ``axis``; a descending sort keeps equal
    elements in their order."""
    return _eager("argsort", _argsort, x, axis, descending)


# ------------------------------------------------------------ statistical
def _cumulative(uf, initial, x, axis, dtype, include_initial):
    if axis is None:
        if x.ndim > 1:
            raise ValueError("axis is required for arrays of more than one dimension")
        axis = 0
    if x.ndim == 0:
        raise ValueError("cumulative functions need an array of at least one dimension")
    dt = _dtype(dtype)
    out = np.cumsum(x, axis=axis, dtype=dt) if uf is np.add else \
        np.cumprod(x, axis=axis, dtype=dt)
    if include_initial:
        axis = axis % x.ndim
        shape = x.shape[:axis] + (1,) + x.shape[axis + 1:]
        out = np.concatenate([creation.full(shape, initial, dtype=out.dtype), out],
                             axis=axis)
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(np.add, 0, x, axis, dtype, include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(np.multiply, 1, x, axis, dtype, include_initial)


def max(x, /, *, axis=None, keepdims=False):  # noqa: A001 - the standard's name
    return _arr(np.max(x, axis=_axes(axis), keepdims=keepdims))


def min(x, /, *, axis=None, keepdims=False):  # noqa: A001 - the standard's name
    return _arr(np.min(x, axis=_axes(axis), keepdims=keepdims))


def mean(x, /, *, axis=None, keepdims=False, dtype=None):
    # dtype=: NumPy's, an extension (xarray passes it).
    return _arr(np.mean(x, axis=_axes(axis), keepdims=keepdims, dtype=_dtype(dtype)))


def _sum_dtype(x, dtype):
    dt = _dtype(dtype)
    if dt is None and x.dtype.kind in "fc":
        dt = x.dtype  # the standard keeps float32 sums in float32
    return dt


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    return _arr(np.prod(x, axis=_axes(axis), dtype=_sum_dtype(x, dtype),
                        keepdims=keepdims))


def sum(x, /, *, axis=None, dtype=None, keepdims=False):  # noqa: A001
    return _arr(np.sum(x, axis=_axes(axis), dtype=_sum_dtype(x, dtype),
                       keepdims=keepdims))


def _correction(correction, ddof):
    # ddof=: NumPy's name for correction, an extension (xarray passes it).
    if ddof is not None:
        if correction:
            raise TypeError("give correction or ddof, not both")
        return ddof
    return correction


def std(x, /, *, axis=None, correction=0.0, keepdims=False, ddof=None, dtype=None):
    return _arr(np.std(x, axis=_axes(axis), ddof=_correction(correction, ddof),
                       keepdims=keepdims, dtype=_dtype(dtype)))


def var(x, /, *, axis=None, correction=0.0, keepdims=False, ddof=None, dtype=None):
    return _arr(np.var(x, axis=_axes(axis), ddof=_correction(correction, ddof),
                       keepdims=keepdims, dtype=_dtype(dtype)))


# ---------------------------------------------------------------- utility
def all(x, /, *, axis=None, keepdims=False):  # noqa: A001 - the standard's name
    return _arr(np.all(x, axis=_axes(axis), keepdims=keepdims))


def any(x, /, *, axis=None, keepdims=False):  # noqa: A001 - the standard's name
    return _arr(np.any(x, axis=_axes(axis), keepdims=keepdims))


def diff(x, /, *, axis=-1, n=1, prepend=None, append=None):
    """Lazy: n differences of neighbours along ``axis`` (``!=`` for bool,
    as NumPy's diff)."""
    if x.ndim == 0:
        raise ValueError("diff needs an array of at least one dimension")
    if not -x.ndim <= axis < x.ndim:
        raise IndexError(f"axis {axis} is out of bounds for an array of {x.ndim} "
                         "dimensions")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = concat(parts, axis=axis)
    lead = (slice(None),) * (axis % x.ndim)
    for _ in range(n):
        hi, lo = x[lead + (slice(1, None),)], x[lead + (slice(None, -1),)]
        x = np.not_equal(hi, lo) if x.dtype == bool else np.subtract(hi, lo)
    return x


# -------------------------------------------------------------- inspection
class _Info:
    """What ``__array_namespace_info__()`` returns."""

    def capabilities(self):
        return {"boolean indexing": True, "data-dependent shapes": True,
                "max dimensions": 32}

    def default_device(self):
        return "cpu"

    def devices(self):
        return ["cpu"]

    def default_dtypes(self, *, device=None):
        _device(device)
        return {"real floating": float64, "complex floating": complex128,
                "integral": int64, "indexing": int64}

    def dtypes(self, *, device=None, kind=None):
        _device(device)
        if kind is None:
            return dict(_DTYPES)
        return {k: v for k, v in _DTYPES.items() if np.isdtype(v, kind)}


def __array_namespace_info__():
    return _Info()
