"""HDF5 handles kept open between runs: a run after the first reuses the
file and dataset handles while the file is unchanged, and holds no lock
between runs, so other writers (h5py in this process, other processes) may
open the file; any change to the file makes the next run open it anew."""
from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import chunkwise as cw


def _locks_on(path):
    """Lines of /proc/locks naming the file at path."""
    st = os.stat(path)
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino} "
    with open("/proc/locks") as f:
        return [line for line in f if key in line and "->" not in line]


@pytest.fixture
def h5file(tmp_path):
    path = str(tmp_path / "kept.h5")
    x = np.arange(4000, dtype="f8").reshape(40, 100)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(10, 10), compression="gzip")
        f.create_dataset("y", data=x * 2, chunks=(10, 10))
    return path, x


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs /proc/locks")
def test_no_lock_is_held_between_runs(h5file):
    path, x = h5file
    a = cw.open(path, "x")
    assert _locks_on(path) == []
    assert np.array_equal(a[3].compute(), x[3])
    assert _locks_on(path) == []


def test_h5py_in_this_process_writes_between_runs(h5file):
    path, x = h5file
    a = cw.open(path, "x")
    assert np.array_equal(a.compute(), x)
    with h5py.File(path, "a") as f:           # not refused by a lock of ours
        f["x"][5] = -1.0                       # modified in place
        f.create_dataset("z", data=np.ones(3))
    expect = x.copy()
    expect[5] = -1.0
    assert np.array_equal(a.compute(), expect)      # the file changed: opened anew
    assert np.array_equal(cw.open(path, "z").compute(), np.ones(3))


def test_another_process_writes_between_runs(h5file):
    path, x = h5file
    a = cw.open(path, "x")
    assert np.array_equal(a[:4].compute(), x[:4])
    code = ("import h5py, numpy as np\n"
            f"with h5py.File({path!r}, 'a') as f:\n"
            "    f['x'][0, :] = 7.0\n"
            "    f.create_dataset('w', data=np.arange(5))\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    expect = x[:4].copy()
    expect[0] = 7.0
    assert np.array_equal(a[:4].compute(), expect)
    assert np.array_equal(cw.open(path, "w").compute(), np.arange(5))


def test_store_into_the_file_of_a_kept_source(h5file):
    path, x = h5file
    a = cw.open(path, "x")
    assert np.array_equal(a.compute(), x)
    (a + 1).to_hdf5(path, "x1")                 # opens the file for writing
    assert np.array_equal(cw.open(path, "x1").compute(), x + 1)
    assert np.array_equal(a.compute(), x)
    with h5py.File(path, "r") as f:
        assert np.array_equal(f["x1"][...], x + 1)


def test_replaced_dataset_is_refused_after_kept_runs(h5file):
    path, x = h5file
    a = cw.open(path, "x")
    assert np.array_equal(a.compute(), x)
    (a * 3).to_hdf5(path, "x", overwrite=True)
    with pytest.raises(OSError, match="replaced or changed since it was opened"):
        a.compute()


def test_file_removed_and_written_anew(h5file):
    path, x = h5file
    a = cw.open(path, "y")
    assert np.array_equal(a.compute(), x * 2)
    os.remove(path)
    with pytest.raises(OSError):
        a.compute()
    with h5py.File(path, "w") as f:
        f.create_dataset("y", data=x * 5, chunks=(10, 10))
    with pytest.raises(OSError, match="replaced or changed since it was opened"):
        a.compute()
    assert np.array_equal(cw.open(path, "y").compute(), x * 5)


def test_many_arrays_on_one_file_and_a_new_dataset(h5file):
    path, x = h5file
    arrays = [cw.open(path, "x") for _ in range(20)]
    for a in arrays:
        assert np.array_equal(a[1].compute(), x[1])
    with h5py.File(path, "a") as f:
        f.create_dataset("v", data=np.full(4, 9.0))
    # The handles kept by the 20 arrays predate the new dataset.
    assert np.array_equal(cw.open(path, "v").compute(), np.full(4, 9.0))
    assert all(np.array_equal(a[2].compute(), x[2]) for a in arrays)


def test_a_writer_holding_the_file_between_runs_gives_the_lock_error(h5file):
    path, x = h5file
    a, b = cw.open(path, "x"), cw.open(path, "y")
    assert np.array_equal(a[0].compute(), x[0]) and np.array_equal(b[0].compute(), 2 * x[0])
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, h5py\n"
         f"f = h5py.File({path!r}, 'a')\n"
         "print('ready', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        for arr in (a, b):      # both kept handles of the file
            with pytest.raises(OSError, match="locked: process"):
                arr.compute()
    finally:
        writer.communicate("\n", timeout=30)
    assert np.array_equal(a.compute(), x) and np.array_equal(b.compute(), 2 * x)
