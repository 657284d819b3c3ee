"""Special functions NumPy writes in Python over ufuncs, run lazily by
running NumPy's own code on Arrays: ``numpy.i0``; and the selections
NumPy builds from conditions: ``diag``, ``select``, ``choose``,
``piecewise``.

NumPy evaluates i0 with ``piecewise`` (a Chebyshev series below 8, another
above); here both series run over the whole array, each on inputs that
stay in its range, and ``where`` picks per element, so every element is
computed by the same operations as NumPy's, in the same order.
"""
from __future__ import annotations

import numpy as np

from .array import Array
from .creation import arange, asarray, zeros
from ._coerce import Fallback
from ._nodes import Broadcast, Cast, Const, Full, Leaf, Memory, Op, Select, postorder
from ._nodes import children
from .functions import implements

try:  # NumPy 2: the series numpy.i0 evaluates
    from numpy.lib._function_base_impl import _i0_1, _i0_2
except ImportError:  # pragma: no cover - other NumPy layouts fall back
    _i0_1 = _i0_2 = None

__all__ = []


@implements(np.i0)
def _i0(x):
    if _i0_1 is None or not isinstance(x, Array):
        return Fallback("numpy.i0", np.i0, (x,), {})
    if x.dtype.kind == "c":
        raise TypeError("i0 not supported for complex values")
    if x.dtype.kind != "f":
        x = x.astype(float)
    x = np.abs(x)
    small = x <= 8.0
    # Each series on inputs inside its own range: no spurious warnings.
    low = _i0_1(np.where(small, x, 0))
    high = _i0_2(np.where(small, 9.0, x))
    # piecewise writes into an array of x's dtype.
    return np.where(small, low, high).astype(x.dtype)._node


# ------------------------------------------------ diag, select, choose

@implements(np.diag)
def _diag(v, k=0):
    if not isinstance(v, Array):
        return Fallback("numpy.diag", np.diag, (v,), dict(k=k))
    k = int(k)
    if v.ndim == 2:
        return np.diagonal(v, k)._node
    if v.ndim != 1:
        raise ValueError("Input must be 1- or 2-d.")
    # A square matrix with v on diagonal k: v (padded to the matrix's
    # size) broadcast along rows or columns, kept where column - row == k.
    n = v.shape[0] + abs(k)
    ext = np.concatenate([v, zeros(abs(k), v.dtype)]) if k else v
    rows, cols = arange(n)[:, None], arange(n)[None, :]
    vals = ext[:, None] if k >= 0 else ext[None, :]
    return np.where(cols - rows == k, vals, np.zeros((), v.dtype))._node


@implements(np.select)
def _select(condlist, choicelist, default=0):
    # NumPy's numpy.select: its checks, its dtype, the first true condition
    # wins (applied in reverse, each a lazy where).
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    # Python scalars stay weak for the result's dtype, as NumPy keeps them.
    choices = [c if isinstance(c, Array) or type(c) in (int, float, complex)
               else np.asarray(c) for c in list(choicelist) + [default]]
    try:
        dtype = np.result_type(*choices)
    except TypeError as e:
        raise TypeError(f"Choicelist and default value do not have a common dtype: {e}")
    for i, cond in enumerate(condlist):
        dt = cond.dtype if isinstance(cond, Array) else np.asarray(cond).dtype
        if dt != np.bool_:
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    shape = np.broadcast_shapes(*(np.shape(c) for c in list(condlist) + choices))
    last = choices[-1]
    result = np.broadcast_to(last.astype(dtype) if isinstance(last, Array)
                             else asarray(np.broadcast_to(np.asarray(last, dtype), shape)),
                             shape)
    for choice, cond in zip(choices[-2::-1], list(condlist)[::-1]):
        c = choice.astype(dtype) if isinstance(choice, Array) else np.asarray(choice, dtype)
        result = np.where(cond, c, result)
    return np.broadcast_to(result, shape)._node


@implements(np.choose)
def _choose(a, choices, out=None, mode="raise"):
    if out is not None or not isinstance(a, Array) or a.dtype.kind not in "biu":
        return Fallback("numpy.choose", np.choose, (a, choices), dict(out=out, mode=mode))
    n = len(choices)
    if mode == "raise":
        # NumPy checks every index; so does this (one pass over a).
        bad = ((a < 0) | (a >= n)).any().compute() if n else a.size > 0
        if bad:
            raise ValueError("invalid entry in choice array")
        idx = a
    elif mode == "wrap":
        idx = np.mod(a, n)
    elif mode == "clip":
        idx = np.clip(a, 0, n - 1)
    else:
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    conv = [c if isinstance(c, Array) or type(c) in (int, float, complex) else np.asarray(c)
            for c in choices]     # Python scalars stay weak, as NumPy keeps them
    dtype = np.result_type(*conv)
    shape = np.broadcast_shapes(a.shape, *(np.shape(c) for c in conv))
    result = None
    for k in range(n - 1, -1, -1):
        c = conv[k].astype(dtype) if isinstance(conv[k], Array) else np.asarray(conv[k], dtype)
        if result is None:
            result = np.broadcast_to(c if isinstance(c, Array)
                                     else asarray(np.broadcast_to(c, shape)), shape)
        else:
            result = np.where(idx == k, c, result)
    return np.broadcast_to(result, shape)._node


