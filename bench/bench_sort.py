"""np.unique(return_counts=True), np.sort along the last axis stored to
HDF5, and np.sort(axis=None) stored to HDF5 (the external sort), of an
int32 HDF5 dataset: chunkwise under a memory_limit of a quarter of the
data, beside dask.array over h5py and NumPy on the array read whole by
h5py, in one run: each tool in a fresh process per repetition (peak RSS
its own), the tools alternating, medians and the ratio to chunkwise.

dask has ``da.unique(return_counts=True)`` (per-block uniques,
concatenated and reduced again in memory) and no sort: along the last
axis it is ``x.rechunk({1: -1}).map_blocks(np.sort)`` into ``da.to_hdf5``;
of the whole array it has none (``axis=None`` is chunkwise against NumPy
only).  Every tool's result is checked against NumPy's.

    .venv/bin/python bench/bench_sort.py [--rows N] [--runs K] [--threads T]

Data goes to /tmp/sort/ (rows x 4096 int32 values in 0..distinct-1, chunks
of 256 x 1024, gzip level 1; 256 MiB with 10000 distinct values by
default).  dask's unique slows sharply with many distinct values: with a
million, it took more than 200 s here where chunkwise took 20 s.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

DIR = "/tmp/sort"
COLS = 4096

CHILD = r"""
import hashlib, json, os, sys, time
import numpy as np
import h5py
import hdf5plugin  # the Blosc filter, for reading chunkwise's stores
def peak():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
def reset():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
tool, op, path, out, threads, limit = sys.argv[1:7]
threads, limit = int(threads), int(limit)
if tool == "chunkwise":
    import chunkwise as cw
    cw.config(threads=threads, memory_limit=limit)
elif tool == "dask":
    import dask, dask.array as da
    dask.config.set(scheduler="threads", num_workers=threads)
if os.path.exists(out):
    os.remove(out)
reset()
t = time.perf_counter()
if op == "unique":
    if tool == "chunkwise":
        v, c = np.unique(cw.open(path, "/x"), return_counts=True)
        v, c = np.asarray(v), np.asarray(c)
    elif tool == "dask":
        f = h5py.File(path, "r")
        v, c = dask.compute(*da.unique(da.from_array(f["x"], chunks=f["x"].chunks),
                                       return_counts=True))
    else:
        with h5py.File(path, "r") as f:
            v, c = np.unique(f["x"][...], return_counts=True)
else:
    axis = -1 if op == "sort" else None
    if tool == "chunkwise":
        np.sort(cw.open(path, "/x"), axis=axis).to_hdf5(out, "/s")
    elif tool == "dask":
        f = h5py.File(path, "r")
        x = da.from_array(f["x"], chunks=f["x"].chunks)
        da.to_hdf5(out, "/s", x.rechunk({1: -1}).map_blocks(np.sort))
    else:
        with h5py.File(path, "r") as f:
            a = np.sort(f["x"][...], axis=axis)
        with h5py.File(out, "w") as g:
            g["s"] = a
s, p = time.perf_counter() - t, peak()
if op == "unique":
    digest = hashlib.sha256(v.astype("i8").tobytes() + c.astype("i8").tobytes()).hexdigest()
else:
    h = hashlib.sha256()
    with h5py.File(out, "r") as g:
        d = g["s"]
        for i in range(0, d.shape[0], 1 << 20):
            h.update(np.ascontiguousarray(d[i:i + (1 << 20)]).tobytes())
    digest = h.hexdigest()
    os.remove(out)
print(json.dumps({"s": s, "peak": p, "digest": digest}))
"""


def generate(path, rows, distinct):
    import h5py
    import numpy as np
    if os.path.exists(path):
        return
    rng = np.random.default_rng(0)
    with h5py.File(path + ".tmp", "w") as f:
        d = f.create_dataset("x", (rows, COLS), "i4", chunks=(256, 1024),
                             compression="gzip", compression_opts=1)
        for i in range(0, rows, 1024):
            d[i:i + 1024] = rng.integers(0, distinct, (min(1024, rows - i), COLS))
    os.replace(path + ".tmp", path)


def one(tool, op, path, out, threads, limit):
    r = subprocess.run([sys.executable, "-c", CHILD, tool, op, path, out, str(threads),
                        str(limit)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{tool} {op}: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=16384)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--distinct", type=int, default=10000)
    args = ap.parse_args()
    os.makedirs(DIR, exist_ok=True)
    path = os.path.join(DIR, f"x_{args.rows}_{args.distinct}.h5")
    out = os.path.join(DIR, "out.h5")
    generate(path, args.rows, args.distinct)
    nbytes = args.rows * COLS * 4
    limit = nbytes // 4
    print(f"{args.rows} x {COLS} int32 in 0..{args.distinct - 1} ({nbytes / 2**20:.0f} MiB, "
          f"gzip 1), chunks "
          f"(256, 1024), {args.threads} threads, chunkwise memory_limit "
          f"{limit / 2**20:.0f} MiB; median of {args.runs} runs, each in a fresh process")
    print(f"{'operation':<34}{'chunkwise s':>12}{'dask s':>9}{'ratio':>8}{'numpy s':>9}"
          f"{'ratio':>8}{'cw MiB':>8}{'dask MiB':>9}{'np MiB':>8}")
    print("(MiB: the process's peak RSS, VmHWM, imports included)")
    ops = (("unique", "unique(return_counts=True)"), ("sort", "sort(axis=-1) to HDF5"),
           ("sort_all", "sort(axis=None) to HDF5"))
    for op, label in ops:
        tools = ("chunkwise", "dask", "numpy") if op != "sort_all" else ("chunkwise", "numpy")
        res = {t: [] for t in tools}
        for _ in range(args.runs):
            for t in tools:               # side by side, alternating
                res[t].append(one(t, op, path, out, args.threads, limit))
        digests = {t: {r["digest"] for r in rs} for t, rs in res.items()}
        assert all(d == digests["numpy"] for d in digests.values()), digests
        med = {t: statistics.median(r["s"] for r in rs) for t, rs in res.items()}
        pk = {t: max(r["peak"] for r in rs) / 2**20 for t, rs in res.items()}
        c = med["chunkwise"]
        d = f"{med['dask']:>9.2f}{med['dask'] / c:>7.2f}x" if "dask" in med else \
            f"{'-':>9}{'-':>8}"
        dp = f"{pk['dask']:>9.0f}" if "dask" in pk else f"{'-':>9}"
        print(f"{label:<34}{c:>12.2f}{d}{med['numpy']:>9.2f}{med['numpy'] / c:>7.2f}x"
              f"{pk['chunkwise']:>8.0f}{dp}{pk['numpy']:>8.0f}")


if __name__ == "__main__":
    main()
