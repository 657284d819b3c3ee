"""Fancy indexing, boolean masks, reshape and ravel hold their memory
budget out of core: on an HDF5 input 16x larger than memory_limit, peak
RSS in a fresh subprocess (VmHWM, reset to the resident size at the
baseline) stays within baseline + memory_limit + a small fixed overhead, and
the values are NumPy's (the input is an arange, so every element is known);
a selection reads only the chunks holding selected elements."""

import h5py
import numpy as np
import pytest

import chunkwise as cw

from memory_helpers import run_measured

LIMIT = 8 * 2**20           # memory_limit
SIDE = 4096                 # SIDE x SIDE float64: 128 MiB, 16x LIMIT
CHUNK = 128                 # 128 KiB chunks
OVERHEAD = 16 * 2**20       # allowance for HDF5 metadata, allocator slack


def run(script: str) -> dict:
    return run_measured(script, LIMIT, timeout=600)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """arange(SIDE * SIDE) as a (SIDE, SIDE) float64 dataset in CHUNK^2 chunks."""
    path = tmp_path_factory.mktemp("selmem") / "big.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", (SIDE, SIDE), "f8", chunks=(CHUNK, CHUNK))
        for i in range(0, SIDE, CHUNK):
            d[i:i + CHUNK] = np.arange(i * SIDE, (i + CHUNK) * SIDE, dtype="f8").reshape(
                CHUNK, SIDE)
    return str(path)


def _within_budget(r):
    print(f"\npeak - base: {(r['peak'] - r['base']) / 2**20:.1f} MiB")
    assert r["ok"], r
    assert r["peak"] - r["base"] <= LIMIT + OVERHEAD, r


def test_fancy_index_axis0_scattered(big, tmp_path):
    r = run(f"""
        x = cw.open({big!r}, "/x")
        assert x.nbytes >= 16 * {LIMIT}
        idx = np.random.default_rng(1).integers(-{SIDE}, {SIDE}, 3000)
        base = rss()
        y = x[idx].to_hdf5({str(tmp_path / "f.h5")!r}, "/y", chunks=(64, {CHUNK}))
        p = peak()
        rows = (idx % {SIDE})[::97]
        want = rows[:, None] * {SIDE} + np.arange({SIDE})
        ok = y.shape == (3000, {SIDE}) and bool(np.array_equal(y[::97].compute(), want))
        print(json.dumps({{"base": base, "peak": p, "ok": ok}}))
    """)
    _within_budget(r)


def test_ndarray_mask(big):
    r = run(f"""
        x = cw.open({big!r}, "/x")
        m = np.random.default_rng(2).integers(0, 100, ({SIDE}, {SIDE}), dtype="u1") < 1
        want = np.flatnonzero(m).astype("f8")
        base = rss()
        got = x[m].compute()
        p = peak()
        print(json.dumps({{"base": base, "peak": p, "ok": bool(np.array_equal(got, want))}}))
    """)
    _within_budget(r)


def test_lazy_mask_larger_than_memory_limit(big):
    r = run(f"""
        x = cw.open({big!r}, "/x")
        m = (x % 97) == 3                  # a 16 MiB lazy mask, twice memory_limit
        base = rss()
        got = x[m].compute()
        p = peak()
        want = np.arange(3, {SIDE * SIDE}, 97, dtype="f8")
        print(json.dumps({{"base": base, "peak": p, "ok": bool(np.array_equal(got, want))}}))
    """)
    _within_budget(r)


@pytest.mark.parametrize("chunks", [
    (16, 4, 512),
    # 1 MiB output chunks: a region of the reshape is read in pieces of at
    # most a chunk of its elements, so its index tables stay within what
    # the engine budgets.
    (64, 4, 512),
])
def test_reshape_stored(big, tmp_path, chunks):
    r = run(f"""
        x = cw.open({big!r}, "/x")
        base = rss()
        y = x.reshape(1024, 4, {SIDE}).to_hdf5({str(tmp_path / "r.h5")!r}, "/y",
                                              chunks={chunks!r})
        p = peak()
        ok = bool(np.array_equal(y[517, 2, 1234:1300].compute(),
                                 (517 * 4 + 2) * {SIDE} + np.arange(1234, 1300.0)))
        ok = ok and bool(np.array_equal(y[-1, -1, -5:].compute(),
                                        np.arange({SIDE * SIDE} - 5.0, {SIDE * SIDE})))
        print(json.dumps({{"base": base, "peak": p, "ok": ok}}))
    """)
    _within_budget(r)


def test_ravel_stored(big, tmp_path):
    r = run(f"""
        x = cw.open({big!r}, "/x")
        base = rss()
        y = np.ravel(x).to_hdf5({str(tmp_path / "v.h5")!r}, "/y", chunks=(2**16,))
        p = peak()
        k = np.random.default_rng(3).integers(0, {SIDE * SIDE}, 500)
        ok = y.shape == ({SIDE * SIDE},) and bool(np.array_equal(y[k].compute(), k * 1.0))
        print(json.dumps({{"base": base, "peak": p, "ok": ok}}))
    """)
    _within_budget(r)


def test_lazy_mask_reads_only_the_chunks_it_selects(tmp_path):
    """Once the mask is counted and its indices found, reading ``x[m]``
    reads only the chunks holding selected elements."""
    path = tmp_path / "s.h5"
    a = np.arange(1024 * 600, dtype="f8").reshape(1024, 600)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=a, chunks=(32, 60))
    x = cw.open(path, "x")
    sel = (a > 100000) & (a < 101000) | (a % 100000 == 7)
    with cw.config(memory_limit=512 * 1024):    # the mask is counted in blocks
        y = x[(x > 100000) & (x < 101000) | (x % 100000 == 7)]
        cw.reset_stats()
        np.testing.assert_array_equal(y.compute(), a[sel], strict=True)
    holding = {(i // 32, j // 60) for i, j in zip(*np.nonzero(sel))}
    assert cw.stats()["chunks_read"] == len(holding) < (1024 // 32) * (600 // 60)


def test_lazy_mask_of_a_table_lookup_on_a_1d_input(tmp_path):
    """x[(np.searchsorted(edges, x) & 1) == 1] on a 128 MiB 1-d float64
    dataset in 1 MiB chunks: the mask is bool, so its blocks are counted
    through a reshape whose index tables are bounded by the chunk's bytes;
    a task stays within memory_limit and so does the peak."""
    path = str(tmp_path / "v.h5")
    n, c = 16 * LIMIT // 8, 2**17
    with h5py.File(path, "w") as f:
        d = f.create_dataset("v", (n,), "f8", chunks=(c,))
        for i in range(0, n, 16 * c):
            d[i:i + 16 * c] = (np.arange(i, i + 16 * c) * 0.6180339887498949) % 1.0
    r = run(f"""
        import h5py
        x = cw.open({path!r}, "/v")
        assert x.nbytes >= 16 * {LIMIT}
        edges = np.array([0.1, 0.1002, 0.5, 0.5001])
        base = rss()
        got = x[(np.searchsorted(edges, x) & 1) == 1].compute()
        p = peak()
        with h5py.File({path!r}) as f:
            parts = []
            for i in range(0, {n}, {c}):
                v = f["v"][i:i + {c}]
                parts.append(v[(np.searchsorted(edges, v) & 1) == 1])
        want = np.concatenate(parts)
        ok = bool(len(want) > 1000 and np.array_equal(got, want))
        print(json.dumps({{"base": base, "peak": p, "ok": ok, "n": len(want)}}))
    """)
    _within_budget(r)
