"""Reading h5py- and PyTables-written files: every dtype in both byte
orders, Blosc codecs and shuffles, gzip and other HDF5 filter pipelines,
incompressible chunks stored raw.
"""
from __future__ import annotations

import re

import h5py
import hdf5plugin
import numpy as np
import pytest
import tables

import chunkwise as cw

from interop_helpers import (TABLES_WARNINGS, BLOSC_CODE, BLOSC_CODECS,
                             DTYPES_BOTH_ORDERS, SHUFFLES, assert_same, blosc_filter,
                             check_read, chunk_masks, h5py_read, native, sample,
                             tables_read)

pytestmark = TABLES_WARNINGS


# ============================================================ dtypes

LAYOUT_KW = {
    "chunked": dict(chunks=(5, 4)),
    "contiguous": dict(),
    "gzip-shuffle": dict(chunks=(5, 4), compression="gzip", shuffle=True),
    "blosc": dict(chunks=(5, 4), **hdf5plugin.Blosc(cname="lz4", shuffle=1)),
}


@pytest.mark.parametrize("layout", list(LAYOUT_KW))
@pytest.mark.parametrize("dtype", DTYPES_BOTH_ORDERS)
def test_h5py_dtypes_byte_orders(tmp_path, dtype, layout):
    path = tmp_path / "d.h5"
    x = sample(dtype, (23, 17), seed=1)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", data=x, dtype=x.dtype, **LAYOUT_KW[layout])
        assert d.dtype == x.dtype
    e = h5py_read(path, "x")
    assert_same(e, x)  # h5py stored what we meant
    cw.reset_stats()
    a = check_read(path, "x")
    s = cw.stats()
    if layout == "contiguous":
        assert s["chunks_pipeline"] > 0
    else:
        assert a.chunksize == (5, 4)
        assert s["chunks_pipeline"] == 0
        assert s["chunks_read"] == 3 * 5 * 5  # every chunk, in each of 3 reads


@pytest.mark.parametrize("filters", ["none", "blosc", "zlib"])
@pytest.mark.parametrize("dtype", DTYPES_BOTH_ORDERS)
def test_pytables_dtypes_byte_orders(tmp_path, dtype, filters):
    path = tmp_path / "t.h5"
    x = sample(dtype, (23, 17), seed=2)
    dt = np.dtype(dtype)
    order = {"<": "little", ">": "big"}.get(dt.byteorder, None)
    flt = {"none": None,
           "blosc": tables.Filters(5, complib="blosc:zstd", shuffle=True),
           "zlib": tables.Filters(5, complib="zlib", shuffle=True)}[filters]
    with tables.open_file(path, "w") as f:
        ca = f.create_carray("/", "x", atom=tables.Atom.from_dtype(native(dt)),
                             shape=x.shape, chunkshape=(6, 5), filters=flt,
                             byteorder=order)
        ca[:] = x
    t = tables_read(path, "/x")
    assert_same(t, x)
    a = check_read(path, "/x")
    assert a.chunksize == (6, 5)
    if dt.kind == "b":
        # PyTables' bool is a bitfield: chunkwise reads it as bool, like
        # PyTables itself (h5py says uint8; h5py_read converted it).
        assert_same(a.compute(), t)


def test_pytables_bool_all_kinds(tmp_path):
    """PyTables-created bool arrays: CArray, EArray, plain Array, scalar."""
    path = tmp_path / "b.h5"
    x = sample("?", (41, 13), seed=3)
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "carray", obj=x, chunkshape=(8, 8),
                        filters=tables.Filters(5, complib="blosc:lz4",
                                               bitshuffle=True))
        e = f.create_earray("/", "earray", atom=tables.BoolAtom(),
                            shape=(0, 13), chunkshape=(7, 13),
                            filters=tables.Filters(3, complib="zlib"))
        e.append(x[:20])
        e.append(x[20:])
        f.create_array("/", "array", obj=x)
        f.create_array("/", "scalar", obj=np.bool_(True))
    for name in ("/carray", "/earray", "/array"):
        a = check_read(path, name)
        assert a.dtype == np.bool_
        assert_same(a.compute(), x)
        assert_same(a.compute(), tables_read(path, name))
    a = check_read(path, "/scalar")
    assert a.shape == () and a.compute()[()] is np.True_


# ============================================================ filters

@pytest.mark.parametrize("shuffle", list(SHUFFLES))
@pytest.mark.parametrize("codec", BLOSC_CODECS)
@pytest.mark.parametrize("dtype", ["<f8", ">i2", "|u1", "|b1"])
def test_h5py_blosc_codecs(tmp_path, codec, shuffle, dtype):
    path = tmp_path / "b.h5"
    x = sample(dtype, (37, 29), seed=4)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", data=x, chunks=(8, 8),
                             **blosc_filter(codec, shuffle))
        cd = d._filters["32001"]
        assert cd[5] == SHUFFLES[shuffle] and cd[6] == BLOSC_CODE[codec]
    cw.reset_stats()
    check_read(path, "x")
    s = cw.stats()
    nchunks = 5 * 4
    assert s["chunks_pipeline"] == 0
    assert s["chunks_read"] == 3 * nchunks  # three full reads in check_read
    # At least the compressed chunks went through chunkwise's own decoder.
    compressed = sum(1 for m in chunk_masks(path, "x") if m == 0)
    assert s["chunks_decoded"] >= 3 * compressed


