"""numpy.linalg.qr, svd, svdvals, lstsq, matrix_rank, cond and the
2-norms of tall-and-skinny chunkwise Arrays (TSQR), and the numpy.linalg
functions that run in memory, against NumPy.

QR and SVD factors are unique only up to the signs (phases, for complex)
of Q's columns and R's rows, and of singular vector pairs: the tests
check the factors' own properties (Q @ R and U S Vh give the array back,
Q and U have orthonormal columns, R is upper triangular, exactly) and
compare them to NumPy's after taking out those signs.  CholeskyQR2 and
TSQR compute in another order than LAPACK's Householder sweep, so values
agree to rounding: rtol 1e-10 of the array's scale for float64 and
complex128, 1e-4 for float32 and complex64.  Functions that run in NumPy
on the materialised input give NumPy's results exactly.
"""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw
from data_helpers import random_data

RNG = np.random.default_rng(5)


def _data(shape, dtype):
    return random_data(RNG, shape, dtype, -9, 10)


def _tol(dtype):
    return 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10


def _close(got, want, dtype, scale=1.0):
    np.testing.assert_allclose(got, want, rtol=0, atol=_tol(dtype) * scale)


def _phases(mine, theirs):
    """Per column j the unit factor p_j with mine[:, j] = theirs[:, j] * p_j."""
    d = np.einsum("ij,ij->j", np.conjugate(theirs), mine)
    return d / np.abs(d)


@pytest.fixture(autouse=True)
def _no_fallback():
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        yield


# Shapes and chunks: columns split, blocks shorter than the columns, a
# last block shorter than the columns, one block.
LAYOUTS = [((1000, 7), (130, 3)), ((500, 12), (5, 12)), ((103, 10), (50, 10)),
           ((40, 40), (40, 40)), ((64, 1), (8, 1))]


@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128", "complex64", "int32"])
@pytest.mark.parametrize("shape,chunks", LAYOUTS)
def test_qr_reduced_and_r(dtype, shape, chunks):
    x = _data(shape, dtype)
    a = cw.asarray(x, chunks=chunks)
    q, r = np.linalg.qr(a)
    qn, rn = np.linalg.qr(x)
    assert isinstance(q, cw.Array) and isinstance(r, cw.Array)
    assert (q.shape, r.shape, q.dtype, r.dtype) == (qn.shape, rn.shape, qn.dtype, rn.dtype)
    Q, R = np.asarray(q), np.asarray(r)
    n = shape[1]
    scale = np.abs(x).max() * np.sqrt(shape[0])
    np.testing.assert_array_equal(np.tril(R, -1), 0)
    _close(Q @ R, x, dtype, scale)
    _close(np.conjugate(Q).T @ Q, np.eye(n), dtype, np.sqrt(shape[0]))
    p = _phases(Q, qn)
    _close(Q / p, qn, dtype, np.sqrt(shape[0]))
    _close(R * p[:, None], rn, dtype, scale)
    r_only = np.linalg.qr(a, mode="r")
    assert isinstance(r_only, cw.Array)
    np.testing.assert_array_equal(np.asarray(r_only), R)


def test_qr_hdf5_and_lazy_q(tmp_path):
    x = _data((3000, 6), "float64")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(256, 4))
    a = cw.open(tmp_path / "x.h5", "/x")
    runs = cw.stats()["runs"]
    q, r = np.linalg.qr(a)
    # CholeskyQR2's two passes (x^T x, then Q1^T Q1); Q stays lazy.
    assert cw.stats()["runs"] == runs + 2
    q.to_hdf5(tmp_path / "q.h5", "/q")
    with h5py.File(tmp_path / "q.h5") as f:
        Q = f["q"][...]
    _close(Q @ np.asarray(r), x, "float64", 100)
    err = np.max(np.abs(q @ r - a))              # lazy: the engine's matmul over Q
    assert float(err) < 1e-10 * 100


