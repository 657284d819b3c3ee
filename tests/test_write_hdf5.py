"""Files written by chunkwise (Array.to_hdf5) read back by h5py, PyTables
and chunkwise: compressions, shuffles, levels, dtypes, shapes, chunkings,
views, groups, overwrites and error paths.
"""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import tables

import chunkwise as cw

from interop_helpers import (TABLES_WARNINGS, BLOSC_CODE, BLOSC_CODECS, assert_same,
                             blosc_filter, check_read, chunk_masks, h5py_read, native,
                             sample, tables_read)

pytestmark = TABLES_WARNINGS


# ====================================================== writes

def _compression_cases():
    cases = []
    for codec in BLOSC_CODECS:
        for sh in (True, False, "bit"):
            cases.append((f"blosc-{codec}", sh))
    for comp in ("gzip", None):
        for sh in (True, False):
            cases.append((comp, sh))
    return cases


COMPRESSION_CASES = _compression_cases()
WRITE_DTYPES = ["|b1", "<f2", ">i2", "<f8", "<u8", "|i1", ">f4"]


def _check_written_filters(path, name, compression, shuffle, dtype):
    with h5py.File(path, "r") as f:
        d = f[name]
        filt = d._filters
        assert d.dtype == native(dtype)
        assert d.dtype.byteorder in ("=", "|") or d.dtype.byteorder == "<"
        if compression is None:
            assert not filt
        elif compression == "gzip":
            assert "gzip" in filt
            assert ("shuffle" in filt) == bool(shuffle)
            if shuffle:
                assert list(filt) == ["shuffle", "gzip"]
        else:
            cd = filt["32001"]
            assert list(filt) == ["32001"]
            assert cd[6] == BLOSC_CODE[compression[6:]]
            assert cd[5] == {True: 1, False: 0, "bit": 2}[shuffle]
            assert cd[2] == np.dtype(dtype).itemsize


@pytest.mark.parametrize("dtype", WRITE_DTYPES)
@pytest.mark.parametrize("compression,shuffle", COMPRESSION_CASES,
                         ids=[f"{c}-{s}" for c, s in COMPRESSION_CASES])
def test_write_compression_shuffle_dtypes(tmp_path, compression, shuffle, dtype):
    path = tmp_path / "w.h5"
    x = sample(dtype, (37, 53), seed=22)
    src = cw.asarray(x, chunks=(8, 16))
    cw.reset_stats()
    out = src.to_hdf5(path, "x", compression=compression, shuffle=shuffle)
    assert cw.stats()["chunks_written"] == 5 * 4
    assert isinstance(out, cw.Array)
    assert out.chunksize == (8, 16)
    _check_written_filters(path, "x", compression, shuffle, dtype)
    with h5py.File(path, "r") as f:
        assert f["x"].chunks == (8, 16)
    e = h5py_read(path, "x")
    assert_same(e, x)
    assert_same(out.compute(), e)
    t = tables_read(path, "/x")
    if np.dtype(dtype).kind == "b":
        # PyTables reads the h5py-style bool enum as its int8 base type;
        # it must read chunkwise's file exactly as it reads h5py's own.
        ref = tmp_path / "ref.h5"
        with h5py.File(ref, "w") as f:
            f.create_dataset("x", data=x)
        assert_same(t, tables_read(ref, "/x"))
    else:
        assert_same(t, x)


@pytest.mark.parametrize("compression,shuffle", [
    ("blosc-lz4", False), ("blosc-zstd", "bit"), ("blosc-blosclz", True),
    ("gzip", True), ("gzip", False)])
@pytest.mark.parametrize("level", [0, 1, 9])
def test_write_levels(tmp_path, compression, shuffle, level):
    path = tmp_path / "w.h5"
    x = sample("<i4", (37, 53), seed=23)
    cw.asarray(x, chunks=(10, 10)).to_hdf5(path, "x", compression=compression,
                                           shuffle=shuffle, level=level)
    with h5py.File(path, "r") as f:
        filt = f["x"]._filters
        if compression == "gzip":
            assert filt["gzip"] == level
        else:
            assert filt["32001"][4] == level
    assert_same(h5py_read(path, "x"), x)
    assert_same(tables_read(path, "/x"), x)
    check_read(path, "x", expected=x)


