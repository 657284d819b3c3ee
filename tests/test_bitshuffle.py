"""The Bitshuffle filter (HDF5 filter 32008: hdf5plugin.Bitshuffle,
bitshuffle's h5 plugin, Dectris Eiger files), with no compressor, LZ4 and
Zstd: files written by h5py + hdf5plugin read bit-exactly on the native
path (decoded in worker threads, outside HDF5's lock), what chunkwise
writes read back by h5py + hdf5plugin, and corrupt chunks refused with the
chunk named.
"""
from __future__ import annotations

import os
import subprocess
import sys

import h5py
import hdf5plugin
import numpy as np
import pytest

import chunkwise as cw

from interop_helpers import (assert_corrupt_chunk_named, assert_same, each_byte_flipped,
                             read_native, sample)

DTYPES = ["|u1", "<i2", ">i2", "<f4", ">f4", "<i8", ">f8", "<c8", ">c16"]
SHAPE = (23, 17)
CHUNKS = [(5, 4), (7, 17), (23, 17), (2, 3)]  # edge chunks in both dims, one
# dim, none; chunks of fewer than 8 elements (no block, all left over)
CNAMES = {"none": 0, "lz4": 2, "zstd": 3}
# hdf5plugin's options: the default block size, explicit small ones (many
# blocks and a partial one per chunk), Zstd levels.
WRITERS = [
    hdf5plugin.Bitshuffle(nelems=0, cname="none"),
    hdf5plugin.Bitshuffle(nelems=8, cname="none"),
    hdf5plugin.Bitshuffle(nelems=0, cname="lz4"),
    hdf5plugin.Bitshuffle(nelems=16, cname="lz4"),
    hdf5plugin.Bitshuffle(nelems=0, cname="zstd", clevel=1),
    hdf5plugin.Bitshuffle(nelems=24, cname="zstd", clevel=9),
    hdf5plugin.Bitshuffle(nelems=0, cname="zstd", clevel=22),
]


def write_h5py(path, x, chunks, filt):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, dtype=x.dtype, chunks=chunks, **filt)


def cd_values(path):
    with h5py.File(path, "r") as f:
        pl = f["x"].id.get_create_plist()
        assert pl.get_nfilters() == 1
        fid, _, cd, _ = pl.get_filter(0)
        assert fid == 32008
        return cd


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_hdf5plugin_files_read_natively(tmp_path, dtype, chunks):
    for k, filt in enumerate(WRITERS):
        for compressible in (True, False):
            path = tmp_path / f"{k}{compressible}.h5"
            x = sample(dtype, SHAPE, seed=k, compressible=compressible)
            write_h5py(path, x, chunks, filt)
            cd = cd_values(path)
            assert cd[2] == x.dtype.itemsize
            with h5py.File(path, "r") as f:
                np.testing.assert_array_equal(f["x"][()], x)
            read_native(path, "x", x)


@pytest.mark.parametrize("dtype", ["|u1", ">i2", "<f4", ">f8", "<c16"])
def test_large_chunks_of_many_blocks(tmp_path, dtype):
    """Chunks of several default-sized blocks, a partial block and leftover
    elements (101 * 203 elements a chunk), edge chunks, all compressors."""
    x = sample(dtype, (300, 257), seed=2)
    for cname in CNAMES:
        for nelems in (0, 2048):
            path = tmp_path / f"{cname}{nelems}.h5"
            write_h5py(path, x, (101, 203), hdf5plugin.Bitshuffle(nelems=nelems,
                                                                 cname=cname))
            read_native(path, "x", x)
            a = cw.open(path, "x")
            assert_same(a[17:250:3, 5:].compute(), x[17:250:3, 5:])


@pytest.mark.parametrize("level", [0, 1, 5, 9])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compression", ["bitshuffle", "bitshuffle-lz4",
                                         "bitshuffle-zstd"])
def test_chunkwise_writes_read_by_h5py(tmp_path, compression, dtype, level):
    cname = compression.partition("-")[2] or "none"
    for compressible in (True, False):
        path = tmp_path / f"w{compressible}.h5"
        x = sample(dtype, SHAPE, seed=3, compressible=compressible)
        out = cw.asarray(x, chunks=(5, 4)).to_hdf5(path, "x", compression=compression,
                                                   level=level)
        cd = cd_values(path)
        assert cd[2:5] == (x.dtype.itemsize, 0, CNAMES[cname])
        if cname == "zstd":
            assert cd[5] == level
        with h5py.File(path, "r") as f:
            d = f["x"]
            assert d.chunks == (5, 4)
            got = d[()]
        assert got.dtype.newbyteorder("=") == np.dtype(dtype).newbyteorder("=")
        np.testing.assert_array_equal(got, x)
        assert_same(out.compute(), x)
        read_native(path, "x", x)


