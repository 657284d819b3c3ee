"""Cold-cache scans: sum and axis-0 mean of a float64 Blosc-LZ4 dataset,
read by chunkwise with O_DIRECT (``direct_io=True``), by chunkwise
through the page cache (``direct_io=False``) and by an h5py slab loop,
with ``dd`` buffered and ``dd iflag=direct`` over the same file beside
them; with ``--peers``, also a PyTables slab loop and dask.array over
h5py; with ``--store``, an expression (``(x * 2 + 1)`` as float32) stored
to a new Blosc-LZ4 file by chunkwise (``to_hdf5``) and by dask.array over
h5py (``da.to_hdf5`` with hdf5plugin's Blosc-LZ4), the output deleted
after each run.

Every case runs in a fresh process after the page cache was dropped
(``echo 3 > /proc/sys/vm/drop_caches``, which needs root; where that is
refused the file's own pages are dropped with
``posix_fadvise(POSIX_FADV_DONTNEED)`` and the output says so).  Wall,
user and system time and peak RSS are the child's (wait4's rusage).  The
cases are interleaved, each run ``--repeat`` times; medians are printed
with ratios to chunkwise with O_DIRECT, and the results are checked: the
chunkwise results of both read paths identical, the peers' equal to
rounding (their sums run in another order).  chunkwise runs under a
``memory_limit`` of 1 GiB (``--memory-limit``).

    python bench/bench_cold.py --shape 100000x10000 --data-dir /var/tmp/cw

The dataset (chunks of about 4 MiB, whole rows, as bench_all.py's W6) is
generated when missing and deleted at the end unless ``--keep``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, os, sys, time
import numpy as np
case, path, threads, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
out = path + ".store.h5"
t0 = time.perf_counter()
extra = {}
if case.startswith("chunkwise"):
    import chunkwise as cw
    x = cw.open(path, "/x")
    cw.reset_stats()
    with cw.config(threads=threads, memory_limit=limit, direct_io="auto"):
        if case == "chunkwise store":
            (x * 2 + 1).astype(np.float32).to_hdf5(out, "/y", compression="blosc-lz4")
            s = m = None
        else:
            with cw.config(direct_io=case.endswith("direct")):
                s, m = cw.compute(x.sum(), x.mean(axis=0))
    st = cw.stats()
    extra = {k: st[k] for k in ("chunks_direct", "chunks_buffered", "bytes_read")}
elif case.startswith("dask"):
    import dask, dask.array as da, h5py, hdf5plugin
    dask.config.set(scheduler="threads", num_workers=threads)
    f = h5py.File(path, "r")
    d = f["/x"]
    x = da.from_array(d, chunks=(d.chunks[0] * 16, d.shape[1]))
    if case == "dask store":
        y = (x * 2 + 1).astype(np.float32)
        da.to_hdf5(out, "/y", y, chunks=d.chunks, **hdf5plugin.Blosc(cname="lz4"))
        s = m = None
    else:
        s, m = dask.compute(x.sum(), x.mean(axis=0))
else:
    if case == "PyTables slab loop":
        import tables
        f = tables.open_file(path, "r")
        d = f.root.x
        step = d.chunkshape[0] * 16
    else:
        import h5py, hdf5plugin
        f = h5py.File(path, "r")
        d = f["/x"]
        step = d.chunks[0] * 16
    s, col = 0.0, np.zeros(d.shape[1])
    for i in range(0, d.shape[0], step):
        b = d[i:i + step]
        s += b.sum()
        col += b.sum(axis=0)
    m = col / d.shape[0]
    f.close()
wall = time.perf_counter() - t0
if s is None:
    import h5py, hdf5plugin
    with h5py.File(out, "r") as g:          # the stored result's first rows, checked
        y = g["/y"]
        extra["check"] = float(np.asarray(y[:64], np.float64).sum())
        extra["shape"] = list(y.shape)
    os.unlink(out)
    s, m = 0.0, []
print(json.dumps({"sum": float(s), "mean": np.asarray(m).tolist(), "inner_s": wall, **extra}))
"""

SCANS = ("chunkwise direct", "chunkwise buffered", "h5py slab loop")
PEERS = ("PyTables slab loop", "dask+h5py")
STORES = ("chunkwise store", "dask store")
DD = ("dd buffered", "dd iflag=direct")


def drop_caches(path) -> str:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return "drop_caches"
    except OSError:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        return "fadvise"


def measure(argv) -> dict:
    """Run argv; its wall time, and user and system time and peak RSS
    from its own rusage (wait4)."""
    import tempfile
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdout.close()
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{argv[:4]} failed: {err.read().decode()[-2000:]}")
    return {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
            "maxrss": ru.ru_maxrss * 1024, "out": out.decode()}