@pytest.mark.parametrize("compression", ["blosc-lz4", "blosc-zstd", "gzip", None])
def test_write_incompressible(tmp_path, compression):
    """Chunks that do not shrink are stored raw (filter mask set) and still
    read correctly by h5py, PyTables and chunkwise."""
    path = tmp_path / "w.h5"
    x = np.random.default_rng(24).integers(0, 2**64, (40, 24), dtype="<u8",
                                           endpoint=False)
    x[32:] = 5  # one compressible chunk row
    cw.asarray(x, chunks=(8, 8)).to_hdf5(path, "x", compression=compression)
    masks = chunk_masks(path, "x")
    if compression is not None:
        assert any(m != 0 for m in masks) and any(m == 0 for m in masks)
    assert_same(h5py_read(path, "x"), x)
    assert_same(tables_read(path, "/x"), x)
    check_read(path, "x", expected=x)

@pytest.mark.parametrize("dtype", ["<f4", ">i8", "|b1"])
def test_write_scalar(tmp_path, dtype):
    path = tmp_path / "w.h5"
    x = np.asarray(sample(dtype, (3,), seed=26)[1])
    out = cw.asarray(x).to_hdf5(path, "s")
    assert out.shape == ()
    e = h5py_read(path, "s")
    assert_same(e, x)
    assert_same(out.compute(), e)
    t = tables_read(path, "/s")
    if np.dtype(dtype).kind != "b":
        assert_same(np.asarray(t), x)
    # A 0-d view of a file-backed array.
    src = tmp_path / "src.h5"
    y = sample(dtype, (6, 5), seed=27)
    with h5py.File(src, "w") as f:
        f.create_dataset("y", data=y, chunks=(4, 4), compression="gzip")
    out2 = cw.open(src, "y")[4, -2].to_hdf5(path, "s2")
    assert out2.shape == ()
    assert_same(h5py_read(path, "s2"), y[4, -2])


@pytest.mark.parametrize("compression", ["blosc-lz4", "gzip", None])
@pytest.mark.parametrize("shape", [(0, 5), (0,), (3, 0, 2)])
def test_write_zero_size(tmp_path, shape, compression):
    path = tmp_path / "w.h5"
    x = np.zeros(shape, dtype=">i4")
    out = cw.asarray(x).to_hdf5(path, "z", compression=compression)
    assert out.shape == shape
    assert_same(h5py_read(path, "z"), x)
    t = tables_read(path, "/z")
    assert t.shape == shape and t.dtype == np.int32
    assert_same(out.compute(), x)
    # A zero-size view of a file-backed array.
    src = tmp_path / "src.h5"
    y = sample("<f4", (6, 5), seed=28)
    with h5py.File(src, "w") as f:
        f.create_dataset("y", data=y, chunks=(4, 4))
    out2 = cw.open(src, "y")[4:2, ::-1].to_hdf5(path, "z2", compression=compression)
    assert out2.shape == (0, 5)
    assert_same(h5py_read(path, "z2"), y[4:2, ::-1])


VIEW_KEYS = [
    (slice(None, None, -3), slice(5, 40, 2)),
    (slice(None, None, -1), slice(None, None, -2)),
    (slice(30, 2, -7), 4),
    (None, slice(1, None, 5), slice(None, None, -9), None),
    (Ellipsis, slice(50, None, -4)),
    (17,),
]


@pytest.mark.parametrize("src_filters", ["gzip-be", "blosc", "contiguous"])
@pytest.mark.parametrize("key", VIEW_KEYS, ids=[repr(k) for k in VIEW_KEYS])
def test_write_strided_reversed_view(tmp_path, key, src_filters):
    src = tmp_path / "src.h5"
    dtype = ">i4" if src_filters == "gzip-be" else "<f4"
    x = sample(dtype, (37, 53), seed=29)
    kw = {"gzip-be": dict(chunks=(8, 8), compression="gzip", shuffle=True),
          "blosc": dict(chunks=(8, 8), **blosc_filter("lz4", "bit")),
          "contiguous": {}}[src_filters]
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=x, **kw)
    view = cw.open(src, "x")[key]
    want = x[key]
    out_path = tmp_path / "out.h5"
    out = view.to_hdf5(out_path, "v", compression="blosc-zstd")
    assert out.shape == want.shape
    e = h5py_read(out_path, "v")
    assert_same(e, want)
    assert_same(tables_read(out_path, "/v"), want)
    with h5py.File(out_path, "r") as f:
        if want.size and want.ndim:
            # default chunks: the source's chunks seen through the view
            assert f["v"].chunks == view.chunksize


