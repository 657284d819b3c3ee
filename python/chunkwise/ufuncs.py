"""NumPy ufuncs on lazy operands: the builder behind ``Array.__array_ufunc__``.

A ufunc call builds an ``Op`` node (and nothing else: no Array, no run):
the output dtype and the inner loop come from NumPy itself
(``ufunc.resolve_dtypes``, with Python scalars weak as in NumPy 2), so
results match NumPy's promotion for the NumPy installed.  At run time the C engine calls that very inner loop, block by block.
"""
from __future__ import annotations

import numpy as np

from ._coerce import Unsupported, array_leaf, lazy_node
from ._nodes import Const, Full, Op, leaf

__all__ = ["apply_ufunc", "loop_index"]

# Python int, float and complex are "weak" (NEP 50): the array operand's dtype wins.
# Python bool is not: NumPy treats it as numpy.bool_.
_PY_SCALARS = (bool, int, float, complex)
_WEAK = (int, float, complex)


def loop_index(ufunc, in_dtypes, out_dtype):
    cache = _LOOPS.setdefault(ufunc, {})
    key = (tuple(in_dtypes), out_dtype)
    if key not in cache:
        found = None
        for i, sig in enumerate(ufunc.types):
            ins, outs = sig.split("->")
            if len(outs) != 1 or any(c in "OMmgGSUV" for c in ins + outs):
                continue
            if (all(np.dtype(c) == d for c, d in zip(ins, in_dtypes))
                    and np.dtype(outs) == out_dtype):
                found = i
                break
        cache[key] = found
    if cache[key] is None:
        raise Unsupported(f"no inner loop of {ufunc.__name__} for {key}")
    return cache[key]


_LOOPS: dict = {}

_COMPARISONS = frozenset([np.less, np.less_equal, np.greater, np.greater_equal,
                          np.equal, np.not_equal])


def _fits(value, dtypes, i):
    """Whether Python int `value` converts to the dtype of the other
    (array) operands without overflow."""
    for j, d in enumerate(dtypes):
        if j != i and isinstance(d, np.dtype) and d.kind in "iu":
            info = np.iinfo(d)
            if not info.min <= value <= info.max:
                return False
    return True


def apply_ufunc(ufunc, operands):
    """An Op node for ``ufunc(*operands)`` (lazy arrays, nodes, ndarrays,
    scalars; ndarrays are wrapped without copying).  Raises Unsupported
    when NumPy must do it."""
    if ufunc.signature is not None:
        raise Unsupported(f"{ufunc.__name__} is a generalized ufunc "
                          f"({ufunc.signature}), not elementwise")
    if ufunc.nout != 1 or ufunc.nin > 3:
        raise Unsupported(f"{ufunc.__name__} has {ufunc.nout} outputs")
    operands = [lazy_node(x) or x for x in operands]
    dtypes = []
    for x in operands:
        if lazy_node(x) is not None:
            dtypes.append(x.dtype)
        elif type(x) in _WEAK:
            dtypes.append(type(x))
        elif type(x) is bool:
            dtypes.append(np.dtype(bool))
        else:
            a = np.asarray(x)
            if a.dtype.kind not in "biufc":
                raise Unsupported(f"operand of dtype {a.dtype}")
            dtypes.append(a.dtype)
    if ufunc in _COMPARISONS:
        # NumPy 2 compares with a Python int outside the array's range
        # exactly; do the same by comparing in 64-bit integers.
        for i, x in enumerate(operands):
            if type(x) is int and not _fits(x, dtypes, i):
                if -2**63 <= x < 2**63:
                    dtypes[i] = np.dtype(np.int64)
                elif 0 <= x < 2**64:
                    dtypes[i] = np.dtype(np.uint64)
                else:
                    # Beyond every 64-bit integer: the answer is a constant.
                    return _constant_comparison(ufunc, operands, i)
    # NumPy's own resolution: raises NumPy's error for impossible types.
    resolved = ufunc.resolve_dtypes(tuple(dtypes) + (None,))
    in_dts, out_dt = tuple(resolved[:-1]), resolved[-1]
    if ufunc is np.power and out_dt.kind in "iu":
        # A constant negative exponent is NumPy's ValueError now (a negative
        # Python int for an unsigned loop is NumPy's OverflowError, raised
        # below when the constant is converted).
        e = operands[1]
        if isinstance(e, (int, np.integer)) or (isinstance(e, np.ndarray) and e.ndim == 0):
            if int(e) < 0 and (in_dts[1].kind == "i" or type(e) is not int):
                raise ValueError("Integers to negative integer powers are not allowed.")
    loop = loop_index(ufunc, in_dts, out_dt)
    if ufunc is np.power and out_dt.kind in "iu" and in_dts[0] == in_dts[1] == out_dt:
        # NumPy's integer power loop reports a negative exponent to Python
        # from inside the loop; the engine's own loop flags it instead and
        # the Python layer raises NumPy's ValueError after the run.
        loop = "power"

    nodes, shapes = [], []
    for x, dt in zip(operands, in_dts):
        if lazy_node(x) is not None:
            nodes.append(x)
            shapes.append(x.shape)
        elif type(x) in _PY_SCALARS:
            # As NumPy converts a weak scalar (OverflowError if it cannot).
            nodes.append(Const(np.asarray(x, dtype=dt)))
        else:
            a = np.asarray(x)
            if a.ndim == 0:
                nodes.append(Const(a.astype(dt)))
            else:
                nodes.append(array_leaf(a))
                shapes.append(a.shape)
    if any(len(s) > _MAXDIM for s in shapes):
        # (np.broadcast_shapes raises RuntimeError past 32 dimensions.)
        raise ValueError(f"{ufunc.__name__}: chunkwise computes on at most {_MAXDIM} "
                         f"dimensions, not {max(len(s) for s in shapes)} (views may have "
                         f"more; NumPy's limit is 64)")
    shape = np.broadcast_shapes(*shapes) if shapes else ()
    return Op(ufunc, loop, tuple(in_dts), tuple(nodes), tuple(shape), out_dt)


# The engine's CW_MAXDIM (include/chunkwise.h).
_MAXDIM = 32


def _constant_comparison(ufunc, operands, i):
    """``ufunc(arr, big)`` (or ``ufunc(big, arr)``) for an integer array and
    a Python int outside 64 bits: True or False everywhere."""
    big, other = operands[i], operands[1 - i]
    shape = other.shape if lazy_node(other) is not None else np.shape(other)
    # How `other` compares with `big`: always below it, or always above.
    below = big > 0
    if i == 0:  # big OP other: the mirrored comparison
        below = not below
    value = {np.less: below, np.less_equal: below, np.greater: not below,
             np.greater_equal: not below, np.equal: False, np.not_equal: True}[ufunc]
    raw = np.array(value).tobytes()
    return leaf(Full(tuple(shape), np.dtype(bool), raw))
