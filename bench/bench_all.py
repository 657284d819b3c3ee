#!/usr/bin/env python
"""The whole benchmark suite in one command (``./dev bench-all``).

Workloads (``--only W1,W4,...`` picks some)
    W1  ``sqrt(a**2 + b**2)`` on two in-memory float64 arrays: NumPy,
        numexpr, python-blosc2 (``blosc2.lazyexpr`` on the NumPy arrays) and
        chunkwise, into a new array ("new") and into an existing one
        ("out").
    W2  the same expression from two Blosc-LZ4 HDF5 inputs into a new
        Blosc-LZ4 dataset: chunkwise ``to_hdf5``, dask over h5py
        (``da.to_hdf5``), PyTables ``tables.Expr`` and python-blosc2
        (bench/bench_expr.py ``--only ooc``, not in ``--quick``).
    W3  reductions (sum, mean along axis 0): bench/bench_expr.py ``--only
        reduce`` (not in ``--quick``).
    W4  full read of a Blosc-LZ4 HDF5 dataset (float64 and float32, written
        by h5py + hdf5plugin): h5py, PyTables and chunkwise, into a new array
        and with ``out=``.
    W5  many tiny chunks (256 float64 per chunk, Blosc-LZ4): a full read with
        chunkwise, dask over h5py and an h5py loop over the chunks; reported
        in microseconds per chunk.
    W6  larger than RAM, cold (only with ``--w6``): ``sum()`` over a float64
        Blosc-LZ4 dataset of ``--w6-shape`` (default 200000 x 20000, 32 GB,
        generated once into ``--data-dir``), page cache dropped before each
        run (``echo 3 > /proc/sys/vm/drop_caches``, as root), beside ``dd``
        of the file, buffered and with ``iflag=direct``.

Measurement
    Threads 1 and 2 (chunkwise ``threads``, numexpr ``set_num_threads``,
    blosc2 ``set_nthreads``, dask ``num_workers``; h5py is one thread),
    data sizes x1, x4 and x16 (``--scales``; time per GB of data processed:
    inputs plus output).  Every case is run ``--repeat`` times with the
    peers interleaved in one process (reader order rotated every repeat) and
    an equal pause (``--gap`` seconds) before each run, so that every reader
    of a new array meets the same state of the allocator and of the
    machine's memory; the median is reported with its min-max.  The
    new-array cases of W1 and W4 are also run once per reader in a fresh
    process each ("new, fresh process").  User and system CPU time
    (getrusage) and minor page faults of each run are recorded beside wall
    time: on a loaded machine they are steadier than wall time.

Output
    JSON (``--json``, default data/bench-all.json), a markdown report and PNG
    charts (``--docs``: the section between the ``bench-all`` markers of
    docs/benchmarks.md is replaced, charts go into docs/img/).  ``--quick``:
    tiny sizes, a smoke test in seconds.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BEGIN, END = "<!-- bench-all:begin -->", "<!-- bench-all:end -->"


# ------------------------------------------------------------- measuring
def _minflt() -> int:
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def measure(fn) -> dict:
    """Wall, user and system seconds and minor faults of one call."""
    r0, f0, t0 = resource.getrusage(resource.RUSAGE_SELF), _minflt(), time.perf_counter()
    res = fn()
    wall = time.perf_counter() - t0
    r1, f1 = resource.getrusage(resource.RUSAGE_SELF), _minflt()
    del res
    return {"wall": wall, "user": r1.ru_utime - r0.ru_utime,
            "sys": r1.ru_stime - r0.ru_stime, "minflt": f1 - f0}


def interleaved(readers: dict, repeat: int, gap: float) -> dict:
    """Every reader ``repeat`` times, peers interleaved (order rotated each
    repeat), ``gap`` seconds before every run; returns reader -> runs."""
    names = list(readers)
    runs = {n: [] for n in names}
    for rep in range(repeat):
        k = rep % len(names)
        for n in names[k:] + names[:k]:
            time.sleep(gap)
            runs[n].append(measure(readers[n]))
    return runs


def summary(runs: list, nbytes: int) -> dict:
    w = [r["wall"] for r in runs]
    med = statistics.median(w)
    return {"median_s": med, "min_s": min(w), "max_s": max(w),
            "s_per_gb": med / (nbytes / 1e9),
            "user_s": statistics.median(r["user"] for r in runs),
            "sys_s": statistics.median(r["sys"] for r in runs),
            "minflt": int(statistics.median(r["minflt"] for r in runs)), "runs": runs}


def fresh_process(spec: dict) -> dict:
    """One run of ``spec`` (see ``one``) in a new Python process."""
    out = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------- workloads
def w1_readers(n: int, threads: int, mode: str) -> tuple[dict, int, object]:
    import blosc2
    import numexpr as ne

    import chunkwise as cw
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    ref = np.sqrt(a**2 + b**2)
    A, B = cw.asarray(a, chunks=2**20), cw.asarray(b, chunks=2**20)
    ne.set_num_threads(threads)
    blosc2.set_nthreads(threads)
    buf, tmp = np.empty(n), np.empty(n)
    ab = {"a": a, "b": b}
    cfg = cw.config(threads=threads)

    def cw_run():
        with cfg:
            e = np.sqrt(A**2 + B**2)
            return np.asarray(e) if mode == "new" else e.compute(out=buf)

    def np_run():
        if mode == "new":
            return np.sqrt(a**2 + b**2)
        np.multiply(a, a, out=buf)
        np.multiply(b, b, out=tmp)
        np.add(buf, tmp, out=buf)
        return np.sqrt(buf, out=buf)

    readers = {"chunkwise": cw_run, "numpy": np_run,
               "numexpr": (lambda: ne.evaluate("sqrt(a**2 + b**2)", local_dict=ab))
               if mode == "new"
               else (lambda: ne.evaluate("sqrt(a**2 + b**2)", local_dict=ab, out=buf))}
    if mode == "new":
        readers["blosc2"] = lambda: blosc2.lazyexpr("sqrt(a**2 + b**2)",
                                                    {"a": a, "b": b})[:]
    for name, f in readers.items():          # untimed check of every reader
        r = f()
        if not np.allclose(r, ref, rtol=1e-15, atol=0):
            raise AssertionError(f"W1 {name} differs from NumPy")
    return readers, 3 * n * 8, None


def h5_dataset(path: str, dtype: str, rows: int, cols: int, chunk_rows: int) -> str:
    """A Blosc-LZ4 dataset written by h5py + hdf5plugin, once."""
    import h5py
    import hdf5plugin
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(1)
    with h5py.File(path + ".tmp", "w") as f:
        d = f.create_dataset("x", (rows, cols), dtype, chunks=(chunk_rows, cols),
                             **hdf5plugin.Blosc(cname="lz4", clevel=5,
                                                shuffle=hdf5plugin.Blosc.SHUFFLE))
        step = max(chunk_rows, (1 << 24) // (cols * 8) // chunk_rows * chunk_rows)
        for r in range(0, rows, step):
            m = min(step, rows - r)
            x = np.sin(np.arange(r, r + m)[:, None] * 1e-3 + np.arange(cols) * 1e-2)
            d[r:r + m] = np.round(x + 0.1 * rng.standard_normal((m, cols)), 2)
    os.replace(path + ".tmp", path)
    return path


def w4_readers(path: str, threads: int, mode: str) -> tuple[dict, int, object]:
    import h5py
    import hdf5plugin  # noqa: F401  (registers the Blosc filter for h5py)
    import tables

    import chunkwise as cw
    f = h5py.File(path, "r")
    d = f["x"]
    t = tables.open_file(path, "r", max_blosc_threads=threads)
    node = t.root.x
    x = cw.open(path, "/x")
    buf = np.empty(d.shape, d.dtype)
    cfg = cw.config(threads=threads)

    def cw_run():
        with cfg:
            return np.asarray(x) if mode == "new" else x.compute(out=buf)

    readers = {"chunkwise": cw_run,
               "h5py": (lambda: d[...]) if mode == "new" else (lambda: d.read_direct(buf)),
               "PyTables": (lambda: node.read()) if mode == "new"
               else (lambda: node.read(out=buf))}
    ref = d[...]
    for name, fn in readers.items():
        r = fn()
        if not np.array_equal(buf if r is None else r, ref):
            raise AssertionError(f"W4 {name} differs from h5py")
    del ref

    def close():
        f.close()
        t.close()
    return readers, d.size * d.dtype.itemsize, close


def w5_readers(path: str, threads: int) -> tuple[dict, int, object]:
    import dask
    import dask.array as da
    import h5py

    import chunkwise as cw
    f = h5py.File(path, "r")
    d = f["x"]
    c = d.chunks[0]
    x = cw.open(path, "/x")
    cfg = cw.config(threads=threads)
    buf = np.empty(d.shape, d.dtype)

    def loop():
        for i in range(0, d.shape[0], c):
            buf[i:i + c] = d[i:i + c]
        return buf

    def cw_run():
        with cfg:
            return np.asarray(x)

    def dask_run():
        with dask.config.set(scheduler="threads", num_workers=threads):
            return da.from_array(d, chunks=d.chunks).compute()

    readers = {"chunkwise": cw_run, "dask+h5py": dask_run, "h5py chunk loop": loop}
    ref = d[...]
    for name, fn in readers.items():
        if not np.array_equal(fn(), ref):
            raise AssertionError(f"W5 {name} differs from h5py")
    return readers, d.size * 8, f.close


def one(spec: dict) -> dict:
    """``--one``: a single timed run of one reader in this fresh process."""
    w, name = spec["workload"], spec["reader"]
    if w == "W1":
        readers, _, close = w1_readers(spec["n"], spec["threads"], "new")
    else:
        readers, _, close = w4_readers(spec["path"], spec["threads"], "new")
    time.sleep(spec.get("gap", 0))
    r = measure(readers[name])
    if close:
        close()
    return r


def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def dd(path: str, direct: bool) -> float:
    cmd = ["dd", f"if={path}", "of=/dev/null", "bs=16M"] + (["iflag=direct"] if direct else [])
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def w6(args) -> list[dict]:
    import chunkwise as cw
    rows, cols = args.w6_shape
    path = os.path.join(args.data_dir, f"w6_{rows}x{cols}.h5")
    if not os.path.exists(path):
        print(f"  generating {path} ({rows * cols * 8 / 1e9:.1f} GB float64)", flush=True)
        from bench_cold import generate  # the cold-scan benchmark's dataset
        generate(path, rows, cols)
    x = cw.open(path, "/x")
    nbytes = x.nbytes
    ref = None
    rows_out = []
    for threads in args.threads:
        runs, ddb, ddd, dropped = [], [], [], True
        for _ in range(args.repeat):
            dropped &= drop_caches()
            with cw.config(threads=threads):
                m = measure(lambda: x.sum().compute())
            runs.append(m)
            dropped &= drop_caches()
            ddb.append(dd(path, False))
            dropped &= drop_caches()
            ddd.append(dd(path, True))
        with cw.config(threads=threads):
            s = float(x.sum().compute())
        ref = s if ref is None else ref
        size = os.path.getsize(path)
        row = {"workload": "W6", "case": f"sum, cold, {rows}x{cols}", "reader": "chunkwise",
               "threads": threads, "scale": 1, "caches_dropped": dropped,
               "file_bytes": size, "dd_buffered_s": statistics.median(ddb),
               "dd_direct_s": statistics.median(ddd), **summary(runs, nbytes)}
        rows_out.append(row)
    return rows_out


# ------------------------------------------------------------- the suite
def rows_for(workload, case, scale, threads, runs, nbytes):
    return [{"workload": workload, "case": case, "reader": r, "threads": threads,
             "scale": scale, "nbytes": nbytes, **summary(v, nbytes)} for r, v in runs.items()]


def suite(args) -> list[dict]:
    rows = []
    want = set(args.only)
    for scale in args.scales:
        for threads in args.threads:
            if "W1" in want:
                n = args.w1_n * scale
                for mode in ("new", "out"):
                    readers, nbytes, _ = w1_readers(n, threads, mode)
                    runs = interleaved(readers, args.repeat, args.gap)
                    rows += rows_for("W1", mode, scale, threads, runs, nbytes)
                    del readers
                if args.fresh:
                    for r in ("chunkwise", "numexpr"):
                        runs = [fresh_process({"workload": "W1", "reader": r, "n": n,
                                               "threads": threads, "gap": args.gap})
                                for _ in range(args.repeat)]
                        if all("wall" in x for x in runs):
                            rows += rows_for("W1", "new, fresh process", scale, threads,
                                             {r: runs}, 3 * n * 8)
            if "W4" in want:
                for dtype in ("float64", "float32"):
                    path = h5_dataset(os.path.join(args.data_dir,
                                                   f"w4_{dtype}_x{scale}.h5"),
                                      dtype, args.w4_rows * scale, 1000, 500)
                    for mode in ("new", "out"):
                        readers, nbytes, close = w4_readers(path, threads, mode)
                        runs = interleaved(readers, args.repeat, args.gap)
                        close()
                        rows += rows_for("W4", f"{dtype} {mode}", scale, threads, runs, nbytes)
                    if args.fresh:
                        for r in ("chunkwise", "h5py"):
                            runs = [fresh_process({"workload": "W4", "reader": r,
                                                   "path": path, "threads": threads,
                                                   "gap": args.gap})
                                    for _ in range(args.repeat)]
                            if all("wall" in x for x in runs):
                                rows += rows_for("W4", f"{dtype} new, fresh process", scale,
                                                 threads, {r: runs}, nbytes)
            if "W5" in want:
                path = os.path.join(args.data_dir, f"w5_x{scale}.h5")
                if not os.path.exists(path):
                    import h5py
                    import hdf5plugin
                    os.makedirs(args.data_dir, exist_ok=True)
                    with h5py.File(path, "w") as f:
                        f.create_dataset("x", data=np.arange(args.w5_n * scale, dtype="f8"),
                                         chunks=(256,), **hdf5plugin.Blosc(cname="lz4"))
                readers, nbytes, close = w5_readers(path, threads)
                runs = interleaved(readers, args.repeat, args.gap)
                close()
                for row in rows_for("W5", "full read, 256 per chunk", scale, threads, runs,
                                    nbytes):
                    row["us_per_chunk"] = row["median_s"] / (args.w5_n * scale / 256) * 1e6
                    rows.append(row)
    for w, section in (("W2", "ooc"), ("W3", "reduce")):
        if w in want and not args.quick:
            out = os.path.join(args.data_dir, f"bench-expr-{section}.json")
            subprocess.run([sys.executable, os.path.join(HERE, "bench_expr.py"), "--only",
                            section, "--json", out], check=True)
            with open(out) as f:
                rows.append({"workload": w, "case": section, "reader": "bench_expr.py",
                             "bench_expr": json.load(f)})
    if args.w6:
        rows += w6(args)
    return rows


def header() -> dict:
    import blosc2
    import h5py
    import numexpr
    import tables

    import chunkwise as cw
    load = os.getloadavg()
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                       f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB",
            "kernel": platform.release(), "loadavg": load,
            "versions": {"chunkwise": cw.__version__, "numpy": np.__version__,
                         "numexpr": numexpr.__version__, "blosc2": blosc2.__version__,
                         "h5py": h5py.__version__, "tables": tables.__version__,
                         "python": platform.python_version()}}


def markdown(res: dict, charts: list) -> str:
    h = res["header"]
    v = ", ".join(f"{k} {x}" for k, x in h["versions"].items())
    lines = [f"Generated by `./dev bench-all` on {h['date']}: {h['machine']}, Linux "
             f"{h['kernel']}, load average at start {h['loadavg'][0]:.2f}. {v}.",
             "Median of the runs with min-max; user and system CPU seconds and minor "
             "page faults are medians per run.", "",
             "| workload | case | x | threads | reader | median s (min-max) | s/GB | user s "
             "| sys s | minflt | vs peer |", "|" + " --- |" * 11]
    best = {}
    for r in res["rows"]:
        if "median_s" in r and r["reader"] != "chunkwise":
            k = (r["workload"], r["case"], r["scale"], r["threads"])
            best[k] = min(best.get(k, float("inf")), r["median_s"])
    for r in res["rows"]:
        if "median_s" not in r:
            continue
        k = (r["workload"], r["case"], r["scale"], r["threads"])
        ratio = (f"{best[k] / r['median_s']:.2f}x" if r["reader"] == "chunkwise" and k in best
                 else "")
        extra = f" ({r['us_per_chunk']:.1f} us/chunk)" if "us_per_chunk" in r else ""
        lines.append(f"| {r['workload']} | {r['case']} | {r['scale']} | {r['threads']} | "
                     f"{r['reader']} | {r['median_s']:.4f} ({r['min_s']:.4f}-{r['max_s']:.4f})"
                     f"{extra} | {r['s_per_gb']:.4f} | {r['user_s']:.3f} | {r['sys_s']:.3f} | "
                     f"{r['minflt']} | {ratio} |")
    lines += ["", "`vs peer`: the fastest other reader's median / chunkwise's (above 1: "
              "chunkwise is faster)."]
    for r in res["rows"]:
        if r["workload"] == "W6":
            lines.append(f"\nW6 at {r['threads']} threads: chunkwise {r['median_s']:.2f} s, "
                         f"dd buffered {r['dd_buffered_s']:.2f} s, dd iflag=direct "
                         f"{r['dd_direct_s']:.2f} s for {r['file_bytes'] / 1e9:.2f} GB "
                         f"on disk (caches dropped: {r['caches_dropped']}).")
    lines += [f"\n![{os.path.basename(c)}](img/{os.path.basename(c)})" for c in charts]
    return "\n".join(lines) + "\n"


def charts(res: dict, img_dir: str) -> list:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(img_dir, exist_ok=True)
    out = []
    for w in sorted({r["workload"] for r in res["rows"] if "median_s" in r}):
        rows = [r for r in res["rows"] if r["workload"] == w and "median_s" in r]
        labels = [f"{r['case']} x{r['scale']} t{r['threads']}\n{r['reader']}" for r in rows]
        fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(rows)), 4))
        ax.bar(range(len(rows)), [r["s_per_gb"] for r in rows],
               color=["C0" if r["reader"] == "chunkwise" else "C7" for r in rows])
        ax.set_xticks(range(len(rows)), labels, rotation=90, fontsize=6)
        ax.set_ylabel("seconds per GB (median)")
        ax.set_title(f"{w} ({res['header']['date']})")
        fig.tight_layout()
        p = os.path.join(img_dir, f"bench-all-{w}.png")
        fig.savefig(p, dpi=90)
        plt.close(fig)
        out.append(p)
    return out


def write_docs(path: str, text: str) -> None:
    with open(path) as f:
        doc = f.read()
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + BEGIN + "\n" + text + doc[doc.index(END):]
    else:
        doc += f"\n## The whole suite (bench/bench_all.py)\n\n{BEGIN}\n{text}{END}\n"
    with open(path, "w") as f:
        f.write(doc)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    p.add_argument("--only", default="W1,W2,W3,W4,W5", help="workloads, comma separated")
    p.add_argument("--w6", action="store_true", help="also run W6 (larger than RAM, cold)")
    p.add_argument("--w6-shape", default="200000x20000", help="W6 dataset rows x cols")
    p.add_argument("--scales", default=None, help="data sizes (default 1,4,16)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--gap", type=float, default=None, help="pause before each run (s)")
    p.add_argument("--no-fresh", dest="fresh", action="store_false",
                   help="skip the fresh-process runs")
    p.add_argument("--data-dir", default=os.path.join(ROOT, "data", "bench-all"))
    p.add_argument("--json", default=None, help="results file (default DATA_DIR/bench-all.json)")
    p.add_argument("--docs", default=None, help="markdown file whose bench-all section "
                   "is replaced, charts beside it in img/ (e.g. docs/benchmarks.md)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return 0
    q = args.quick
    args.only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    args.scales = [int(s) for s in (args.scales or ("1,2" if q else "1,4,16")).split(",")]
    args.threads = [int(t) for t in args.threads.split(",")]
    args.repeat = args.repeat or (2 if q else 5)
    args.gap = (0.0 if q else 1.0) if args.gap is None else args.gap
    args.w6_shape = tuple(int(s) for s in args.w6_shape.lower().split("x"))
    args.w1_n = 100_000 if q else 10_000_000
    args.w4_rows = 1_000 if q else 25_000
    args.w5_n = 1 << (14 if q else 20)
    os.makedirs(args.data_dir, exist_ok=True)
    res = {"header": header(), "args": {k: v for k, v in vars(args).items() if k != "one"}}
    res["rows"] = suite(args)
    path = args.json or os.path.join(args.data_dir, "bench-all.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    imgs = charts(res, os.path.join(os.path.dirname(os.path.abspath(args.docs)), "img")
                  if args.docs else os.path.join(args.data_dir, "img"))
    text = markdown(res, imgs)
    if args.docs:
        write_docs(args.docs, text)
    print(text)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
