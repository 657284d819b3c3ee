"""dask and chunkwise: ``Array.to_dask()`` (and dask.array.asarray, which
calls ``to_dask_array``) gives a dask array whose blocks the chunkwise
engine computes; ``cw.asarray(dask_array)`` computes a dask array that fits
``memory_limit``.  Results are compared with NumPy under dask's
synchronous, threads and processes schedulers."""
import h5py
import numpy as np
import pytest

import chunkwise as cw
from chunkwise import interop

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

SCHEDULERS = ["sync", "threads", "processes"]


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("dask") / "data.h5"
    a = (np.arange(11 * 13, dtype=np.int64).reshape(11, 13) * 37) % 101 - 50
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=a, chunks=(4, 5), compression="gzip")
    return str(path), a


def test_to_dask_has_one_task_per_block_and_ndarray_blocks(h5):
    path, a = h5
    x = cw.open(path, "a")
    d = x.to_dask()
    assert d.chunks == ((4, 4, 3), (5, 5, 3))
    assert d.dtype == a.dtype and d.shape == a.shape
    # The node is one key; every other task is one block.
    assert len(d.__dask_graph__()) == 1 + 3 * 3
    block = d.blocks[2, 1].compute(scheduler="sync")
    assert type(block) is np.ndarray
    np.testing.assert_array_equal(block, a[8:11, 5:10])
    assert type(d._meta) is np.ndarray


def test_a_reduction_the_blocks_need_is_computed_once(h5):
    path, a = h5
    x = cw.open(path, "a")
    centred = x - x.mean(axis=0) + x.max()
    d = centred.to_dask()
    # The node, its two reductions (one task each), nine blocks.
    assert len(d.__dask_graph__()) == 1 + 2 + 9
    cw.reset_stats()
    r = d.compute(scheduler="sync")
    # Reading the file: twice for the reductions' pass(es), once for the
    # blocks, never once per block.
    assert cw.stats()["chunks_read"] <= 3 * 9
    np.testing.assert_allclose(r, a - a.mean(axis=0) + a.max(), rtol=1e-13)
    assert r.dtype == np.float64
    s = x.sum(axis=1).to_dask(chunks=4)
    assert len(s.__dask_graph__()) == 1 + 1 + 3
    np.testing.assert_array_equal(s.compute(scheduler="sync"), a.sum(axis=1))
    c = np.cumsum(x, axis=1)[::2].T.to_dask()
    np.testing.assert_array_equal(c.compute(scheduler="sync"), np.cumsum(a, axis=1)[::2].T)


def test_to_dask_takes_dask_chunks(h5):
    path, a = h5
    x = cw.open(path, "a")
    d = (x * 2).to_dask(chunks=(8, 10))
    assert d.chunks == ((8, 3), (10, 3))
    d = x.to_dask(chunks=((3, 8), (13,)))
    assert d.chunks == ((3, 8), (13,))
    r = d.compute(scheduler="sync")
    assert type(r) is np.ndarray
    np.testing.assert_array_equal(r, a)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_dask_computations_over_chunkwise_match_numpy(h5, scheduler):
    path, a = h5
    x = cw.open(path, "a")
    cases = [
        (x.to_dask(), a),
        ((x + 1).to_dask() * 3, (a + 1) * 3),
        (x.to_dask().sum(axis=0), a.sum(axis=0)),
        (np.abs(x[2:, ::2]).to_dask().max(), np.abs(a[2:, ::2]).max()),
        ((x - x.min()).to_dask(chunks=(5, 6)).T, (a - a.min()).T),
        (np.concatenate([x, x[:3]]).to_dask().cumsum(axis=0),
         np.concatenate([a, a[:3]]).cumsum(axis=0)),
        ((x.astype(np.float64) @ x.T.astype(np.float64)).to_dask(),
         a.astype(np.float64) @ a.T.astype(np.float64)),
        (da.asarray(x) - 1, a - 1),
    ]
    got = dask.compute(*[c for c, _ in cases], scheduler=scheduler)
    for r, (_, e) in zip(got, cases):
        assert type(r) is np.ndarray or np.isscalar(r)
        r = np.asarray(r)
        assert r.dtype == e.dtype and r.shape == e.shape
        np.testing.assert_array_equal(r, e)


def test_dask_stores_chunkwise_blocks_into_hdf5(h5, tmp_path):
    path, a = h5
    out = tmp_path / "out.h5"
    with h5py.File(out, "w") as f:
        target = f.create_dataset("b", shape=a.shape, dtype=a.dtype)
        da.store((cw.open(path, "a") * 2).to_dask(), target, scheduler="threads", lock=True)
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["b"][...], a * 2)


def test_asarray_of_a_dask_array_computes_it(h5):
    path, a = h5
    d = da.from_array(a, chunks=(3, 7)) + 5
    x = cw.asarray(d)
    assert isinstance(x, cw.Array)
    assert x.chunksize == (3, 7)
    assert x.dtype == a.dtype
    np.testing.assert_array_equal(np.asarray(x * 2), (a + 5) * 2)
    x = cw.asarray(d, chunks=(11, 2))
    assert x.chunksize == (11, 2)
    # Round trip: chunkwise -> dask -> chunkwise.
    back = cw.asarray(cw.open(path, "a").to_dask())
    np.testing.assert_array_equal(back.compute(), a)


def test_asarray_of_a_dask_array_larger_than_memory_limit_is_refused():
    d = da.zeros((1024, 1024), chunks=256)        # 8 MiB
    with cw.config(memory_limit="4MiB"):
        with pytest.raises(cw.MemoryBudgetError, match="8.0 MiB.*memory_limit"):
            cw.asarray(d)
    with cw.config(memory_limit="16MiB"):
        np.testing.assert_array_equal(cw.asarray(d).compute(), np.zeros((1024, 1024)))


def test_asarray_of_a_dask_array_of_unknown_shape_is_refused():
    d = da.arange(10, chunks=3)
    d = d[d > 4]
    with pytest.raises(ValueError, match="unknown shape"):
        cw.asarray(d)


def test_asarray_of_other_dask_collections_is_refused():
    bag = pytest.importorskip("dask.bag")
    with pytest.raises(TypeError, match="only dask arrays"):
        cw.asarray(bag.from_sequence([1, 2, 3]))


def test_is_dask_collection():
    assert interop.is_dask_collection(da.ones(3))
    assert not interop.is_dask_collection(cw.ones(3))
    assert not interop.is_dask_collection(np.ones(3))
