"""numpy.fft on chunkwise Arrays, against NumPy: each 1-d transform runs
NumPy's own on blocks that hold the axis whole, and the n-d ones run
NumPy's sequence of 1-d transforms in its order, so results are compared
exactly (assert_array_equal)."""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw
from data_helpers import lazy, random_data

RNG = np.random.default_rng(3)


def _data(shape, dtype):
    return random_data(RNG, shape, dtype)


def same(got, want):
    assert isinstance(got, cw.Array), type(got)
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


ONE = [np.fft.fft, np.fft.ifft, np.fft.rfft, np.fft.irfft, np.fft.hfft, np.fft.ihfft]
ND = [np.fft.fftn, np.fft.ifftn, np.fft.rfftn, np.fft.irfftn, np.fft.fft2, np.fft.ifft2,
      np.fft.rfft2, np.fft.irfft2]


@pytest.mark.parametrize("func", ONE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", ["int32", "float32", "float64", "complex64",
                                   "complex128"])
def test_one_axis(func, dtype):
    x = _data((5, 8, 6), dtype)
    if dtype.startswith("complex") and func in (np.fft.rfft, np.fft.ihfft):
        with pytest.raises(TypeError):
            func(lazy(x))
        return
    for kw in ({}, dict(axis=0), dict(axis=1, n=5), dict(n=11), dict(norm="ortho"),
               dict(axis=-2, norm="forward")):
        same(func(lazy(x), **kw), func(x, **kw))


@pytest.mark.parametrize("func", ND, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", ["float64", "complex128", "float32"])
def test_n_axes(func, dtype):
    x = _data((4, 6, 5), dtype)
    if dtype.startswith("complex") and func in (np.fft.rfftn, np.fft.rfft2):
        return
    same(func(lazy(x[0])), func(x[0]))
    if func.__name__.endswith("n"):
        # Over three axes: NumPy's own, with a FallbackWarning.
        with pytest.warns(cw.FallbackWarning):
            same(func(lazy(x)), func(x))
    else:
        same(func(lazy(x)), func(x))
    same(func(lazy(x), axes=(0, 2)), func(x, axes=(0, 2)))
    same(func(lazy(x), s=(3, 8), axes=(1, 0)), func(x, s=(3, 8), axes=(1, 0)))


def test_hdf5_input_and_no_fallback(tmp_path):
    x = _data((30, 40), "float64")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(7, 9))
    a = cw.open(tmp_path / "x.h5", "/x")
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        same(np.fft.fft(a), np.fft.fft(x))
        same(np.fft.rfft(a, axis=0), np.fft.rfft(x, axis=0))
        same(np.fft.rfftn(a), np.fft.rfftn(x))
        k = np.fft.rfftn(x)
        same(np.fft.irfftn(cw.asarray(k, chunks=(7, 9))), np.fft.irfftn(k))
        same(np.fft.fftshift(a), np.fft.fftshift(x))
        same(np.fft.ifftshift(a, axes=0), np.fft.ifftshift(x, axes=0))
        same(np.fft.fftshift(a, axes=(1,)), np.fft.fftshift(x, axes=(1,)))


def test_errors_and_memory_limit():
    x = lazy(_data((4, 6), "float64"))
    with pytest.raises(ValueError):
        np.fft.fft(x, n=0)
    with pytest.raises(ValueError):
        np.fft.fft(x, norm="bad")
    with pytest.raises(np.exceptions.AxisError):
        np.fft.fft(x, axis=2)
    big = cw.zeros((64, 2**16), chunks=(64, 2**12))
    with cw.config(memory_limit="4MiB"), pytest.raises(cw.MemoryBudgetError,
                                                       match="rechunk"):
        np.fft.fft(big)
    r = np.fft.fft(big.rechunk((4, 2**12)))
    with cw.config(memory_limit="16MiB"):
        assert np.asarray(r[:, :3]).shape == (64, 3)


