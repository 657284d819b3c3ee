"""Computing on a dask.distributed cluster (cw.compute(..., scheduler=client)):
values equal NumPy's and bit-identical to a local run, also when a worker
dies mid-run."""
import os
import warnings

import numpy as np
import pytest

import chunkwise as cw

distributed = pytest.importorskip("distributed")
h5py = pytest.importorskip("h5py")
hdf5plugin = pytest.importorskip("hdf5plugin")

SHAPE = (300, 200)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=40) as lc, \
            distributed.Client(lc) as c:
        yield c


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dist") / "in.h5")
    rng = np.random.default_rng(11)
    a = rng.standard_normal(SHAPE)
    b = rng.uniform(1, 2, SHAPE).astype(np.float32)
    i = rng.integers(-1000, 1000, SHAPE, dtype=np.int32)
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=a, chunks=(32, 48), **hdf5plugin.Blosc(cname="lz4"))
        f.create_dataset("b", data=b, chunks=(50, 40), compression="gzip")
        f.create_dataset("i", data=i, chunks=(64, 64))
    return path, a, b, i


def _arrays(data):
    path, a, b, i = data
    return cw.open(path, "a"), cw.open(path, "b"), cw.open(path, "i"), a, b, i


def test_elementwise_equals_numpy_and_local(client, data):
    x, y, z, a, b, i = _arrays(data)
    e = x * 2 + y - np.sin(x) * z
    [got] = cw.compute(e, scheduler=client)
    np.testing.assert_array_equal(got, a * 2 + b - np.sin(a) * i)
    np.testing.assert_array_equal(got, cw.compute(e)[0])


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reductions_bit_identical_to_local(client, data, axis):
    x, y, z, a, b, i = _arrays(data)
    rs = [x.sum(axis=axis), x.mean(axis=axis), x.var(axis=axis), y.sum(axis=axis),
          z.sum(axis=axis), x.max(axis=axis)]
    got = cw.compute(*rs, scheduler=client)
    local = [cw.compute(r)[0] for r in rs]
    for g, loc in zip(got, local):
        assert g.dtype == loc.dtype and g.shape == loc.shape
        np.testing.assert_array_equal(g, loc)     # exact: same partials, same order
    # NumPy sums in another order: float results to rounding only.
    np.testing.assert_allclose(got[0], a.sum(axis=axis), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[2], a.var(axis=axis), rtol=1e-12)
    np.testing.assert_array_equal(got[4], i.sum(axis=axis))
    np.testing.assert_array_equal(got[5], a.max(axis=axis))


def test_mixed_expression_with_inner_reductions(client, data):
    x, y, z, a, b, i = _arrays(data)
    e = (x - x.mean(axis=0)) / y.std() + z.sum(axis=1, keepdims=True)
    [got] = cw.compute(e, scheduler=client)
    np.testing.assert_array_equal(got, cw.compute(e)[0])
    ref = (a - a.mean(axis=0)) / b.std() + i.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, ref, rtol=1e-5)   # float32 std summed in another order
    [s] = cw.compute(((x - x.mean()) ** 2).sum(), scheduler=client)
    assert s == cw.compute(((x - x.mean()) ** 2).sum())[0]


def test_non_arrays_and_zero_d(client, data):
    x, *_ , a, b, i = _arrays(data)
    got = cw.compute(x[3, 4] * 2, [1, 2], scheduler=client)
    assert got[0] == a[3, 4] * 2
    np.testing.assert_array_equal(got[1], [1, 2])


def test_not_a_client(data):
    x, *_ = _arrays(data)
    with pytest.raises(TypeError, match="dask.distributed.Client"):
        cw.compute(x, scheduler="threads")


