#!/usr/bin/env python
"""Bitshuffle read benchmark: detector-like frames stored with the
Bitshuffle filter (HDF5 filter 32008, as hdf5plugin.Bitshuffle and Dectris
Eiger detectors write it) read in full by h5py + hdf5plugin and by
chunkwise at 1 and 2 threads.

Data: ``--frames`` frames of 512 x 1024 uint32 photon counts (Poisson,
mean 0.5, a few hot pixels), one frame a chunk (2 MiB), written with
hdf5plugin.Bitshuffle(cname=...) for each of "lz4", "zstd" and "none" into
``--dir`` (default /tmp/cw-bench-bitshuffle; kept between runs).  Each read
fills one preallocated array: ``Dataset.read_direct(buf)`` for h5py and
``Array.compute(out=buf)`` for chunkwise; the files are in the page cache
(read once before timing), so the figures are decoding speed.  Each timing
is the median of ``--repeat`` runs; MB/s counts decoded bytes (1 MB = 1e6
bytes).  The load average is printed with the figures.

    python bench/bench_bitshuffle.py [--frames 100] [--repeat 5] [--dir D]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import h5py
import hdf5plugin
import numpy as np

import chunkwise as cw

SHAPE = (512, 1024)
CNAMES = ("lz4", "zstd", "none")


def generate(path, cname, frames):
    if os.path.exists(path):
        return
    rng = np.random.default_rng(0)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        d = f.create_dataset("data", shape=(frames,) + SHAPE, dtype="<u4",
                             chunks=(1,) + SHAPE,
                             **hdf5plugin.Bitshuffle(nelems=0, cname=cname))
        for i in range(frames):
            x = rng.poisson(0.5, SHAPE).astype("<u4")
            x.flat[rng.integers(0, x.size, 200)] = rng.integers(100, 60000, 200)
            d[i] = x
    os.replace(tmp, path)


def median_time(fn, repeat):
    fn()  # page cache, thread pools, plugins loaded
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", default="/tmp/cw-bench-bitshuffle")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    nbytes = args.frames * SHAPE[0] * SHAPE[1] * 4
    print(f"{args.frames} frames of {SHAPE[0]}x{SHAPE[1]} uint32 "
          f"({nbytes / 1e6:.0f} MB decoded), median of {args.repeat}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          "(figures from a busy machine are not comparable)")
    print(f"{'codec':6s} {'ratio':>6s} {'h5py':>10s} {'cw 1 thr':>10s} "
          f"{'cw 2 thr':>10s}  (MB/s)")
    for cname in CNAMES:
        path = os.path.join(args.dir, f"frames-{args.frames}-{cname}.h5")
        generate(path, cname, args.frames)
        buf = np.empty((args.frames,) + SHAPE, "<u4")
        with h5py.File(path, "r") as f:
            d = f["data"]
            stored = sum(d.id.get_chunk_info(i).size for i in range(d.id.get_num_chunks()))
            t_h5 = median_time(lambda: d.read_direct(buf), args.repeat)
            ref = buf.copy()
        a = cw.open(path, "data")
        res = {}
        for threads in (1, 2):
            def read():
                with cw.config(threads=threads):
                    a.compute(out=buf)
            res[threads] = median_time(read, args.repeat)
            assert np.array_equal(buf, ref)
        print(f"{cname:6s} {nbytes / stored:6.2f} {nbytes / t_h5 / 1e6:10.0f} "
              f"{nbytes / res[1] / 1e6:10.0f} {nbytes / res[2] / 1e6:10.0f}")


if __name__ == "__main__":
    main()
