"""Basic indexing on lazy arrays: ints, slices (any step), Ellipsis, None.

A view of a source is described per *source* dimension by (start, step,
count), plus ``axes``: for each axis of the view, the source dimension it
shows, or -1 for an axis inserted by ``None``.  Source dimensions that no
axis shows were indexed by an int and have count 1.  Indexing a view
composes into a new view; nothing is read.
"""
from __future__ import annotations

import operator

import numpy as np

__all__ = ["View", "index_view"]


class View:
    __slots__ = ("start", "step", "count", "axes", "shape")

    def __init__(self, start, step, count, axes, shape):
        self.start = tuple(start)
        self.step = tuple(step)
        self.count = tuple(count)
        self.axes = tuple(axes)
        self.shape = tuple(shape)

    def __reduce__(self):
        # Plain data: pickled (any protocol) and copied by its fields.
        return (View, (self.start, self.step, self.count, self.axes, self.shape))

    @classmethod
    def whole(cls, shape):
        n = len(shape)
        return cls((0,) * n, (1,) * n, shape, range(n), shape)

    def is_whole(self, src_shape) -> bool:
        return (self.axes == tuple(range(len(src_shape)))
                and self.shape == tuple(src_shape)
                and all(s == 1 for s in self.step))

    def axis_of_source(self):
        """For each source dimension, the view axis showing it or -1."""
        m = [-1] * len(self.start)
        for k, sd in enumerate(self.axes):
            if sd >= 0:
                m[sd] = k
        return m


def _expand(key, ndim):
    if not isinstance(key, tuple):
        key = (key,)
    n_ell = sum(1 for k in key if k is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional, "
            f"but {n_real} were indexed")
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (ndim - n_real))
        else:
            out.append(k)
    if not n_ell:
        out.extend([slice(None)] * (ndim - n_real))
    return out


def _not_basic(item) -> bool:
    """Whether ``item`` (not a slice or None) is no integer index: a bool, a
    sequence, an array other than a 0-d integer one (ndarray or lazy), or
    anything without ``__index__``.  All of these get the same IndexError."""
    if isinstance(item, (bool, np.bool_)) or not hasattr(item, "__index__"):
        return True
    dtype = getattr(item, "dtype", None)
    return getattr(item, "ndim", 0) != 0 or (dtype is not None and dtype.kind == "b")


def index_view(view: View, key) -> View:
    start, step, count = list(view.start), list(view.step), list(view.count)
    axes, shape = [], []
    k = 0  # current axis of the input view
    for item in _expand(key, len(view.shape)):
        if item is None:
            axes.append(-1)
            shape.append(1)
            continue
        sd, n = view.axes[k], view.shape[k]
        if isinstance(item, slice):
            a, b, c = item.indices(n)
            m = len(range(a, b, c))
            if sd >= 0:
                if m > 0:
                    start[sd] += a * step[sd]
                step[sd] *= c
                count[sd] = m
            axes.append(sd)
            shape.append(m)
        else:
            if _not_basic(item):
                raise IndexError(
                    "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis "
                    "(`None`) and integer or boolean arrays are valid indices")
            i = operator.index(item)
            if not -n <= i < n:
                raise IndexError(
                    f"index {i} is out of bounds for axis {k} with size {n}")
            if i < 0:
                i += n
            if sd >= 0:
                start[sd] += i * step[sd]
                count[sd] = 1
        k += 1
    return View(start, step, count, axes, shape)
