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

W2, on the same cluster: two float64 Blosc-LZ4 datasets ``a`` and ``b`` of
``--w2-rows`` x 10000 (default 1e8 elements, 0.8 GB raw each; written once
into ``--data``, default /tmp/dstore/w2.h5, and reused), and

- ``store sqrt(a**2+b**2)`` into a new Blosc-LZ4 file of the same chunks:
  chunkwise ``to_hdf5(..., scheduler=client)`` (the workers compute, the
  client writes); dask.array ``da.store`` into a target that opens the file
  for each block under a ``distributed.Lock`` (h5py objects do not pickle:
  what a dask user does on a cluster); chunkwise locally (``to_hdf5`` in
  this process, threads = the machine's cores);
- ``sum(a), sum(b)`` and ``mean(a, 0), mean(b, 0)`` (1.6 GB read), the same
  three ways.

The three alternate within each of ``--runs`` rounds; medians and the
ratios dask-on-cluster / chunkwise-on-cluster and local / chunkwise-on-cluster
are printed.

    python bench/bench_distributed.py [--rows 6000] [--runs 5] [--workers 2]
                                      [--w2-rows 10000] [--skip-w1] [--skip-w2]
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
from distributed import Client, LocalCluster, Lock

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


W2_COLS = 10000


def _write_w2(path, rows):
    """Datasets a and b, rows x W2_COLS float64, Blosc-LZ4 (hdf5plugin's
    defaults: level 5, byte shuffle), chunks CHUNK; kept for later runs."""
    tmp = path + ".part"
    with h5py.File(tmp, "w") as f:
        rng = np.random.default_rng(2)
        for name in ("a", "b"):
            d = f.create_dataset(name, (rows, W2_COLS), np.float64, chunks=CHUNK,
                                 **hdf5plugin.Blosc(cname="lz4"))
            for r in range(0, rows, CHUNK[0]):
                n = min(CHUNK[0], rows - r)
                d[r:r + n] = np.round(rng.standard_normal((n, W2_COLS)) * 10, 2)
    os.replace(tmp, path)


class _H5Source:
    """A da.from_array source for da.store on a cluster: da.store's graph
    cannot carry h5py objects (they do not pickle), so each block read
    opens the file."""

    def __init__(self, path, name):
        self.path, self.name = path, name
        with h5py.File(path, "r") as f:
            self.shape, self.dtype = f[name].shape, f[name].dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        with h5py.File(self.path, "r") as f:
            return f[self.name][key]


class _H5Target:
    """A da.store target on a cluster: opens the file for each block (the
    lock makes the writes one at a time)."""

    def __init__(self, path, name, shape):
        self.path, self.name, self.shape = path, name, shape

    def __setitem__(self, key, value):
        with h5py.File(self.path, "r+") as f:
            f[self.name][key] = value


def _w2_ops(path, out_dir):
    outs = {k: os.path.join(out_dir, f"out_{k}.h5") for k in ("cw", "dask", "local")}

    def fresh(k):
        if os.path.exists(outs[k]):
            os.remove(outs[k])
        return outs[k]

    a, b = cw.open(path, "a"), cw.open(path, "b")

    def dask_in():
        f = h5py.File(path, "r")
        return (da.from_array(f["a"], chunks=CHUNK, lock=False),
                da.from_array(f["b"], chunks=CHUNK, lock=False))

    def dask_store(c):
        A, B = (da.from_array(_H5Source(path, k), chunks=CHUNK, lock=False)
                for k in ("a", "b"))
        r = da.sqrt(A ** 2 + B ** 2)
        out = fresh("dask")
        with h5py.File(out, "w") as f:
            f.create_dataset("r", r.shape, r.dtype, chunks=CHUNK,
                             **hdf5plugin.Blosc(cname="lz4"))
        da.store(r, _H5Target(out, "r", r.shape), lock=Lock("bench-h5-store"))
        return out

    def dask_sum(c):
        A, B = dask_in()
        return np.array(da.compute(A.sum(), B.sum()))

    def dask_mean(c):
        A, B = dask_in()
        return np.stack(da.compute(A.mean(axis=0), B.mean(axis=0)))

    def cw_store(c, k):
        out = fresh(k)
        np.sqrt(a ** 2 + b ** 2).to_hdf5(out, "r", scheduler=c)
        return out

    return {
        "store sqrt(a²+b²)": {
            "cw cluster": lambda c: cw_store(c, "cw"),
            "dask cluster": dask_store,
            "cw local": lambda c: cw_store(None, "local")},
        "sum(a), sum(b)": {
            "cw cluster": lambda c: np.array(cw.compute(a.sum(), b.sum(), scheduler=c)),
            "dask cluster": dask_sum,
            "cw local": lambda c: np.array(cw.compute(a.sum(), b.sum()))},
        "mean(a,0), mean(b,0)": {
            "cw cluster": lambda c: np.stack(cw.compute(a.mean(axis=0), b.mean(axis=0),
                                                        scheduler=c)),
            "dask cluster": dask_mean,
            "cw local": lambda c: np.stack(cw.compute(a.mean(axis=0), b.mean(axis=0)))},
    }, outs


def _check_w2(values):
    """The three ways agree: stores equal element for element (read back with
    chunkwise), sums and means to float rounding (orders differ)."""
    first = values["cw cluster"]
    for k, v in values.items():
        if isinstance(first, str):
            x, y = cw.open(first, "r"), cw.open(v, "r")
            assert bool((x == y).all().compute()), k
        else:
            np.testing.assert_allclose(v, first, rtol=1e-9, atol=1e-6)


def _run_w2(c, args):
    path = os.path.join(args.data, "w2.h5")
    if not os.path.exists(path):
        os.makedirs(args.data, exist_ok=True)
        t = time.perf_counter()
        _write_w2(path, args.w2_rows)
        print(f"wrote {path} in {time.perf_counter() - t:.0f} s")
    with h5py.File(path, "r") as f:
        shape = f["a"].shape
    n = shape[0] * shape[1]
    print(f"\nW2: a, b {shape} float64 each ({2 * n * 8 / 1e9:.1f} GB raw, "
          f"{os.path.getsize(path) / 1e9:.2f} GB Blosc-LZ4 in {path}), chunks {CHUNK}; "
          f"median of {args.runs}, the three interleaved")
    out_dir = os.path.join(args.data, "out")
    os.makedirs(out_dir, exist_ok=True)
    ops, outs = _w2_ops(path, out_dir)
    ways = ("cw cluster", "dask cluster", "cw local")
    print(f"{'operation':22s} " + " ".join(f"{w + ' s':>15s}" for w in ways)
          + f" {'dask/cw-cl':>11s} {'local/cw-cl':>12s}")
    try:
        for name, fs in ops.items():
            times = {w: [] for w in ways}
            values = {}
            for w in ways:               # warm: imports, opened files
                values[w] = fs[w](c)
            _check_w2(values)
            for _ in range(args.runs):
                for w in ways:
                    t, values[w] = _time(fs[w], c)
                    times[w].append(t)
            _check_w2(values)
            med = {w: statistics.median(times[w]) for w in ways}
            print(f"{name:22s} " + " ".join(f"{med[w]:15.2f}" for w in ways)
                  + f" {med['dask cluster'] / med['cw cluster']:11.2f}"
                  + f" {med['cw local'] / med['cw cluster']:12.2f}")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _time(f, client):
    t = time.perf_counter()
    v = f(client)
    return time.perf_counter() - t, v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--w2-rows", type=int, default=10000)
    ap.add_argument("--data", default="/tmp/dstore")
    ap.add_argument("--skip-w1", action="store_true")
    ap.add_argument("--skip-w2", action="store_true")
    args = ap.parse_args()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as lc, Client(lc) as c:
        c.run(_one_thread)
        print(f"LocalCluster {args.workers} workers x 1 thread (chunkwise threads=1 on "
              f"each); this process: {os.cpu_count()} cores")
        if not args.skip_w1:
            _run_w1(c, args)
        if not args.skip_w2:
            _run_w2(c, args)


def _run_w1(c, args):
    os.makedirs(DIR, exist_ok=True)
    path = os.path.join(DIR, "bench.h5")
    try:
        _write(path, args.rows)
        mb = args.rows * COLS * 8 / 1e6
        print(f"\nW1: {args.rows} x {COLS} float64 ({mb:.0f} MB raw, "
              f"{os.path.getsize(path) / 1e6:.0f} MB Blosc-LZ4), chunks {CHUNK}; "
              f"median of {args.runs}")
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
