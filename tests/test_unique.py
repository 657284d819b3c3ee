"""np.unique and the NumPy 2 unique_* functions on chunkwise Arrays against NumPy."""
import gc
import tempfile

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


def _spy_on_spills(monkeypatch):
    """A list that gets the folder of every run the external sort spills."""
    import chunkwise.extsort as ext
    seen, orig = [], ext._Spill.write

    def write(self, *args):
        seen.append(self.dir)
        return orig(self, *args)

    monkeypatch.setattr(ext._Spill, "write", write)
    return seen


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


def test_beyond_memory_limit_with_index_or_inverse_raises():
    x = cw.asarray(np.arange(200000), chunks=1000)
    with cw.config(memory_limit=2**20):
        for kw in (dict(return_index=True), dict(return_inverse=True), dict(axis=0)):
            with pytest.raises(cw.MemoryBudgetError, match="out of core"):
                np.unique(x, **kw)
        for f in (np.unique_inverse, np.unique_all):
            with pytest.raises(cw.MemoryBudgetError):
                f(x)


# ------------------------------------------------------------ out of core

def _spills(tmp):
    return [p for p in tmp.iterdir() if p.name.startswith("chunkwise-sort-")]


@pytest.mark.parametrize("dtype", ["int8", "uint32", "int64", "float16", "float32", "float64",
                                   "bool", "complex128"])
@pytest.mark.parametrize("nd", [1, 2])
def test_unique_counts_out_of_core(dtype, nd, tmp_path):
    # 2 MiB of data at most, of at least 600 KiB, under a 256 KiB limit.
    n = max(8, np.dtype(dtype).itemsize) * 75000 // np.dtype(dtype).itemsize
    ce = 4000 // max(np.dtype(dtype).itemsize, 8) * 8 + 1
    # 2-d: chunks of 16 rows, so that a band of whole rows (read from 5
    # chunks across) fits the limit for every dtype.
    shape, chunks = ((n + 3,), (ce,)) if nd == 1 else ((301, n // 300), (16, 50))
    a = _data(dtype, shape)
    if a.dtype.kind in "fc":
        # Fewer NaNs: each is a value of its own with equal_nan=False.
        a[np.isnan(a)] = 1.5
        a.flat[::997] = np.nan
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f.create_dataset("v", data=a, chunks=chunks)
    x = cw.open(tmp_path / "u.h5", "v")
    limit = 256 * 1024
    with cw.config(memory_limit=limit, threads=2):
        assert 2 * x.nbytes > limit          # not the in-memory path
        for eq in (False, True):
            kw = dict(return_counts=True, equal_nan=eq)
            _same(np.unique(x, **kw), np.unique(a, **kw))
            _same(np.unique(x, equal_nan=eq), np.unique(a, equal_nan=eq))
        _same(np.unique_counts(x), np.unique_counts(a))
        # NumPy gives integers' unique_values in its hash table's order.
        r = np.unique_values(x)
        assert r.dtype == a.dtype
        np.testing.assert_array_equal(r, np.sort(np.unique_values(a)))


def test_unique_of_many_values_goes_through_the_external_sort(tmp_path, monkeypatch):
    """Blocks whose distinct values together do not fit: the merge runs on
    the external sort (its spill seen), removed afterwards."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    a = RNG.integers(0, 3000, 400000).astype(np.int32)
    a[::101] = -5
    x = cw.asarray(a, chunks=(9000,))
    seen = _spy_on_spills(monkeypatch)
    with cw.config(memory_limit="512KiB", threads=2):
        _same(np.unique(x, return_counts=True), np.unique(a, return_counts=True))
    assert seen
    gc.collect()
    assert _spills(tmp_path) == []


def test_unique_of_few_values_merges_batches_without_spilling(tmp_path, monkeypatch):
    """Blocks whose tables together do not fit but whose merged table is
    small: merged batch by batch, without the external sort."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    a = RNG.integers(-150, 150, 400000).astype(np.int32)
    a[::1009] = 2**31 - 1
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f.create_dataset("v", data=a, chunks=(7000,), compression="gzip")
    x = cw.open(tmp_path / "u.h5", "v")
    seen = _spy_on_spills(monkeypatch)
    runs = cw.stats()["runs"]
    with cw.config(memory_limit="512KiB", threads=2):
        _same(np.unique(x, return_counts=True), np.unique(a, return_counts=True))
        _same(np.unique_counts(x), np.unique_counts(a))
    assert not seen
    assert cw.stats()["runs"] - runs > 4           # batches of bands, each a pass


def test_too_many_distinct_values_raise():
    x = cw.asarray(np.arange(400000.0), chunks=(10000,))
    with cw.config(memory_limit="512KiB", threads=2):
        with pytest.raises(cw.MemoryBudgetError, match="400000 distinct values"):
            np.unique(x, return_counts=True)


@pytest.mark.parametrize("shape,chunks,limit", [((301, 40, 7), (32, 8, 7), 256 * 1024),
                                                ((3, 200, 300), (1, 50, 300), 512 * 1024)],
                         ids=["bands-of-rows", "rows-longer-than-a-band"])
def test_unique_of_nd_hdf5_out_of_core(tmp_path, shape, chunks, limit):
    """A 3-d dataset read in bands of whole rows, or (rows longer than a
    band) flattened first."""
    a = RNG.integers(-40, 40, shape).astype(np.float32)
    a.flat[::101] = np.nan
    a.flat[1::89] = -0.0
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f.create_dataset("v", data=a, chunks=chunks, compression="gzip")
    x = cw.open(tmp_path / "u.h5", "v")
    with cw.config(memory_limit=limit, threads=2):
        assert 2 * x.nbytes > limit
        for eq in (False, True):
            _same(np.unique(x, return_counts=True, equal_nan=eq),
                  np.unique(a, return_counts=True, equal_nan=eq))
            _same(np.unique(x, equal_nan=eq), np.unique(a, equal_nan=eq))
        _same(np.unique_counts(x), np.unique_counts(a))
        np.testing.assert_array_equal(np.unique_values(x), np.sort(np.unique_values(a)))


def test_unique_of_nd_hdf5_with_many_values_through_the_external_sort(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    a = RNG.integers(0, 12000, (400, 500)).astype(np.int64)
    a[::7, ::3] = -3
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f.create_dataset("v", data=a, chunks=(25, 100))
    x = cw.open(tmp_path / "u.h5", "v")
    seen = _spy_on_spills(monkeypatch)
    with cw.config(memory_limit="1MiB", threads=2):
        _same(np.unique(x, return_counts=True), np.unique(a, return_counts=True))
    assert seen                                  # the external sort's spill
    gc.collect()
    assert _spills(tmp_path) == []
