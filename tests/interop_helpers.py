"""Shared data, readers and assertions of the interoperability tests
(tests/test_read_*.py and tests/test_write_*.py): files written by h5py
(+hdf5plugin) and PyTables read by chunkwise, and files written by chunkwise
read by h5py, PyTables and h5dump.

Every read is compared with h5py's own read of the same file: exact equality
of the bytes (so NaN, -0.0 and subnormals count), the same shape and the same
dtype once put in native byte order.
"""
from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest
import tables

import chunkwise as cw

# PyTables warns about h5py-style names and flavours: every interop test
# module sets ``pytestmark = TABLES_WARNINGS``.
TABLES_WARNINGS = pytest.mark.filterwarnings(
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
                          equal_nan=actual.dtype.kind in "fc")
    assert (np.ascontiguousarray(actual).tobytes()
            == np.ascontiguousarray(expected.astype(actual.dtype)).tobytes())


def read_native(path, name, expected, every_chunk_decoded=False):
    """Open ``name`` with chunkwise, compute it and compare with ``expected``
    (assert_same); every chunk must have been read natively, lock-free,
    without the HDF5 filter pipeline, and with ``every_chunk_decoded`` each
    one decoded (none stored raw by a filter that gave up). Returns the
    Array."""
    cw.reset_stats()
    a = cw.open(path, name)
    assert a.dtype == native(expected.dtype)
    assert a.shape == expected.shape
    assert_same(a.compute(), expected)
    s = cw.stats()
    assert s["chunks_pipeline"] == 0
    assert s["chunks_lockfree"] == s["chunks_read"] > 0
    if every_chunk_decoded:
        assert s["chunks_decoded"] == s["chunks_read"]
    return a


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


def each_byte_flipped(path, steps):
    """Flip one byte at a time, at about ``steps`` positions spread over the
    first stored chunk of ``/x``; yields each position with the byte
    flipped, and puts the file back before the next."""
    with h5py.File(path, "r") as f:
        info = f["x"].id.get_chunk_info(0)
    orig = open(path, "rb").read()
    try:
        for pos in range(0, info.size, max(1, info.size // steps)):
            with open(path, "r+b") as fh:
                fh.seek(info.byte_offset + pos)
                fh.write(bytes([orig[info.byte_offset + pos] ^ 0xff]))
            yield pos
            with open(path, "r+b") as fh:
                fh.write(orig)
    finally:
        with open(path, "r+b") as fh:
            fh.write(orig)


def assert_corrupt_chunk_named(path, coord, x):
    """Reading ``/x`` raises CorruptChunkError naming the chunk at element
    ``coord``, and everything above that chunk's rows still reads as ``x``."""
    a = cw.open(path, "x")
    chunk = ", ".join(str(c // k) for c, k in zip(coord, a.chunksize))
    with pytest.raises(cw.CorruptChunkError, match=rf"chunk \({chunk}\) of '/x'"):
        a.compute()
    assert_same(a[:coord[0]].compute(), x[:coord[0]])
