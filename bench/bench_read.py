#!/usr/bin/env python
"""Read benchmark: chunkwise against h5py and PyTables on Blosc-LZ4 HDF5 files.

Data
    Two float32 datasets of shape (400_000, 1000) (about 1.6 GB uncompressed
    each; ``--quick``: (40_000, 1000)), chunks (1000, 1000) = 4 MB, written
    by h5py with ``hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=SHUFFLE)``:

    * ``compressible``: a smooth 2-D sinusoid plus a little Gaussian noise,
      quantised to 0.01 (Blosc ratio about 4);
    * ``incompressible``: standard-normal float32 noise with a full mantissa
      (Blosc ratio about 1.1).

    They are generated once, slab by slab (at most ~80 MB of data in
    memory, a fixed seed and one RNG per slab), into ``--data-dir`` and
    reused while their shape and chunks match.

Method
    * The page cache is warm: every file is read once end to end (raw bytes,
      untimed) before its cases run, so the timings measure decompression,
      copying and library overhead, not the disk.
    * Every (case, reader) is timed ``--repeat`` times (default 5) with
      ``time.perf_counter`` and the **median** is reported.  Repeats are
      interleaved (rep 1 of every reader, then rep 2, ...) so slow drift of
      the machine affects all readers alike.  Files are opened once per
      reader, outside the timings.
    * Cases: ``full`` (read everything into a new array: the allocation and
      its page faults are part of the time), ``full-out`` (read into an
      existing, preallocated and touched buffer), ``slice`` (a 40_000 x 500
      block, ``[rows/4 : rows/4 + rows/10, 200:700]``) and ``strided``
      (``[::10, ::2]``, which touches every chunk).
    * Results of the first repeat are checked against h5py's, untimed.
    * Peak memory of the two full-read cases is measured per reader in a
      fresh subprocess (this script with ``--one READER CASE FILE``), from
      ``getrusage(RUSAGE_SELF).ru_maxrss`` before and after the read.  Linux
      carries a parent's peak RSS over fork and exec into the child's
      ru_maxrss, so these subprocesses are started before the parent
      allocates anything large (file generation also runs in a subprocess,
      ``--generate``), and the growth during the read is taken from the
      child's own high-water mark (``VmHWM`` of /proc/self/status) before
      the read where Linux provides it: the parent's import-time peak can
      exceed the child's.
    * HDF5 keeps a cache of decoded chunks per open dataset: 8 MiB by
      default for h5py (HDF5 2.0), 16 MiB for PyTables.  A selection touching
      at most that much (the ``slice`` case of ``--quick``: 4 chunks, 16 MB,
      for PyTables) is served from it on repeats; with the full shape the
      slice touches 40 chunks (160 MB) and no cache helps.
    * Other load on the machine skews the threads=2 timings (and ``vs t=1``)
      first.  Two indicators are printed: a CPU probe (two threads hashing
      vs one) before and after the timings, and, per file, the CPU time
      that other processes used while its cases ran (system-wide busy time
      from /proc/stat minus this process's), in cores on average.

Columns
    ``GB/s``     uncompressed bytes of the result (1 GB = 1e9 B) per second.
    ``vs h5py``  h5py's median time / this reader's: above 1 is faster than
                 h5py.
    ``vs t=1``   (chunkwise threads=2 rows) chunkwise threads=1 time /
                 threads=2 time: the speed-up from the second thread.
    ``peak MiB`` peak RSS (ru_maxrss) of the subprocess after the read;
                 ``+MiB`` its growth during the read: the result array is
                 included for ``full`` (1526 MiB for the full shape), but not
                 for ``full-out``, whose buffer existed before, so there it is
                 the reader's own working memory.

Usage
    python bench/bench_read.py [--quick] [--repeat N] [--data-dir DIR]
                               [--json FILE]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import h5py
import hdf5plugin
import tables

import chunkwise as cw

# --------------------------------------------------------------- parameters
FULL_SHAPE = (400_000, 1000)
QUICK_SHAPE = (40_000, 1000)
CHUNKS = (1000, 1000)
DTYPE = np.dtype("float32")
DSET = "/data"
SLAB_ROWS = 20_000          # 80 MB of float32 per generated slab
SEED = 20240611
DEFAULT_DATA_DIR = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "data", "bench"))

FILTER = hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)

# Compressible field: row and column sinusoids of this amplitude around
# OFFSET, plus Gaussian noise of NOISE_SIGMA, rounded to 0.01.  The noise is
# a fraction of the quantum, so it flips values between neighbouring levels
# only near level boundaries; tuned for a Blosc-LZ4 ratio of about 4.
AMPLITUDE = 1.0
OFFSET = 15.0
NOISE_SIGMA = 0.0014
ROW_PERIOD = 5000
COL_PERIOD = 1000

READERS = ("cw-t1", "cw-t2", "h5py", "tables")
READER_LABELS = {"cw-t1": "chunkwise t=1", "cw-t2": "chunkwise t=2",
                 "h5py": "h5py", "tables": "PyTables"}
CASES = ("full", "full-out", "slice", "strided")
RSS_CASES = ("full", "full-out")


# --------------------------------------------------------------- generation
def compressible_slab(r0: int, nrows: int, ncols: int,
                      rng: np.random.Generator) -> np.ndarray:
    rows = np.arange(r0, r0 + nrows, dtype=np.float64)
    cols = np.arange(ncols, dtype=np.float64)
    row_term = (AMPLITUDE * np.sin(rows * (2 * np.pi / ROW_PERIOD)) + OFFSET)
    col_term = AMPLITUDE * np.cos(cols * (2 * np.pi / COL_PERIOD))
    x = rng.standard_normal((nrows, ncols), dtype=np.float32)
    x *= np.float32(NOISE_SIGMA)
    x += row_term.astype(np.float32)[:, None]
    x += col_term.astype(np.float32)[None, :]
    x *= np.float32(100)
    np.rint(x, out=x)
    x /= np.float32(100)
    return x


def incompressible_slab(r0: int, nrows: int, ncols: int,
                        rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((nrows, ncols), dtype=np.float32)


DATASETS = {"compressible": compressible_slab,
            "incompressible": incompressible_slab}


def data_path(data_dir: str, kind: str, shape: tuple) -> str:
    return os.path.join(data_dir, f"{kind}_{shape[0]}x{shape[1]}.h5")


def is_valid(path: str, shape: tuple) -> bool:
    """The file exists and holds DSET with the expected layout."""
    if not os.path.exists(path):
        return False
    try:
        with h5py.File(path, "r") as f:
            d = f[DSET]
            return (d.shape == shape and d.dtype == DTYPE and d.chunks == CHUNKS)
    except (OSError, KeyError):
        return False


def generate(path: str, kind: str, shape: tuple) -> None:
    """Write dataset ``kind`` slab by slab into ``path`` (via a temporary
    file, so an interrupted run leaves no half-written file behind)."""
    make_slab = DATASETS[kind]
    tmp = path + ".tmp"
    t0 = time.perf_counter()
    with h5py.File(tmp, "w") as f:
        d = f.create_dataset(DSET, shape, DTYPE, chunks=CHUNKS, **FILTER)
        for k, r0 in enumerate(range(0, shape[0], SLAB_ROWS)):
            n = min(SLAB_ROWS, shape[0] - r0)
            rng = np.random.default_rng([SEED, list(DATASETS).index(kind), k])
            d[r0:r0 + n] = make_slab(r0, n, shape[1], rng)
    os.replace(tmp, path)
    print(f"  generated {path} in {time.perf_counter() - t0:.1f} s", flush=True)


def generate_in_subprocess(path: str, kind: str, shape: tuple) -> None:
    """Run generate() in a child, so this process's peak RSS stays small."""
    cmd = [sys.executable, os.path.abspath(__file__), "--generate", kind, path,
           str(shape[0]), str(shape[1])]
    subprocess.run(cmd, check=True)


