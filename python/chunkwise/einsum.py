"""Contractions and products on lazy arrays: ``numpy.einsum``,
``tensordot``, ``inner``, ``outer``, ``vdot`` and ``kron`` (an outer
product with interleaved axes, reshaped).

An einsum is planned as views and one contraction.  Each operand's
repeated subscripts become diagonals (``ii->i``), its axes are transposed
into one common label order and broadcast against the others; the
contraction is then either the engine's bounded-memory matrix product
(two 2-d operands contracted over one shared label, with each other label
on one operand only: ``ij,jk->ik``, ``ij,kj``, ``ji,jk->ki``) or an
elementwise product summed over the contracted labels (a lazy reduction
that streams).  Both stay within ``memory_limit`` whatever the operands'
size.  ``optimize=`` is accepted and has no effect: there is one plan.

The result's dtype, and the casting errors, are NumPy's (asked of
``numpy.einsum`` on one-element stand-ins).  Integer and bool results are
NumPy's exactly; floating results differ from NumPy's by rounding only,
since the sums run in another order (blocks, then a fixed combine).
"""
from __future__ import annotations

import numpy as np
from numpy._core.einsumfunc import _parse_einsum_input
from numpy.lib.array_utils import normalize_axis_index

from ._coerce import Fallback, lazy_node
from .array import Array
from .creation import asarray
from .functions import implements

__all__ = ["einsum"]


def _stand_in(x):
    """x's shape and dtype, one element in memory."""
    n = lazy_node(x)
    if n is None:
        x = np.asarray(x)
        return np.broadcast_to(np.zeros((), x.dtype), x.shape)
    return np.broadcast_to(np.zeros((), n.dtype), n.shape)


def _diagonals(x, labels):
    """x with each repeated label taken once (the diagonal), labels updated."""
    while True:
        seen = {}
        for k, c in enumerate(labels):
            if c in seen:
                j = seen[c]
                if x.shape[j] != x.shape[k]:
                    raise ValueError(
                        f"dimensions in operand for collapsing index '{c}' don't "
                        f"match ({x.shape[j]} != {x.shape[k]})")
                x = np.diagonal(x, 0, j, k)      # the diagonal becomes the last axis
                labels = [lab for i, lab in enumerate(labels) if i not in (j, k)] + [c]
                break
            seen[c] = k
        else:
            return x, labels


def _as_matmul(inputs, output, xs):
    """The matrix product that computes a two-operand einsum, or None."""
    if len(xs) != 2 or any(x.ndim != 2 for x in xs):
        return None
    la, lb = inputs
    shared = set(la) & set(lb)
    if len(shared) != 1 or len(set(la)) != 2 or len(set(lb)) != 2:
        return None
    (k,) = shared
    if k in output:
        return None
    i = la.replace(k, "")
    j = lb.replace(k, "")
    if i == j or sorted(output) != sorted(i + j):
        return None
    a = xs[0] if la == i + k else xs[0].T
    b = xs[1] if lb == k + j else xs[1].T
    r = np.matmul(a, b)
    return r if output == i + j else r.T


def einsum(*operands, out=None, dtype=None, order="K", casting="safe", optimize=False):
    if not operands:
        raise ValueError("No input operands")
    if isinstance(operands[0], str):
        arrays = list(operands[1:])
        stand = [operands[0]] + [_stand_in(a) for a in arrays]
    else:
        arrays = list(operands[0::2]) if len(operands) % 2 == 0 else list(operands[0:-1:2])
        stand = [(_stand_in(o) if k % 2 == 0 and (len(operands) % 2 == 0
                                                  or k < len(operands) - 1) else o)
                 for k, o in enumerate(operands)]
    subs_in, subs_out, shaped = _parse_einsum_input(stand)
    inputs = subs_in.split(",")
    # NumPy's result dtype and casting errors, on one element per operand.
    ones = [np.zeros((1,) * s.ndim, s.dtype) for s in shaped]
    probe = np.einsum(f"{subs_in}->{subs_out}", *ones, dtype=dtype, casting=casting)
    rdt = probe.dtype
    if out is not None:
        return Fallback("numpy.einsum", np.einsum, operands,
                        dict(out=out, dtype=dtype, order=order, casting=casting,
                             optimize=optimize))
    xs, labs = [], []
    sizes = {}
    for x, lab in zip(arrays, inputs):
        x = x if isinstance(x, Array) else asarray(np.asarray(x))
        if len(lab) != x.ndim:
            raise ValueError("einstein sum subscripts string contains too many "
                             "subscripts for operand")
        x, lab = _diagonals(x, list(lab))
        for c, n in zip(lab, x.shape):
            have = sizes.get(c, 1)
            if n != 1 and have not in (1, n):
                raise ValueError(
                    f"operands could not be broadcast together with remapped "
                    f"shapes: label '{c}' has extents {have} and {n}")
            sizes[c] = max(have, n)
        xs.append(x.astype(rdt) if x.dtype != rdt else x)
        labs.append("".join(lab))
    # The engine's matrix product: integer, bool and real kernels, complex as
    # four real products (functions.matmul).
    mm = _as_matmul(labs, subs_out, xs) if rdt.kind in "iufc" else None
    if mm is not None:
        return mm
    contracted = sorted({c for lab in labs for c in lab} - set(subs_out))
    order_ = list(subs_out) + contracted
    prod = None
    for x, lab in zip(xs, labs):
        present = [c for c in order_ if c in lab]
        if present != list(lab):
            x = np.transpose(x, [lab.index(c) for c in present])
        key = tuple(slice(None) if c in lab else None for c in order_)
        x = x[key]
        if prod is None:
            prod = x
        elif rdt.kind == "b":
            prod = np.logical_and(prod, x)
        else:
            prod = np.multiply(prod, x)
    full = tuple(sizes[c] for c in order_)
    if prod.shape != full:
        prod = np.broadcast_to(prod, full)
    if contracted:
        axes = tuple(range(len(subs_out), len(order_)))
        prod = np.any(prod, axis=axes) if rdt.kind == "b" else np.sum(prod, axis=axes,
                                                                       dtype=rdt)
    return prod.astype(rdt) if prod.dtype != rdt else prod


