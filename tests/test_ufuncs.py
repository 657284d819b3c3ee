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

import operator
import warnings

import h5py
import hdf5plugin  # noqa: F401  (registers Blosc for h5py)
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


# ---------------------------------------------------------------- threads
# Most of the thousands of small computations here run on one thread: with
# libgomp's spinning workers a tiny two-thread computation can take ~10 ms
# while another process keeps the second core busy.  Every matrix test still
# computes its main case on two threads, and the tests marked ``parallel``
# run entirely on two.

@pytest.fixture(autouse=True)
def _one_thread_by_default():
    with cw.config(threads=1):
        yield


@pytest.fixture
def _two_threads(_one_thread_by_default):
    with cw.config(threads=2):
        yield


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


# ---------------------------------------------------------- the matrix

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


def test_matrix_is_complete():
    # Every listed ufunc runs on at least one dtype NumPy accepts for it.
    names = {p.values[0] for p in UNARY_CASES + BINARY_CASES}
    assert names == set(UNARY) | set(BINARY)
    assert len(UNARY_CASES) + len(BINARY_CASES) > 600


@pytest.fixture(scope="module")
def h5inputs(tmp_path_factory):
    """Every dtype's standard x and y in one HDF5 file (chunked (8, 5),
    some compressed), opened lazily with cw.open on request."""
    path = tmp_path_factory.mktemp("ufunc") / "inputs.h5"
    kinds = (None, "shift", "exponent")
    with h5py.File(path, "w") as f:
        for i, dt in enumerate(DTYPES):
            for kind in kinds:
                x, y = sample_pair(dt, second=kind)
                comp = [{}, {"compression": "gzip", "shuffle": True},
                        dict(hdf5plugin.Blosc(cname="lz4"))][i % 3]
                f.create_dataset(f"{dt}/{kind}/x", data=x, chunks=CHUNKS, **comp)
                f.create_dataset(f"{dt}/{kind}/y", data=y, chunks=(5, 8), **comp)

    def get(dt, kind, which):
        return cw.open(path, f"/{dt}/{kind}/{which}")
    return get


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


def python_scalars(dt):
    dt = np.dtype(dt)
    if dt == np.bool_:
        return [True, 3, 0.5]
    if dt.kind in "iu":
        return [3, -2, 2.5]
    return [1.5, -2, float("nan")]


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


# --------------------------------------------------- laziness and indexing

