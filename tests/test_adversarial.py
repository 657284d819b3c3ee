"""Plans built to break the engine: petabyte broadcasts, thousands of
inputs, empty and one-element chunk grids, chunks of 1 along every axis,
32 and 64 dimensions, a memory_limit of a few kB.  Each gives the right
values within memory_limit or a clear Python exception, at once: the
cases that could hang or crash run in a subprocess with a time limit."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw

PETA = (10**7, 10**7, 10)          # 10**15 float64 elements: 7.1 PiB


def _run(code, timeout=60):
    """``code`` in a fresh interpreter: its stdout, after checking that it
    exited cleanly (no crash, no hang)."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


# ------------------------------------------------------------ broadcasts
def test_petabyte_broadcast_refused_at_once():
    out = _run("""
        import numpy as np, chunkwise as cw
        b = np.broadcast_to(cw.asarray(np.arange(10.0)), (10**7, 10**7, 10))
        assert b.shape == (10**7, 10**7, 10) and b.nbytes == 8 * 10**15
        for what, f in [("sum", lambda: b.sum().compute()),
                        ("sum01", lambda: b.sum(axis=(0, 1)).compute()),
                        ("max", lambda: np.max(b).compute()),
                        ("compute", lambda: b.compute()),
                        ("asarray", lambda: np.asarray(b)),
                        ("store", lambda: b.to_hdf5(__import__("sys").argv[0] + ".h5", "x"))]:
            try:
                f()
                print(what, "computed")
            except (cw.MemoryBudgetError, MemoryError, ValueError) as e:
                print(what, type(e).__name__, e)
    """)
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert set(lines) == {"sum", "sum01", "max", "compute", "asarray", "store"}
    for what in ("sum", "sum01", "max"):
        assert lines[what].startswith("MemoryBudgetError one task needs"), lines[what]
        assert "memory_limit" in lines[what]
    # The result as an ndarray is the user's memory: NumPy's own error.
    assert lines["compute"].startswith("MemoryError") and "PiB" in lines["compute"]
    assert lines["asarray"].startswith("MemoryError")
    assert lines["store"].startswith("ValueError") and "chunk" in lines["store"]


def test_petabyte_broadcast_indexed_to_a_small_part():
    x = np.arange(10.0)
    b = np.broadcast_to(cw.asarray(x), PETA)
    np.testing.assert_array_equal(b[5, 7].compute(), x)
    np.testing.assert_array_equal(b[-1, 123456, ::3].compute(), x[::3])
    np.testing.assert_array_equal((b[3, :4] * 2).sum(axis=0).compute(), 8 * x)


def test_broadcast_within_memory_limit():
    x = np.arange(12, dtype="i8").reshape(3, 4)
    with cw.config(memory_limit="1MiB"):
        b = np.broadcast_to(cw.asarray(x)[:, None, :], (3, 5000, 4))
        np.testing.assert_array_equal(b.sum(axis=1).compute(), x * 5000)
        assert int(b.sum().compute()) == int(x.sum()) * 5000


# ------------------------------------------------------- many inputs
def test_sum_of_2000_arrays():
    xs = [np.full((30, 20), i, dtype="i8") + np.arange(20) for i in range(2000)]
    want = np.zeros((30, 20), dtype="i8")
    for x in xs:
        want += x
    got = sum(cw.asarray(x) for x in xs)
    np.testing.assert_array_equal(got.compute(), want)
    assert int(got.sum().compute()) == int(want.sum())


def test_2000_hdf5_inputs(tmp_path):
    path = tmp_path / "many.h5"
    with h5py.File(path, "w") as f:
        for i in range(2000):
            f.create_dataset(f"d{i}", data=np.arange(50, dtype="i4") * i, chunks=(16,))
    arrays = [cw.open(path, f"d{i}") for i in range(2000)]
    total = arrays[0].astype("i8")
    for a in arrays[1:]:
        total = total + a
    np.testing.assert_array_equal(total.compute(), np.arange(50) * sum(range(2000)))


# ------------------------------------------------- empty and tiny grids
@pytest.mark.parametrize("shape,chunks", [((0,), (1,)), ((0, 5), (1, 1)), ((5, 0), (2, 3)),
                                          ((3, 0, 4), (1, 1, 1)), ((1,), (1,)),
                                          ((1, 1, 1), (1, 1, 1))])
def test_empty_and_one_element_grids(tmp_path, shape, chunks):
    x = np.arange(int(np.prod(shape)), dtype="f4").reshape(shape) + 1
    path = tmp_path / "g.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=chunks, maxshape=(None,) * len(shape))
    a = cw.open(path, "x")
    assert a.shape == x.shape
    np.testing.assert_array_equal(a.compute(), x)
    np.testing.assert_array_equal((a * 2 + 1).compute(), x * 2 + 1)
    assert a.sum().compute() == x.sum()
    np.testing.assert_array_equal(a.sum(axis=0).compute(), x.sum(axis=0))
    with _maybe_warns(x):
        np.testing.assert_array_equal(a.mean().compute(), np.float32(x.mean()) if x.size
                                      else np.float32(np.nan))
    if x.size:
        assert a.max().compute() == x.max()
    else:
        with pytest.raises(ValueError):
            a.max().compute()
        with pytest.raises(ValueError):
            np.max(x)
    # Nothing to warn about here (the mean of nothing above did warn).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (a - 1).to_hdf5(tmp_path / "o.h5", "y")
        assert (a + 1).sum().compute() == (x + 1).sum()
    with h5py.File(tmp_path / "o.h5", "r") as f:
        np.testing.assert_array_equal(f["y"][...], x - 1)


