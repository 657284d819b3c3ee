#!/usr/bin/env python
"""Full-read benchmark of a PyTables-written Blosc2-LZ4 dataset (HDF5
filter 32026): chunkwise with 1 and 2 threads (``compute(out=)``) against
h5py + hdf5plugin (``read_direct``) and PyTables (``read(out=)``).

Data
    One float64 dataset of shape (10_000, 5_000) (400 MB uncompressed;
    ``--rows`` changes it), chunks (200, 5_000) = 8 MB, written by PyTables
    with ``Filters(5, complib="blosc2:lz4", shuffle=True)`` (b2nd frames):
    a smooth 2-D sinusoid plus Gaussian noise quantised to 0.001.  It is
    generated once into ``--data-dir`` (default /tmp) and reused while its
    shape matches.

Method
    The page cache is warm (the file is read once, untimed).  Each reader
    reads everything into a preallocated, touched buffer ``--repeat``
    times (default 3), interleaved, and the median is reported; the first
    result of every reader is checked against h5py's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import h5py
import hdf5plugin  # noqa: F401 - registers the Blosc2 filter with h5py
import numpy as np

import chunkwise as cw

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import tables

COLS, CHUNK_ROWS = 5_000, 200


def generate(path, rows):
    rng = np.random.default_rng(0)
    with tables.open_file(path, "w") as f:
        a = f.create_carray("/", "x", atom=tables.Float64Atom(), shape=(rows, COLS),
                            chunkshape=(CHUNK_ROWS, COLS),
                            filters=tables.Filters(5, complib="blosc2:lz4",
                                                   shuffle=True))
        j = np.arange(COLS) / COLS
        for r0 in range(0, rows, 1000):
            i = (np.arange(r0, min(rows, r0 + 1000)) / rows)[:, None]
            x = np.sin(6 * i) * np.cos(9 * j) + 0.01 * rng.standard_normal((len(i), COLS))
            a[r0:r0 + len(i)] = np.round(x, 3)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="/tmp")
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    path = os.path.join(args.data_dir, f"cw_bench_blosc2_lz4_{args.rows}.h5")
    try:
        with h5py.File(path, "r") as f:
            ok = f["x"].shape == (args.rows, COLS)
    except OSError:
        ok = False
    if not ok:
        print(f"generating {path} ...")
        generate(path, args.rows)
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass
    nbytes = args.rows * COLS * 8
    out = np.ones((args.rows, COLS))

    hf = h5py.File(path, "r")
    tf = tables.open_file(path, "r")
    arr = cw.open(path, "x")
    readers = {
        "h5py+hdf5plugin": lambda: hf["x"].read_direct(out),
        "PyTables": lambda: tf.root.x.read(out=out),
    }
    for t in (1, 2):
        def read(t=t):
            with cw.config(threads=t):
                arr.compute(out=out)
        readers[f"chunkwise t={t}"] = read
    ref = hf["x"][()]
    times = {k: [] for k in readers}
    for rep in range(args.repeat):
        for k, fn in readers.items():
            out.fill(1.0)
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
            if rep == 0 and not np.array_equal(out, ref):
                raise SystemExit(f"{k}: result differs from h5py's")
    cw.reset_stats()
    with cw.config(threads=2):
        arr.compute(out=out)
    stats = cw.stats()
    hf.close()
    tf.close()
    stored = os.path.getsize(path)
    print(f"{path}: {nbytes / 1e6:.0f} MB float64, stored {stored / 1e6:.0f} MB "
          f"(ratio {nbytes / stored:.2f}), chunks {CHUNK_ROWS}x{COLS}, "
          f"median of {args.repeat}")
    base = statistics.median(times["h5py+hdf5plugin"])
    for k, ts in times.items():
        m = statistics.median(ts)
        print(f"  {k:18s} {m:7.3f} s  {nbytes / m / 1e6:7.0f} MB/s  "
              f"{base / m:5.2f}x h5py")
    print(f"  chunkwise t=2 stats: {stats['chunks_lockfree']} of "
          f"{stats['chunks_read']} chunks decoded outside the HDF5 lock, "
          f"{stats['chunks_pipeline']} through HDF5's pipeline")


if __name__ == "__main__":
    main()
