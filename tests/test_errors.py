"""Bad input gets a clear Python exception; sources are never modified;
failed or interrupted writes leave nothing under the final name."""
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import hdf5plugin
import numpy as np
import pytest

import chunkwise as cw


@pytest.fixture
def h5file(tmp_path):
    path = tmp_path / "in.h5"
    x = np.arange(40 * 30, dtype="f4").reshape(40, 30)
    with h5py.File(path, "w") as f:
        f.create_dataset("blosc", data=x, chunks=(10, 30),
                         **hdf5plugin.Blosc(cname="lz4", shuffle=hdf5plugin.Blosc.SHUFFLE))
        f.create_dataset("gzip", data=x, chunks=(10, 15), compression="gzip")
        f.create_group("grp").create_dataset("inner", data=x[:3])
        f.create_dataset("compound", data=np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]))
        f.create_dataset("string", data=np.array([b"ab", b"cd"]))
        f.create_dataset("vlen", data=["x", "yy"], dtype=h5py.string_dtype())
        f.create_dataset("vlen_int", shape=(2,), dtype=h5py.vlen_dtype("i4"))
        f.create_dataset("enum", data=np.array([0, 1, 2], "i1"),
                         dtype=h5py.enum_dtype({"R": 0, "G": 1, "B": 2}, basetype="i1"))
        f.create_dataset("complex", data=np.zeros(3, [("re", "<f4"), ("im", "<f4")]))
        f.create_dataset("empty_space", data=h5py.Empty("f4"))
    return path, x


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def corrupt_chunk(path, name, coord):
    with h5py.File(path, "r") as f:
        info = f[name].id.get_chunk_info_by_coord(coord)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\x5a" * 48)


def test_missing_file_and_dataset(h5file, tmp_path):
    path, _ = h5file
    with pytest.raises(FileNotFoundError, match="no such file"):
        cw.open(tmp_path / "nope.h5", "/x")
    with pytest.raises(KeyError, match="no dataset '/nope'"):
        cw.open(path, "/nope")
    with pytest.raises(KeyError, match="no dataset"):
        cw.open(path, "/missing/group/x")
    with pytest.raises(TypeError, match="is a group"):
        cw.open(path, "/grp")
    assert cw.open(path, "grp/inner").shape == (3, 30)


@pytest.mark.parametrize("name,what", [
    ("compound", "compound"), ("string", "string"), ("vlen", "string"),
    ("vlen_int", "variable-length"), ("enum", "enum"), ("complex", "compound"),
    ("empty_space", "null dataspace"),
])
def test_unsupported_dtypes(h5file, name, what):
    path, _ = h5file
    with pytest.raises(TypeError, match=what):
        cw.open(path, name)


def test_not_hdf5(tmp_path):
    p = tmp_path / "text.h5"
    p.write_text("hello")
    with pytest.raises(OSError, match="not an HDF5 file"):
        cw.open(p, "/x")
    with pytest.raises(OSError, match="directory"):
        cw.open(tmp_path, "/x")
    with pytest.raises(TypeError):
        cw.open(p, 3)


def test_index_out_of_range(h5file):
    a = cw.open(h5file[0], "blosc")
    with pytest.raises(IndexError):
        a[40]
    with pytest.raises(IndexError):
        a[0, -31]


