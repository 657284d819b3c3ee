"""HDF5 filter 32026 (Blosc2), decoded and encoded by chunkwise itself with
c-blosc2 in worker threads without HDF5's lock: files written by
h5py + hdf5plugin.Blosc2 and by PyTables ("blosc2:<codec>") read
bit-exactly, b2nd frames included; what chunkwise writes with
compression="blosc2-<codec>" reads back bit-exactly in h5py + hdf5plugin
and PyTables; corrupt chunks raise CorruptChunkError naming the chunk.
"""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from functools import partial

import blosc2
import h5py
import hdf5plugin
import numpy as np
import pytest

import chunkwise as cw

from interop_helpers import assert_same, each_byte_flipped, sample
from interop_helpers import read_native as read_any

# Blosc2 never stores a chunk raw under the filter, so every chunk is decoded.
read_native = partial(read_any, every_chunk_decoded=True)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import tables

DTYPES = ["u1", "<i2", ">i2", "<f4", ">f4", "<f8", ">f8", ">i8"]
CODECS = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
SHUFFLES = {"noshuffle": hdf5plugin.Blosc2.NOFILTER,
            "shuffle": hdf5plugin.Blosc2.SHUFFLE,
            "bitshuffle": hdf5plugin.Blosc2.BITSHUFFLE}
# (shape, chunks): edge chunks in every dimension, in one, none; 1-D (plain
# frames) and 2-D/3-D (b2nd frames).
GEOMETRIES = [((23, 17), (5, 4)), ((23, 17), (7, 17)), ((23, 17), (23, 17)),
              ((1001,), (300,)), ((9, 10, 11), (4, 5, 11))]


def filters(path, name="x"):
    with h5py.File(path, "r") as f:
        pl = f[name].id.get_create_plist()
        return [pl.get_filter(i) for i in range(pl.get_nfilters())]


@pytest.mark.parametrize("shuffle", list(SHUFFLES))
@pytest.mark.parametrize("codec", CODECS)
def test_hdf5plugin_files_read_natively(tmp_path, codec, shuffle):
    for k, dtype in enumerate(DTYPES):
        shape, chunks = GEOMETRIES[k % len(GEOMETRIES)]
        for level in (1, 9) if k % 2 else (0, 5):
            path = tmp_path / f"{dtype[-2:]}{level}.h5"
            x = sample(dtype, shape, seed=k, compressible=level != 9)
            with h5py.File(path, "w") as f:
                f.create_dataset("x", data=x, chunks=chunks, **hdf5plugin.Blosc2(
                    cname=codec, clevel=level, filters=SHUFFLES[shuffle]))
            (fid, _, cd, _), = filters(path)
            assert fid == 32026 and cd[4] == level
            assert cd[5] == SHUFFLES[shuffle]
            read_native(path, "x", x)


@pytest.mark.parametrize("shape,chunks", GEOMETRIES)
def test_hdf5plugin_dtypes_and_geometries(tmp_path, shape, chunks):
    for k, dtype in enumerate(DTYPES):
        path = tmp_path / f"{k}.h5"
        x = sample(dtype, shape, seed=10 + k)
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=x, chunks=chunks,
                             **hdf5plugin.Blosc2(cname="lz4", clevel=5))
        read_native(path, "x", x)


def _b2nd_blocks(path):
    with h5py.File(path, "r") as f:
        d = f["x"]
        _, raw = d.id.read_direct_chunk(d.id.get_chunk_info(0).chunk_offset)
    arr = blosc2.ndarray_from_cframe(raw)
    return arr.chunks, arr.blocks


def test_b2nd_blocks_that_do_not_tile_the_chunk_in_c_order(tmp_path):
    """Large chunks: the frames hold b2nd arrays whose blocks are smaller
    than the chunk in several dimensions and padded at its edges; chunkwise
    puts every block's elements where they belong."""
    x = sample("<i4", (700, 650), seed=3, compressible=False)
    for name, kw in {
        "hdf5plugin": dict(cname="lz4", clevel=5),
        "zstd-bit": dict(cname="zstd", clevel=3,
                         filters=hdf5plugin.Blosc2.BITSHUFFLE),
    }.items():
        path = tmp_path / f"{name}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=x, chunks=(300, 400), **hdf5plugin.Blosc2(**kw))
        chunkshape, blocks = _b2nd_blocks(path)
        assert chunkshape == (300, 400)
        assert blocks[0] < 300 and blocks[1] < 400 and 300 % blocks[0] != 0
        read_native(path, "x", x)
    path = tmp_path / "pytables.h5"
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=x, chunkshape=(300, 400),
                        filters=tables.Filters(5, complib="blosc2:lz4", shuffle=True))
    chunkshape, blocks = _b2nd_blocks(path)
    assert blocks != chunkshape
    read_native(path, "x", x)


