"""Stored chunks read with O_DIRECT (``cw.config(direct_io=...)``): exactly
h5py's values and the buffered path's, for every dtype in both byte orders
and every filter the lock-free path reads (raw, gzip + shuffle, Blosc
block by block and whole-frame), edge chunks and partial views; the
counters of cw.stats(); the buffered path where direct reads are off or
not worth it; a file on tmpfs; errors as the buffered path raises them.

The files go to pytest's tmp_path, which must be on a file system that
takes O_DIRECT (the test says so when it is not)."""
from __future__ import annotations

import os
import subprocess
import sys

import h5py
import hdf5plugin
import numpy as np
import pytest

import chunkwise as cw

from interop_helpers import DTYPES_BOTH_ORDERS, assert_same, h5py_read, sample


def fs_type(path) -> str:
    """The type of the file system holding `path` (/proc/self/mounts)."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mnt, typ = line.split()[:3]
            mnt = mnt.replace("\\040", " ")
            inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
            if inside and len(mnt) > len(best):
                best, kind = mnt, typ
    return kind


@pytest.fixture
def disk(tmp_path):
    """tmp_path, on a file system that takes O_DIRECT."""
    kind = fs_type(tmp_path)
    probe = tmp_path / "probe"
    probe.write_bytes(b"\0" * 4096)
    try:
        os.close(os.open(probe, os.O_RDONLY | os.O_DIRECT))
    except OSError as e:
        pytest.skip(f"{tmp_path} ({kind}) does not take O_DIRECT: {e}")
    return tmp_path


LAYOUTS = {
    "raw": dict(chunks=(5, 4)),
    "gzip-shuffle": dict(chunks=(5, 4), compression="gzip", shuffle=True),
    "blosc-lz4": dict(chunks=(5, 4), **hdf5plugin.Blosc(cname="lz4", shuffle=1)),
    # Decoded by the whole-frame decoder, not block by block.
    "blosc-blosclz": dict(chunks=(5, 4), **hdf5plugin.Blosc(cname="blosclz", shuffle=2)),
}


def reads(a):
    """What the tests compare: the whole array (chunk by chunk), a partial
    view with steps, and reductions (chunk streams)."""
    out = {"all": np.asarray(a), "view": a[3:22:2, 1:16:3].compute(),
           "tail": a[-4:, -3:].compute()}
    if a.dtype.kind in "biuf":
        out["sum"] = np.asarray(a.sum(axis=0))
        out["max"] = np.asarray(a.max(axis=1))
    return out


def read_with(path, name, mode):
    with cw.config(direct_io=mode):
        cw.reset_stats()
        r = reads(cw.open(path, name))
        return r, cw.stats()


# (float16 sums of the samples overflow, in both paths alike.)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES_BOTH_ORDERS)
def test_direct_reads_equal_h5py_and_buffered(disk, dtype, layout):
    path = disk / "d.h5"
    x = sample(dtype, (23, 17), seed=3)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, dtype=x.dtype, **LAYOUTS[layout])
    e = h5py_read(path, "x")
    on, s_on = read_with(path, "x", True)
    off, s_off = read_with(path, "x", False)
    assert_same(on["all"], e)
    assert_same(on["view"], e[3:22:2, 1:16:3])
    assert_same(on["tail"], e[-4:, -3:])
    for k in on:
        assert_same(on[k], off[k])
    # Every chunk read from the index went direct; none with O_DIRECT off.
    assert s_on["chunks_lockfree"] > 0
    assert s_on["chunks_direct"] == s_on["chunks_lockfree"], s_on
    assert s_on["chunks_buffered"] == 0 and s_on["bytes_direct"] > 0
    assert s_off["chunks_direct"] == 0 and s_off["bytes_direct"] == 0
    assert s_off["chunks_buffered"] == s_off["chunks_lockfree"] > 0
    assert s_on["chunks_read"] == s_off["chunks_read"]


def test_large_chunks_many_threads(disk):
    """Chunks of MiBs (Blosc blocks split into streams), read by two
    threads: sum and axis-0 mean bit-identical to the buffered path."""
    path = disk / "big.h5"
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 700)).round(3)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(1000, 350),
                         **hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=1))
    res = {}
    for mode in (True, False):
        with cw.config(direct_io=mode, threads=2):
            cw.reset_stats()
            a = cw.open(path, "x")
            res[mode] = (a.sum().compute(), np.asarray(a.mean(axis=0)),
                         np.asarray(a[1:2999:7]), cw.stats())
    assert res[True][0] == res[False][0]
    np.testing.assert_array_equal(res[True][1], res[False][1])
    # Pairwise sums in another order than NumPy's: equal to rounding.
    np.testing.assert_allclose(res[True][1], x.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(res[True][2], x[1:2999:7])
    assert res[True][3]["chunks_direct"] > 0 and res[False][3]["chunks_direct"] == 0


def test_auto_reads_small_datasets_buffered(disk):
    """"auto" reads with O_DIRECT only datasets larger than half of the
    available memory: a small one goes through the page cache."""
    path = disk / "s.h5"
    x = np.arange(20000, dtype="f8").reshape(200, 100)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(50, 50), compression="gzip")
    assert cw.get_config()["direct_io"] == "auto"
    cw.reset_stats()
    np.testing.assert_array_equal(np.asarray(cw.open(path, "x")), x)
    s = cw.stats()
    assert s["chunks_direct"] == 0 and s["chunks_buffered"] == 8, s


def test_tmpfs(tmp_path):
    """On tmpfs (which takes O_DIRECT opens since Linux 6.6 and copies
    from its pages; older kernels refuse them and chunkwise reads
    buffered) the values are right and every chunk is counted once."""
    shm = "/dev/shm"
    if not os.path.isdir(shm) or fs_type(shm) != "tmpfs":
        pytest.skip("no tmpfs at /dev/shm")
    path = os.path.join(shm, f"chunkwise-test-{os.getpid()}.h5")
    try:
        x = sample("<i4", (40, 30), seed=9)
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=x, chunks=(7, 8), **hdf5plugin.Blosc())
        r, s = read_with(path, "x", True)
        assert_same(r["all"], x)
        assert_same(r["view"], x[3:22:2, 1:16:3])
        np.testing.assert_array_equal(r["sum"], x.sum(axis=0))
        assert s["chunks_lockfree"] > 0
        assert s["chunks_direct"] + s["chunks_buffered"] == s["chunks_lockfree"], s
    finally:
        os.unlink(path)


def test_config_values():
    assert cw.get_config()["direct_io"] == "auto"
    with cw.config(direct_io=True):
        assert cw.get_config()["direct_io"] is True
        with cw.config(direct_io=False):
            assert cw.get_config()["direct_io"] is False
        assert "direct_io=True" in repr(cw.config())
    assert cw.get_config()["direct_io"] == "auto"
    for bad in ("on", 1, 0, None, "AUTO"):
        with pytest.raises(ValueError, match="direct_io"):
            cw.config(direct_io=bad)


@pytest.mark.parametrize("mode", [True, False])
def test_truncated_file_raises_as_buffered(disk, mode):
    src = disk / "t.h5"
    x = np.random.default_rng(6).standard_normal((400, 500))
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=x, chunks=(40, 50), **hdf5plugin.Blosc())
    a = cw.open(src, "x")
    with cw.config(direct_io=mode):
        np.testing.assert_array_equal(np.asarray(a[::3]), x[::3])
    size = src.stat().st_size
    subprocess.run([sys.executable, "-c",
                    f"import os; os.truncate({str(src)!r}, {size // 2})"], check=True)
    with cw.config(direct_io=mode), pytest.raises(OSError):
        a.sum().compute()


def test_corrupt_stored_chunk_raises(disk):
    """A Blosc frame whose block lengths point past its stored bytes: with
    the stored chunk read into memory, the stream reports it."""
    path = disk / "c.h5"
    x = np.arange(64 * 64, dtype="f8").reshape(64, 64) % 17
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", data=x, chunks=(64, 64),
                             **hdf5plugin.Blosc(cname="lz4", shuffle=0))
        offset = d.id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as f:
        f.seek(offset + 16)            # the first block's start offset
        f.write((2**30).to_bytes(4, "little"))
    for mode in (True, False):
        with cw.config(direct_io=mode), pytest.raises(cw.CorruptChunkError):
            cw.open(path, "x").sum().compute()


def test_implausible_stored_size_raises(disk):
    """A Blosc chunk whose index records far more stored bytes than any frame
    of its chunk could take (a valid frame, then 64 kB of junk): refused as
    corrupt before a direct read allocates for it, as the buffered path
    refuses it."""
    path = disk / "big.h5"
    x = np.arange(32 * 32, dtype="f8").reshape(32, 32)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", data=x, chunks=(32, 32),
                             **hdf5plugin.Blosc(cname="lz4", shuffle=1))
        frame = d.id.read_direct_chunk((0, 0))[1]
        d.id.write_direct_chunk((0, 0), frame + b"\x5a" * (64 * 1024))
        assert d.id.get_chunk_info(0).size > 2 * x.nbytes + 4096
    for mode in (True, False, "auto"):
        with cw.config(direct_io=mode):
            a = cw.open(path, "x")
            with pytest.raises(cw.CorruptChunkError, match="implausible stored size"):
                a.sum().compute()
            with pytest.raises(cw.CorruptChunkError, match="implausible stored size"):
                np.asarray(a)
