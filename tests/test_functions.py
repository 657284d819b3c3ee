"""NumPy functions on chunkwise arrays: lazy implementations against NumPy,
reductions, and the fallback."""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((23, 9, 6))
    x[1, 2, 3] = np.nan
    x[5, 0, :] = np.inf
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(5, 4, 3), compression="gzip")
    return x, cw.open(path, "x"), cw.asarray(x, chunks=(7, 2, 6))


def same(r, e):
    r = r.compute() if isinstance(r, cw.Array) else r
    r, e = np.asarray(r), np.asarray(e)
    assert r.shape == e.shape and r.dtype == e.dtype, (r.shape, e.shape, r.dtype, e.dtype)
    assert np.array_equal(r, e, equal_nan=True)


def close(r, e, rtol=1e-9):
    r = r.compute() if isinstance(r, cw.Array) else r
    r, e = np.asarray(r), np.asarray(e)
    assert r.shape == e.shape and r.dtype == e.dtype, (r.shape, e.shape, r.dtype, e.dtype)
    np.testing.assert_allclose(r, e, rtol=rtol, equal_nan=True)


@pytest.fixture(autouse=True)
def no_fallbacks():
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        with np.errstate(all="ignore"):
            yield


def test_where_clip_round(data):
    x, h, m = data
    for a in (h, m):
        same(np.where(a > 0, a, 0.5), np.where(x > 0, x, 0.5))
        same(np.where(a > 0, 1, a[:, :1]), np.where(x > 0, 1, x[:, :1]))
        f = a.astype("f4")
        same(np.where(f > 0, f, 0.5), np.where(x.astype("f4") > 0, x.astype("f4"), 0.5))
        same(np.clip(a, -0.5, 0.5), np.clip(x, -0.5, 0.5))
        same(a.clip(None, 0.25), x.clip(None, 0.25))
        same(np.round(a, 2), np.round(x, 2))
        same(np.around(a * 1000, -2), np.around(x * 1000, -2))
        same(a.round(), x.round())
        i = (a * 100).astype("i4")
        same(np.round(i), np.round((x * 100).astype("i4")))


def test_axes_functions(data):
    x, h, m = data
    for a in (h, m):
        same(a.T, x.T)
        same(np.transpose(a, (1, 0, 2))[::2], np.transpose(x, (1, 0, 2))[::2])
        same(np.swapaxes(a, 0, 2), np.swapaxes(x, 0, 2))
        same(np.moveaxis(a, 0, -1), np.moveaxis(x, 0, -1))
        same((a + np.arange(6)).transpose(2, 0, 1)[1:, ::-3],
             (x + np.arange(6)).transpose(2, 0, 1)[1:, ::-3])
        same(np.expand_dims(a, (0, 2)), np.expand_dims(x, (0, 2)))
        same(np.squeeze(a[:, :1]), np.squeeze(x[:, :1]))
        same(a[:1].squeeze(0), x[:1].squeeze(0))
        with pytest.raises(ValueError):
            a.squeeze(1)
        assert np.shape(a) == x.shape and np.ndim(a) == 3 and np.size(a) == x.size


def test_transposed_store(data, tmp_path):
    x, h, _ = data
    out = h.T[::-1].to_hdf5(tmp_path / "t.h5", "/t")
    same(out, x.T[::-1])
    out = (h * 2).transpose(1, 2, 0).to_hdf5(tmp_path / "t.h5", "/u")
    same(out, (x * 2).transpose(1, 2, 0))


def test_comparisons(data):
    x, h, m = data
    same(np.isclose(h, m + 1e-9), np.isclose(x, x + 1e-9))
    same(np.isclose(h, m, equal_nan=True), np.isclose(x, x, equal_nan=True))
    assert np.allclose(h, m, equal_nan=True) is True
    assert np.allclose(h, m) is False  # NaN
    assert np.allclose(h, m + 1e-3) is False
    assert np.array_equal(h, m, equal_nan=True) is True
    assert np.array_equal(h, m) is False
    assert np.array_equal(h[:3], m) is False


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(data, axis, keepdims):
    x, h, m = data
    y = np.where(np.isfinite(x), x, 0.5)
    b = cw.asarray(y, chunks=(4, 5, 2))
    for f in ("sum", "prod", "min", "max", "mean", "var", "std"):
        close(getattr(np, f)(b, axis=axis, keepdims=keepdims),
              getattr(np, f)(y, axis=axis, keepdims=keepdims))
    close(np.var(b, axis=axis, ddof=1, keepdims=keepdims),
          np.var(y, axis=axis, ddof=1, keepdims=keepdims))
    for f in ("any", "all"):
        same(getattr(np, f)(b > 0, axis=axis, keepdims=keepdims),
             getattr(np, f)(y > 0, axis=axis, keepdims=keepdims))
    for f in ("nansum", "nanmin", "nanmax", "nanmean"):
        close(getattr(np, f)(h, axis=axis, keepdims=keepdims),
              getattr(np, f)(x, axis=axis, keepdims=keepdims))


