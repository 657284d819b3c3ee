"""SWMR: reading a dataset that an h5py writer in another process appends
to (libver="latest", swmr_mode=True)."""
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

import chunkwise as cw

ROWS, COLS = 120, 6

WRITER = textwrap.dedent("""
    import sys, time
    import h5py, numpy as np
    path, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    f = h5py.File(path, "w", libver="latest")
    d = f.create_dataset("data", shape=(0, cols), maxshape=(None, cols),
                         chunks=(4, cols), dtype="i8")
    f.swmr_mode = True
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(rows):
        d.resize((i + 1, cols))
        d[i] = i * cols + np.arange(cols)
        d.flush()
        time.sleep(0.005)
    f.close()
    print("done", flush=True)
""")


def expected_rows(n):
    return np.arange(n * COLS, dtype="i8").reshape(n, COLS)


def test_swmr_reader_sees_complete_rows(tmp_path):
    path = str(tmp_path / "swmr.h5")
    w = subprocess.Popen([sys.executable, "-c", WRITER, path, str(ROWS), str(COLS)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert w.stdout.readline().strip() == "ready"
        x = cw.open(path, "/data", swmr=True)
        assert x.shape == (0, COLS) and x.dtype == np.int64
        w.stdin.write("go\n")
        w.stdin.flush()
        seen = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            x = x.refresh()
            n = x.shape[0]
            got = x.compute()
            assert got.shape == (n, COLS)
            np.testing.assert_array_equal(got, expected_rows(n))
            seen.add(n)
            if n == ROWS:
                break
        assert max(seen) == ROWS
        assert len(seen) > 2  # it read while the writer was appending
        assert w.wait(timeout=60) == 0
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(cw.open(path, "/data").compute(), f["data"][()])


def test_refresh_keeps_the_old_array(tmp_path):
    path = str(tmp_path / "grow.h5")
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("d", data=np.arange(4.0), maxshape=(None,), chunks=(2,))
    x = cw.open(path, "/d", swmr=True)
    with h5py.File(path, "a", libver="latest") as f:
        f["d"].resize((7,))
        f["d"][4:] = [4.0, 5.0, 6.0]
    y = x.refresh()
    assert x.shape == (4,) and y.shape == (7,)
    np.testing.assert_array_equal(y.compute(), np.arange(7.0))
    np.testing.assert_array_equal(x.compute(), np.arange(4.0))
    with pytest.raises(TypeError):
        (x + 1).refresh()
    with pytest.raises(TypeError):
        x[1:].refresh()
