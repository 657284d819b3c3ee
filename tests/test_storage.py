"""Storage paths: which read path a dataset takes, and that each is exact."""
import h5py
import hdf5plugin
import numpy as np
import pytest

import chunkwise as cw


def write(path, name, x, libver=None, userblock=0, **kw):
    with h5py.File(path, "a" if path.exists() else "w", libver=libver,
                   userblock_size=userblock) as f:
        f.create_dataset(name, data=x, **kw)


@pytest.mark.parametrize("userblock", [0, 512, 4096])
@pytest.mark.parametrize("filters", [{}, dict(compression="gzip", shuffle=True),
                                     hdf5plugin.Blosc(cname="zstd")])
def test_v1_btree_reads_without_the_lock(tmp_path, userblock, filters):
    """The default chunk index (v1 B-tree, layout message v3) is parsed and
    every stored chunk is read with pread, outside the HDF5 lock."""
    path = tmp_path / "a.h5"
    x = np.arange(97 * 61, dtype="<f8").reshape(97, 61) * 0.5
    x[10:20] = np.random.default_rng(0).standard_normal((10, 61))  # raw chunks
    write(path, "x", x, userblock=userblock, chunks=(10, 7), **filters)
    cw.reset_stats()
    a = cw.open(path, "x")
    assert np.array_equal(a.compute(), x)
    s = cw.stats()
    nchunks = 10 * 9
    assert s["chunks_read"] == nchunks and s["chunks_lockfree"] == nchunks
    assert np.array_equal(a[::-3, 5::4].compute(), x[::-3, 5::4])


@pytest.mark.parametrize("libver,maxshape", [
    (("v110", "v110"), None), (("v110", "v110"), (None, None)),
    (("v110", "v110"), (None, 61))])
def test_other_indices_use_h5dread_chunk(tmp_path, libver, maxshape):
    """Fixed arrays, v2 B-trees and extensible arrays are not parsed: they
    read through H5Dread_chunk, with the same results."""
    path = tmp_path / "b.h5"
    x = np.arange(97 * 61, dtype="<i4").reshape(97, 61)
    write(path, "x", x, libver=libver, chunks=(10, 7), maxshape=maxshape,
          compression="gzip")
    cw.reset_stats()
    assert np.array_equal(cw.open(path, "x").compute(), x)
    s = cw.stats()
    assert s["chunks_read"] == 90 and s["chunks_lockfree"] == 0


def test_big_endian_raw_and_compressed_chunks(tmp_path):
    path = tmp_path / "c.h5"
    x = np.random.default_rng(1).standard_normal((64, 64)).astype(">f4")
    x[:32] = 1.5
    write(path, "x", x, chunks=(16, 16), **hdf5plugin.Blosc())
    y = cw.open(path, "x").compute()
    assert y.dtype == np.dtype("<f4") and np.array_equal(y, x)


def test_many_chunks_multilevel_btree_index(tmp_path):
    """Enough chunks for a B-tree of several levels."""
    path = tmp_path / "d.h5"
    x = np.arange(300 * 200, dtype="<u2").reshape(300, 200)
    write(path, "x", x, chunks=(3, 4), compression="gzip")
    cw.reset_stats()
    a = cw.open(path, "x")
    assert np.array_equal(a.compute(), x)
    # An index of more than 4096 chunks is parsed when the 64th chunk is
    # looked up: 63 go through HDF5, the rest of the run and later runs
    # read lock-free.
    s = cw.stats()
    assert s["chunks_read"] == 100 * 50 and s["chunks_lockfree"] == 100 * 50 - 63
    cw.reset_stats()
    assert np.array_equal(a.compute(), x)
    assert cw.stats()["chunks_lockfree"] == 100 * 50
    assert np.array_equal(a[-1::-11, 7:190:13].compute(), x[-1::-11, 7:190:13])