def _kill_once(marker, value):
    """Kills its worker process the first time it runs (marker file)."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return value


def test_worker_killed_mid_run_gives_unchanged_result(client, data, tmp_path):
    x, y, z, a, b, i = _arrays(data)
    marker = str(tmp_path / "killed")
    # One task kills its worker; dask runs it again on another (or the
    # restarted) worker, while the chunkwise tasks run and are retried too.
    doom = client.submit(_kill_once, marker, 1, pure=False)
    r = x.sum(axis=0) + (x * y).var()
    [got] = cw.compute(r, scheduler=client)
    assert doom.result() == 1 and os.path.exists(marker)
    np.testing.assert_array_equal(got, cw.compute(r)[0])
    [again] = cw.compute(r, scheduler=client)
    np.testing.assert_array_equal(again, got)
    client.wait_for_workers(2, timeout=60)


def test_reduction_of_a_rechunked_input_and_an_empty_one(client, data):
    x, *_ , a, b, i = _arrays(data)
    r = cw.rechunk(x, (300, 1)).sum(axis=1)
    [got] = cw.compute(r, scheduler=client)
    np.testing.assert_array_equal(got, cw.compute(r)[0])
    with pytest.raises(ValueError):
        cw.compute(x[:0].max(), scheduler=client)
    with pytest.raises(ValueError):
        x[:0].max().compute()
    [s] = cw.compute(x[:0].sum(axis=0), scheduler=client)
    np.testing.assert_array_equal(s, np.zeros(200))


class _DieOnce:
    """A block function that kills its worker process the first time any
    worker runs it (a marker file), and otherwise adds 1."""

    def __init__(self, marker):
        self.marker = marker

    def __call__(self, block):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)
        return block + 1


def test_worker_dying_inside_a_chunkwise_task(client, data, tmp_path):
    x, *_ , a, b, i = _arrays(data)
    marker = str(tmp_path / "died")
    e = cw.map_blocks(_DieOnce(marker), x, dtype=x.dtype)
    r = e.sum(axis=0)
    [got] = cw.compute(r, scheduler=client)
    assert os.path.exists(marker)           # a worker died, its task ran again
    np.testing.assert_array_equal(got, cw.compute(r)[0])
    [ew] = cw.compute(e * 2, scheduler=client)
    np.testing.assert_array_equal(ew, (a + 1) * 2)
    client.wait_for_workers(2, timeout=60)


# ------------------------------------------------------------------ stores
# x.to_hdf5(..., scheduler=client): the workers compute, this process writes.

def _layout(d):
    """What a dataset is, besides its values: shape, dtype, chunks, filter
    pipeline (id, flags, parameters, name) and attributes."""
    plist = d.id.get_create_plist()
    filters = [plist.get_filter(k) for k in range(plist.get_nfilters())]
    return d.shape, d.dtype, d.chunks, filters, dict(d.attrs)


def _stored_chunks(d):
    """Every stored chunk's bytes, by offset."""
    out = {}
    for k in range(d.id.get_num_chunks()):
        offset = d.id.get_chunk_info(k).chunk_offset
        out[offset] = d.id.read_direct_chunk(offset)
    return out


def _same_dataset(p, q, name, raw=False):
    """Same layout and values; with ``raw``, the same stored bytes (a
    local store of an expression encodes Blosc block by block as it
    computes, the cluster's feeds whole chunks to Blosc: valid frames
    both, not the same bytes)."""
    with h5py.File(p, "r") as f, h5py.File(q, "r") as g:
        assert _layout(f[name]) == _layout(g[name])
        np.testing.assert_array_equal(f[name][()], g[name][()])
        if raw:
            assert _stored_chunks(f[name]) == _stored_chunks(g[name])


def _leftovers(folder):
    return [f for f in os.listdir(folder) if ".chunkwise-tmp-" in f]


def _members(path):
    with h5py.File(path, "r") as f:
        names = []
        f.visit(names.append)
        return sorted(names)


def _no_futures_left(client, before):
    import gc
    gc.collect()
    assert set(client.futures) - before == set()


@pytest.mark.parametrize("kw", [{}, dict(chunks=(50, 64), compression="gzip", level=4),
                                dict(chunks=(300, 7), compression="zstd", shuffle=False),
                                dict(chunks=(7, 200), compression="blosc-zstd",
                                     shuffle="bit")],
                         ids=["own-chunks", "gzip", "zstd-columns", "blosc-rows"])