# ------------------------------------------------------------- piecewise

def _elementwise_of(r, x):
    """Whether lazy ``r`` is an elementwise function of ``x`` alone: ufuncs,
    casts and ``where`` over ``x`` and constants (no reduction, view,
    gather or other array), so that computing it on all of ``x`` and
    keeping the selected elements equals computing it on the selected
    elements."""
    root, xn = r._node, x._node
    for n in postorder([root], lambda n: () if n is xn else children(n)):
        if n is xn or isinstance(n, (Op, Select, Cast, Const, Broadcast)):
            continue
        if isinstance(n, Leaf) and (isinstance(n.spec, Full) or (
                isinstance(n.spec, Memory) and n.spec.array.size == 1)):
            continue
        return False
    return True


def _piece(value, dtype):
    """A non-callable piece as ``y[cond] = value`` converts it into the
    array's dtype (NumPy's own assignment: its casts and errors)."""
    v = np.asarray(value)
    if v.ndim:
        raise _NotLazy
    one = np.zeros(1, dtype)
    one[np.ones(1, bool)] = value
    return one[0]


class _NotLazy(Exception):
    """This piecewise call has no lazy form (it falls back to NumPy)."""


def _conditions(condlist, x, nfunc):
    """NumPy's condition list: a single condition promoted to a list of
    one (as numpy.piecewise does), each converted to bool."""
    one = isinstance(condlist, Array) and condlist.ndim <= 1 and x.ndim != 0
    if np.isscalar(condlist) or one or (
            not isinstance(condlist, Array) and not isinstance(
                condlist[0], (list, np.ndarray, Array)) and x.ndim != 0):
        condlist = [condlist]
    conds = [c.astype(bool) if isinstance(c, Array) else asarray(np.asarray(c, dtype=bool))
             for c in condlist]
    if len(conds) not in (nfunc, nfunc - 1):
        raise ValueError(f"with {len(conds)} condition(s), either {len(conds)} or "
                         f"{len(conds) + 1} functions are expected")
    for c in conds:
        if c.shape not in (x.shape, ()):
            if c.ndim != x.ndim:
                raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional,"
                                 f" but {c.ndim} were indexed" if c.ndim > x.ndim else
                                 "boolean index did not match indexed array")
            ax = next(k for k in range(x.ndim) if c.shape[k] != x.shape[k])
            raise IndexError(
                f"boolean index did not match indexed array along axis {ax}; size of axis "
                f"is {x.shape[ax]} but size of corresponding boolean axis is {c.shape[ax]}")
    return conds


@implements(np.piecewise)
def _piecewise(x, condlist, funclist, *args, **kw):
    """numpy.piecewise, lazily: the result has x's dtype and is 0 where no
    condition holds; a later condition overrides an earlier one, as NumPy's
    assignments in order do.  A scalar piece is converted as NumPy's
    assignment converts it; a callable piece is called once on the whole
    lazy ``x`` (NumPy calls it on ``x[cond]``), which gives the same values
    when it is elementwise: its result must be built from ufuncs, casts and
    ``where`` over ``x`` and constants.  Any other function (a reduction,
    a view, one that computes) falls back to NumPy's own piecewise."""
    fallback = Fallback("numpy.piecewise", np.piecewise, (x, condlist, funclist) + args, kw)
    x = x if isinstance(x, Array) else asarray(np.asarray(x))
    conds = _conditions(condlist, x, len(funclist))
    if len(conds) == len(funclist) - 1:     # "otherwise": where no condition holds
        hit = conds[0]
        for c in conds[1:]:
            hit = hit | c
        conds.append(~hit)
    y = np.zeros_like(x)
    try:
        for cond, func in zip(conds, funclist):
            if callable(func):
                try:
                    r = func(x, *args, **kw)
                except Exception:  # NumPy's own call says what is wrong
                    return fallback
                if isinstance(r, Array):
                    if r.shape not in (x.shape, ()) or not _elementwise_of(r, x):
                        return fallback
                    v = r.astype(x.dtype)
                else:
                    v = _piece(r, x.dtype)
            else:
                v = _piece(func, x.dtype)
            y = np.where(cond, v, y)
    except _NotLazy:
        return fallback
    return np.broadcast_to(y, x.shape)._node
