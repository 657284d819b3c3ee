"""numpy.einsum, tensordot, inner, outer, vdot, vecdot, matvec and vecmat on
chunkwise Arrays, against NumPy.

Integer and bool results are compared exactly.  Floating results are
compared with assert_allclose at rtol 1e-12 (float64, complex128) or 1e-5
(float32): the lazy sums add blocks and then combine them, NumPy adds in
its own order (or through BLAS), so only the rounding differs.
"""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw
from data_helpers import random_data
from memory_helpers import run_measured

RNG = np.random.default_rng(7)


def _data(shape, dtype):
    return random_data(RNG, shape, dtype)


def check(got, want):
    assert isinstance(got, cw.Array), type(got)
    got = np.asarray(got)
    assert got.shape == want.shape
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype.kind in "fc":
        rtol = 1e-5 if want.dtype in (np.float32, np.complex64) else 1e-12
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 10)
    else:
        np.testing.assert_array_equal(got, want)


def lazy(x):
    """Chunks that split every axis of more than one element."""
    return cw.asarray(x, chunks=tuple(max(1, (n + 1) // 2) for n in x.shape))


CASES = [
    ("ij,jk->ik", [(6, 5), (5, 4)]),
    ("ij,jk", [(6, 5), (5, 4)]),
    ("ij,kj->ik", [(6, 5), (4, 5)]),
    ("ji,jk->ki", [(5, 6), (5, 4)]),
    ("ii->i", [(5, 5)]),
    ("ii", [(5, 5)]),
    ("iji->j", [(3, 4, 3)]),
    ("ij->ji", [(3, 4)]),
    ("ij", [(3, 4)]),
    ("ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ij,ij->i", [(6, 5), (6, 5)]),
    ("i,i", [(7,), (7,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bij,bjk->bik", [(3, 4, 5), (3, 5, 2)]),
    ("...ij,...jk", [(2, 3, 4, 5), (5, 3)]),
    ("...i,...i->...", [(2, 3, 4), (3, 4)]),
    ("i...->...", [(3, 2, 4)]),
    ("ijk,jil->kl", [(3, 4, 5), (4, 3, 2)]),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
    ("i,i,i", [(6,), (6,), (6,)]),
    ("ij,j->i", [(4, 1), (3,)]),
]


@pytest.mark.parametrize("subs,shapes", CASES)
@pytest.mark.parametrize("dtype", ["int32", "float64", "complex128"])
def test_einsum_matches_numpy(subs, shapes, dtype):
    ops = [_data(s, dtype) for s in shapes]
    check(np.einsum(subs, *[lazy(o) for o in ops]), np.einsum(subs, *ops))


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int64", "float32",
                                   "complex64"])
def test_einsum_dtypes(dtype):
    a, b = _data((6, 5), dtype), _data((5, 4), dtype)
    for subs in ("ij,jk->ik", "ij,ij->i", "ii->i", "ij->"):
        x, y = (a, a) if subs == "ij,ij->i" else (a, b)
        ops = (x[:5, :5],) if subs == "ii->i" else (x,) if subs == "ij->" else (x, y)
        check(np.einsum(subs, *[lazy(o) for o in ops]), np.einsum(subs, *ops))


def test_einsum_mixed_operands_and_sublists():
    a, b = _data((4, 3), "float64"), _data((3, 2), "int32")
    check(np.einsum("ij,jk", lazy(a), b), np.einsum("ij,jk", a, b))
    check(np.einsum(lazy(a), [0, 1], lazy(b), [1, 2], [0, 2]),
          np.einsum(a, [0, 1], b, [1, 2], [0, 2]))
    check(np.einsum(lazy(a), [0, 1]), np.einsum(a, [0, 1]))


def test_einsum_dtype_casting_optimize():
    a = _data((4, 3), "float64")
    check(np.einsum("ij,ij->i", lazy(a), lazy(a), dtype=np.float32, casting="same_kind"),
          np.einsum("ij,ij->i", a, a, dtype=np.float32, casting="same_kind"))
    with pytest.raises(TypeError):
        np.einsum("ij,ij->i", lazy(a), lazy(a), dtype=np.float32)
    for opt in (True, False, "greedy", "optimal"):
        check(np.einsum("ij,jk", lazy(a), lazy(a.T), optimize=opt),
              np.einsum("ij,jk", a, a.T, optimize=opt))


def test_einsum_errors():
    a = lazy(_data((4, 3), "float64"))
    with pytest.raises(ValueError):
        np.einsum("ij,jk", a, lazy(_data((4, 2), "float64")))
    with pytest.raises(ValueError):
        np.einsum("ii", a)
    with pytest.raises(ValueError):
        np.einsum("ijk", a)
    with pytest.raises(ValueError):
        np.einsum("ij->k", a)


def test_einsum_hdf5_input(tmp_path):
    x = _data((40, 30), "float64")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(7, 9))
        f.create_dataset("s", data=x[:30, :30].astype("i4"), chunks=(8, 11))
    a, s = cw.open(tmp_path / "x.h5", "/x"), cw.open(tmp_path / "x.h5", "/s")
    xi = x[:30, :30].astype("i4")
    check(np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", x, x))
    check(np.einsum("ij,kj->ik", a, a), np.einsum("ij,kj->ik", x, x))
    check(np.einsum("ii->i", s), np.einsum("ii->i", xi))
    check(np.einsum("ij,jk->ik", s, s), np.einsum("ij,jk->ik", xi, xi))


def test_no_fallback():
    a = lazy(_data((5, 5), "float64"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        for r in (np.einsum("ij,jk", a, a), np.einsum("ii", a), np.tensordot(a, a),
                  np.inner(a, a), np.outer(a, a), np.vdot(a, a), np.vecdot(a, a),
                  np.matvec(a, a[0]), np.vecmat(a[0], a)):
            assert isinstance(r, cw.Array)


@pytest.mark.parametrize("sa,sb,axes", [
    ((3, 4, 5), (4, 5, 2), 2), ((3, 4), (4, 5), 1), ((3, 4), (5,), 0),
    ((3, 4, 5), (5, 4, 2), ([1, 2], [1, 0])), ((4, 3), (4, 2), (0, 0)),
    ((2, 3, 4), (2, 3, 4), 3), ((3, 4, 5), (2, 4), ([-2], [-1])),
])
@pytest.mark.parametrize("dtype", ["int64", "float64", "complex64"])
def test_tensordot(sa, sb, axes, dtype):
    a, b = _data(sa, dtype), _data(sb, dtype)
    check(np.tensordot(lazy(a), lazy(b), axes), np.tensordot(a, b, axes))


def test_tensordot_errors():
    a = lazy(_data((3, 4), "float64"))
    with pytest.raises(ValueError):
        np.tensordot(a, a, 1)
    with pytest.raises(ValueError):
        np.tensordot(a, a, ([0, 1], [0]))


@pytest.mark.parametrize("dtype", ["bool", "int32", "float64", "complex128"])
def test_inner_outer_vdot(dtype):
    a, b = _data((3, 4), dtype), _data((2, 5, 4), dtype)
    check(np.inner(lazy(a), lazy(b)), np.inner(a, b))
    check(np.outer(lazy(a), lazy(b)), np.outer(a, b))
    if dtype != "bool":
        c = _data((4, 3), dtype)
        check(np.vdot(lazy(a), lazy(c)), np.asarray(np.vdot(a, c)))
    with pytest.raises(ValueError):
        np.inner(lazy(a), lazy(_data((3,), dtype)))
    with pytest.raises(ValueError):
        np.vdot(lazy(a), lazy(b))


@pytest.mark.parametrize("dtype", ["int32", "float64", "complex128"])
def test_vecdot_matvec_vecmat(dtype):
    x, m = _data((3, 4, 5), dtype), _data((5, 5), dtype)
    check(np.vecdot(lazy(x), lazy(x)), np.vecdot(x, x))
    check(np.vecdot(lazy(x), x[0]), np.vecdot(x, x[0]))
    check(np.matvec(lazy(m), lazy(x)), np.matvec(m, x))
    check(np.vecmat(lazy(x), lazy(m)), np.vecmat(x, m))


def test_rowwise_einsum_to_hdf5_holds_budget(tmp_path):
    """A 128 MiB float64 input streamed through 'ij,ij->i' into HDF5 under a
    16 MiB memory_limit: the peak stays near the limit, not the data."""
    limit = 16 * 2**20
    path = tmp_path / "x.h5"
    r = run_measured(f"""
        n = 128 * 2**20 // 8 // 64
        a = (cw.arange(0, n, dtype="f8", chunks=4096)[:, None] * 64
             + cw.arange(0, 64, dtype="f8")[None, :]) * 1e-6
        a.to_hdf5({str(path)!r}, "/x", chunks=(4096, 64), compression="blosc-lz4")
        x = cw.open({str(path)!r}, "/x")
        base = rss()
        np.einsum("ij,ij->i", x, x).to_hdf5({str(path)!r}, "/y")
        p = peak()
        y = cw.open({str(path)!r}, "/y")[-3:].compute()
        last = np.arange(n * 64 - 192, n * 64, dtype="f8").reshape(3, 64) * 1e-6
        ok = bool(np.allclose(y, np.einsum("ij,ij->i", last, last), rtol=1e-12))
        print(json.dumps({{"base": base, "peak": p, "ok": ok}}))
    """, limit, timeout=600)
    assert r["ok"], r
    assert r["peak"] - r["base"] < limit + 24 * 2**20, r


def test_columnwise_einsum_of_hdf5_holds_budget(tmp_path):
    """'ij,ij->j' (a reduction over the rows of a product) of a 128 MiB
    HDF5 input under a 16 MiB memory_limit: the peak stays near the limit."""
    limit = 16 * 2**20
    path = tmp_path / "x.h5"
    r = run_measured(f"""
        n = 128 * 2**20 // 8 // 64
        a = (cw.arange(0, n, dtype="f8", chunks=4096)[:, None] % 97
             + cw.arange(0, 64, dtype="f8")[None, :])
        a.to_hdf5({str(path)!r}, "/x", chunks=(4096, 64), compression="blosc-lz4")
        x = cw.open({str(path)!r}, "/x")
        base = rss()
        got = np.einsum("ij,ij->j", x, x).compute()
        p = peak()
        rows = np.arange(n, dtype="f8")[:, None] % 97 + np.arange(64, dtype="f8")[None, :]
        # Integer-valued products and sums below 2**53: exact in any order.
        ok = bool(np.array_equal(got, np.einsum("ij,ij->j", rows, rows)))
        print(json.dumps({{"base": base, "peak": p, "ok": ok}}))
    """, limit, timeout=600)
    assert r["ok"], r
    assert r["peak"] - r["base"] < limit + 24 * 2**20, r


# --------------------------------------------- complex matrix products
# Four real products of the engine (ar br - ai bi, ar bi + ai br), summed
# in its order: compared at rtol 1e-12 (complex128) or 1e-5 (complex64).

@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_matmul_dot_einsum(dtype):
    x, y = _data((9, 7), dtype), _data((7, 5), dtype)
    s = _data((3, 9, 7), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        check(lazy(x) @ lazy(y), x @ y)
        check(lazy(x).T @ lazy(x), x.T @ x)
        check(np.matmul(lazy(s), y), np.matmul(s, y))
        check(np.dot(lazy(x), lazy(y)), np.dot(x, y))
        check(np.dot(lazy(x[:, 0]), lazy(x[:, 1])), np.dot(x[:, 0], x[:, 1]))
        check(lazy(x) @ y[:, 0], x @ y[:, 0])
        check(lazy(x) @ y.real.astype("float32"), x @ y.real.astype("float32"))
        check(np.einsum("ij,kj->ik", lazy(x), lazy(x)), np.einsum("ij,kj->ik", x, x))
        check(np.tensordot(lazy(x), lazy(y), 1), np.tensordot(x, y, 1))


_EINSUM = [("ijk,j->ik", [(3, 4, 5), (4,)]), ("...ab,...b->...a", [(3, 4, 5), (5,)]),
           ("ijk,kj->i", [(3, 4, 5), (5, 4)]), ("ijk", [(3, 4, 5)]), ("ijk->kji", [(3, 4, 5)]),
           ("ij,ij->", [(3, 4), (3, 4)]), ("ij->j", [(3, 4)]), ("i,j->ij", [(4,), (3,)]),
           ("...j,j", [(2, 3, 4), (4,)]), ("ij,jk,k->i", [(3, 4), (4, 5), (5,)]),
           ("...i,...i->...", [(2, 1, 4), (3, 4)]), ("ba,a -> b", [(3, 4), (4,)]),
           ("aB,Ac->cBA", [(3, 4), (5, 2)]), ("bA,c", [(3, 4), (2,)])]


@pytest.mark.parametrize("dt", ["f8", "f4", "i8", "i1", "c16"])
@pytest.mark.parametrize("subscripts,shapes", _EINSUM)
def test_einsum_lazy(subscripts, shapes, dt):
    rng = np.random.default_rng(3)
    arrays = [(rng.standard_normal(s) * 5).astype(dt) for s in shapes]
    lazy = [cw.asarray(a, chunks=2) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        got = np.einsum(subscripts, *lazy)
    expected = np.einsum(subscripts, *arrays)
    assert isinstance(got, cw.Array)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if np.dtype(dt).kind in "fc":
        # Summed chunk by chunk, einsum in its own order.
        rtol = 1e-5 if dt == "f4" else 1e-12
        np.testing.assert_allclose(got.compute(), expected, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(got.compute(), expected, strict=True)   # wraps alike