def test_store_equals_local_store(client, data, tmp_path, kw):
    x, y, z, a, b, i = _arrays(data)
    e = np.sqrt(x ** 2 + abs(z)) * y - x.mean(axis=0)
    before = set(client.futures)
    r = e.to_hdf5(tmp_path / "cluster.h5", "/g/e", scheduler=client, **kw)
    _no_futures_left(client, before)
    loc = e.to_hdf5(tmp_path / "local.h5", "/g/e", **kw)
    _same_dataset(tmp_path / "cluster.h5", tmp_path / "local.h5", "/g/e")
    np.testing.assert_array_equal(r.compute(), loc.compute())
    # NumPy's mean sums in another order: to rounding only.
    np.testing.assert_allclose(r.compute(), np.sqrt(a ** 2 + abs(i)) * b - a.mean(axis=0),
                               rtol=1e-12, atol=1e-12)
    assert _leftovers(tmp_path) == []


def test_store_of_groups_inside_chunk_rows(client, tmp_path):
    # 20 chunks for 2 workers (8 tasks): groups are runs of chunks inside
    # one chunk row of the first axis, and of the second.
    v = np.random.default_rng(3).standard_normal((6, 30, 50))
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f.create_dataset("v", data=v, chunks=(4, 30, 5), **hdf5plugin.Blosc(cname="lz4"))
    x = cw.open(tmp_path / "in.h5", "v")
    e = np.exp(x) - x.sum(axis=2, keepdims=True)
    for name, kw in [("own", {}), ("other", dict(chunks=(5, 7, 9)))]:
        e.to_hdf5(tmp_path / "c.h5", name, scheduler=client, **kw)
        e.to_hdf5(tmp_path / "l.h5", name, **kw)
        _same_dataset(tmp_path / "c.h5", tmp_path / "l.h5", "/" + name)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        np.testing.assert_allclose(f["own"][...], np.exp(v) - v.sum(axis=2, keepdims=True),
                                   rtol=1e-13, atol=1e-13)      # sums in another order
    with cw.config(memory_limit=2**20):     # groups of at most 2**20 / 8 / 2 bytes
        e.to_hdf5(tmp_path / "c.h5", "small", chunks=(1, 2, 50), scheduler=client)
    _same_dataset(tmp_path / "c.h5", tmp_path / "l.h5", "/own")
    with h5py.File(tmp_path / "c.h5", "r") as f:
        np.testing.assert_array_equal(f["small"][...], f["own"][...])


def test_store_of_deferred_zero_d_and_empty_results(client, data, tmp_path):
    x, y, z, a, b, i = _arrays(data)
    cases = {"sum0": x.sum(axis=0), "var": (x * y).var(), "cumsum": z.cumsum(axis=1),
             "argmax": x.argmax(axis=0), "point": x[3, 4] * 2, "empty": x[:0] + 1,
             "empty2": z[:, 5:5]}
    for name, e in cases.items():
        e.to_hdf5(tmp_path / "c.h5", name, scheduler=client)
        e.to_hdf5(tmp_path / "l.h5", name)
        _same_dataset(tmp_path / "c.h5", tmp_path / "l.h5", "/" + name)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        np.testing.assert_array_equal(f["cumsum"][...], i.cumsum(axis=1))
        np.testing.assert_array_equal(f["argmax"][...], a.argmax(axis=0))
        assert f["point"].shape == () and f["point"][()] == a[3, 4] * 2
        assert f["empty"].shape == (0, 200) and f["empty2"].shape == (300, 0)
    # A deferred result is computed whole: over half of memory_limit it is refused.
    with cw.config(memory_limit=2**16), pytest.raises(cw.MemoryBudgetError,
                                                     match="without scheduler="):
        z.cumsum(axis=0).to_hdf5(tmp_path / "c.h5", "big", scheduler=client)
    assert "big" not in _members(tmp_path / "c.h5")


def test_store_into_an_existing_file_and_overwrite(client, data, tmp_path):
    x, y, z, a, b, i = _arrays(data)
    out = tmp_path / "out.h5"
    keep = np.arange(50.0)
    with h5py.File(out, "w") as f:
        f["keep"] = keep
        f["g/old"] = np.zeros(3)
    r = (x + 1).to_hdf5(out, "/g/new", scheduler=client)
    np.testing.assert_array_equal(r.compute(), a + 1)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        (x + 2).to_hdf5(out, "/g/old", scheduler=client)
    r = (x + 2).to_hdf5(out, "/g/old", scheduler=client, overwrite=True)
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["keep"][...], keep)
        np.testing.assert_array_equal(f["g/old"][...], a + 2)
        np.testing.assert_array_equal(f["g/new"][...], a + 1)
    assert _members(out) == ["g", "g/new", "g/old", "keep"]
    assert _leftovers(tmp_path) == []


