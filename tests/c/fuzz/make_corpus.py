"""Write the seed corpora of the fuzz harnesses (tests/c/fuzz/corpus/).

    .venv/bin/python tests/c/fuzz/make_corpus.py [--only H1,H2] [OUTDIR]

Each seed is a real stored chunk: small datasets are written with h5py,
hdf5plugin and PyTables (and with chunkwise's own encoders through
Array.to_hdf5) to files in a temporary folder, and their chunks read back
raw with h5py's read_direct_chunk.  Each harness's input format (the
comment at the top of its source) is built around them: the decoded size
before a codec's stored chunk, the address sizes and object header
address before a whole file for fuzz_h5index, and so on.  The output is
deterministic (fixed data and seeds; only the files PyTables writes
differ from run to run) and small: seeds over MAX_BYTES are
left out, and none but fuzz_h5index's (whole files) come near it.
"""
import hashlib
import os
import shutil
import struct
import sys
import tempfile

import h5py
import hdf5plugin
import numpy as np
import tables

import chunkwise as cw

MAX_BYTES = 4096        # stored chunks
MAX_FILE_BYTES = 16384  # whole files of fuzz_h5index
MAX_SEEDS = 40
DTYPE_CODES = {  # the order of CW_DTYPE_MAP in include/chunkwise.h
    "bool": 0, "int8": 1, "int16": 2, "int32": 3, "int64": 4, "uint8": 5,
    "uint16": 6, "uint32": 7, "uint64": 8, "float16": 9, "float32": 10,
    "float64": 11, "complex64": 12, "complex128": 13,
}


def samples():
    """Small arrays of the kinds stored chunks hold: ramps, runs, noise."""
    rng = np.random.default_rng(7)
    yield np.arange(600, dtype="<i4")
    yield (np.arange(300, dtype="<f8") * 0.25).astype(">f8")
    yield np.repeat(np.arange(20, dtype="u1"), 50)
    yield rng.integers(0, 4, 900).astype("<u2")
    yield np.sin(np.arange(256, dtype="<f4") / 9)
    yield rng.integers(0, 2**62, 120).astype("<i8")
    yield (np.arange(100) % 7 == 0)
    yield (np.arange(64) + 1j * np.arange(64)).astype("<c8")


def chunks_of(path, name):
    """(decoded size, dtype, stored bytes) of every compressed chunk."""
    out = []
    with h5py.File(path, "r") as f:
        ds = f[name]
        nbytes = int(np.prod(ds.chunks)) * ds.dtype.itemsize
        for i in range(ds.id.get_num_chunks()):
            info = ds.id.get_chunk_info(i)
            mask, data = ds.id.read_direct_chunk(info.chunk_offset)
            out.append((mask, nbytes, ds.dtype, bytes(data)))
    return out


class Corpus:
    """Seeds per harness, written at the end: at most MAX_SEEDS of each,
    spread evenly over the candidates (they come in writer, codec and
    data order, so the spread keeps every kind)."""

    def __init__(self, root):
        self.root = root
        self.seeds = {}

    def add(self, harness, data, limit=MAX_BYTES):
        if len(data) <= limit:
            seen = self.seeds.setdefault(harness, {})
            seen.setdefault(hashlib.sha1(data).hexdigest()[:16], data)

    def write(self, only=None):
        for harness, seeds in sorted(self.seeds.items()):
            if only and harness not in only:
                continue
            d = os.path.join(self.root, harness)
            if os.path.isdir(d):
                shutil.rmtree(d)
            os.makedirs(d)
            items = list(seeds.items())
            step = max(1, len(items) / MAX_SEEDS)
            keep = [items[int(i * step)] for i in range(min(MAX_SEEDS, len(items)))]
            for name, data in keep:
                with open(os.path.join(d, name), "wb") as fp:
                    fp.write(data)
            print(f"{harness}: {len(keep)} seeds of {len(items)}")


