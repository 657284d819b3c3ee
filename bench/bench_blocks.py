"""Block functions and rechunking: chunkwise against dask.array over h5py.

    python bench/bench_blocks.py [--quick] [--dir DIR] [--runs N]

On an 800 MB float64 HDF5 dataset (10000 x 10000, uncompressed row chunks
of 100 x 10000, 8 MB), warm page cache, 2 threads each:

- map_blocks: ``map_blocks(np.sin, x).sum()``;
- rechunk: rows to columns (10000 x 100 chunks) written to a new HDF5
  dataset, uncompressed;
- rechunk-ooc: the same with chunkwise's memory_limit at 256 MiB (the
  array no longer fits: staged through a temporary HDF5 dataset), against
  the same dask run.

chunkwise runs with its default memory_limit (1 GiB) otherwise; dask with its
threaded scheduler (num_workers=2) reading through h5py (``from_array``
with the dataset's chunks, a lock around h5py) and writing with
``dask.array.to_hdf5``.  Each measurement runs in a fresh subprocess
(peak RSS from getrusage); the median of N runs is reported, with the
ratio dask / chunkwise.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

SHAPE = (10_000, 10_000)
QUICK = (2_000, 10_000)
ROW_CHUNK = 100
COL_CHUNK = 100
THREADS = 2


def generate(path, shape):
    import h5py  # noqa: I001 (only the generating subprocess needs it)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", shape, "f8", chunks=(ROW_CHUNK, shape[1]))
        rng = np.random.default_rng(0)
        for i in range(0, shape[0], 500):
            d[i:i + 500] = rng.random((min(500, shape[0] - i), shape[1]))


def one(lib, case, path, out):
    """One measurement (in a fresh process): seconds and peak RSS."""
    if os.path.exists(out):
        os.remove(out)
    if lib == "chunkwise":
        import chunkwise as cw  # noqa: I001 (each subprocess imports one library)
        cw.config(threads=THREADS, progress=False)
        if case == "rechunk-ooc":
            cw.config(memory_limit=256 * 2**20)
        a = cw.open(path, "/x")
        t = time.perf_counter()
        if case == "map_blocks":
            value = float(cw.map_blocks(np.sin, a).sum())
        else:
            a.rechunk((a.shape[0], COL_CHUNK)).to_hdf5(out, "/y", compression=None)
            value = None
        dt = time.perf_counter() - t
    else:
        import dask  # noqa: I001 (each subprocess imports one library)
        import dask.array as da  # noqa: I001
        import h5py  # noqa: I001
        dask.config.set(scheduler="threads", num_workers=THREADS)
        f = h5py.File(path, "r")
        a = da.from_array(f["x"], chunks=f["x"].chunks)
        t = time.perf_counter()
        if case == "map_blocks":
            value = float(da.map_blocks(np.sin, a).sum().compute())
        else:
            da.to_hdf5(out, "/y", a.rechunk((a.shape[0], COL_CHUNK)),
                       chunks=(a.shape[0], COL_CHUNK))
            value = None
        dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": dt, "peak": rss, "value": value}))


def measure(lib, case, path, out):
    r = subprocess.run([sys.executable, __file__, "--one", lib, case, path, out],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def check_rechunk(path, out):
    import h5py  # noqa: I001 (the check needs it only)
    with h5py.File(path) as f, h5py.File(out) as g:
        assert g["y"].chunks == (f["x"].shape[0], COL_CHUNK), g["y"].chunks
        for j in (0, 57, f["x"].shape[1] - 1):
            assert np.array_equal(f["x"][:, j], g["y"][:, j])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default="/tmp/chunkwise-bench-blocks")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--one", nargs=4)
    ap.add_argument("--cases", default="map_blocks,rechunk,rechunk-ooc")
    args = ap.parse_args()
    if args.one:
        one(*args.one)
        return
    os.makedirs(args.dir, exist_ok=True)
    shape = QUICK if args.quick else SHAPE
    path = os.path.join(args.dir, f"rows-{shape[0]}x{shape[1]}.h5")
    if not os.path.exists(path):
        generate(path, shape)
    out = os.path.join(args.dir, "out.h5")
    nbytes = shape[0] * shape[1] * 8
    print(f"input: {shape[0]} x {shape[1]} float64, {nbytes / 1e6:.0f} MB, row chunks "
          f"{ROW_CHUNK} x {shape[1]}; {THREADS} threads; median of {args.runs}")
    with open(path, "rb") as f:      # warm the page cache
        while f.read(1 << 24):
            pass
    print(f"{'case':<12} {'library':<10} {'seconds':>8} {'peak MiB':>9} {'ratio':>6}")
    for case in args.cases.split(","):
        rows = {}
        for lib in ("chunkwise", "dask"):
            what = "rechunk" if lib == "dask" and case == "rechunk-ooc" else case
            runs = [measure(lib, what, path, out) for _ in range(args.runs)]
            if case.startswith("rechunk"):
                check_rechunk(path, out)
            rows[lib] = runs
        cw_v, dk_v = rows["chunkwise"][0]["value"], rows["dask"][0]["value"]
        if cw_v is not None:
            assert abs(cw_v - dk_v) <= 1e-9 * abs(dk_v), (cw_v, dk_v)
        t_cw = statistics.median(r["seconds"] for r in rows["chunkwise"])
        for lib in ("chunkwise", "dask"):
            t = statistics.median(r["seconds"] for r in rows[lib])
            peak = max(r["peak"] for r in rows[lib]) / 2**20
            ratio = f"{t / t_cw:.2f}x" if lib == "dask" else ""
            print(f"{case:<12} {lib:<10} {t:>8.2f} {peak:>9.0f} {ratio:>6}", flush=True)


if __name__ == "__main__":
    main()