def generate(path, rows, cols):
    import numpy as np
    import chunkwise as cw
    i = cw.arange(rows, dtype="f8")[:, None]
    j = cw.arange(cols, dtype="f8")[None, :]
    chunk_rows = max(1, (1 << 22) // (cols * 8))
    np.sin(i * 1e-3 + j * 1e-2).to_hdf5(path + ".tmp", "/x", chunks=(chunk_rows, cols),
                                       compression="blosc-lz4", overwrite=True)
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="100000x10000", help="rows x cols (float64)")
    p.add_argument("--data-dir", default="/var/tmp")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", action="store_true", help="keep the generated dataset")
    p.add_argument("--json", help="write the runs here")
    p.add_argument("--memory-limit", type=int, default=2**30,
                   help="chunkwise's memory_limit in bytes (default 1 GiB)")
    p.add_argument("--peers", action="store_true",
                   help="also a PyTables slab loop and dask.array over h5py")
    p.add_argument("--store", action="store_true",
                   help="also an expression stored to a new file by chunkwise and dask")
    a = p.parse_args()
    cases = SCANS + (PEERS if a.peers else ()) + (STORES if a.store else ()) + DD
    rows, cols = (int(s) for s in a.shape.lower().split("x"))
    path = os.path.join(a.data_dir, f"cold_{rows}x{cols}.h5")
    made = False
    if not os.path.exists(path):
        print(f"generating {path} ({rows * cols * 8 / 1e9:.1f} GB float64)", flush=True)
        generate(path, rows, cols)
        made = True
    size = os.path.getsize(path)
    print(f"{path}: {rows} x {cols} float64, {rows * cols * 8 / 1e9:.2f} GB, "
          f"{size / 1e9:.2f} GB stored; {a.threads} threads; chunkwise memory_limit "
          f"{a.memory_limit / 2**30:.2f} GiB; "
          f"MemAvailable before: {meminfo('MemAvailable') / 1e9:.1f} GB", flush=True)
    argv = {c: [sys.executable, "-c", CHILD, c, path, str(a.threads), str(a.memory_limit)]
            for c in cases if not c.startswith("dd")}
    argv["dd buffered"] = ["dd", f"if={path}", "of=/dev/null", "bs=16M"]
    argv["dd iflag=direct"] = argv["dd buffered"] + ["iflag=direct"]
    runs = {c: [] for c in cases}
    how = set()
    try:
        for _ in range(a.repeat):
            for c in cases:
                how.add(drop_caches(path))
                r = measure(argv[c])
                if not c.startswith("dd"):
                    r.update(json.loads(r.pop("out").strip().splitlines()[-1]))
                else:
                    r.pop("out")
                runs[c].append(r)
                print(f"  {c:20s} {r['wall']:7.2f} s wall  {r['user']:7.2f} user  "
                      f"{r['sys']:7.2f} sys", flush=True)
    finally:
        if made and not a.keep:
            os.unlink(path)
    cd, cb = runs[SCANS[0]][0], runs[SCANS[1]][0]
    same = cd["sum"] == cb["sum"] and cd["mean"] == cb["mean"]
    import numpy as np

    def close(r):
        return bool(np.allclose(cd["mean"], r["mean"], rtol=1e-9, atol=1e-9)
                    and abs(cd["sum"] - r["sum"]) <= 1e-9 * abs(r["sum"]) + 1e-6)
    peers = [c for c in cases if c in ("h5py slab loop",) + PEERS]
    print(f"\ncache dropped with: {', '.join(sorted(how))}; chunkwise direct == buffered: "
          f"{same}; equal to rounding: "
          + ", ".join(f"{c} {close(runs[c][0])}" for c in peers))
    if a.store:
        cs, ds = runs[STORES[0]][0], runs[STORES[1]][0]
        print(f"stored results: chunkwise {cs['shape']} first rows {cs['check']!r}, "
              f"dask {ds['shape']} first rows {ds['check']!r}: "
              f"{'equal' if cs['check'] == ds['check'] else 'DIFFERENT'}")
    print(f"chunkwise direct: {cd.get('chunks_direct')} chunks read direct, "
          f"{cd.get('chunks_buffered')} buffered, {cd.get('bytes_read', 0) / 1e9:.2f} GB "
          f"stored bytes read")
    base = statistics.median(r["wall"] for r in runs[SCANS[0]])
    print(f"\nmedian of {a.repeat} (load average {os.getloadavg()[0]:.1f} at the end):")
    print(f"{'case':22s} {'wall s':>8s} {'user s':>8s} {'sys s':>8s} {'GB/s':>6s} "
          f"{'peak RSS':>9s} {'vs cw':>9s}")
    print("(vs cw: wall time over chunkwise direct's, stores over chunkwise store's; "
          "GB/s: of the file)")
    for c in cases:
        w = statistics.median(r["wall"] for r in runs[c])
        u = statistics.median(r["user"] for r in runs[c])
        s = statistics.median(r["sys"] for r in runs[c])
        rss = max(r["maxrss"] for r in runs[c])
        b = statistics.median(r["wall"] for r in runs[STORES[0]]) if c in STORES else base
        print(f"{c:22s} {w:8.2f} {u:8.2f} {s:8.2f} {size / w / 1e9:6.2f} "
              f"{rss / 2**20:7.0f} MiB {w / b:8.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"path": path, "file_bytes": size, "threads": a.threads,
                       "runs": runs}, f)


def meminfo(key) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    main()
