"""Test data shared by the contraction, linear-algebra and FFT tests:
random arrays of a dtype and their lazy form chunked in halves."""
import numpy as np

import chunkwise as cw


def random_data(rng, shape, dtype, low=-5, high=6):
    """Random values of ``dtype``: bools, integers in [low, high), normal
    floats (complex: normal real and imaginary parts)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        return rng.integers(low, high, shape).astype(dtype)
    x = rng.standard_normal(shape)
    if dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def lazy(x):
    """``x`` as a chunkwise Array with every axis cut in two chunks."""
    return cw.asarray(x, chunks=tuple(max(1, (n + 1) // 2) for n in x.shape))
