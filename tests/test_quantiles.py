"""Order statistics against NumPy exactly: percentile, quantile, median,
their nan forms, partition and argpartition, over in-memory and HDF5
inputs chunked along every axis."""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw
from memory_helpers import run_measured

METHODS = ["inverted_cdf", "averaged_inverted_cdf", "closest_observation",
           "interpolated_inverted_cdf", "hazen", "weibull", "linear", "median_unbiased",
           "normal_unbiased", "lower", "higher", "nearest", "midpoint"]
QS = [0.3, 0.0, 1.0, [0.0, 0.1, 0.5, 0.999, 1.0], np.float32(0.7), [[0.25], [0.75]]]
DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]


def same(r, e):
    """Equal values (NaN equal), dtype, shape and result type: a chunkwise
    Array where NumPy gives an ndarray or a scalar (a 0-d Array, as every
    reduction over all axes gives)."""
    assert isinstance(r, cw.Array) or type(r) is type(e), (type(r), type(e))
    r = np.asarray(r)
    assert r.dtype == np.asarray(e).dtype and r.shape == np.shape(e), (r, e)
    np.testing.assert_array_equal(r, e)


def data(dtype, shape=(37, 23), seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("q", QS, ids=str)
def test_quantile_every_method_whole(method, q):
    a = data("float64")
    x = cw.asarray(a, chunks=(10, 7))
    same(np.quantile(x, q, method=method), np.quantile(a, q, method=method))
    qp = np.multiply(q, 100)
    same(np.percentile(x, qp, method=method), np.percentile(a, qp, method=method))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["linear", "lower", "nearest", "median_unbiased",
                                    "inverted_cdf", "midpoint"])
def test_dtypes_whole(dtype, method):
    a = data(dtype)
    x = cw.asarray(a, chunks=(8, 5))
    q = [0.0, 0.13, 0.5, 0.87, 1.0]
    same(np.quantile(x, q, method=method), np.quantile(a, q, method=method))
    same(np.nanquantile(x, 0.4, method=method), np.nanquantile(a, 0.4, method=method))
    same(np.median(x), np.median(a))
    same(np.nanmedian(x), np.nanmedian(a))


def test_bool():
    a = data("int8") > 0
    x = cw.asarray(a, chunks=(8, 5))
    for m in ("lower", "higher", "nearest", "inverted_cdf"):
        same(np.quantile(x, [0.2, 0.9], method=m), np.quantile(a, [0.2, 0.9], method=m))
    same(np.median(x), np.median(a))
    with pytest.raises(TypeError):
        np.quantile(a, 0.5)
    with pytest.raises(TypeError):
        np.quantile(x, 0.5)


def test_ties_and_infinities():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, (50, 40)).astype(float)
    a[3, :5] = np.inf
    a[7, :2] = -np.inf
    x = cw.asarray(a, chunks=(9, 11))
    for m in METHODS:
        q = [0.0, 0.001, 0.3, 0.5, 0.999, 1.0]
        same(np.quantile(x, q, method=m), np.quantile(a, q, method=m))
    c = np.full((30, 30), 5, np.int32)
    same(np.median(cw.asarray(c, chunks=7)), np.median(c))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_nan(dtype):
    a = data(dtype)
    a[[2, 5, 30], [1, 7, 22]] = np.nan
    x = cw.asarray(a, chunks=(10, 6))
    for m in ("linear", "lower", "hazen"):
        q = [0.1, 0.5, 1.0]
        same(np.quantile(x, q, method=m), np.quantile(a, q, method=m))
        same(np.quantile(x, 0.5, method=m), np.quantile(a, 0.5, method=m))
        same(np.nanquantile(x, q, method=m), np.nanquantile(a, q, method=m))
        same(np.nanpercentile(x, 37, method=m), np.nanpercentile(a, 37, method=m))
    same(np.median(x), np.median(a))
    same(np.nanmedian(x), np.nanmedian(a))