@pytest.mark.parametrize("compression", ["bitshuffle", "bitshuffle-lz4",
                                         "bitshuffle-zstd"])
def test_large_writes_are_bit_exact_in_h5py(tmp_path, compression):
    x = sample("<i4", (300, 257), seed=8)
    path = tmp_path / "big.h5"
    cw.asarray(x, chunks=(101, 203)).to_hdf5(path, "x", compression=compression,
                                             level=3)
    with h5py.File(path, "r") as f:
        d = f["x"]
        masks = {d.id.get_chunk_info(i).filter_mask for i in range(d.id.get_num_chunks())}
        assert masks == {0}
        np.testing.assert_array_equal(d[()], x)
    read_native(path, "x", x)


@pytest.mark.parametrize("compression", ["bitshuffle", "bitshuffle-lz4",
                                         "bitshuffle-zstd"])
def test_expression_results_streamed_into_bitshuffle(tmp_path, compression):
    """A computed result (from a Bitshuffle input) written chunk by chunk
    in worker threads within a small memory limit, new chunk shape."""
    x = sample("<i4", (200, 300), seed=7)
    src = tmp_path / "in.h5"
    write_h5py(src, x, (50, 64), hdf5plugin.Bitshuffle(cname="lz4"))
    a = cw.open(src, "x")
    path = tmp_path / "out.h5"
    with cw.config(threads=2, memory_limit=2_000_000):
        (a // 3 + 1).astype("<i8").to_hdf5(path, "y", chunks=(64, 64),
                                            compression=compression, level=2)
    with h5py.File(path, "r") as f:
        assert f["y"].chunks == (64, 64)
        np.testing.assert_array_equal(f["y"][()], (x // 3 + 1).astype("<i8"))


def test_compressible_chunks_are_compressed(tmp_path):
    x = np.zeros((64, 64), "<f8")
    for compression in ("bitshuffle-lz4", "bitshuffle-zstd"):
        path = tmp_path / f"{compression}.h5"
        cw.asarray(x, chunks=(32, 32)).to_hdf5(path, "x", compression=compression)
        with h5py.File(path, "r") as f:
            d = f["x"]
            for i in range(d.id.get_num_chunks()):
                info = d.id.get_chunk_info(i)
                assert info.filter_mask == 0
                assert info.size < 32 * 32 * 8 // 10
            np.testing.assert_array_equal(d[()], x)


def test_incompressible_chunks_are_stored_raw(tmp_path):
    """A chunk LZ4 does not shrink is stored with the (optional) filter
    skipped, which h5py + hdf5plugin read as plain data."""
    x = np.random.default_rng(1).integers(0, 256, (64, 64), dtype="u1")
    path = tmp_path / "raw.h5"
    cw.asarray(x, chunks=(32, 32)).to_hdf5(path, "x", compression="bitshuffle-lz4")
    with h5py.File(path, "r") as f:
        d = f["x"]
        assert {d.id.get_chunk_info(i).filter_mask for i in range(4)} == {1}
        np.testing.assert_array_equal(d[()], x)
    read_native(path, "x", x)


def test_writes_with_bitshuffles_plugin_on_the_plugin_path(tmp_path):
    """With hdf5plugin's folder on HDF5_PLUGIN_PATH, chunkwise's HDF5 keeps
    its own Bitshuffle filter (bitshuffle's plugin would rewrite cd_values
    at dataset creation)."""
    path = tmp_path / "p.h5"
    code = ("import numpy as np, chunkwise as cw\n"
            "x = np.arange(4000, dtype='<f4').reshape(40, 100)\n"
            f"cw.asarray(x, chunks=(8, 64)).to_hdf5({str(path)!r}, 'x',\n"
            "    compression='bitshuffle-zstd', level=4)\n")
    env = dict(os.environ, HDF5_PLUGIN_PATH=hdf5plugin.PLUGIN_PATH)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    assert cd_values(path)[2:6] == (4, 0, 3, 4)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["x"][()],
                                      np.arange(4000, dtype="<f4").reshape(40, 100))


def test_bitshuffle_with_another_compressor_reads_through_hdf5(tmp_path):
    """Bitshuffle followed by deflate: not one native stage, so HDF5's
    pipeline reads it, with chunkwise's Bitshuffle filter; bit-exact."""
    x = sample(">i4", (60, 50), seed=4)
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((16, 16))
        dcpl.set_filter(32008, h5py.h5z.FLAG_OPTIONAL, (0, 0))
        dcpl.set_deflate(4)
        space = h5py.h5s.create_simple(x.shape)
        h5py.h5d.create(f.id, b"x", h5py.h5t.STD_I32BE, space, dcpl=dcpl)
        f["x"][...] = x
    cw.reset_stats()
    assert_same(cw.open(path, "x").compute(), x)
    assert cw.stats()["chunks_pipeline"] > 0


def test_shuffle_and_compression_arguments(tmp_path):
    a = cw.asarray(np.arange(10.0))
    with pytest.raises(ValueError, match="always shuffles bits"):
        a.to_hdf5(tmp_path / "s.h5", "x", compression="bitshuffle-lz4", shuffle=False)
    with pytest.raises(ValueError, match="always shuffles bits"):
        a.to_hdf5(tmp_path / "s.h5", "x", compression="bitshuffle", shuffle="byte")
    a.to_hdf5(tmp_path / "s.h5", "x", compression="bitshuffle-lz4", shuffle="bit")
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f["x"].id.get_create_plist().get_nfilters() == 1
    with pytest.raises(ValueError, match="'bitshuffle-lz4', 'bitshuffle-zstd'"):
        a.to_hdf5(tmp_path / "u.h5", "x", compression="bitshuffle-gzip")


# ------------------------------------------------------------- corruption

def corrupt_chunk(path, index, data, size=None):
    """Replace stored chunk `index` by `data` (its first `size` bytes, by
    default the chunk's stored size) through h5py's direct chunk write;
    returns the chunk's coordinates in elements."""
    with h5py.File(path, "r+") as f:
        d = f["x"]
        info = d.id.get_chunk_info(index)
        n = info.size if size is None else size
        d.id.write_direct_chunk(info.chunk_offset, (data * (n // len(data) + 1))[:n],
                                filter_mask=0)
        return info.chunk_offset


@pytest.mark.parametrize("how", ["garbage", "zeros", "truncate-header", "short"])
@pytest.mark.parametrize("cname", list(CNAMES))
def test_corrupt_chunk_names_the_chunk(tmp_path, cname, how):
    path = tmp_path / "c.h5"
    x = sample("<f4", (40, 30), seed=5)
    write_h5py(path, x, (10, 15), hdf5plugin.Bitshuffle(cname=cname))
    if cname == "none" and how in ("garbage", "zeros"):
        pytest.skip("any bytes of the right length are a valid unshuffled chunk")
    data, size = {"garbage": (b"\x5a", None), "zeros": (b"\0", None),
                  "truncate-header": (b"\xff", 12), "short": (b"\x01\x02\x03", 37)}[how]
    coord = corrupt_chunk(path, 5, data, size)
    assert_corrupt_chunk_named(path, coord, x)


@pytest.mark.parametrize("cname", list(CNAMES))
def test_corrupt_chunk_every_byte_position(tmp_path, cname):
    """Flipping any one byte of a stored chunk either still decodes, to
    what h5py + hdf5plugin make of it, or raises CorruptChunkError naming
    the chunk; never a crash."""
    path = tmp_path / "c.h5"
    x = sample("<i2", (64, 40), seed=6)
    write_h5py(path, x, (64, 40), hdf5plugin.Bitshuffle(nelems=64, cname=cname))
    for _ in each_byte_flipped(path, 60):
        try:
            got = cw.open(path, "x").compute()
            # What bitshuffle's own decoder makes of the same bytes.
            try:
                with h5py.File(path, "r") as f:
                    theirs = f["x"][()]
            except OSError:
                assert cname != "none"
            else:
                assert_same(got, theirs)
            if cname == "none":
                # One stored byte is one bit of 8 elements.
                assert np.count_nonzero(got != x) in (1, 8)
        except cw.CorruptChunkError as e:
            assert "chunk (0, 0) of '/x'" in str(e)


def test_info_names_the_bitshuffle_filter(tmp_path):
    path = tmp_path / "i.h5"
    x = np.zeros((40, 30), "<u2")
    with h5py.File(path, "w") as f:
        f.create_dataset("lz4", data=x, chunks=(10, 30),
                         **hdf5plugin.Bitshuffle(nelems=64, cname="lz4"))
        f.create_dataset("zstd", data=x, chunks=(10, 30),
                         **hdf5plugin.Bitshuffle(cname="zstd", clevel=7))
    r = subprocess.run([sys.executable, "-m", "chunkwise", "info", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "filters bitshuffle-lz4(block 64)" in r.stdout
    assert "filters bitshuffle-zstd(block 0, level 7)" in r.stdout
