"""Set operations (intersect1d, union1d, setdiff1d, setxor1d) on chunkwise
arrays, in memory and over h5py-written HDF5 files, against NumPy exactly:
values, dtype, and the indices of intersect1d(return_indices=True)."""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw


def _pair(dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        a = np.round(rng.standard_normal(157) * 4, 1).astype(dtype)
        b = np.round(rng.standard_normal(96) * 4, 1).astype(dtype)
        a[[3, 50, 51]] = np.nan
        b[[7]] = np.nan
        a[10], b[11] = -0.0, 0.0
        return a, b
    if dtype == "bool":
        return rng.random(157) < 0.3, np.ones(96, bool)
    a = rng.integers(-40, 60, 157).astype(dtype)
    b = rng.integers(-20, 90, 96).astype(dtype)
    return a, b


def _same(got, expected):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _same(g, e)
        return
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, expected, strict=True)


CALLS = {
    "union1d": lambda m, a, b: m.union1d(a, b),
    "intersect1d": lambda m, a, b: m.intersect1d(a, b),
    "intersect1d-indices": lambda m, a, b: m.intersect1d(a, b, return_indices=True),
    "setdiff1d": lambda m, a, b: m.setdiff1d(a, b),
    "setdiff1d-reversed": lambda m, a, b: m.setdiff1d(b, a),
    "setxor1d": lambda m, a, b: m.setxor1d(a, b),
}


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "float64", "float32", "bool"])
@pytest.mark.parametrize("call", list(CALLS))
def test_as_numpy_in_memory(call, dtype):
    a, b = _pair(dtype, 1)
    f = CALLS[call]
    expected = f(np, a, b)
    for chunks in (7, 40, None):
        x, y = cw.asarray(a, chunks=chunks), cw.asarray(b, chunks=chunks)
        with warnings.catch_warnings():
            warnings.simplefilter("error", cw.FallbackWarning)
            _same(f(np, x, y), expected)
            _same(f(np, x, b), expected)      # one operand an ndarray
            _same(f(np, a, y), expected)


@pytest.mark.parametrize("call", list(CALLS))
def test_as_numpy_on_hdf5_2d(tmp_path, call):
    a, b = _pair("int16", 2)
    a2 = np.resize(a, (12, 13))      # NumPy ravels n-d inputs
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=a2, chunks=(5, 4), compression="gzip")
        f.create_dataset("b", data=b, chunks=(10,))
    x, y = cw.open(path, "a"), cw.open(path, "b")
    _same(CALLS[call](np, x, y), CALLS[call](np, a2, b))


@pytest.mark.parametrize("func", [np.intersect1d, np.setdiff1d, np.setxor1d])
def test_assume_unique_is_numpy_on_the_inputs_as_they_are(func):
    # With assume_unique=True NumPy does not deduplicate; inputs that are
    # not unique give NumPy's (documented as undefined, but definite) answer.
    a = np.array([5, 1, 1, 3, 9, 2])
    b = np.array([1, 9, 9, 4])
    for x, y in ((a, b), (np.unique(a), np.unique(b))):
        expected = func(x, y, assume_unique=True)
        _same(func(cw.asarray(x, chunks=2), cw.asarray(y, chunks=3), assume_unique=True),
              expected)


def test_indices_point_at_first_occurrences_in_chunked_hdf5(tmp_path):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 500, 20000)
    b = rng.integers(250, 900, 7000)
    path = tmp_path / "i.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=a, chunks=(1024,))
        f.create_dataset("b", data=b, chunks=(999,))
    got = np.intersect1d(cw.open(path, "a"), cw.open(path, "b"), return_indices=True)
    _same(got, np.intersect1d(a, b, return_indices=True))


def test_memory_limit_is_kept():
    x = cw.asarray(np.arange(100_000, dtype="f8"), chunks=10_000)
    with cw.config(memory_limit="256KiB"):
        with pytest.raises(cw.MemoryBudgetError, match="memory_limit"):
            np.union1d(x, x)
        with pytest.raises(cw.MemoryBudgetError, match="assume_unique"):
            np.setxor1d(x, x, assume_unique=True)