@pytest.mark.parametrize("shuffle", ["shuffle", "bitshuffle", "noshuffle"])
@pytest.mark.parametrize("complib", ["blosc2", "blosc2:lz4", "blosc2:zstd",
                                     "blosc2:blosclz", "blosc2:zlib", "blosc2:lz4hc"])
def test_pytables_files_read_natively(tmp_path, complib, shuffle):
    for k, dtype in enumerate(DTYPES):
        shape, chunks = GEOMETRIES[k % len(GEOMETRIES)]
        level = (1, 5, 9)[k % 3]
        path = tmp_path / f"t{k}.h5"
        x = sample(dtype, shape, seed=20 + k)
        flt = tables.Filters(level, complib=complib, shuffle=shuffle == "shuffle",
                             bitshuffle=shuffle == "bitshuffle")
        with tables.open_file(path, "w") as f:
            f.create_carray("/", "x", obj=x, chunkshape=chunks, filters=flt)
            # An EArray grown by appends, through PyTables' own Blosc2
            # writer, on a file opened again.
            e = f.create_earray("/", "e", atom=tables.Atom.from_dtype(x.dtype),
                                shape=(0,) + shape[1:], chunkshape=chunks, filters=flt)
            e.append(x)
        with tables.open_file(path, "a") as f:
            f.root.e.append(x[: shape[0] // 2])
        (fid, _, _, _), = filters(path)
        assert fid == 32026
        read_native(path, "/x", x)
        read_native(path, "/e", np.concatenate([x, x[: shape[0] // 2]]))


@pytest.mark.parametrize("level", [0, 1, 5, 9])
@pytest.mark.parametrize("shuffle", [False, True, "bit"])
@pytest.mark.parametrize("codec", CODECS)
def test_chunkwise_writes_read_by_hdf5plugin_and_pytables(tmp_path, codec, shuffle,
                                                         level):
    for k, dtype in enumerate(["u1", "<i2", "<f4", "<f8"]):
        shape, chunks = GEOMETRIES[(k + level) % len(GEOMETRIES)]
        path = tmp_path / f"w{k}.h5"
        x = sample(dtype, shape, seed=30 + k, compressible=k % 2 == 0)
        out = cw.asarray(x).to_hdf5(path, "x", chunks=chunks,
                                    compression=f"blosc2-{codec}", level=level,
                                    shuffle=shuffle)
        (fid, _, cd, name), = filters(path)
        assert fid == 32026 and name == b"blosc2"
        assert cd[2] == x.dtype.itemsize and cd[4] == level
        assert cd[5] == {False: 0, True: 1, "bit": 2}[shuffle]
        assert cd[6] == blosc2.Codec[codec.upper()].value
        with h5py.File(path, "r") as f:
            assert f["x"].chunks == chunks
            np.testing.assert_array_equal(f["x"][()], x)
        with tables.open_file(path, "r") as f:
            np.testing.assert_array_equal(f.root.x[:], x)
            # PyTables' own reader (whole chunks, no reordering) too.
            np.testing.assert_array_equal(f.root.x[: chunks[0]], x[: chunks[0]])
        assert_same(out.compute(), x)
        read_native(path, "x", x)


def test_chunkwise_writes_compressed_frames_in_threads(tmp_path):
    x = np.zeros((256, 256), "<f8")
    path = tmp_path / "z.h5"
    cw.reset_stats()
    with cw.config(threads=2):
        cw.asarray(x, chunks=(64, 128)).to_hdf5(path, "x", compression="blosc2-zstd")
    assert cw.stats()["chunks_written"] == 8
    with h5py.File(path, "r") as f:
        d = f["x"]
        for i in range(d.id.get_num_chunks()):
            info = d.id.get_chunk_info(i)
            assert info.filter_mask == 0 and info.size < 64 * 128 * 8 // 20
            _, raw = d.id.read_direct_chunk(info.chunk_offset)
            assert blosc2.ndarray_from_cframe(raw).shape == (64, 128)


def test_info_names_blosc2_filters(tmp_path):
    path = tmp_path / "i.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros((100, 10), "f4"), chunks=(10, 10),
                         **hdf5plugin.Blosc2(cname="zstd", clevel=3,
                                             filters=hdf5plugin.Blosc2.BITSHUFFLE))
    r = subprocess.run([sys.executable, "-m", "chunkwise", "info", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "filters blosc2-zstd(level 3, bitshuffle)" in r.stdout
    assert "pipeline" not in r.stdout and "not decodable" not in r.stdout


def test_unknown_blosc2_codec(tmp_path):
    with pytest.raises(ValueError, match="'blosc2-lz4'"):
        cw.asarray(np.zeros(3)).to_hdf5(tmp_path / "u.h5", "x", compression="blosc2-xx")


def _chunk_header_at(path, index):
    """Offset of the Blosc2 chunk's header in a stored frame: its nbytes
    field (int32 at byte 4) follows version, format, flags, typesize 4."""
    with h5py.File(path, "r") as f:
        d = f["x"]
        _, raw = d.id.read_direct_chunk(d.id.get_chunk_info(index).chunk_offset)
        nbytes = int(np.prod(d.chunks)) * d.dtype.itemsize
    pos = raw.find(np.array([nbytes], "<i4").tobytes(), 8)
    while pos >= 0 and raw[pos - 1] != 4:
        pos = raw.find(np.array([nbytes], "<i4").tobytes(), pos + 1)
    assert pos > 4
    return pos - 4


def corrupt_chunk(path, index, data, at=0):
    with h5py.File(path, "r") as f:
        info = f["x"].id.get_chunk_info(index)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + at)
        fh.write(data[:info.size - at])
    return info.chunk_offset, info.size


@pytest.mark.parametrize("how", ["garbage", "zeros", "truncate-header", "chunk-body"])
@pytest.mark.parametrize("rank", [1, 2])
def test_corrupt_chunk_names_the_chunk(tmp_path, rank, how):
    path = tmp_path / "c.h5"
    shape, chunks = ((40, 30), (10, 15)) if rank == 2 else ((400,), (50,))
    x = sample("<f4", shape, seed=5, compressible=False)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=chunks,
                         **hdf5plugin.Blosc2(cname="lz4", clevel=5))
    data, at = {"garbage": (b"\x5a" * 4096, 0), "zeros": (b"\0" * 4096, 0),
                "truncate-header": (b"\xff" * 12, 0),
                # The Blosc2 chunk's header, inside an intact frame.
                "chunk-body": (b"\xff" * 16, _chunk_header_at(path, 5))}[how]
    coord, _ = corrupt_chunk(path, 5, data, at)
    a = cw.open(path, "x")
    chunk = ", ".join(str(c // k) for c, k in zip(coord, a.chunksize))
    if rank == 1:
        chunk += ","
    with pytest.raises(cw.CorruptChunkError, match=rf"chunk \({chunk}\) of '/x'"):
        a.compute()
    assert_same(a[:coord[0]].compute(), x[:coord[0]])


@pytest.mark.parametrize("rank", [1, 2])
def test_corrupt_chunk_every_byte_position(tmp_path, rank):
    """Flipping any one byte of a stored frame either still decodes or
    raises CorruptChunkError; never a crash."""
    path = tmp_path / "c.h5"
    shape = (64, 48) if rank == 2 else (3072,)
    x = sample("<i2", shape, seed=6)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=shape, **hdf5plugin.Blosc2(
            cname="zstd", clevel=5, filters=hdf5plugin.Blosc2.BITSHUFFLE))
    for _ in each_byte_flipped(path, 60):
        try:
            got = cw.open(path, "x").compute()
            assert got.shape == x.shape
        except cw.CorruptChunkError as e:
            assert "of '/x'" in str(e)


def test_blosc2_with_a_pipeline_only_filter(tmp_path):
    """Blosc2 after Fletcher32: HDF5 undoes both, so without a Blosc2
    plugin for chunkwise's HDF5 the open fails naming the filter; with
    hdf5plugin's folder on HDF5_PLUGIN_PATH the data reads exactly."""
    path = tmp_path / "f.h5"
    x = sample(">i4", (70, 65), seed=8)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(30, 40), fletcher32=True,
                         **hdf5plugin.Blosc2(cname="lz4"))
    code = ("import sys, numpy as np, chunkwise as cw\n"
            "try:\n    a = cw.open(sys.argv[1], 'x')\n"
            "except OSError as e:\n    print('OSError', e); sys.exit(0)\n"
            "np.save(sys.argv[2], a.compute()); print('read', cw.stats()['chunks_pipeline'])\n")
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    out = tmp_path / "o.npy"
    r = subprocess.run([sys.executable, "-c", code, str(path), str(out)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    if r.stdout.startswith("OSError"):
        assert "filter 32026 (blosc2)" in r.stdout and "hdf5plugin" in r.stdout
    env["HDF5_PLUGIN_PATH"] = hdf5plugin.PLUGIN_PATH
    r = subprocess.run([sys.executable, "-c", code, str(path), str(out)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("read"), r.stdout + r.stderr
    assert int(r.stdout.split()[1]) == 6
    np.testing.assert_array_equal(np.load(out), x)
