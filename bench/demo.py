"""The demo (``./dev demo``, or ``python bench/demo.py``): the main job on a
default dataset.

Generates (once, cached) a compressible multi-GB Blosc HDF5 dataset, opens
it with chunkwise under a memory_limit 8x smaller than the data, computes
reductions and streams two derived datasets to a file in bounded memory,
reads a few slices, prints the peak RSS next to memory_limit, then reads all
of it into one ndarray (by request) and checks every result against NumPy.
The dataset is written with h5py + hdf5plugin, the way most Blosc HDF5
files in the wild are made.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time

import numpy as np

import chunkwise as cw

__all__ = ["generate", "main", "run"]

ROWS, COLS, CHUNK_ROWS = 500_000, 1000, 1000   # 2 GB of float32, 4 MB chunks


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def field(i0: int, i1: int, cols: int = COLS) -> np.ndarray:
    """Rows i0:i1 of a smooth float32 field quantised to 0.01 (Blosc-LZ4
    with shuffle stores it about 5x smaller)."""
    i = np.arange(i0, i1, dtype=np.float32)[:, None]
    j = np.arange(cols, dtype=np.float32)[None, :]
    v = 15 + 10 * np.sin(j * (2 * np.pi / cols) + i * 1e-4, dtype=np.float32)
    return np.round(v, 2)


def generate(path: str, rows: int = ROWS, cols: int = COLS,
             chunk_rows: int = CHUNK_ROWS) -> None:
    """Write the demo dataset "/field" to ``path`` (atomically)."""
    try:
        # Only generating the dataset needs them (a cached one does not).
        import h5py
        import hdf5plugin
    except ImportError as e:  # pragma: no cover - the dev set-up installs them
        raise SystemExit(f"the demo needs h5py and hdf5plugin to generate "
                         f"its dataset ({e}); run ./dev demo") from None
    tmp = path + ".tmp"
    slab = chunk_rows * max(1, 64 * 2**20 // (chunk_rows * cols * 4))
    with h5py.File(tmp, "w") as f:
        d = f.create_dataset("field", shape=(rows, cols), dtype="f4",
                             chunks=(chunk_rows, cols),
                             **hdf5plugin.Blosc(cname="lz4", clevel=5,
                                                shuffle=hdf5plugin.Blosc.SHUFFLE))
        for r0 in range(0, rows, slab):
            r1 = min(rows, r0 + slab)
            d[r0:r1] = field(r0, r1, cols)
    os.replace(tmp, path)


def _timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t0


def run(args) -> int:
    os.makedirs(args.data_dir, exist_ok=True)
    path = os.path.join(args.data_dir, f"demo-{args.rows}x{COLS}.h5")
    if not os.path.exists(path):
        print(f"generating {path}: {args.rows} x {COLS} float32 "
              f"({args.rows * COLS * 4 / 1e9:.1f} GB), Blosc-LZ4 ...", flush=True)
        # In a child process, so that this one's peak RSS is chunkwise's.
        child = multiprocessing.get_context("spawn").Process(target=generate,
                                                             args=(path, args.rows))
        _, t = _timed(lambda: (child.start(), child.join()))
        if child.exitcode != 0:
            raise SystemExit(f"generating {path} failed")
        print(f"  generated in {t:.1f} s")
    else:
        print(f"using cached {path}")
    cw.config(memory_limit=args.memory_limit << 20,
              **({"threads": args.threads} if args.threads else {}))
    cfg = cw.get_config()
    limit = cfg["memory_limit"] >> 20
    print(f"chunkwise {cw.__version__}: {cw._core.version_info()}; "
          f"threads={cfg['threads']}, memory_limit={limit} MiB")
    base = _peak_mib()

    a = cw.open(path, "/field")
    size = os.path.getsize(path)
    print(f"opened  {a}")
    print(f"        {a.nbytes >> 20} MiB of data ({a.nbytes / 2**20 / limit:.0f}x "
          f"memory_limit), on disk {size / 1e9:.2f} GB, compression ratio "
          f"{a.nbytes / size:.2f}")
    gb = a.nbytes / 1e9

    print("-- out of core: every result below is small or streamed to a file")
    (mean, std), t = _timed(lambda: cw.compute(a.mean(), a.std()))
    print(f"reduce  a.mean(), a.std() in one pass     {t:6.2f} s  {gb / t:5.2f} GB/s  "
          f"mean {mean:.4f}, std {std:.4f}")
    e = np.sqrt(a * a + 1.0).mean(axis=0)
    m, t = _timed(e.compute)
    print(f"reduce  sqrt(a*a + 1).mean(axis=0)        {t:6.2f} s  {gb / t:5.2f} GB/s  "
          "(one fused kernel per chunk)")
    out = os.path.join(args.data_dir, "demo-derived.h5")
    z = (a - mean) / std
    _, t = _timed(lambda: z.to_hdf5(out, "/anomaly", compression="blosc-zstd", level=3,
                                    overwrite=True))
    print(f"store   (a - mean) / std -> {os.path.basename(out)}  {t:6.2f} s  "
          f"{gb / t:5.2f} GB/s of input, blosc-zstd")
    view = a[::2, ::-1]
    _, t = _timed(lambda: view.to_hdf5(out, "/field_half_reversed",
                                       compression="blosc-zstd", level=3,
                                       overwrite=True))
    print(f"store   a[::2, ::-1] -> {os.path.basename(out)}     {t:6.2f} s  "
          f"{view.nbytes / 1e9 / t:5.2f} GB/s of input")
    n = a.shape[0]
    slices = {
        "rows [1000:21000]": (slice(1000, 21000), slice(None)),
        "cols [:, 500:510]": (slice(None), slice(500, 510)),
        "strided [::50, ::7]": (slice(None, None, 50), slice(None, None, 7)),
        "reversed [-5000:, ::-1]": (slice(n - 5000, None), slice(None, None, -1)),
    }
    parts = {}
    for label, key in slices.items():
        cw.reset_stats()
        parts[label], t = _timed(lambda: a[key].compute())
        print(f"slice   {label:34s}{t:6.2f} s  {parts[label].nbytes / 1e6:8.1f} MB  "
              f"({cw.stats()['chunks_read']} chunks read)")
    bounded = _peak_mib()
    print(f"peak memory (RSS) so far {bounded:.0f} MiB: {base:.0f} MiB at start + "
          f"{bounded - base:.0f} MiB, within memory_limit ({limit} MiB) + "
          f"the slices ({sum(p.nbytes for p in parts.values()) >> 20} MiB)")

    print("-- materialised: the whole dataset as one ndarray, by request")
    cw.reset_stats()
    x, t = _timed(a.compute)
    print(f"read    all into a new array              {t:6.2f} s  {gb / t:5.2f} GB/s  "
          f"({cw.stats()['chunks_read']} chunks)")
    del x
    x, t = _timed(a.compute)
    print(f"read    all into a new array again        {t:6.2f} s  {gb / t:5.2f} GB/s")
    _, t = _timed(lambda: a.compute(out=x))
    print(f"read    all into the same array           {t:6.2f} s  {gb / t:5.2f} GB/s")
    for label, key in slices.items():
        assert np.array_equal(parts[label], x[key]), label
    b = cw.open(out, "/field_half_reversed")
    assert np.array_equal(b[:100].compute(), x[:200:2, ::-1])
    assert np.allclose(m, np.sqrt(x * x + 1.0).mean(axis=0), rtol=1e-4)
    assert np.isclose(mean, x.mean(dtype=np.float64), rtol=1e-5)
    print(f"checked against NumPy on the materialised array; peak memory (RSS) "
          f"{_peak_mib():.0f} MiB, of which the result array {x.nbytes >> 20} MiB")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="./dev demo",
                                description="Generate a multi-GB dataset once, then "
                                            "read, slice and rewrite it, printing "
                                            "timings.")
    p.add_argument("--data-dir", default="data",
                   help="where the generated dataset is cached (default: ./data)")
    p.add_argument("--rows", type=int, default=ROWS,
                   help=f"rows of {COLS} float32 (default {ROWS}: 2 GB)")
    p.add_argument("--threads", type=int, default=None, help="worker threads")
    p.add_argument("--memory-limit", type=int, default=256, metavar="MIB",
                   help="chunkwise's memory_limit in MiB (default 256: the default "
                        "dataset is 8x larger)")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
