"""Many Python threads sharing arrays, each with its own cw.config,
computing and storing at once (to datasets of one file and to other
files); child processes made by fork, spawn and forkserver using arrays
and pickled arrays. Every result is checked against NumPy."""
from __future__ import annotations

import multiprocessing
import pickle
import threading

import h5py
import numpy as np
import pytest

import chunkwise as cw


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    d = tmp_path_factory.mktemp("conc")
    path = str(d / "in.h5")
    x = np.random.default_rng(11).standard_normal((400, 300))
    y = np.arange(400 * 300, dtype="i4").reshape(400, 300)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(40, 30), compression="gzip")
        f.create_dataset("y", data=y, chunks=(64, 64))
    return d, path, x, y


N_THREADS = 16


def _run_threads(work, n):
    """work(k) on n threads at once; the errors they raised, re-raised here."""
    errors = []
    start = threading.Barrier(n)

    def wrapped(k):
        try:
            start.wait(timeout=120)
            work(k)
        except BaseException as e:  # reported by the main thread
            errors.append((k, e))

    threads = [threading.Thread(target=wrapped, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors


def test_threads_with_their_own_config_compute_and_store(shared):
    """16 threads, each with its own threads and memory_limit (down to
    256 KiB: tiled passes, and a rechunk rows to columns staged through a
    temporary file), sharing two arrays; results exact (integers), or to
    rounding where float sums are tiled differently."""
    d, path, x, y = shared
    a, b = cw.open(path, "x"), cw.open(path, "y")
    out_shared = str(d / "shared_out.h5")
    lock = threading.Lock()
    limits = ["256KiB", "2MiB", "8MiB", "64MiB"]

    def work(k):
        limit = limits[k % 4]
        mine = {"threads": 1 + k % 4, "memory_limit": cw.get_config()["memory_limit"]}
        with cw.config(threads=1 + k % 4, memory_limit=limit):
            mine["memory_limit"] = cw.get_config()["memory_limit"]
            for r in range(2):
                s = (a * (k + 1) + b).sum(axis=0).compute()
                # float64 sums tiled by each thread's budget: rounding only
                np.testing.assert_allclose(s, (x * (k + 1) + y).sum(axis=0), rtol=1e-12)
                m = np.asarray(a[k::7, ::-3])
                np.testing.assert_array_equal(m, x[k::7, ::-3])
                t = (b % (k + 2)).max(axis=1).compute()
                np.testing.assert_array_equal(t, (y % (k + 2)).max(axis=1))
                i = (b.astype("i8") * (k + 1) - 7).sum(axis=1).compute()
                np.testing.assert_array_equal(i, (y.astype("i8") * (k + 1) - 7).sum(axis=1))
                c = b.rechunk((400, 4))[:, k::5].compute()
                np.testing.assert_array_equal(c, y[:, k::5])
                # Other threads' configs never leak into this one.
                assert cw.get_config()["threads"] == mine["threads"]
                assert cw.get_config()["memory_limit"] == mine["memory_limit"]
            # A dataset of one shared file (stores into it take turns:
            # one HDF5 writer at a time) and a file of its own.
            with lock:
                (a + k).to_hdf5(out_shared, f"/t{k}", compression="zstd")
            (b * k).to_hdf5(str(d / f"own{k}.h5"), "/r", compression="blosc-lz4")

    _run_threads(work, N_THREADS)
    with h5py.File(out_shared, "r") as f:
        for k in range(N_THREADS):
            np.testing.assert_array_equal(f[f"t{k}"][...], x + k)
    for k in range(N_THREADS):
        np.testing.assert_array_equal(cw.open(d / f"own{k}.h5", "/r").compute(), y * k)


def test_threads_store_into_one_file_at_once(shared):
    """Concurrent stores into one existing file (16 threads, no lock of
    their own, each its own memory_limit): each is whole at the end."""
    d, path, x, y = shared
    out = str(d / "together.h5")
    with h5py.File(out, "w") as f:
        f.create_dataset("keep", data=np.arange(5))
    a, b = cw.open(path, "x"), cw.open(path, "y")

    def store(k):
        with cw.config(threads=1 + k % 3, memory_limit=["1MiB", "16MiB"][k % 2]):
            if k % 2:
                (a * k).to_hdf5(out, f"/s{k}", chunks=(50, 100))
            else:
                (b - k).to_hdf5(out, f"/s{k}", chunks=(100, 30), compression="gzip")

    _run_threads(store, N_THREADS)
    with h5py.File(out, "r") as f:
        assert sorted(f) == sorted(["keep"] + [f"s{k}" for k in range(N_THREADS)])
        for k in range(N_THREADS):
            np.testing.assert_array_equal(f[f"s{k}"][...], x * k if k % 2 else y - k)


def _child(blob, out, queue):
    a = pickle.loads(blob)
    (a * 3).to_hdf5(out, "/c", compression="zstd")
    queue.put((np.asarray((a * 2).sum(axis=1)), np.asarray(a[3:9, ::5])))


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_children_use_pickled_arrays(shared, method):
    d, path, x, y = shared
    a = cw.open(path, "x")
    a.mean().compute()                     # the parent has run the engine first
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    blob = pickle.dumps(a[10:200] + 1)
    outs = [str(d / f"child-{method}-{i}.h5") for i in range(2)]
    procs = [ctx.Process(target=_child, args=(blob, o, queue)) for o in outs]
    for p in procs:
        p.start()
    got = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    want = x[10:200] + 1
    for s, part in got:
        np.testing.assert_allclose(s, (want * 2).sum(axis=1), rtol=1e-12)
        np.testing.assert_array_equal(part, want[3:9, ::5])
    for o in outs:
        with h5py.File(o, "r") as f:
            np.testing.assert_array_equal(f["c"][...], want * 3)
    np.testing.assert_array_equal(np.asarray(a[:4]), x[:4])   # the parent still reads


def _inherited(arrays, out, queue):
    a, b = arrays                    # the parent's objects, not pickled
    with cw.config(threads=2):
        (b + 1).to_hdf5(out, "/f")
        queue.put((int(b.astype("i8").sum().compute()), np.asarray(a[::50, ::60])))


def test_fork_while_other_threads_compute(shared):
    """Children forked while four threads of the parent read and store
    (holding the engine's threads and the HDF5 lock at random moments)
    use the arrays they inherit, on several threads; none hangs."""
    d, path, x, y = shared
    a, b = cw.open(path, "x"), cw.open(path, "y")
    stop = threading.Event()
    errors = []

    def busy(k):
        try:
            with cw.config(threads=2, memory_limit="1MiB"):
                while not stop.is_set():
                    assert int(b.astype("i8").sum().compute()) == int(y.sum(dtype="i8"))
                    (a * k).to_hdf5(str(d / f"busy{k}.h5"), "/b", overwrite=True)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=busy, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    ctx = multiprocessing.get_context("fork")
    try:
        for i in range(12):
            queue = ctx.Queue()
            out = str(d / f"forked{i}.h5")
            p = ctx.Process(target=_inherited, args=((a, b), out, queue))
            p.start()
            total, part = queue.get(timeout=120)
            p.join(timeout=60)
            assert p.exitcode == 0
            assert total == int(y.sum(dtype="i8"))
            np.testing.assert_array_equal(part, x[::50, ::60])
            with h5py.File(out, "r") as f:
                np.testing.assert_array_equal(f["f"][...], y + 1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=300)
    assert not errors, errors
