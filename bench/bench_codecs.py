#!/usr/bin/env python
"""Full reads of datasets written with the plugin codecs: a Blosc2-LZ4
dataset written by PyTables, a Zstd and a Bitshuffle-LZ4 one written by
h5py + hdf5plugin; chunkwise at 1 and 2 threads (``compute(out=)``)
against h5py + hdf5plugin (``read_direct``) and PyTables (``read(out=)``),
side by side in one run.

Data
    Each dataset is float64, ``--rows`` x 10 000 (default 20 000 rows:
    1.6 GB), chunks of 100 x 10 000 (8 MB), a smooth field plus noise
    quantised to 0.001 (compresses 2-4x). Generated once into
    ``--data-dir`` (default data/, gitignored) and reused.

Method
    Warm page cache (each file is read once, untimed). The readers take
    turns, round after round (``--repeat`` rounds, default 5), each into a
    preallocated, touched buffer; the median and the min-max per reader are
    reported, with the ratios to h5py. The first read of every reader is
    checked against h5py's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import h5py
import hdf5plugin
import numpy as np

# PyTables' own HDF5 finds hdf5plugin's filters through this variable.
os.environ.setdefault("HDF5_PLUGIN_PATH", hdf5plugin.PLUGIN_PATH)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import tables

import chunkwise as cw

COLS, CHUNK_ROWS = 10_000, 100


def _field(r0, r1, rows, rng):
    i = (np.arange(r0, r1) / rows)[:, None]
    j = np.arange(COLS) / COLS
    x = np.sin(6 * i) * np.cos(9 * j) + 0.01 * rng.standard_normal((r1 - r0, COLS))
    return np.round(x, 3)


def generate(path, kind, rows):
    rng = np.random.default_rng(0)
    tmp = path + ".tmp"
    if kind == "blosc2-lz4":
        with tables.open_file(tmp, "w") as f:
            a = f.create_carray("/", "x", atom=tables.Float64Atom(), shape=(rows, COLS),
                                chunkshape=(CHUNK_ROWS, COLS),
                                filters=tables.Filters(5, complib="blosc2:lz4", shuffle=True))
            for r0 in range(0, rows, 1000):
                a[r0:min(rows, r0 + 1000)] = _field(r0, min(rows, r0 + 1000), rows, rng)
    else:
        filt = (hdf5plugin.Zstd(clevel=3) if kind == "zstd"
                else hdf5plugin.Bitshuffle(cname="lz4"))
        with h5py.File(tmp, "w") as f:
            d = f.create_dataset("x", shape=(rows, COLS), dtype="f8",
                                 chunks=(CHUNK_ROWS, COLS), **filt)
            for r0 in range(0, rows, 1000):
                d[r0:min(rows, r0 + 1000)] = _field(r0, min(rows, r0 + 1000), rows, rng)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="data")
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--kinds", default="blosc2-lz4,zstd,bitshuffle-lz4")
    args = p.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    print(f"chunkwise {cw._core.version_info()}; h5py {h5py.__version__} (HDF5 "
          f"{h5py.version.hdf5_version}), hdf5plugin {hdf5plugin.version}, PyTables "
          f"{tables.__version__}; {os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for kind in args.kinds.split(","):
        path = os.path.join(args.data_dir, f"codec-{kind}-{args.rows}x{COLS}.h5")
        if not os.path.exists(path):
            print(f"generating {path} ...", flush=True)
            generate(path, kind, args.rows)
        out = np.ones((args.rows, COLS))
        with open(path, "rb") as f:               # warm the page cache
            while f.read(1 << 24):
                pass
        h5 = h5py.File(path, "r")
        tb = tables.open_file(path, "r")
        a = cw.open(path, "/x")

        def h5py_read():
            h5["x"].read_direct(out)

        def pytables_read():
            tb.root.x.read(out=out)

        def cw_read(t):
            def read():
                with cw.config(threads=t):
                    a.compute(out=out)
            return read

        readers = {"h5py+hdf5plugin": h5py_read, "PyTables": pytables_read,
                   "chunkwise t=1": cw_read(1), "chunkwise t=2": cw_read(2)}
        h5py_read()
        ref = out.copy()
        for name, fn in readers.items():
            out[...] = 0
            fn()
            assert np.array_equal(out, ref), (kind, name)
        times = {n: [] for n in readers}
        for _ in range(args.repeat):
            for name, fn in readers.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        h5.close()
        tb.close()
        ratio = os.path.getsize(path) and ref.nbytes / os.path.getsize(path)
        base = statistics.median(times["h5py+hdf5plugin"])
        t1 = statistics.median(times["chunkwise t=1"])
        print(f"\n{kind}: {ref.nbytes / 1e9:.2f} GB, compression ratio {ratio:.2f}")
        print("| reader | median s | min-max s | GB/s | vs h5py |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, ts in times.items():
            m = statistics.median(ts)
            print(f"| {name} | {m:.3f} | {min(ts):.3f}-{max(ts):.3f} | "
                  f"{ref.nbytes / 1e9 / m:.2f} | {base / m:.2f}x |")
        t2 = statistics.median(times["chunkwise t=2"])
        print(f"chunkwise t=2 vs t=1: {t1 / t2:.2f}x")
        rows.append((kind, base / t2, t1 / t2))
    print("\nsummary: " + "; ".join(f"{k}: t=2 {r:.2f}x h5py, {s:.2f}x t=1"
                                     for k, r, s in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
