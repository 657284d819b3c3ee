"""HDF5 compression filters that chunkwise decodes itself, in worker threads
without HDF5's lock: files written by h5py + hdf5plugin read bit-exactly on
the native path, chunkwise's own writes read back by h5py + hdf5plugin, and
corrupt chunks refused with the chunk named.
"""
from __future__ import annotations

import os

import h5py
import hdf5plugin
import numpy as np
import pytest

import chunkwise as cw

from interop_helpers import (assert_corrupt_chunk_named, assert_same, each_byte_flipped,
                             read_native, sample)

DTYPES = ["<i2", ">i2", "<f4", ">f4", "<f8", ">f8"]
SHAPE = (23, 17)
CHUNKS = [(5, 4), (7, 17), (23, 17)]   # edge chunks in both dims, one dim, none

# Filter options as hdf5plugin writes them, per codec: several levels (or
# block sizes, for LZ4: a small one splits chunks into many blocks).
WRITERS = {
    "zstd": [hdf5plugin.Zstd(clevel=1), hdf5plugin.Zstd(clevel=9),
             hdf5plugin.Zstd(clevel=22)],
    "lz4": [hdf5plugin.LZ4(nbytes=0), hdf5plugin.LZ4(nbytes=64),
            hdf5plugin.LZ4(nbytes=6)],
    "bzip2": [hdf5plugin.BZip2(blocksize=1), hdf5plugin.BZip2(blocksize=5),
              hdf5plugin.BZip2(blocksize=9)],
    # h5py's own filter, without options; the second one with shuffle.
    "lzf": [dict(compression="lzf"), dict(compression="lzf")],
}
FILTER_ID = {"zstd": 32015, "lz4": 32004, "bzip2": 307, "lzf": 32000}


def write_h5py(path, x, chunks, filt, shuffle=False):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, dtype=x.dtype, chunks=chunks, shuffle=shuffle,
                         **filt)


def filter_ids(d):
    pl = d.id.get_create_plist()
    return [pl.get_filter(i)[0] for i in range(pl.get_nfilters())]


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("codec", list(WRITERS))
def test_hdf5plugin_files_read_natively(tmp_path, codec, dtype, chunks):
    for k, filt in enumerate(WRITERS[codec]):
        for compressible in (True, False):
            path = tmp_path / f"{k}{compressible}.h5"
            x = sample(dtype, SHAPE, seed=k, compressible=compressible)
            write_h5py(path, x, chunks, filt, shuffle=k == 1)
            with h5py.File(path, "r") as f:
                assert filter_ids(f["x"]) == ([2] if k == 1 else []) + [FILTER_ID[codec]]
                np.testing.assert_array_equal(f["x"][()], x)
            read_native(path, "x", x)


@pytest.mark.parametrize("level", [0, 1, 5, 9])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("codec", list(WRITERS))
def test_chunkwise_writes_read_by_h5py(tmp_path, codec, dtype, shuffle, level):
    for compressible in (True, False):
        path = tmp_path / f"w{compressible}.h5"
        x = sample(dtype, SHAPE, seed=3, compressible=compressible)
        out = cw.asarray(x, chunks=(5, 4)).to_hdf5(path, "x", compression=codec,
                                                   level=level, shuffle=shuffle)
        with h5py.File(path, "r") as f:
            d = f["x"]
            assert d.chunks == (5, 4)
            assert filter_ids(d) == ([2] if shuffle else []) + [FILTER_ID[codec]]
            got = d[()]
        assert got.dtype.newbyteorder("=") == np.dtype(dtype).newbyteorder("=")
        np.testing.assert_array_equal(got, x)
        assert_same(out.compute(), x)
        read_native(path, "x", h5py_read_all(path))


def h5py_read_all(path):
    with h5py.File(path, "r") as f:
        return f["x"][()]


def test_compressible_chunks_are_compressed(tmp_path):
    x = np.zeros((64, 64), "<f8")
    for codec in WRITERS:
        path = tmp_path / f"{codec}.h5"
        cw.asarray(x, chunks=(32, 32)).to_hdf5(path, "x", compression=codec)
        with h5py.File(path, "r") as f:
            d = f["x"]
            for i in range(d.id.get_num_chunks()):
                info = d.id.get_chunk_info(i)
                assert info.filter_mask == 0
                assert info.size < 32 * 32 * 8 // 10
            np.testing.assert_array_equal(d[()], x)


def corrupt_chunk(path, index, data):
    with h5py.File(path, "r") as f:
        info = f["x"].id.get_chunk_info(index)
        coord = info.chunk_offset
        size = info.size
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(data[:size])
    return coord, size


@pytest.mark.parametrize("how", ["garbage", "zeros", "truncate-header"])
@pytest.mark.parametrize("codec", list(WRITERS))
def test_corrupt_chunk_names_the_chunk(tmp_path, codec, how):
    path = tmp_path / "c.h5"
    x = sample("<f4", (40, 30), seed=5)
    write_h5py(path, x, (10, 15), WRITERS[codec][0])
    data = {"garbage": b"\x5a" * 48, "zeros": b"\0" * 48,
            "truncate-header": b"\xff" * 12}[how]
    coord, _ = corrupt_chunk(path, 5, data)
    assert_corrupt_chunk_named(path, coord, x)


