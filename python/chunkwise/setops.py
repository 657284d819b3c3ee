"""Set operations of 1-d arrays: numpy.intersect1d, union1d, setdiff1d and
setxor1d.

Their results' sizes depend on the data, so, as ``unique``, they compute
when called and return NumPy's ndarrays.  Each follows NumPy's own
definition: the unique values of each input are found by chunkwise's
``unique`` (one pass per input, within ``memory_limit``), and NumPy's
function runs on those, which are at most as large as the inputs and
usually far smaller.  Where NumPy works on an input as it is
(``assume_unique=True``) the input is computed whole, within
``memory_limit`` (``cw.MemoryBudgetError`` beyond it).
"""
from __future__ import annotations

import numpy as np

from ._coerce import lazy_node
from ._core import MemoryBudgetError
from ._execute import materialise
from .array import wrap
from .config import get_config
from .functions import implements

__all__ = []


def _whole(x, what):
    """``x`` raveled as an ndarray: an Array computed within memory_limit."""
    node = lazy_node(x)
    if node is None:
        return np.ravel(x)
    a = wrap(node)
    limit = get_config()["memory_limit"]
    if a.nbytes > limit:
        raise MemoryBudgetError(
            f"{what} with assume_unique=True works on the whole input: "
            f"{a.nbytes / 2**20:.1f} MiB is more than memory_limit ({limit / 2**20:.1f} MiB)")
    return np.ravel(materialise(node))


def _unique(x, **kwargs):
    """np.unique of ``x``: chunkwise's for an Array, NumPy's otherwise."""
    return np.unique(x if lazy_node(x) is not None else np.asanyarray(x), **kwargs)


@implements(np.union1d)
def _union1d(ar1, ar2):
    return np.union1d(_unique(ar1), _unique(ar2))


@implements(np.intersect1d)
def _intersect1d(ar1, ar2, assume_unique=False, return_indices=False):
    if assume_unique:
        return np.intersect1d(_whole(ar1, "intersect1d"), _whole(ar2, "intersect1d"),
                              assume_unique=True, return_indices=return_indices)
    if not return_indices:
        return np.intersect1d(_unique(ar1), _unique(ar2), assume_unique=True)
    # NumPy's indices are those of the first occurrences (unique's
    # return_index), taken through the intersection of the unique values.
    u1, first1 = _unique(ar1, return_index=True)
    u2, first2 = _unique(ar2, return_index=True)
    both, i1, i2 = np.intersect1d(u1, u2, assume_unique=True, return_indices=True)
    return both, first1[i1], first2[i2]


@implements(np.setdiff1d)
def _setdiff1d(ar1, ar2, assume_unique=False):
    first = _whole(ar1, "setdiff1d") if assume_unique else _unique(ar1)
    return np.setdiff1d(first, _unique(ar2), assume_unique=True)


@implements(np.setxor1d)
def _setxor1d(ar1, ar2, assume_unique=False):
    if assume_unique:
        return np.setxor1d(_whole(ar1, "setxor1d"), _whole(ar2, "setxor1d"),
                           assume_unique=True)
    return np.setxor1d(_unique(ar1), _unique(ar2), assume_unique=True)
