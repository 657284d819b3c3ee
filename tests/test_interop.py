"""Interoperability: files written by h5py (+hdf5plugin) and PyTables read by
chunkwise, and files written by chunkwise read by h5py, PyTables and h5dump.

Every read is compared with h5py's own read of the same file: exact equality
of the bytes (so NaN, -0.0 and subnormals count), the same shape and the same
dtype once put in native byte order.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import h5py
import hdf5plugin
import numpy as np
import pytest
import tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chunkwise as cw

pytestmark = pytest.mark.filterwarnings(
    "ignore::tables.NaturalNameWarning",
    "ignore::tables.FlavorWarning",
)

PLUGIN_DIR = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"

BLOSC_CODECS = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
BLOSC_CODE = {"blosclz": 0, "lz4": 1, "lz4hc": 2, "zlib": 4, "zstd": 5}
SHUFFLES = {"noshuffle": hdf5plugin.Blosc.NOSHUFFLE,
            "byte": hdf5plugin.Blosc.SHUFFLE,
            "bit": hdf5plugin.Blosc.BITSHUFFLE}

# Every supported dtype in both byte orders (one entry for 1-byte types).
DTYPES_BOTH_ORDERS = (["|b1", "|i1", "|u1"]
                      + [o + t for t in ("i2", "i4", "i8", "u2", "u4", "u8",
                                         "f2", "f4", "f8") for o in "<>"])

XFAIL_LIBVER_LATEST = pytest.mark.xfail(
    strict=True, raises=OSError,
    reason="chunkwise links Debian's HDF5 1.10.8, which cannot parse the "
           "layout message (filtered chunked datasets) or the enum datatype "
           "message (bool) that h5py 3.16 / HDF5 2.0 writes with "
           "libver='latest': open() raises OSError 'bad version number'")


# --------------------------------------------------------------- helpers

def native(dt) -> np.dtype:
    return np.dtype(dt).newbyteorder("=")


def sample(dtype, shape, seed=0, compressible=True):
    """Deterministic test data of `dtype` (any byte order)."""
    dt = np.dtype(dtype)
    nd = native(dt)
    rng = np.random.default_rng(seed)
    if nd == np.bool_:
        x = rng.random(shape) < 0.3
    elif nd.kind in "iu":
        info = np.iinfo(nd)
        if compressible:
            lo, hi = max(info.min, -100), min(info.max, 100)
        else:
            lo, hi = info.min, info.max
        x = rng.integers(lo, hi, size=shape, dtype=nd, endpoint=True)
        if x.size >= 2:
            x.flat[0], x.flat[-1] = info.min, info.max
    else:
        if compressible:
            x = np.round(rng.standard_normal(shape) * 100, 1).astype(nd)
        else:
            x = (rng.standard_normal(shape)
                 * 10.0 ** rng.uniform(-4, 4, shape)).astype(nd)
        specials = np.array([np.nan, np.inf, -np.inf, -0.0,
                             np.finfo(nd).tiny / 4, np.finfo(nd).max,
                             np.finfo(nd).min], dtype=nd)
        flat = x.reshape(-1)
        n = min(flat.size, specials.size)
        flat[:n] = specials[:n]
    return np.array(x, dtype=dt, order="C")


def h5py_read(path, name):
    """h5py's read of the whole dataset, native byte order.  PyTables' bool
    (an 8-bit bitfield) is read by h5py as uint8 0/1: it is returned as
    bool after checking that it holds only 0 and 1."""
    with h5py.File(path, "r") as f:
        d = f[name]
        e = d[()]
        is_bitfield = d.id.get_type().get_class() == h5py.h5t.BITFIELD
    e = np.asarray(e)
    e = e.astype(native(e.dtype))
    if is_bitfield:
        assert e.dtype == np.uint8
        assert np.isin(e, [0, 1]).all()
        e = e.astype(bool)
    return e


def tables_read(path, name):
    with tables.open_file(path, "r") as f:
        node = f.get_node(name)
        return node.read() if node.shape == () else node[:]


def assert_same(actual, expected):
    """Exact equality: shape, dtype (native order) and every byte."""
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray)
    assert actual.shape == expected.shape
    assert actual.dtype == native(expected.dtype), (actual.dtype, expected.dtype)
    assert actual.dtype.isnative
    assert np.array_equal(actual, expected.astype(native(expected.dtype)),
                          equal_nan=actual.dtype.kind == "f")
    assert (np.ascontiguousarray(actual).tobytes()
            == np.ascontiguousarray(expected.astype(actual.dtype)).tobytes())


def check_read(path, name, expected=None):
    """Open with chunkwise, compare metadata and both compute paths with
    h5py's read; returns the chunkwise Array."""
    e = h5py_read(path, name) if expected is None else expected
    a = cw.open(path, name)
    assert a.shape == e.shape
    assert a.dtype == e.dtype
    assert a.ndim == e.ndim
    assert a.size == e.size
    assert a.nbytes == e.nbytes
    assert_same(a.compute(), e)
    assert_same(np.asarray(a), e)
    out = np.full(e.shape, 1, dtype=e.dtype)
    res = a.compute(out=out)
    assert res is out
    assert_same(out, e)
    return a


def chunk_masks(path, name):
    """Filter masks of the stored chunks (h5py's view of the index)."""
    with h5py.File(path, "r") as f:
        d = f[name]
        return [d.id.get_chunk_info(i).filter_mask
                for i in range(d.id.get_num_chunks())]