@pytest.mark.parametrize("name,coord", [("blosc", (20, 0)), ("gzip", (10, 15))])
def test_corrupt_chunk_names_the_chunk(h5file, name, coord):
    path, x = h5file
    corrupt_chunk(path, name, coord)
    a = cw.open(path, name)
    chunk = tuple(c // k for c, k in zip(coord, a.chunksize))
    with pytest.raises(cw.CorruptChunkError, match=rf"chunk \({chunk[0]}, {chunk[1]}\) "
                                                   rf"of '/{name}'"):
        a.compute()
    assert issubclass(cw.CorruptChunkError, OSError)
    # Everything outside the bad chunk still reads.
    assert np.array_equal(a[:coord[0]].compute(), x[:coord[0]])


def test_sources_are_never_modified(h5file, tmp_path):
    path, x = h5file
    before, mtime = digest(path), os.stat(path).st_mtime_ns
    a = cw.open(path, "blosc")
    a.compute()
    a[::3, 1:].to_hdf5(tmp_path / "out.h5", "/y")
    a.to_hdf5(path, "/copy_in_same_file")  # the only write: a new dataset
    after = digest(path)
    assert after != before  # appended...
    with h5py.File(path, "r") as f:  # ...and the source dataset is intact
        assert np.array_equal(f["blosc"][...], x)
        assert np.array_equal(f["copy_in_same_file"][...], x)
    src2 = tmp_path / "ro.h5"
    with h5py.File(src2, "w") as f:
        f["d"] = x
    d2, m2 = digest(src2), os.stat(src2).st_mtime_ns
    cw.open(src2, "d")[5:].to_hdf5(tmp_path / "o2.h5", "d")
    assert digest(src2) == d2 and os.stat(src2).st_mtime_ns == m2
    del mtime


def test_output_errors(h5file, tmp_path):
    path, x = h5file
    a = cw.asarray(x)
    a.to_hdf5(tmp_path / "o.h5", "/d")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        a.to_hdf5(tmp_path / "o.h5", "/d")
    with pytest.raises(FileExistsError, match="not a dataset"):
        a.to_hdf5(path, "/grp", overwrite=True)
    with pytest.raises(FileExistsError, match="not a group"):
        a.to_hdf5(path, "/blosc/below")
    with pytest.raises(FileNotFoundError):
        a.to_hdf5(tmp_path / "no" / "dir" / "o.h5", "/d")
    notdir = tmp_path / "file"
    notdir.write_text("x")
    with pytest.raises(OSError):
        a.to_hdf5(notdir / "o.h5", "/d")
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(OSError, match="not an HDF5 file"):
        a.to_hdf5(text, "/d")
    assert text.read_text() == "not hdf5"
    with pytest.raises(ValueError, match="unknown compression"):
        a.to_hdf5(tmp_path / "p.h5", "/d", compression="snappy-ish")
    with pytest.raises(ValueError, match="level"):
        a.to_hdf5(tmp_path / "p.h5", "/d", level=10)
    with pytest.raises(ValueError, match="chunk"):
        a.to_hdf5(tmp_path / "p.h5", "/d", chunks=(0, 4))
    with pytest.raises(ValueError, match="chunks"):
        a.to_hdf5(tmp_path / "p.h5", "/d", chunks=(4,))
    with pytest.raises(ValueError, match="invalid dataset name"):
        a.to_hdf5(tmp_path / "p.h5", "/")
    assert not (tmp_path / "p.h5").exists()
    # overwrite=True replaces the dataset.
    b = cw.asarray(x[::-1]).to_hdf5(tmp_path / "o.h5", "/d", overwrite=True)
    assert np.array_equal(b.compute(), x[::-1])
    with h5py.File(tmp_path / "o.h5", "r") as f:
        assert list(f) == ["d"]


def test_failed_write_leaves_nothing(h5file, tmp_path):
    path, x = h5file
    corrupt_chunk(path, "blosc", (30, 0))
    src = cw.open(path, "blosc")
    new = tmp_path / "new.h5"
    with pytest.raises(cw.CorruptChunkError):
        src.to_hdf5(new, "/d")
    assert not new.exists()
    assert os.listdir(tmp_path) == ["in.h5"]
    # Into an existing file: the other datasets stay, the name stays free.
    keep = tmp_path / "keep.h5"
    with h5py.File(keep, "w") as f:
        f["old"] = np.arange(5)
    with pytest.raises(cw.CorruptChunkError):
        src.to_hdf5(keep, "/g/d")
    with h5py.File(keep, "r") as f:
        assert list(f) == ["old"] and f["old"][...].tolist() == [0, 1, 2, 3, 4]
    # A failed overwrite keeps the old dataset.
    with pytest.raises(cw.CorruptChunkError):
        src.to_hdf5(keep, "/old", overwrite=True)
    with h5py.File(keep, "r") as f:
        assert list(f) == ["old"] and f["old"][...].tolist() == [0, 1, 2, 3, 4]


def test_budget_too_small(tmp_path):
    a = cw.zeros((2000, 2000), "f8", chunks=(1000, 1000))
    with cw.config(memory_limit="4MiB"):
        with pytest.raises(cw.MemoryBudgetError, match="memory_limit"):
            a.to_hdf5(tmp_path / "o.h5", "/d")
        # Smaller output chunks fit.
        a.to_hdf5(tmp_path / "o.h5", "/d", chunks=(100, 1000))
    assert not (tmp_path / "o.h5").exists() or cw.open(tmp_path / "o.h5", "/d").shape


def test_ctrl_c_cancels_store_and_leaves_nothing(tmp_path):
    out = tmp_path / "big.h5"
    script = textwrap.dedent(f"""
        import sys, chunkwise as cw
        a = cw.arange(0, 3 * 10**9, dtype="f8", chunks=2**20)
        print("start", flush=True)
        try:
            a.to_hdf5({str(out)!r}, "/d", compression="blosc-zstd", level=9)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        print("finished", flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "start"
    time.sleep(1.0)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=30)
    elapsed = time.monotonic() - t0
    assert p.stdout.read().strip() == "interrupted" and rc == 3
    # The whole store takes minutes; a cancelled one stops within a few
    # seconds even on a loaded machine or under the sanitizer build.
    assert elapsed < 10.0, elapsed
    assert not out.exists()
    assert [f for f in os.listdir(tmp_path) if "chunkwise-tmp" in f] == []