def test_qr_complete_and_errors():
    x = _data((30, 4), "float64")
    a = cw.asarray(x, chunks=(7, 2))
    for got, want in zip(np.linalg.qr(a, mode="complete"), np.linalg.qr(x, mode="complete")):
        np.testing.assert_array_equal(np.asarray(got), want)
    for got, want in zip(np.linalg.qr(a, mode="raw"), np.linalg.qr(x, mode="raw")):
        np.testing.assert_array_equal(np.asarray(got), want)
    wide = np.linalg.qr(cw.asarray(x.T.copy(), chunks=2))
    for got, want in zip(wide, np.linalg.qr(x.T)):
        np.testing.assert_array_equal(np.asarray(got), want)
    big = cw.asarray(_data((4000, 3), "float64"), chunks=(500, 3))
    with cw.config(memory_limit=2**20):
        with pytest.raises(cw.MemoryBudgetError, match=r"\(4000, 3\).*mode 'reduced'"):
            np.linalg.qr(big, mode="complete")
        with pytest.raises(cw.MemoryBudgetError, match=r"\(4000, 3\)"):
            np.linalg.svd(big)                           # full_matrices: 4000 x 4000
        q, r = np.linalg.qr(big)                         # reduced: out of core
        assert q.shape == (4000, 3)
    with pytest.raises(ValueError, match="Unrecognized mode"):
        np.linalg.qr(a, mode="bad")
    with pytest.raises(TypeError, match="float16"):
        np.linalg.qr(cw.asarray(x.astype("f2")))
    with pytest.raises(np.linalg.LinAlgError, match="at least two-dimensional"):
        np.linalg.qr(cw.asarray(x[:, 0]))
    with cw.config(memory_limit=2**20):
        with pytest.raises(cw.MemoryBudgetError, match="whole rows"):
            np.linalg.qr(cw.asarray(np.zeros((400, 200)), chunks=(50, 200)))


def _conditioned(m, n, cond, rank=None):
    """An m x n float64 array of the given condition number (singular
    values spaced logarithmically from 37 down), or of the given rank."""
    rng = np.random.default_rng(int(np.log10(cond)) * 7 + n)
    u = np.linalg.qr(rng.standard_normal((m, n)))[0]
    v = np.linalg.qr(rng.standard_normal((n, n)))[0]
    s = 37.0 * np.logspace(0, -np.log10(cond), n)
    if rank is not None:
        s[rank:] = 0
    return (u * s) @ v.T


@pytest.mark.parametrize("cond,rank", [(1e2, None), (1e4, None), (1e9, None), (1e2, 5)])
def test_qr_and_svd_by_conditioning(cond, rank):
    """Well-conditioned arrays are factored by CholeskyQR2 (Q as one
    product up to a condition number of 1e3, as two above), the others
    (and rank-deficient ones) by Householder TSQR: every way, Q is
    orthonormal and Q @ R the array to rounding, and R, the singular
    values and vectors are NumPy's, signs taken out."""
    x = _conditioned(6000, 9, cond, rank)
    a = cw.asarray(x, chunks=(700, 9))
    q, r = np.linalg.qr(a)
    Q, R = np.asarray(q), np.asarray(r)
    qn, rn = np.linalg.qr(x)
    np.testing.assert_array_equal(np.tril(R, -1), 0)
    assert np.abs(Q.T @ Q - np.eye(9)).max() < 1e-13
    assert np.abs(Q @ R - x).max() < 1e-13 * 37
    k = 9 if rank is None else rank        # R's rows beyond the rank: rounding
    p = _phases(Q[:, :k], qn[:, :k])
    np.testing.assert_allclose(R[:k] * p[:, None], rn[:k], rtol=0, atol=1e-12 * 37)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    U, S, Vh = np.asarray(u), np.asarray(s), np.asarray(vh)
    un, sn, vhn = np.linalg.svd(x, full_matrices=False)
    np.testing.assert_allclose(S, sn, rtol=0, atol=1e-13 * 37)
    assert np.abs(U[:, :k].T @ U[:, :k] - np.eye(k)).max() < 1e-13
    np.testing.assert_allclose((U * S) @ Vh, x, rtol=0, atol=1e-13 * 37)
    if rank is None and cond < 1e9:          # distinct singular values
        p = _phases(U, un)
        np.testing.assert_allclose(U / p, un, rtol=0, atol=1e-9)
    f = np.linalg.qr(a.astype(np.float32))
    assert (f.Q.dtype, f.R.dtype) == (np.float32, np.float32)
    np.testing.assert_allclose(np.asarray(f.Q) @ np.asarray(f.R), x.astype(np.float32),
                               rtol=0, atol=1e-5 * 37)


