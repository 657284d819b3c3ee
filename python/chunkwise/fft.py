"""Discrete Fourier transforms on lazy arrays: ``numpy.fft.fft``, ``ifft``,
``rfft``, ``irfft``, ``hfft``, ``ihfft``, their n-d forms (``fftn``,
``ifftn``, ``rfftn``, ``irfftn``, ``fft2``, ``ifft2``, ``rfft2``,
``irfft2``), ``fftshift`` and ``ifftshift``.

A transform along an axis rechunks the array so that each block holds
that axis whole (rechunk.py), then calls NumPy's transform on each block
(blocks.py): every 1-d transform is NumPy's own, so results are NumPy's
exactly.  An n-d transform over one or two axes is the sequence of 1-d
transforms NumPy's ``_raw_fftnd`` runs, in its order; over more axes it
falls back to NumPy (FallbackWarning, within ``memory_limit``).  A block that would not fit in
``memory_limit`` raises ``MemoryBudgetError`` suggesting a rechunk of the
other axes.  The shifts are lazy ``roll``s.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.fft._pocketfft import _cook_nd_args
from numpy.lib.array_utils import normalize_axis_index

from ._core import MemoryBudgetError
from ._coerce import Fallback
from .array import Array
from .blocks import map_blocks
from .config import current, size_text
from .functions import implements
from .rechunk import rechunk

__all__ = []


def _one(func, a, n, axis, norm, out):
    name = f"numpy.fft.{func.__name__}"
    if out is not None or not isinstance(a, Array):
        return Fallback(name, func, (a,), dict(n=n, axis=axis, norm=norm, out=out))
    axis = int(normalize_axis_index(axis, a.ndim))
    # NumPy's errors, output length and dtype on a stand-in of one row.
    probe = func(np.zeros(a.shape[axis], a.dtype), n=n, norm=norm)
    x = rechunk(a, {axis: -1}) if len(a.chunks[axis]) > 1 else a
    rows = math.prod(c for k, c in enumerate(x.chunksize) if k != axis)
    need = rows * (x.shape[axis] * x.dtype.itemsize + probe.nbytes)
    limit = current().memory_limit
    if need > limit:
        raise MemoryBudgetError(
            f"{name} along axis {axis} needs blocks that hold the axis whole: "
            f"{size_text(need)} each with chunks {x.chunksize}, more than "
            f"memory_limit ({size_text(limit)}); rechunk the other axes smaller "
            f"(a.rechunk({{{axis}: -1, ...}})) or raise memory_limit")
    chunks = tuple((probe.shape[0],) if k == axis else c for k, c in enumerate(x.chunks))

    def block(b):
        return func(b, n=n, axis=axis, norm=norm)
    return map_blocks(block, x, dtype=probe.dtype, chunks=chunks)


def _register_1d(func):
    @implements(func)
    def impl(a, n=None, axis=-1, norm=None, out=None):
        return _one(func, a, n, axis, norm, out)
    return impl


for _f in (np.fft.fft, np.fft.ifft, np.fft.rfft, np.fft.irfft, np.fft.hfft, np.fft.ihfft):
    _register_1d(_f)


def _nd(kind, a, s, axes, norm, out):
    name = f"numpy.fft.{kind}"
    if out is not None or not isinstance(a, Array):
        return Fallback(name, getattr(np.fft, kind), (a,),
                        dict(s=s, axes=axes, norm=norm, out=out))
    last = kind in ("irfftn", "irfft2")
    s, axes = _cook_nd_args(np.broadcast_to(np.zeros((), a.dtype), a.shape), s, axes,
                            invreal=last)
    if len(axes) > 2:
        # Each axis is a rechunk and a block pass; the engine nests at most
        # 8 programs, so more than two axes run in NumPy (within memory_limit).
        return Fallback(name, getattr(np.fft, kind), (a,),
                        dict(s=s, axes=axes, norm=norm))
    if kind in ("fftn", "ifftn", "fft2", "ifft2"):
        f = np.fft.fft if kind in ("fftn", "fft2") else np.fft.ifft
        for ii in reversed(range(len(axes))):
            a = _one(f, a, s[ii], axes[ii], norm, None)
        return a
    if kind in ("rfftn", "rfft2"):
        a = _one(np.fft.rfft, a, s[-1], axes[-1], norm, None)
        for ii in range(len(axes) - 2, -1, -1):
            a = _one(np.fft.fft, a, s[ii], axes[ii], norm, None)
        return a
    for ii in range(len(axes) - 1):
        a = _one(np.fft.ifft, a, s[ii], axes[ii], norm, None)
    return _one(np.fft.irfft, a, s[-1], axes[-1], norm, None)


def _register_nd(kind, default_axes):
    func = getattr(np.fft, kind)

    @implements(func)
    def impl(a, s=None, axes=default_axes, norm=None, out=None):
        if not isinstance(a, Array) or a.ndim == 0 or (s is None and axes is not None
                                                       and len(axes) == 0):
            return Fallback(f"numpy.fft.{kind}", func, (a,),
                            dict(s=s, axes=axes, norm=norm, out=out))
        return _nd(kind, a, s, axes, norm, out)
    return impl


for _k in ("fftn", "ifftn", "rfftn", "irfftn"):
    _register_nd(_k, None)
for _k in ("fft2", "ifft2", "rfft2", "irfft2"):
    _register_nd(_k, (-2, -1))


def _shift(x, axes, sign):
    if not isinstance(x, Array):
        return None
    if axes is None:
        axes = tuple(range(x.ndim))
        shift = [sign * (n // 2) for n in x.shape]
    elif isinstance(axes, (int, np.integer)):
        shift = sign * (x.shape[axes] // 2)
    else:
        shift = [sign * (x.shape[ax] // 2) for ax in axes]
    return np.roll(x, shift, axes)


@implements(np.fft.fftshift)
def _fftshift(x, axes=None):
    r = _shift(x, axes, 1)
    return Fallback("numpy.fft.fftshift", np.fft.fftshift, (x,), dict(axes=axes)) \
        if r is None else r


@implements(np.fft.ifftshift)
def _ifftshift(x, axes=None):
    r = _shift(x, axes, -1)
    return Fallback("numpy.fft.ifftshift", np.fft.ifftshift, (x,), dict(axes=axes)) \
        if r is None else r