def touched_chunks(shape, chunks, key):
    """Number of chunks holding at least one element of a[key], for keys of
    ints and slices (one per dimension, possibly fewer)."""
    if not isinstance(key, tuple):
        key = (key,)
    key = key + (slice(None),) * (len(shape) - len(key))
    total = 1
    for n, c, k in zip(shape, chunks, key):
        idx = np.arange(n)[k]
        total *= len(np.unique(np.atleast_1d(idx) // c))
    return total


def blosc_filter(cname, shuffle):
    return dict(hdf5plugin.Blosc(cname=cname, clevel=5, shuffle=SHUFFLES[shuffle]))


# ============================================================ 1. dtypes

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
        assert a.chunks == (5, 4)
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
    assert a.chunks == (6, 5)
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


# ============================================================ 2. filters

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
        "lz4": dict(**hdf5plugin.LZ4()),
        "fletcher32": dict(fletcher32=True),
        "fletcher32+shuffle+gzip": dict(fletcher32=True, shuffle=True,
                                        compression="gzip"),
        "shuffle+blosc+fletcher32": dict(shuffle=True, fletcher32=True,
                                         **hdf5plugin.Blosc(cname="zstd")),
        "gzip+blosc": "gzip+blosc",  # two compressors: not on the fast path
        "scaleoffset-int": dict(scaleoffset=0),
    }


PIPELINE_PARAMS = [(case, dtype) for case in _pipeline_cases()
                   for dtype in ("<i4", ">i2", "<f8")
                   if not (case == "scaleoffset-int" and dtype == "<f8")]


@pytest.mark.parametrize("case,dtype", PIPELINE_PARAMS)
def test_h5py_pipeline_filters(tmp_path, case, dtype):
    """Filters chunkwise does not decode itself go through HDF5's pipeline
    (Debian's libhdf5 finds the LZ4 plugin in its default plugin path)."""
    kw = _pipeline_cases()[case]
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
    assert a.chunks == (7, 5)
    s = cw.stats()
    assert s["chunks_pipeline"] > 0
    assert s["chunks_pipeline"] == 3 * 5 * 5
    assert s["chunks_read"] == 0


@pytest.mark.parametrize("case", ["fletcher32", "bzip2", "fletcher32+blosc"])
def test_pytables_pipeline_filters(tmp_path, case):
    path = tmp_path / "t.h5"
    x = sample("<f4", (30, 21), seed=9)
    filt = {"fletcher32": tables.Filters(fletcher32=True),
            "bzip2": tables.Filters(5, complib="bzip2", shuffle=True),
            "fletcher32+blosc": tables.Filters(5, complib="blosc:lz4",
                                               fletcher32=True)}[case]
    with tables.open_file(path, "w") as f:
        f.create_carray("/", "x", obj=x, chunkshape=(7, 5), filters=filt)
    cw.reset_stats()
    check_read(path, "/x")
    assert cw.stats()["chunks_pipeline"] > 0


# ============================================================ 3. layouts

@pytest.mark.parametrize("dtype", ["<i2", ">i2", ">f8", "|b1", "<f2"])
def test_compact_layout(tmp_path, dtype):
    path = tmp_path / "c.h5"
    x = sample(dtype, (10, 12), seed=10)
    with h5py.File(path, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        sid = h5py.h5s.create_simple(x.shape)
        tid = h5py.h5t.py_create(x.dtype, logical=True)
        h5py.h5d.create(f.id, b"x", tid, sid, dcpl=dcpl)
        f["x"][...] = x
    with h5py.File(path, "r") as f:
        assert f["x"].id.get_create_plist().get_layout() == h5py.h5d.COMPACT
    cw.reset_stats()
    check_read(path, "x")
    assert cw.stats()["chunks_pipeline"] > 0
    assert_same(cw.open(path, "x")[::-2, 3:9:4].compute(), x[::-2, 3:9:4])


def test_compact_scalar(tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        h5py.h5d.create(f.id, b"s", h5py.h5t.STD_U64BE,
                        h5py.h5s.create(h5py.h5s.SCALAR), dcpl=dcpl)
        f["s"][()] = np.uint64(2**64 - 3)
    a = check_read(path, "s")
    assert a.shape == () and a.compute()[()] == np.uint64(2**64 - 3)
    assert int(a) == 2**64 - 3


@pytest.mark.parametrize("shape,chunks", [
    ((53,), (7,)),
    ((1,), (1,)),
    ((23, 17), (5, 4)),
    ((23, 17), (23, 1)),
    ((9, 10, 11), (2, 3, 4)),
    ((5, 6, 4, 7), (2, 4, 3, 3)),
    ((5, 6, 4, 7), (5, 6, 4, 7)),
    ((3, 1, 8, 2), (1, 1, 3, 2)),
])
@pytest.mark.parametrize("filters", ["none", "blosc", "gzip", "fletcher32"])
def test_chunked_edge_chunks_1d_to_4d(tmp_path, shape, chunks, filters):
    path = tmp_path / "e.h5"
    x = sample(">f4", shape, seed=11)
    kw = {"none": {}, "blosc": blosc_filter("lz4", "byte"),
          "gzip": dict(compression="gzip", shuffle=True),
          "fletcher32": dict(fletcher32=True)}[filters]
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=chunks, **kw)
    a = check_read(path, "x")
    assert a.chunks == chunks
    assert len(a) == shape[0]
    r = repr(a)
    assert "e.h5" in r and "/x" in r
    # The last element and the last edge chunk alone.
    last = tuple(n - 1 for n in shape)
    assert_same(a[last].compute(), x[last])
    edge = tuple(slice((n - 1) // c * c, None) for n, c in zip(shape, chunks))
    assert_same(a[edge].compute(), x[edge])


@pytest.mark.parametrize("dtype", ["<f4", ">i8", "|b1", ">f2"])
def test_scalar_dataset(tmp_path, dtype):
    path = tmp_path / "s.h5"
    x = sample(dtype, (), seed=12) if np.dtype(dtype).kind != "f" else \
        np.array(-2.5, dtype=dtype)
    with h5py.File(path, "w") as f:
        f.create_dataset("s", data=x)
    a = check_read(path, "s")
    assert a.shape == () and a.ndim == 0 and a.size == 1
    assert a.chunks == ()
    assert_same(a[...].compute(), np.asarray(x)[...])
    assert_same(a[None].compute(), np.asarray(x)[None])
    with pytest.raises(TypeError):
        len(a)


def test_pytables_scalar(tmp_path):
    path = tmp_path / "s.h5"
    with tables.open_file(path, "w") as f:
        f.create_array("/", "s", obj=np.float64(3.25))
        f.create_array("/", "i", obj=np.array(-7, dtype=">i2"))
    check_read(path, "/s")
    check_read(path, "/i")


@pytest.mark.parametrize("layout", ["contiguous", "chunked", "chunked-blosc"])
def test_zero_size(tmp_path, layout):
    path = tmp_path / "z.h5"
    kw = {"contiguous": {},
          "chunked": dict(chunks=(2, 5), maxshape=(None, 5)),
          "chunked-blosc": dict(chunks=(4, 5), maxshape=(None, 5),
                                **hdf5plugin.Blosc())}[layout]
    with h5py.File(path, "w") as f:
        f.create_dataset("z", shape=(0, 5), dtype=">i4", **kw)
    a = check_read(path, "z")
    assert a.shape == (0, 5) and a.size == 0 and a.nbytes == 0 and len(a) == 0
    assert_same(a[::-1, 2:].compute(), np.zeros((0, 5), "i4")[::-1, 2:])
    assert_same(a[:, 3].compute(), np.zeros((0,), "i4"))


def test_pytables_zero_size_earray(tmp_path):
    path = tmp_path / "z.h5"
    with tables.open_file(path, "w") as f:
        f.create_earray("/", "z", atom=tables.UInt16Atom(), shape=(0, 5),
                        filters=tables.Filters(5, complib="blosc:lz4"))
    a = check_read(path, "/z")
    assert a.shape == (0, 5) and a.dtype == np.uint16


def test_empty_slices_of_nonempty(tmp_path):
    path = tmp_path / "e.h5"
    x = sample("<i4", (12, 9), seed=13)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(5, 4))
    a = cw.open(path, "x")
    for key in [(slice(5, 5),), (slice(None), slice(9, None)),
                (slice(10, 2),), (slice(2, 10, -1), 3)]:
        assert a[key].shape == x[key].shape
        assert_same(a[key].compute(), x[key])


def test_large_contiguous_split_into_pieces(tmp_path):
    """A contiguous dataset over 4 MiB is read in several pieces."""
    path = tmp_path / "big.h5"
    x = sample(">f4", (1100, 1000), seed=44)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x)
    cw.reset_stats()
    a = check_read(path, "x")
    assert cw.stats()["chunks_pipeline"] >= 3 * 2
    assert_same(a[1099:3:-97, ::-333].compute(), x[1099:3:-97, ::-333])


def test_links_names_userblock_and_virtual(tmp_path):
    other = tmp_path / "other.h5"
    path = tmp_path / "m.h5"
    y = sample("<i2", (3, 4), seed=45)
    x = sample("<f8", (9, 7), seed=46)
    with h5py.File(other, "w") as f:
        f.create_dataset("d", data=y, chunks=(2, 2), compression="gzip")
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("x", data=x, chunks=(4, 4), **blosc_filter("lz4", "byte"))
        f["soft"] = h5py.SoftLink("/x")
        f["ext"] = h5py.ExternalLink(str(other), "/d")
        f.create_dataset("grp with space/dä ta", data=x, chunks=(2, 3),
                         compression="gzip")
        lay = h5py.VirtualLayout(shape=(2, 3, 4), dtype="<i2")
        lay[0] = h5py.VirtualSource(str(other), "d", shape=(3, 4))
        lay[1, 1:] = h5py.VirtualSource(str(other), "d", shape=(3, 4))[:2]
        f.create_virtual_dataset("vds", lay, fillvalue=-1)
    for name in ("x", "/soft", "ext", "grp with space/dä ta", "/vds"):
        check_read(path, name)
    assert_same(cw.open(path, "soft")[::-1].compute(), x[::-1])


def test_unavailable_filter_raises_oserror(tmp_path):
    """h5py's LZF filter lives inside h5py; chunkwise's libhdf5 has no
    plugin for it: opening fails at once with an OSError naming the filter
    (not a CorruptChunkError later, which would suggest a damaged file)."""
    path = tmp_path / "lzf.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(100.0), chunks=(10,),
                         compression="lzf")
    with pytest.raises(OSError, match=r"filter 32000 \(lzf\).*no plugin"):
        cw.open(path, "x")


# ================================================= 4. unallocated chunks

def _partial_write(d):
    d[0:8, 0:8] = 1          # one whole chunk
    d[20:30, 40:53] = 2      # parts of several, incl. edge chunks
    d[36, 0] = 3             # one element of a bottom edge chunk


INDEX_KW = {
    "v1btree": ("earliest", dict()),
    "fixed_array": ("v110", dict()),
    "extensible_array": ("v110", dict(maxshape=(None, 53))),
    "v2btree": ("v110", dict(maxshape=(None, None))),
}


@pytest.mark.parametrize("filters", ["none", "gzip", "blosc", "fletcher32"])
@pytest.mark.parametrize("index", list(INDEX_KW))
def test_unallocated_chunks_read_fill_value(tmp_path, index, filters):
    path = tmp_path / "u.h5"
    low, kw = INDEX_KW[index]
    fkw = {"none": {}, "gzip": dict(compression="gzip"),
           "blosc": dict(hdf5plugin.Blosc()),
           "fletcher32": dict(fletcher32=True)}[filters]
    with h5py.File(path, "w", libver=(low, "v110")) as f:
        d = f.create_dataset("x", shape=(37, 53), dtype="<i2", chunks=(8, 8),
                             fillvalue=7, **kw, **fkw)
        _partial_write(d)
        assert 0 < d.id.get_num_chunks() < 5 * 7
    e = h5py_read(path, "x")
    assert (e == 7).sum() > 1000 and (e == 1).sum() == 64
    check_read(path, "x")


@pytest.mark.parametrize("dtype", [">i4", "<f8", ">f2", "|u1"])
def test_unallocated_chunks_typed_fill(tmp_path, dtype):
    """Fill values of other types and byte orders (native path)."""
    path = tmp_path / "u.h5"
    fill = np.array(-3.5 if np.dtype(dtype).kind == "f" else 200
                    if dtype == "|u1" else -3, dtype=dtype)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", shape=(37, 53), dtype=dtype, chunks=(8, 8),
                             fillvalue=fill, compression="gzip", shuffle=True)
        _partial_write(d)
    check_read(path, "x")


