"""np.cov of a tall HDF5 dataset, np.einsum("ij,ij->i") stored to HDF5, and
the tall-and-skinny QR and SVD (Q, U stored to HDF5): chunkwise against
dask.array over h5py (da.cov, da.einsum, da.linalg.qr and da.linalg.svd,
dask's TSQR), timed side by side in one run; median of several runs, the
ratio, and the peak RSS of each in a fresh subprocess.

    .venv/bin/python bench/bench_linalg.py [--rows N] [--runs K]

Data goes to /tmp/linalg/ (a float64 dataset of rows x 16, 300 MiB by
default, chunks of 8192 rows).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

DIR = "/tmp/linalg"
COLS = 16
CHUNK = 8192
THREADS = 2

CHILD = r"""
import json, os, sys, time
import numpy as np
import h5py
import hdf5plugin  # the Blosc filter for h5py
import chunkwise as cw
import dask, dask.array as da
def peak():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
def reset():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
path, tool, op, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cw.config(threads=threads, memory_limit=64 * 2**20)
dask.config.set(scheduler="threads", num_workers=threads)
out = f"{path}.{tool}.{op}.out.h5"
if os.path.exists(out):
    os.remove(out)
reset()
t = time.perf_counter()
if tool == "chunkwise":
    x = cw.open(path, "/x")
    if op == "cov":
        r = np.cov(x, rowvar=False).compute()
    elif op == "qr":
        q, r = np.linalg.qr(x)
        q.to_hdf5(out, "/q", overwrite=True)
    elif op == "svd":
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        u.to_hdf5(out, "/u", overwrite=True)
    else:
        np.einsum("ij,ij->i", x, x).to_hdf5(out, "/y", overwrite=True)
else:
    f = h5py.File(path, "r")
    x = da.from_array(f["x"], chunks=(%d, %d))
    if op == "cov":
        r = da.cov(x, rowvar=False).compute()
    elif op == "qr":
        q, r = da.linalg.qr(x)
        da.to_hdf5(out, {"/q": q, "/r": r})
    elif op == "svd":
        u, s, vh = da.linalg.svd(x)
        da.to_hdf5(out, {"/u": u, "/s": s, "/vh": vh})
    else:
        da.einsum("ij,ij->i", x, x).to_hdf5(out, "/y")
s, p = time.perf_counter() - t, peak()
if os.path.exists(out):
    os.remove(out)      # the stored results are not kept
print(json.dumps({"s": s, "peak": p}))
""" % (CHUNK, COLS)


def generate(path, rows):
    import numpy as np
    import chunkwise as cw
    if os.path.exists(path):
        return
    i = cw.arange(0, rows, dtype="f8", chunks=CHUNK)[:, None]
    j = cw.arange(0, COLS, dtype="f8")[None, :]
    (np.sin(i * 0.001 * (j + 1)) + j).to_hdf5(path, "/x", chunks=(CHUNK, COLS),
                                              compression="blosc-lz4")


def one(path, tool, op):
    r = subprocess.run([sys.executable, "-c", CHILD, path, tool, op, str(THREADS)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300 * 2**20 // 8 // COLS)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(DIR, exist_ok=True)
    path = os.path.join(DIR, f"tall_{args.rows}.h5")
    generate(path, args.rows)
    mib = args.rows * COLS * 8 / 2**20
    print(f"{args.rows} x {COLS} float64 ({mib:.0f} MiB), chunks ({CHUNK}, {COLS}), "
          f"{THREADS} threads; median of {args.runs} runs, each in a fresh process")
    print(f"{'operation':<22}{'chunkwise s':>12}{'dask s':>10}{'ratio':>8}"
          f"{'cw peak MiB':>13}{'dask peak MiB':>15}")
    print("(peak: the process's VmHWM, imports included)")
    for op, label in (("cov", "np.cov(rowvar=False)"), ("einsum", "einsum ij,ij->i h5"),
                      ("qr", "linalg.qr, Q to h5"), ("svd", "linalg.svd, U to h5")):
        res = {"chunkwise": [], "dask": []}
        for _ in range(args.runs):
            for tool in res:            # side by side, alternating
                res[tool].append(one(path, tool, op))
        cs = statistics.median(r["s"] for r in res["chunkwise"])
        ds = statistics.median(r["s"] for r in res["dask"])
        cp = max(r["peak"] for r in res["chunkwise"]) / 2**20
        dp = max(r["peak"] for r in res["dask"]) / 2**20
        print(f"{label:<22}{cs:>12.3f}{ds:>10.3f}{ds / cs:>7.2f}x{cp:>13.0f}{dp:>15.0f}")


if __name__ == "__main__":
    main()
