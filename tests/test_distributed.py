"""Computing on a dask.distributed cluster (cw.compute(..., scheduler=client)):
values equal NumPy's and bit-identical to a local run, also when a worker
dies mid-run."""
import os

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