@pytest.mark.parametrize("filters", ["none", "blosc"])
def test_pytables_unallocated_chunks(tmp_path, filters):
    path = tmp_path / "u.h5"
    filt = None if filters == "none" else tables.Filters(5, complib="blosc:lz4")
    with tables.open_file(path, "w") as f:
        ca = f.create_carray("/", "x", atom=tables.Int16Atom(dflt=7),
                             shape=(37, 53), chunkshape=(8, 8), filters=filt)
        ca[0:8, 0:8] = 1
        ca[20:30, 40:53] = 2
    e = h5py_read(path, "/x")
    assert (e == 7).any()
    check_read(path, "/x")


NEVER_WRITTEN_PARAMS = [(index, filters) for index in list(INDEX_KW) + ["contiguous"]
                        for filters in ("none", "gzip", "blosc", "fletcher32")
                        if index != "contiguous" or filters == "none"]


@pytest.mark.parametrize("index,filters", NEVER_WRITTEN_PARAMS)
def test_never_written_dataset(tmp_path, index, filters):
    path = tmp_path / "n.h5"
    if index == "contiguous":
        low, kw = "earliest", {}
    else:
        low, kw = INDEX_KW[index]
        kw = dict(kw, chunks=(8, 8))
    fkw = {"none": {}, "gzip": dict(compression="gzip"),
           "blosc": dict(hdf5plugin.Blosc()),
           "fletcher32": dict(fletcher32=True)}[filters]
    with h5py.File(path, "w", libver=(low, "v110")) as f:
        f.create_dataset("x", shape=(37, 53), dtype=">i4", fillvalue=7,
                         **kw, **fkw)
        f.create_dataset("nofill", shape=(37, 53), dtype="<f4", **kw, **fkw)
    e = h5py_read(path, "x")
    assert (e == 7).all()
    check_read(path, "x")
    check_read(path, "nofill")
    assert_same(cw.open(path, "x")[3:30:7, ::-9].compute(), e[3:30:7, ::-9])


