"""np.sort, argsort, sort_complex, lexsort on chunkwise Arrays against NumPy."""
import gc
import math
import tempfile

import h5py
import numpy as np
import pytest

import chunkwise as cw

RNG = np.random.default_rng(7)


def _data(dtype, shape):
    dtype = np.dtype(dtype)
    if dtype == bool:
        return RNG.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        return RNG.integers(0, 6, shape).astype(dtype)
    if dtype.kind == "c":
        v = RNG.integers(-2, 3, shape) + 1j * RNG.integers(-2, 3, shape)
        v.flat[::5] = complex(np.nan, 1)
        return v.astype(dtype)
    v = RNG.integers(-3, 4, shape).astype(dtype)
    v.flat[::7] = np.nan
    v.flat[1::9] = -0.0
    v.flat[2::11] = 0.0
    v.flat[3::13] = np.inf
    return v


DTYPES = ["int8", "int64", "uint16", "uint64", "float16", "float32", "float64", "bool",
          "complex128"]
SHAPES = [((13, 17), (4, 5)), ((5, 6, 7), (2, 4, 3)), ((0, 4), (1, 2)), ((23,), (6,))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,chunks", SHAPES)
def test_sort_and_argsort_every_axis(dtype, shape, chunks):
    a = _data(dtype, shape)
    x = cw.asarray(a, chunks=chunks)
    for axis in list(range(-len(shape), len(shape))) + [None]:
        for kw in ({}, {"kind": "stable"}, {"stable": True}, {"kind": "heapsort"}):
            r = np.sort(x, axis=axis, **kw)
            assert isinstance(r, cw.Array)
            np.testing.assert_array_equal(np.asarray(r), np.sort(a, axis=axis, **kw))
            i = np.argsort(x, axis=axis, **kw)
            assert isinstance(i, cw.Array)
            e = np.argsort(a, axis=axis, **kw)
            assert i.dtype == e.dtype
            np.testing.assert_array_equal(np.asarray(i), e)


def test_hdf5_input_sorted_to_hdf5(tmp_path):
    a = _data("float64", (40, 31))
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f.create_dataset("v", data=a, chunks=(7, 6))
    x = cw.open(tmp_path / "in.h5", "v")
    np.sort(x, axis=0).to_hdf5(tmp_path / "out.h5", "s")
    with h5py.File(tmp_path / "out.h5") as f:
        np.testing.assert_array_equal(f["s"][...], np.sort(a, axis=0))
    # Lazy results feed expressions.
    np.testing.assert_array_equal(np.asarray(np.sort(x) * 2 + 1), np.sort(a) * 2 + 1)
    np.testing.assert_array_equal(np.asarray(np.argsort(x, axis=None)),
                                  np.argsort(a, axis=None))


def test_argsort_method_and_in_place_sort_refused():
    a = _data("int16", (9, 8))
    x = cw.asarray(a, chunks=(2, 3))
    np.testing.assert_array_equal(np.asarray(x.argsort(axis=0)), a.argsort(axis=0))
    with pytest.raises(TypeError, match="np.sort"):
        x.sort()


@pytest.mark.parametrize("dtype", ["int32", "float32", "complex64"])
def test_sort_complex(dtype):
    a = _data(dtype, (6, 11))
    r = np.sort_complex(cw.asarray(a, chunks=(4, 3)))
    e = np.sort_complex(a)
    assert r.dtype == e.dtype
    np.testing.assert_array_equal(np.asarray(r), e)


def test_lexsort():
    k = RNG.integers(0, 3, (3, 5, 20))
    x = cw.asarray(k, chunks=(1, 2, 6))
    np.testing.assert_array_equal(np.asarray(np.lexsort(x)), np.lexsort(k))
    np.testing.assert_array_equal(np.asarray(np.lexsort(x, axis=0)), np.lexsort(k, axis=0))
    a, b = k[0, 0], k[1, 0]
    xa, xb = cw.asarray(a, chunks=7), cw.asarray(b, chunks=7)
    np.testing.assert_array_equal(np.asarray(np.lexsort([xa, xb])), np.lexsort([a, b]))


def test_errors_as_numpy():
    x = cw.asarray(np.arange(6.0).reshape(2, 3))
    with pytest.raises(np.exceptions.AxisError):
        np.sort(x, axis=2)
    with pytest.raises(np.exceptions.AxisError):
        np.sort(cw.asarray(np.float64(3)))
    with pytest.raises(ValueError):
        np.sort(x, kind="bogus")
    with pytest.raises(ValueError):
        np.sort(x, kind="stable", stable=True)
    np.testing.assert_array_equal(np.asarray(np.argsort(cw.asarray(np.float64(3)))),
                                  np.argsort(np.float64(3)))


def test_beyond_memory_limit_along_an_axis():
    x = cw.asarray(np.arange(100000.0), chunks=1000)
    with cw.config(memory_limit=2**20):
        with pytest.raises(cw.MemoryBudgetError):
            np.sort(cw.asarray(np.ones((2, 100000)), chunks=(1, 1000)), axis=1)
        with pytest.raises(cw.MemoryBudgetError):
            np.sort(cw.asarray(np.ones(100000, np.complex128), chunks=1000), axis=None)
        np.testing.assert_array_equal(np.asarray(np.sort(x.reshape(100, 1000), axis=1)),
                                      np.arange(100000.0).reshape(100, 1000))


# ------------------------------------------------------------ external sort

def _spills(tmp):
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("chunkwise-sort-"))