def test_reduction_dtypes_and_methods(data):
    x, _, _ = data
    i = (x[np.isfinite(x).all(axis=(1, 2))] * 50).astype("i1")
    a = cw.asarray(i, chunks=(3, 4, 5))
    for f in ("sum", "prod", "min", "max", "mean", "var", "std"):
        close(getattr(a, f)(axis=1), getattr(i, f)(axis=1))
    same(a.sum(dtype="i2"), i.sum(dtype="i2"))
    same(np.add.reduce(a, axis=2), np.add.reduce(i, axis=2))
    same(np.maximum.reduce(a, axis=(0, 1)), np.maximum.reduce(i, axis=(0, 1)))
    h = a.astype("f2")
    close(h.mean(axis=0), i.astype("f2").mean(axis=0), rtol=1e-3)
    assert isinstance(a.sum(), cw.Array) and a.sum().shape == ()
    assert int(a.sum()) == int(i.sum())
    with pytest.raises(ValueError, match="zero-size"):
        cw.zeros((0, 3)).max().compute()
    assert float(cw.zeros((0, 3)).sum()) == 0.0
    with pytest.raises(np.exceptions.AxisError):
        a.sum(axis=3)


def test_reductions_identical_for_any_thread_count(data):
    x, h, _ = data
    e = np.nansum(h * 3.3, axis=(0, 1))
    with cw.config(threads=1):
        r1 = e.compute()
    with cw.config(threads=2):
        r2 = e.compute()
    assert np.array_equal(r1, r2)
    m1 = cw.asarray(np.random.default_rng(1).standard_normal(10**6), chunks=10**4)
    with cw.config(threads=1):
        s1 = float(m1.sum())
    with cw.config(threads=2):
        s2 = float(m1.sum())
    assert s1 == s2


def test_pairwise_accuracy():
    """Sums are at least as accurate as NumPy's pairwise summation."""
    n = 10**7
    x = np.full(n, 0.1, dtype="f4")
    exact = float(np.sum(x.astype("f8")))
    ours = float(cw.asarray(x, chunks=2**20).sum())
    theirs = float(np.sum(x))
    assert abs(ours - exact) <= abs(theirs - exact) * 1.01 + 1e-3


def test_reduction_inside_expression(data):
    x, h, _ = data
    y = np.where(np.isfinite(x), x, 0.0)
    b = cw.asarray(y, chunks=(4, 5, 2))
    close((b - b.mean(axis=0)) / b.std(axis=0), (y - y.mean(axis=0)) / y.std(axis=0))
    close(b.sum(axis=0)[2:, ::-1], y.sum(axis=0)[2:, ::-1])


def test_fallback_warns_and_wraps(data):
    x, h, _ = data
    with pytest.warns(cw.FallbackWarning, match="numpy.unwrap"):
        r = np.unwrap(h, axis=0)
    assert isinstance(r, cw.Array)
    same(r, np.unwrap(x, axis=0))
    with pytest.warns(cw.FallbackWarning, match="numpy.polyval"):
        k = np.polyval([1.5, -2.0], h)
    same(k, np.polyval([1.5, -2.0], x))
    with cw.config(fallback="error"):
        with pytest.raises(TypeError, match="no lazy implementation"):
            np.unwrap(h)
    with cw.config(memory_limit="1KiB"):
        with pytest.raises(cw.MemoryBudgetError, match="materialise"):
            np.unwrap(h)


def test_broadcast_to_and_compute(data):
    x, h, _ = data
    same(np.broadcast_to(h[:, :1], (23, 9, 6)), np.broadcast_to(x[:, :1], (23, 9, 6)))
    same(np.broadcast_to(h[0, 0], (4, 6))[::-1] * 2, np.broadcast_to(x[0, 0], (4, 6))[::-1] * 2)
    with pytest.raises(ValueError):
        np.broadcast_to(h, (3, 9, 6))
    r1, r2, r3 = cw.compute(h[0] + 1, h.max(axis=0), 3)
    same(r1, x[0] + 1)
    same(r2, x.max(axis=0))
    assert r3 == 3