# ============================================ 5. chunk index types

INDEX_CASES = {
    # name: (libver, create_dataset kwargs)
    "v1btree-default-libver": (None, dict(chunks=(7, 6))),
    "v1btree-unlimited": (None, dict(chunks=(7, 6), maxshape=(None, None))),
    "fixed_array": (("v110", "v110"), dict(chunks=(7, 6))),
    "extensible_array": (("v110", "v110"), dict(chunks=(7, 6), maxshape=(None, 45))),
    "v2btree": (("v110", "v110"), dict(chunks=(7, 6), maxshape=(None, None))),
    "single_chunk": (("v110", "v110"), dict(chunks=(40, 45))),
    "single_chunk_default_libver": (None, dict(chunks=(40, 45))),
    "chunk_larger_than_shape": (("v110", "v110"),
                                dict(chunks=(64, 64), maxshape=(None, None))),
}


@pytest.mark.parametrize("filters", ["none", "blosc", "gzip"])
@pytest.mark.parametrize("case", list(INDEX_CASES))
def test_chunk_index_types(tmp_path, case, filters):
    libver, kw = INDEX_CASES[case]
    path = tmp_path / "i.h5"
    x = sample("<f8", (40, 45), seed=14)
    fkw = {"none": {}, "blosc": blosc_filter("zstd", "bit"),
           "gzip": dict(compression="gzip", shuffle=True)}[filters]
    with h5py.File(path, "w", libver=libver) as f:
        if "maxshape" in kw and kw["maxshape"][0] is None:
            # grow it like an appending writer would
            d = f.create_dataset("x", shape=(0, 45), dtype=x.dtype, **kw, **fkw)
            d.resize(20, axis=0)
            d[:20] = x[:20]
            d.resize(40, axis=0)
            d[20:] = x[20:]
        else:
            f.create_dataset("x", data=x, **kw, **fkw)
    cw.reset_stats()
    a = check_read(path, "x")
    # Array.chunks is clipped to the shape (a chunk may exceed it in HDF5)
    assert a.chunks == tuple(min(c, n) for c, n in zip(kw["chunks"], x.shape))
    assert cw.stats()["chunks_pipeline"] == 0
    assert_same(a[::-7, 44:0:-11].compute(), x[::-7, 44:0:-11])


MANY_SHAPE, MANY_CHUNKS = (150, 200), (3, 4)   # 2500 chunks