def test_all_nan_and_empty_warn_as_numpy():
    a = np.full((4, 5), np.nan, np.float32)
    x = cw.asarray(a, chunks=2)
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        r = np.nanmedian(x)
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        same(r, np.nanmedian(a))
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        same(np.nanquantile(x, [0.1, 0.5]), np.nanquantile(np.full((4, 5), np.nan), [0.1, 0.5]).astype(np.float32))
    e = cw.asarray(np.empty((0, 3)))
    with pytest.warns(RuntimeWarning):
        same(np.median(e), np.float64(np.nan))
    with pytest.raises(IndexError):
        np.quantile(e, 0.5)


def test_errors_as_numpy():
    x = cw.asarray(data("float64"), chunks=5)
    with pytest.raises(ValueError, match="Quantiles must be in the range"):
        np.quantile(x, 1.5)
    with pytest.raises(ValueError, match="Percentiles must be in the range"):
        np.percentile(x, [10, 200])
    with pytest.raises(ValueError, match="not a valid method"):
        np.quantile(x, 0.5, method="foo")
    with pytest.raises(np.exceptions.AxisError):
        np.median(x, axis=2)
    with pytest.raises(ValueError, match="Only method 'inverted_cdf' supports weights"):
        np.quantile(x, 0.5, weights=np.ones(x.shape))


def test_weights_are_numpys():
    a = data("float64")
    w = np.random.default_rng(3).random(a.shape)
    x = cw.asarray(a, chunks=5)
    with pytest.warns(cw.FallbackWarning):
        r = np.quantile(x, [0.2, 0.7], method="inverted_cdf", weights=w)
    np.testing.assert_array_equal(np.asarray(r),
                                  np.quantile(a, [0.2, 0.7], method="inverted_cdf", weights=w))


@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), (1, 2), (0, 1, 2), None])
@pytest.mark.parametrize("keepdims", [False, True])
def test_axes(axis, keepdims):
    a = data("float32", (11, 13, 9))
    a[1, 2, 3] = np.nan
    x = cw.asarray(a, chunks=(4, 5, 2))
    for m in ("linear", "nearest", "weibull"):
        same(np.quantile(x, [0.2, 0.6], axis=axis, method=m, keepdims=keepdims),
             np.quantile(a, [0.2, 0.6], axis=axis, method=m, keepdims=keepdims))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            same(np.nanpercentile(x, 40.0, axis=axis, method=m, keepdims=keepdims),
                 np.nanpercentile(a, 40.0, axis=axis, method=m, keepdims=keepdims))
    same(np.median(x, axis=axis, keepdims=keepdims), np.median(a, axis=axis, keepdims=keepdims))
    same(np.nanmedian(x, axis=axis, keepdims=keepdims),
         np.nanmedian(a, axis=axis, keepdims=keepdims))


def test_along_axis_is_lazy():
    a = data("int16", (40, 30))
    x = cw.asarray(a, chunks=(7, 6))
    r = np.percentile(x, [5, 95], axis=0)
    assert isinstance(r, cw.Array)
    same(r + 1, np.percentile(a, [5, 95], axis=0) + 1)


def test_out():
    a = data("float64")
    x = cw.asarray(a, chunks=6)
    out = np.empty(3)
    r = np.quantile(x, [0.1, 0.5, 0.9], out=out)
    assert r is out
    np.testing.assert_array_equal(out, np.quantile(a, [0.1, 0.5, 0.9]))
    out = np.empty(a.shape[1])
    assert np.median(x, axis=0, out=out) is out
    np.testing.assert_array_equal(out, np.median(a, axis=0))