@pytest.mark.parametrize("name, dt", UNARY_CASES + BINARY_CASES)
def test_ufunc_call_is_lazy(name, dt, h5inputs):
    """Every ufunc call on HDF5-backed inputs (and with a Python scalar)
    builds a lazy cw.Array: no chunk read, no fallback, also with
    cw.config(fallback="error")."""
    f = getattr(np, name)
    kind = second_kind(name)
    args = [h5inputs(dt, kind, "x")]
    if name in BINARY:
        args.append(h5inputs(dt, kind, "y"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        cw.reset_stats()
        results = [f(*args)]
        if name in BINARY:
            s = python_scalars(dt)[0]
            results += [f(args[0], s), f(s, args[1])]
        with cw.config(fallback="error"):
            results.append(f(*args))
    assert cw.stats()["chunks_read"] == 0, f"np.{name} on {dt} read chunks when called"
    for r in results:
        assert isinstance(r, cw.Array) and r.shape == SHAPE


def test_comparison_with_huge_python_int_is_lazy():
    u = np.array([0, 1, 255], dtype="u1")
    ua = cw.asarray(u, chunks=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        for r, e in [(np.less(ua, 2**70), np.less(u, 2**70)), (ua == -2**65, u == -2**65)]:
            assert_same(r, e, what="comparison with a Python int outside 64 bits")


@parallel
def test_ufunc_results_are_lazy(tmp_path):
    assert cw.get_config()["threads"] == 2
    path = tmp_path / "lazy.h5"
    x = np.arange(37 * 23, dtype="f8").reshape(SHAPE)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=CHUNKS)
    a = cw.open(path, "x")
    cw.reset_stats()
    e = np.sqrt(a * 2 + 1) - a[::-1] / 3
    e2 = (e > 5)[1:, ::2]
    assert isinstance(e, cw.Array) and isinstance(e2, cw.Array)
    assert e.shape == SHAPE and e.dtype == np.float64
    assert e2.shape == (36, 12) and e2.dtype == np.bool_
    assert cw.stats()["chunks_read"] == 0, "building an expression read chunks"
    assert_same(e2, (np.sqrt(x * 2 + 1) - x[::-1] / 3 > 5)[1:, ::2])
    assert cw.stats()["chunks_read"] > 0


INDEXES = [
    (slice(10, 20), slice(None, None, -3)),
    (slice(None, None, -1),),
    (3,),
    (-1, slice(2, None, 4)),
    (5, 7),
    (-37, -23),
    (None, slice(1, 30, 7), None, slice(None)),
    (Ellipsis, 4),
    (Ellipsis, None),
    (slice(30, 5, -2), Ellipsis, slice(-1, -24, -5)),
    (slice(40, 50),),          # empty
    (slice(5, 5), 3),          # empty
    (),
]


@parallel
@pytest.mark.parametrize("key", INDEXES, ids=[repr(k) for k in INDEXES])
def test_indexing_an_expression(key, h5inputs):
    x, y = sample_pair("f4")
    i, _ = sample_pair("i2")
    xa, yh, ia = cw.asarray(x, chunks=CHUNKS), h5inputs("f4", None, "y"), cw.asarray(i, chunks=(4, 9))
    with np.errstate(all="ignore"):
        exprs = [
            ((xa + yh)[key], (x + y)[key], False),
            ((xa * ia - 1.5)[key], (x * i - 1.5)[key], False),
            (np.sin(xa / yh)[key], np.sin(x / y)[key], True),
            ((ia > 3)[key], (i > 3)[key], False),
            (np.maximum(xa[:, 3:4], ia[5])[key], np.maximum(x[:, 3:4], i[5])[key], False),
        ]
    for r, e, approx in exprs:
        assert_same(r, e, approx, what=f"expr[{key!r}]")
    # Indexing twice, then computing more on the result.
    r = ((xa + yh)[key] * 2)
    with np.errstate(all="ignore"):
        assert_same(r, (x + y)[key] * 2, what="(a + b)[key] * 2")


def test_index_errors_on_expressions():
    a = cw.asarray(np.ones((4, 5)), chunks=2) + 1
    with pytest.raises(IndexError):
        a[4]
    with pytest.raises(IndexError):
        a[0, 0, 0]


# ------------------------------------------------------- astype, to_hdf5

@parallel
@pytest.mark.parametrize("src", DTYPES)
def test_astype_of_expression(src):
    rng = np.random.default_rng(7)
    dt = np.dtype(src)
    if dt == np.bool_:
        x = rng.random(SHAPE) < 0.5
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        x = rng.integers(max(info.min, -100), min(info.max, 100), SHAPE, endpoint=True).astype(dt)
        if dt.itemsize >= 2:  # values that wrap in narrower integer types
            x[0, :4] = [300, min(info.max, 70000), 255, 128]
    else:
        x = (rng.uniform(-100, 100, SHAPE)).astype(dt)
    z = np.zeros_like(x)
    xa, za = cw.asarray(x, chunks=CHUNKS), cw.asarray(z, chunks=(5, 8))
    e = xa + za
    base = x + z
    for dst in DTYPES:
        d = np.dtype(dst)
        b = base
        if dt.kind == "f" and d.kind == "u":
            b = np.abs(base)  # negative float -> unsigned is undefined
            r = abs(e).astype(d)
        else:
            r = e.astype(d)
        with np.errstate(all="ignore"):
            expected = b.astype(d)
        assert_same(r, expected, what=f"({src} expr).astype({dst})")
    if dt.kind == "f":
        y = x.copy()
        y[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
        ya = cw.asarray(y, chunks=CHUNKS)
        for dst in ("?", "f2", "f4", "f8"):
            with np.errstate(all="ignore"):
                assert_same((ya * 1).astype(dst), (y * 1).astype(dst), what=f"astype({dst}) specials")


@parallel
def test_to_hdf5_of_expression(tmp_path, h5inputs):
    x, y = sample_pair("f4")
    xa, yh = cw.asarray(x, chunks=CHUNKS), h5inputs("f4", None, "y")
    e = np.sqrt(np.abs(xa - yh)) * 2 + (xa > yh)
    with np.errstate(all="ignore"):
        expected = np.sqrt(np.abs(x - y)) * 2 + (x > y)
    out = tmp_path / "out.h5"
    stored = e.to_hdf5(out, "/r/e", chunks=(10, 6))
    with h5py.File(out, "r") as f:
        got = f["/r/e"][...]
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got, expected, equal_nan=True)
    assert_same(stored, expected, what="stored expression")
    # A view of an expression, stored with its default chunks and gzip.
    e[::-2, 5].to_hdf5(out, "/v", compression="gzip")
    with h5py.File(out, "r") as f:
        assert np.array_equal(f["/v"][...], expected[::-2, 5], equal_nan=True)


@parallel
def test_explain_mentions_fused_operations(capsys):
    a = cw.asarray(np.ones((6, 7)), chunks=(2, 3))
    b = cw.asarray(np.arange(42.0).reshape(6, 7), chunks=(3, 2))
    plan = np.sqrt(a + b).explain()
    text = (plan if isinstance(plan, str) else "") + capsys.readouterr().out
    assert "add" in text and "sqrt" in text, text
    plan = (np.exp(a) * b - 1)[2:].explain()
    text = (plan if isinstance(plan, str) else "") + capsys.readouterr().out
    assert "exp" in text and "multiply" in text and "subtract" in text, text


# ----------------------------------------------------------- threads

@pytest.mark.parametrize("dt", ["f2", "f4", "f8", "i8", "u2"])
def test_threads_bit_identical(dt, h5inputs):
    x, y = sample_pair(dt)
    xa, yh = cw.asarray(x, chunks=CHUNKS), h5inputs(dt, None, "y")
    if dt[0] == "f":
        e = np.logaddexp(np.sin(xa) * yh, np.sqrt(np.abs(yh))) / (xa - 1)
    else:
        e = (xa * 3 + yh) // (yh | 1) - np.maximum(xa, yh) % 7
    with np.errstate(all="ignore"):
        with cw.config(threads=1):
            r1 = np.asarray(e)
        with cw.config(threads=2):
            r2 = np.asarray(e)
            r3 = e.compute()
    assert r1.tobytes() == r2.tobytes() == r3.tobytes()


# ---------------------------------------------------------- out= / where=

@parallel
def test_out_ndarray_is_filled():
    x, y = sample_pair("f8")
    xa, ya = cw.asarray(x, chunks=CHUNKS), cw.asarray(y, chunks=CHUNKS)
    with np.errstate(all="ignore"):
        expected = np.add(x, y)
        buf = np.empty(SHAPE, "f8")
        r = np.add(xa, ya, out=buf)
        assert np.array_equal(buf, expected, equal_nan=True)
        assert np.array_equal(np.asarray(r), expected, equal_nan=True)
        buf2 = np.zeros(SHAPE, "f8")
        np.sqrt(xa, out=(buf2,))
        assert np.array_equal(buf2, np.sqrt(x), equal_nan=True)
        buf3 = np.zeros(SHAPE, bool)
        np.less(xa, y, out=buf3)
        assert np.array_equal(buf3, x < y)


@pytest.mark.parametrize("kwargs", [
    pytest.param(lambda: {"out": np.empty(SHAPE, "f4")}, id="out-wrong-dtype"),
    pytest.param(lambda: {"out": np.empty((37, 22), "f8")}, id="out-wrong-shape"),
    pytest.param(lambda: {"out": cw.asarray(np.empty(SHAPE))}, id="out-cw-array"),
    pytest.param(lambda: {"where": np.ones(SHAPE, bool)}, id="where-mask"),
    pytest.param(lambda: {"where": cw.asarray(np.ones(SHAPE, bool))}, id="where-cw"),
    pytest.param(lambda: {"out": np.empty(SHAPE, "f8"), "where": np.ones(SHAPE, bool)},
                 id="out-and-where"),
])
def test_unsupported_out_and_where_raise_typeerror(kwargs):
    a = cw.asarray(np.ones(SHAPE), chunks=CHUNKS)
    kw = kwargs()
    with pytest.raises(TypeError, match="out|where"):
        np.add(a, a, **kw)


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
@pytest.mark.parametrize("case", ["sort", "median", "diff", "linalg.norm"])
def test_numpy_functions_fall_back(case):
    x = (np.arange(37 * 23, dtype="f8").reshape(SHAPE) * 7.3) % 13
    a = cw.asarray(x, chunks=CHUNKS)
    fn = {"sort": lambda m: np.sort(m, axis=1),
          "median": lambda m: np.median(m),
          "diff": lambda m: np.diff(m, axis=0),
          "linalg.norm": lambda m: np.linalg.norm(m)}[case]
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
            np.median(a)
    with pytest.warns(cw.FallbackWarning):
        r = np.median(a)
    assert isinstance(r, cw.Array) and r.shape == () and float(r) == 2.5