@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128", "complex64"])
@pytest.mark.parametrize("shape,chunks", LAYOUTS[:3] + [((7, 1000), (3, 130))])
def test_svd(dtype, shape, chunks):
    x = _data(shape, dtype)
    a = cw.asarray(x, chunks=chunks)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    un, sn, vhn = np.linalg.svd(x, full_matrices=False)
    assert (u.shape, s.shape, vh.shape) == (un.shape, sn.shape, vhn.shape)
    assert (u.dtype, s.dtype, vh.dtype) == (un.dtype, sn.dtype, vhn.dtype)
    U, S, Vh = np.asarray(u), np.asarray(s), np.asarray(vh)
    scale = np.abs(x).max() * np.sqrt(max(shape))
    _close(S, sn, dtype, scale)
    _close((U * S) @ Vh, x, dtype, scale)
    k = min(shape)
    _close(np.conjugate(U).T @ U, np.eye(k), dtype, np.sqrt(max(shape)))
    _close(Vh @ np.conjugate(Vh).T, np.eye(k), dtype, np.sqrt(max(shape)))
    p = _phases(U, un)
    _close(U / p, un, dtype, np.sqrt(max(shape)) * 10)
    _close(Vh * p[:, None], vhn, dtype, np.sqrt(max(shape)) * 10)
    sv = np.linalg.svd(a, compute_uv=False)
    assert isinstance(sv, cw.Array)
    _close(np.asarray(sv), sn, dtype, scale)
    _close(np.asarray(np.linalg.svdvals(a)), sn, dtype, scale)


def test_svd_in_memory_cases():
    x = _data((20, 5), "float64")
    a = cw.asarray(x, chunks=(6, 2))
    for kw in (dict(), dict(hermitian=True)):
        m = x if not kw else x.T @ x
        got = np.linalg.svd(cw.asarray(m, chunks=3), **kw)
        for g, w in zip(got, np.linalg.svd(m, **kw)):
            np.testing.assert_array_equal(np.asarray(g), w)
    s3 = _data((3, 6, 2), "float64")
    np.testing.assert_array_equal(np.asarray(np.linalg.svd(cw.asarray(s3), compute_uv=False)),
                                  np.linalg.svd(s3, compute_uv=False))
    assert np.linalg.svd(a, full_matrices=False).U.shape == (20, 5)


