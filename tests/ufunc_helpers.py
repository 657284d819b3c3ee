"""Shared inputs, fixtures and comparisons of the ufunc and operator tests
(tests/test_ufunc_*.py; what they check is described in
tests/test_ufunc_matrix.py): the ufunc lists and their dtype matrix, edge-value
data, the ``parallel`` mark and the comparisons with NumPy.  Their fixtures
(``_one_thread_by_default``, ``_two_threads``, ``h5inputs``) are in
tests/conftest.py.
"""
from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest

import chunkwise as cw

DTYPES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"]
SHAPE = (37, 23)
CHUNKS = (8, 5)

UNARY = [
    "negative", "positive", "absolute", "square", "reciprocal", "sqrt", "cbrt",
    "logical_not", "invert", "exp", "exp2", "expm1", "log", "log2", "log10",
    "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
    "tanh", "arcsinh", "arccosh", "arctanh", "floor", "ceil", "trunc", "rint",
    "sign", "isnan", "isinf", "isfinite", "signbit", "deg2rad", "rad2deg",
]
BINARY = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "power", "float_power", "equal", "not_equal", "less",
    "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
    "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift",
    "right_shift", "maximum", "minimum", "fmax", "fmin", "arctan2", "hypot",
    "copysign", "nextafter", "heaviside", "logaddexp", "logaddexp2",
]
# Results computed by libm-style approximations: compared with a tolerance.
TRANSCENDENTAL = {
    "cbrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin",
    "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "arcsinh", "arccosh", "arctanh", "arctan2", "hypot", "power",
    "float_power", "logaddexp", "logaddexp2", "deg2rad", "rad2deg",
}
RTOL = {np.dtype("f8"): 1e-6, np.dtype("f4"): 1e-5, np.dtype("f2"): 1e-3}

# Tests that run entirely on two threads (the default here is one: see
# _one_thread_by_default in tests/conftest.py).
parallel = pytest.mark.usefixtures("_two_threads")


# ------------------------------------------------------------------ data