@pytest.mark.parametrize("chunks,expected", [
    ((5, 13), (5, 13)),
    ((37, 1), (37, 1)),
    (10, (10, 10)),
    ((-1, 7), (37, 7)),
    ((None, 60), (37, 53)),
    ((100, 100), (37, 53)),
])
def test_write_explicit_chunks(tmp_path, chunks, expected):
    src = tmp_path / "src.h5"
    x = sample("<i8", (37, 53), seed=30)
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=x, chunks=(8, 8), **blosc_filter("lz4", "byte"))
    out_path = tmp_path / "out.h5"
    out = cw.open(src, "x").to_hdf5(out_path, "y", chunks=chunks,
                                    compression="gzip")
    assert out.chunksize == expected
    with h5py.File(out_path, "r") as f:
        assert f["y"].chunks == expected
    assert_same(h5py_read(out_path, "y"), x)
    assert_same(tables_read(out_path, "/y"), x)
    check_read(out_path, "y", expected=x)


def test_write_from_big_endian_and_pytables_sources(tmp_path):
    src = tmp_path / "src.h5"
    x = sample(">f8", (20, 30), seed=31)
    b = sample("?", (20, 30), seed=32)
    with h5py.File(src, "w") as f:
        f.create_dataset("be", data=x, chunks=(6, 7), compression="gzip",
                         shuffle=True)
    with tables.open_file(src, "a") as f:
        f.create_carray("/", "tb", obj=b, chunkshape=(6, 7),
                        filters=tables.Filters(5, complib="blosc:lz4"))
        f.create_carray("/", "tbe", obj=x, chunkshape=(5, 5), byteorder="big",
                        filters=tables.Filters(5, complib="blosc:zstd",
                                               shuffle=True))
    out = tmp_path / "out.h5"
    for name in ("be", "tb", "tbe"):
        cw.open(src, name).to_hdf5(out, name, compression="blosc-lz4hc")
        want = h5py_read(src, name)
        got = h5py_read(out, name)
        assert_same(got, want)
        with h5py.File(out, "r") as f:
            assert f[name].dtype == native(want.dtype)
        if want.dtype.kind != "b":
            assert_same(tables_read(out, "/" + name), want)


def test_write_appends_to_existing_files(tmp_path):
    # a file made by h5py, another by PyTables
    hp = tmp_path / "h5py.h5"
    tp = tmp_path / "tables.h5"
    x = sample("<f4", (20, 30), seed=33)
    y = sample(">i2", (11, 7), seed=34)
    with h5py.File(hp, "w") as f:
        f.create_dataset("orig", data=x, chunks=(5, 5), compression="gzip")
        f.attrs["note"] = "keep me"
        f.create_group("g").attrs["a"] = 1
    with tables.open_file(tp, "w") as f:
        f.create_carray("/", "orig", obj=x, chunkshape=(5, 5),
                        filters=tables.Filters(5, complib="blosc:lz4"))
    for path in (hp, tp):
        cw.asarray(y).to_hdf5(path, "first", compression="blosc-zstd")
        cw.asarray(x[::-1]).to_hdf5(path, "second", compression="gzip")
        cw.asarray(y.T).to_hdf5(path, "/g/third", compression=None)
        assert_same(h5py_read(path, "orig"), x)
        assert_same(h5py_read(path, "first"), y)
        assert_same(h5py_read(path, "second"), x[::-1])
        assert_same(h5py_read(path, "g/third"), y.T)
        with tables.open_file(path, "r") as f:
            assert_same(f.root.orig[:], x)
            assert_same(f.get_node("/first")[:], y)
            assert_same(f.get_node("/second")[:], x[::-1])
            assert_same(f.get_node("/g/third")[:], y.T)
        with h5py.File(path, "r") as f:
            names = set()
            f.visit(names.add)
            assert names == {"orig", "first", "second", "g", "g/third"}
    with h5py.File(hp, "r") as f:
        assert f.attrs["note"] == "keep me" and f["g"].attrs["a"] == 1
    assert sorted(os.listdir(tmp_path)) == ["h5py.h5", "tables.h5"]