def test_rank_cond_and_2_norms():
    x = _data((400, 6), "float64")
    x[:, 5] = x[:, 0] + x[:, 1]                        # rank 5
    a = cw.asarray(x, chunks=(64, 6))
    assert np.linalg.matrix_rank(a) == np.linalg.matrix_rank(x) == 5
    assert np.linalg.matrix_rank(a, tol=1e-3) == np.linalg.matrix_rank(x, tol=1e-3)
    assert np.linalg.matrix_rank(a, rtol=0.5) == np.linalg.matrix_rank(x, rtol=0.5)
    y = _data((400, 6), "float64")
    b = cw.asarray(y, chunks=(64, 6))
    for p in (None, 2, -2):
        np.testing.assert_allclose(np.linalg.cond(b, p), np.linalg.cond(y, p), rtol=1e-10)
    sq = y[:6]
    np.testing.assert_array_equal(np.linalg.cond(cw.asarray(sq, chunks=3), "fro"),
                                  np.linalg.cond(sq, "fro"))
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        np.linalg.cond(b, "fro")
    for o in (2, -2, "nuc"):
        for keep in (False, True):
            got, want = np.linalg.norm(b, o, keepdims=keep), np.linalg.norm(y, o, keepdims=keep)
            assert isinstance(got, cw.Array) and got.shape == np.shape(want)
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10)
        np.testing.assert_allclose(np.asarray(np.linalg.norm(b.T, o)), np.linalg.norm(y.T, o),
                                   rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128"])
def test_lstsq(dtype):
    x = _data((900, 5), dtype)
    a = cw.asarray(x, chunks=(100, 2))
    for b in (_data((900,), dtype), _data((900, 3), dtype)):
        got = np.linalg.lstsq(a, b)
        want = np.linalg.lstsq(x, b)
        assert type(got[2]) is type(want[2]) and got[2] == want[2]
        for g, w in zip((got[0], got[1], got[3]), (want[0], want[1], want[3])):
            assert isinstance(g, cw.Array)
            g = np.asarray(g)
            assert g.shape == w.shape and g.dtype == w.dtype
            # Residuals are sums of squares over 900 rows: relative.
            np.testing.assert_allclose(g, w, rtol=_tol(dtype) * 10, atol=_tol(dtype))
    b = _data((900,), dtype)
    got = np.linalg.lstsq(a, cw.asarray(b, chunks=77), rcond=1e-3)
    want = np.linalg.lstsq(x, b, rcond=1e-3)
    np.testing.assert_allclose(np.asarray(got[0]), want[0], rtol=_tol(dtype) * 10)


def test_lstsq_rank_deficient_and_errors(tmp_path):
    x = _data((600, 4), "float64")
    x[:, 3] = 2 * x[:, 1]
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("a", data=x, chunks=(50, 4))
    a = cw.open(tmp_path / "a.h5", "/a")
    b = _data((600, 2), "float64")
    got, want = np.linalg.lstsq(a, b), np.linalg.lstsq(x, b)
    assert got[2] == want[2] == 3
    assert np.asarray(got[1]).shape == want[1].shape == (0,)
    np.testing.assert_allclose(np.asarray(got[0]), want[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(got[3])[:3], want[3][:3], rtol=1e-10)
    with pytest.raises(np.linalg.LinAlgError, match="Incompatible dimensions"):
        np.linalg.lstsq(a, b[:-1])
    small = np.linalg.lstsq(cw.asarray(x[:4]), b[:4])     # m < n + k: in NumPy
    for g, w in zip(small, np.linalg.lstsq(x[:4], b[:4])):
        np.testing.assert_array_equal(np.asarray(g), w)


SQUARE = ["solve", "inv", "det", "slogdet", "cholesky", "eig", "eigh", "eigvals",
          "eigvalsh", "pinv", "matrix_power", "tensorinv"]


@pytest.mark.parametrize("name", SQUARE)
def test_square_functions_in_memory(name):
    x = _data((6, 6), "float64")
    spd = x @ x.T + 6 * np.eye(6)
    b = _data((6, 2), "float64")
    args = {"solve": (spd, b), "cholesky": (spd,), "eigh": (spd,), "eigvalsh": (spd,),
            "matrix_power": (x, 3), "tensorinv": (spd, 1)}.get(name, (x,))
    lazy = tuple(cw.asarray(v, chunks=3) if isinstance(v, np.ndarray) else v for v in args)
    func = getattr(np.linalg, name)
    got, want = func(*lazy), func(*args)
    if isinstance(want, tuple):
        assert type(got) is type(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g), w)
    else:
        np.testing.assert_array_equal(np.asarray(got), want)
        assert isinstance(got, cw.Array) == isinstance(want, np.ndarray)


def test_multi_dot_is_lazy():
    x, y, z = _data((8, 5), "float64"), _data((5, 9), "float64"), _data((9,), "float64")
    for ops in ([x, y], [x, y, z], [x[0], y, z], [x, y, y.T]):
        got = np.linalg.multi_dot([cw.asarray(o, chunks=3) for o in ops])
        assert isinstance(got, cw.Array)
        np.testing.assert_allclose(np.asarray(got), np.linalg.multi_dot(ops), rtol=1e-12)
    with pytest.raises(np.linalg.LinAlgError, match="two-dimensional"):
        np.linalg.multi_dot([cw.asarray(x), cw.asarray(_data((2, 5, 9), "float64")), z])
    with pytest.raises(ValueError, match="at least two"):
        np.linalg.multi_dot([cw.asarray(x)])


def test_square_functions_beyond_memory():
    a = cw.asarray(np.eye(512), chunks=128)                  # 2 MiB
    with cw.config(memory_limit=2 * 2**20):
        with pytest.raises(cw.MemoryBudgetError, match=r"\(512, 512\) float64.*qr"):
            np.linalg.inv(a)
        with pytest.raises(cw.MemoryBudgetError, match="numpy.linalg.solve"):
            np.linalg.solve(a, np.ones(512))
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.inv(cw.asarray(np.zeros((3, 3))))


def test_tall_qr_and_svd_of_hdf5_hold_budget(tmp_path):
    """qr, svd (full_matrices=False) and lstsq of a 128 MiB tall float64
    HDF5 dataset under a 16 MiB memory_limit: Q and U are streamed into
    lazy checks (Q^T Q, and the largest error of Q @ R against the data),
    lstsq solves for a lazy combination of the columns, and the peak stays
    near the limit, not the data."""
    from memory_helpers import run_measured
    limit = 16 * 2**20
    path = tmp_path / "x.h5"
    r = run_measured(f"""
        n = 128 * 2**20 // 8 // 16
        i = cw.arange(0, n, dtype="f8", chunks=8192)[:, None]
        j = cw.arange(0, 16, dtype="f8")[None, :]
        a = np.sin(i * 0.001 * (j + 1)) + np.cos(i * (j + 2))
        a.to_hdf5({str(path)!r}, "/x", chunks=(8192, 16), compression="blosc-lz4")
        x = cw.open({str(path)!r}, "/x")
        base = rss()
        q, r = np.linalg.qr(x)
        qtq = (q.T @ q).compute()
        err = float(np.max(np.abs(q @ r - x)))
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        utu = (u.T @ u).compute()
        b = 2 * x[:, 3] - x[:, 7] + 0.5 * x[:, 11]          # exactly a solution
        sol, res, rank, sv = np.linalg.lstsq(x, b)
        p = peak()
        want = np.zeros(16)
        want[[3, 7, 11]] = [2, -1, 0.5]
        lst = bool(rank == 16 and np.abs(np.asarray(sol) - want).max() < 1e-9 and
                   float(np.asarray(res)[0]) < 1e-12)
        R = np.asarray(r)
        ok = bool(np.abs(qtq - np.eye(16)).max() < 1e-10 and err < 1e-9 and
                  np.abs(utu - np.eye(16)).max() < 1e-10 and
                  np.allclose(np.asarray(s), np.linalg.svd(R, compute_uv=False), rtol=1e-12)
                  and np.all(np.tril(R, -1) == 0))
        print(json.dumps({{"base": base, "peak": p, "ok": ok and lst, "err": err}}))
    """, limit, timeout=600)
    print(f"\npeak - base: {(r['peak'] - r['base']) / 2**20:.1f} MiB")
    assert r["ok"], r
    assert r["peak"] - r["base"] < limit + 24 * 2**20, r


def test_array_api_qr_and_svd_out_of_core():
    import chunkwise.array_api as xp
    x = _data((300, 4), "float32")
    a = cw.asarray(x, chunks=(50, 4))
    q, r = xp.linalg.qr(a)
    assert isinstance(q, cw.Array) and q.dtype == np.float32
    _close(np.asarray(q) @ np.asarray(r), x, "float32", 10)
    s = np.linalg.svd(x, compute_uv=False)
    u, sv, vh = xp.linalg.svd(a, full_matrices=False)
    _close(np.asarray(sv), s, "float32", 10)
    _close(np.asarray(xp.linalg.svdvals(a)), s, "float32", 10)
    _close((np.asarray(u) * np.asarray(sv)) @ np.asarray(vh), x, "float32", 10)