@pytest.fixture
def spill_dir(tmp_path, monkeypatch):
    """The temporary directory the external sort spills to, watched."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _wide(dtype, n):
    """Data with many ties, NaNs, both zeros and infinities (floats)."""
    dtype = np.dtype(dtype)
    if dtype == bool:
        return RNG.integers(0, 2, n).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        v = RNG.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        v[::3] = RNG.integers(0, 5, len(v[::3]))
        return v
    v = RNG.standard_normal(n).astype(dtype)
    v[::5] = RNG.integers(-3, 4, len(v[::5]))
    v[::7] = np.nan
    v[1::9] = -0.0
    v[2::11] = 0.0
    v[3::13] = np.inf
    v[4::17] = -np.inf
    return v


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint16", "uint64", "float16", "float32",
                                   "float64", "bool"])
def test_external_sort_and_argsort_as_numpy_stable(dtype, spill_dir):
    a = _wide(dtype, 150001)
    x = cw.asarray(a, chunks=(7001,))
    with cw.config(memory_limit="256KiB", threads=2):
        s = np.sort(x, axis=None)
        i = np.argsort(x, axis=None)
        assert len(_spills(spill_dir)) == 2          # the external path, one spill each
        got_s, got_i = np.asarray(s), np.asarray(i)
    ref = np.sort(a, kind="stable")
    np.testing.assert_array_equal(got_s, ref)
    assert got_s.dtype == ref.dtype
    if ref.dtype.kind == "f":                       # -0.0 and 0.0 in input order
        np.testing.assert_array_equal(np.signbit(got_s), np.signbit(ref))
    np.testing.assert_array_equal(got_i, np.argsort(a, kind="stable"))
    assert got_i.dtype == np.intp
    np.testing.assert_array_equal(a[got_i], np.sort(a))
    del s, i
    gc.collect()
    assert _spills(spill_dir) == []


@pytest.mark.parametrize("shape,chunks", [((601, 557), (64, 100)), ((67, 71, 73), (8, 9, 10))])
def test_external_sort_of_nd_hdf5_to_hdf5(tmp_path, spill_dir, shape, chunks):
    a = _wide("float32", math.prod(shape)).reshape(shape)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f.create_dataset("v", data=a, chunks=chunks, compression="gzip")
    x = cw.open(tmp_path / "in.h5", "v")
    with cw.config(memory_limit="512KiB", threads=2):
        s = np.sort(x, axis=None)
        assert s.shape == (a.size,) and _spills(spill_dir)
        s.to_hdf5(tmp_path / "out.h5", "s", chunks=(10000,))
        # Fed to expressions and reductions, and sliced.
        np.testing.assert_array_equal(np.asarray(s[1000:1100] * 2), np.sort(a, None)[1000:1100] * 2)
        assert int(np.sum(np.isnan(s))) == int(np.isnan(a).sum())
        np.testing.assert_array_equal(np.asarray(np.argsort(x, axis=None, kind="stable")),
                                      np.argsort(a, axis=None, kind="stable"))
    with h5py.File(tmp_path / "out.h5") as f:
        np.testing.assert_array_equal(f["s"][...], np.sort(a, axis=None, kind="stable"))
    del s
    gc.collect()
    assert _spills(spill_dir) == []


def test_external_sort_of_1d_hdf5_along_its_axis(tmp_path, spill_dir):
    a = _wide("int32", 200003)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f.create_dataset("v", data=a, chunks=(9999,))
    x = cw.open(tmp_path / "in.h5", "v")
    with cw.config(memory_limit="512KiB", threads=2):
        for axis in (0, -1):
            s = np.sort(x, axis=axis)
            assert _spills(spill_dir)
            np.testing.assert_array_equal(np.asarray(s), np.sort(a))
            np.testing.assert_array_equal(np.asarray(np.argsort(x, axis=axis, stable=True)),
                                          np.argsort(a, stable=True))
            del s
    gc.collect()
    assert _spills(spill_dir) == []


def _failing(b, block_info=None):
    if block_info[0]["chunk-location"][0] == 5:
        raise _FAIL[0]
    return b


_FAIL = [ValueError("bad block")]


@pytest.mark.parametrize("exc", [ValueError("bad block"), KeyboardInterrupt()])
def test_external_sort_removes_its_spill_on_error(spill_dir, exc):
    _FAIL[0] = exc
    x = cw.map_blocks(_failing, cw.asarray(np.arange(200000.0), chunks=(5000,)),
                      dtype=np.float64)
    with cw.config(memory_limit="512KiB", threads=2):
        with pytest.raises(type(exc)):
            np.sort(x, axis=None)
    gc.collect()
    assert _spills(spill_dir) == []


def test_sort_along_an_axis_streams_within_memory_limit(tmp_path):
    """A 128 MiB HDF5 dataset sorted along its rows into a new dataset
    under memory_limit 16 MiB: peak RSS within the limit plus 16 MiB."""
    from memory_helpers import run_measured  # the subprocess helper, as test_memory.py
    limit = 16 * 2**20
    src, dst = tmp_path / "big.h5", tmp_path / "sorted.h5"
    rng = np.random.default_rng(3)
    with h5py.File(src, "w") as f:
        d = f.create_dataset("v", (4096, 4096), "f8", chunks=(64, 512))
        for i in range(0, 4096, 512):
            d[i:i + 512] = rng.standard_normal((512, 4096))
    r = run_measured(f"""
        x = cw.open({str(src)!r}, "v")
        base = rss()
        np.sort(x, axis=-1).to_hdf5({str(dst)!r}, "s")
        print(json.dumps({{"base": base, "peak": peak()}}))
    """, limit, timeout=600)
    assert r["peak"] - r["base"] < limit + 16 * 2**20, r
    with h5py.File(src) as f, h5py.File(dst) as g:
        for i in (0, 1234, 4095):
            np.testing.assert_array_equal(g["s"][i], np.sort(f["v"][i]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.h5", "sorted.h5"]
