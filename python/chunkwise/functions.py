"""NumPy functions on lazy arrays: ``Array.__array_function__``, and the
fallback for everything chunkwise does not evaluate lazily.

A function with a lazy implementation is registered with
``@implements(np.func)``.  Any other NumPy function (and ufunc methods such
as ``reduce``) falls back: its chunkwise inputs are materialised, NumPy runs,
and the result comes back through ``Array.__array_wrap__`` as a chunked
array, with a ``FallbackWarning`` naming the function.  Nothing computes
silently; inputs larger than ``memory_limit`` make it refuse; with
``cw.config(fallback="error")`` every fallback is an error.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._core import MemoryBudgetError
from .config import get_config

__all__ = ["FallbackWarning", "HANDLED", "implements", "fallback"]

HANDLED: dict = {}


class FallbackWarning(UserWarning):
    """A NumPy function ran eagerly on materialised chunkwise inputs."""


def implements(*funcs):
    def deco(f):
        for func in funcs:
            HANDLED[func] = f
        return f
    return deco


def _arrays_in(obj, out):
    from .array import Array
    if isinstance(obj, Array):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            _arrays_in(x, out)
    elif isinstance(obj, dict):
        for x in obj.values():
            _arrays_in(x, out)
    return out


def _materialise(obj):
    from .array import Array
    if isinstance(obj, Array):
        return obj.compute()
    if isinstance(obj, list):
        return [_materialise(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    return obj


def _wrap(result):
    """NumPy results back as chunked arrays (``Array.__array_wrap__``)."""
    from .array import Array
    if isinstance(result, (np.ndarray, np.generic)):
        return Array.__array_wrap__(None, np.asarray(result))
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    return result


def fallback(name, call, args, kwargs):
    """Run ``call(*args, **kwargs)`` eagerly on materialised inputs."""
    cfg = get_config()
    arrays = _arrays_in((args, kwargs), [])
    if cfg["fallback"] == "error":
        raise TypeError(f"{name} has no lazy implementation in chunkwise and "
                        "cw.config(fallback='error') is set")
    need = sum(a.nbytes for a in arrays)
    if need > cfg["memory_limit"]:
        raise MemoryBudgetError(
            f"{name} has no lazy implementation and would materialise "
            f"{need / 2**20:.1f} MiB of inputs, more than memory_limit "
            f"({cfg['memory_limit'] / 2**20:.1f} MiB)")
    warnings.warn(f"{name}: no lazy implementation in chunkwise; materialising "
                  f"{len(arrays)} input{'s' if len(arrays) != 1 else ''} "
                  f"({need / 2**20:.1f} MiB) and calling NumPy",
                  FallbackWarning, stacklevel=4)
    result = call(*_materialise(args), **_materialise(kwargs))
    return _wrap(result)


# ------------------------------------------------- metadata, no computing

@implements(np.shape)
def _shape(a):
    return a.shape


@implements(np.ndim)
def _ndim(a):
    return a.ndim


@implements(np.size)
def _size(a, axis=None):
    return a.size if axis is None else a.shape[axis]


if hasattr(np, "astype"):  # NumPy >= 2.1
    @implements(np.astype)
    def _astype(x, dtype, /, *, copy=True, device=None):
        return x.astype(dtype)


# ---------------------------------------------------------------- reductions

def _reduction(method):
    def impl(a, axis=None, dtype=None, out=None, keepdims=np._NoValue, **kw):
        from .array import Array
        name = f"numpy.{method}"
        kw = {k: v for k, v in kw.items() if v is not np._NoValue}
        if out is not None or kw or not isinstance(a, Array):
            args = dict(axis=axis, out=out, **kw)
            if dtype is not None:
                args["dtype"] = dtype
            if keepdims is not np._NoValue:
                args["keepdims"] = keepdims
            return fallback(name, getattr(np, method), (a,), args)
        keep = False if keepdims is np._NoValue else keepdims
        f = getattr(a, method)
        if method in ("min", "max", "any", "all"):
            if dtype is not None:
                return fallback(name, getattr(np, method), (a,),
                                dict(axis=axis, dtype=dtype, keepdims=keep))
            return f(axis=axis, keepdims=keep)
        return f(axis=axis, dtype=dtype, keepdims=keep)
    return impl


for _m, _funcs in [("sum", [np.sum]), ("prod", [np.prod]), ("mean", [np.mean]),
                   ("min", [np.min, np.amin]), ("max", [np.max, np.amax]),
                   ("any", [np.any]), ("all", [np.all])]:
    implements(*_funcs)(_reduction(_m))


def _varstd(method):
    def impl(a, axis=None, dtype=None, out=None, ddof=0, keepdims=np._NoValue, **kw):
        from .array import Array
        kw = {k: v for k, v in kw.items() if v is not np._NoValue}
        if out is not None or kw or not isinstance(a, Array):
            args = dict(axis=axis, dtype=dtype, out=out, ddof=ddof, **kw)
            if keepdims is not np._NoValue:
                args["keepdims"] = keepdims
            return fallback(f"numpy.{method}", getattr(np, method), (a,), args)
        keep = False if keepdims is np._NoValue else keepdims
        return getattr(a, method)(axis=axis, dtype=dtype, ddof=ddof, keepdims=keep)
    return impl


implements(np.var)(_varstd("var"))
implements(np.std)(_varstd("std"))
