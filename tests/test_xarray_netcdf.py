"""xarray workflows over netCDF4 files written by netCDF4-python and by
h5netcdf, opened with engine="h5netcdf" and engine="netcdf4" and
``chunked_array_type="chunkwise"``: every variable is a chunkwise Array read
through chunkwise's own HDF5 path, each step below keeps it a chunkwise
Array without computing (no FallbackWarning, except where stated), and the
values are xarray's over NumPy on the same file: exactly, or to 1e-13
relative where a float sum is taken in another order (chunk by chunk)."""
import os
import warnings

import numpy as np
import pytest

import chunkwise as cw

xr = pytest.importorskip("xarray")
# netCDF4-python sets HDF5_PLUGIN_PATH to its own plugins when imported;
# put it back, or every child process the suite starts inherits it (and
# h5py's HDF5 then loads plugins built for netCDF4's HDF5).
_plugin_path = os.environ.get("HDF5_PLUGIN_PATH")
netCDF4 = pytest.importorskip("netCDF4")
if _plugin_path is None:
    os.environ.pop("HDF5_PLUGIN_PATH", None)
else:
    os.environ["HDF5_PLUGIN_PATH"] = _plugin_path
h5netcdf = pytest.importorskip("h5netcdf")

RNG = np.random.default_rng(7)
T = RNG.standard_normal((8, 6, 5))
T[1, 2, 3] = np.nan
T[5, 0, :] = np.nan
TIME, Y, X = np.arange(8.0), np.arange(6.0) * 2, np.arange(5.0) + 0.5
G = np.array([0, 1, 0, 1, 2, 2, 0, 1])
W = np.array([1.0, 0.5, 2.0, 0.0, 1.5, 3.0])


def _write_netcdf4(path, t, time):
    with netCDF4.Dataset(path, "w") as f:
        for n, v in (("time", time), ("y", Y), ("x", X)):
            f.createDimension(n, len(v))
            f.createVariable(n, "f8", (n,))[:] = v
        f.createVariable("t", "f8", ("time", "y", "x"), chunksizes=(3, 4, 5),
                         zlib=True)[:] = t
        f.createVariable("w", "f8", ("y",))[:] = W


def _write_h5netcdf(path, t, time):
    with h5netcdf.File(path, "w") as f:
        for n, v in (("time", time), ("y", Y), ("x", X)):
            f.dimensions[n] = len(v)
            f.create_variable(n, (n,), data=v)
        f.create_variable("t", ("time", "y", "x"), data=t, chunks=(3, 4, 5),
                          compression="gzip")
        f.create_variable("w", ("y",), data=W)


WRITERS = {"netCDF4": _write_netcdf4, "h5netcdf": _write_h5netcdf}


@pytest.fixture(params=[(w, e) for w in WRITERS for e in ("h5netcdf", "netcdf4")],
                ids=lambda p: f"{p[0]}-written-{p[1]}-engine")
def opened(request, tmp_path):
    writer, engine = request.param
    path = tmp_path / "d.nc"
    WRITERS[writer](path, T, TIME)
    lazy = xr.open_dataset(path, engine=engine, chunked_array_type="chunkwise", chunks={})
    eager = xr.open_dataset(path, engine=engine).load()
    yield lazy, eager, engine, tmp_path
    lazy.close()
    eager.close()