def test_compute_many_in_one_pass(data):
    """Elementwise results of one shape share one pass: each input chunk is
    read once for all of them."""
    x, h, _ = data
    e = np.sqrt(np.abs(h)) * 2
    cw.reset_stats()
    r = cw.compute(h + 1, e, h > 0, e)
    assert cw.stats()["chunks_read"] == 5 * 3 * 2  # every chunk once, for all
    r = r + cw.compute(h[::-1])
    same(r[0], x + 1)
    same(r[1], np.sqrt(np.abs(x)) * 2)
    same(r[2], x > 0)
    same(r[3], r[1])
    same(r[4], x[::-1])


def test_compute_shares_a_pass_with_reductions(data):
    """Reductions of values of one shape, also those inside other results
    (the sum in a mean), share the pass of the elementwise results: each
    chunk is read once, and every result equals its own compute()."""
    x, h, _ = data
    y = np.where(np.isfinite(x), x, 0.0)
    b = cw.asarray(y, chunks=(4, 5, 2))
    exprs = [h + 1, b.sum(), np.mean(b * 2, axis=0), np.nanmax(h, axis=(0, 2)),
             b.min(axis=1, keepdims=True), h.sum(axis=-1), (b > 0).any(axis=0),
             np.float64(2.5)]
    singles = [e.compute() if isinstance(e, cw.Array) else e for e in exprs]
    cw.reset_stats()
    r = cw.compute(*exprs)
    assert cw.stats()["chunks_read"] == 5 * 3 * 2       # h's chunks, once
    # Sums follow the pass's tiles (h's chunks), so they may differ from a
    # compute() of their own in the last bits; the rest is exact.
    for k, (got, want) in enumerate(zip(r, singles)):
        (close if k in (1, 2, 5) else same)(got, want)
    same(r[0], x + 1)
    close(r[1], y.sum())
    close(r[2], np.mean(y * 2, axis=0))
    same(r[4], y.min(axis=1, keepdims=True))
    same(r[6], (y > 0).any(axis=0))
    # Results that need another result first come after it: var's second
    # pass, an expression of a mean.
    cw.reset_stats()
    v, d = cw.compute(h.var(axis=0), h - h.mean(axis=0))
    assert cw.stats()["chunks_read"] == 3 * 5 * 3 * 2   # mean, then var, then d
    close(v, x.var(axis=0))
    close(d, x - x.mean(axis=0))
    # More than 8 results: passes of 8; the same array twice.
    e2, s0 = h + 2, h.sum(axis=0)
    many = cw.compute(*[h.sum(axis=k) for k in range(3)] * 3, e2, e2, s0, s0)
    for k in range(9):
        close(many[k], x.sum(axis=k % 3))
    same(many[9], x + 2)
    same(many[10], x + 2)
    close(many[11], x.sum(axis=0))
    assert not np.shares_memory(many[9], many[10])
    assert not np.shares_memory(many[11], many[12])
    # Empty arrays and reductions over empty axes give NumPy's answers.
    z = cw.asarray(np.zeros((0, 3)))
    e1, e2, e3 = cw.compute(z.sum(axis=0), z + 1, h.sum())
    same(e1, np.zeros(3))
    same(e2, np.zeros((0, 3)) + 1)
    with pytest.raises(ValueError):
        cw.compute(z.max(axis=0), h.sum())


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_cumulative_exact(data, axis):
    """Accumulation carries the running row from tile to tile: exactly
    NumPy's sequential result, for any thread count."""
    x, h, m = data
    y = np.where(np.isfinite(x), x, 0.25)
    b = cw.asarray(y, chunks=(4, 5, 2))
    same(np.cumsum(b, axis=axis), np.cumsum(y, axis=axis))
    same(b.cumprod(axis=axis), y.cumprod(axis=axis))
    same(np.add.accumulate(h, axis=axis), np.add.accumulate(x, axis=axis))
    i = (y * 10).astype("i1")
    same(np.cumsum(cw.asarray(i, chunks=(3, 4, 5)), axis=axis), np.cumsum(i, axis=axis))
    with cw.config(threads=1):
        r1 = np.cumsum(b * 3, axis=axis).compute()
    with cw.config(threads=2):
        r2 = np.cumsum(b * 3, axis=axis).compute()
    assert np.array_equal(r1, r2)
    same(np.cumsum(b, axis=axis)[2:, ::2], np.cumsum(y, axis=axis)[2:, ::2])
    same(np.cumsum(cw.asarray(y[:, 0, 0], chunks=3)), np.cumsum(y[:, 0, 0]))


