"""Reading h5py- and PyTables-written files: compact, contiguous, chunked,
scalar and empty layouts, unallocated chunks (fill values), and every
chunk index type (v1 and v2 B-trees, fixed and extensible arrays,
single chunk, implicit), object header continuations and libver='latest'.
"""
from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest
import tables

import chunkwise as cw

from interop_helpers import (TABLES_WARNINGS, XFAIL_LIBVER_LATEST, assert_same,
                             blosc_filter, check_read, h5py_read, sample)

pytestmark = TABLES_WARNINGS


# ============================================================ layouts

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
    assert a.chunksize == chunks
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
    assert a.chunksize == ()
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
    """A filter no library here decodes and chunkwise's libhdf5 has no
    plugin for (an optional filter id nobody registered): opening fails at
    once with an OSError naming the filter (not a CorruptChunkError later,
    which would suggest a damaged file)."""
    path = tmp_path / "unknown.h5"
    x = np.arange(100.0)
    with h5py.File(path, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((10,))
        dcpl.set_filter(32099, h5py.h5z.FLAG_OPTIONAL, (1,))
        tid = h5py.h5t.py_create(x.dtype)
        sid = h5py.h5s.create_simple(x.shape)
        h5py.h5d.create(f.id, b"x", tid, sid, dcpl=dcpl)
    with pytest.raises(OSError, match=r"filter 32099.*no plugin"):
        cw.open(path, "x")


def test_h5py_lzf_reads_natively(tmp_path):
    """h5py's LZF filter lives inside h5py, out of libhdf5's reach:
    chunkwise decodes it itself."""
    path = tmp_path / "lzf.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(100.0), chunks=(10,),
                         compression="lzf")
    np.testing.assert_array_equal(cw.open(path, "x").compute(), np.arange(100.0))


# ================================================= unallocated chunks

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


# ============================================ chunk index types

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
    # Array.chunksize is clipped to the shape (a chunk may exceed it in HDF5)
    assert a.chunksize == tuple(min(c, n) for c, n in zip(kw["chunks"], x.shape))
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
