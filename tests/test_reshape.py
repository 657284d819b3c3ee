"""Lazy reshape, ravel and flatten, compared with NumPy exactly (values,
dtype, shape) over chunk grids that split every axis, in memory and on HDF5
files written by h5py; a slice of a reshape reads only the input chunks
holding its elements."""
import h5py
import numpy as np
import pytest

import chunkwise as cw

DTYPES = [np.float64, np.float32, np.int16, np.uint8, np.bool_, np.int64]
CASES = [
    ((24,), (5,), [(4, 6), (2, 3, 4), (-1,), (1, 24, 1)]),
    ((6, 8), (4, 3), [(48,), (8, 6), (2, -1, 4), (3, 16)]),
    ((4, 6, 5), (3, 4, 2), [(5, 24), (120,), (2, 3, 4, 5), (-1, 10)]),
    ((3, 4, 5, 2), (2, 3, 2, 1), [(6, 20), (120,), (5, 4, 3, 2), (3, -1, 2)]),
]


def _data(shape, dt):
    n = int(np.prod(shape))
    a = (np.arange(n) * 7 % 23).reshape(shape)
    return (a % 2).astype(dt) if dt is np.bool_ else a.astype(dt)


def same(got, want):
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape,chunks,targets", CASES)
def test_reshape_equals_numpy_in_memory(shape, chunks, targets, dt):
    a = _data(shape, dt)
    x = cw.asarray(a, chunks=chunks)
    for t in targets:
        same(x.reshape(t), a.reshape(t))
        same(x.reshape(*t), a.reshape(*t))
        same(np.reshape(x, t), np.reshape(a, t))
    same(x.ravel(), a.ravel())
    same(np.ravel(x), np.ravel(a))
    same(x.flatten(), a.flatten())


@pytest.mark.parametrize("shape,chunks,targets", CASES)
def test_reshape_of_hdf5_equals_numpy(tmp_path, shape, chunks, targets):
    a = _data(shape, np.float32)
    with h5py.File(tmp_path / "r.h5", "w") as f:
        f.create_dataset("a", data=a, chunks=chunks)
    x = cw.open(tmp_path / "r.h5", "a")
    for t in targets:
        r, e = x.reshape(t), a.reshape(t)
        same(r, e)
        same(r[::-2], e[::-2])
        same(r[..., 1:], e[..., 1:])
        same(r.reshape(a.shape), a)


def test_reshape_of_expressions_views_and_chains():
    a = _data((6, 8), np.float64)
    x = cw.asarray(a, chunks=(4, 3))
    same((x[1:, ::2] * 2 + 1).reshape(-1, 5), (a[1:, ::2] * 2 + 1).reshape(-1, 5))
    same(x.T.reshape(4, 12), a.T.reshape(4, 12))
    same(x.reshape(48).reshape(3, 16)[2, 3:9], a.reshape(3, 16)[2, 3:9])
    same(x.reshape(2, 24).sum(axis=1), a.reshape(2, 24).sum(axis=1))
    same(np.concatenate([x.ravel(), x.ravel()[:3]]),
         np.concatenate([a.ravel(), a.ravel()[:3]]))
    same(x[2, 3].reshape(1, 1), a[2, 3].reshape(1, 1))
    same(x[2:3, 3:4].reshape(()), a[2:3, 3:4].reshape(()))
    z = cw.asarray(np.zeros((0, 4), np.int32))
    same(z.reshape(4, 0), np.zeros((4, 0), np.int32))
    same(z.reshape(-1), np.zeros((0,), np.int32))


def test_reshape_errors_follow_numpy():
    x = cw.asarray(np.zeros((4, 6)), chunks=(3, 4))
    with pytest.raises(ValueError, match="cannot reshape array of size 24 into shape"):
        x.reshape(5, 5)
    with pytest.raises(ValueError, match="cannot reshape array of size 24 into shape"):
        x.reshape(-1, 5)
    with pytest.raises(ValueError, match="can only specify one unknown dimension"):
        x.reshape(-1, -1)
    with pytest.raises(NotImplementedError, match="order='C'"):
        x.reshape(24, order="F")
    with pytest.raises(NotImplementedError):
        np.reshape(x, (6, 4), order="F")
    with pytest.raises(NotImplementedError):
        x.ravel(order="F")


def test_slice_of_reshape_reads_only_needed_chunks(tmp_path):
    """A (100, 100) dataset in (10, 10) chunks as 10000 elements: the first
    10 are one chunk, the first 100 a row of 10 chunks, a column of the
    (10000,)->(100, 100) round trip 10 chunks."""
    a = np.arange(10000, dtype=np.float64).reshape(100, 100)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("a", data=a, chunks=(10, 10))
    x = cw.open(tmp_path / "s.h5", "a")
    flat = x.reshape(-1)
    for sel, want in [(slice(0, 10), 1), (slice(0, 100), 10), (slice(250, 255), 1)]:
        cw.reset_stats()
        same(flat[sel], a.ravel()[sel])
        assert cw.stats()["chunks_read"] == want
    cw.reset_stats()
    same(x.reshape(50, 200)[7, 10:20], a.reshape(50, 200)[7, 10:20])
    assert cw.stats()["chunks_read"] == 1
    cw.reset_stats()
    same(x.reshape(-1)[::1000], a.ravel()[::1000])
    assert cw.stats()["chunks_read"] == 10