def _fail_on(block, block_id=None):
    if block_id == (4, 1):
        raise ValueError(f"no good: block {block_id}")
    return block * 2


def _corrupt(path, name, coord):
    with h5py.File(path, "r") as f:
        info = f[name].id.get_chunk_info_by_coord(coord)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\x5a" * 48)


@pytest.mark.parametrize("how", ["corrupt-chunk", "block-function-raises"])
def test_failed_task_fails_the_store_and_leaves_nothing(client, data, tmp_path, how):
    path = data[0]
    if how == "corrupt-chunk":
        src = tmp_path / "src.h5"
        with open(path, "rb") as fi, open(src, "wb") as fo:
            fo.write(fi.read())
        _corrupt(src, "a", (96, 48))
        e = cw.open(src, "a") * 2 + cw.open(src, "i")
        error, match = cw.CorruptChunkError, r"chunk \(3, 1\) of '/a'"
    else:
        x = cw.open(path, "a")
        e = cw.map_blocks(_fail_on, x, dtype=x.dtype) + 1
        error, match = ValueError, r"no good: block \(4, 1\)"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = set(client.futures)
    with pytest.raises(error, match=match):           # into a new file
        e.to_hdf5(out_dir / "new.h5", "e", scheduler=client)
    assert os.listdir(out_dir) == []
    keep = out_dir / "keep.h5"
    with h5py.File(keep, "w") as f:
        f["old"] = np.arange(5)
    with pytest.raises(error, match=match):           # into an existing file
        e.to_hdf5(keep, "/g/e", scheduler=client)
    with pytest.raises(error, match=match):           # a failed overwrite keeps the old one
        e.to_hdf5(keep, "old", scheduler=client, overwrite=True)
    assert _members(keep) == ["old"] and os.listdir(out_dir) == ["keep.h5"]
    with h5py.File(keep, "r") as f:
        np.testing.assert_array_equal(f["old"][...], np.arange(5))
    _no_futures_left(client, before)


def test_worker_killed_mid_store_gives_the_same_bytes(client, data, tmp_path):
    x, *_ , a, b, i = _arrays(data)
    marker = str(tmp_path / "died")
    e = cw.map_blocks(_DieOnce(marker), x, dtype=x.dtype) * 2
    e.to_hdf5(tmp_path / "c.h5", "e", scheduler=client)
    assert os.path.exists(marker)           # a worker died, its task ran again
    e.to_hdf5(tmp_path / "again.h5", "e", scheduler=client)     # no worker dies
    _same_dataset(tmp_path / "c.h5", tmp_path / "again.h5", "/e", raw=True)
    e.to_hdf5(tmp_path / "l.h5", "e")
    _same_dataset(tmp_path / "c.h5", tmp_path / "l.h5", "/e")
    with h5py.File(tmp_path / "c.h5", "r") as f:
        np.testing.assert_array_equal(f["e"][...], (a + 1) * 2)
    client.wait_for_workers(2, timeout=60)


BIG = (2000, 4000)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """64 MB of float64 (h5py, Blosc-LZ4, chunks of 100 x 1000)."""
    path = str(tmp_path_factory.mktemp("big") / "big.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(BIG[0] * BIG[1], dtype="f8").reshape(BIG),
                         chunks=(100, 1000), **hdf5plugin.Blosc(cname="lz4"))
    return path


# A client process storing on the cluster, slowly enough to be killed
# (zstd level 9 on one thread here).
_CLIENT_STORE = """
import sys, numpy as np, chunkwise as cw, distributed
cw.config(threads=1)
address, src, out = sys.argv[1:4]
c = distributed.Client(address)
x = cw.open(src, "x")
print("start", flush=True)
np.sin(x * 1e-3).to_hdf5(out, "r", chunks=(32, 4000), compression="zstd", level=9,
                         overwrite=True, scheduler=c)
print("done", flush=True)
"""


def _client_store(client, big, out):
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-c", _CLIENT_STORE, client.scheduler.address,
                          big, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "start", p.stderr.read()
    return p


