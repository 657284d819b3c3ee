"""NumPy ufunc methods and functions that chunkwise does not run lazily:
the fallback to NumPy on materialised inputs, its warning class, and the
configuration restored afterwards.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import chunkwise as cw

from ufunc_helpers import CHUNKS, SHAPE, assert_same, evaluate, parallel

pytestmark = pytest.mark.usefixtures("_one_thread_by_default")


# --------------------------------------------------------------- fallback

def test_fallback_warning_class():
    assert issubclass(cw.FallbackWarning, UserWarning)


REDUCTIONS = {
    "add.reduce": (lambda m: np.add.reduce(m[0], axis=0)),
    "multiply.reduce-all": (lambda m: np.multiply.reduce(m[0] % 3 + 1, axis=None)),
    "maximum.reduce": (lambda m: np.maximum.reduce(m[0], axis=1)),
    "add.accumulate": (lambda m: np.add.accumulate(m[0], axis=1)),
    "multiply.accumulate": (lambda m: np.multiply.accumulate(m[0][::-2] - 1, axis=0)),
}


@parallel
@pytest.mark.parametrize("case", list(REDUCTIONS))
def test_ufunc_reduce_and_accumulate_are_lazy(case):
    """docs/api.md: ufunc.reduce (and accumulate) are lazy, not fallbacks."""
    x = np.arange(37 * 23, dtype="i4").reshape(SHAPE) % 11 - 5
    a = cw.asarray(x, chunks=CHUNKS)
    fn = REDUCTIONS[case]
    expected = np.asarray(fn((x, x[0])))
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        r = fn((a, None))
        assert_same(r, expected, what=case)
        with cw.config(fallback="error"):
            assert_same(fn((a, None)), expected, what=case + " with fallback='error'")


FALLBACK_METHODS = {
    "outer": (lambda m: np.multiply.outer(m[1], m[1]), "outer"),
    "outer-2d": (lambda m: np.add.outer(m[0][:3, :4], m[1][:5]), "outer"),
    "reduceat": (lambda m: np.add.reduceat(m[0], [0, 4, 10], axis=1), "reduceat"),
}


@parallel
@pytest.mark.parametrize("case", list(FALLBACK_METHODS))
def test_ufunc_methods_fall_back(case):
    x = np.arange(37 * 23, dtype="i4").reshape(SHAPE) % 11 - 5
    a = cw.asarray(x, chunks=CHUNKS)
    u = cw.asarray(x[0], chunks=5)
    fn, word = FALLBACK_METHODS[case]
    expected = np.asarray(fn((x, x[0])))
    with pytest.warns(cw.FallbackWarning, match=word):
        r = fn((a, u))
    assert isinstance(r, cw.Array)
    assert_same(r, expected, what=case)
    with cw.config(fallback="error"):
        with pytest.raises(TypeError):
            evaluate(fn((a, u)))


def test_ufunc_at_falls_back_on_ndarray_target():
    vals = np.array([1.5, 2.0, -1.0, 4.0])
    idx = np.array([0, 2, 2, 5])
    target = np.zeros(7)
    expected = target.copy()
    np.add.at(expected, idx, vals)
    with pytest.warns(cw.FallbackWarning, match="at"):
        np.add.at(target, idx, cw.asarray(vals, chunks=3))
    assert np.array_equal(target, expected)
    with cw.config(fallback="error"):
        with pytest.raises(TypeError):
            np.add.at(np.zeros(7), idx, cw.asarray(vals))


@parallel
@pytest.mark.parametrize("case", ["unwrap", "polyval", "interp", "linalg.norm"])
def test_numpy_functions_fall_back(case):
    x = (np.arange(37 * 23, dtype="f8").reshape(SHAPE) * 7.3) % 13
    a = cw.asarray(x, chunks=CHUNKS)
    fn = {"unwrap": lambda m: np.unwrap(m, axis=1),
          "polyval": lambda m: np.polyval([2.0, -1.0, 0.5], m),
          "interp": lambda m: np.interp(m, [0.0, 5.0, 13.0], [1.0, -2.0, 4.0]),
          # singular values of a stack of matrices (of a 2-d array: TSQR, lazy)
          "linalg.norm": lambda m: np.linalg.norm(m[None], 2, axis=(1, 2))}[case]
    expected = np.asarray(fn(x))
    word = case.split(".")[-1]
    with pytest.warns(cw.FallbackWarning, match=word):
        r = fn(a)
    assert isinstance(r, cw.Array), type(r)
    assert r.shape == expected.shape
    assert_same(r, expected, approx=case == "linalg.norm", what=case)
    with cw.config(fallback="error"):
        with pytest.raises(TypeError):
            evaluate(fn(a))


def test_fallback_config_restored():
    a = cw.asarray(np.arange(6.0))
    with cw.config(fallback="error"):
        with pytest.raises(TypeError):
            np.unwrap(a)
    with pytest.warns(cw.FallbackWarning):
        r = np.unwrap(a)
    assert isinstance(r, cw.Array) and r.shape == (6,) and float(r[-1]) == 5.0
