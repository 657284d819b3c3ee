"""Matrix decompositions and solvers: ``numpy.linalg.qr``, ``svd``,
``svdvals``, ``lstsq``, ``matrix_rank`` and ``cond`` of tall-and-skinny
arrays out of core; the other ``numpy.linalg`` functions in memory.

A tall 2-d real array (rows out of core, columns in memory) whose
condition number is at most _CHOL_COND is factored by CholeskyQR2: two
passes of the engine's parallel Gram matrix (x^T x, then Q1^T Q1 of
Q1 = x R1^-1) and two n x n Cholesky factorisations; Q is lazy, x times
small inverse factors.  Other tall arrays (complex, ill-conditioned,
rank-deficient) and lstsq's are factored by TSQR.  The array is cut into
blocks of whole rows (rechunked when its chunks split the columns or hold
fewer rows than columns), and NumPy's QR runs on each block inside the
engine's block mechanism (blocks.py): a first pass gives the blocks' R
factors, stacked (``nblocks * n`` by ``n``, small) and factored again in
NumPy, ``Rs = Q2 R``.  R is the array's R; its Q is lazy, ``Q_i @ Q2_i``
per block (Q_i recomputed from the block when Q is read), so a ``Q`` of
any length streams to ``to_hdf5`` or into a reduction within
``memory_limit``.  The SVD is the SVD of R, ``R = U_R S Vh``: the array's
U is ``Q @ U_R``, lazy the same way; a wide array is factored through its
conjugate transpose.  ``lstsq`` factors the array with the right-hand
sides appended as columns: the top right of that R is ``Q^H b`` and the
bottom right gives the residuals, so one pass over the data finds the
solution (NumPy's minimum-norm solution through the SVD of R, singular
values under ``rcond * max(s)`` dropped).

The factors agree with NumPy's to rounding, up to what is not unique: the
signs (phases, for complex) of Q's columns and R's rows, and of singular
vectors.  The passes giving R run when the function is called (R, the
singular values and lstsq's results are small and computed); Q and U stay
lazy.

Everything else (``solve``, ``inv``, ``det``, ``cholesky``, ``eigh``, a
``complete`` QR or ``full_matrices`` SVD of a tall array, which are m x m,
and so on) needs the whole matrix: it runs in NumPy on the materialised
inputs when they take at most half of ``memory_limit``, and raises
``MemoryBudgetError`` naming the shapes chunkwise factors out of core
beyond that.
"""
from __future__ import annotations

import numpy as np

from ._core import MemoryBudgetError
from ._execute import materialise
from .array import Array
from .blocks import map_blocks
from .config import current, size_text
from .creation import asarray
from .functions import implements
from .rechunk import rechunk

__all__ = []

_OUT_OF_CORE = ("out of core, chunkwise factors 2-d arrays with rows out of core and "
                "columns in memory: qr (mode 'reduced' or 'r'), svd (full_matrices=False), "
                "svdvals, lstsq, matrix_rank and cond")


def _wrap(r):
    """NumPy's results as chunked arrays over memory; named tuples keep
    their type, scalars stay NumPy's."""
    if isinstance(r, np.ndarray):
        return asarray(r)
    if isinstance(r, tuple) and hasattr(r, "_fields"):
        return type(r)(*(_wrap(v) for v in r))
    if isinstance(r, (tuple, list)):
        return type(r)(_wrap(v) for v in r)
    return r


def _arrays(values):
    return [v for v in values if isinstance(v, Array)]


def _in_memory(name, func, args, kwargs, extra=0):
    """``func(*args, **kwargs)`` in NumPy on the materialised inputs, when
    they (and ``extra`` bytes of result) take at most half of
    memory_limit."""
    limit = current().memory_limit
    arrays = _arrays(list(args) + list(kwargs.values()))
    need = sum(a.nbytes for a in arrays) + extra
    if need > limit // 2:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in arrays)
        raise MemoryBudgetError(
            f"{name} needs its whole input in memory ({shapes}: {size_text(need)} with the "
            f"result), more than half of memory_limit ({size_text(limit)}); {_OUT_OF_CORE}")
    args = [np.asarray(a) if isinstance(a, Array) else a for a in args]
    kwargs = {k: np.asarray(v) if isinstance(v, Array) else v for k, v in kwargs.items()}
    return _wrap(func(*args, **kwargs))


