"""numpy.linalg.norm, vector_norm and matrix_norm on chunkwise Arrays,
against NumPy.

Maxima, minima and counts (ord inf, -inf, 0 and the matrix 1/-1/inf/-inf
maxima of sums of integers) are exact; sums of floats are compared at
rtol 1e-12 (float64, complex128) or 1e-5 (float32, complex64): the engine
adds blocks and then combines them, NumPy adds in its own order or
through BLAS, so only the rounding differs.
"""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw
from data_helpers import lazy, random_data

RNG = np.random.default_rng(11)


def _data(shape, dtype):
    return random_data(RNG, shape, dtype)


def check(got, want):
    assert isinstance(got, cw.Array), type(got)
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.dtype, want.dtype)
    rtol = 1e-5 if want.dtype in (np.float32, np.complex64) else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol)


DTYPES = ["int32", "bool", "float32", "float64", "complex64", "complex128"]
VECTOR_ORDS = [None, 2, 1, 0, np.inf, -np.inf, 3, 0.5, -1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_vector_norms(dtype, ord):
    x = _data((7, 6), dtype)
    with np.errstate(divide="ignore"):
        for axis in (0, 1, -1):
            for keep in (False, True):
                check(np.linalg.norm(lazy(x), ord, axis, keep),
                      np.linalg.norm(x, ord, axis, keep))
        check(np.linalg.norm(lazy(x[2]), ord), np.linalg.norm(x[2], ord))
        check(np.linalg.vector_norm(lazy(x), ord=ord if ord is not None else 2),
              np.linalg.vector_norm(x, ord=ord if ord is not None else 2))
        check(np.linalg.vector_norm(lazy(x), axis=(0, 1), keepdims=True,
                                    ord=ord if ord is not None else 2),
              np.linalg.vector_norm(x, axis=(0, 1), keepdims=True,
                                    ord=ord if ord is not None else 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
def test_matrix_norms(dtype, ord):
    x = _data((3, 7, 6), dtype)
    for axis in ((1, 2), (2, 1), (0, 2), (-1, 0)):
        for keep in (False, True):
            check(np.linalg.norm(lazy(x), ord, axis, keep),
                  np.linalg.norm(x, ord, axis, keep))
    check(np.linalg.norm(lazy(x[0]), ord), np.linalg.norm(x[0], ord))
    check(np.linalg.matrix_norm(lazy(x), ord=ord or "fro"),
          np.linalg.matrix_norm(x, ord=ord or "fro"))


def test_norm_whole_array_and_hdf5(tmp_path):
    x = _data((40, 30, 4), "float64")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(7, 9, 3))
    a = cw.open(tmp_path / "x.h5", "/x")
    check(np.linalg.norm(a), np.linalg.norm(x))
    check(np.linalg.norm(a, keepdims=True), np.linalg.norm(x, keepdims=True))
    check(np.linalg.norm(a, 1, axis=1), np.linalg.norm(x, 1, axis=1))
    check(np.linalg.norm(a, "fro", axis=(0, 1)), np.linalg.norm(x, "fro", axis=(0, 1)))


def test_lazy_and_fallbacks():
    x = _data((5, 4), "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        assert isinstance(np.linalg.norm(lazy(x), np.inf, axis=0), cw.Array)
        r = np.linalg.norm(lazy(x), "nuc")          # singular values by TSQR
    np.testing.assert_allclose(np.asarray(r), np.linalg.norm(x, "nuc"), rtol=1e-12)
    s = _data((3, 5, 4), "float64")
    with pytest.warns(cw.FallbackWarning):
        r = np.linalg.norm(lazy(s), 2, axis=(1, 2))
    np.testing.assert_allclose(np.asarray(r), np.linalg.norm(s, 2, axis=(1, 2)), rtol=1e-12)


def test_norm_errors():
    a = lazy(_data((3, 4, 5), "float64"))
    for bad in (dict(), dict(ord="fro", axis=0), dict(ord=3, axis=(0, 1)),
                dict(axis=(0, 0)), dict(axis=(0, 1, 2))):
        if not bad:
            with pytest.raises(ValueError):
                np.linalg.norm(a, ord=1)
            continue
        with pytest.raises(ValueError):
            np.linalg.norm(a, **bad)
        with pytest.raises(ValueError):
            np.linalg.norm(np.zeros((3, 4, 5)), **bad)


# ------------------------------------------------------- cov and corrcoef
# The means and the Gram matrix are sums in the engine's order: compared
# at rtol 1e-12 (float64, complex128) or 1e-5 (float32), atol alike for
# entries near 0.

def check_near(got, want):
    assert isinstance(got, cw.Array), type(got)
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.dtype, want.dtype)
    tol = 1e-5 if want.dtype in (np.float32, np.complex64) else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["int16", "bool", "float32", "float64", "complex128"])
@pytest.mark.parametrize("kw", [{}, dict(rowvar=False), dict(bias=True), dict(ddof=3),
                                dict(ddof=0, rowvar=False), dict(dtype=np.float32)])
def test_cov(dtype, kw):
    x = _data((4, 37), dtype)
    m = x if kw.get("rowvar", True) else x.T
    check_near(np.cov(lazy(m), **kw), np.cov(m, **kw))
    check_near(np.cov(lazy(m), m[:2] if kw.get("rowvar", True) else m[:, :2], **kw),
               np.cov(m, m[:2] if kw.get("rowvar", True) else m[:, :2], **kw))
    check_near(np.cov(lazy(x[0]), **kw), np.cov(x[0], **kw))
    r = kw.get("rowvar", True)
    check_near(np.corrcoef(lazy(m), rowvar=r), np.corrcoef(m, rowvar=r))


def test_cov_hdf5_and_errors(tmp_path):
    x = _data((300, 5), "float64")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(41, 2))
    a = cw.open(tmp_path / "x.h5", "/x")
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        check_near(np.cov(a, rowvar=False), np.cov(x, rowvar=False))
        check_near(np.corrcoef(a, rowvar=False), np.corrcoef(x, rowvar=False))
    with pytest.raises(ValueError):
        np.cov(lazy(_data((2, 3, 4), "float64")))
    with pytest.raises(ValueError):
        np.cov(a, ddof=1.5)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        np.cov(lazy(x[:1, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        r = np.cov(a, rowvar=False, fweights=np.arange(300) % 3)
    check_near(r, np.cov(x, rowvar=False, fweights=np.arange(300) % 3))


def test_cov_of_tall_hdf5_holds_budget(tmp_path):
    """np.cov of a 128 MiB tall float64 HDF5 dataset (rows are
    observations) under a 16 MiB memory_limit: the peak stays near the
    limit, not the data."""
    from memory_helpers import run_measured
    limit = 16 * 2**20
    path = tmp_path / "x.h5"
    r = run_measured(f"""
        n = 128 * 2**20 // 8 // 16
        i = cw.arange(0, n, dtype="f8", chunks=8192)[:, None]
        j = cw.arange(0, 16, dtype="f8")[None, :]
        a = np.sin(i * 0.001 * (j + 1)) + j
        a.to_hdf5({str(path)!r}, "/x", chunks=(8192, 16), compression="blosc-lz4")
        x = cw.open({str(path)!r}, "/x")
        base = rss()
        c = np.cov(x, rowvar=False).compute()
        p = peak()
        sub = np.sin(np.arange(0, n, 97, dtype="f8")[:, None] * 0.001 * (np.arange(16) + 1))
        ok = bool(c.shape == (16, 16) and np.all(np.isfinite(c)) and
                  np.allclose(np.diag(c), np.var(sub, axis=0, ddof=1), rtol=0.05))
        print(json.dumps({{"base": base, "peak": p, "ok": ok}}))
    """, limit, timeout=600)
    assert r["ok"], r
    assert r["peak"] - r["base"] < limit + 24 * 2**20, r


FW = RNG.integers(0, 4, 37)
AW = RNG.random(37)


@pytest.mark.parametrize("dtype", ["int16", "float32", "float64", "complex128"])
@pytest.mark.parametrize("kw", [dict(fweights=FW), dict(aweights=AW),
                                dict(fweights=FW, aweights=AW),
                                dict(fweights=FW, aweights=AW, ddof=0),
                                dict(aweights=AW, bias=True), dict(fweights=FW, ddof=3),
                                dict(aweights=AW, rowvar=False), dict(fweights=FW, dtype="f4")])
def test_cov_weights(dtype, kw):
    x = _data((4, 37), dtype)
    m = x if kw.get("rowvar", True) else x.T
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        check_near(np.cov(lazy(m), **kw), np.cov(m, **kw))
        lw = {k: cw.asarray(v, chunks=10) if k.endswith("weights") else v
              for k, v in kw.items()}
        check_near(np.cov(lazy(m), **lw), np.cov(m, **kw))
        check_near(np.cov(lazy(x[0]), **kw), np.cov(x[0], **kw))


def test_cov_weight_errors():
    x = _data((3, 10), "float64")
    a = lazy(x)
    for kw in (dict(fweights=np.full(10, 1.5)), dict(fweights=np.ones((2, 10))),
               dict(fweights=np.ones(9)), dict(fweights=-np.ones(10)),
               dict(aweights=np.ones((2, 10))), dict(aweights=np.ones(11)),
               dict(aweights=-np.ones(10))):
        with pytest.raises(Exception) as want:
            np.cov(x, **kw)
        with pytest.raises(want.type, match=str(want.value)):
            np.cov(a, **kw)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        got = np.cov(a, fweights=np.eye(10, dtype=int)[0])
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"), \
            np.errstate(invalid="ignore", divide="ignore"):
        want = np.cov(x, fweights=np.eye(10, dtype=int)[0])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(np.asarray(got), want)


KRON = [((3, 4), (2, 5)), ((3,), (2, 5)), ((2, 3, 4), (5,)), ((), (3, 2)), ((4,), (3,)),
        ((2, 1, 3), (1, 4, 2)), ((0, 3), (2, 2))]


@pytest.mark.parametrize("sa,sb", KRON)
def test_kron_is_lazy(sa, sb):
    x, y = _data(sa, "int32"), _data(sb, "float32")
    runs = cw.stats()["runs"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        got = np.kron(lazy(x), lazy(y))
        got2 = np.kron(x, lazy(y))
    assert cw.stats()["runs"] == runs
    for g in (got, got2):
        want = np.kron(x, y)
        g = np.asarray(g)
        assert g.shape == want.shape and g.dtype == want.dtype
        np.testing.assert_array_equal(g, want)


def test_trace_is_lazy_nd():
    x = _data((2, 3, 4, 5), "int32")
    a = lazy(x)
    for kw in ({}, dict(offset=1), dict(offset=-2, axis1=1, axis2=3),
               dict(axis1=3, axis2=0, dtype="f4"), dict(offset=7)):
        runs = cw.stats()["runs"]
        t = np.trace(a, **kw)
        assert isinstance(t, cw.Array) and cw.stats()["runs"] == runs
        want = np.trace(x, **kw)
        got = np.asarray(t)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
