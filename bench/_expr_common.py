"""Shared part of the expression and reduction benchmarks (bench_expr.py,
bench_reduce.py): parameters, input files, timing, peak-RSS subprocesses and
the report's header and rows.  Not a script: bench/bench_expr.py runs them.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import h5py
import hdf5plugin
import tables
import numexpr as ne
import dask
import blosc2

import chunkwise as cw

import bench_read as br  # (data generation and measurement helpers)

# --------------------------------------------------------------- parameters
# The script whose hidden modes (--one, --generate, --convert) the helpers
# below run in subprocesses.
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_expr.py")
SECTIONS = ("inmem", "ooc", "reduce")
EXPR = "sqrt(a**2 + b**2)"
THREADS = 2
DSET = br.DSET                      # "/data"
SEED = br.SEED

MEM_N = 10**8
MEM_N_QUICK = 10**7
MEM_CHUNKS = 2**20

# name -> dtype, full shape, quick shape, chunks
VARIANTS = {
    "f32-compressible": (np.dtype("float32"), (400_000, 1000), (40_000, 1000), (1000, 1000)),
    "f64-noisy": (np.dtype("float64"), (200_000, 1000), (20_000, 1000), (500, 1000)),
}
REDUCE_VARIANT = "f32-compressible"
REDUCE_OPS = ("sum", "mean0")
OP_LABELS = {"sum": "sum", "mean0": "mean(axis=0)"}
REDUCE_RTOL = 1e-5
SLAB_CHUNK_ROWS = 4                 # slab loops read 4 chunk rows at a time

B_PHASE_ROWS = br.ROW_PERIOD // 4   # input b of f32-compressible: shifted field
GEN_BYTES = 80 << 20                # at most this much generated per slab

TABLES_CACHE_MIB = 256
TABLES_PARAMS = {"chunk_cache_size": TABLES_CACHE_MIB << 20, "max_blosc_threads": THREADS}


def set_tables_cache(mib: int) -> None:
    """0: PyTables' default chunk cache (parameters.CHUNK_CACHE_SIZE)."""
    TABLES_PARAMS.pop("chunk_cache_size", None)
    if mib:
        TABLES_PARAMS["chunk_cache_size"] = mib << 20


H5_FILTER = hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)
TABLES_FILTERS = tables.Filters(complevel=5, complib="blosc:lz4", shuffle=True)


def b2_cparams():
    return blosc2.CParams(codec=blosc2.Codec.LZ4, clevel=5,
                          filters=[blosc2.Filter.SHUFFLE], nthreads=THREADS)


ne.set_num_threads(THREADS)
blosc2.set_nthreads(THREADS)
if "progress" in cw.get_config():
    cw.config(progress=False)       # no progress bar on a terminal while timing

INMEM_READERS = ("numpy", "numpy-out", "numexpr", "cw-t1", "cw-t2")
OOC_READERS = ("cw-t2", "cw-t1", "dask", "tables", "blosc2")
REDUCE_READERS = ("cw-t2", "cw-t1", "dask", "h5py", "tables", "blosc2")
LABELS = {"numpy": "NumPy", "numpy-out": "NumPy out=", "numexpr": "numexpr", "cw-t1": "chunkwise t=1",
          "cw-t2": "chunkwise t=2", "dask": "dask+h5py", "tables": "tables.Expr",
          "blosc2": "blosc2", "h5py": "h5py loop"}
REDUCE_LABELS = dict(LABELS, tables="PyTables loop")


# --------------------------------------------------------------- data files
def h5_valid(path, shape, dtype, chunks) -> bool:
    if not os.path.exists(path):
        return False
    try:
        with h5py.File(path, "r") as f:
            d = f[DSET]
            return d.shape == tuple(shape) and d.dtype == dtype and d.chunks == tuple(chunks)
    except (OSError, KeyError):
        return False


