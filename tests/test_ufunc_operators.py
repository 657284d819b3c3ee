"""Python operators on lazy chunkwise arrays (binary, unary, ``@``, ``**``)
against NumPy, and NumPy 2's promotion of Python scalars: weak scalars,
out-of-range integers, wraparound and negative integer powers.
"""
from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest

import chunkwise as cw

from ufunc_helpers import (CHUNKS, DTYPES, assert_same, check_call, evaluate, parallel,
                           python_scalars, sample_pair)

pytestmark = pytest.mark.usefixtures("_one_thread_by_default")


# ------------------------------------------------------------ operators

BINARY_OPERATORS = [
    ("+", operator.add), ("-", operator.sub), ("*", operator.mul),
    ("/", operator.truediv), ("//", operator.floordiv), ("%", operator.mod),
    ("**", operator.pow), ("==", operator.eq), ("!=", operator.ne),
    ("<", operator.lt), ("<=", operator.le), (">", operator.gt),
    (">=", operator.ge), ("&", operator.and_), ("|", operator.or_),
    ("^", operator.xor), ("<<", operator.lshift), (">>", operator.rshift),
]
UNARY_OPERATORS = [("-", operator.neg), ("+", operator.pos), ("abs", abs),
                   ("~", operator.invert)]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("sym, op", BINARY_OPERATORS, ids=[s for s, _ in BINARY_OPERATORS])
def test_binary_operator(sym, op, dt, h5inputs):
    kind = {"<<": "shift", ">>": "shift", "**": "exponent"}.get(sym)
    x, y = sample_pair(dt, second=kind)
    xa, yh = cw.asarray(x, chunks=CHUNKS), h5inputs(dt, kind, "y")
    approx = sym == "**"
    what = f"a {sym} b ({dt})"
    check_call(op, (xa, yh), (x, y), approx, what, threads=2)
    # An ndarray on either side: NumPy defers to chunkwise (a cw.Array).
    check_call(op, (x, yh), (x, y), approx, what + " ndarray on the left")
    check_call(op, (xa, y), (x, y), approx, what + " ndarray on the right")


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("sym, op", BINARY_OPERATORS, ids=[s for s, _ in BINARY_OPERATORS])
def test_binary_operator_scalars(sym, op, dt):
    """Forward and reflected forms with Python scalars and NumPy scalars."""
    x, _ = sample_pair(dt, seed=3)
    xa = cw.asarray(x, chunks=CHUNKS)
    approx = sym == "**"
    for s in python_scalars(dt) + [np.float64(2), np.int8(3)]:
        check_call(op, (s, xa), (s, x), approx, f"{s!r} {sym} a ({dt})")
        check_call(op, (xa, s), (x, s), approx, f"a {sym} {s!r} ({dt})")


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("sym, op", UNARY_OPERATORS, ids=[s for s, _ in UNARY_OPERATORS])
def test_unary_operator(sym, op, dt):
    x, _ = sample_pair(dt)
    xa = cw.asarray(x, chunks=CHUNKS)
    check_call(op, (xa,), (x,), False, f"{sym}a ({dt})")
    check_call(op, (xa[3:, ::-2],), (x[3:, ::-2],), False, f"{sym}a[3:, ::-2] ({dt})")


