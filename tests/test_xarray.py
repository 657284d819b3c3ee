"""xarray over chunkwise arrays: the "chunkwise" chunk manager (entry point
xarray.chunkmanagers), DataArrays whose data stay lazy chunkwise Arrays
through arithmetic and reductions, and ``xr.open_dataset(...,
chunked_array_type="chunkwise")`` opening HDF5 variables with cw.open.
Values are compared with NumPy."""
import warnings

import numpy as np
import pytest

import chunkwise as cw

xr = pytest.importorskip("xarray")


@pytest.fixture(autouse=True)
def _no_fallbacks():
    # Nothing here may materialise a chunkwise input behind the scenes.
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        yield


def _close(actual, expected):
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    if expected.dtype.kind == "f":
        # Up to the order float sums are taken in (pairwise by chunk here).
        rtol = 1e-13 if expected.dtype == np.float64 else 1e-6
        np.testing.assert_allclose(actual, expected, rtol=rtol)
    else:
        np.testing.assert_array_equal(actual, expected)


def test_the_chunk_manager_is_registered():
    from xarray.namedarray.parallelcompat import list_chunkmanagers
    from chunkwise.xarray_chunkmanager import ChunkwiseManager
    managers = list_chunkmanagers()
    assert isinstance(managers["chunkwise"], ChunkwiseManager)
    m = managers["chunkwise"]
    assert m.is_chunked_array(cw.ones(3)) and not m.is_chunked_array(np.ones(3))
    assert m.chunks(cw.ones((5, 4), chunks=(2, 4))) == ((2, 2, 1), (4,))
    assert m.normalize_chunks((2, -1), (5, 4)) == ((2, 2, 1), (4,))
    assert m.normalize_chunks("auto", (5, 4), previous_chunks=(3, 4)) == ((3, 2), (4,))
    assert m.normalize_chunks(((1, 4), (4,)), (5, 4)) == ((1, 4), (4,))


def test_array_chunks_follow_dask():
    x = cw.asarray(np.zeros((10, 5, 0)), chunks=(4, 5, 1))
    assert x.chunksize == (4, 5, 0)
    assert x.chunks == ((4, 4, 2), (5,), (0,))
    assert cw.asarray(np.float32(1)).chunks == ()


def test_dataarray_over_chunkwise_stays_lazy_and_matches_numpy():
    a = np.arange(120, dtype=np.float64).reshape(10, 12) / 7
    i = (np.arange(120, dtype=np.int32).reshape(10, 12) * 13) % 17
    d = xr.DataArray(cw.asarray(a, chunks=(4, 5)), dims=("y", "x"))
    n = xr.DataArray(cw.asarray(i, chunks=(3, 12)), dims=("y", "x"))
    assert d.chunks == ((4, 4, 2), (5, 5, 2))
    cases = [
        (d.mean(), a.mean()), (d.mean("x"), a.mean(axis=1)), (d.sum("y"), a.sum(axis=0)),
        (d.max("x"), a.max(axis=1)), (d.min(), a.min()), (d.std("y", skipna=False), a.std(axis=0)),
        ((d * 2 + 1).sum("x"), (a * 2 + 1).sum(axis=1)), (d.isel(y=slice(2, 7)), a[2:7]),
        (n.sum(), i.sum()), (n.mean("y"), i.mean(axis=0)), (n.max(), i.max()),
        (d.T, a.T), (np.sqrt(d), np.sqrt(a)),
        # skipna (the default for floats): xarray's nanvar/nanstd, lazy too
        (d.std("y"), np.nanstd(a, axis=0)), (d.var(), np.nanvar(a)),
        (d.std("x", ddof=1), np.nanstd(a, axis=1, ddof=1)),
    ]
    for r, e in cases:
        assert isinstance(r.data, cw.Array), r
        _close(r.values, e)
    for r in (d.load(), d.compute(), d.to_numpy()):
        data = r if isinstance(r, np.ndarray) else r.data
        assert type(data) is np.ndarray
        np.testing.assert_array_equal(data, a)


def test_open_dataset_reads_hdf5_variables_lazily(tmp_path):
    pytest.importorskip("h5netcdf")
    path = tmp_path / "d.nc"
    t = np.arange(6 * 10 * 3, dtype=np.float32).reshape(6, 10, 3) / 3
    k = np.arange(6, dtype=np.int64) * 5
    ds = xr.Dataset({"t": (("time", "y", "x"), t), "k": (("time",), k)})
    ds.to_netcdf(path, engine="h5netcdf", encoding={"t": {"chunksizes": (2, 5, 3)}})
    o = xr.open_dataset(path, engine="h5netcdf", chunked_array_type="chunkwise", chunks={})
    assert isinstance(o.t.data, cw.Array) and isinstance(o.k.data, cw.Array)
    assert o.t.data.chunksize == (2, 5, 3)
    assert "hdf5" in repr(o.t.data)              # opened with cw.open, not read
    _close(o.t.mean("time").values, t.mean(axis=0))
    _close(o.t.sum(("y", "x")).values, t.sum(axis=(1, 2)))
    _close((o.k * 2).values, k * 2)
    np.testing.assert_array_equal(o.t.load().data, t)
    o.close()