def compression_ratio(path: str) -> float:
    with h5py.File(path, "r") as f:
        d = f[DSET]
        return d.nbytes / d.id.get_storage_size()


def warm_page_cache(path: str) -> None:
    """Read the file's bytes once so that they sit in the page cache."""
    block = bytearray(8 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(block):
            pass


# ------------------------------------------------------------------ readers
class Reader:
    """One library reading one dataset; the file is opened once."""

    def read_all(self) -> np.ndarray: ...
    def read_into(self, buf: np.ndarray) -> None: ...
    def read_sel(self, key) -> np.ndarray: ...
    def close(self) -> None: ...


class ChunkwiseReader(Reader):
    def __init__(self, path: str, threads: int):
        self.a = cw.open(path, DSET)
        self.threads = threads

    def read_all(self):
        with cw.config(threads=self.threads):
            return self.a.compute()

    def read_into(self, buf):
        with cw.config(threads=self.threads):
            self.a.compute(out=buf)

    def read_sel(self, key):
        with cw.config(threads=self.threads):
            return self.a[key].compute()

    def close(self):
        self.a = None


class H5pyReader(Reader):
    def __init__(self, path: str):
        self.f = h5py.File(path, "r")
        self.d = self.f[DSET]

    def read_all(self):
        return self.d[...]

    def read_into(self, buf):
        self.d.read_direct(buf)

    def read_sel(self, key):
        return self.d[key]

    def close(self):
        self.f.close()


class TablesReader(Reader):
    def __init__(self, path: str):
        self.f = tables.open_file(path, "r")
        self.node = self.f.get_node(DSET)

    def read_all(self):
        return self.node[:]

    def read_into(self, buf):
        self.node.read(out=buf)

    def read_sel(self, key):
        return self.node[key]

    def close(self):
        self.f.close()


def open_reader(name: str, path: str) -> Reader:
    if name == "cw-t1":
        return ChunkwiseReader(path, threads=1)
    if name == "cw-t2":
        return ChunkwiseReader(path, threads=2)
    if name == "h5py":
        return H5pyReader(path)
    if name == "tables":
        return TablesReader(path)
    raise ValueError(f"unknown reader {name!r}")


def selection(case: str, shape: tuple):
    """The index of ``case`` (None for the full reads)."""
    if case == "slice":
        r0 = shape[0] // 4
        return (slice(r0, r0 + shape[0] // 10, 1), slice(200, 700))
    if case == "strided":
        return (slice(None, None, 10), slice(None, None, 2))
    return None


def fmt_key(key) -> str:
    def one(s):
        a = "" if s.start is None else s.start
        b = "" if s.stop is None else s.stop
        return f"{a}:{b}" + ("" if s.step is None else f":{s.step}")
    return "[" + ", ".join(one(s) for s in key) + "]"


def run_once(reader: Reader, case: str, key, buf):
    """Time one read; returns (seconds, result)."""
    t0 = time.perf_counter()
    if case == "full":
        res = reader.read_all()
    elif case == "full-out":
        reader.read_into(buf)
        res = buf
    else:
        res = reader.read_sel(key)
    return time.perf_counter() - t0, res


# ------------------------------------------------------------ measurements
def bench_file(path: str, shape: tuple, repeat: int) -> list[dict]:
    """Time every case and reader on one file; returns one dict per pair."""
    warm_page_cache(path)
    readers = {name: open_reader(name, path) for name in READERS}
    # h5py first in every repeat: its result of repeat 0 is the reference.
    order = ["h5py"] + [r for r in READERS if r != "h5py"]
    buf = np.empty(shape, DTYPE)
    buf.fill(0)                      # touch every page once
    results = []
    try:
        for case in CASES:
            key = selection(case, shape)
            times = {r: [] for r in READERS}
            errors = {}
            cw_stats = {}
            for rep in range(repeat):
                ref = None
                for r in order:
                    if r in errors:
                        continue
                    if rep == 0:
                        if case == "full-out":
                            buf.fill(-1)     # so a no-op read cannot pass
                        if r.startswith("cw"):
                            cw.reset_stats()
                    try:
                        dt, res = run_once(readers[r], case, key, buf)
                    except Exception as e:  # e.g. an unsupported out=
                        errors[r] = f"{type(e).__name__}: {e}"
                        continue
                    times[r].append(dt)
                    if rep == 0:
                        if r.startswith("cw"):
                            cw_stats[r] = cw.stats()
                        if r == "h5py":
                            ref = res.copy() if case == "full-out" else res
                        elif ref is not None and not np.array_equal(res, ref):
                            errors[r] = "result differs from h5py's"
                    del res
                del ref
            for r in READERS:
                row = {"case": case, "reader": r,
                       "selection": fmt_key(key) if key else None,
                       "times": times[r], "error": errors.get(r)}
                if times[r] and r not in errors:
                    nbytes = (int(np.prod(shape)) if key is None else
                              int(np.prod([len(range(*s.indices(n)))
                                           for s, n in zip(key, shape)]))
                              ) * DTYPE.itemsize
                    med = statistics.median(times[r])
                    row.update(nbytes=nbytes, median_s=med, gbps=nbytes / med / 1e9)
                if r in cw_stats:
                    row["cw_stats_rep0"] = cw_stats[r]
                results.append(row)
            print(f"    {case}: done", flush=True)
    finally:
        for rd in readers.values():
            rd.close()
        del buf
    by = {(row["case"], row["reader"]): row for row in results}
    for row in results:
        h5 = by[(row["case"], "h5py")]
        if "median_s" in row and "median_s" in h5:
            row["vs_h5py"] = h5["median_s"] / row["median_s"]
        if row["reader"] == "cw-t2" and "median_s" in row:
            t1 = by[(row["case"], "cw-t1")]
            if "median_s" in t1:
                row["vs_t1"] = t1["median_s"] / row["median_s"]
    return results


def measure_rss(path: str) -> dict:
    """Peak RSS of every reader's full reads, each in a fresh interpreter.
    Call it before this process allocates much: see the module docstring."""
    out = {}
    for case in RSS_CASES:
        for r in READERS:
            cmd = [sys.executable, os.path.abspath(__file__), "--one", r, case, path]
            p = subprocess.run(cmd, capture_output=True, text=True)
            line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RSS ")),
                        None)
            if p.returncode != 0 or line is None:
                err = (p.stderr.strip().splitlines() or ["no output"])[-1]
                out[(case, r)] = {"error": err}
            else:
                out[(case, r)] = json.loads(line[4:])
    return out


def vm_hwm_kib():
    """This process's own peak RSS (Linux /proc; None elsewhere), as a
    cross-check of ru_maxrss, which may include a parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def one(reader_name: str, case: str, path: str) -> int:
    """--one mode: a single full read, reporting ru_maxrss before/after."""
    with h5py.File(path, "r") as f:
        shape = f[DSET].shape
    reader = open_reader(reader_name, path)
    buf = None
    if case == "full-out":
        buf = np.empty(shape, DTYPE)
        buf.fill(0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    hwm_before = vm_hwm_kib()
    dt, res = run_once(reader, case, None, buf)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RSS " + json.dumps({"before_kib": before, "after_kib": after,
                               "vmhwm_before_kib": hwm_before,
                               "vmhwm_after_kib": vm_hwm_kib(),
                               "seconds": dt, "result_nbytes": res.nbytes}))
    reader.close()
    return 0


# ------------------------------------------------------------------ output
def header(args, shape) -> dict:
    try:
        ncpu_avail = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu_avail = os.cpu_count()
    info = {
        "cpu_count": os.cpu_count(),
        "cpus_available": ncpu_avail,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "h5py": h5py.__version__,
        "h5py_hdf5": h5py.version.hdf5_version,
        "hdf5plugin": hdf5plugin.version,
        "tables": tables.__version__,
        "tables_hdf5": tables.hdf5_version,
        "tables_max_blosc_threads": tables.parameters.MAX_BLOSC_THREADS,
        "BLOSC_NTHREADS": os.environ.get("BLOSC_NTHREADS"),
        "chunkwise": cw.__version__,
        "chunkwise_core": cw._core.version_info(),
        "chunkwise_default": {k: v for k, v in cw.get_config().items()},
        "shape": shape, "chunks": CHUNKS, "dtype": str(DTYPE),
        "repeat": args.repeat, "quick": args.quick,
    }
    print("chunkwise read benchmark")
    print(f"  CPUs: {info['cpu_count']} ({ncpu_avail} available), "
          f"{info['machine']}, Python {info['python']}")
    print(f"  numpy {info['numpy']}, h5py {info['h5py']} (HDF5 {info['h5py_hdf5']}), "
          f"hdf5plugin {info['hdf5plugin']}, tables {info['tables']} "
          f"(HDF5 {info['tables_hdf5']}, MAX_BLOSC_THREADS="
          f"{info['tables_max_blosc_threads']})")
    print(f"  chunkwise {info['chunkwise']} ({info['chunkwise_core']}), "
          f"defaults {info['chunkwise_default']}")
    print_source(info)
    print(f"  data: {DTYPE} {shape}, chunks {CHUNKS}, Blosc lz4 clevel 5 shuffle; "
          f"median of {args.repeat} runs, warm page cache")
    info["parallel_probe_start"] = parallel_probe()
    print(f"  CPU probe: 2 threads give {info['parallel_probe_start']:.2f}x the "
          f"throughput of 1 (2.0: both cores free)")
    return info


def rss_growth_kib(m: dict) -> int:
    """Peak RSS growth during the read: from the child's own high-water
    mark before it where known (see the module docstring)."""
    before = m["vmhwm_before_kib"] or m["before_kib"]
    return m["after_kib"] - before


def print_table(kind: str, ratio: float, rows: list[dict], rss: dict,
                other_load) -> None:
    print()
    load = ("" if other_load is None else
            f"; other processes busy {other_load:.2f} cores on average meanwhile")
    print(f"== {kind} (Blosc ratio {ratio:.2f}{load})")
    hdr = (f"{'case':<9} {'reader':<14} {'median s':>9} {'GB/s':>6} "
           f"{'vs h5py':>7} {'vs t=1':>6} {'peak MiB':>8} {'+MiB':>6}")
    print(hdr)
    print("-" * len(hdr))
    last_case = None
    for row in rows:
        case = row["case"] if row["case"] != last_case else ""
        if case and last_case is not None:
            print()
        last_case = row["case"]
        label = READER_LABELS[row["reader"]]
        if "median_s" not in row:
            print(f"{case:<9} {label:<14} {'n/a: ' + str(row['error'])}")
            continue
        vs_t1 = f"{row['vs_t1']:.2f}" if "vs_t1" in row else ""
        m = rss.get((row["case"], row["reader"]))
        peak = delta = ""
        if m and "error" not in m:
            peak = f"{m['after_kib'] / 1024:.0f}"
            delta = f"{rss_growth_kib(m) / 1024:.0f}"
        elif m:
            peak = "err"
        print(f"{case:<9} {label:<14} {row['median_s']:>9.4f} {row['gbps']:>6.2f} "
              f"{row.get('vs_h5py', float('nan')):>7.2f} {vs_t1:>6} {peak:>8} {delta:>6}")
    sel = [r["selection"] for r in rows if r["selection"]]
    print(f"(selections: slice {sel[0]}, strided {sel[-1]})" if sel else "")
    for (case, r), m in rss.items():
        if "error" in m:
            print(f"  peak RSS of {READER_LABELS[r]} {case}: {m['error']}")


def parallel_probe(rounds: int = 3) -> float:
    """Throughput of two threads hashing (GIL released) relative to one:
    about 2.0 when both cores are free, about 1.0 when only one is."""
    data = bytes(32 << 20)

    def work():
        hashlib.sha256(data).digest()

    def timed(nthreads):
        ths = [threading.Thread(target=work) for _ in range(nthreads)]
        t0 = time.perf_counter()
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        return time.perf_counter() - t0

    return statistics.median(2 * timed(1) / timed(2) for _ in range(rounds))


def source_state() -> dict:
    """Which chunkwise was measured: the git commit, the files changed
    outside bench/ (an editable install rebuilds from the working tree) and
    the extension module's path and modification time."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    state = {"core": cw._core.__file__,
             "core_mtime": time.strftime(
                 "%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(cw._core.__file__)))}
    try:
        git = ["git", "-C", repo]
        state["commit"] = subprocess.run(git + ["rev-parse", "--short", "HEAD"],
                                         capture_output=True, text=True,
                                         check=True).stdout.strip()
        lines = subprocess.run(git + ["status", "--porcelain"], capture_output=True,
                               text=True, check=True).stdout.splitlines()
        state["changed"] = [ln[3:] for ln in lines if not ln[3:].startswith("bench/")]
    except (OSError, subprocess.CalledProcessError):
        pass
    return state


class OtherLoad:
    """Average number of cores busy with other processes between start()
    and stop(): system busy time (/proc/stat) minus this process's own CPU
    time.  None where /proc/stat is missing."""

    @staticmethod
    def _busy_s():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except OSError:
            return None
        idle = v[3] + (v[4] if len(v) > 4 else 0)        # idle + iowait
        return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_s():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def start(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy_s(), self._own_s()
        return self

    def stop(self):
        busy = self._busy_s()
        if busy is None or self.busy0 is None:
            return None
        wall = time.perf_counter() - self.t0
        other = (busy - self.busy0) - (self._own_s() - self.own0)
        return max(other, 0.0) / wall


def print_source(info: dict) -> None:
    """Record and print which chunkwise source and build this run measures."""
    src = info["source"] = source_state()
    if "commit" in src:
        changed = (f" + uncommitted changes to {', '.join(src['changed'])}"
                   if src["changed"] else "")
        print(f"  chunkwise source: git {src['commit']}{changed}")
    print(f"  chunkwise extension built {src['core_mtime']}")


def finish_report(info: dict, report: dict, t_start: float, json_path) -> None:
    """The end of a benchmark run: a warning if the extension was rebuilt
    meanwhile, the CPU probes, the total time, and the JSON file."""
    if source_state()["core_mtime"] != info["source"]["core_mtime"]:
        print("\nWARNING: the chunkwise extension was rebuilt during the run; the "
              "subprocess measurements may have used another build")
    print(f"\nCPU probe, 2 threads vs 1: {info['parallel_probe_start']:.2f}x before "
          f"the timings, {info['parallel_probe_end']:.2f}x after")
    total = time.perf_counter() - t_start
    print(f"\ntotal time {total:.0f} s")
    report["total_s"] = total
    if json_path:
        with open(json_path, "w") as f:
            json.dump(report, f, indent=1, default=str)
        print(f"results written to {json_path}")


def own_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"small {QUICK_SHAPE} files for a smoke run")
    p.add_argument("--repeat", type=int, default=5, help="runs per case (median)")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                   help="where the generated files live (default: data/bench)")
    p.add_argument("--json", metavar="FILE", help="also write the results here")
    p.add_argument("--one", nargs=3, metavar=("READER", "CASE", "FILE"),
                   help=argparse.SUPPRESS)
    p.add_argument("--generate", nargs=4, metavar=("KIND", "FILE", "ROWS", "COLS"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        return one(*args.one)
    if args.generate:
        kind, path, rows, cols = args.generate
        generate(path, kind, (int(rows), int(cols)))
        return 0
    if args.repeat < 1:
        p.error("--repeat must be at least 1")

    shape = QUICK_SHAPE if args.quick else FULL_SHAPE
    t_start = time.perf_counter()
    info = header(args, shape)
    data_dir = os.path.abspath(args.data_dir)
    os.makedirs(data_dir, exist_ok=True)

    files = {}
    for kind in DATASETS:
        path = data_path(data_dir, kind, shape)
        if not is_valid(path, shape):
            generate_in_subprocess(path, kind, shape)
        files[kind] = (path, compression_ratio(path))
    print("  datasets: " + ", ".join(
        f"{kind} ratio {ratio:.2f} ({os.path.getsize(path) / 1e6:.0f} MB on disk)"
        for kind, (path, ratio) in files.items()), flush=True)

    print("  peak RSS subprocesses ...", flush=True)
    rss_by_kind = {}
    for kind, (path, _) in files.items():
        warm_page_cache(path)
        rss_by_kind[kind] = measure_rss(path)
    print(f"  (this process: peak RSS {own_peak_mib():.0f} MiB while they ran)",
          flush=True)

    report = {"info": info, "files": {}}
    tables_out = []
    for kind, (path, ratio) in files.items():
        print(f"  benchmarking {kind} ...", flush=True)
        load = OtherLoad().start()
        rows = bench_file(path, shape, args.repeat)
        other = load.stop()
        rss = rss_by_kind[kind]
        for row in rows:
            m = rss.get((row["case"], row["reader"]))
            if m is not None:
                row["rss"] = m
        report["files"][kind] = {"path": path, "ratio": ratio, "results": rows,
                                 "other_load_cores": other}
        tables_out.append((kind, ratio, rows, rss, other))

    info["parallel_probe_end"] = parallel_probe()
    for t in tables_out:
        print_table(*t)
    finish_report(info, report, t_start, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
