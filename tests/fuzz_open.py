"""atheris harness: chunkwise opening and reading mutated HDF5 files.

    python tests/fuzz_open.py --seeds DIR         write the seed files
    python tests/fuzz_open.py [libFuzzer args] CORPUS... (./dev fuzz-py)

Each input is a whole HDF5 file (a few kB).  The seeds are files h5py
writes with the filters chunkwise decodes natively: Blosc-LZ4,
gzip+shuffle, Blosc-Zstd+bitshuffle, LZ4 and Zstd (hdf5plugin), in 1-d
and 2-d, integer and float.  The target writes the input to a file, opens
its dataset /x with cw.open and reads it (all of it, a strided
slice, a sum), under a memory_limit of 64 MiB.  Any outcome but values or
one of the exceptions a corrupt file may give (OSError, ValueError,
KeyError, TypeError, IndexError, CorruptChunkError, MemoryBudgetError) is
a failure: a crash, a sanitizer report, another exception, or a hang
(libFuzzer's -timeout).  Files whose metadata HDF5 1.14 refuses are left
out (hdf5_accepts): Debian 12's HDF5 1.10.8 crashes on some of them.
"""
from __future__ import annotations

import os
import sys
import tempfile

import atheris
import numpy as np

with atheris.instrument_imports(include=["chunkwise"]):
    import chunkwise as cw

EXPECTED = (OSError, ValueError, KeyError, TypeError, IndexError, cw.CorruptChunkError,
            cw.MemoryBudgetError)
# An ndarray asked for whole is the caller's memory, beyond memory_limit:
# only datasets up to this size are read whole.
WHOLE_LIMIT = 16 << 20
PATH = os.path.join(tempfile.mkdtemp(prefix="chunkwise-fuzz-py-"), "input.h5")


def write_seeds(folder):
    """Small files h5py writes with each filter."""
    import h5py
    import hdf5plugin
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(3)
    filters = {
        "blosc-lz4": hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE),
        "gzip-shuffle": dict(compression="gzip", shuffle=True),
        "blosc-zstd-bitshuffle": hdf5plugin.Blosc(cname="zstd", clevel=5,
                                                  shuffle=hdf5plugin.Blosc.BITSHUFFLE),
        "lz4": hdf5plugin.LZ4(),
        "zstd": hdf5plugin.Zstd(clevel=3),
    }
    data = {"i4": np.arange(96, dtype="<i4").reshape(12, 8) % 17,
            "f8": rng.standard_normal(40),
            "u2": (rng.integers(0, 300, (6, 10))).astype(">u2")}
    for name, kw in filters.items():
        for key, x in data.items():
            chunks = tuple(max(1, n // 3) for n in x.shape)
            with h5py.File(os.path.join(folder, f"{name}-{key}.h5"), "w",
                           libver=("earliest", "v110")) as f:
                f.create_dataset("x", data=x, chunks=chunks, **dict(kw))
    return sorted(os.listdir(folder))


def read_all(path):
    """Every seed's dataset is /x; what a mutation renames is not found
    (KeyError)."""
    try:
        a = cw.open(path, "x")
        if a.nbytes <= WHOLE_LIMIT:
            a.compute()
            a[::2].compute()
        if a.ndim and a.size and np.issubdtype(a.dtype, np.number):
            a.sum().compute()
    except EXPECTED:
        pass


def hdf5_accepts(path) -> bool:
    """Whether h5py's HDF5 (1.14, bundled with its wheel) reads the file's
    metadata: /x's shape, type, chunks and filters; no chunk is read.
    libhdf5 1.10.8 (Debian 12), which chunkwise is built on, crashes inside
    its own metadata code on some corrupt files that 1.14 refuses (h5dump
    of Debian 12 crashes on them too, in H5F__accum_read from H5Lexists,
    for one): those are HDF5's bugs, not chunkwise's, and are left out.
    The chunks, chunkwise's own decoders, stay fully exposed."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            d = f["x"]
            d.shape, d.dtype, d.chunks, d.compression, d.id.get_create_plist().get_nfilters()
            d.id.get_offset(), d.id.get_storage_size()
            if d.chunks is not None:
                d.id.get_num_chunks()
        return True
    except Exception:
        return False


def TestOneInput(data: bytes):
    with open(PATH, "wb") as f:
        f.write(data)
    if hdf5_accepts(PATH):
        read_all(PATH)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--seeds":
        print("\n".join(write_seeds(sys.argv[2])))
        return
    cw.config(threads=2, memory_limit="64MiB")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
