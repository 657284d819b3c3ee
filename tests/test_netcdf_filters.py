"""netCDF4 files written by netCDF4-python with each compression it offers
(zlib, zstd, bzip2, Blosc) read bit-exactly by chunkwise on its native
path: every chunk decoded outside HDF5's lock, none through the filter
pipeline.  The writer runs in a child process (netCDF4 sets
HDF5_PLUGIN_PATH when imported)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

import chunkwise as cw

pytestmark = pytest.mark.skipif(importlib.util.find_spec("netCDF4") is None,
                                reason="netCDF4 is not installed")

COMPRESSIONS = ["zlib", "zstd", "bzip2", "blosc_lz", "blosc_lz4", "blosc_lz4hc",
                "blosc_zlib", "blosc_zstd"]
DTYPES = ["i2", "f4", "f8", "u1"]

WRITER = """
import json, sys
import numpy as np
import netCDF4 as nc
path, comps, dtypes = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
written = {}
with nc.Dataset(path, "w") as ds:
    ds.createDimension("y", 230)
    ds.createDimension("x", 170)
    for comp in comps:
        for dt in dtypes:
            for shuffle in (False, True):
                for endian in ("little", "big"):
                    name = f"{comp}_{dt}_{int(shuffle)}_{endian}"
                    v = ds.createVariable(name, dt, ("y", "x"), compression=comp,
                                          complevel=4, shuffle=shuffle,
                                          chunksizes=(48, 64), endian=endian)
                    v.set_auto_maskandscale(False)
                    i = np.arange(230 * 170).reshape(230, 170)
                    v[:] = ((i * 7) % 251 + (i // 170)).astype(dt)
                    written[name] = dt
print(json.dumps(written))
"""


@pytest.fixture(scope="module")
def netcdf_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("nc") / "filters.nc")
    r = subprocess.run([sys.executable, "-c", WRITER, path, ",".join(COMPRESSIONS),
                        ",".join(DTYPES)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return path, json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_netcdf4_compressions_read_natively(netcdf_file, comp):
    import h5py  # the reference read: h5py with hdf5plugin's filters
    import hdf5plugin  # noqa: F401  (registers Blosc, Zstd, BZip2 in h5py's HDF5)
    path, written = netcdf_file
    names = [n for n in written if n.startswith(comp + "_")]
    assert len(names) == 2 * 2 * len(DTYPES)
    i = np.arange(230 * 170).reshape(230, 170)
    with h5py.File(path, "r") as f:
        for name in names:
            want = ((i * 7) % 251 + (i // 170)).astype(written[name])
            np.testing.assert_array_equal(f[name][...], want)
            cw.reset_stats()
            got = cw.open(path, name).compute()
            s = cw.stats()
            assert got.dtype == want.dtype.newbyteorder("=") and np.array_equal(got, want), name
            assert s["chunks_pipeline"] == 0 and s["chunks_decoded"] == 5 * 3, (name, s)
            part = cw.open(path, name)[17:101:3, ::-7].compute()
            np.testing.assert_array_equal(part, want[17:101:3, ::-7])