implements(np.einsum)(einsum)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@implements(np.tensordot)
def _tensordot(a, b, axes=2):
    sa, sb = _stand_in(a), _stand_in(b)
    try:
        iter(axes)
    except TypeError:
        n = int(axes)
        if n < 0 or n > min(sa.ndim, sb.ndim):
            # NumPy's own error, on one-element stand-ins.
            np.tensordot(np.zeros((1,) * sa.ndim), np.zeros((1,) * sb.ndim), axes)
        xa = list(range(sa.ndim - n, sa.ndim))
        xb = list(range(n))
    else:
        xa, xb = axes
        xa = list(xa) if isinstance(xa, (list, tuple)) else [xa]
        xb = list(xb) if isinstance(xb, (list, tuple)) else [xb]
    if len(xa) != len(xb):
        raise ValueError("shape-mismatch for sum")
    xa = [int(normalize_axis_index(int(k), sa.ndim)) for k in xa]
    xb = [int(normalize_axis_index(int(k), sb.ndim)) for k in xb]
    for i, j in zip(xa, xb):
        if sa.shape[i] != sb.shape[j]:
            raise ValueError("shape-mismatch for sum")
    if sa.ndim + sb.ndim - len(xa) > len(_LETTERS):
        return Fallback("numpy.tensordot", np.tensordot, (a, b), dict(axes=axes))
    la = list(_LETTERS[:sa.ndim])
    lb = list(_LETTERS[sa.ndim:sa.ndim + sb.ndim])
    for i, j in zip(xa, xb):
        lb[j] = la[i]
    out = [c for k, c in enumerate(la) if k not in xa] + \
          [c for k, c in enumerate(lb) if k not in xb]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


@implements(np.inner)
def _inner(a, b, /):
    sa, sb = _stand_in(a), _stand_in(b)
    if sa.ndim == 0 or sb.ndim == 0:
        return np.multiply(a, b)
    if sa.shape[-1] != sb.shape[-1]:
        # NumPy's error, on one-row stand-ins.
        np.inner(np.zeros(sa.shape[-1:]), np.zeros(sb.shape[-1:]))
    return _tensordot(a, b, ([-1], [-1]))


@implements(np.outer)
def _outer(a, b, out=None):
    if out is not None:
        return Fallback("numpy.outer", np.outer, (a, b), dict(out=out))
    a = a if isinstance(a, Array) else asarray(np.asarray(a))
    b = b if isinstance(b, Array) else asarray(np.asarray(b))
    return np.multiply(a.ravel()[:, None], b.ravel()[None, :])


@implements(np.vdot)
def _vdot(a, b, /):
    a = a if isinstance(a, Array) else asarray(np.asarray(a))
    b = b if isinstance(b, Array) else asarray(np.asarray(b))
    if a.size != b.size:
        raise ValueError("vectors have different lengths")
    if a.dtype.kind == "c":
        a = np.conjugate(a)
    dt = np.result_type(a.dtype, b.dtype)
    return einsum("i,i", a.ravel(), b.ravel(), dtype=dt, casting="unsafe")


def _conj(x):
    x = x if isinstance(x, Array) else asarray(np.asarray(x))
    return np.conjugate(x) if x.dtype.kind == "c" else x


if hasattr(np, "vecdot"):  # NumPy >= 2.2 gufuncs, through __array_ufunc__
    @implements(np.vecdot)
    def _vecdot(x1, x2, /):
        return einsum("...i,...i->...", _conj(x1), x2)

    @implements(np.matvec)
    def _matvec(x1, x2, /):
        return einsum("...ij,...j->...i", x1, x2)

    @implements(np.vecmat)
    def _vecmat(x1, x2, /):
        return einsum("...i,...ij->...j", _conj(x1), x2)


@implements(np.kron)
def _kron(a, b):
    """As NumPy computes it: the outer product with the axes of a and b
    interleaved (both padded to one rank), reshaped; lazy (the reshape
    merges each pair of axes)."""
    a = a if isinstance(a, Array) else asarray(np.asarray(a))
    b = b if isinstance(b, Array) else asarray(np.asarray(b))
    nda, ndb = a.ndim, b.ndim
    if nda == 0 or ndb == 0:
        return np.multiply(a, b)
    nd = max(nda, ndb)
    a = a.reshape((1,) * (nd - nda) + a.shape) if nda < nd else a
    b = b.reshape((1,) * (nd - ndb) + b.shape) if ndb < nd else b
    shape = tuple(x * y for x, y in zip(a.shape, b.shape))
    ka = tuple(slice(None) if k % 2 == 0 else None for k in range(2 * nd))
    kb = tuple(None if k % 2 == 0 else slice(None) for k in range(2 * nd))
    return np.reshape(np.multiply(a[ka], b[kb]), shape)
