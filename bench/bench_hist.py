#!/usr/bin/env python
"""Histogram benchmark: ``np.histogram`` with 100 bins (range given, and
range found from the data) of an 800 MB float64 HDF5 dataset, and
``np.bincount`` of an 800 MB int64 one, chunkwise against dask.array over
h5py (``da.histogram``, ``da.bincount``) and NumPy over h5py slab reads.

The inputs (``/tmp/cw_bench_hist.h5``: ``/f`` float64 normal values with a
few NaN, ``/i`` int64 in [0, 1000); 100 M elements each, chunks of 1 M
elements, uncompressed) are written once and reused.  Each (tool, case)
runs in a fresh subprocess: the page cache is warmed by one untimed run,
then three timed runs; the median is reported with the peak RSS growth of
that process over its baseline after imports.  chunkwise and dask run on
``--threads`` threads (default 2).  Every tool's counts are checked against
NumPy's (exact equality).

    python bench/bench_hist.py [--threads 2] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

PATH = "/tmp/cw_bench_hist.h5"
N = 100 * 2**20
CHUNK = 2**20
SLAB = 8 * CHUNK            # NumPy's slab reads: 64 MiB
RANGE = (-3.0, 3.0)

CASES = ("hist-range", "hist-found", "bincount")
TOOLS = ("chunkwise", "dask", "numpy")


def make_input():
    if os.path.exists(PATH):
        return
    import h5py
    import numpy as np
    rng = np.random.default_rng(0)
    with h5py.File(PATH + ".tmp", "w") as f:
        df = f.create_dataset("f", (N,), "f8", chunks=(CHUNK,))
        di = f.create_dataset("i", (N,), "i8", chunks=(CHUNK,))
        for i in range(0, N, SLAB):
            m = min(SLAB, N - i)
            v = rng.normal(size=m)
            v[::100_003] = np.nan
            df[i:i + m] = v
            di[i:i + m] = rng.integers(0, 1000, m)
    os.replace(PATH + ".tmp", PATH)


PRELUDE = """
import json, resource, statistics, sys, time
import numpy as np, h5py
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
PATH, N, SLAB, RANGE, T = %r, %d, %d, %r, %d
"""

BODIES = {
    "chunkwise": """
import chunkwise as cw
cw.config(threads=T)
f, i = cw.open(PATH, "/f"), cw.open(PATH, "/i")
def run(case):
    if case == "hist-range":
        return np.histogram(f, 100, range=RANGE)[0]
    if case == "hist-found":
        return np.histogram(np.where(np.isnan(f), 0.0, f), 100)[0]
    return np.bincount(i)
""",
    "dask": """
import dask, dask.array as da
dask.config.set(scheduler="threads", num_workers=T)
h = h5py.File(PATH, "r")
f = da.from_array(h["f"], chunks=h["f"].chunks)
i = da.from_array(h["i"], chunks=h["i"].chunks)
def run(case):
    if case == "hist-range":
        return da.histogram(f, 100, range=RANGE)[0].compute()
    if case == "hist-found":
        g = da.where(da.isnan(f), 0.0, f)
        lo, hi = dask.compute(g.min(), g.max())
        return da.histogram(g, 100, range=(lo, hi))[0].compute()
    return da.bincount(i, minlength=1000).compute()
""",
    "numpy": """
h = h5py.File(PATH, "r")
f, i = h["f"], h["i"]
def clean(s):
    return np.where(np.isnan(s), 0.0, s)
def run(case):
    if case == "bincount":
        n = np.zeros(0, np.intp)
        for k in range(0, N, SLAB):
            b = np.bincount(i[k:k + SLAB])
            n = np.pad(n, (0, max(len(b) - len(n), 0))); n[:len(b)] += b
        return n
    if case == "hist-range":
        edges = np.histogram_bin_edges(np.zeros(0), 100, range=RANGE)
        get = lambda s: s
    else:
        lo, hi = np.inf, -np.inf
        for k in range(0, N, SLAB):
            s = clean(f[k:k + SLAB])
            lo, hi = min(lo, s.min()), max(hi, s.max())
        edges = np.histogram_bin_edges(np.array([lo, hi]), 100)
        get = clean
    n = np.zeros(100, np.intp)
    for k in range(0, N, SLAB):
        n += np.histogram(get(f[k:k + SLAB]), edges)[0]
    return n
""",
}

MEASURE = """
case = sys.argv[1]
base = peak()
ref = run(case)          # warms the page cache; its counts are checked
times = []
for _ in range(%d):
    t0 = time.perf_counter()
    got = run(case)
    times.append(time.perf_counter() - t0)
    assert np.array_equal(np.asarray(got), np.asarray(ref))
print(json.dumps({"median_s": statistics.median(times), "times": times,
                  "peak_mib": (peak() - base) / 2**20,
                  "counts": np.asarray(ref).tolist()}))
"""


def measure(tool, case, threads, repeat):
    code = (textwrap.dedent(PRELUDE % (PATH, N, SLAB, RANGE, threads))
            + textwrap.dedent(BODIES[tool]) + textwrap.dedent(MEASURE % repeat))
    out = subprocess.run([sys.executable, "-c", code, case], capture_output=True,
                         text=True, timeout=3600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--make-input", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_input:
        make_input()
        return
    # In a process of its own: a child inherits the parent's peak RSS
    # (ru_maxrss survives fork and exec), so this one stays small.
    subprocess.run([sys.executable, __file__, "--make-input"], check=True)
    print(f"input: {PATH}, /f float64 and /i int64, {N} elements each "
          f"({N * 8 / 1e6:.0f} MB), chunks {CHUNK}; threads {args.threads}, "
          f"median of {args.repeat}")
    hdr = f"{'case':<11} {'tool':<10} {'median s':>9} {'GB/s':>6} {'vs dask':>8} " \
          f"{'vs numpy':>8} {'peak +MiB':>9}  counts"
    print(hdr)
    print("-" * len(hdr))
    for case in CASES:
        res = {t: measure(t, case, args.threads, args.repeat) for t in TOOLS}
        ref = res["numpy"].get("counts")
        for t in TOOLS:
            r = res[t]
            if "error" in r:
                print(f"{case:<11} {t:<10} error: {r['error']}")
                continue
            vs = {o: (res[o]["median_s"] / r["median_s"]) if "median_s" in res[o] else
                  float("nan") for o in ("dask", "numpy")}
            same = "equal" if ref is not None and r["counts"] == ref else "DIFFER"
            print(f"{case:<11} {t:<10} {r['median_s']:9.3f} "
                  f"{N * 8 / 1e9 / r['median_s']:6.2f} {vs['dask']:7.2f}x "
                  f"{vs['numpy']:7.2f}x {r['peak_mib']:9.0f}  {same}", flush=True)


if __name__ == "__main__":
    main()