def test_hdf5_inputs(tmp_path):
    path = tmp_path / "q.h5"
    arrays = {d: data(d, (61, 47), seed=5) for d in ("int32", "uint16", "float32", "float64")}
    arrays["float64"][::7, ::5] = np.nan
    with h5py.File(path, "w") as f:
        for d, a in arrays.items():
            f.create_dataset(d, data=a, chunks=(16, 9), compression="gzip")
    for d, a in arrays.items():
        x = cw.open(str(path), "/" + d)
        for m in ("linear", "closest_observation", "normal_unbiased"):
            q = [0.01, 0.5, 0.77]
            same(np.quantile(x, q, method=m), np.quantile(a, q, method=m))
            same(np.nanquantile(x, q, method=m), np.nanquantile(a, q, method=m))
            same(np.nanquantile(x, q, axis=1, method=m), np.nanquantile(a, q, axis=1, method=m))
        same(np.nanmedian(x), np.nanmedian(a))
        same(np.median(x, axis=0), np.median(a, axis=0))


def test_many_passes_under_small_memory_limit():
    # A small memory_limit forces few bins per pass and small extractions:
    # several refinement passes, the same exact answer.
    a = np.random.default_rng(7).standard_normal(200_000) ** 3
    x = cw.asarray(a, chunks=2_000)
    q = np.linspace(0, 1, 11)
    with cw.config(memory_limit=2**20):
        same(np.quantile(x, q), np.quantile(a, q))
        same(np.median(x), np.median(a))


def test_thread_count_does_not_matter():
    a = data("float64", (300, 200), seed=9)
    x = cw.asarray(a, chunks=(31, 17))
    res = []
    for t in (1, 2, 4):
        with cw.config(threads=t, memory_limit=2**18):
            res.append((np.quantile(x, [0.1, 0.5, 0.9]), np.asarray(np.median(x, axis=1))))
    for r in res[1:]:
        np.testing.assert_array_equal(r[0], res[0][0])
        np.testing.assert_array_equal(r[1], res[0][1])
    np.testing.assert_array_equal(res[0][0], np.quantile(a, [0.1, 0.5, 0.9]))


def test_axis_too_long_raises_budget_error():
    x = cw.zeros((4, 2**20), chunks=(1, 2**16))
    with cw.config(memory_limit=2**20, threads=1):
        with pytest.raises(cw.MemoryBudgetError, match="axis=None"):
            np.median(x, axis=1)
        with pytest.raises(cw.MemoryBudgetError):
            np.partition(x, 3, axis=1)


@pytest.mark.parametrize("dtype", ["int8", "uint32", "float32", "float64"])
def test_partition(dtype):
    a = data(dtype, (23, 31))
    x = cw.asarray(a, chunks=(5, 7))
    for axis in (0, 1, -1):
        for kth in (3, [0, 5, 10]):
            same(np.partition(x, kth, axis=axis), np.partition(a, kth, axis=axis))
            same(np.argpartition(x, kth, axis=axis), np.argpartition(a, kth, axis=axis))
    same(np.partition(x, 100, axis=None), np.partition(a, 100, axis=None))
    with pytest.raises(ValueError):
        np.partition(x, 40, axis=0)


def test_median_of_big_hdf5_holds_budget(tmp_path):
    # 128 MiB of float64 in HDF5 (h5py-written); median and percentiles
    # under an 8 MiB memory_limit stay within it plus allowance, exactly.
    path = tmp_path / "big.h5"
    n = 16 * 2**20
    rng = np.random.default_rng(11)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", (n,), "f8", chunks=(2**17,))
        for i in range(0, n, 2**21):
            d[i:i + 2**21] = rng.standard_normal(2**21)
    limit = 8 * 2**20
    r = run_measured(f"""
        x = cw.open({str(path)!r}, "/x")
        base = rss()
        m = np.median(x)
        p = np.percentile(x, [1, 50, 99.9]).tolist()
        print(json.dumps({{"base": base, "peak": peak(), "m": float(m), "p": p}}))
    """, limit, timeout=600)
    assert r["peak"] - r["base"] < limit + 16 * 2**20, r
    with h5py.File(path, "r") as f:
        a = f["x"][...]
    assert r["m"] == np.median(a)
    assert r["p"] == np.percentile(a, [1, 50, 99.9]).tolist()