@pytest.mark.parametrize("dtype", ["f8", "f4", "f2", "i1", "u2", "i8", "?"])
def test_argmax_argmin(dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((37, 23, 5)) * 4).astype(dtype)
    if dtype[0] == "f":
        x[3, 4, 1] = np.nan
        x[30, 2, 2] = np.nan
    x[5, 5, 3] = x.max() if dtype != "?" else True  # ties: first index wins
    a = cw.asarray(x, chunks=(8, 5, 2))
    for f in ("argmax", "argmin"):
        for axis in (None, 0, 1, 2, -1):
            for keepdims in (False, True):
                same(getattr(np, f)(a, axis=axis, keepdims=keepdims),
                     getattr(np, f)(x, axis=axis, keepdims=keepdims))
        same(getattr(a, f)(axis=1), getattr(x, f)(axis=1))
    with pytest.raises(ValueError, match="empty"):
        cw.zeros((0, 3)).argmax().compute()


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_cumulative_to_hdf5(data, axis, tmp_path):
    x, h, _ = data
    y = np.where(np.isfinite(x), x, 0.5)
    b = cw.asarray(y, chunks=(4, 5, 2))
    for chunks in (None, (5, 7, 3), (23, 9, 6)):
        out = np.cumsum(b * 2, axis=axis).to_hdf5(tmp_path / "c.h5", "/c",
                                                 chunks=chunks, overwrite=True)
        same(out, np.cumsum(y * 2, axis=axis))


def test_concatenate_and_stack(data, tmp_path):
    x, h, m = data
    y = np.arange(3 * 9 * 6, dtype="f4").reshape(3, 9, 6)
    b = cw.asarray(y, chunks=(2, 9, 6))
    c = np.concatenate([h, b * 2, m[:2]], axis=0)
    e = np.concatenate([x, y * 2, x[:2]], axis=0)
    same(c, e)
    same(c[::-3, 2:, ::2], e[::-3, 2:, ::2])
    close((c + 1).sum(axis=0), (e + 1).sum(axis=0))
    same(np.concatenate([h, m], axis=-1), np.concatenate([x, x], axis=-1))
    same(np.concatenate([h, np.ones((1, 9, 6), "i2")]).T,
         np.concatenate([x, np.ones((1, 9, 6), "i2")]).T)
    same(np.stack([h[0], m[1] * 3], axis=1), np.stack([x[0], x[1] * 3], axis=1))
    same(c.to_hdf5(tmp_path / "c.h5", "/c"), e)
    with pytest.raises(ValueError, match="must match exactly"):
        np.concatenate([h, b[:, :3]])
    with pytest.raises(ValueError, match="same shape"):
        np.stack([h, b])
    with pytest.raises(ValueError):
        np.concatenate([])


def test_matmul_dot_tensordot(tmp_path):
    rng = np.random.default_rng(5)
    A = rng.standard_normal((57, 43))
    B = rng.standard_normal((43, 29))
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("A", data=A, chunks=(10, 7), compression="gzip")
    a = cw.open(path, "A")
    b = cw.asarray(B, chunks=(8, 6))
    close(a @ b, A @ B)
    close((a @ b)[::-3, 2::4], (A @ B)[::-3, 2::4])
    close(np.matmul(a, B), A @ B)
    close(np.dot(a, b[:, 0]), A @ B[:, 0])
    close(np.dot(a[0], b), A[0] @ B)
    close(np.dot(a[0], a[0]), A[0] @ A[0])
    close(np.tensordot(a, a, axes=([0], [0])), np.tensordot(A, A, axes=([0], [0])))
    close(np.tensordot(a, b, axes=1), np.tensordot(A, B, axes=1))
    close(((a @ b) + 1).sum(axis=0), ((A @ B) + 1).sum(axis=0))
    close((a @ b).to_hdf5(tmp_path / "p.h5", "/p"), A @ B)
    I = rng.integers(-100, 100, (30, 20)).astype("i1")
    J = rng.integers(-100, 100, (20, 11)).astype("i1")
    same(cw.asarray(I, chunks=(7, 3)) @ cw.asarray(J, chunks=(4, 5)), I @ J)
    P = rng.random((12, 9)) > 0.5
    Q = rng.random((9, 4)) > 0.7
    same(cw.asarray(P) @ cw.asarray(Q), P @ Q)
    H, G = A[:20, :10].astype("f2"), B[:10, :5].astype("f2")
    close(cw.asarray(H) @ cw.asarray(G), H @ G, rtol=1e-2)
    with pytest.raises(ValueError, match="mismatch"):
        a @ a
    with cw.config(threads=1):
        r1 = (a @ b).compute()
    with cw.config(threads=2):
        r2 = (a @ b).compute()
    assert np.array_equal(r1, r2)


