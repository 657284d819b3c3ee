"""numpy.linalg's functions that are other NumPy functions under the Array
API's names (``matmul``, ``tensordot``, ``vecdot``, ``outer``, ``trace``,
``diagonal``, ``matrix_transpose``), and ``multi_dot``: lazy wherever the
function they name is.

The first six are NumPy's own code run on the Arrays: each body calls
``numpy.matmul``, ``numpy.tensordot``, ... which dispatch to chunkwise, so
shapes, dtypes and errors are NumPy's.  ``outer`` checks NumPy's 1-d rule
first (its body would convert the operands to ndarrays).  ``multi_dot``
multiplies in the order NumPy chooses (the cheapest by the matrix-chain
rule), each product lazy.
"""
from __future__ import annotations

import numpy as np

from .functions import implements

__all__ = []

for _f in (np.linalg.matmul, np.linalg.tensordot, np.linalg.vecdot, np.linalg.trace,
           np.linalg.diagonal, np.linalg.matrix_transpose):
    implements(_f)(_f._implementation)


@implements(np.linalg.outer)
def _outer(x1, x2, /):
    if np.ndim(x1) != 1 or np.ndim(x2) != 1:
        raise ValueError("Input arrays must be one-dimensional, but they are "
                         f"x1.ndim={np.ndim(x1)} and x2.ndim={np.ndim(x2)}.")
    return np.outer(x1, x2)


def _chain_order(shapes):
    """The split of each sub-chain in the cheapest order of a matrix chain
    (the classic dynamic programme; NumPy's multi_dot uses the same rule)."""
    n = len(shapes)
    p = [shapes[0][0]] + [s[1] for s in shapes]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _product(arrays, split, i, j):
    if i == j:
        return arrays[i]
    k = split[i][j]
    return np.dot(_product(arrays, split, i, k), _product(arrays, split, k + 1, j))


@implements(np.linalg.multi_dot)
def _multi_dot(arrays, *, out=None):
    arrays = list(arrays)
    n = len(arrays)
    if n < 2:
        raise ValueError("Expecting at least two arrays.")
    first, last = np.ndim(arrays[0]), np.ndim(arrays[-1])
    if n == 2:
        result = np.dot(arrays[0], arrays[1])
    else:
        if first == 1:
            arrays[0] = np.reshape(arrays[0], (1, -1))
        if last == 1:
            arrays[-1] = np.reshape(arrays[-1], (-1, 1))
        for a in arrays:
            if np.ndim(a) != 2:
                raise np.linalg.LinAlgError(
                    f"{np.ndim(a)}-dimensional array given. Array must be two-dimensional")
        result = _product(arrays, _chain_order([np.shape(a) for a in arrays]), 0, n - 1)
        if first == 1 and last == 1:
            result = result[0, 0]
        elif first == 1 or last == 1:
            result = np.ravel(result)
    if out is not None:
        out[...] = np.asarray(result)
        return out
    return result