def _register_in_memory(func):
    name = f"numpy.linalg.{func.__name__}"

    @implements(func)
    def impl(*args, **kwargs):
        return _in_memory(name, func, args, kwargs)
    return impl


for _name in ("solve", "inv", "det", "slogdet", "cholesky", "eig", "eigh", "eigvals",
              "eigvalsh", "pinv", "matrix_power", "tensorinv", "tensorsolve"):
    if hasattr(np.linalg, _name):
        _register_in_memory(getattr(np.linalg, _name))


# ------------------------------------------------------------------ TSQR

def _work_dtype(a):
    """The dtype NumPy's linalg computes ``a`` in (its errors too: float16
    raises TypeError), asked of NumPy on one element."""
    return np.linalg.qr(np.ones((1, 1), a.dtype), mode="r").dtype


def _row_blocks(x, n, name):
    """x (m x n, m >= n) in blocks of whole rows, each of at least n rows
    and of at most a sixteenth of memory_limit (NumPy's QR of a block
    allocates a few copies of it, outside the engine's count)."""
    m, isz = x.shape[0], x.dtype.itemsize
    limit = current().memory_limit
    cap = limit // (16 * n * isz)
    if cap < n:
        raise MemoryBudgetError(
            f"{name} of a {x.shape} {x.dtype} array: blocks of {n} whole rows take "
            f"{size_text(n * n * isz)}, more than a sixteenth of memory_limit "
            f"({size_text(limit)}); the columns must fit in memory many times over")
    have = x.chunks[0]
    c = max(n, min(have[0], cap))
    c = min(c, m)
    while m % c and m % c < n:       # the last block holds n rows too
        c += 1
    nb = -(-m // c)
    if nb * n * n * isz > limit // 4:
        raise MemoryBudgetError(
            f"{name} of a {x.shape} {x.dtype} array: the stacked R factors of its "
            f"{nb} row blocks take {size_text(nb * n * n * isz)}, more than a quarter of "
            f"memory_limit ({size_text(limit)}); raise memory_limit")
    if have[0] != c or len(x.chunks[1]) > 1:     # chunks are regular: the rest follow
        x = rechunk(x, {0: c, 1: -1})
    return x, nb


def _block_r(b, n):
    return np.linalg.qr(b, mode="r")


def _block_q(b, small, n, block_id=None):
    """Block i of Q @ small: the block's own Q times rows i*n.. of small."""
    i = block_id[0]
    return np.linalg.qr(b)[0] @ small[i * n:(i + 1) * n]


def _tsqr(a, name):
    """(x in row blocks, Q2, R) of a tall 2-d Array: R computed, Q lazy
    through _q."""
    dt = _work_dtype(a)
    m, n = a.shape
    x = a.astype(dt) if a.dtype != dt else a
    x, nb = _row_blocks(x, n, name)
    rs = map_blocks(_block_r, x, n=n, dtype=dt, chunks=((n,) * nb, (n,)))
    q2, r = np.linalg.qr(materialise(rs._node))
    return x, q2, r


def _q(x, q2, small, n):
    """The lazy Q @ small of _tsqr (small: n x k)."""
    s = q2 @ small
    return map_blocks(_block_q, x, small=s, n=n, dtype=s.dtype,
                      chunks=(x.chunks[0], (s.shape[1],)))


def _tall(a):
    return isinstance(a, Array) and a.ndim == 2 and a.shape[0] >= a.shape[1] > 0


@implements(np.linalg.qr)
def _qr(a, mode="reduced"):
    name = "numpy.linalg.qr"
    if mode not in ("reduced", "r", "complete", "raw"):
        np.linalg.qr(np.ones((1, 1)), mode=mode)          # NumPy's error
    if not _tall(a) or mode == "raw":
        return _in_memory(name, np.linalg.qr, (a,), dict(mode=mode))
    m, n = a.shape
    if mode == "complete":
        isz = _work_dtype(a).itemsize
        return _in_memory(name, np.linalg.qr, (a,), dict(mode=mode),
                          extra=m * m * isz + m * n * isz)
    r, q = _factor(a, name)
    if mode == "r":
        return asarray(r)
    return type(np.linalg.qr(np.eye(1)))(q(np.eye(n, dtype=r.dtype)), asarray(r))


# ------------------------------------------------------------ CholeskyQR2

# CholeskyQR2 is used up to this condition number (estimated from the
# first R); Householder TSQR above it.  Its Q is orthonormal to rounding
# for condition numbers up to about 1e8 in float64.
_CHOL_COND = 1e5
# Up to this one, Q is x @ (W1 @ W2) in one product, orthonormal to within
# about cond * eps; above, Q1 @ W2 (nested products, as CholeskyQR2 has it).
_ONE_PRODUCT_COND = 1e3


def _gram_r(x):
    """The upper Cholesky factor of x^T x (computed by the engine: partial
    products over the rows, in parallel), or None where it is not positive
    definite to rounding or not finite."""
    g = np.asarray((x.T @ x).compute())
    if not np.all(np.isfinite(g)):
        return None
    try:
        return np.linalg.cholesky(g).T
    except np.linalg.LinAlgError:
        return None


def _cholqr2(a):
    """(R, q) of a tall real 2-d Array by CholeskyQR2: R1 from x^T x,
    Q1 = x R1^-1 = x @ W1 (lazy), R2 from Q1^T Q1; Q = Q1 R2^-1 = Q1 @ W2
    and R = R2 R1.  Two passes of matrix products over the rows, each in
    parallel, where TSQR runs a QR per block; in float64 for float32
    inputs too.  None for complex arrays and where x is too
    ill-conditioned (cond(R1) > _CHOL_COND): TSQR then."""
    dt = _work_dtype(a)
    n = a.shape[1]
    if dt.kind != "f" or 4 * n * n * 8 > current().memory_limit // 4:
        return None
    x = a.astype(np.float64) if a.dtype != np.float64 else a
    r1 = _gram_r(x)
    cond = np.linalg.cond(r1) if r1 is not None else np.inf
    if not cond <= _CHOL_COND:
        return None
    w1 = np.triu(np.linalg.inv(r1))
    q1 = x @ asarray(w1)
    r2 = _gram_r(q1)
    if r2 is None:
        return None
    w2 = np.triu(np.linalg.inv(r2))

    def q(small):
        y = x @ asarray(w1 @ (w2 @ small)) if cond <= _ONE_PRODUCT_COND else \
            q1 @ asarray(w2 @ small)
        return y.astype(dt) if y.dtype != dt else y
    return np.triu(r2 @ r1).astype(dt), q


def _factor(a, name):
    """(R, q) of a tall 2-d Array: ``q(small)`` is the lazy Q @ small
    (small: n x k, in memory).  CholeskyQR2 where it applies, TSQR
    otherwise."""
    c = _cholqr2(a)
    if c is not None:
        return c
    x, q2, r = _tsqr(a, name)
    return r, lambda small: _q(x, q2, small, a.shape[1])


def _svd_tall(a, compute_uv, name):
    r, q = _factor(a, name)
    if not compute_uv:
        return None, np.linalg.svd(r, compute_uv=False), None
    ur, s, vh = np.linalg.svd(r)
    return q(ur), s, vh


@implements(np.linalg.svd)
def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    name = "numpy.linalg.svd"
    kw = dict(full_matrices=full_matrices, compute_uv=compute_uv, hermitian=hermitian)
    if not isinstance(a, Array) or a.ndim != 2 or 0 in a.shape or hermitian:
        return _in_memory(name, np.linalg.svd, (a,), kw)
    m, n = a.shape
    if compute_uv and full_matrices and m != n:
        isz = _work_dtype(a).itemsize
        return _in_memory(name, np.linalg.svd, (a,), kw, extra=(m * m + n * n) * isz)
    wide = m < n
    t = (np.conjugate(a) if a.dtype.kind == "c" else a).T if wide else a
    u, s, vh = _svd_tall(t, compute_uv, name)
    if not compute_uv:
        return asarray(s)
    if wide:      # a^H = U S Vh, so a = Vh^H S U^H
        vt = u.T
        u, vh = np.conjugate(vh).T.copy(), (np.conjugate(vt) if vt.dtype.kind == "c" else vt)
        return type(np.linalg.svd(np.eye(1)))(asarray(u), asarray(s), vh)
    return type(np.linalg.svd(np.eye(1)))(u, asarray(s), asarray(vh))


def _singular_values(a, name):
    """The singular values of a 2-d Array, None when it is not 2-d or empty."""
    if not isinstance(a, Array) or a.ndim != 2 or 0 in a.shape:
        return None
    t = a if a.shape[0] >= a.shape[1] else \
        (np.conjugate(a) if a.dtype.kind == "c" else a).T
    return _svd_tall(t, False, name)[1]


if hasattr(np.linalg, "svdvals"):  # NumPy >= 2.0
    @implements(np.linalg.svdvals)
    def _svdvals(x, /):
        s = _singular_values(x, "numpy.linalg.svdvals")
        if s is None:
            return _in_memory("numpy.linalg.svdvals", np.linalg.svdvals, (x,), {})
        return asarray(s)


@implements(np.linalg.matrix_rank)
def _matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    name = "numpy.linalg.matrix_rank"
    s = None if hermitian or tol is not None and np.ndim(tol) else \
        _singular_values(A, name)
    if s is None:
        return _in_memory(name, np.linalg.matrix_rank, (A,),
                          dict(tol=tol, hermitian=hermitian, rtol=rtol))
    # NumPy's tolerance, from the same singular values.
    if tol is None:
        if rtol is None:
            rtol = max(A.shape[-2:]) * np.finfo(s.dtype).eps
        tol = s.max(axis=-1, keepdims=True) * rtol
    return np.count_nonzero(s > tol, axis=-1)


@implements(np.linalg.cond)
def _cond(x, p=None):
    s = _singular_values(x, "numpy.linalg.cond") if p in (None, 2, -2) else None
    if s is None:
        return _in_memory("numpy.linalg.cond", np.linalg.cond, (x,), dict(p=p))
    with np.errstate(all="ignore"):
        r = s[0] / s[-1] if p != -2 else s[-1] / s[0]
    if np.isnan(r) and not np.isnan(s).any():
        r = np.inf
    return r


@implements(np.linalg.lstsq)
def _lstsq(a, b, rcond=None):
    name = "numpy.linalg.lstsq"
    bshape = np.shape(b) if not isinstance(b, Array) else b.shape
    if not _tall(a) or len(bshape) not in (1, 2):
        return _in_memory(name, np.linalg.lstsq, (a, b), dict(rcond=rcond))
    m, n = a.shape
    if bshape[0] != m:
        raise np.linalg.LinAlgError("Incompatible dimensions")
    bd = b.dtype if isinstance(b, Array) else np.asarray(b).dtype
    # NumPy's dtypes and errors, on one-row stand-ins.
    probe = np.linalg.lstsq(np.ones((1, 1), a.dtype), np.ones((1,) + bshape[1:], bd),
                            rcond=rcond)
    dt = probe[0].dtype
    k = 1 if len(bshape) == 1 else bshape[1]
    if m < n + k or k == 0:
        return _in_memory(name, np.linalg.lstsq, (a, b), dict(rcond=rcond))
    b = b if isinstance(b, Array) else asarray(np.asarray(b))
    b2 = b[:, None] if b.ndim == 1 else b
    ab = np.concatenate([a.astype(dt), b2.astype(dt)], axis=1)
    _, _, raug = _tsqr(ab, name)
    r, c, e = raug[:n, :n], raug[:n, n:], raug[n:, n:]
    ur, s, vh = np.linalg.svd(r)
    if rcond is None:
        rcond = np.finfo(s.dtype).eps * max(m, n)
    rank = int(np.count_nonzero(s > rcond * s.max())) if s.size else 0
    y = (np.conjugate(ur[:, :rank]).T @ c) / s[:rank, None]
    x = np.conjugate(vh[:rank]).T @ y
    if rank == n and m > n:
        res = np.sum(np.abs(e) ** 2, axis=0).astype(probe[1].dtype)
    else:
        res = np.empty((0,), probe[1].dtype)
    x = x[:, 0] if len(bshape) == 1 else x
    return (asarray(x.astype(dt, copy=False)), asarray(res), type(probe[2])(rank),
            asarray(s.astype(probe[3].dtype, copy=False)))
