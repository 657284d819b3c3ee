"""np.sort, argsort, sort_complex, lexsort on chunkwise Arrays against NumPy."""
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


def test_beyond_memory_limit_raises():
    x = cw.asarray(np.arange(100000.0), chunks=1000)
    with cw.config(memory_limit=2**20):
        with pytest.raises(cw.MemoryBudgetError):
            np.sort(x, axis=None)
        np.testing.assert_array_equal(np.asarray(np.sort(x.reshape(100, 1000), axis=1)),
                                      np.arange(100000.0).reshape(100, 1000))


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
