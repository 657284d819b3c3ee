"""What chunkwise writes with each compression, read back by PyTables
(its own HDF5, with hdf5plugin's filters through HDF5_PLUGIN_PATH, in a
child process) bit for bit."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import hdf5plugin
import numpy as np
import pytest

import chunkwise as cw

# Not "lzf": h5py's own filter, which neither PyTables nor hdf5plugin ships.
COMPRESSIONS = ["gzip", "zstd", "lz4", "bzip2", "bitshuffle", "bitshuffle-lz4",
                "bitshuffle-zstd", "blosc-lz4", "blosc-zstd", "blosc2-lz4", "blosc2-zstd",
                "blosc2-blosclz"]
DTYPES = ["<f8", "<f4", "<i2", "|u1"]

READER = """
import hashlib, json, sys, warnings
warnings.simplefilter("ignore")
import tables
out = {}
with tables.open_file(sys.argv[1], "r") as f:
    for node in f.walk_nodes("/", "Array"):
        try:
            a = node.read()
        except Exception as e:
            out[node._v_pathname] = ["error", [], str(e).splitlines()[-1]]
            continue
        out[node._v_pathname] = [str(a.dtype), list(a.shape),
                                 hashlib.sha256(a.tobytes()).hexdigest()]
print(json.dumps(out))
"""


def _data(dtype, shape=(37, 53)):
    i = np.arange(np.prod(shape)).reshape(shape)
    return ((i * 13) % 97 + i // 53).astype(dtype)


def test_pytables_reads_every_compression(tmp_path):
    path = tmp_path / "w.h5"
    want = {}
    for comp in COMPRESSIONS:
        for dt in DTYPES:
            x = _data(dt)
            name = f"/{comp.replace('-', '_')}_{np.dtype(dt).name}"
            shuffle = True
            cw.asarray(x, chunks=(10, 20)).to_hdf5(path, name, compression=comp,
                                                   level=5, shuffle=shuffle)
            want[name] = [np.dtype(dt).newbyteorder("=").name, list(x.shape),
                          hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()]
    env = dict(os.environ, HDF5_PLUGIN_PATH=hdf5plugin.PLUGIN_PATH)
    r = subprocess.run([sys.executable, "-c", READER, str(path)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    for name, (dt, shape, digest) in want.items():
        assert name in got, (name, sorted(got))
        assert got[name][0] != "error", (name, got[name][2])
        assert np.dtype(got[name][0]) == np.dtype(dt) and got[name][1] == shape, name
        assert got[name][2] == digest, name


@pytest.mark.parametrize("comp", ["zstd", "bitshuffle-lz4", "blosc2-lz4"])
def test_pytables_reads_streamed_expression_stores(tmp_path, comp):
    """Stores of expressions, streamed under a small memory_limit."""
    path = tmp_path / "e.h5"
    x = np.linspace(-3, 3, 300 * 200).reshape(300, 200)
    with cw.config(memory_limit="4MiB"):
        (np.sin(cw.asarray(x, chunks=(50, 200))) * 3).to_hdf5(path, "/e", compression=comp,
                                                               chunks=(30, 200))
    env = dict(os.environ, HDF5_PLUGIN_PATH=hdf5plugin.PLUGIN_PATH)
    r = subprocess.run([sys.executable, "-c", READER, str(path)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["/e"][2] == hashlib.sha256((np.sin(x) * 3).tobytes()).hexdigest()