@pytest.mark.parametrize("mode", ["noshuffle", "shuffle", "bitshuffle"])
@pytest.mark.parametrize("codec", BLOSC_CODECS)
@pytest.mark.parametrize("kind", ["carray", "earray"])
def test_pytables_blosc_codecs(tmp_path, kind, codec, mode):
    path = tmp_path / "t.h5"
    x = sample("<f4", (37, 29), seed=5)
    filt = tables.Filters(complevel=5, complib=f"blosc:{codec}",
                          shuffle=mode == "shuffle", bitshuffle=mode == "bitshuffle")
    with tables.open_file(path, "w") as f:
        if kind == "carray":
            f.create_carray("/", "x", obj=x, chunkshape=(8, 8), filters=filt)
        else:
            e = f.create_earray("/", "x", atom=tables.Float32Atom(),
                                shape=(0, 29), chunkshape=(8, 8), filters=filt)
            e.append(x[:10])
            e.append(x[10:])
    with h5py.File(path, "r") as f:
        cd = f["x"]._filters["32001"]
        assert cd[6] == BLOSC_CODE[codec]
        assert cd[5] == {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[mode]
    cw.reset_stats()
    check_read(path, "/x", expected=None)
    assert_same(cw.open(path, "/x").compute(), x)
    assert cw.stats()["chunks_pipeline"] == 0


@pytest.mark.parametrize("level", [1, 4, 9])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("dtype", ["<i4", ">f8", "<f2", "|b1"])
def test_h5py_gzip(tmp_path, dtype, shuffle, level):
    path = tmp_path / "g.h5"
    x = sample(dtype, (31, 22), seed=6)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(6, 7), compression="gzip",
                         compression_opts=level, shuffle=shuffle)
    cw.reset_stats()
    check_read(path, "x")
    s = cw.stats()
    assert s["chunks_pipeline"] == 0
    assert s["chunks_read"] == 3 * 6 * 4


@pytest.mark.parametrize("shuffle", [False, True])
def test_pytables_zlib(tmp_path, shuffle):
    path = tmp_path / "t.h5"
    x = sample(">i8", (31, 22), seed=7)
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=x, chunkshape=(6, 7), byteorder="big",
                        filters=tables.Filters(6, complib="zlib", shuffle=shuffle))
    check_read(path, "/x")
    assert_same(cw.open(path, "/x").compute(), x)


@pytest.mark.parametrize("case", ["shuffle-only", "shuffle+blosc-noshuffle",
                                  "shuffle+blosc-bitshuffle", "shuffle+gzip"])
@pytest.mark.parametrize("dtype", [">i4", "<f2", "<u8", "|b1"])
def test_h5py_native_filter_combinations(tmp_path, case, dtype):
    """HDF5's shuffle filter alone or before one compressor: chunkwise's own
    decoder (no pipeline), incl. chunks whose compressor was skipped."""
    path = tmp_path / "s.h5"
    x = sample(dtype, (40, 27), seed=42)
    y = sample(dtype, (40, 27), seed=43, compressible=False)
    kw = {"shuffle-only": dict(shuffle=True),
          "shuffle+blosc-noshuffle": dict(shuffle=True, **blosc_filter("lz4", "noshuffle")),
          "shuffle+blosc-bitshuffle": dict(shuffle=True, **blosc_filter("zstd", "bit")),
          "shuffle+gzip": dict(shuffle=True, compression="gzip")}[case]
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(8, 8), **kw)
        f.create_dataset("y", data=y, chunks=(8, 8), **kw)
    for name in ("x", "y"):
        cw.reset_stats()
        check_read(path, name)
        s = cw.stats()
        assert s["chunks_pipeline"] == 0
        assert s["chunks_read"] == 3 * 5 * 4


def _pipeline_cases():
    return {
        "lz4+fletcher32": dict(fletcher32=True, **hdf5plugin.LZ4()),
        "fletcher32": dict(fletcher32=True),
        "fletcher32+shuffle+gzip": dict(fletcher32=True, shuffle=True,
                                        compression="gzip"),
        "shuffle+blosc+fletcher32": dict(shuffle=True, fletcher32=True,
                                         **hdf5plugin.Blosc(cname="zstd")),
        "gzip+blosc": "gzip+blosc",  # two compressors: not on the fast path
        "scaleoffset-int": dict(scaleoffset=0),
    }


def _cw_hdf5():
    """The version of the HDF5 chunkwise runs on."""
    m = re.search(r"HDF5 (\d+)\.(\d+)\.(\d+)", cw._core.version_info())
    return tuple(int(v) for v in m.groups())


