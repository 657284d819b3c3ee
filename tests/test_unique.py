"""np.unique and the NumPy 2 unique_* functions on chunkwise Arrays against NumPy."""
import h5py
import numpy as np
import pytest

import chunkwise as cw

RNG = np.random.default_rng(11)


def _data(dtype, shape):
    dtype = np.dtype(dtype)
    if dtype == bool:
        return RNG.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        return RNG.integers(0, 9, shape).astype(dtype)
    v = RNG.integers(-3, 4, shape).astype(dtype)
    v.flat[::7] = np.nan
    v.flat[1::9] = -0.0
    v.flat[2::11] = 0.0
    return v


def _same(r, e):
    if isinstance(e, tuple):
        assert type(r) is type(e) and len(r) == len(e)
        if hasattr(e, "_fields"):
            assert r._fields == e._fields
        for u, v in zip(r, e):
            _same(u, v)
        return
    assert isinstance(r, np.ndarray) and r.dtype == e.dtype and r.shape == e.shape
    np.testing.assert_array_equal(r, e)


@pytest.mark.parametrize("dtype", ["int8", "uint32", "int64", "float16", "float32",
                                   "float64", "bool"])
@pytest.mark.parametrize("shape,chunks", [((13, 17), (4, 5)), ((0, 3), (1, 2)),
                                          ((31,), (6,))])
def test_unique_every_option(dtype, shape, chunks):
    a = _data(dtype, shape)
    x = cw.asarray(a, chunks=chunks)
    for ri in (False, True):
        for rv in (False, True):
            for rc in (False, True):
                for eq in (False, True):
                    kw = dict(return_index=ri, return_inverse=rv, return_counts=rc,
                              equal_nan=eq)
                    _same(np.unique(x, **kw), np.unique(a, **kw))
    for f in (np.unique_values, np.unique_counts, np.unique_inverse, np.unique_all):
        _same(f(x), f(a))


def test_unique_along_an_axis_of_hdf5(tmp_path):
    a = RNG.integers(0, 2, (30, 4)).astype(np.int32)
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f.create_dataset("v", data=a, chunks=(7, 3))
    x = cw.open(tmp_path / "u.h5", "v")
    for axis in (0, 1, -1, None):
        kw = dict(return_index=True, return_inverse=True, return_counts=True, axis=axis)
        _same(np.unique(x, **kw), np.unique(a, **kw))
    with pytest.raises(np.exceptions.AxisError):
        np.unique(x, axis=2)


def test_beyond_memory_limit_raises():
    x = cw.asarray(np.arange(200000), chunks=1000)
    with cw.config(memory_limit=2**20):
        with pytest.raises(cw.MemoryBudgetError):
            np.unique(x)