@pytest.mark.parametrize("codec", list(WRITERS))
def test_corrupt_chunk_every_byte_position(tmp_path, codec):
    """Flipping any one byte of a stored chunk either still decodes (to
    whatever the codec makes of it, as the filter would) or raises
    CorruptChunkError; never a crash."""
    path = tmp_path / "c.h5"
    x = sample("<i2", (16, 16), seed=6)
    write_h5py(path, x, (16, 16), WRITERS[codec][1])
    for _ in each_byte_flipped(path, 40):
        try:
            got = cw.open(path, "x").compute()
            assert got.shape == x.shape
        except cw.CorruptChunkError as e:
            assert "chunk (0, 0) of '/x'" in str(e)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("level", [1, 5, 9])
@pytest.mark.parametrize("dtype", ["<f4", ">f8", ">i2"])
def test_pytables_bzip2_read_natively(tmp_path, dtype, level):
    import tables
    path = tmp_path / "t.h5"
    x = sample(dtype, (30, 21), seed=9)
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=x, chunkshape=(7, 5),
                        filters=tables.Filters(level, complib="bzip2", shuffle=True))
    read_native(path, "/x", x)


def test_unknown_compression_lists_the_new_codecs(tmp_path):
    with pytest.raises(ValueError, match="'zstd', 'lz4', 'bzip2', 'lzf'"):
        cw.asarray(np.zeros(3)).to_hdf5(tmp_path / "u.h5", "x", compression="zzz")


def _dataset_with_filter(path, filter_id):
    with h5py.File(path, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((4,))
        dcpl.set_filter(filter_id, h5py.h5z.FLAG_OPTIONAL, ())
        space = h5py.h5s.create_simple((8,))
        h5py.h5d.create(f.id, b"x", h5py.h5t.NATIVE_FLOAT, space, dcpl=dcpl)


def _run(code, env=None):
    """Run code in a fresh interpreter (HDF5's plugin path is per process);
    returns its stdout."""
    import subprocess  # plugin search paths are process state: a fresh one per case
    import sys
    full = dict(os.environ, **(env or {}))
    for k, v in list(full.items()):
        if v is None:
            del full[k]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=full, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_filter_without_plugin_is_named_with_its_package(tmp_path):
    p = str(tmp_path / "sz.h5")
    _dataset_with_filter(p, 32017)  # SZ: hdf5plugin's, not decoded natively
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    out = _run("import sys; sys.modules['hdf5plugin'] = None\n"   # as if not installed
               "import chunkwise as cw\n"
               "try:\n"
               f"    cw.open({p!r}, 'x')\n"
               "except OSError as e:\n"
               "    print(e)\n", env=dict(env, HDF5_PLUGIN_PATH=None))
    assert "filter 32017 (" in out and "provided by hdf5plugin" in out, out
    assert "plugins were looked for in: " in out, out
    q = str(tmp_path / "unknown.h5")
    _dataset_with_filter(q, 32099)
    with pytest.raises(OSError, match=r"filter 32099.*no plugin \(plugins were looked for in: "):
        cw.open(q, "x")


# A plugin filter (ZFP, reversible: exact) and a natively decoded one (LZ4).
_PLUGIN_READ = """
import numpy as np
{first}
import chunkwise as cw
{second}
x = np.arange(600, dtype="f8").reshape(20, 30) / 7
for name in ("zfp", "lz4"):
    assert np.array_equal(cw.open({path!r}, name).compute(), x), name
print("ok")
"""


@pytest.mark.parametrize("first,second", [
    ("import netCDF4", "import hdf5plugin"),
    ("import hdf5plugin", "import netCDF4"),
    ("import netCDF4, hdf5plugin", ""),
    ("", "import netCDF4, hdf5plugin"),
    ("", ""),
])
@pytest.mark.parametrize("plugin_path", [None, "/nonexistent/plugins", "netCDF4"])
def test_plugin_filters_open_whatever_other_packages_set(tmp_path, first, second,
                                                         plugin_path):
    """netCDF4 points HDF5_PLUGIN_PATH at its own folder when it is unset; a
    stale folder in it used to end HDF5's search: neither matters."""
    path = str(tmp_path / "plugins.h5")
    x = np.arange(600, dtype="f8").reshape(20, 30) / 7
    with h5py.File(path, "w") as f:
        f.create_dataset("zfp", data=x, chunks=(10, 10), **hdf5plugin.Zfp(reversible=True))
        f.create_dataset("lz4", data=x, chunks=(10, 10), **hdf5plugin.LZ4())
    if plugin_path == "netCDF4":
        import netCDF4  # only to find its plugin folder
        plugin_path = os.path.join(os.path.dirname(netCDF4.__file__), "plugins")
    code = _PLUGIN_READ.format(first=first, second=second, path=path)
    assert _run(code, env={"HDF5_PLUGIN_PATH": plugin_path}).strip() == "ok"


def test_plugin_folders_are_on_hdf5s_search_path():
    from chunkwise import _core  # the extension's own view of HDF5's search path
    from chunkwise.hdf5meta import plugin_folders
    folders = plugin_folders()
    assert os.path.join(os.path.dirname(hdf5plugin.__file__), "plugins") in folders
    assert set(folders) <= set(_core.plugin_paths())
