"""numpy.i0 on chunkwise arrays: lazy, and NumPy's values bit for bit."""
import warnings

import numpy as np
import pytest

import chunkwise as cw


@pytest.mark.parametrize("dtype", ["f8", "f4", "f2", "i4", "u1", "?"])
@pytest.mark.parametrize("chunks", [(7,), (50,)])
def test_i0_is_lazy_and_bit_exact(dtype, chunks):
    a = np.array([True, False]) if dtype == "?" else \
        np.concatenate([np.linspace(-20, 20, 301), [0.0, 8.0, -8.0, np.inf, np.nan]]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own overflows
        expect = np.i0(a)
        with cw.config(fallback="error"):
            got = np.i0(cw.asarray(a, chunks=chunks))
        assert isinstance(got, cw.Array)
        got = got.compute()
    assert got.dtype == expect.dtype and got.shape == expect.shape
    assert got.tobytes() == expect.tobytes()


def test_i0_of_complex_values_is_numpys_type_error():
    with pytest.raises(TypeError, match="complex"):
        np.i0(cw.asarray(np.ones(3, "c16")))


def _same(got, expect):
    assert isinstance(got, cw.Array)
    got = got.compute()
    assert got.dtype == expect.dtype and got.shape == expect.shape
    np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("k", [0, 1, 3, -1, -4])
def test_diag_both_directions(k):
    v = np.arange(1.0, 6.0)
    m = np.arange(30).reshape(5, 6)
    with cw.config(fallback="error"):
        _same(np.diag(cw.asarray(v, chunks=(2,)), k), np.diag(v, k))
        _same(np.diag(cw.asarray(m, chunks=(2, 4)), k), np.diag(m, k))
    with pytest.raises(ValueError):
        np.diag(cw.asarray(np.zeros((2, 2, 2))))


def test_select_as_numpy():
    x = np.arange(12).reshape(3, 4)
    X = cw.asarray(x, chunks=(2, 3))
    with cw.config(fallback="error"):
        _same(np.select([X < 3, X > 8], [X, X ** 2]), np.select([x < 3, x > 8], [x, x ** 2]))
        _same(np.select([X < 3, X > 8], [X, X * 1.5], default=-1.0),
              np.select([x < 3, x > 8], [x, x * 1.5], default=-1.0))
        _same(np.select([X > 5], [np.arange(4)], default=7), np.select([x > 5], [np.arange(4)], 7))
    with pytest.raises(TypeError, match="invalid entry 0"):
        np.select([X], [X])
    with pytest.raises(ValueError):
        np.select([X > 1], [X, X])


@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
def test_choose_as_numpy(mode):
    a = np.array([[0, 1, 2], [2, 1, 0]])
    choices = [np.arange(3), np.full((2, 3), 10), np.array([[100], [200]])]
    with cw.config(fallback="error"):
        _same(np.choose(cw.asarray(a), choices, mode=mode), np.choose(a, choices, mode=mode))
    if mode != "raise":
        b = np.array([[0, 4, -1], [7, 1, -5]])
        _same(np.choose(cw.asarray(b), choices, mode=mode), np.choose(b, choices, mode=mode))
    else:
        with pytest.raises(ValueError, match="invalid entry"):
            np.choose(cw.asarray(a + 1), choices)