def _many_chunks_file(path, index, userblock=0, sizes=None, libver=None):
    if sizes is None:
        return h5py.File(path, "w", libver=libver, userblock_size=userblock or None)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if libver is not None:
        fapl.set_libver_bounds(*[{"earliest": h5py.h5f.LIBVER_EARLIEST,
                                  "v108": h5py.h5f.LIBVER_V18,
                                  "v110": h5py.h5f.LIBVER_V110}[v] for v in libver])
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_sizes(*sizes)
    fid = h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fapl=fapl,
                          fcpl=fcpl)
    return h5py.File(fid)


MANY_INDEX = {
    # name: (file kwargs, dataset kwargs, grow by appending rows)
    "v1btree": (dict(), dict(), False),
    "v1btree-ohdr-v2": (dict(libver=("v108", "v108")), dict(), False),
    "v1btree-userblock": (dict(userblock=1024), dict(), False),
    "v1btree-4byte-offsets": (dict(sizes=(4, 4)), dict(), False),
    "v1btree-grown": (dict(), dict(maxshape=(None, None)), True),
    "v1btree-grown-ohdr-v2": (dict(libver=("v108", "v108")),
                              dict(maxshape=(None, 200)), True),
    "fixed_array": (dict(libver=("v110", "v110")), dict(), False),
    "extensible_array-dim0": (dict(libver=("v110", "v110")),
                              dict(maxshape=(None, 200)), True),
    "extensible_array-dim1": (dict(libver=("v110", "v110")),
                              dict(maxshape=(150, None)), False),
    "v2btree": (dict(libver=("v110", "v110")), dict(maxshape=(None, None)), True),
}


def _many_params():
    for index in MANY_INDEX:
        for filters in ("none", "gzip", "blosc"):
            for gaps in (False, True):
                marks = ()
                yield pytest.param(index, filters, gaps, marks=marks,
                                   id=f"{index}-{filters}-{'gaps' if gaps else 'full'}")