def _complete_or_absent(path, name):
    if not os.path.exists(path):
        return False
    with h5py.File(path, "r") as f:
        if name not in f:
            return False
        expected = np.sin(np.arange(BIG[0] * BIG[1], dtype="f8").reshape(BIG) * 1e-3)
        np.testing.assert_array_equal(f[name][...], expected)
        return True


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "existing-file"])
def test_client_killed_mid_store_leaves_nothing_under_the_name(client, big, tmp_path,
                                                               existing):
    import random
    import signal
    import time
    rng = random.Random(77 + existing)
    out = tmp_path / "out.h5"
    keep = np.arange(100.0)
    # One store to its end, to time it (and check what it writes).
    p = _client_store(client, big, out)
    t = time.perf_counter()
    assert p.wait(timeout=300) == 0 and p.stdout.readline().strip() == "done"
    duration = time.perf_counter() - t
    assert _complete_or_absent(out, "/r")
    os.remove(out)
    cut = 0
    for run in range(4):
        if existing and not out.exists():
            with h5py.File(out, "w") as f:
                f.create_dataset("keep", data=keep)
        p = _client_store(client, big, out)
        time.sleep(rng.uniform(0.0, duration))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        if _complete_or_absent(out, "/r"):
            os.remove(out)
            continue
        cut += 1
        if existing:
            with h5py.File(out, "r") as f:       # the rest of the file is intact
                np.testing.assert_array_equal(f["keep"][...], keep)
    assert cut > 0, f"every kill came after the store's end ({duration:.2f} s)"
    # The next store to the same path or file removes what killed ones left.
    cw.asarray(np.ones(4)).to_hdf5(out, "small", overwrite=True)
    assert _leftovers(tmp_path) == []
    assert [m for m in _members(out) if ".chunkwise-tmp-" in m] == []
    client.wait_for_workers(2, timeout=60)


def test_client_memory_within_memory_limit(client, big, tmp_path):
    from memory_helpers import run_measured
    limit = 16 * 2**20
    script = f"""
    import distributed
    c = distributed.Client({client.scheduler.address!r})
    x = cw.open({big!r}, "x")
    (x * 2 + 1).to_hdf5({str(tmp_path / 'warm.h5')!r}, "r", scheduler=c)
    base = rss()
    r = (x * 3 + 1).to_hdf5({str(tmp_path / 'out.h5')!r}, "r", scheduler=c)
    print(json.dumps({{"base": base, "peak": peak()}}))
    """
    m = run_measured(script, limit)
    grew = m["peak"] - m["base"]
    print(f"client peak RSS grew by {grew / 2**20:.1f} MiB")
    # 64 MB stored through a 16 MiB memory_limit: the engine's half, the
    # groups held, and a few MiB of the client's messages.
    assert grew < limit + 8 * 2**20, f"peak grew by {grew / 2**20:.1f} MiB"
    with h5py.File(tmp_path / "out.h5", "r") as f:
        np.testing.assert_array_equal(
            f["r"][...], np.arange(BIG[0] * BIG[1], dtype="f8").reshape(BIG) * 3 + 1)


def test_store_not_a_client(data, tmp_path):
    x, *_ = _arrays(data)
    with pytest.raises(TypeError, match="dask.distributed.Client"):
        x.to_hdf5(tmp_path / "o.h5", "x", scheduler="threads")
    assert os.listdir(tmp_path) == []


def test_floating_point_warnings_and_errstate_as_locally(client, data, tmp_path):
    x, *_ = _arrays(data)
    e = np.log(x)                      # negative inputs: invalid value
    with pytest.warns(RuntimeWarning, match="invalid value encountered in chunkwise"):
        cw.compute(e, scheduler=client)
    with pytest.warns(RuntimeWarning, match="invalid value encountered in chunkwise"):
        cw.compute(e.sum(), scheduler=client)
    with pytest.warns(RuntimeWarning, match="invalid value encountered in chunkwise"):
        e.to_hdf5(tmp_path / "o.h5", "w", scheduler=client)
    with np.errstate(invalid="raise"):
        with pytest.raises(FloatingPointError, match="invalid value"):
            cw.compute(e, scheduler=client)
        with pytest.raises(FloatingPointError, match="invalid value"):
            e.to_hdf5(tmp_path / "o.h5", "r", scheduler=client)
    assert _members(tmp_path / "o.h5") == ["w"]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        e.to_hdf5(tmp_path / "o.h5", "i", scheduler=client)