@pytest.mark.parametrize("name", ["a/b/c/d", "/a/b/c", "/deep/er/than/that/x",
                                  "g1/x"])
def test_write_nested_groups(tmp_path, name):
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.create_group("g1").attrs["x"] = 5
    x = sample("<u4", (9, 8), seed=35)
    out = cw.asarray(x, chunks=(4, 4)).to_hdf5(path, name)
    e = h5py_read(path, name)
    assert_same(e, x)
    assert_same(out.compute(), x)
    assert_same(cw.open(path, name).compute(), x)
    assert_same(tables_read(path, "/" + name.lstrip("/")), x)
    with h5py.File(path, "r") as f:
        assert f["g1"].attrs["x"] == 5
        parent = "/" + name.lstrip("/").rsplit("/", 1)[0]
        assert isinstance(f[parent], h5py.Group)


def test_write_overwrite_semantics(tmp_path):
    path = tmp_path / "w.h5"
    x = sample("<f8", (20, 30), seed=36)
    y = sample(">i2", (7, 3, 2), seed=37)
    cw.asarray(x).to_hdf5(path, "/g/x", compression="gzip")
    with pytest.raises(FileExistsError):
        cw.asarray(y).to_hdf5(path, "/g/x")
    with pytest.raises(FileExistsError):
        cw.asarray(y).to_hdf5(path, "g/x", overwrite=False)
    assert_same(h5py_read(path, "g/x"), x)
    # Replace with another shape and dtype.
    out = cw.asarray(y).to_hdf5(path, "/g/x", overwrite=True,
                                compression="blosc-lz4")
    assert_same(out.compute(), y)
    assert_same(h5py_read(path, "g/x"), y)
    assert_same(tables_read(path, "/g/x"), y)
    # A group is not replaced by a dataset, even with overwrite=True.
    with pytest.raises(FileExistsError):
        cw.asarray(y).to_hdf5(path, "/g", overwrite=True)
    # Nothing left behind: no temporary datasets, no temporary files.
    with h5py.File(path, "r") as f:
        names = set()
        f.visit(names.add)
    assert names == {"g", "g/x"}
    assert os.listdir(tmp_path) == ["w.h5"]
    # overwrite=True on a new name just writes it
    cw.asarray(x).to_hdf5(path, "/h", overwrite=True)
    assert_same(h5py_read(path, "h"), x)


def test_write_over_h5py_dataset(tmp_path):
    """Overwriting a dataset that h5py created (with other filters)."""
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("d", data=np.arange(10), chunks=(3,), fletcher32=True)
        f.create_dataset("keep", data=np.arange(4))
    x = sample("<f2", (6, 6), seed=38)
    with pytest.raises(FileExistsError):
        cw.asarray(x).to_hdf5(path, "d")
    cw.asarray(x).to_hdf5(path, "d", overwrite=True, compression="blosc-zstd",
                          shuffle="bit")
    assert_same(h5py_read(path, "d"), x)
    assert_same(h5py_read(path, "keep"), np.arange(4))


@pytest.mark.parametrize("compression,shuffle", [
    ("blosc-lz4", True), ("blosc-zstd", "bit"), ("gzip", True), (None, False)])
def test_write_threads_independent(tmp_path, compression, shuffle):
    src = tmp_path / "src.h5"
    x = sample(">f4", (64, 45), seed=39)
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=x, chunks=(8, 9), compression="gzip")
    view = cw.open(src, "x")[::-1, 3:]
    results = []
    for threads in (1, 2):
        out = tmp_path / f"out{threads}.h5"
        with cw.config(threads=threads):
            view.to_hdf5(out, "y", chunks=(10, 7), compression=compression,
                         shuffle=shuffle)
        results.append(h5py_read(out, "y"))
        with h5py.File(out, "r") as f:
            assert f["y"].chunks == (10, 7)
    assert_same(results[0], results[1])
    assert_same(results[0], x[::-1, 3:])