@pytest.mark.parametrize("d1, d2", [("f8", "f8"), ("i4", "i4"), ("f4", "i2"), ("u1", "u1")])
def test_matmul_operator(d1, d2):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 7, (9, 7)).astype(d1)
    y = rng.integers(0, 7, (7, 5)).astype(d2)
    expected = x @ y
    xa, ya = cw.asarray(x, chunks=(4, 3)), cw.asarray(y, chunks=(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cw.FallbackWarning)
        for r in (xa @ ya, x @ ya, xa @ y):
            assert isinstance(r, cw.Array)
            assert r.shape == expected.shape and r.dtype == expected.dtype
            got = evaluate(r)
            np.testing.assert_allclose(got, expected, rtol=1e-6)
            assert got.dtype == expected.dtype


@pytest.mark.parametrize("dt, e", [pytest.param(dt, e, id=f"{dt}**{e!r}")
                                   for dt in DTYPES for e in (2, 0.5, -1, 1, 0, 2.0, 3)])
def test_power_operator_small_exponents_match_ndarray(dt, e):
    """``a ** 2``, ``a ** 0.5``, ``a ** -1`` ... give what the same operator
    gives on an ndarray (NumPy's ``ndarray.__pow__`` squares for ``** 2``;
    for power(-inf, 0.5) NumPy itself gives inf or NaN, both accepted)."""
    x, _ = sample_pair(dt, seed=9)
    xa = cw.asarray(x, chunks=CHUNKS)
    check_call(operator.pow, (xa, e), (x, e), False, f"a ** {e!r} ({dt})")


# ------------------------------------------------ Python scalar promotion

@parallel
@pytest.mark.parametrize("dt, scalar, expected_dtype", [
    ("f4", 1.5, "f4"), ("f4", 1, "f4"), ("f4", 2**70, "f4"), ("f2", 1.5, "f2"),
    ("f2", 1e10, "f2"), ("i1", 100, "i1"), ("i1", -128, "i1"), ("u1", 255, "u1"),
    ("i1", 1.5, "f8"), ("u2", 2.5, "f8"), ("?", True, "?"), ("?", 1, "i8"),
    ("?", 1.5, "f8"), ("u8", 2**64 - 1, "u8"), ("i8", -2**63, "i8"),
    ("f4", np.float64(2), "f8"), ("i1", np.int64(2), "i8"),
    ("f2", np.float32(2), "f4"), ("u1", np.int8(-1), "i2"),
    ("f4", np.array(2.0), "f8"), ("i2", np.array(3, dtype="i4"), "i4"),
])
def test_python_scalar_promotion(dt, scalar, expected_dtype):
    x, _ = sample_pair(dt, seed=5)
    xa = cw.asarray(x, chunks=CHUNKS)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pairs = [(xa + scalar, x + scalar), (scalar + xa, scalar + x),
                 (xa * scalar, x * scalar), (scalar - xa if dt != "?" else scalar * xa,
                                             scalar - x if dt != "?" else scalar * x),
                 (np.maximum(xa, scalar), np.maximum(x, scalar))]
    for r, e in pairs:
        assert e.dtype == np.dtype(expected_dtype)  # NumPy's rule, as a sanity check
        assert r.dtype == np.dtype(expected_dtype)
        assert_same(r, e, what=f"{dt} with {scalar!r}")


@pytest.mark.parametrize("dt, scalar", [("i1", 300), ("i1", -129), ("u1", -1), ("u1", 256),
                                         ("i4", 2**40), ("u8", -1), ("i8", 2**63),
                                         ("u2", 2**16)])
def test_python_int_out_of_range_raises_overflow(dt, scalar):
    x = np.ones((5, 4), dtype=dt)
    xa = cw.asarray(x, chunks=(2, 3))
    with pytest.raises(OverflowError):
        x + scalar  # NumPy's own behaviour
    for fn in (lambda: xa + scalar, lambda: scalar + xa, lambda: xa * scalar,
               lambda: np.maximum(xa, scalar), lambda: xa // scalar):
        with pytest.raises(OverflowError):
            fn()


@parallel
def test_comparison_with_out_of_range_python_int():
    # NumPy 2 compares integer arrays with any Python int correctly.
    x = np.array([-128, -1, 0, 5, 127], dtype="i1")
    u = np.array([0, 1, 255], dtype="u1")
    xa, ua = cw.asarray(x, chunks=2), cw.asarray(u, chunks=2)
    for r, e in [(xa < 300, x < 300), (xa > -300, x > -300), (xa == 1000, x == 1000),
                 (ua == -1, u == -1), (ua != -1, u != -1), (ua >= -5, u >= -5),
                 (300 > xa, 300 > x), (np.less(ua, 2**70), np.less(u, 2**70))]:
        assert_same(r, e, what="comparison with an out-of-range int")


@parallel
def test_integer_wraparound_matches_numpy():
    x = np.array([100, 127, -128, -1], dtype="i1")
    xa = cw.asarray(x, chunks=3)
    for r, e in [(xa + 100, x + np.int8(100)), (xa * 3, x * np.int8(3)),
                 (-xa, -x), (abs(xa), abs(x)), (xa - 127, x - np.int8(127))]:
        assert e.dtype == np.int8
        assert_same(r, e, what="int8 wraparound")


@parallel
def test_integer_power_negative_exponent_raises_like_numpy():
    x = np.arange(1, 13, dtype="i4").reshape(3, 4)
    y = np.full((3, 4), 2, dtype="i4")
    y[2, 3] = -1
    with pytest.raises(ValueError):
        np.power(x, y)
    xa, ya = cw.asarray(x, chunks=2), cw.asarray(y, chunks=2)
    with pytest.raises(ValueError):
        evaluate(np.power(xa, ya))
    with pytest.raises(ValueError):
        evaluate(xa ** -1)