PIPELINE_PARAMS = [(case, dtype) for case in _pipeline_cases()
                   for dtype in ("<i4", ">i2", "<f8")
                   if not (case == "scaleoffset-int" and dtype == "<f8")]


@pytest.mark.parametrize("case,dtype", PIPELINE_PARAMS)
def test_h5py_pipeline_filters(tmp_path, case, dtype):
    """Filters chunkwise does not decode itself go through HDF5's pipeline
    (Debian's libhdf5 finds the LZ4 plugin in its default plugin path)."""
    kw = _pipeline_cases()[case]
    if case == "scaleoffset-int" and (1, 12) <= _cw_hdf5() < (2, 0) and \
            h5py.version.hdf5_version_tuple >= (2, 0):
        pytest.xfail("HDF5 1.12-1.14 cannot decode the scale-offset chunks HDF5 2.0 "
                     "writes (h5dump 1.14.5 fails on them too)")
    path = tmp_path / "p.h5"
    x = sample(dtype, (30, 21), seed=8)
    with h5py.File(path, "w") as f:
        if kw == "gzip+blosc":
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk((7, 5))
            dcpl.set_deflate(4)
            dcpl.set_filter(32001, h5py.h5z.FLAG_OPTIONAL, (2, 2, 0, 0, 5, 1, 1))
            tid = h5py.h5t.py_create(x.dtype)
            sid = h5py.h5s.create_simple(x.shape)
            h5py.h5d.create(f.id, b"x", tid, sid, dcpl=dcpl)
            f["x"][...] = x
        else:
            f.create_dataset("x", data=x, chunks=(7, 5), **kw)
    assert_same(h5py_read(path, "x"), x)
    cw.reset_stats()
    a = check_read(path, "x")
    assert a.chunksize == (7, 5)
    s = cw.stats()
    assert s["chunks_pipeline"] > 0
    assert s["chunks_pipeline"] == 3 * 5 * 5
    assert s["chunks_read"] == 0


@pytest.mark.parametrize("case", ["fletcher32", "bzip2+fletcher32", "fletcher32+blosc"])
def test_pytables_pipeline_filters(tmp_path, case):
    path = tmp_path / "t.h5"
    x = sample("<f4", (30, 21), seed=9)
    filt = {"fletcher32": tables.Filters(fletcher32=True),
            "bzip2+fletcher32": tables.Filters(5, complib="bzip2", shuffle=True,
                                               fletcher32=True),
            "fletcher32+blosc": tables.Filters(5, complib="blosc:lz4",
                                               fletcher32=True)}[case]
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=x, chunkshape=(7, 5), filters=filt)
    cw.reset_stats()
    check_read(path, "/x")
    assert cw.stats()["chunks_pipeline"] > 0

# ================================================ incompressible

@pytest.mark.parametrize("shuffle", list(SHUFFLES))
@pytest.mark.parametrize("codec", BLOSC_CODECS)
@pytest.mark.parametrize("dtype", ["<u8", ">f8", "|u1"])
def test_h5py_blosc_incompressible(tmp_path, codec, shuffle, dtype):
    """Random bytes do not shrink: the Blosc filter stores those chunks raw
    and sets the chunk's filter-mask bit.  Mixed with compressible chunks."""
    path = tmp_path / "r.h5"
    rng = np.random.default_rng(17)
    raw = rng.integers(0, 256, size=40 * 24 * np.dtype(dtype).itemsize,
                       dtype=np.uint8)
    x = raw.view(dtype).reshape(40, 24).copy()
    x[32:, :] = x[32:, :1]  # the last chunk row compresses
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(8, 8), **blosc_filter(codec, shuffle))
    masks = chunk_masks(path, "x")
    assert any(m & 1 for m in masks), "precondition: some chunks stored raw"
    assert_same(h5py_read(path, "x").view(np.uint8), x.astype(native(dtype)).view(np.uint8))
    check_read(path, "x")


@pytest.mark.parametrize("filters", ["blosc", "gzip-shuffle"])
def test_pytables_incompressible(tmp_path, filters):
    path = tmp_path / "r.h5"
    x = np.random.default_rng(18).integers(0, 2**63, (40, 24), dtype="<i8")
    filt = tables.Filters(9, complib="blosc:zstd", shuffle=True) \
        if filters == "blosc" else tables.Filters(9, complib="zlib", shuffle=True)
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=x, chunkshape=(8, 8), filters=filt)
    check_read(path, "/x")


@pytest.mark.parametrize("shuffle", [False, True])
def test_h5py_gzip_incompressible(tmp_path, shuffle):
    path = tmp_path / "r.h5"
    x = np.random.default_rng(19).integers(0, 2**32, (40, 24),
                                           dtype="<u4").astype(">u4")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(8, 8), compression="gzip",
                         compression_opts=9, shuffle=shuffle)
    check_read(path, "x")
