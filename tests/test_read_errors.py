"""Opening and reading HDF5 datasets that chunkwise cannot or must not read:
datasets replaced after open, unsupported types, missing names and files.
"""
from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest

import chunkwise as cw

from interop_helpers import TABLES_WARNINGS, assert_same, h5py_read

pytestmark = TABLES_WARNINGS


def _replace_with_h5py(path, name, data, **kw):
    with h5py.File(path, "a") as f:
        del f[name]
        f.create_dataset(name, data=data, **kw)


STALE_CASES = {
    # every replacement holds other values than the original
    "same-type-new-values": (lambda x: (x[::-1] * 3).astype(">i4"),
                             dict(chunks=(10, 10), compression="gzip")),
    "byte-order": (lambda x: (x * 2 + 1).astype("<i4"),
                   dict(chunks=(10, 10), compression="gzip")),
    "dtype-same-itemsize": (lambda x: (x * 2 + 1).astype("<f4"),
                            dict(chunks=(10, 10), compression="gzip")),
    "to-contiguous": (lambda x: x * 2 + 1, dict()),
    "to-other-chunks": (lambda x: x * 2 + 1, dict(chunks=(5, 8), compression="gzip")),
    "to-blosc": (lambda x: x * 2 + 1, dict(chunks=(10, 10), **hdf5plugin.Blosc())),
    "to-unfiltered": (lambda x: x * 2 + 1, dict(chunks=(10, 10))),
}


@pytest.mark.parametrize("case", [
    pytest.param(c) for c in STALE_CASES])
def test_array_opened_before_dataset_replaced(tmp_path, case):
    """After h5py replaces a dataset, an Array opened earlier must either
    read exactly what is now stored (same dtype) or refuse with an OSError
    saying the dataset changed -- never return other values."""
    path = tmp_path / "r.h5"
    x = (np.arange(30 * 40) // 7).reshape(30, 40).astype(">i4")
    assert x.dtype.byteorder == ">"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(10, 10), compression="gzip")
    a = cw.open(path, "x")
    assert_same(a.compute(), x)
    make, kw = STALE_CASES[case]
    _replace_with_h5py(path, "x", make(x), **kw)
    now = h5py_read(path, "x")
    try:
        r = a.compute()
    except OSError as e:
        assert "changed" in str(e), repr(e)
    else:
        assert_same(r, now)

# ================================================================ errors

def test_open_errors_on_h5py_files(tmp_path):
    path = tmp_path / "e.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("cplx", data=np.ones(4, "c8"))  # read: complex64
        f.create_dataset("comp", data=np.zeros(4, "i4,f8"))
        f.create_dataset("str", data=np.array([b"ab", b"cd"]))
        f.create_dataset("vstr", data=["a", "bcd"], dtype=h5py.string_dtype())
        f.create_dataset("vlen", shape=(2,), dtype=h5py.vlen_dtype("i4"))
        f.create_dataset("enum", data=np.array([0, 1, 2], "i1"),
                         dtype=h5py.enum_dtype({"R": 0, "G": 1, "B": 2},
                                               basetype="i1"))
        f.create_group("grp/sub")
        f.create_dataset("grp/x", data=np.arange(3))
    assert np.array_equal(cw.open(path, "cplx").compute(), np.ones(4, "c8"))
    for name in ("comp", "str", "vstr", "vlen", "enum", "grp", "/grp/sub"):
        with pytest.raises(TypeError):
            cw.open(path, name)
    for name in ("nope", "grp/nope", "nope/x", "grp/x/y"):
        with pytest.raises(KeyError):
            cw.open(path, name)
    assert_same(cw.open(path, "grp/x").compute(), np.arange(3))
    with pytest.raises(FileNotFoundError):
        cw.open(tmp_path / "missing.h5", "x")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file" * 200)
    with pytest.raises(OSError):
        cw.open(bad, "x")


def test_file_held_open_for_writing_by_this_process(tmp_path):
    path = str(tmp_path / "held.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(10.0))
        f.flush()
        for action in (lambda: cw.open(path, "x"),
                       lambda: cw.asarray(np.ones(3)).to_hdf5(path, "y")):
            with pytest.raises(OSError, match=r"locked: this process \(\d+, .*\) holds it open "
                                              r"for writing.*HDF5_USE_FILE_LOCKING"):
                action()
    np.testing.assert_array_equal(cw.open(path, "x").compute(), np.arange(10.0))


def test_file_held_open_for_writing_by_another_process(tmp_path):
    import subprocess  # only this test starts a writer process
    import sys

    path = str(tmp_path / "held.h5")
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, h5py, numpy as np\n"
         f"f = h5py.File({path!r}, 'w'); f.create_dataset('x', data=np.arange(4.0)); f.flush()\n"
         "print('ready', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        with pytest.raises(OSError, match=rf"locked: process {writer.pid} \(python\S*\) holds "
                                          r"it open for writing.*HDF5_USE_FILE_LOCKING=FALSE"):
            cw.open(path, "x")
    finally:
        writer.communicate("\n", timeout=30)
    np.testing.assert_array_equal(cw.open(path, "x").compute(), np.arange(4.0))
