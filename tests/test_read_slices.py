"""Slicing HDF5-backed arrays: random keys (hypothesis) against h5py, the
number of chunks a key reads, and results independent of the thread count
and memory limit.
"""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chunkwise as cw

from interop_helpers import (TABLES_WARNINGS, assert_same, blosc_filter, h5py_read,
                             sample, touched_chunks)

pytestmark = TABLES_WARNINGS


# ============================================ random slices (hypothesis)

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


# ================================================== chunk read counts

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

# ========================================== thread-count independence

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
