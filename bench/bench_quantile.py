#!/usr/bin/env python
"""Order-statistics benchmark: ``np.median`` and ``np.percentile(x, [1, 50,
99])`` of a 256 MiB float64 HDF5 dataset (``/tmp/quant/bench_quantile.h5``,
32 M normal values, chunks of 1 M elements, written once by h5py), chunkwise
(exact, selection passes under ``--memory-limit``) against dask.array over
h5py (``da.percentile``: approximate, per-chunk percentiles merged) and
NumPy after a full h5py read.

Each (tool, case) runs in a fresh subprocess: one untimed run warms the
page cache, then ``--repeat`` timed runs; the median time and the peak RSS
(ru_maxrss) of that process are printed, with the ratio to chunkwise and
each tool's largest error against NumPy's exact answer.

    python bench/bench_quantile.py [--threads 2] [--repeat 3] [--memory-limit 64MiB]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

PATH = "/tmp/quant/bench_quantile.h5"
N = 32 * 2**20
CHUNK = 2**20
CASES = ("median", "percentile")
TOOLS = ("chunkwise", "dask", "numpy")


def make_input():
    if os.path.exists(PATH):
        return
    import h5py
    import numpy as np
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    rng = np.random.default_rng(0)
    with h5py.File(PATH + ".tmp", "w") as f:
        d = f.create_dataset("x", (N,), "f8", chunks=(CHUNK,))
        for i in range(0, N, 8 * CHUNK):
            d[i:i + 8 * CHUNK] = rng.normal(size=8 * CHUNK)
    os.replace(PATH + ".tmp", PATH)


PRELUDE = """
import json, resource, statistics, time
import numpy as np, h5py
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
PATH, T, R, LIMIT, CASE = %r, %d, %d, %r, %r
Q = [1, 50, 99]
"""

BODY = {
    "chunkwise": """
import chunkwise as cw
cw.config(threads=T, memory_limit=LIMIT)
x = cw.open(PATH, "/x")
def go():
    return np.median(x) if CASE == "median" else np.percentile(x, Q)
""",
    "dask": """
import dask, dask.array as da
dask.config.set(scheduler="threads", num_workers=T)
f = h5py.File(PATH, "r")
x = da.from_array(f["x"], chunks=2**20, lock=True)
def go():
    if CASE == "median":
        return da.percentile(x, [50]).compute()[0]
    return da.percentile(x, Q).compute()
""",
    "numpy": """
def go():
    with h5py.File(PATH, "r") as f:
        a = f["x"][...]
    return np.median(a) if CASE == "median" else np.percentile(a, Q)
""",
}

TAIL = """
go()
times = []
for _ in range(R):
    t = time.perf_counter(); r = go(); times.append(time.perf_counter() - t)
print(json.dumps({"t": statistics.median(times), "peak": peak(),
                  "r": np.atleast_1d(np.asarray(r, float)).tolist()}))
"""


def run(tool, case, args):
    code = (PRELUDE % (PATH, args.threads, args.repeat, args.memory_limit, case)
            + textwrap.dedent(BODY[tool]) + TAIL)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{tool} {case} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--memory-limit", default="64MiB")
    args = p.parse_args()
    make_input()
    print(f"{N * 8 / 2**20:.0f} MiB float64, threads={args.threads}, "
          f"median of {args.repeat} runs, chunkwise memory_limit={args.memory_limit}")
    for case in CASES:
        res = {t: run(t, case, args) for t in TOOLS}
        exact = res["numpy"]["r"]
        base = res["chunkwise"]["t"]
        for t in TOOLS:
            r = res[t]
            err = max(abs(a - b) for a, b in zip(r["r"], exact))
            print(f"{case:10s} {t:9s} {r['t']:7.3f} s  x{r['t'] / base:5.2f}  "
                  f"peak RSS {r['peak'] / 2**20:7.1f} MiB  max |error| {err:.3g}")


if __name__ == "__main__":
    main()
