"""map_overlap and rechunk hold their memory budget: peak RSS measured in a
fresh subprocess stays below baseline + memory_limit + a small fixed
overhead on an HDF5 dataset 16x larger than memory_limit."""
import subprocess
import sys
import textwrap

import pytest

from memory_helpers import run_measured

LIMIT = 16 * 2**20          # memory_limit
ROWS, COLS = 8192, 4096     # float64: 256 MiB, 16x LIMIT
OVERHEAD = 24 * 2**20       # allowance for HDF5 metadata, allocator slack


def run(script: str) -> dict:
    return run_measured(script, LIMIT, timeout=900)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """Element (i, j) is i * COLS + j, in row chunks of 1 MiB."""
    path = tmp_path_factory.mktemp("memblocks") / "rows.h5"
    code = textwrap.dedent(f"""
        import h5py, numpy as np
        with h5py.File({str(path)!r}, "w") as f:
            d = f.create_dataset("x", ({ROWS}, {COLS}), "f8", chunks=(32, {COLS}))
            for i in range(0, {ROWS}, 512):
                d[i:i + 512] = (np.arange(i, i + 512)[:, None] * {COLS}
                                + np.arange({COLS})).astype("f8")
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
    return path


def test_map_overlap_holds_budget(rows, tmp_path):
    r = run(f"""
        a = cw.open({str(rows)!r}, "/x")
        assert a.nbytes >= 16 * {LIMIT}
        def smooth(b):
            return b + np.roll(b, 1, axis=0) + np.roll(b, -1, axis=0)
        m = cw.map_overlap(smooth, a, depth=(1, 0), boundary="nearest")
        base = rss()
        out = m.to_hdf5({str(tmp_path / "o.h5")!r}, "/y", compression="blosc-lz4")
        p = peak()
        v = lambda i: (np.clip(i, 0, {ROWS} - 1)[:, None] * {COLS}
                       + np.arange({COLS})).astype("f8")
        i = np.array([0, 1, 31, 32, 33, 4095, {ROWS} - 1])
        exp = v(i - 1) + v(i) + v(i + 1)
        ok = bool(np.array_equal(out[i].compute(), exp))
        print(json.dumps({{"base": base, "peak": p, "ok": ok}}))
    """)
    assert r["ok"]
    assert r["peak"] - r["base"] < LIMIT + OVERHEAD, r


def test_rechunk_rows_to_columns_holds_budget(rows, tmp_path):
    r = run(f"""
        a = cw.open({str(rows)!r}, "/x")
        assert a.nbytes >= 16 * {LIMIT}
        base = rss()
        out = a.rechunk(({ROWS}, 32)).to_hdf5({str(tmp_path / "c.h5")!r}, "/c",
                                              compression=None)
        p = peak()
        j = np.array([0, 31, 32, 2049, {COLS} - 1])
        got = out[:, j].compute()
        exp = (np.arange({ROWS})[:, None] * {COLS} + j).astype("f8")
        print(json.dumps({{"base": base, "peak": p, "ok": bool(np.array_equal(got, exp)),
                           "chunks": list(out.chunksize)}}))
    """)
    assert r["ok"]
    assert r["chunks"] == [ROWS, 32]
    assert r["peak"] - r["base"] < LIMIT + OVERHEAD, r
