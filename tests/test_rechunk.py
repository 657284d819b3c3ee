"""rechunk and to_hdf5(chunks=...): dask's chunk spellings, values equal to
the input, staging through a temporary HDF5 dataset that is removed
afterwards."""
import os
import threading

import h5py
import numpy as np
import pytest

import chunkwise as cw
from chunkwise import _execute

da = pytest.importorskip("dask.array")


def data(shape, dtype=np.float64):
    return (np.random.default_rng(1).random(shape) * 1000).astype(dtype)


@pytest.fixture(params=["memory", "hdf5"])
def make(request, tmp_path):
    def _make(x, chunks):
        if request.param == "memory":
            return cw.asarray(x, chunks=chunks)
        path = tmp_path / "in.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=x, chunks=chunks)
        return cw.open(path, "/x")
    return _make


@pytest.fixture
def staged_dirs(monkeypatch):
    """The temporary directories staging made (and whether they remain)."""
    made = []
    real = _execute.tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]
    monkeypatch.setattr(_execute.tempfile, "mkdtemp", mkdtemp)
    return made


SPELLINGS = [(5, -1), 7, {0: 3}, {1: -1, 0: 11}, ((6, 6, 6, 5), (9, 9, 9, 4)), (None, 4),
             (-1, (4, 4, 4, 4, 4, 4, 4, 3))]


@pytest.mark.parametrize("chunks", SPELLINGS)
def test_rechunk_spellings_match_dask(make, chunks):
    x = data((23, 31))
    a = make(x, (4, 10))
    d = da.from_array(x, chunks=(4, 10))
    r = a.rechunk(chunks)
    assert r.chunks == d.rechunk(chunks).chunks
    np.testing.assert_array_equal(r.compute(), x)
    np.testing.assert_array_equal(cw.rechunk(a, chunks).compute(), x)


@pytest.mark.parametrize("shape,src,dst", [((40, 50), (5, 50), (40, 3)),
                                           ((40, 50), (40, 3), (5, 50)),
                                           ((7, 9, 11), (2, 9, 11), (7, 2, 3)),
                                           ((101,), (10,), (33,))])