def input_paths(data_dir, variant, quick) -> dict:
    """Paths of the HDF5 inputs a, b and their .b2nd copies."""
    dtype, full, qshape, chunks = VARIANTS[variant]
    shape = qshape if quick else full
    tag = f"{shape[0]}x{shape[1]}"
    if variant == "f32-compressible":
        a = br.data_path(data_dir, "compressible", shape)       # bench_read's file
        b = os.path.join(data_dir, f"expr_compressible-b_{tag}.h5")
    else:
        a = os.path.join(data_dir, f"expr_{variant}-a_{tag}.h5")
        b = os.path.join(data_dir, f"expr_{variant}-b_{tag}.h5")
    return {"a": a, "b": b, "a_b2": a[:-3] + ".b2nd", "b_b2": b[:-3] + ".b2nd",
            "shape": shape, "dtype": dtype, "chunks": chunks}


def gen_slab(kind, r0, n, ncols, k):
    if kind == "compressible-b":
        rng = np.random.default_rng([SEED, 100, k])
        return br.compressible_slab(r0 + B_PHASE_ROWS, n, ncols, rng)
    if kind in ("f64-noisy-a", "f64-noisy-b"):
        rng = np.random.default_rng([SEED, 200 + kind.endswith("b"), k])
        return rng.standard_normal((n, ncols))
    raise ValueError(kind)


