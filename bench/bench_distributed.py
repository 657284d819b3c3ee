#!/usr/bin/env python
"""Cluster benchmark: chunkwise on a dask.distributed LocalCluster
(``cw.compute(..., scheduler=client)``) against dask.array over h5py on the
same cluster, over one Blosc-LZ4 float64 HDF5 dataset (default 2 workers x
1 thread, 24M elements, 192 MB raw, written to /tmp/dist/ and removed
afterwards).

Operations: ``sum(axis=0)`` and ``mean()`` (reductions), and the
elementwise expression ``2 * sin(x) + x * x`` into an ndarray on the client.
Each chunkwise worker runs with ``cw.config(threads=1)``, as dask's one
thread per worker.
Each is timed ``--runs`` times, chunkwise and dask alternating in the same
run; the medians and the ratio dask / chunkwise (above 1: chunkwise faster)
are printed, and the results are checked against each other.

    python bench/bench_distributed.py [--rows 6000] [--runs 5] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time

import dask.array as da
import h5py
import hdf5plugin
import numpy as np
from distributed import Client, LocalCluster

import chunkwise as cw

DIR = "/tmp/dist"
COLS = 4000
CHUNK = (500, 1000)


def _write(path, rows):
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", (rows, COLS), np.float64, chunks=CHUNK,
                             **hdf5plugin.Blosc(cname="lz4"))
        rng = np.random.default_rng(0)
        for r in range(0, rows, CHUNK[0]):
            n = min(CHUNK[0], rows - r)
            d[r:r + n] = np.round(rng.standard_normal((n, COLS)), 3)


def _dask_ops(path):
    def arr():
        f = h5py.File(path, "r")   # one handle per worker task graph
        return da.from_array(f["x"], chunks=CHUNK, lock=False)
    return {"sum(axis=0)": lambda c: arr().sum(axis=0).compute(scheduler=c),
            "mean()": lambda c: arr().mean().compute(scheduler=c),
            "2*sin(x)+x*x": lambda c: (2 * da.sin(arr()) + arr() * arr()).compute(scheduler=c)}


def _cw_ops(path):
    x = cw.open(path, "x")
    return {"sum(axis=0)": lambda c: cw.compute(x.sum(axis=0), scheduler=c)[0],
            "mean()": lambda c: cw.compute(x.mean(), scheduler=c)[0],
            "2*sin(x)+x*x": lambda c: cw.compute(2 * np.sin(x) + x * x, scheduler=c)[0]}


def _one_thread():
    cw.config(threads=1)     # the worker's one core, as dask's one thread


def _time(f, client):
    t = time.perf_counter()
    v = f(client)
    return time.perf_counter() - t, v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(DIR, exist_ok=True)
    path = os.path.join(DIR, "bench.h5")
    try:
        _write(path, args.rows)
        mb = args.rows * COLS * 8 / 1e6
        print(f"{args.rows} x {COLS} float64 ({mb:.0f} MB raw, "
              f"{os.path.getsize(path) / 1e6:.0f} MB Blosc-LZ4), chunks {CHUNK}, "
              f"LocalCluster {args.workers} workers x 1 thread; median of {args.runs}")
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=40) as lc, Client(lc) as c:
            c.run(_one_thread)
            ops_cw, ops_da = _cw_ops(path), _dask_ops(path)
            print(f"{'operation':16s} {'chunkwise s':>12s} {'dask s':>9s} {'dask/cw':>8s}")
            for name in ops_cw:
                ops_cw[name](c)     # warm: workers import and open files
                ops_da[name](c)
                tc, td = [], []
                for _ in range(args.runs):
                    t, vc = _time(ops_cw[name], c)
                    tc.append(t)
                    t, vd = _time(ops_da[name], c)
                    td.append(t)
                np.testing.assert_allclose(vc, vd, rtol=1e-9, atol=1e-6)
                mc, md = statistics.median(tc), statistics.median(td)
                print(f"{name:16s} {mc:12.3f} {md:9.3f} {md / mc:8.2f}")
    finally:
        shutil.rmtree(DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
