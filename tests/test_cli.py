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


def test_info_lists_several_files_past_one_it_cannot_read(tmp_path):
    good, newer = tmp_path / "good.h5", tmp_path / "newer.h5"
    with h5py.File(good, "w") as f:
        f.create_dataset("x", data=np.zeros(8, "i2"), chunks=(4,), compression="lzf")
        f.create_dataset("z", data=np.zeros((4, 4)), chunks=(2, 2),
                         **hdf5plugin.Zfp(reversible=True))
    with h5py.File(newer, "w", libver="latest") as f:   # HDF5 2.0's format (h5py 3.16)
        f.create_dataset("g", data=np.zeros(8), chunks=(4,), compression="gzip")
        f.create_dataset("b", data=np.zeros(8, bool), chunks=(4,))
    r = cli("info", str(tmp_path / "missing.h5"), str(newer), str(good))
    assert r.returncode == 1
    assert "/x  int16  shape 8  chunks 4  filters lzf" in r.stdout, r.stdout
    assert "/z  float64" in r.stdout and "(decoded by HDF5's filter pipeline)" in r.stdout
    assert "no such file" in r.stderr
    if h5py.version.hdf5_version_tuple >= (2, 0) and cw_hdf5()[:2] < (1, 12):
        assert "newer than HDF5" in r.stderr, r.stderr


def cw_hdf5():
    import re  # only this helper parses the version line
    import chunkwise as cw
    return tuple(int(v) for v in re.search(r"HDF5 (\d+)\.(\d+)\.(\d+)",
                                           cw._core.version_info()).groups())


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
