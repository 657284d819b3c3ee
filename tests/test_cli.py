"""The command line: chunkwise info and chunkwise eval."""
import subprocess
import sys

import h5py
import hdf5plugin
import numpy as np


def cli(*args):
    return subprocess.run([sys.executable, "-m", "chunkwise", *args],
                          capture_output=True, text=True, timeout=120)


def test_info_lists_datasets(tmp_path):
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/x", data=np.zeros((100, 10), "f4"), chunks=(10, 10),
                         **hdf5plugin.Blosc(cname="zstd"))
        f.create_dataset("s", data=np.array([b"x"]))
    r = cli("info", str(path))
    assert r.returncode == 0, r.stderr
    assert "/g/x  float32  shape 100x10  chunks 10x10  filters blosc-zstd" in r.stdout
    assert "(unsupported)" in r.stdout  # the string dataset
    r = cli("info", str(tmp_path / "missing.h5"))
    assert r.returncode == 1 and "no such file" in r.stderr


def test_eval_streams_an_expression(tmp_path):
    src = tmp_path / "in.h5"
    a = np.random.default_rng(0).standard_normal((300, 40)).astype("f4")
    b = np.arange(40, dtype="f4")
    with h5py.File(src, "w") as f:
        f.create_dataset("a", data=a, chunks=(64, 40))
        f.create_dataset("b", data=b)
    r = cli("eval", "sqrt(a**2 + b**2) - 1", "-i", f"a={src}:/a", "-i",
            f"b={src}:/b", "-o", f"{tmp_path / 'out.h5'}:/r", "--memory-limit", "8MiB")
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert np.array_equal(f["r"][...], np.sqrt(a**2 + b**2) - 1)
    r = cli("eval", "a + 1", "-i", f"a={src}:/a", "-o", f"{tmp_path / 'out.h5'}:/r")
    assert r.returncode == 1 and "already exists" in r.stderr
    for bad in ("__import__('os')", "a.T", "c + 1", "a +"):
        r = cli("eval", bad, "-i", f"a={src}:/a", "-o", f"{tmp_path / 'x.h5'}:/r")
        assert r.returncode == 1 and r.stderr.startswith("chunkwise eval:"), (bad, r)
    assert not (tmp_path / "x.h5").exists()
