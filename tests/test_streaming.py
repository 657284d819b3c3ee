"""Streamed evaluation: expressions, reductions and stores over Blosc chunks
read block by block and written block by block.

Inputs are written by h5py + hdf5plugin and by PyTables with every Blosc
codec, shuffle mode and several levels (so block sizes, split and unsplit
blocks, short last blocks); results must equal NumPy's exactly, and stored
results must read back identically in h5py and PyTables.
"""
import itertools
import subprocess
import sys
import textwrap
import json

import h5py
import hdf5plugin
import numpy as np
import pytest
import tables

import chunkwise as cw

CODECS = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
SHUFFLES = {"none": hdf5plugin.Blosc.NOSHUFFLE, "byte": hdf5plugin.Blosc.SHUFFLE,
            "bit": hdf5plugin.Blosc.BITSHUFFLE}
CASES = [
    # dtype, shape, chunks
    ("<f8", (301, 257), (64, 100)),
    ("<f4", (70_001,), (70_001,)),
    ("<i2", (9, 33, 70), (4, 16, 70)),
    ("u1", (1000, 300), (1000, 300)),
    (">i4", (250, 130), (100, 130)),
    ("<i8", (3000,), (512,)),
]


def values(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        # Half smooth (compressible), half noise: frames with both
        # compressed and raw streams.
        x = np.round(rng.standard_normal(shape) * 50, 1)
        flat = x.reshape(-1)
        flat[flat.size // 2:] = rng.standard_normal(flat.size - flat.size // 2)
        return x.astype(dt)
    info = np.iinfo(dt)
    lo, hi = max(info.min, -1000), min(info.max, 1000)
    x = rng.integers(lo, hi, size=shape, endpoint=True)
    x.reshape(-1)[: x.size // 3] = 7
    return x.astype(dt)


@pytest.fixture(scope="module")
def h5plugin_files(tmp_path_factory):
    """One file per (case, codec, shuffle, level), written by h5py."""
    root = tmp_path_factory.mktemp("stream")
    out = {}
    for ci, (dtype, shape, chunks) in enumerate(CASES):
        a, b = values(dtype, shape, 2 * ci), values(dtype, shape, 2 * ci + 1)
        for codec, (sname, shuf), level in itertools.product(
                CODECS, SHUFFLES.items(), (1, 5, 9)):
            path = root / f"c{ci}-{codec}-{sname}-{level}.h5"
            with h5py.File(path, "w") as f:
                opts = hdf5plugin.Blosc(cname=codec, clevel=level, shuffle=shuf)
                f.create_dataset("a", data=a, chunks=chunks, **opts)
                f.create_dataset("b", data=b, chunks=chunks, **opts)
            out[ci, codec, sname, level] = (path, a, b)
    return out


@pytest.mark.parametrize("ci", range(len(CASES)))
@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("shuffle", list(SHUFFLES))
def test_expression_and_reductions_match_numpy(h5plugin_files, ci, codec, shuffle):
    for level in (1, 5, 9):
        path, x, y = h5plugin_files[ci, codec, shuffle, level]
        a, b = cw.open(path, "a"), cw.open(path, "b")
        with np.errstate(over="ignore"):
            ref = x * 3 - y
            got = (a * 3 - b).compute()
        assert got.dtype == ref.dtype
        np.testing.assert_array_equal(got, ref)
        # A view: rows cut inside chunks, a step along the last axis.
        sl = (slice(1, None),) + (slice(None, None, 3),) * (x.ndim - 1)
        np.testing.assert_array_equal((a[sl] + b[sl]).compute(), x[sl] + y[sl])
        # Reductions straight from the decoded blocks.
        np.testing.assert_array_equal(a.max(axis=0).compute(), x.max(axis=0))
        if x.dtype.kind in "iu":
            assert int(a.sum(dtype="i8").compute()) == int(x.sum(dtype="i8"))
        else:
            rtol = 1e-6 if x.dtype.itemsize == 4 else 1e-12
            np.testing.assert_allclose(a.sum().compute(), x.sum(dtype="f8"), rtol=rtol)


@pytest.mark.parametrize("ci", range(len(CASES)))
@pytest.mark.parametrize("codec", CODECS)
def test_store_reads_back_everywhere(h5plugin_files, tmp_path, ci, codec):
    path, x, y = h5plugin_files[ci, "lz4", "byte", 5]
    a, b = cw.open(path, "a"), cw.open(path, "b")
    with np.errstate(over="ignore"):
        ref = (x * 2 + y).astype(x.dtype.newbyteorder("="))
    for level, shuffle in [(1, False), (5, True), (9, True)]:
        out = tmp_path / f"r{level}.h5"
        (a * 2 + b).to_hdf5(out, "r", compression="blosc-" + codec, level=level,
                            shuffle=shuffle)
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["r"][...], ref)
        with tables.open_file(str(out)) as f:
            np.testing.assert_array_equal(f.get_node("/r")[...], ref)
        np.testing.assert_array_equal(cw.open(out, "r").compute(), ref)


def test_incompressible_store_round_trips(tmp_path):
    """Random bytes: every block is stored raw inside the frame."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2**63, size=(1000, 700), dtype="u8").view("f8")
    x[~np.isfinite(x)] = 0
    src = cw.asarray(x, chunks=(300, 700))
    for codec in ["lz4", "zstd", "zlib", "lz4hc"]:
        out = tmp_path / f"{codec}.h5"
        (src + 0.0).to_hdf5(out, "r", compression="blosc-" + codec)
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["r"][...], x + 0.0)


def test_pytables_blosc_inputs(tmp_path):
    """PyTables' own Blosc writer (default BloscLZ, and LZ4/Zstd)."""
    x = values("<f8", (2000, 150), 11)
    y = values("<f8", (2000, 150), 12)
    for complib in ["blosc", "blosc:lz4", "blosc:zstd", "blosc:zlib"]:
        path = str(tmp_path / (complib.replace(":", "-") + ".h5"))
        filters = tables.Filters(complevel=5, complib=complib, shuffle=True)
        with tables.open_file(path, "w") as f:
            f.create_carray("/", "a", obj=x, filters=filters, chunkshape=(300, 150))
            f.create_carray("/", "b", obj=y, filters=filters, chunkshape=(300, 150))
        a, b = cw.open(path, "/a"), cw.open(path, "/b")
        np.testing.assert_array_equal(np.hypot(a, b).compute(), np.hypot(x, y))
        np.testing.assert_allclose(np.mean(a * b, axis=0).compute(),
                                   np.mean(x * y, axis=0), rtol=1e-12)


def test_unfiltered_and_unallocated_chunks_stream(tmp_path):
    path = tmp_path / "raw.h5"
    x = np.arange(40 * 50, dtype="<f4").reshape(40, 50)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("a", shape=(40, 50), chunks=(16, 50), dtype="<f4",
                             fillvalue=-2.5)
        d[:16] = x[:16]          # chunks 1 and 2 never written: fill value
        f.create_dataset("b", data=x, chunks=(16, 50))
    a, b = cw.open(path, "a"), cw.open(path, "b")
    ref = np.where(np.arange(40)[:, None] < 16, x, np.float32(-2.5))
    np.testing.assert_array_equal((a + b).compute(), ref + x)
    assert float(a.sum().compute()) == float(ref.sum(dtype="f8"))


def lz4_file_to_garble(path, seed):
    """A 400 x 1000 float64 dataset "a" in 100-row Blosc-LZ4 chunks; returns
    the data and the file offset of each chunk, for tests to garble."""
    x = np.round(np.random.default_rng(seed).standard_normal((400, 1000)), 2)
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=x, chunks=(100, 1000),
                         **hdf5plugin.Blosc(cname="lz4", clevel=5))
    with h5py.File(path, "r") as f:
        offsets = [f["a"].id.get_chunk_info(k).byte_offset for k in range(4)]
    return x, offsets


def test_corrupt_block_names_the_chunk(tmp_path):
    path = tmp_path / "bad.h5"
    x, offsets = lz4_file_to_garble(path, 3)
    with open(path, "r+b") as fh:
        # The first stream's length (after the header and the block
        # offsets): raw streams carry no check, a wrong length is caught.
        fh.seek(offsets[1])
        head = fh.read(16)
        nbytes, blocksize = (int.from_bytes(head[k:k + 4], "little") for k in (4, 8))
        fh.seek(offsets[1] + 16 + 4 * (-(-nbytes // blocksize)))
        fh.write(b"\xff\xff\xff\x7f")
    a = cw.open(path, "a")
    with pytest.raises(cw.CorruptChunkError, match=r"chunk \(1, 0\)"):
        (a * 2).compute()
    with pytest.raises(cw.CorruptChunkError, match=r"chunk \(1, 0\)"):
        a.sum().compute()
    np.testing.assert_array_equal((a[200:] * 2).compute(), x[200:] * 2)


def test_stream_store_memory_is_blocks_not_chunks(tmp_path):
    """With 16 MiB chunks, a store of a fused expression holds per thread
    the compressed output chunk and a Blosc block per input: far less than
    the decoded chunks a task would otherwise need (2 threads x 4 x 16 MiB)."""
    path = tmp_path / "in.h5"
    n, c = 8192, 2048                      # chunks of 1024 x 2048 float64
    code = textwrap.dedent(f"""
        import json, resource
        import numpy as np, chunkwise as cw
        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        cw.config(threads=2)
        i = cw.arange({n}, dtype="f8")[:, None]
        j = cw.arange({c}, dtype="f8")[None, :]
        (i + j).to_hdf5({str(path)!r}, "a", chunks=(1024, {c}))
        (i - j).to_hdf5({str(path)!r}, "b", chunks=(1024, {c}))
        a, b = cw.open({str(path)!r}, "a"), cw.open({str(path)!r}, "b")
        np.sqrt(a[:8] ** 2 + b[:8] ** 2).compute()
        base = peak()
        np.sqrt(a ** 2 + b ** 2).to_hdf5({str(tmp_path / "r.h5")!r}, "r")
        store = peak()
        s = float(np.sqrt(a ** 2 + b ** 2).sum())
        red = peak()
        print(json.dumps({{"base": base, "store": store, "red": red, "s": s}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ii, jj = np.meshgrid(np.arange(n, dtype="f8"), np.arange(c, dtype="f8"),
                         indexing="ij")
    np.testing.assert_allclose(r["s"], np.sqrt((ii + jj) ** 2 + (ii - jj) ** 2).sum(),
                               rtol=1e-12)
    chunk = 1024 * c * 8
    assert r["store"] - r["base"] < 2 * chunk, r
    assert r["red"] - r["base"] < 2 * chunk, r
    with h5py.File(tmp_path / "r.h5", "r") as f:
        np.testing.assert_array_equal(f["r"][:3], np.sqrt((ii[:3] + jj[:3]) ** 2 +
                                                           (ii[:3] - jj[:3]) ** 2))


def test_mixed_layouts_stream_or_fall_back(tmp_path):
    """Inputs with other chunk grids, broadcast rows, transposes, steps, a
    shuffle filter before Blosc and gzip, in one expression, and stores
    with chunks other than the tiles: every combination equals NumPy."""
    rng = np.random.default_rng(9)
    x = np.round(rng.standard_normal((240, 180)), 3)
    y = np.round(rng.standard_normal((240, 180)), 3)
    row = np.round(rng.standard_normal(180), 3)
    sq = np.round(rng.standard_normal((180, 240)), 3)
    path = tmp_path / "mixed.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(64, 100),
                         **hdf5plugin.Blosc(cname="lz4", clevel=5))
        f.create_dataset("y", data=y, chunks=(50, 37),
                         **hdf5plugin.Blosc(cname="zstd", clevel=1))
        f.create_dataset("row", data=row, chunks=(60,),
                         **hdf5plugin.Blosc(cname="lz4", clevel=9))
        f.create_dataset("t", data=sq, chunks=(90, 80),
                         **hdf5plugin.Blosc(cname="lz4", clevel=5))
        f.create_dataset("s", data=y, chunks=(64, 100), shuffle=True,
                         **hdf5plugin.Blosc(cname="lz4", clevel=5,
                                            shuffle=hdf5plugin.Blosc.NOSHUFFLE))
        f.create_dataset("g", data=x, chunks=(64, 100), compression="gzip")
    a, b, r, t, s, g = (cw.open(path, n) for n in ("x", "y", "row", "t", "s", "g"))
    cases = [
        (a + b, x + y),
        (a * r - b, x * row - y),
        (a + t.T, x + sq.T),
        (a[::2, 1::3] * b[1::2, ::3], x[::2, 1::3] * y[1::2, ::3]),
        (s - g + a, y - x + x),
        (np.hypot(a[10:200], s[10:200]), np.hypot(x[10:200], y[10:200])),
    ]
    for got, want in cases:
        np.testing.assert_array_equal(got.compute(), want)
        np.testing.assert_array_equal(got.max(axis=1).compute(), want.max(axis=1))
        np.testing.assert_allclose(got.sum(axis=0).compute(), want.sum(axis=0),
                                   rtol=1e-12, atol=1e-12)
    for chunks in [None, (37, 50), (240, 180), (1, 180)]:
        out = tmp_path / f"o{chunks}.h5"
        (a * r - b).to_hdf5(out, "r", chunks=chunks, compression="blosc-lz4")
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["r"][...], x * row - y)


def test_level_zero_stores_raw(tmp_path):
    """Level 0 asks for no compression: chunks are stored raw, the filter
    skipped, as the reference filter does."""
    x = np.arange(100_000.0).reshape(1000, 100)
    a = cw.asarray(x, chunks=(100, 100))
    (a * 2).to_hdf5(tmp_path / "l0.h5", "r", level=0)
    with h5py.File(tmp_path / "l0.h5", "r") as f:
        np.testing.assert_array_equal(f["r"][...], x * 2)
        info = f["r"].id.get_chunk_info(0)
        assert info.size == 100 * 100 * 8 and info.filter_mask == 1


def test_garbled_block_size_is_a_clear_error(tmp_path):
    """A header claiming 2 GiB blocks in a 0.8 MB chunk: CorruptChunkError
    naming the chunk; the other chunks still read."""
    path = tmp_path / "hb.h5"
    x, offsets = lz4_file_to_garble(path, 0)
    with open(path, "r+b") as fh:
        fh.seek(offsets[0] + 8)
        fh.write((0x7FFFFFF0).to_bytes(4, "little"))
    a = cw.open(path, "a")
    with pytest.raises(cw.CorruptChunkError, match=r"chunk \(0, 0\)"):
        (a * 2).compute()
    with pytest.raises(cw.CorruptChunkError, match=r"chunk \(0, 0\)"):
        a.sum().compute()
    np.testing.assert_array_equal((a[100:] * 2).compute(), x[100:] * 2)
