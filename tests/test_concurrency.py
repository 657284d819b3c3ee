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


def test_threads_with_their_own_config_compute_and_store(shared):
    d, path, x, y = shared
    a, b = cw.open(path, "x"), cw.open(path, "y")
    out_shared = str(d / "shared_out.h5")
    errors = []
    lock = threading.Lock()

    def work(k):
        try:
            limit = ["2MiB", "8MiB", "64MiB"][k % 3]
            with cw.config(threads=1 + k % 2, memory_limit=limit):
                assert cw.get_config()["threads"] == 1 + k % 2
                for r in range(3):
                    s = (a * (k + 1) + b).sum(axis=0).compute()
                    np.testing.assert_allclose(s, (x * (k + 1) + y).sum(axis=0), rtol=1e-12)
                    m = np.asarray(a[k::7, ::-3])
                    np.testing.assert_array_equal(m, x[k::7, ::-3])
                    t = (b % (k + 2)).max(axis=1).compute()
                    np.testing.assert_array_equal(t, (y % (k + 2)).max(axis=1))
                # A dataset of one shared file (stores into it take turns:
                # one HDF5 writer at a time) and a file of its own.
                with lock:
                    (a + k).to_hdf5(out_shared, f"/t{k}", compression="zstd")
                (b * k).to_hdf5(str(d / f"own{k}.h5"), "/r", compression="blosc-lz4")
        except BaseException as e:  # reported by the main thread
            errors.append((k, e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    with h5py.File(out_shared, "r") as f:
        for k in range(8):
            np.testing.assert_array_equal(f[f"t{k}"][...], x + k)
    for k in range(8):
        np.testing.assert_array_equal(cw.open(d / f"own{k}.h5", "/r").compute(), y * k)


def test_threads_store_into_one_file_at_once(shared):
    """Concurrent stores into one existing file: each is whole at the end."""
    d, path, x, y = shared
    out = str(d / "together.h5")
    with h5py.File(out, "w") as f:
        f.create_dataset("keep", data=np.arange(5))
    a = cw.open(path, "x")
    errors = []

    def store(k):
        try:
            (a * k).to_hdf5(out, f"/s{k}", chunks=(50, 100))
        except BaseException as e:  # reported by the main thread
            errors.append((k, e))

    threads = [threading.Thread(target=store, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    with h5py.File(out, "r") as f:
        assert sorted(f) == ["keep"] + [f"s{k}" for k in range(6)]
        for k in range(6):
            np.testing.assert_array_equal(f[f"s{k}"][...], x * k)


def _child(blob, queue):
    a = pickle.loads(blob)
    queue.put((np.asarray((a * 2).sum(axis=1)), np.asarray(a[3:9, ::5])))


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_children_use_pickled_arrays(shared, method):
    d, path, x, y = shared
    a = cw.open(path, "x")
    a.mean().compute()                     # the parent has run the engine first
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    blob = pickle.dumps(a[10:200] + 1)
    procs = [ctx.Process(target=_child, args=(blob, queue)) for _ in range(2)]
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
    np.testing.assert_array_equal(np.asarray(a[:4]), x[:4])   # the parent still reads
