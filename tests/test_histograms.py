"""Histograms and counting against NumPy: histogram (bins with a range, as
edges, range found from the data; weights; density), histogram2d,
histogramdd, histogram_bin_edges, bincount, digitize, searchsorted, isin
and count_nonzero, on several shapes, dtypes and chunk grids (every axis
split, edge chunks), in memory and from HDF5 files, with the same results
for 1 and 2 threads."""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw

pytestmark = [pytest.mark.filterwarnings("error::chunkwise.FallbackWarning"),
              pytest.mark.filterwarnings("ignore:Converting input from bool")]

SHAPES = [((1000,), (128,)), ((37, 23), (8, 5)), ((6, 9, 11), (4, 4, 3))]


def _data(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    dt = np.dtype(dtype)
    if dt == bool:
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -50
        return rng.integers(lo, 100, n).astype(dt).reshape(shape)
    a = (rng.normal(size=n) * 3).astype(dt)
    a[:: max(n // 7, 1)] = np.nan
    a[1:: max(n // 11, 1)] = np.inf
    a[2:: max(n // 13, 1)] = -np.inf
    # Values exactly on edges of bins with a range of (-4, 4).
    a[3:: max(n // 5, 1)] = 4
    a[4:: max(n // 6, 1)] = -4
    a[5:: max(n // 9, 1)] = 0.8
    return a.reshape(shape)


def _finite(a):
    return np.where(np.isfinite(a), a, 1) if a.dtype.kind == "f" else a


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f"), (got, want)


def _both(fn, a, chunks, threads=(1, 2)):
    """fn on the NumPy array and on chunkwise arrays (each thread count)."""
    want = fn(a)
    for t in threads:
        with cw.config(threads=t):
            got = fn(cw.asarray(a, chunks=chunks))
        yield got, want


@pytest.fixture(scope="module")
def h5file(tmp_path_factory):
    path = tmp_path_factory.mktemp("hist") / "in.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("f8", data=_data("f8", (301, 45)), chunks=(64, 16))
        f.create_dataset("f4", data=_data("f4", (301, 45), 1), chunks=(50, 45),
                         compression="gzip")
        f.create_dataset("i4", data=_data("i4", (301, 45), 2), chunks=(64, 16))
        f.create_dataset("w", data=np.random.default_rng(3).integers(0, 5, (301, 45))
                         .astype("f8"), chunks=(64, 16))
        f.create_dataset("u2", data=_data("u2", (5000,), 4), chunks=(999,))
    return str(path)


# ----------------------------------------------------------- histogram

@pytest.mark.parametrize("dtype", ["f8", "f4", "f2", "i8", "i2", "u1", "bool"])
@pytest.mark.parametrize("shape,chunks", SHAPES)
def test_histogram_with_range_matches_numpy_exactly(dtype, shape, chunks):
    a = _data(dtype, shape)
    for bins, rng in [(10, (-4, 4)), (7, (-1.5, 2.25)), (1, (0, 1)), (100, (-3.3, 9.1))]:
        for (n, e), (n0, e0) in _both(lambda x: np.histogram(x, bins, range=rng), a,
                                       chunks):
            _same(n, n0)
            _same(e, e0)


@pytest.mark.parametrize("dtype", ["f8", "f4", "i4", "u2", "bool"])
@pytest.mark.parametrize("shape,chunks", SHAPES)
def test_histogram_with_range_found_from_the_data(dtype, shape, chunks):
    a = _finite(_data(dtype, shape))
    for bins in (10, 3, 64):
        for (n, e), (n0, e0) in _both(lambda x: np.histogram(x, bins), a, chunks):
            _same(n, n0)
            _same(e, e0)


def test_histogram_of_bools_warns_as_numpy():
    a = _data("bool", (50,))
    with pytest.warns(RuntimeWarning, match="Converting input from bool"):
        n, e = np.histogram(cw.asarray(a, chunks=8), 3)
    with pytest.warns(RuntimeWarning, match="Converting input from bool"):
        n0, e0 = np.histogram(a, 3)
    _same(n, n0)
    _same(e, e0)


def test_histogram_of_a_constant_and_of_an_empty_array():
    for a in (np.full((40, 3), 2.5), np.full(7, 3, np.int16), np.zeros((0, 4))):
        for (n, e), (n0, e0) in _both(lambda x: np.histogram(x, 5), a, None):
            _same(n, n0)
            _same(e, e0)


def test_histogram_range_found_with_nan_or_inf_is_numpys_error():
    a = _data("f8", (50,))
    with pytest.raises(ValueError, match="autodetected range"):
        np.histogram(a)
    with pytest.raises(ValueError, match="autodetected range"):
        np.histogram(cw.asarray(a, chunks=8))


@pytest.mark.parametrize("dtype", ["f8", "f4", "i8", "u1"])
@pytest.mark.parametrize("shape,chunks", SHAPES)
def test_histogram_with_edges(dtype, shape, chunks):
    a = _data(dtype, shape)
    for edges in ([-4, -1, 0, 0.8, 2, 4], np.array([0, 1, 1, 3, 50], "i8"),
                  np.array([-np.inf, 0, np.inf]), np.float32([-2, 0.8, 4]), [5.0]):
        for (n, e), (n0, e0) in _both(lambda x: np.histogram(x, edges), a, chunks):
            _same(n, n0)
            _same(e, e0)


def test_histogram_edges_not_increasing_is_numpys_error():
    x = cw.asarray(np.arange(10.0), chunks=3)
    with pytest.raises(ValueError, match="monotonically"):
        np.histogram(x, [0, 2, 1])


@pytest.mark.parametrize("shape,chunks", SHAPES)
def test_histogram_weights_and_density(shape, chunks):
    a = _data("f8", shape)
    rng = np.random.default_rng(5)
    wi = rng.integers(-3, 9, shape).astype("i4")     # exact sums
    wf = rng.integers(0, 4, shape).astype("f8")      # integer-valued: exact sums
    wr = rng.random(shape)                           # sums to rounding
    for bins in (9, [-4, -1, 0, 2, 4]):
        for w in (wi, wf):
            n0, e0 = np.histogram(a, bins, range=(-4, 4), weights=w)
            n, e = np.histogram(cw.asarray(a, chunks=chunks), bins, range=(-4, 4),
                                weights=cw.asarray(w, chunks=chunks))
            _same(n, n0)
            _same(e, e0)
        n0, _ = np.histogram(a, bins, range=(-4, 4), weights=wr)
        n, _ = np.histogram(cw.asarray(a, chunks=chunks), bins, range=(-4, 4),
                            weights=cw.asarray(wr, chunks=chunks))
        assert n.dtype == n0.dtype
        np.testing.assert_allclose(n, n0, rtol=1e-12)
        d0, _ = np.histogram(a, bins, range=(-4, 4), density=True)
        d, _ = np.histogram(cw.asarray(a, chunks=chunks), bins, range=(-4, 4),
                            density=True)
        _same(d, d0)


def test_histogram_weights_of_another_shape_is_an_error():
    x = cw.asarray(np.arange(10.0))
    with pytest.raises(ValueError, match="same shape"):
        np.histogram(x, 3, weights=np.ones(9))


def test_histogram_of_an_expression_and_from_hdf5(h5file):
    with h5py.File(h5file) as f:
        a8, a4, i4, w = f["f8"][...], f["f4"][...], f["i4"][...], f["w"][...]
    x8, x4 = cw.open(h5file, "/f8"), cw.open(h5file, "/f4")
    xi, xw = cw.open(h5file, "/i4"), cw.open(h5file, "/w")
    for t in (1, 2):
        with cw.config(threads=t):
            _same(np.histogram(x8, 50, range=(-4, 4))[0], np.histogram(a8, 50, (-4, 4))[0])
            _same(np.histogram(x4, 33, range=(-1, 3))[0], np.histogram(a4, 33, (-1, 3))[0])
            for got, want in zip(np.histogram(xi, 17), np.histogram(i4, 17)):
                _same(got, want)
            _same(np.histogram(xi * 2 - x8, [-9, -1, 0, 1, 9])[0],
                  np.histogram(i4 * 2 - a8, [-9, -1, 0, 1, 9])[0])
            _same(np.histogram(x8, 20, (-4, 4), weights=xw)[0],
                  np.histogram(a8, 20, (-4, 4), weights=w)[0])
            # A reduction inside the data: computed first.
            _same(np.histogram(xi - xi.mean(), 10, (-50, 50))[0],
                  np.histogram(i4 - i4.mean(), 10, (-50, 50))[0])


def test_histogram_returns_ndarrays_without_fallback():
    x = cw.asarray(np.arange(100.0), chunks=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        n, e = np.histogram(x, 4)
    assert type(n) is np.ndarray and type(e) is np.ndarray


def test_histogram_with_string_bins_falls_back_with_a_warning():
    x = cw.asarray(np.arange(100.0), chunks=7)
    with pytest.warns(cw.FallbackWarning):
        n, e = np.histogram(x, "sturges")
    n0, e0 = np.histogram(np.arange(100.0), "sturges")
    _same(np.asarray(n), n0)
    _same(np.asarray(e), e0)


@pytest.mark.parametrize("dtype", ["f8", "f4", "i2", "u1"])
def test_histogram_bin_edges(dtype):
    a = _finite(_data(dtype, (37, 23)))
    for kw in (dict(bins=10), dict(bins=4, range=(-1, 2)), dict(bins=[0, 1, 5])):
        for got, want in _both(lambda x: np.histogram_bin_edges(x, **kw), a, (8, 5)):
            _same(got, want)


# ---------------------------------------------------- histogram2d / dd

@pytest.mark.parametrize("dtype", ["f8", "f4", "i4"])
def test_histogram2d(dtype):
    a = _data(dtype, (500, 2), 7)
    a = a if dtype == "f8" else _finite(a)
    x, y = a[:, 0], a[:, 1]
    for kw in (dict(bins=5, range=[(-4, 4), (-3, 3)]), dict(bins=(3, 8), range=[(-4, 4),
               (-3, 3)]), dict(bins=[[-4, 0, 1, 4], [-2, 2]]),
               dict(bins=[-4, 0, 4], range=None)):
        want = np.histogram2d(x, y, **kw)
        for t in (1, 2):
            with cw.config(threads=t):
                got = np.histogram2d(cw.asarray(x, chunks=64), cw.asarray(y, chunks=64),
                                     **kw)
            for g, w in zip(got, want):
                _same(g, w)
    f = _finite(a)
    want = np.histogram2d(f[:, 0], f[:, 1], bins=6, density=True)
    got = np.histogram2d(cw.asarray(f[:, 0], chunks=64), cw.asarray(f[:, 1], chunks=64),
                         bins=6, density=True)
    for g, w in zip(got, want):
        _same(g, w)


def test_histogramdd_of_an_n_by_d_array_with_weights():
    a = _finite(_data("f8", (400, 3), 8))
    w = np.random.default_rng(9).integers(0, 3, 400).astype("f8")
    for kw in (dict(bins=(3, 4, 5)), dict(bins=4, range=[(-2, 2), None, (0, 5)]),
               dict(bins=[[-1, 0, 1], 3, np.array([0.0, 1, 2, 10])])):
        h0, e0 = np.histogramdd(a, **kw)
        h, e = np.histogramdd(cw.asarray(a, chunks=(64, 2)), **kw)
        _same(h, h0)
        assert len(e) == len(e0) and all(np.array_equal(p, q) for p, q in zip(e, e0))
        hw0, _ = np.histogramdd(a, weights=w, **kw)
        hw, _ = np.histogramdd(cw.asarray(a, chunks=(64, 2)), weights=cw.asarray(w), **kw)
        _same(hw, hw0)
    _same(np.histogramdd(cw.asarray(a), bins=3, density=True)[0],
          np.histogramdd(a, bins=3, density=True)[0])


def test_histogramdd_errors_are_numpys():
    x = cw.asarray(np.zeros((10, 2)))
    with pytest.raises(ValueError):
        np.histogramdd(x, bins=(2, 2, 2))
    with pytest.raises(ValueError):
        np.histogramdd(x, bins=0)


# ------------------------------------------------------------ bincount

@pytest.mark.parametrize("dtype", ["i8", "i4", "u2", "u1", "bool"])
def test_bincount(dtype):
    a = np.abs(_data(dtype, (3001,))).astype(dtype)
    for kw in ({}, dict(minlength=5), dict(minlength=500)):
        for got, want in _both(lambda x: np.bincount(x, **kw), a, (256,)):
            _same(got, want)
    w = np.random.default_rng(1).integers(-5, 5, a.shape).astype("f4")
    for got, want in _both(lambda x: np.bincount(x, weights=w, minlength=3), a, (256,)):
        _same(got, want)
    wr = np.random.default_rng(2).random(a.shape)
    got = np.bincount(cw.asarray(a, chunks=100), weights=cw.asarray(wr, chunks=100))
    np.testing.assert_allclose(got, np.bincount(a, weights=wr), rtol=1e-12)


def test_bincount_beyond_the_first_guess_of_bins():
    a = np.random.default_rng(8).integers(0, 10_000, 20_000)
    a[7] = 123_456
    for got, want in _both(lambda x: np.bincount(x), a, (999,)):
        _same(got, want)
    w = np.random.default_rng(9).integers(0, 3, a.shape).astype("f8")
    for got, want in _both(lambda x: np.bincount(x, w, minlength=200_000), a, (999,)):
        _same(got, want)


def test_bincount_float_sums_are_the_same_for_any_thread_count():
    a = np.random.default_rng(3).integers(0, 40, 100_000)
    w = np.random.default_rng(4).random(100_000)
    got = []
    for t in (1, 2, 3):
        with cw.config(threads=t):
            got.append(np.bincount(cw.asarray(a, chunks=1000),
                                   weights=cw.asarray(w, chunks=1000)))
    assert np.array_equal(got[0], got[1]) and np.array_equal(got[0], got[2])


def test_bincount_beyond_the_memory_limit_is_a_budget_error():
    x = cw.asarray(np.array([0, 10**8]))
    with cw.config(memory_limit=64 * 2**20), pytest.raises(cw.MemoryBudgetError):
        np.bincount(x)


def test_bincount_errors_are_numpys(h5file):
    with pytest.raises(ValueError, match="negative"):
        np.bincount(cw.asarray(np.array([1, -1, 2])))
    with pytest.raises(TypeError):
        np.bincount(cw.asarray(np.array([1.0, 2.0])))
    with pytest.raises(ValueError):
        np.bincount(cw.asarray(np.zeros((2, 2), int)))
    with pytest.raises(ValueError):
        np.bincount(cw.asarray(np.array([1, 2])), minlength=-1)
    _same(np.bincount(cw.asarray(np.zeros(0, int)), minlength=3), np.zeros(3, np.intp))
    with h5py.File(h5file) as f:
        u = f["u2"][...]
    _same(np.bincount(cw.open(h5file, "/u2")), np.bincount(u))
    _same(np.bincount(cw.open(h5file, "/u2")[::3] // 7), np.bincount(u[::3] // 7))


# ------------------------------------------- digitize, searchsorted, isin

@pytest.mark.parametrize("dtype", ["f8", "f4", "i4", "u1", "bool"])
@pytest.mark.parametrize("shape,chunks", SHAPES)
def test_digitize_is_lazy_and_matches_numpy(dtype, shape, chunks):
    a = _data(dtype, shape)
    for bins in ([-4, -1, 0, 0.8, 4], [4, 0.8, 0, -4], [0, 0, 1, 50], np.float32([1.5]),
                 [-np.inf, 0, np.inf, np.nan]):
        for right in (False, True):
            want = np.digitize(a, bins, right=right)
            x = cw.asarray(a, chunks=chunks)
            got = np.digitize(x, bins, right=right)
            assert isinstance(got, cw.Array) and got.chunks == x.chunks
            _same(got.compute(), want)


def test_digitize_errors_are_numpys():
    x = cw.asarray(np.arange(5.0))
    with pytest.raises(ValueError, match="monotonically"):
        np.digitize(x, [0, 2, 1])
    with pytest.raises(TypeError, match="complex"):
        np.digitize(cw.asarray(np.ones(3, complex)), [0, 1])


@pytest.mark.parametrize("dtype", ["f8", "f4", "i8", "u2"])
@pytest.mark.parametrize("shape,chunks", SHAPES)
def test_searchsorted_with_lazy_values(dtype, shape, chunks):
    v = _data(dtype, shape)
    rng = np.random.default_rng(6)
    for table in (np.sort(rng.normal(size=31) * 3), np.sort(rng.integers(-5, 60, 40)),
                  np.array([0.0, 0.8, 0.8, 0.8, np.nan]), np.sort(_data(dtype, (20,), 9))):
        for side in ("left", "right"):
            want = np.searchsorted(table, v, side=side)
            got = np.searchsorted(table, cw.asarray(v, chunks=chunks), side=side)
            assert isinstance(got, cw.Array)
            _same(got.compute(), want)
    # A lazy sorted table, and a sorter.
    t = np.sort(rng.normal(size=50))
    got = np.searchsorted(cw.asarray(t, chunks=7), cw.asarray(v, chunks=chunks))
    _same(got.compute(), np.searchsorted(t, v))
    u = rng.normal(size=50)
    s = np.argsort(u)
    _same(np.searchsorted(u, cw.asarray(v), sorter=s).compute(),
          np.searchsorted(u, v, sorter=s))
    with pytest.raises(ValueError):
        np.searchsorted(t, cw.asarray(v), side="middle")


@pytest.mark.parametrize("dtype", ["f8", "f4", "i4", "u1", "bool"])
@pytest.mark.parametrize("shape,chunks", SHAPES)
def test_isin(dtype, shape, chunks):
    a = _data(dtype, shape)
    for test in ([3, 7, -2, 99], np.array([0.8, np.nan, 4, -np.inf]), [True],
                 np.array([], "i4"), np.arange(-60, 120, 3), np.array([[1, 2], [5, 50]])):
        for invert in (False, True):
            want = np.isin(a, test, invert=invert)
            x = cw.asarray(a, chunks=chunks)
            got = np.isin(x, test, invert=invert)
            assert isinstance(got, cw.Array) and got.shape == a.shape
            _same(got.compute(), want)
    if dtype != "f8" and dtype != "f4":
        _same(np.isin(cw.asarray(a, chunks=chunks), [1, 2], kind="table").compute(),
              np.isin(a, [1, 2], kind="table"))
    with pytest.raises(ValueError):
        np.isin(cw.asarray(a), [1], kind="hash")


def test_isin_table_kind_on_floats_is_numpys_error():
    with pytest.raises(ValueError):
        np.isin(cw.asarray(np.ones(3)), [1.0], kind="table")


def test_isin_from_hdf5(h5file):
    with h5py.File(h5file) as f:
        u = f["u2"][...]
    test = np.arange(0, 100, 7)
    _same(np.isin(cw.open(h5file, "/u2"), test).compute(), np.isin(u, test))
    _same(np.isin(cw.open(h5file, "/u2") + 1, test, invert=True).compute(),
          np.isin(u + 1, test, invert=True))


# ---------------------------------------------------------- count_nonzero

@pytest.mark.parametrize("dtype", ["f8", "i2", "bool"])
def test_count_nonzero_along_axes(dtype):
    a = _data(dtype, (6, 9, 11))
    a = np.where(_finite(a) > 1, a, 0).astype(dtype)
    x = cw.asarray(a, chunks=(4, 4, 3))
    for axis in (None, 0, 1, 2, (0, 2)):
        got = np.count_nonzero(x, axis=axis)
        want = np.count_nonzero(a, axis=axis)
        if axis is not None:
            assert isinstance(got, cw.Array)
            got = got.compute()
        _same(got, want)


@pytest.mark.parametrize("dtype", ["f8", "f4"])
def test_histogram_values_on_and_next_to_every_edge(dtype):
    """The index is corrected against the edges as NumPy corrects it."""
    for bins, rng in [(3, (0.1, 0.7)), (7, (-0.3, 1.1)), (10, (1e-3, 2e-3)), (49, (-7, 13))]:
        e = np.histogram_bin_edges(np.zeros(1, dtype), bins, rng).astype(dtype)
        inf = np.array(np.inf, dtype)
        a = np.concatenate([e, np.nextafter(e, inf), np.nextafter(e, -inf)]).astype(dtype)
        a = np.tile(a, 50)
        for (n, ed), (n0, e0) in _both(lambda x: np.histogram(x, bins, range=rng), a,
                                        (37,)):
            _same(n, n0)
            _same(ed, e0)


def test_histogram2d_histogramdd_digitize_searchsorted_from_hdf5(h5file):
    with h5py.File(h5file) as f:
        a8, i4, w = f["f8"][...], f["i4"][...], f["w"][...]
    x8, xi, xw = cw.open(h5file, "/f8"), cw.open(h5file, "/i4"), cw.open(h5file, "/w")
    for t in (1, 2):
        with cw.config(threads=t):
            for g, r in zip(np.histogram2d(x8[:, 0], xi[:, 1], bins=(5, 6),
                                           range=[(-4, 4), (-50, 100)]),
                            np.histogram2d(a8[:, 0], i4[:, 1], bins=(5, 6),
                                           range=[(-4, 4), (-50, 100)])):
                _same(g, r)
            h, e = np.histogramdd(xi[:, :4], bins=3, weights=xw[:, 0])
            h0, e0 = np.histogramdd(i4[:, :4], bins=3, weights=w[:, 0])
            _same(h, h0)
            assert all(np.array_equal(p, q) for p, q in zip(e, e0))
            _same(np.digitize(x8, [-1, 0, 1]).compute(), np.digitize(a8, [-1, 0, 1]))
            t_ = np.sort(i4[0])
            _same(np.searchsorted(t_, xi, side="right").compute(),
                  np.searchsorted(t_, i4, side="right"))


def test_histogram_equal_bins_on_random_scales_match_numpy_exactly():
    """Data of many scales, ranges as floats, as ints and found, bins up
    to 1000: every dtype path of NumPy's equal-bin arithmetic."""
    rs = np.random.default_rng(11)
    for k in range(4):
        a = (rs.normal(size=20000) * 10 ** rs.uniform(-3, 3)).astype(np.float32)
        for bins in (7, 1000):
            for r in (None, (float(a.min()) * 0.9, float(a.max()) * 0.7),
                      (int(a.min()) - 1, int(a.max()) + 1)):
                for b in (a, a.astype(np.float64), (a * 10).astype(np.int32),
                          a.astype(np.float16)):
                    if b.dtype == np.float16 and not np.isfinite(b).all():
                        continue
                    n, e = np.histogram(cw.asarray(b, chunks=3001), bins, range=r)
                    n0, e0 = np.histogram(b, bins, range=r)
                    _same(n, n0)
                    _same(e, e0)