def codec_files(tmp):
    """(codec harness, path, dataset) of files written by other tools and
    by chunkwise's own encoders."""
    filters = {
        "deflate": [dict(compression="gzip", compression_opts=k) for k in (1, 6, 9)]
        + [dict(compression="gzip", shuffle=True)],
        "zstd": [dict(**hdf5plugin.Zstd(clevel=k)) for k in (1, 5, 19)],
        "lz4": [dict(**hdf5plugin.LZ4(nbytes=k)) for k in (0, 512, 1024)],
        "lzf": [dict(compression="lzf"), dict(compression="lzf", shuffle=True)],
        "bzip2": [dict(**hdf5plugin.BZip2(blocksize=k)) for k in (1, 9)],
        "blosc_frame": [dict(**hdf5plugin.Blosc(cname=c, clevel=5, shuffle=s))
                        for c in ("blosclz", "lz4", "lz4hc", "zlib", "zstd")
                        for s in (hdf5plugin.Blosc.NOSHUFFLE, hdf5plugin.Blosc.SHUFFLE)],
        "bitshuffle": [dict(**hdf5plugin.Bitshuffle(cname=c)) for c in ("none", "lz4", "zstd")],
        "blosc2": [dict(**hdf5plugin.Blosc2(cname=c, clevel=5, filters=s))
                   for c in ("blosclz", "lz4", "zstd")
                   for s in (hdf5plugin.Blosc2.NOFILTER, hdf5plugin.Blosc2.SHUFFLE,
                             hdf5plugin.Blosc2.BITSHUFFLE)],
    }
    n = 0
    for harness, opts in filters.items():
        for o in opts:
            for a in samples():
                n += 1
                path = os.path.join(tmp, f"f{n}.h5")
                with h5py.File(path, "w") as f:
                    f.create_dataset("a", data=a, chunks=(max(1, a.size // 3),), **o)
                yield harness, path, "a"
    # PyTables' bzip2 and Blosc filters.
    for complib in ("bzip2", "blosc:lz4", "blosc:zstd"):
        for a in samples():
            if a.dtype.kind == "c" or a.dtype.byteorder == ">":
                continue
            n += 1
            path = os.path.join(tmp, f"t{n}.h5")
            with tables.open_file(path, "w") as t:
                t.create_carray("/", "a", obj=a, chunkshape=(max(1, a.size // 2),),
                                filters=tables.Filters(complevel=5, complib=complib))
            yield ("bzip2" if complib == "bzip2" else "blosc_frame"), path, "a"
    # chunkwise's own encoders.
    own = {"gzip": "deflate", "zstd": "zstd", "lz4": "lz4", "lzf": "lzf",
           "bzip2": "bzip2", "blosc-lz4": "blosc_frame", "blosc-zstd": "blosc_frame",
           "blosc-blosclz": "blosc_frame", "bitshuffle": "bitshuffle",
           "bitshuffle-lz4": "bitshuffle", "bitshuffle-zstd": "bitshuffle",
           "blosc2-lz4": "blosc2", "blosc2-zstd": "blosc2"}
    for comp, harness in own.items():
        for k, a in enumerate(samples()):
            if k % 2:
                continue
            n += 1
            path = os.path.join(tmp, f"c{n}.h5")
            shuffle = True if comp.startswith("bitshuffle") else bool(k % 4)
            cw.asarray(a).to_hdf5(path, "a", chunks=(max(1, a.size // 3),),
                                  compression=comp, shuffle=shuffle)
            yield harness, path, "a"


BSHUF_ELEMENT_SIZES = (1, 2, 3, 4, 8, 16)   # fuzz_bitshuffle.c's elem_sizes
BSHUF_COMPRESSORS = {0: 0, 2: 1, 3: 2}     # filter's cd_values[4]: none, LZ4, Zstd


def bitshuffle_seed(path, name, dtype, data):
    """fuzz_bitshuffle's input: element size, compressor and block size
    (as the dataset's filter has them), then the stored chunk."""
    with h5py.File(path, "r") as f:
        plist = f[name].id.get_create_plist()
        for i in range(plist.get_nfilters()):
            code, _, values, _ = plist.get_filter(i)
            if code == 32008:
                break
    comp = BSHUF_COMPRESSORS.get(values[4] if len(values) > 4 else 0, 0)
    block = values[3] // 8 if len(values) > 3 and values[3] in (8, 16, 24) else 0
    return bytes([BSHUF_ELEMENT_SIZES.index(dtype.itemsize), comp, block, 0]) + data


def h5index_seed(path, name):
    with h5py.File(path, "r") as f:
        ds = f[name]
        fcpl = f.id.get_create_plist()
        sa, sl = fcpl.get_sizes()
        ublock = fcpl.get_userblock()
        addr = h5py.h5o.get_info(ds.id).addr
        head = struct.pack("<BBBBQQ", sa, sl, ds.ndim, 0, addr, ublock)
        for n, c in zip(ds.shape, ds.chunks):
            head += struct.pack("<II", c, -(-n // c))
    with open(path, "rb") as fp:
        return head + fp.read()


def index_files(tmp):
    """Small chunked files of several shapes, index kinds and writers."""
    n = 0
    cases = [((10,), (5,), {}), ((7, 9), (3, 4), {}), ((4, 3, 5), (2, 2, 2), {}),
             ((130,), (1,), {}), ((12,), (5,), dict(maxshape=(None,))),
             ((6, 6), (6, 6), dict(fillvalue=3)), ((8,), (3,), dict(compression="gzip"))]
    for libver in ("earliest", "latest"):
        for shape, chunks, kw in cases:
            n += 1
            path = os.path.join(tmp, f"i{n}.h5")
            with h5py.File(path, "w", libver=libver) as f:
                f.create_dataset("x", data=np.arange(int(np.prod(shape)), dtype="u1")
                                 .reshape(shape), chunks=chunks, **kw)
            yield path, "x"
    # A dataset with chunks never written, and one grown after writing.
    n += 1
    path = os.path.join(tmp, f"i{n}.h5")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", shape=(20,), dtype="u1", chunks=(4,))
        d[0:4] = 1
        d[12:16] = 2
    yield path, "x"
    n += 1
    path = os.path.join(tmp, f"i{n}.h5")
    with h5py.File(path, "w", userblock_size=512) as f:
        d = f.create_dataset("x", data=np.arange(9, dtype="u1"), chunks=(2,),
                             maxshape=(None,))
        d.resize((15,))
    yield path, "x"
    n += 1
    path = os.path.join(tmp, f"i{n}.h5")
    with tables.open_file(path, "w") as t:
        t.create_carray("/", "x", obj=np.arange(40, dtype="u1").reshape(5, 8),
                        chunkshape=(2, 4))
    yield path, "x"


def stream_seed(rng, dtype, nbytes, stored, blosc, swap):
    code = DTYPE_CODES[np.dtype(dtype).name]
    nelem = nbytes // np.dtype(dtype).itemsize
    head = bytes([(code << 2) | (2 if swap else 0) | (1 if blosc else 0)])
    head += struct.pack("<I", nelem)[:3]
    for _ in range(4):
        e0 = int(rng.integers(0, nelem + 1))
        head += struct.pack("<HH", e0, int(rng.integers(0, nelem - e0 + 1)))
    return head + stored


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:     # --only H1,H2: rewrite those harnesses' seeds only
        k = args.index("--only")
        only = set(args[k + 1].split(","))
        del args[k:k + 2]
    out = args[0] if args else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    rng = np.random.default_rng(3)
    corpus = Corpus(out)
    tmp = tempfile.mkdtemp(prefix="cw-corpus-")
    try:
        for harness, path, name in codec_files(tmp):
            for mask, nbytes, dtype, data in chunks_of(path, name):
                if mask != 0:
                    continue  # stored raw: nothing for the codec
                if harness == "blosc_frame":
                    corpus.add(harness, data)
                    swap = dtype.byteorder == ">"
                    corpus.add("chunk_stream",
                               stream_seed(rng, dtype.newbyteorder("="), nbytes, data,
                                           True, swap))
                elif harness == "bitshuffle":
                    corpus.add(harness, bitshuffle_seed(path, name, dtype, data))
                elif harness == "blosc2":
                    corpus.add(harness, data)
                else:
                    corpus.add(harness, struct.pack("<I", nbytes) + data)
        for path, name in index_files(tmp):
            corpus.add("h5index", h5index_seed(path, name), MAX_FILE_BYTES)
        # Raw chunks for the stream, and plain data of every element size
        # for the shuffle (first byte: element size - 1; two range bytes).
        for a in samples():
            raw = np.ascontiguousarray(a).tobytes()[:2048]
            dt = a.dtype.newbyteorder("=")
            raw = raw[: len(raw) // dt.itemsize * dt.itemsize]
            corpus.add("chunk_stream",
                       stream_seed(rng, dt, len(raw), raw, False, a.dtype.byteorder == ">"))
            for ts in (a.dtype.itemsize, 3, 16):
                corpus.add("shuffle", bytes([ts - 1, 5, 200]) + raw[:1500])
            # Plain data for the Blosc encoders (first two bytes: codec,
            # shuffle and level; element size and where the feed is cut).
            for k in range(4):
                corpus.add("blosc_roundtrip",
                           bytes([k * 0x45 & 0xff, a.dtype.itemsize - 1 + 16 * k]) + raw[:3000])
    finally:
        shutil.rmtree(tmp)
    corpus.write(only)


if __name__ == "__main__":
    main()