def _maybe_warns(x):
    """The mean of nothing warns, as NumPy's does."""
    import contextlib
    return pytest.warns(RuntimeWarning) if x.size == 0 else contextlib.nullcontext()


def test_chunks_of_one_along_every_axis(tmp_path):
    x = np.arange(4 * 5 * 6, dtype="i4").reshape(4, 5, 6)
    path = tmp_path / "ones.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(1, 1, 1), compression="gzip")
    a = cw.open(path, "x")
    assert a.chunksize == (1, 1, 1)
    assert int(a.sum().compute()) == int(x.sum())
    for axis in range(3):
        np.testing.assert_array_equal(a.sum(axis=axis).compute(), x.sum(axis=axis))
    np.testing.assert_array_equal((a.T * 2 - a[::-1].T).compute(), x.T * 2 - x[::-1].T)
    np.testing.assert_array_equal(a.rechunk((4, 5, 6)).compute(), x)
    with cw.config(threads=2):
        (a + 1).to_hdf5(tmp_path / "o.h5", "y", chunks=(1, 1, 1), compression="zstd")
    with h5py.File(tmp_path / "o.h5", "r") as f:
        assert f["y"].chunks == (1, 1, 1)
        np.testing.assert_array_equal(f["y"][...], x + 1)


# ----------------------------------------------------------- dimensions
def test_32_dimensions(tmp_path):
    x = np.arange(2**6, dtype="f8").reshape((2,) * 6 + (1,) * 26)
    a = cw.asarray(x)
    assert a.ndim == 32
    assert a.sum().compute() == x.sum()
    np.testing.assert_array_equal((a * 2 - 1).compute(), x * 2 - 1)
    np.testing.assert_array_equal(a.sum(axis=(0, 5, 31)).compute(), x.sum(axis=(0, 5, 31)))
    np.testing.assert_array_equal(a.T.compute(), x.T)
    np.testing.assert_array_equal(a[1, ..., 0].compute(), x[1, ..., 0])
    a.to_hdf5(tmp_path / "nd.h5", "x")
    with h5py.File(tmp_path / "nd.h5", "r") as f:
        np.testing.assert_array_equal(f["x"][...], x)
    np.testing.assert_array_equal(cw.open(tmp_path / "nd.h5", "x").compute(), x)


@pytest.mark.parametrize("ndim", [33, 64])
def test_more_than_32_dimensions(ndim):
    """Views may have up to NumPy's 64 axes; computing on more than the
    engine's 32 is a ValueError. (HDF5 itself stores at most 32.)"""
    k = (None,) * (ndim - 1) + (slice(None, None, -1),)
    x = np.arange(8.0)[k]
    a = cw.asarray(np.arange(8.0))[k]
    assert a.ndim == ndim
    np.testing.assert_array_equal(a.compute(), x)
    assert (x * 2).ndim == ndim                 # NumPy computes on 64
    with pytest.raises(ValueError, match="at most 32 dimensions"):
        cw.asarray(x).compute()
    for f in (lambda: a * 2, lambda: np.sin(a), lambda: a + a):
        with pytest.raises(ValueError, match="at most 32 dimensions"):
            f()
    with pytest.raises(ValueError, match="at most 32 dimensions"):
        a.sum().compute()


# ----------------------------------------------------------- tiny budgets
@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("adv") / "t.h5"
    x = np.random.default_rng(0).standard_normal((300, 200))
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(30, 20), compression="gzip")
    return path, x


@pytest.mark.parametrize("limit", [1, 1000, 4096, 16384])
def test_memory_limit_of_a_few_kb_refused_clearly(small_file, tmp_path, limit):
    path, x = small_file
    a = cw.open(path, "x")
    with cw.config(memory_limit=limit):
        for f in (lambda: a.sum().compute(), lambda: (a + 1).sum(axis=0).compute(),
                  lambda: a.compute(), lambda: (a * 2).to_hdf5(tmp_path / "o.h5", "y"),
                  lambda: a.rechunk((300, 1)).sum(axis=0).compute()):
            with pytest.raises(cw.MemoryBudgetError, match="memory_limit") as e:
                f()
            # Sizes this small are said in bytes or KiB, never "0.0 MiB".
            assert "0.0 MiB" not in str(e.value) and "0.1 MiB" not in str(e.value)
    assert not (tmp_path / "o.h5").exists()


def test_memory_limit_of_64_kb_computes_what_fits(small_file):
    path, x = small_file
    a = cw.open(path, "x")
    with cw.config(memory_limit="64KiB", threads=2):
        # float64 sums in tiles of this budget: rounding only
        np.testing.assert_allclose(a.sum().compute(), x.sum(), rtol=1e-12)
        np.testing.assert_array_equal(a.compute(), x)
        np.testing.assert_array_equal(a.rechunk((300, 1)).max(axis=0).compute(), x.max(axis=0))
