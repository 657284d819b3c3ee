#!/usr/bin/env python
"""Reduction benchmark: ``sum`` and ``mean(axis=0)`` of the f32-compressible
input of the expression benchmark, chunkwise against dask, h5py and PyTables
slab loops and python-blosc2.  The ``reduce`` section of bench_expr.py (see
its docstring for the method and the columns); run alone, this script is
``bench_expr.py --only reduce`` and takes the same options.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import h5py
import tables
import dask
import dask.array as da
import blosc2

import chunkwise as cw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _expr_common import (DSET, OP_LABELS, REDUCE_LABELS, REDUCE_OPS, REDUCE_READERS,  # noqa: E402
                          REDUCE_RTOL, SLAB_CHUNK_ROWS, THREADS, TimedLoad, add_ratio,
                          add_t1, fmt, load_note, open_readers, rel_diff,
                          rss_peak_growth, summarise, warm)


# -------------------------------------------------------- reduction section
class CwRed:
    def __init__(self, p, threads):
        self.a = cw.open(p["a"], DSET)
        self.threads = threads

    def run(self, op):
        with cw.config(threads=self.threads):
            if op == "sum":
                return self.a.sum().compute()
            return self.a.mean(axis=0).compute()

    def close(self):
        self.a = None


class DaskRed:
    def __init__(self, p):
        self.f = h5py.File(p["a"], "r")
        d = self.f[DSET]
        self.x = da.from_array(d, chunks=d.chunks)

    def run(self, op):
        with dask.config.set(scheduler="threads", num_workers=THREADS):
            if op == "sum":
                return self.x.sum().compute()
            return self.x.mean(axis=0).compute()

    def close(self):
        self.f.close()


class LoopRed:
    """Slabs of SLAB_CHUNK_ROWS chunk rows; each reduced in float32 (NumPy's
    rule), the slab partials accumulated in float64; float32 results."""

    def __init__(self, d, nrows, chunk_rows, close):
        self.d = d
        self.nrows = nrows
        self.step = SLAB_CHUNK_ROWS * chunk_rows
        self._close = close

    def run(self, op):
        d, step, n = self.d, self.step, self.nrows
        if op == "sum":
            total = 0.0
            for i in range(0, n, step):
                total += float(d[i:i + step].sum())
            return np.float32(total)
        col = None
        for i in range(0, n, step):
            s = d[i:i + step].sum(axis=0)
            col = s.astype(np.float64) if col is None else col + s
        return (col / n).astype(np.float32)

    def close(self):
        self._close()


def h5py_loop(p):
    f = h5py.File(p["a"], "r")
    d = f[DSET]
    return LoopRed(d, d.shape[0], d.chunks[0], f.close)


def tables_loop(p):
    f = tables.open_file(p["a"], "r")
    node = f.get_node(DSET)
    return LoopRed(node, node.shape[0], int(node.chunkshape[0]), f.close)


class Blosc2Red:
    def __init__(self, p):
        self.a = blosc2.open(p["a_b2"], mode="r")

    def run(self, op):
        if op == "sum":
            return self.a.sum()
        return self.a.mean(axis=0)

    def close(self):
        self.a = None


def open_red(name, p):
    if name.startswith("cw-t"):
        return CwRed(p, int(name[-1]))
    return {"dask": DaskRed, "h5py": h5py_loop, "tables": tables_loop,
            "blosc2": Blosc2Red}[name](p)


def reduce_reference(p) -> dict:
    """Float64 sum and column means, slab by slab."""
    with h5py.File(p["a"], "r") as f:
        d = f[DSET]
        n = d.shape[0]
        step = SLAB_CHUNK_ROWS * d.chunks[0]
        col = np.zeros(d.shape[1])
        for i in range(0, n, step):
            col += d[i:i + step].sum(axis=0, dtype=np.float64)
    return {"sum": col.sum(), "mean0": col / n}


def bench_reduce(p, repeat) -> dict:
    warm([p["a"], p["a_b2"]])
    ref = reduce_reference(p)
    readers, open_errors = open_readers(REDUCE_READERS, open_red, p)
    rows = []
    load = TimedLoad()
    try:
        for op in REDUCE_OPS:
            times = {r: [] for r in REDUCE_READERS}
            cpu = {r: [] for r in REDUCE_READERS}
            errors = dict(open_errors)
            checks, dtypes = {}, {}
            for rep in range(repeat):
                for r in REDUCE_READERS:
                    if r in errors:
                        continue
                    ok, res = load.timed(r, lambda: readers[r].run(op), times, cpu,
                                         errors)
                    if not ok:
                        continue
                    if rep == 0:
                        res = np.asarray(res)
                        dtypes[r] = str(res.dtype)
                        want = np.shape(ref[op])
                        if res.shape != want:
                            errors[r] = f"result shape {res.shape}, expected {want}"
                            continue
                        d = rel_diff(res, ref[op])
                        checks[r] = f"{d:.1e}" + ("!" if not d <= REDUCE_RTOL else "")
            op_rows = summarise(REDUCE_READERS, times, errors, checks,
                                nbytes=int(np.prod(p["shape"])) * p["dtype"].itemsize,
                                cpu=cpu)
            for row in op_rows:
                row["op"] = op
                if row["reader"] in dtypes:
                    row["result_dtype"] = dtypes[row["reader"]]
            add_ratio(op_rows, "vs_h5py", "h5py")
            add_t1(op_rows)
            rows += op_rows
            print(f"    {OP_LABELS[op]}: done", flush=True)
    finally:
        for rd in readers.values():
            rd.close()
    return {"rows": rows, "repeat": repeat, "other_load_cores": load.cores(),
            "reference": {"sum": float(ref["sum"]),
                          "mean0_first": [float(v) for v in ref["mean0"][:4]]}}

def print_reduce(p, res, rss):
    print()
    print(f"== reductions on the f32-compressible input a: {p['dtype']} {p['shape']} "
          f"({int(np.prod(p['shape'])) * p['dtype'].itemsize / 1e9:.1f} GB), "
          f"slab loops {SLAB_CHUNK_ROWS} chunk rows{load_note(res['other_load_cores'])}")
    hdr = (f"{'op':<13} {'reader':<14} {'median s':>9} {'GB/s':>6} {'vs h5py':>7} "
           f"{'vs t=1':>6} {'peak MiB':>8} {'+MiB':>6}  rel err (dtype)")
    print(hdr)
    print("-" * len(hdr))
    last = None
    for row in res["rows"]:
        op = row["op"]
        if last is not None and op != last:
            print()
        head = f"{OP_LABELS[op] if op != last else '':<13} "
        last = op
        label = REDUCE_LABELS[row["reader"]]
        if "median_s" not in row:
            print(f"{head}{label:<14} n/a: {row['error']}")
            continue
        pg = rss_peak_growth(rss.get((op, row["reader"])))
        peak, grow = (f"{pg[0]:.0f}", f"{pg[1]:.0f}") if pg else ("", "")
        chk = f"{row.get('check') or ''} ({row.get('result_dtype', '?')})"
        print(f"{head}{label:<14} {row['median_s']:>9.4f} {row['gbps']:>6.2f} "
              f"{fmt(row.get('vs_h5py'), '.2f'):>7} {fmt(row.get('vs_t1'), '.2f'):>6} "
              f"{peak:>8} {grow:>6}  {chk}")
    print(f"(reference, float64: sum {res['reference']['sum']:.6e})")


if __name__ == "__main__":
    import bench_expr
    sys.exit(bench_expr.main(["--only", "reduce"] + sys.argv[1:]))
