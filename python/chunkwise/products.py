"""Matrix products: ``numpy.matmul`` (the ``@`` operator, ``np.dot`` of 1-d
and 2-d operands, and what einsum, tensordot, cov and the decompositions
build on) as the engine's product source.

A product's work is split by its result's tiles.  A result of few tiles
over a long shared dimension (a Gram matrix ``x.T @ x`` of a tall array,
cov's) would leave all but one thread idle, so it is computed as partial
products over slices of the shared dimension, one task each, and their sum
(a reduction) is the product.
"""
from __future__ import annotations

import math

import numpy as np

from ._coerce import Fallback, Unsupported, cast, node_of
from ._compile import chunks_of
from ._dtypes import SUPPORTED
from ._nodes import MatMul, Op, leaf
from ._rewrite import index_node
from .config import current
from .functions import implements
from .reductions import reduce
from .ufuncs import apply_ufunc

__all__ = ["matmul"]

# Partials are worth a reduction when the shared dimension is this long.
_MIN_SHARED = 8192
# At most this many partial products.
_MAX_PARTIALS = 1024


def matmul(a, b):
    """A lazy numpy.matmul: 1-d operands as NumPy's (a row, a column, the
    extra axis dropped afterwards), stacks of matrices with their batch axes
    broadcast.  The product is a source whose regions are computed batch
    element by batch element, block by block along the shared dimension, so
    memory stays at a few blocks per thread."""
    a, b = node_of(a), node_of(b)
    na, nb = len(a.shape), len(b.shape)
    # NumPy's dtype and its errors on stand-ins of one element per axis; the
    # shared dimension's extents are kept where they differ (NumPy's error
    # names them).  A product of long stand-ins would wake BLAS's threads,
    # which then spin beside the engine's.
    sa, sb = a.shape, b.shape                 # 0-d: NumPy's error
    if na and nb:
        ka, kb = a.shape[-1], b.shape[0 if nb == 1 else -2]
        ka, kb = (1, 1) if ka == kb else (ka, kb)
        sa = (1,) * (na - 1) + (ka,)
        sb = (kb,) if nb == 1 else (1,) * (nb - 2) + (kb, 1)
    dt = np.matmul(np.zeros(sa, a.dtype), np.zeros(sb, b.dtype)).dtype
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    if dt not in SUPPORTED:
        raise Unsupported(f"matmul to {dt}")
    if len(batch) + 2 > 32:
        raise Unsupported("matmul of more than 32 axes")
    a2 = index_node(a, (None, slice(None))) if na == 1 else a
    b2 = index_node(b, (slice(None), None)) if nb == 1 else b
    nd = len(batch) + 2
    if len(a2.shape) < nd:
        a2 = index_node(a2, (None,) * (nd - len(a2.shape)) + (Ellipsis,))
    if len(b2.shape) < nd:
        b2 = index_node(b2, (None,) * (nd - len(b2.shape)) + (Ellipsis,))
    if dt.kind == "c":
        r = _complex_matmul(cast(a2, dt), cast(b2, dt))
    else:
        r = _product(cast(a2, dt), cast(b2, dt))
    return index_node(r, (Ellipsis, 0 if na == 1 else slice(None),
                          0 if nb == 1 else slice(None)))


def _product(a, b):
    """The engine's product of two nodes of one real dtype and rank, as
    partial products summed where _slice says so."""
    s = _slice(a, b)
    if s == 0:
        return leaf(MatMul(a, b))
    # The partials' sum in the product's dtype: integers wrap as the
    # product does, and for bool, add is or.
    return reduce(np.add, leaf(MatMul(a, b, s)), axis=0, dtype=a.dtype)


def _slice(a, b) -> int:
    """The shared dimension's extent per partial product (a multiple of its
    block), or 0 for the plain product: partials when the result has fewer
    tiles than twice the threads (at least 8 assumed: the threads of the
    run may be more than now) and the shared dimension spans more than one
    block.  float16 is left whole: each partial would round its float32
    sum."""
    dt = a.dtype
    k = a.shape[-1]
    if dt == np.float16 or k < _MIN_SHARED or len(a.shape) >= 32:
        return 0
    out = tuple(max(x, y) if min(x, y) != 0 else 0
                for x, y in zip(a.shape[:-2], b.shape[:-2])) + (a.shape[-2], b.shape[-1])
    size = math.prod(out)
    cfg = current()
    if size == 0 or size * dt.itemsize > cfg.memory_limit // 16:
        return 0
    ca, cb = chunks_of(a), chunks_of(b)
    oc = tuple(cb[d] if a.shape[d] == 1 else ca[d] for d in range(len(out) - 2)) + \
        (ca[-2], cb[-1])
    tiles = math.prod(-(-n // max(c, 1)) for n, c in zip(out, oc))
    if tiles >= 2 * max(cfg.threads, 8):
        return 0
    tk = max(ca[-1], 1)
    blocks = -(-k // tk)
    if blocks < 2:
        # One block spans the shared dimension: slices of their own.
        return max(_MIN_SHARED // 2, -(-k // (4 * max(cfg.threads, 2))))
    return tk * -(-blocks // _MAX_PARTIALS)


def _complex_matmul(a, b):
    """(ar + i ai)(br + i bi) as four real products: ar br - ai bi and
    ar bi + ai br, each the engine's bounded-memory matrix product (it has
    real kernels only), joined as re + 1j * im (exact for finite values)."""
    pt = np.dtype(a.dtype.type(0).real.dtype)

    def part(name, x):
        return Op(None, name, (x.dtype,), (x,), tuple(x.shape), pt)

    ar, ai, br, bi = part("real", a), part("imag", a), part("real", b), part("imag", b)
    re = apply_ufunc(np.subtract, (_product(ar, br), _product(ai, bi)))
    im = apply_ufunc(np.add, (_product(ar, bi), _product(ai, br)))
    return apply_ufunc(np.add, (re, apply_ufunc(np.multiply, (im, a.dtype.type(1j)))))


@implements(np.dot)
def _dot(a, b, out=None):
    if out is None and np.ndim(a) in (1, 2) and np.ndim(b) in (1, 2):
        try:
            return matmul(a, b)
        except Unsupported:
            pass
    return Fallback("numpy.dot", np.dot, (a, b), dict(out=out))
