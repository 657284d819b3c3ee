"""DLPack out: ``np.from_dlpack`` and (when installed) ``torch.from_dlpack``
and ``torch.as_tensor`` take chunkwise arrays.  An in-memory source viewed
whole is exported without a copy; anything else is computed into an
ndarray that is then exported as it is."""
import h5py
import numpy as np
import pytest

import chunkwise as cw


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("dlpack") / "data.h5"
    a = np.arange(35, dtype=np.float32).reshape(5, 7) / 3
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=a, chunks=(2, 3), compression="gzip")
    return str(path), a


def _cases(h5):
    path, a = h5
    x = cw.open(path, "a")
    i = np.arange(-6, 6, dtype=np.int16).reshape(3, 4)
    return [
        (x, a),
        (x[1:, ::2].T, a[1:, ::2].T),
        (x * 2 + 1, a * 2 + 1),
        (x.sum(axis=1), a.sum(axis=1)),
        (x.max(), a.max()),
        (cw.asarray(i)[::-1], i[::-1]),
        (cw.asarray(i) > 0, i > 0),
        (cw.arange(10, dtype=np.uint8), np.arange(10, dtype=np.uint8)),
        (cw.full((2, 3), 2.5, dtype=np.float16), np.full((2, 3), 2.5, np.float16)),
    ]


def test_numpy_from_dlpack_matches_numpy(h5):
    for arr, e in _cases(h5):
        r = np.from_dlpack(arr)
        assert type(r) is np.ndarray
        assert r.dtype == e.dtype and r.shape == e.shape
        np.testing.assert_array_equal(r, e)


def test_an_in_memory_source_viewed_whole_is_exported_without_copying():
    m = np.arange(12.0).reshape(3, 4)
    r = np.from_dlpack(cw.asarray(m))
    assert np.shares_memory(r, m)
    m[0, 0] = 42.0
    assert r[0, 0] == 42.0
    # A part of it, or a computation over it, is a new array.
    assert not np.shares_memory(np.from_dlpack(cw.asarray(m)[1:]), m)
    assert not np.shares_memory(np.from_dlpack(cw.asarray(m) + 0), m)


def test_dlpack_device_and_arguments():
    x = cw.ones((2, 2))
    assert x.__dlpack_device__() == (1, 0)
    np.testing.assert_array_equal(np.from_dlpack(x, device="cpu"), np.ones((2, 2)))
    r = np.from_dlpack(x, copy=True)
    np.testing.assert_array_equal(r, np.ones((2, 2)))
    m = np.arange(4.0)
    assert not np.shares_memory(np.from_dlpack(cw.asarray(m), copy=True), m)
    assert np.shares_memory(np.from_dlpack(cw.asarray(m), copy=False), m)
    with pytest.raises(BufferError, match="CPU"):
        x.__dlpack__(dl_device=(2, 0))


def test_dlpack_capsule_versions():
    x = cw.arange(6) * 2
    legacy = x.__dlpack__()
    assert type(legacy).__name__ == "PyCapsule"
    versioned = x.__dlpack__(max_version=(1, 0))
    assert type(versioned).__name__ == "PyCapsule"


def test_torch_takes_chunkwise_arrays(h5):
    torch = pytest.importorskip("torch")
    for arr, e in _cases(h5):
        for convert in (torch.from_dlpack, torch.as_tensor):
            t = convert(arr)
            assert isinstance(t, torch.Tensor)
            assert tuple(t.shape) == e.shape
            r = t.numpy()
            assert r.dtype == e.dtype
            np.testing.assert_array_equal(r, e)
    # 0-d (len() of such an array is an error: torch must not take it as a
    # sequence).
    t = torch.as_tensor(cw.asarray(np.float64(2.5)))
    assert t.shape == () and t.item() == 2.5
    m = np.arange(6.0)
    t = torch.as_tensor(cw.asarray(m))
    m[1] = -1
    assert t[1].item() == -1.0          # shares the in-memory source


def test_torch_tensors_in():
    """torch tensors become chunkwise arrays through DLPack, without a copy
    of a contiguous CPU tensor; dtypes chunkwise has no type for are a
    TypeError naming them."""
    torch = pytest.importorskip("torch")
    for dt in (torch.float32, torch.float64, torch.int16, torch.uint8, torch.bool,
               torch.complex64):
        t = (torch.arange(24) % 5).to(dt).reshape(4, 6)
        x = cw.asarray(t, chunks=(3, 4))
        assert isinstance(x, cw.Array)
        e = t.numpy()
        r = (x * 2).compute()
        np.testing.assert_array_equal(r, e * 2, strict=True)
    t = torch.arange(8, dtype=torch.float64)
    x = cw.asarray(t)
    t[2] = 100.0
    assert float(x[2]) == 100.0         # viewed, not copied
    np.testing.assert_array_equal(cw.asarray(t.reshape(2, 4).T).compute(),
                                  t.reshape(2, 4).T.numpy())     # strided
    for dt, name in ((torch.bfloat16, "bfloat16"), (torch.float8_e5m2, "float8_e5m2")):
        with pytest.raises(TypeError, match=name):
            cw.asarray(torch.zeros(3, dtype=dt))