def test_matmul_over_a_long_shared_dimension(tmp_path):
    """A product of few tiles over a long shared dimension (x.T @ x of a
    tall dataset, a Gram matrix) is summed from partial products over
    slices of that dimension, in parallel: NumPy's values, integers wrapping
    as NumPy's, bool as or of ands, the same result on 1 and 2 threads."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((50000, 6))
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=X, chunks=(4096, 6), compression="gzip")
        f.create_dataset("y", data=X[:, :3], chunks=(3000, 3))
    x, y = cw.open(path, "x"), cw.open(path, "y")
    g = x.T @ x
    assert "add.reduce" in g._explain()             # the partials' sum
    close(g, X.T @ X, rtol=1e-11)
    close(np.dot(x.T, y), X.T @ X[:, :3], rtol=1e-11)
    close(x[5:-7:2].T @ y[5:-7:2], X[5:-7:2].T @ X[5:-7:2, :3], rtol=1e-11)
    close(x[:, 0] @ y, X[:, 0] @ X[:, :3], rtol=1e-11)        # a 1-d operand
    close(x[:, 1] @ x[:, 2], X[:, 1] @ X[:, 2], rtol=1e-11)   # a dot product
    with cw.config(threads=1):
        g1 = g.compute()
    with cw.config(threads=2):
        g2 = g.compute()
    assert np.array_equal(g1, g2)
    # One chunk along the shared dimension: slices of its own.
    W = rng.standard_normal((3, 40000))
    close(cw.asarray(W, chunks=(3, 40000)) @ cw.asarray(W.T), W @ W.T, rtol=1e-11)
    # Batches, one broadcast.
    B = rng.standard_normal((2, 4, 9000)).astype("f4")
    C = rng.standard_normal((1, 9000, 3)).astype("f4")
    close(cw.asarray(B, chunks=(1, 4, 1000)) @ cw.asarray(C), B @ C, rtol=1e-4)
    Z = (rng.standard_normal((2, 20000)) + 1j * rng.standard_normal((2, 20000)))
    close(cw.asarray(Z, chunks=(2, 3000)) @ cw.asarray(Z.T), Z @ Z.T, rtol=1e-11)
    I = rng.integers(-128, 128, (3, 30000)).astype("i1")
    same(cw.asarray(I, chunks=(3, 1000)) @ cw.asarray(I.T), I @ I.T)     # wraps
    U = rng.integers(0, 2**16, (2, 30000)).astype("u2")
    same(cw.asarray(U, chunks=(2, 4000)) @ cw.asarray(U.T), U @ U.T)
    L = rng.integers(-2**40, 2**40, (2, 20000))
    same(cw.asarray(L, chunks=(2, 3000)) @ cw.asarray(L.T), L @ L.T)
    P = rng.random((3, 30000)) > 0.9999
    same(cw.asarray(P, chunks=(3, 5000)) @ cw.asarray(P.T), P @ P.T)
    H = rng.standard_normal((2, 10000)).astype("f2")
    close(cw.asarray(H, chunks=(2, 1000)) @ cw.asarray(H.T), H @ H.T, rtol=1e-2)


def test_transposing_reads_and_copies():
    """Reads whose source is contiguous along one axis and the result along
    another (a transposed view, a column of chunks) are copied tile by
    tile: NumPy's values for every item size, with steps, edges and
    batches."""
    rng = np.random.default_rng(3)
    for dt in ["u1", "i2", "f4", "f8", "c16"]:
        a = (rng.standard_normal((301, 77)) * 50).astype(dt)
        x = cw.asarray(a, chunks=(64, 77))
        same(x.T, a.T)
        same(x[3::2, 5:70:3].T, a[3::2, 5:70:3].T)
        same(x.T[::-1], a.T[::-1])
        b = a[:300].reshape(6, 50, 77)
        same(np.transpose(cw.asarray(b, chunks=(2, 50, 77)), (0, 2, 1)),
             np.transpose(b, (0, 2, 1)))
        same(np.transpose(cw.asarray(b, chunks=(2, 50, 77)), (2, 1, 0)),
             np.transpose(b, (2, 1, 0)))


def test_floating_point_warnings_follow_errstate():
    """Division by zero, overflow and invalid operations are reported as
    NumPy reports them, following numpy.errstate."""
    a = cw.asarray(np.array([1.0, 0.0, -1.0, 1e308]), chunks=2)
    with np.errstate(all="warn"):
        with pytest.warns(RuntimeWarning, match="divide by zero"):
            (a / 0).compute()
        with pytest.warns(RuntimeWarning, match="overflow"):
            (a * 10).compute()
        with pytest.warns(RuntimeWarning, match="invalid value"):
            np.sqrt(a).sum().compute()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            (a + 1).compute()  # nothing raised, nothing reported
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError, match="divide by zero"):
            (a / 0).compute()
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            (a / 0).compute()


def test_reductions_read_the_data_as_it_is_now(tmp_path):
    """A lazy reduction is evaluated from the sources at each compute, like
    any read: nothing is kept from an earlier call."""
    x = np.arange(12.0).reshape(3, 4)
    s = cw.asarray(x, chunks=(1, 4)).sum(axis=0)
    m = np.argmax(cw.asarray(x, chunks=(1, 4)))
    first, k = s.compute().copy(), int(m)
    x[...] = -x  # the in-memory source changes underneath
    same(s, (-np.arange(12.0).reshape(3, 4)).sum(axis=0))
    assert not np.array_equal(first, s.compute())
    assert int(m) == 0 and k == 11


def test_indexing_a_reduction_stays_lazy(tmp_path):
    """Indexing or transposing a reduction (also inside an expression)
    reads nothing until compute(), and then uses the data as it is then."""
    x = np.arange(60.0).reshape(6, 10)
    path = tmp_path / "lazy.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(4, 3))
    h = cw.open(path, "x")
    cw.reset_stats()
    exprs = [h.sum(axis=0)[2:], (h - h.mean(axis=0))[1:3, ::2], h.max(axis=1).T,
             np.cumsum(h, axis=0)[::2].T, np.argmax(h, axis=0)[1:4],
             h.min(axis=0, keepdims=True).T[3:, 0]]
    assert cw.stats()["chunks_read"] == 0
    with h5py.File(path, "r+") as f:
        f["x"][0, :] = -1.0
    x[0, :] = -1.0
    want = [x.sum(axis=0)[2:], (x - x.mean(axis=0))[1:3, ::2], x.max(axis=1).T,
            np.cumsum(x, axis=0)[::2].T, np.argmax(x, axis=0)[1:4],
            x.min(axis=0, keepdims=True).T[3:, 0]]
    for e, w in zip(exprs, want):
        close(e, w)
    for got, w in zip(cw.compute(*exprs), want):
        close(got, w)
    with pytest.raises(IndexError):
        h.sum(axis=0)[10]


@pytest.mark.parametrize("dt", ["f8", "f4", "f2", "c16", "c8", "i4", "u1", "?"])
@pytest.mark.parametrize("where", ["memory", "hdf5"])
def test_nanvar_nanstd_lazy_as_numpy(tmp_path, dt, where):
    """NaNs left out, NumPy's dtypes (float32 stays float32), slices with
    no degree of freedom (all NaN, or ddof >= count) NaN."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((13, 17)) * 10
    x = (x > 0) if dt == "?" else x.astype(dt)
    if x.dtype.kind in "fc":
        x[rng.random(x.shape) < 0.2] = np.nan
        x[3, :] = np.nan
    if where == "memory":
        a = cw.asarray(x, chunks=(4, 5))
    else:
        path = tmp_path / "v.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=x, chunks=(4, 5), compression="gzip")
        a = cw.open(path, "x")
    rtol = 4e-3 if dt == "f2" else 2e-6 if dt in ("f4", "c8") else 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        warnings.simplefilter("ignore", RuntimeWarning)   # NumPy's dof <= 0 warning
        for func in (np.nanvar, np.nanstd):
            for axis, ddof, keepdims in [(None, 0, False), (0, 1, False), (1, 13, True),
                                         ((0, 1), 0, True), (0, 13, False), (1, 0, False)]:
                e = func(x, axis=axis, ddof=ddof, keepdims=keepdims)
                r = func(a, axis=axis, ddof=ddof, keepdims=keepdims)
                assert isinstance(r, cw.Array)
                r = np.asarray(r)
                assert r.dtype == e.dtype and r.shape == np.shape(e)
                np.testing.assert_allclose(r, e, rtol=rtol, atol=0, equal_nan=True)