def test_rechunk_values_feed_expressions_and_reductions(make, shape, src, dst):
    x = data(shape)
    a = make(x, src)
    r = a.rechunk(dst)
    assert r.chunksize == dst
    np.testing.assert_array_equal(r.compute(), x)
    np.testing.assert_array_equal((r * 2 - 1).compute(), x * 2 - 1)
    np.testing.assert_allclose(r.sum(axis=0).compute(), x.sum(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(r[1::3].compute(), x[1::3])
    np.testing.assert_array_equal(cw.map_blocks(lambda b: b * 0 + b.shape[0], r).compute(),
                                  da.map_blocks(lambda b: b * 0 + b.shape[0],
                                                da.from_array(x, chunks=dst)).compute())


def test_rechunk_auto_and_whole():
    x = data((200, 300))
    a = cw.asarray(x, chunks=(10, 300))
    assert a.rechunk(-1).chunksize == (200, 300)
    auto = a.rechunk({0: "auto"})
    assert auto.chunksize[1] == 300
    np.testing.assert_array_equal(auto.compute(), x)
    small = a.rechunk("auto", block_size_limit=8 * 1000)
    assert np.prod(small.chunksize) * 8 <= 8 * 1000 * 1.01
    np.testing.assert_array_equal(small.compute(), x)
    assert a.rechunk((10, 300)) is not None
    assert a.rechunk((10, 300)).chunksize == (10, 300)


def test_rechunk_bad_spellings():
    a = cw.asarray(data((20, 30)), chunks=(4, 10))
    with pytest.raises(ValueError, match="all blocks but the last equal"):
        a.rechunk(((5, 15), 10))
    with pytest.raises(ValueError, match="do not add up"):
        a.rechunk(((5, 5), 10))
    with pytest.raises(ValueError, match="unknown chunks entry"):
        a.rechunk("big")
    with pytest.raises(ValueError, match="do not match"):
        a.rechunk((1, 2, 3))
    with pytest.raises(TypeError, match="needs a chunkwise Array"):
        cw.rechunk(np.zeros(3), 2)


def test_rechunk_stages_through_a_temporary_dataset(tmp_path, staged_dirs):
    x = data((400, 300))
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(8, 300))
    a = cw.open(path, "/x")
    cols = a.rechunk((400, 6))
    with cw.config(memory_limit=x.nbytes // 4, threads=2):
        np.testing.assert_array_equal(cols.compute(), x)
        assert len(staged_dirs) == 1
        out = cols.to_hdf5(tmp_path / "cols.h5", "/y", compression=None)
        assert len(staged_dirs) == 2
        out2 = a.to_hdf5(tmp_path / "cols.h5", "/z", chunks={0: -1, 1: 6})
        assert len(staged_dirs) == 3
        np.testing.assert_allclose(float(cols.sum()), x.sum(), rtol=1e-12)
        assert len(staged_dirs) == 4
    assert not any(os.path.exists(d) for d in staged_dirs)
    with h5py.File(tmp_path / "cols.h5") as f:
        assert f["y"].chunks == (400, 6)
        assert f["z"].chunks == (400, 6)
        np.testing.assert_array_equal(f["y"][...], x)
        np.testing.assert_array_equal(f["z"][...], x)
    np.testing.assert_array_equal(out.compute(), x)
    np.testing.assert_array_equal(out2.compute(), x)
    # Even within a large budget, columns of row chunks are staged (each
    # row chunk is then decoded about once, not once per column chunk).
    with cw.config(memory_limit=64 * x.nbytes):
        np.testing.assert_array_equal(cols.compute(), x)
        assert len(staged_dirs) == 5
        # Target chunks that hold whole source chunks read them directly.
        np.testing.assert_array_equal(a.rechunk((32, 300)).compute(), x)
        np.testing.assert_array_equal(a.rechunk((20, 150)).compute(), x)
    assert len(staged_dirs) == 5


def test_staging_is_removed_when_the_run_fails(tmp_path, staged_dirs):
    x = data((400, 300))
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(8, 300))

    def bad(b, block_id=None):
        if block_id == (0, 3):
            raise RuntimeError("boom")
        return b
    r = cw.map_blocks(bad, cw.open(path, "/x").rechunk((400, 6)))
    with cw.config(memory_limit=x.nbytes // 4, threads=2):
        with pytest.raises(RuntimeError, match="boom"):
            r.compute()
    assert staged_dirs and not any(os.path.exists(d) for d in staged_dirs)


def test_threads_stage_the_same_node_each_their_own_copy(tmp_path, staged_dirs):
    x = data((400, 300))
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(8, 300))
    cols = cw.open(path, "/x").rechunk((400, 6)) + 1
    results, errors = [], []

    def work():
        try:
            with cw.config(memory_limit=x.nbytes // 4, threads=2):
                for _ in range(3):
                    results.append(cols.compute())
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert not errors and len(results) == 9
    for r in results:
        np.testing.assert_array_equal(r, x + 1)
    assert len(staged_dirs) == 9 and not any(os.path.exists(d) for d in staged_dirs)


@pytest.mark.parametrize("chunks", [(3, 7), {1: 2}, 5, (-1, 1)])
def test_to_hdf5_any_chunks(make, tmp_path, chunks):
    x = data((23, 31))
    a = make(x, (4, 10))
    out = a.to_hdf5(tmp_path / "o.h5", "/o", chunks=chunks)
    exp = da.from_array(x, chunks=(4, 10)).rechunk(chunks).chunksize
    assert out.chunksize == exp
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["o"].chunks == exp
        np.testing.assert_array_equal(f["o"][...], x)


def test_rechunk_of_integers_and_bools(make):
    for dt in (np.int16, np.uint8, bool):
        x = data((15, 12)).astype(dt)
        a = make(x, (2, 12))
        np.testing.assert_array_equal(a.rechunk((15, 1)).compute(), x)