def test_write_into_source_file(tmp_path):
    path = tmp_path / "s.h5"
    x = sample("<i8", (50, 40), seed=47)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(16, 16), compression="gzip")
    a = cw.open(path, "x")
    a[::2].to_hdf5(path, "y", compression="blosc-lz4")
    assert_same(h5py_read(path, "y"), x[::2])
    # replace the source with a reversed view of itself
    b = cw.open(path, "x")[::-1, ::-1].to_hdf5(path, "x", overwrite=True,
                                               compression="gzip")
    assert_same(b.compute(), x[::-1, ::-1])
    assert_same(h5py_read(path, "x"), x[::-1, ::-1])
    assert_same(tables_read(path, "/x"), x[::-1, ::-1])
    assert_same(h5py_read(path, "y"), x[::2])


WRITE_SHAPES = [((53,), (7,)), ((1,), None), ((9, 10, 11), (2, 3, 4)),
                ((5, 6, 4, 7), (2, 4, 3, 3)), ((4, 1, 3), (3, 1, 3))]


@pytest.mark.parametrize("compression,shuffle", [
    ("blosc-lz4", "bit"), ("blosc-zstd", True), ("gzip", True), (None, False)])
@pytest.mark.parametrize("shape,chunks", WRITE_SHAPES)
def test_write_1d_to_4d_edge_chunks(tmp_path, shape, chunks, compression, shuffle):
    path = tmp_path / "w.h5"
    x = sample(">f8", shape, seed=48)
    out = cw.asarray(x).to_hdf5(path, "x", chunks=chunks, compression=compression,
                                shuffle=shuffle)
    want_chunks = chunks if chunks is not None else shape
    with h5py.File(path, "r") as f:
        assert f["x"].chunks == want_chunks
    assert_same(h5py_read(path, "x"), x)
    assert_same(tables_read(path, "/x"), x)
    assert_same(out.compute(), x)


@pytest.mark.parametrize("make", [
    lambda: (cw.arange(1000, chunks=64), np.arange(1000)),
    lambda: (cw.arange(5, 200, 3, dtype="i2", chunks=7), np.arange(5, 200, 3, dtype="i2")),
    lambda: (cw.arange(0.5, 20.0, 0.25, chunks=9), np.arange(0.5, 20.0, 0.25)),
    lambda: (cw.full((30, 40), 2.5, chunks=(7, 9)), np.full((30, 40), 2.5)),
    lambda: (cw.ones((3, 4, 5, 6), dtype="f2", chunks=(2, 3, 2, 5)),
             np.ones((3, 4, 5, 6), "f2")),
    lambda: (cw.zeros((17, 3), dtype=bool, chunks=(5, 2)), np.zeros((17, 3), bool)),
])
def test_write_generated_arrays(tmp_path, make):
    a, want = make()
    path = tmp_path / "g.h5"
    a.to_hdf5(path, "g", compression="blosc-zstd")
    assert_same(h5py_read(path, "g"), want)
    if want.dtype != np.bool_:
        assert_same(tables_read(path, "/g"), want)


def test_write_error_paths_leave_files_alone(tmp_path):
    x = np.arange(10)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello" * 100)
    with pytest.raises(OSError):
        cw.asarray(x).to_hdf5(notes, "x")
    assert notes.read_text() == "hello" * 100
    with pytest.raises(FileNotFoundError):
        cw.asarray(x).to_hdf5(tmp_path / "nodir" / "x.h5", "x")
    # a dataset in the way of a group
    path = tmp_path / "w.h5"
    cw.asarray(x).to_hdf5(path, "a")
    with pytest.raises(FileExistsError):
        cw.asarray(x).to_hdf5(path, "a/b")
    assert_same(h5py_read(path, "a"), x)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "w.h5"]