def _same(actual, expected, summed):
    a, e = actual.values, expected.values
    assert a.dtype == e.dtype and a.shape == e.shape
    if summed:
        # Float sums are taken chunk by chunk (pairwise), NumPy's in its order.
        np.testing.assert_allclose(a, e, rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
    else:
        np.testing.assert_array_equal(a, e)
    for name, c in expected.coords.items():
        np.testing.assert_array_equal(actual.coords[name].values, c.values)


STEPS = {   # name: (the step, sums floats in another order, computed by a fallback)
    "mean": (lambda d: d.t.mean("time"), True, False),
    "sum": (lambda d: d.t.sum(("y", "x")), True, False),
    "std": (lambda d: d.t.std("y"), True, False),
    "mean-noskip": (lambda d: d.t.mean("x", skipna=False), True, False),
    "sum-noskip": (lambda d: d.t.sum("time", skipna=False), True, False),
    "std-ddof": (lambda d: d.t.std("time", ddof=1), True, False),
    "arith": (lambda d: (d.t - d.t.mean("time")) / 2, True, False),
    "apply_ufunc": (lambda d: xr.apply_ufunc(lambda v: np.cos(v) * 2 + 1, d.t,
                                             dask="parallelized", output_dtypes=[float]),
                    False, False),
    "where": (lambda d: d.t.where(d.t > 0), False, False),
    "where-other": (lambda d: xr.where(d.t > 0.5, d.t, -d.t), False, False),
    "fillna": (lambda d: d.t.fillna(-1.0), False, False),
    "groupby": (lambda d: d.t.groupby(xr.DataArray(G, dims="time", name="g")).mean(),
                True, False),
    "rolling": (lambda d: d.t.rolling(time=3).mean(), True, False),
    "rolling-center": (lambda d: d.t.rolling(y=2, center=True, min_periods=1).sum(),
                       True, False),
    "coarsen": (lambda d: d.t.coarsen(time=2).mean(), True, False),
    "weighted": (lambda d: d.t.weighted(d.w.load()).mean("y"), True, False),
    "weighted-sum": (lambda d: d.t.weighted(d.w).sum(("y", "x")), True, False),
    # np.nanquantile / np.quantile along an axis: lazy, NumPy's per block
    "quantile": (lambda d: d.t.quantile(0.3, dim="time"), False, False),
    "quantile-noskip": (lambda d: d.t.quantile([0.25, 0.75], dim="x", skipna=False),
                        False, False),
    "interp": (lambda d: d.t.interp(x=[1.0, 2.2, 3.7]), False, False),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_workflow_step_stays_lazy_and_matches_numpy(opened, step):
    lazy, eager, _, _ = opened
    if step == "interp":
        pytest.importorskip("scipy")
    assert isinstance(lazy.t.data, cw.Array) and "hdf5" in repr(lazy.t.data)
    func, summed, fallback = STEPS[step]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", cw.FallbackWarning)
        got = func(lazy)
    fell_back = any(issubclass(w.category, cw.FallbackWarning) for w in seen)
    if fallback is not None:
        assert fell_back == fallback, [str(w.message) for w in seen]
    assert isinstance(got.data, cw.Array)
    _same(got, func(eager), summed)


def test_load_compute_to_numpy(opened):
    lazy, eager, _, _ = opened
    for r in (lazy.t.load(), lazy.t.compute()):
        assert type(r.data) is np.ndarray
        np.testing.assert_array_equal(r.data, T)
    assert type(lazy.t.to_numpy()) is np.ndarray
    np.testing.assert_array_equal(lazy.t.to_numpy(), T)
    c = lazy.compute()
    assert type(c.t.data) is np.ndarray and type(c.w.data) is np.ndarray
    np.testing.assert_array_equal(c.w.data, W)


def test_to_netcdf_writes_lazy_results(opened):
    lazy, eager, engine, tmp = opened
    out = tmp / "out.nc"
    result = xr.Dataset({"m": lazy.t.mean("time"), "f": lazy.t.fillna(0.0)})
    assert isinstance(result.m.data, cw.Array) and isinstance(result.f.data, cw.Array)
    result.to_netcdf(out, engine=engine)
    with xr.open_dataset(out, engine=engine) as back:
        np.testing.assert_allclose(back.m.values, np.nanmean(T, axis=0), rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(back.f.values, np.nan_to_num(T, nan=0.0))


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("engine", ["h5netcdf", "netcdf4"])
def test_open_mfdataset(tmp_path, writer, engine):
    paths = [tmp_path / "a.nc", tmp_path / "b.nc"]
    WRITERS[writer](paths[0], T[:3], TIME[:3])
    WRITERS[writer](paths[1], T[3:], TIME[3:])
    with xr.open_mfdataset(paths, engine=engine, chunked_array_type="chunkwise",
                           combine="by_coords", data_vars="minimal", coords="minimal",
                           compat="override") as m:
        assert isinstance(m.t.data, cw.Array)
        np.testing.assert_array_equal(m.time.values, TIME)
        mean = m.t.mean("time")
        assert isinstance(mean.data, cw.Array)
        np.testing.assert_allclose(mean.values, np.nanmean(T, axis=0), rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(m.t.values, T)
