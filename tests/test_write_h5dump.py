"""Files written by chunkwise read by the HDF5 command-line tool h5dump
(with the Debian filter plugins).
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import chunkwise as cw

from interop_helpers import TABLES_WARNINGS, PLUGIN_DIR, sample

pytestmark = TABLES_WARNINGS


def _h5dump_binary(tmp_path, path, name):
    exe = shutil.which("h5dump") or "/usr/bin/h5dump"
    env = dict(os.environ, HDF5_PLUGIN_PATH=PLUGIN_DIR)
    proc = subprocess.run([exe, "-d", name, str(path)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "DATA {" in proc.stdout
    assert "error" not in (proc.stdout + proc.stderr).lower()
    binfile = tmp_path / (name.strip("/").replace("/", "_") + ".bin")
    proc = subprocess.run([exe, "-d", name, "-b", "LE", "-o", str(binfile),
                           str(path)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return binfile.read_bytes()


@pytest.mark.skipif(not (shutil.which("h5dump") or os.path.exists("/usr/bin/h5dump")),
                    reason="h5dump not installed")
@pytest.mark.parametrize("compression,shuffle", [
    ("blosc-lz4", True), ("blosc-zstd", "bit"), ("blosc-zlib", False),
    ("gzip", True)])
def test_write_readable_by_h5dump(tmp_path, compression, shuffle):
    path = tmp_path / "w.h5"
    x = sample("<f8", (37, 53), seed=25)
    cw.asarray(x, chunks=(8, 16)).to_hdf5(path, "/grp/x", compression=compression,
                                          shuffle=shuffle)
    data = _h5dump_binary(tmp_path, path, "/grp/x")
    assert data == x.astype("<f8").tobytes()