def test_block_function_hooks_are_chunkwise_blocks():
    from chunkwise.xarray_chunkmanager import ChunkwiseManager
    m = ChunkwiseManager()
    a = np.arange(20, dtype=np.float64).reshape(4, 5) / 3
    x = cw.asarray(a, chunks=(2, 2))
    s = m.map_blocks(np.sin, x)
    assert isinstance(s, cw.Array)
    np.testing.assert_array_equal(s.compute(), np.sin(a))
    r = m.rechunk(x, (3, 5))
    assert r.chunksize == (3, 5)
    np.testing.assert_array_equal(r.compute(), a)
    assert m.array_api.full((2, 3), 1.5, dtype=np.float32, chunks=(1, 3)).chunksize == (1, 3)
    d = xr.DataArray(x, dims=("y", "x"))
    u = xr.apply_ufunc(lambda v: np.cos(v) * 2, d, dask="parallelized",
                       output_dtypes=[np.float64])
    assert isinstance(u.data, cw.Array)
    np.testing.assert_array_equal(u.values, np.cos(a) * 2)
    g = xr.apply_ufunc(lambda v: v.sum(axis=-1), d, input_core_dims=[["x"]],
                       dask="parallelized", output_dtypes=[np.float64],
                       dask_gufunc_kwargs={"allow_rechunk": True})
    assert isinstance(g.data, cw.Array)
    _close(g.values, a.sum(axis=-1))
    with pytest.raises(NotImplementedError, match="scan"):
        m.scan(np.cumsum, np.add, 0, x)
    with pytest.raises(NotImplementedError, match="regular"):
        m.from_array(np.ones(5), ((2, 3),))


def test_from_array_reads_into_memory_within_the_limit(tmp_path):
    import h5py
    from chunkwise.xarray_chunkmanager import ChunkwiseManager
    m = ChunkwiseManager()
    a = np.arange(10.0)
    x = m.from_array(a, ((4, 4, 2),))
    assert isinstance(x, cw.Array) and x.chunksize == (4,)
    np.testing.assert_array_equal(x.compute(), a)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["d"] = a * 3
        # Another library's array: read when it fits, refused otherwise.
        y = m.from_array(f["d"], (5,))
        assert y.chunksize == (5,)
        with cw.config(memory_limit=40):
            with pytest.raises(cw.MemoryBudgetError, match="memory_limit"):
                m.from_array(f["d"], ((10,),))
    np.testing.assert_array_equal(y.compute(), a * 3)
    (value,) = m.compute(x * 2)
    np.testing.assert_array_equal(value, a * 2)
    out = np.zeros(10)
    m.store([x + 1], [out])
    np.testing.assert_array_equal(out, a + 1)


def test_what_xarray_calls_is_lazy_and_as_numpy():
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 3
    a[1, 2] = np.nan
    x = cw.asarray(a, chunks=(2, 2))
    for f, e in [(np.zeros_like(x), np.zeros_like(a)), (np.ones_like(x), np.ones_like(a)),
                 (np.full_like(x, 7, dtype=np.int8), np.full_like(a, 7, dtype=np.int8)),
                 (np.zeros_like(x, shape=(2,)), np.zeros_like(a, shape=(2,))),
                 (x.imag, a.imag), (x.real, a.real),
                 (np.nanmean(x, axis=0), np.nanmean(a, axis=0))]:
        assert isinstance(f, cw.Array)
        _close(f.compute(), e)
    assert np.empty_like(x).shape == a.shape and np.empty_like(x).dtype == a.dtype
    assert np.result_type(x, 1) == np.result_type(a, 1) == np.float32
    assert np.result_type(x, np.float64) == np.float64
    i8 = cw.asarray(np.int8(3))
    assert np.result_type(i8, 300) == np.result_type(np.asarray(np.int8(3)), 300)
    with pytest.raises(OverflowError):
        np.full_like(cw.asarray(np.zeros(2, np.uint8)), -1)


def test_chunk_puts_numpy_data_into_chunkwise_arrays(tmp_path):
    a = np.arange(12.0).reshape(3, 4)
    d = xr.DataArray(a, dims=("a", "b"))
    c = d.chunk({"a": 2}, chunked_array_type="chunkwise")
    assert isinstance(c.data, cw.Array)
    assert c.chunks == ((2, 1), (4,)) and c.data.chunksize == (2, 4)
    assert np.shares_memory(np.from_dlpack(c.data), a)     # wrapped, not copied
    _close(c.mean("a").values, a.mean(axis=0))
    c.to_dataset(name="v").to_netcdf(tmp_path / "o.nc", engine="h5netcdf")
    back = xr.open_dataset(tmp_path / "o.nc", engine="h5netcdf")
    np.testing.assert_array_equal(back.v.values, a)
    back.close()