@pytest.mark.parametrize("index,filters,gaps", list(_many_params()))
def test_many_chunks_index_variants(tmp_path, index, filters, gaps):
    """Thousands of chunks: multi-level B-trees, paged fixed arrays,
    extensible arrays with data/super blocks, user blocks, 4-byte file
    offsets, object header v2, datasets grown by appending; with and
    without unallocated chunks between allocated ones."""
    path = tmp_path / "m.h5"
    fkw, dkw, grow = MANY_INDEX[index]
    fltr = {"none": {}, "gzip": dict(compression="gzip", shuffle=True),
            "blosc": blosc_filter("lz4", "byte")}[filters]
    x = sample("<i2", MANY_SHAPE, seed=49)
    # some incompressible chunks among the others (stored raw, mask set)
    x[30:45] = sample("<i2", (15, 200), seed=50, compressible=False)
    rows = [r for r in range(0, MANY_SHAPE[0], 15) if not gaps or (r // 15) % 3 != 1]
    with _many_chunks_file(path, index, **fkw) as f:
        shape = (0, MANY_SHAPE[1]) if grow else MANY_SHAPE
        d = f.create_dataset("x", shape=shape, dtype=x.dtype, chunks=MANY_CHUNKS,
                             fillvalue=7, **dkw, **fltr)
        if grow:
            d.resize(MANY_SHAPE[0], axis=0)
        for r in rows:
            if gaps and r == 0:
                d[0:15, 0:100] = x[0:15, 0:100]  # half a block of chunks
            else:
                d[r:r + 15] = x[r:r + 15]
    e = h5py_read(path, "x")
    if not gaps:
        assert_same(e, x)
    else:
        assert (e == 7).sum() > 10000
    cw.reset_stats()
    a = check_read(path, "x")
    assert cw.stats()["chunks_pipeline"] == 0
    for key in [(slice(None, None, -7), slice(3, None, 9)), (77,), (slice(40, 50), -1)]:
        assert_same(a[key].compute(), e[key])


@pytest.mark.parametrize("libver,maxshape", [
    (None, (None, None)), (("v108", "v108"), (None, 30)),
    (("v110", "v110"), (None, 30)), (("v110", "v110"), (None, None))],
    ids=["v1btree", "v1btree-ohdr-v2", "extensible_array", "v2btree"])
@pytest.mark.parametrize("filters", ["none", "gzip", "blosc"])
def test_rewritten_shrunk_and_regrown_chunks(tmp_path, libver, maxshape, filters):
    """Chunks rewritten with another stored size (reallocated), a dataset
    shrunk (HDF5 drops the chunks outside) and grown again."""
    path = tmp_path / "r.h5"
    fltr = {"none": {}, "gzip": dict(compression="gzip"),
            "blosc": blosc_filter("zstd", "byte")}[filters]
    noise = sample("<i4", (60, 30), seed=54, compressible=False)
    with h5py.File(path, "w", libver=libver) as f:
        d = f.create_dataset("x", shape=(60, 30), dtype="<i4", chunks=(4, 4),
                             maxshape=maxshape, fillvalue=-5, **fltr)
        d[...] = 0
        d[10:50] = noise[10:50]          # grows the stored chunks
        d[20:30] = 1                     # shrinks some again
        d.resize(21, axis=0)             # drops chunks, fills a partial one
        d.resize(60, axis=0)
        d[50:60, 10:20] = noise[50:60, 10:20]
    e = h5py_read(path, "x")
    assert (e[21:50] == -5).all() and (e[:10] == 0).all()
    check_read(path, "x")


@pytest.mark.parametrize("filters", ["none", "blosc"])
def test_many_chunks_pytables_earray(tmp_path, filters):
    path = tmp_path / "t.h5"
    x = sample(">f4", (300, 40), seed=51)
    filt = None if filters == "none" else tables.Filters(5, complib="blosc:zstd",
                                                         shuffle=True)
    with tables.open_file(path, "w") as f:
        e = f.create_earray("/", "x", atom=tables.Float32Atom(), shape=(0, 40),
                            chunkshape=(2, 3), filters=filt, byteorder="big")
        for r in range(0, 300, 7):
            e.append(x[r:r + 7])
    a = check_read(path, "/x")
    assert_same(a.compute(), x)


def test_implicit_index(tmp_path):
    """libver v110, fixed shape, no filters, early allocation: HDF5 uses
    the implicit index (chunks laid out contiguously, no index)."""
    path = tmp_path / "i.h5"
    x = sample(">u4", (50, 30), seed=52)
    with h5py.File(path, "w", libver=("v110", "v110")) as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((7, 4))
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        dcpl.set_fill_value(np.array(7, ">u4"))
        h5py.h5d.create(f.id, b"x", h5py.h5t.STD_U32BE,
                        h5py.h5s.create_simple(x.shape), dcpl=dcpl)
        h5py.h5d.create(f.id, b"empty", h5py.h5t.STD_U32BE,
                        h5py.h5s.create_simple(x.shape), dcpl=dcpl)
        f["x"][:20] = x[:20]
    e = h5py_read(path, "x")
    assert_same(e[:20], x[:20]) and (e[21:] == 7).all()
    check_read(path, "x")
    assert (check_read(path, "empty").compute() == 7).all()


@pytest.mark.parametrize("kind", ["attributes-before", "attributes-after"])
def test_object_header_continuation(tmp_path, kind):
    """Datasets whose object header spills into continuation blocks."""
    path = tmp_path / "o.h5"
    x = sample("<f8", (60, 50), seed=53)
    with h5py.File(path, "w") as f:
        if kind == "attributes-before":
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk((7, 6))
            dcpl.set_deflate(3)
            dcpl.set_attr_phase_change(1000, 0)  # compact attributes only
            h5py.h5d.create(f.id, b"x", h5py.h5t.IEEE_F64LE,
                            h5py.h5s.create_simple(x.shape), dcpl=dcpl)
            f["x"][...] = x
        else:
            f.create_dataset("x", data=x, chunks=(7, 6), compression="gzip")
        for i in range(40):
            f["x"].attrs[f"attribute_number_{i:03d}"] = np.arange(20) + i
    for i in range(40, 60):
        with h5py.File(path, "a") as f:
            f["x"].attrs[f"late_{i}"] = "x" * 100
    check_read(path, "x")


@pytest.mark.parametrize("maxshape", [None, (None, 45), (None, None)])
@pytest.mark.parametrize("chunks", [(7, 6), (40, 45)])
def test_libver_latest_unfiltered(tmp_path, chunks, maxshape):
    path = tmp_path / "l.h5"
    x = sample(">i4", (40, 45), seed=15)
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("x", data=x, chunks=chunks, maxshape=maxshape)
        f.create_dataset("h", data=(x % 1000).astype("<f2"), chunks=chunks,
                         maxshape=maxshape)
    check_read(path, "x")
    check_read(path, "h")


@XFAIL_LIBVER_LATEST
@pytest.mark.parametrize("what", ["gzip", "blosc", "bool"])
def test_libver_latest_filtered_or_bool(tmp_path, what):
    path = tmp_path / "l.h5"
    x = sample("|b1" if what == "bool" else "<f8", (40, 45), seed=16)
    kw = {"gzip": dict(compression="gzip"), "blosc": dict(hdf5plugin.Blosc()),
          "bool": {}}[what]
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("x", data=x, chunks=(7, 6), **kw)
    check_read(path, "x")


# ================================================ 6. incompressible

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


# ============================================ 7. random slices (hypothesis)

SLICE_DATASETS = {
    # name: (shape, dtype, create_dataset kwargs)
    "d1_blosc": ((53,), "<i4", dict(chunks=(7,), **blosc_filter("lz4", "byte"))),
    "d2_gzip_be": ((29, 31), ">f8", dict(chunks=(4, 9), compression="gzip",
                                          shuffle=True)),
    "d2_contiguous": ((17, 23), "<i8", {}),
    "d2_big_chunks": ((10, 12), "<u2", dict(chunks=(16, 16), maxshape=(None, None))),
    "d2_fletcher": ((13, 11), "<f4", dict(chunks=(3, 5), fletcher32=True)),
    "d3_raw": ((9, 10, 11), "u2", dict(chunks=(2, 3, 4))),
    "d4_zstd_bit": ((5, 6, 4, 7), ">f4", dict(chunks=(2, 4, 3, 3),
                                               **blosc_filter("zstd", "bit"))),
    "d3_bool": ((7, 8, 9), "|b1", dict(chunks=(3, 3, 3), **blosc_filter("blosclz", "noshuffle"))),
}


@pytest.fixture(scope="module")
def slice_files(tmp_path_factory):
    path = tmp_path_factory.mktemp("slices") / "s.h5"
    with h5py.File(path, "w") as f:
        for i, (name, (shape, dtype, kw)) in enumerate(SLICE_DATASETS.items()):
            f.create_dataset(name, data=sample(dtype, shape, seed=100 + i), **kw)
    expected = {name: h5py_read(path, name) for name in SLICE_DATASETS}
    return _SliceFiles(path, expected)


class _SliceFiles(tuple):
    """(path, expected arrays) with a short repr for hypothesis reports."""

    def __new__(cls, path, expected):
        return super().__new__(cls, (path, expected))

    def __repr__(self):
        return f"<slice files {self[0]}>"


@st.composite
def index_keys(draw, shape):
    """A basic-indexing key for `shape`: ints, slices with any step, None
    and at most one Ellipsis, possibly indexing fewer dims than ndim."""
    ndim = len(shape)
    nreal = draw(st.integers(0, ndim))
    ellipsis_at = draw(st.one_of(st.none(), st.integers(0, nreal)))
    if ellipsis_at is None:
        dims = list(range(nreal))
    else:
        # items before the Ellipsis index the first dims, those after it
        # the last ones
        dims = list(range(ellipsis_at)) + list(range(ndim - (nreal - ellipsis_at), ndim))
    items = []
    for d in dims:
        n = shape[d]
        if n > 0 and draw(st.integers(0, 3)) == 0:
            items.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.one_of(st.none(), st.integers(-n - 3, n + 3))
            step = st.one_of(st.none(),
                             st.integers(-12, 12).filter(lambda s: s != 0),
                             st.sampled_from([-100, 100]))
            items.append(slice(draw(bound), draw(bound), draw(step)))
    if ellipsis_at is not None:
        items.insert(ellipsis_at, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


@settings(max_examples=int(os.environ.get("CW_HYP_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_slices(slice_files, data):
    path, expected = slice_files
    name = data.draw(st.sampled_from(sorted(SLICE_DATASETS)))
    e = expected[name]
    key = data.draw(index_keys(e.shape))
    want = e[key]
    a = cw.open(path, name)[key]
    assert a.shape == want.shape
    assert_same(a.compute(), want)


@settings(max_examples=int(os.environ.get("CW_HYP_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_slices_composed(slice_files, data):
    """Indexing a view again composes: a[k1][k2] == e[k1][k2]."""
    path, expected = slice_files
    name = data.draw(st.sampled_from(sorted(SLICE_DATASETS)))
    e = expected[name]
    k1 = data.draw(index_keys(e.shape))
    v = e[k1]
    k2 = data.draw(index_keys(v.shape))
    want = v[k2]
    a = cw.open(path, name)[k1][k2]
    assert a.shape == want.shape
    threads = data.draw(st.sampled_from([1, 2]))
    with cw.config(threads=threads):
        assert_same(a.compute(), want)
        if want.size:
            out = np.empty(want.shape, want.dtype)
            assert a.compute(out=out) is out
            assert_same(out, want)


# ================================================== 8. chunk read counts

COUNT_KEYS = [
    (),
    (slice(3, 17), slice(5, 20)),
    (slice(0, 1), slice(0, 1)),
    (slice(6, 8),),                   # straddles a chunk border
    (5,),
    (5, 7),
    (-1, -1),
    (slice(None, None, 15), slice(None, None, 13)),  # skips whole chunks
    (slice(None, None, 9),),
    (slice(None, None, -8), slice(29, 0, -7)),
    (slice(39, 0, -20), slice(2, 30, 12)),
    (slice(None), slice(None, None, 100)),
    (slice(1, 40, 7), slice(None)),   # one row per chunk row, all chunks
]


@pytest.mark.parametrize("filters", ["none", "blosc", "gzip"])
@pytest.mark.parametrize("key", COUNT_KEYS, ids=[repr(k) for k in COUNT_KEYS])
def test_chunks_read_count(tmp_path, key, filters):
    path = tmp_path / "n.h5"
    shape, chunks = (40, 30), (7, 6)
    x = sample("<i4", shape, seed=20)
    fkw = {"none": {}, "blosc": blosc_filter("lz4", "byte"),
           "gzip": dict(compression="gzip")}[filters]
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=chunks, **fkw)
    a = cw.open(path, "x")
    expected = touched_chunks(shape, chunks, key)
    for threads in (1, 2):
        with cw.config(threads=threads):
            cw.reset_stats()
            r = a[key].compute()
            s = cw.stats()
        assert_same(r, x[key])
        assert s["chunks_read"] == expected, (key, threads, s)
        assert s["chunks_pipeline"] == 0
        if filters != "none":
            assert s["chunks_decoded"] == expected


def test_chunks_read_count_strided_skip_4d(tmp_path):
    path = tmp_path / "n.h5"
    shape, chunks = (12, 10, 9, 8), (2, 3, 2, 3)
    x = sample("<u2", shape, seed=21)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=chunks, **blosc_filter("zstd", "byte"))
    a = cw.open(path, "x")
    for key in [(slice(None, None, 5), slice(None, None, 7), 4, slice(None, None, -6)),
                (slice(11, None, -4), slice(1, 9, 3), slice(None), 0),
                (3, 3, 3, 3)]:
        cw.reset_stats()
        assert_same(a[key].compute(), x[key])
        assert cw.stats()["chunks_read"] == touched_chunks(shape, chunks, key)


# ====================================================== 9. writes

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
    assert out.chunks == (8, 16)
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


def _h5dump_binary(tmp_path, path, name):
    exe = shutil.which("h5dump") or "/usr/bin/h5dump"
    env = dict(os.environ, HDF5_PLUGIN_PATH=PLUGIN_DIR)
    proc = subprocess.run([exe, "-d", name, str(path)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "DATA {" in proc.stdout
    assert "error" not in (proc.stdout + proc.stderr).lower()
    binfile = tmp_path / (name.strip("/").replace("/", "_") + ".bin")
    proc = subprocess.run([exe, "-d", name, "-b", "LE", "-o", str(binfile),
                           str(path)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return binfile.read_bytes()


@pytest.mark.skipif(not (shutil.which("h5dump") or os.path.exists("/usr/bin/h5dump")),
                    reason="h5dump not installed")
@pytest.mark.parametrize("compression,shuffle", [
    ("blosc-lz4", True), ("blosc-zstd", "bit"), ("blosc-zlib", False),
    ("gzip", True)])
def test_write_readable_by_h5dump(tmp_path, compression, shuffle):
    path = tmp_path / "w.h5"
    x = sample("<f8", (37, 53), seed=25)
    cw.asarray(x, chunks=(8, 16)).to_hdf5(path, "/grp/x", compression=compression,
                                          shuffle=shuffle)
    data = _h5dump_binary(tmp_path, path, "/grp/x")
    assert data == x.astype("<f8").tobytes()


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
            assert f["v"].chunks == view.chunks


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
    assert out.chunks == expected
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


# ========================================== 10. thread-count independence

@pytest.mark.parametrize("case", ["blosc", "gzip-be", "fletcher32", "contiguous",
                                  "pytables-blosc-bool"])
def test_read_threads_independent(tmp_path, case):
    path = tmp_path / "t.h5"
    shape = (64, 45, 3)
    if case == "pytables-blosc-bool":
        x = sample("?", shape, seed=40)
        with tables.open_file(path, "w") as f:
            f.create_carray("/", "x", obj=x, chunkshape=(7, 8, 2),
                            filters=tables.Filters(5, complib="blosc:zstd"))
    else:
        x = sample(">f8" if case == "gzip-be" else "<i2", shape, seed=41)
        kw = {"blosc": dict(chunks=(7, 8, 2), **blosc_filter("lz4hc", "byte")),
              "gzip-be": dict(chunks=(7, 8, 2), compression="gzip", shuffle=True),
              "fletcher32": dict(chunks=(7, 8, 2), fletcher32=True),
              "contiguous": {}}[case]
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=x, **kw)
    e = h5py_read(path, "x")
    a = cw.open(path, "x")
    keys = [(), (slice(None, None, -1),), (slice(3, 60, 5), slice(None, None, -4), 1),
            (Ellipsis, slice(None, None, 2)), (10, None, slice(40, 2, -3))]
    for key in keys:
        got = []
        for threads, mem in ((1, "64MiB"), (2, "64MiB"), (2, "1MiB")):
            with cw.config(threads=threads, memory_limit=mem):
                got.append(a[key].compute())
        for g in got:
            assert_same(g, e[key])
        assert all(g.tobytes() == got[0].tobytes() for g in got)


def _replace_with_h5py(path, name, data, **kw):
    with h5py.File(path, "a") as f:
        del f[name]
        f.create_dataset(name, data=data, **kw)


STALE_CASES = {
    # every replacement holds other values than the original
    "same-type-new-values": (lambda x: (x[::-1] * 3).astype(">i4"),
                             dict(chunks=(10, 10), compression="gzip")),
    "byte-order": (lambda x: (x * 2 + 1).astype("<i4"),
                   dict(chunks=(10, 10), compression="gzip")),
    "dtype-same-itemsize": (lambda x: (x * 2 + 1).astype("<f4"),
                            dict(chunks=(10, 10), compression="gzip")),
    "to-contiguous": (lambda x: x * 2 + 1, dict()),
    "to-other-chunks": (lambda x: x * 2 + 1, dict(chunks=(5, 8), compression="gzip")),
    "to-blosc": (lambda x: x * 2 + 1, dict(chunks=(10, 10), **hdf5plugin.Blosc())),
    "to-unfiltered": (lambda x: x * 2 + 1, dict(chunks=(10, 10))),
}


@pytest.mark.parametrize("case", [
    pytest.param(c) for c in STALE_CASES])
def test_array_opened_before_dataset_replaced(tmp_path, case):
    """After h5py replaces a dataset, an Array opened earlier must either
    read exactly what is now stored (same dtype) or refuse with an OSError
    saying the dataset changed -- never return other values."""
    path = tmp_path / "r.h5"
    x = (np.arange(30 * 40) // 7).reshape(30, 40).astype(">i4")
    assert x.dtype.byteorder == ">"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(10, 10), compression="gzip")
    a = cw.open(path, "x")
    assert_same(a.compute(), x)
    make, kw = STALE_CASES[case]
    _replace_with_h5py(path, "x", make(x), **kw)
    now = h5py_read(path, "x")
    try:
        r = a.compute()
    except OSError as e:
        assert "changed" in str(e), repr(e)
    else:
        assert_same(r, now)


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


# ================================================================ errors

def test_open_errors_on_h5py_files(tmp_path):
    path = tmp_path / "e.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("cplx", data=np.ones(4, "c8"))
        f.create_dataset("comp", data=np.zeros(4, "i4,f8"))
        f.create_dataset("str", data=np.array([b"ab", b"cd"]))
        f.create_dataset("vstr", data=["a", "bcd"], dtype=h5py.string_dtype())
        f.create_dataset("vlen", shape=(2,), dtype=h5py.vlen_dtype("i4"))
        f.create_dataset("enum", data=np.array([0, 1, 2], "i1"),
                         dtype=h5py.enum_dtype({"R": 0, "G": 1, "B": 2},
                                               basetype="i1"))
        f.create_group("grp/sub")
        f.create_dataset("grp/x", data=np.arange(3))
    for name in ("cplx", "comp", "str", "vstr", "vlen", "enum", "grp", "/grp/sub"):
        with pytest.raises(TypeError):
            cw.open(path, name)
    for name in ("nope", "grp/nope", "nope/x", "grp/x/y"):
        with pytest.raises(KeyError):
            cw.open(path, name)
    assert_same(cw.open(path, "grp/x").compute(), np.arange(3))
    with pytest.raises(FileNotFoundError):
        cw.open(tmp_path / "missing.h5", "x")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file" * 200)
    with pytest.raises(OSError):
        cw.open(bad, "x")