def _int_specials(dt):
    info = np.iinfo(dt)
    vals = {info.min, info.min + 1, info.max - 1, info.max, 0, 1, 2, 3, 7,
            100, info.max // 2}
    if info.min < 0:
        vals |= {-1, -2, -3, -7, -100, info.min // 2}
    return sorted(v for v in vals if info.min <= v <= info.max)


def _float_specials(dt):
    fi = np.finfo(dt)
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -3.5, np.nan, np.inf, -np.inf,
            float(fi.tiny), -float(fi.tiny), float(fi.max), float(fi.min),
            float(fi.eps), 0.999, 1.001, np.pi, -np.pi / 2, 100.0, -100.0]
    with np.errstate(all="ignore"):
        return np.array(vals, dtype=dt)


def sample_pair(dt, seed=0, second=None):
    """Two 37x23 arrays of dtype ``dt`` whose first cells hold every pair of
    edge values (x_i, y_j), placed at random positions; the rest is random.
    ``second`` selects a special range for y: "shift" (shift counts,
    including negative and too large ones) or "exponent" (0..9)."""
    dt = np.dtype(dt)
    n = SHAPE[0] * SHAPE[1]
    rng = np.random.default_rng([seed, dt.num])
    with np.errstate(all="ignore"):
        if dt == np.bool_:
            sx = np.array([False, True, False, True])
            sy = np.array([False, False, True, True])
            x = rng.random(n) < 0.5
            y = rng.random(n) < 0.5
            x[:4], y[:4] = sx, sy
        elif dt.kind in "iu":
            info = np.iinfo(dt)
            sp = np.array(_int_specials(dt), dtype=dt)
            k = len(sp)
            xs, ys = np.repeat(sp, k), np.tile(sp, k)
            half = (n - k * k) // 2
            small = rng.integers(max(info.min, -10), min(info.max, 10), n, endpoint=True).astype(dt)
            full_ = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
            x = np.where(np.arange(n) < half, small, full_).astype(dt)
            y = np.where(np.arange(n) % 2 == 0, small[::-1], full_[::-1]).astype(dt)
            x[:k * k], y[:k * k] = xs, ys
        else:
            sp = _float_specials(dt)
            k = len(sp)
            xs, ys = np.repeat(sp, k), np.tile(sp, k)
            parts = [rng.uniform(-1.5, 1.5, n),
                     rng.standard_normal(n) * 20,
                     np.sign(rng.standard_normal(n)) * 10.0 ** rng.uniform(-6, 6, n)]
            x = np.choose(rng.integers(0, 3, n), parts).astype(dt)
            y = np.choose(rng.integers(0, 3, n), parts).astype(dt)[::-1].copy()
            x[:k * k], y[:k * k] = xs, ys
        if second == "shift" and dt.kind in "iu":
            bits = dt.itemsize * 8
            lo = -2 if dt.kind == "i" else 0
            y = rng.integers(lo, bits + 2, n, endpoint=True).astype(dt)
            y[:bits + 3 - lo] = np.arange(lo, bits + 3)
        elif second == "exponent" and dt.kind in "iu":
            y = rng.integers(0, 9, n, endpoint=True).astype(dt)
            y[: len(y) // 4] = np.arange(len(y) // 4) % 10
    perm = rng.permutation(n)
    return x[perm].reshape(SHAPE), y[perm].reshape(SHAPE)


def second_kind(name):
    if name in ("left_shift", "right_shift"):
        return "shift"
    if name == "power":
        return "exponent"
    return None


# ---------------------------------------------------------- comparisons

def evaluate(a):
    with np.errstate(all="ignore"):
        return np.asarray(a)


def assert_same(result, expected, approx=False, what="", either=None):
    """``result``: a lazy cw.Array; ``expected``: NumPy's ndarray.
    ``either``: a mask of elements where NumPy itself gives inf or NaN
    depending on memory layout; there either is accepted."""
    expected = np.asarray(expected)
    assert isinstance(result, cw.Array), f"{what}: got {type(result).__name__}, not cw.Array"
    assert result.shape == expected.shape, f"{what}: shape {result.shape} != {expected.shape}"
    assert result.dtype == expected.dtype, f"{what}: dtype {result.dtype} != {expected.dtype}"
    got = evaluate(result)
    assert type(got) is np.ndarray
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    if either is not None and either.any():
        assert np.all(np.isnan(got[either]) | (got[either] == np.inf)), what
        got, expected = got.copy(), expected.copy()
        got[either] = expected[either] = np.nan
    if approx and expected.dtype.kind == "f":
        assert np.array_equal(np.isnan(got), np.isnan(expected)), \
            f"{what}: NaN positions differ at {np.argwhere(np.isnan(got) != np.isnan(expected))[:5].tolist()}"
        for sign in (1, -1):
            gi, ei = got == sign * np.inf, expected == sign * np.inf
            assert np.array_equal(gi, ei), \
                f"{what}: {sign:+d}inf positions differ at {np.argwhere(gi != ei)[:5].tolist()}"
        fin = np.isfinite(expected)
        np.testing.assert_allclose(got[fin], expected[fin], rtol=RTOL[expected.dtype],
                                   atol=0, err_msg=what)
    elif not np.array_equal(got, expected, equal_nan=expected.dtype.kind == "f"):
        if expected.dtype.kind == "f":
            bad = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
        else:
            bad = got != expected
        idx = np.argwhere(bad)[:5]
        detail = [(tuple(i), got[tuple(i)].item(), expected[tuple(i)].item()) for i in idx]
        pytest.fail(f"{what}: {int(bad.sum())} of {bad.size} values differ; "
                    f"(index, got, expected): {detail}")


def numpy_or_exc(fn, *args):
    """NumPy's result, or the exception class it raises."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args), None
    except Exception as e:  # noqa: BLE001
        # The nearest built-in class: NumPy's UFuncTypeError -> TypeError.
        return None, next(c for c in type(e).__mro__ if c.__module__ == "builtins")


def layout_dependent(fn, np_args):
    """NumPy's float32/float64 power loop takes sqrt's path when the exponent
    is a stride-0 0.5 (giving NaN for -inf) and pow()'s otherwise (+inf):
    NumPy's own answer for power(-inf, 0.5) depends on memory layout."""
    if fn not in (np.power, np.float_power, operator.pow) or len(np_args) != 2:
        return None
    x, y = (np.asarray(v) for v in np_args)
    if np.result_type(*np_args).kind != "f":
        return None
    with np.errstate(all="ignore"):
        return np.broadcast_to((x == -np.inf) & (y == 0.5), np.broadcast_shapes(x.shape, y.shape))


def check_call(fn, cw_args, np_args, approx, what, threads=None):
    """``fn`` on chunkwise inputs against ``fn`` on NumPy inputs; where
    NumPy raises, chunkwise must raise the same (built-in) error class,
    when called or when computed."""
    expected, exc = numpy_or_exc(fn, *np_args)
    with cw.config(threads=threads) if threads else _nothing():
        if exc is not None:
            with pytest.raises(exc), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                evaluate(fn(*cw_args))
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = fn(*cw_args)
        assert_same(result, expected, approx, what, layout_dependent(fn, np_args))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

def _numpy_accepts(name, dt, nargs):
    f = getattr(np, name)
    a = np.ones(3, dtype=dt)
    try:
        with np.errstate(all="ignore"):
            f(*([a] * nargs))
    except TypeError:
        return False
    return True


UNARY_CASES = [pytest.param(n, d, id=f"{n}-{d}") for n in UNARY for d in DTYPES
               if _numpy_accepts(n, d, 1)]
BINARY_CASES = [pytest.param(n, d, id=f"{n}-{d}") for n in BINARY for d in DTYPES
                if _numpy_accepts(n, d, 2)]

def python_scalars(dt):
    dt = np.dtype(dt)
    if dt == np.bool_:
        return [True, 3, 0.5]
    if dt.kind in "iu":
        return [3, -2, 2.5]
    return [1.5, -2, float("nan")]