def generate(kind, path, shape, dtype, chunks) -> None:
    """--generate mode: write one input slab by slab via a temporary file."""
    tmp = path + ".tmp"
    t0 = time.perf_counter()
    step = max(chunks[0], GEN_BYTES // (shape[1] * dtype.itemsize) // chunks[0] * chunks[0])
    with h5py.File(tmp, "w") as f:
        d = f.create_dataset(DSET, shape, dtype, chunks=chunks, **H5_FILTER)
        for k, r0 in enumerate(range(0, shape[0], step)):
            n = min(step, shape[0] - r0)
            d[r0:r0 + n] = gen_slab(kind, r0, n, shape[1], k).astype(dtype, copy=False)
    os.replace(tmp, path)
    print(f"  generated {path} in {time.perf_counter() - t0:.1f} s", flush=True)


def convert_b2(h5path, b2path) -> None:
    """--convert mode: copy an HDF5 input to a .b2nd file (same chunks)."""
    tmp = b2path[:-5] + ".tmp.b2nd"
    t0 = time.perf_counter()
    with h5py.File(h5path, "r") as f:
        d = f[DSET]
        arr = blosc2.asarray(d, urlpath=tmp, mode="w", chunks=d.chunks,
                             cparams=b2_cparams())
        del arr
    os.replace(tmp, b2path)
    print(f"  converted {b2path} in {time.perf_counter() - t0:.1f} s", flush=True)


def b2_valid(b2path, h5path, shape, dtype, chunks) -> bool:
    if not os.path.exists(b2path) or os.path.getmtime(b2path) < os.path.getmtime(h5path):
        return False
    try:
        x = blosc2.open(b2path, mode="r")
        return x.shape == tuple(shape) and x.dtype == dtype and x.chunks == tuple(chunks)
    except Exception:
        return False


def prepare_variant(data_dir, variant, quick) -> dict:
    """Generate and convert what is missing (in subprocesses, so that this
    process's peak RSS stays small); returns the paths and ratios."""
    p = input_paths(data_dir, variant, quick)
    shape, dtype, chunks = p["shape"], p["dtype"], p["chunks"]
    me = SCRIPT
    for which in ("a", "b"):
        path = p[which]
        if not h5_valid(path, shape, dtype, chunks):
            if variant == "f32-compressible" and which == "a":
                br.generate_in_subprocess(path, "compressible", shape)
            else:
                kind = "compressible-b" if variant == "f32-compressible" else f"{variant}-{which}"
                subprocess.run([sys.executable, me, "--generate", kind, path,
                                str(shape[0]), str(shape[1])], check=True)
        b2 = p[which + "_b2"]
        if not b2_valid(b2, path, shape, dtype, chunks):
            subprocess.run([sys.executable, me, "--convert", path, b2], check=True)
    p["ratio_h5"] = {w: h5_ratio(p[w]) for w in ("a", "b")}
    p["ratio_b2"] = {w: float(blosc2.open(p[w + "_b2"], mode="r").schunk.cratio)
                     for w in ("a", "b")}
    return p


def h5_ratio(path) -> float:
    with h5py.File(path, "r") as f:
        d = f[DSET]
        return d.nbytes / d.id.get_storage_size()


def warm(paths) -> None:
    for p in paths:
        br.warm_page_cache(p)


def file_size(path) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


def remove(path) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def fresh_output(path) -> None:
    """Delete a previous output and flush dirty pages, so that no writeback
    of an earlier run happens during the next timing."""
    remove(path)
    os.sync()

def rel_diff(x, ref) -> float:
    """Largest |x - ref| / |ref| (0 where both are 0)."""
    x = np.asarray(x, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    d = np.abs(x - ref)
    scale = np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(d == 0, 0.0, d / scale)
    return float(np.max(r)) if r.size else 0.0

# ----------------------------------------------------------- common helpers
def open_readers(names, opener, p):
    """opener(name, p) for each reader: the readers, and the errors of those
    that could not be opened (reported in their rows)."""
    readers, errors = {}, {}
    for r in names:
        try:
            readers[r] = opener(r, p)
        except Exception as e:
            errors[r] = f"{type(e).__name__}: {e}"
    return readers, errors


class TimedLoad:
    """Other processes' CPU load (br.OtherLoad) over the timed runs only,
    weighted by their wall time: checks and clean-ups are left out."""

    def __init__(self):
        self.core_s = 0.0
        self.wall = 0.0
        self._cur = None
        self.last_cpu = None

    def start(self):
        self._t = os.times()
        self._cur = br.OtherLoad().start()

    def stop(self):
        t = os.times()
        # this process's user and system CPU seconds during the run
        self.last_cpu = (round(t.user - self._t.user, 3),
                         round(t.system - self._t.system, 3))
        o = self._cur.stop()
        if o is not None:
            el = time.perf_counter() - self._cur.t0
            self.core_s += o * el
            self.wall += el

    def cores(self):
        return self.core_s / self.wall if self.wall else None

    def timed(self, r, fn, times, cpu, errors):
        """Run fn() for reader r and record its wall time and this process's
        CPU time, or its error; returns (True, result) or (False, None)."""
        self.start()
        try:
            t0 = time.perf_counter()
            res = fn()
            dt = time.perf_counter() - t0
        except Exception as e:
            errors[r] = f"{type(e).__name__}: {e}"
            return False, None
        finally:
            self.stop()
        times[r].append(dt)
        cpu[r].append(self.last_cpu)
        return True, res


def summarise(readers, times, errors, checks, nbytes, cpu=None) -> list[dict]:
    rows = []
    for r in readers:
        row = {"reader": r, "times": times[r], "error": errors.get(r),
               "check": checks.get(r)}
        if cpu is not None:
            row["cpu_user_sys_s"] = cpu[r]   # this process, per run (JSON only)
        if times[r] and r not in errors:
            med = statistics.median(times[r])
            row.update(nbytes=nbytes, median_s=med, gbps=nbytes / med / 1e9)
        rows.append(row)
    return rows


def add_ratio(rows, key, base):
    by = {row["reader"]: row for row in rows}
    b = by.get(base, {})
    for row in rows:
        if "median_s" in row and "median_s" in b:
            row[key] = b["median_s"] / row["median_s"]


def add_t1(rows):
    by = {row["reader"]: row for row in rows}
    t1, t2 = by.get("cw-t1", {}), by.get("cw-t2", {})
    if "median_s" in t1 and "median_s" in t2:
        t2["vs_t1"] = t1["median_s"] / t2["median_s"]


# --------------------------------------------------------------- peak RSS
def vm_hwm_kib():
    return br.vm_hwm_kib()

def run_one(spec: dict) -> dict:
    cmd = [sys.executable, SCRIPT, "--one", json.dumps(spec),
           "--tables-cache", str(TABLES_PARAMS.get("chunk_cache_size", 0) >> 20)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RSS ")), None)
    if p.returncode != 0 or line is None:
        err = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": err}
    return json.loads(line[4:])


def rss_peak_growth(m):
    """(peak MiB, growth MiB): the child's own high-water marks where Linux
    gives them (ru_maxrss may carry the parent's peak over fork/exec)."""
    if not m or "error" in m:
        return None
    after = m["vmhwm_after_kib"] or m["after_kib"]
    before = m["vmhwm_before_kib"] or m["before_kib"]
    return after / 1024, (after - before) / 1024


def paths_spec(p) -> dict:
    return {k: (str(v) if k == "dtype" else v) for k, v in p.items()
            if k in ("a", "b", "a_b2", "b_b2", "shape", "dtype", "chunks")}

# ------------------------------------------------------------------ output
def header(args) -> dict:
    try:
        ncpu_avail = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu_avail = os.cpu_count()
    info = {
        "cpu_count": os.cpu_count(), "cpus_available": ncpu_avail,
        "machine": platform.machine(), "python": platform.python_version(),
        "numpy": np.__version__, "numexpr": ne.__version__,
        "numexpr_threads": THREADS, "dask": dask.__version__,
        "h5py": h5py.__version__, "h5py_hdf5": h5py.version.hdf5_version,
        "hdf5plugin": hdf5plugin.version, "tables": tables.__version__,
        "tables_hdf5": tables.hdf5_version, "tables_params": dict(TABLES_PARAMS),
        "blosc2": blosc2.__version__, "blosc2_c": blosc2.VERSION_STRING,
        "chunkwise": cw.__version__, "chunkwise_core": cw._core.version_info(),
        "chunkwise_default": dict(cw.get_config()),
        "quick": args.quick, "sections": args.sections,
    }
    print("chunkwise expression benchmark: sqrt(a**2 + b**2) and reductions")
    print(f"  CPUs: {info['cpu_count']} ({ncpu_avail} available), "
          f"{info['machine']}, Python {info['python']}")
    print(f"  numpy {info['numpy']}, numexpr {info['numexpr']}, dask {info['dask']}, "
          f"h5py {info['h5py']} (HDF5 {info['h5py_hdf5']}), hdf5plugin "
          f"{info['hdf5plugin']}, tables {info['tables']} (HDF5 {info['tables_hdf5']}), "
          f"blosc2 {info['blosc2']} (C-Blosc2 {info['blosc2_c']})")
    print(f"  chunkwise {info['chunkwise']} ({info['chunkwise_core']}), "
          f"defaults {info['chunkwise_default']}")
    br.print_source(info)
    print(f"  threads: 2 everywhere (chunkwise also 1); median of N runs "
          f"(in-memory {args.repeat_inmem}, out of core {args.repeat_ooc}), "
          f"warm page cache")
    info["parallel_probe_start"] = br.parallel_probe()
    print(f"  CPU probe: 2 threads give {info['parallel_probe_start']:.2f}x the "
          f"throughput of 1 (2.0: both cores free)", flush=True)
    return info


def load_note(other):
    return ("" if other is None else
            f"; other processes busy {other:.2f} cores on average meanwhile")


def fmt(v, spec):
    return "" if v is None else format(v, spec)

def print_row(row, labels, ratios, m, extra=""):
    label = labels[row["reader"]]
    if "median_s" not in row:
        print(f"{label:<14} n/a: {row['error']}")
        return
    rs = " ".join(f"{fmt(row.get(k), '.2f'):>{w}}" for k, w in ratios)
    pg = rss_peak_growth(m)
    peak, grow = (f"{pg[0]:.0f}", f"{pg[1]:.0f}") if pg else (
        ("err", "") if m else ("", ""))
    print(f"{label:<14} {row['median_s']:>9.4f} {row['gbps']:>6.2f} {rs} "
          f"{fmt(row.get('vs_t1'), '.2f'):>6}{extra} {peak:>8} {grow:>6}  "
          f"{row.get('check') or ''}")

def print_rss_errors(rss, labels):
    for key, m in rss.items():
        if m and "error" in m:
            print(f"  peak RSS of {key}: {m['error']}")
