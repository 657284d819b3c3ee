"""Unique values: numpy.unique, unique_values, unique_counts,
unique_inverse and unique_all.

The number of unique values depends on the data, so these compute when
called and return NumPy's results (ndarrays, and NumPy's namedtuples), as
the histograms do.  The array is read in one pass into memory and NumPy's
own ``unique`` runs on it, so results are NumPy's exactly (values, first
indices, inverse, counts, ``equal_nan``, ``axis``); the array must fit
``memory_limit`` (twice: the values and NumPy's sorted copy), beyond that
``cw.MemoryBudgetError`` is raised.
"""
from __future__ import annotations

import numpy as np

from ._coerce import lazy_node
from ._core import MemoryBudgetError
from ._execute import materialise
from .array import wrap
from .config import get_config
from .functions import implements

__all__ = ["unique"]


def _values(x, what):
    node = lazy_node(x)
    if node is None:
        raise TypeError(f"{what} needs a chunkwise Array, not {type(x).__name__}")
    a = wrap(node)
    need = 2 * a.size * a.dtype.itemsize
    limit = get_config()["memory_limit"]
    if need > limit:
        raise MemoryBudgetError(
            f"{what}: finding the unique values of {a.nbytes / 2**20:.1f} MiB needs "
            f"{need / 2**20:.1f} MiB, more than memory_limit ({limit / 2**20:.1f} MiB)")
    return materialise(node)


@implements(np.unique)
def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
           *, equal_nan=True, sorted=True):
    """NumPy's unique of the computed array (returns ndarrays)."""
    return np.unique(_values(ar, "unique"), return_index=return_index,
                     return_inverse=return_inverse, return_counts=return_counts,
                     axis=axis, equal_nan=equal_nan, sorted=sorted)


@implements(np.unique_values)
def unique_values(x):
    return np.unique_values(_values(x, "unique_values"))


@implements(np.unique_counts)
def unique_counts(x):
    return np.unique_counts(_values(x, "unique_counts"))


@implements(np.unique_inverse)
def unique_inverse(x):
    return np.unique_inverse(_values(x, "unique_inverse"))


@implements(np.unique_all)
def unique_all(x):
    return np.unique_all(_values(x, "unique_all"))
