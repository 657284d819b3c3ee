"""``numpy.lib.stride_tricks.sliding_window_view`` on Array, lazily (the view
xarray's ``rolling`` and ``rolling(...).construct`` reduce over).

A window of ``w`` along an axis of extent ``n`` is ``w`` shifted slices of
extent ``n - w + 1`` stacked along a new last axis, one stack per windowed
axis in the order given, which is NumPy's layout: the same shape, dtype and
values.  Shapes and errors are NumPy's own, taken from the function run on
a zero-strided stand-in (nothing allocated)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .array import Array
from .creation import zeros
from .functions import implements

__all__ = []


@implements(sliding_window_view)
def _sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    if not isinstance(x, Array):
        return NotImplemented
    if writeable:
        raise ValueError("sliding_window_view: chunkwise arrays are read-only; "
                         "writeable=True is not possible")
    stand_in = np.broadcast_to(np.empty((), x.dtype), x.shape)
    expected = sliding_window_view(stand_in, window_shape, axis=axis).shape
    windows = (tuple(window_shape) if np.iterable(window_shape)
               else (int(window_shape),))
    if axis is None:
        axes = tuple(range(x.ndim))
    else:
        axes = tuple(axis) if np.iterable(axis) else (axis,)
    if 0 in expected:
        return zeros(expected, dtype=x.dtype)   # no elements (a window of 0)
    out = x
    for ax, w in zip(axes, windows):
        ax = ax % x.ndim
        keep = out.shape[ax] - int(w) + 1   # NumPy checked w against the extent
        index = [slice(None)] * out.ndim
        parts = []
        for i in range(int(w)):
            index[ax] = slice(i, i + keep)
            parts.append(out[tuple(index)])
        out = np.stack(parts, axis=-1)
    assert out.shape == expected
    return out
