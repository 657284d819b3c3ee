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
