"""NumPy ufuncs and Python operators on lazy chunkwise arrays, against NumPy.

Every ufunc of the matrix below is called on every dtype NumPy itself
accepts for it (among bool, int8-int64, uint8-uint64, float16-float64), on
37x23 arrays split into uneven (8, 5) chunks, with edge values in the data
(0, -0.0, +-1, NaN, +-inf, tiny/huge floats, the extremes of every integer
range, zero divisors, out-of-range shift counts).  Each call must give a
lazy ``cw.Array`` with NumPy's shape and dtype; computing it must give
NumPy's values on the materialised inputs: exactly (``np.array_equal`` with
``equal_nan``) for everything but transcendental functions, which must be
close (rtol 1e-6 / 1e-5 / 1e-3 for float64 / float32 / float16) with NaN and
+-inf in exactly the same places.  The one place where NumPy's own answer
depends on memory layout, power(-inf, 0.5) in float32/float64 (NaN through
its sqrt path for a stride-0 exponent, +inf otherwise), accepts either.

Inputs come from memory and from HDF5 (h5py-written, chunked, compressed),
as views, broadcast (1, 23) x (37, 1), mixed with ndarrays, 0-d arrays and
Python scalars on either side; chunkings that make tiles single columns or
rows, and F-ordered ``out=``, exercise the engine's strided paths.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import chunkwise as cw

from ufunc_helpers import (BINARY, BINARY_CASES, CHUNKS, DTYPES, SHAPE, TRANSCENDENTAL,
                           UNARY, UNARY_CASES, assert_same, check_call,
                           layout_dependent, numpy_or_exc, python_scalars, sample_pair,
                           second_kind)

pytestmark = pytest.mark.usefixtures("_one_thread_by_default")


# ---------------------------------------------------------- the matrix


def test_matrix_is_complete():
    # Every listed ufunc runs on at least one dtype NumPy accepts for it.
    names = {p.values[0] for p in UNARY_CASES + BINARY_CASES}
    assert names == set(UNARY) | set(BINARY)
    assert len(UNARY_CASES) + len(BINARY_CASES) > 600


@pytest.mark.parametrize("name, dt", UNARY_CASES)
def test_unary_ufunc(name, dt, h5inputs):
    f = getattr(np, name)
    x, _ = sample_pair(dt)
    xa = cw.asarray(x, chunks=CHUNKS)
    approx = name in TRANSCENDENTAL
    check_call(f, (xa,), (x,), approx, f"np.{name}(memory {dt})", threads=2)
    check_call(f, (h5inputs(dt, None, "x"),), (x,), approx, f"np.{name}(hdf5 {dt})")
    # On a lazy strided view, and on a 0-d and a 1-d slice.
    check_call(f, (xa[::-2, 3::3],), (x[::-2, 3::3],), approx, f"np.{name}(view {dt})")
    check_call(f, (xa[5],), (x[5],), approx, f"np.{name}(row {dt})")
    check_call(f, (cw.asarray(x[0, 0]),), (x[0, 0],), approx, f"np.{name}(0-d {dt})")


@pytest.mark.parametrize("name, dt", UNARY_CASES + BINARY_CASES)
def test_ufunc_column_and_row_tiles(name, dt):
    """Chunk shapes that make tiles a single column or row (common for HDF5
    datasets), and computing into an F-ordered ``out=``: the engine's
    strided paths."""
    f = getattr(np, name)
    kind = second_kind(name)
    x, y = sample_pair(dt, second=kind)
    approx = name in TRANSCENDENTAL
    nin = 1 if name in UNARY else 2
    expected, exc = numpy_or_exc(f, *((x, y)[:nin]))
    if exc is not None:
        pytest.skip("NumPy raises")  # covered by the main matrix
    for cx, cy, threads in [((37, 1), (37, 1), 1), ((5, 1), (1, 23), 1), ((1, 23), (37, 1), 1)]:
        args = (cw.asarray(x, chunks=cx), cw.asarray(y, chunks=cy))[:nin]
        check_call(f, args, (x, y)[:nin], approx,
                   f"np.{name}({dt}, chunks {cx}, {cy}; {threads} threads)", threads=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = f(*(cw.asarray(x, chunks=(37, 1)), cw.asarray(y, chunks=(37, 1)))[:nin])
    out = np.zeros(SHAPE, dtype=expected.dtype, order="F")
    with np.errstate(all="ignore"), cw.config(threads=2):
        r.compute(out=out)
    assert_same(cw.asarray(out), expected, approx, f"np.{name}({dt}) into F-ordered out",
                layout_dependent(f, (x, y)[:nin]))


@pytest.mark.parametrize("name, dt", BINARY_CASES)
def test_binary_ufunc(name, dt, h5inputs):
    f = getattr(np, name)
    kind = second_kind(name)
    x, y = sample_pair(dt, second=kind)
    xa, ya = cw.asarray(x, chunks=CHUNKS), cw.asarray(y, chunks=(5, 8))
    xh, yh = h5inputs(dt, kind, "x"), h5inputs(dt, kind, "y")
    approx = name in TRANSCENDENTAL
    cases = [
        ("memory, memory", (xa, ya), (x, y)),
        ("hdf5, memory", (xh, ya), (x, y)),
        ("memory, hdf5", (xa, yh), (x, y)),
        ("hdf5, hdf5", (xh, yh), (x, y)),
        # Broadcasting: (1, 23) with (37, 1), both as sources and as views.
        ("(1,23), (37,1)", (cw.asarray(x[3:4], chunks=(1, 5)), cw.asarray(y[:, 7:8], chunks=(8, 1))),
         (x[3:4], y[:, 7:8])),
        ("view (37,1), view (1,23)", (xh[:, 7:8], ya[3:4]), (x[:, 7:8], y[3:4])),
        ("(37,23), (23,)", (xa, ya[11]), (x, y[11])),
        ("strided views", (xa[::-3, 1::2], yh[1::3, ::-2]), (x[::-3, 1::2], y[1::3, ::-2])),
        # Mixing with plain ndarrays, 0-d arrays, on either side.
        ("memory, ndarray", (xa, y), (x, y)),
        ("ndarray, hdf5", (x, yh), (x, y)),
        ("ndarray (1,23), memory", (x[2:3], ya), (x[2:3], y)),
        ("memory, 0-d ndarray", (xa, np.array(y[4, 4])), (x, np.array(y[4, 4]))),
        ("0-d cw, memory", (cw.asarray(np.array(x[0, 1])), ya), (np.array(x[0, 1]), y)),
        ("0-d cw, 0-d cw", (cw.asarray(np.array(x[0, 1])), cw.asarray(np.array(y[2, 2]))),
         (np.array(x[0, 1]), np.array(y[2, 2]))),
    ]
    for k, (what, cw_args, np_args) in enumerate(cases):
        check_call(f, cw_args, np_args, approx, f"np.{name}({what}; {dt})",
                   threads=2 if k in (0, 3) else None)


SCALAR_CASES = BINARY_CASES


@pytest.mark.parametrize("name, dt", SCALAR_CASES)
def test_binary_ufunc_python_scalars(name, dt, h5inputs):
    """Python scalars on either side, with NumPy 2's weak-scalar promotion
    (and NumPy's errors, e.g. -2 with an unsigned array)."""
    f = getattr(np, name)
    kind = second_kind(name)
    x, y = sample_pair(dt, second=kind)
    xa, yh = cw.asarray(x, chunks=CHUNKS), h5inputs(dt, kind, "y")
    approx = name in TRANSCENDENTAL
    for s in python_scalars(dt):
        check_call(f, (xa, s), (x, s), approx, f"np.{name}({dt} array, {s!r})")
        check_call(f, (s, yh), (s, y), approx, f"np.{name}({s!r}, {dt} hdf5)")


# ------------------------------------------------------ mixed dtypes

MIXED = ["add", "subtract", "multiply", "true_divide", "floor_divide", "maximum",
         "less", "equal", "bitwise_and", "left_shift", "arctan2", "copysign"]


@pytest.mark.parametrize("name", MIXED)
def test_binary_ufunc_mixed_dtypes(name):
    """Every pair of dtypes: NumPy's promotion, values, and its TypeError
    where it has no loop."""
    f = getattr(np, name)
    approx = name in TRANSCENDENTAL
    for d1 in DTYPES:
        x, _ = sample_pair(d1, seed=1)
        x = x[:11, :7]
        xa = cw.asarray(x, chunks=(4, 3))
        for d2 in DTYPES:
            _, y = sample_pair(d2, seed=2, second=second_kind(name))
            y = y[:11, :7]
            ya = cw.asarray(y, chunks=(3, 4))
            check_call(f, (xa, ya), (x, y), approx, f"np.{name}({d1}, {d2})")
