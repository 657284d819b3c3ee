"""Property tests: random lazy ufunc expressions against NumPy.

Hypothesis draws 1-3 inputs (1-3-d shapes that broadcast together, any
supported dtype, random chunking, in memory or in an HDF5 file written by
h5py), an expression tree of depth up to 4 over them and Python scalars
(ufuncs, np.where, astype, and reversing / new-axis indexing of
subexpressions), and a basic index of the result.  The lazy expression must
have NumPy's shape and dtype (or raise NumPy's error class), and computing
it must give NumPy's values on the materialised inputs: exactly for trees
without transcendental functions, within a relative tolerance (and with
NaN/inf in the same places) otherwise.
"""
from __future__ import annotations

import itertools
import warnings

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st

import chunkwise as cw

DTYPES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"]
UNARY = ["negative", "absolute", "sqrt", "exp", "sin"]
BINARY = ["add", "subtract", "multiply", "true_divide", "maximum", "minimum",
          "equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
TRANSCENDENTAL = {"exp", "sin"}
RTOL = {np.dtype("f8"): 1e-6, np.dtype("f4"): 1e-5, np.dtype("f2"): 1e-3}
SCALARS = [0, 1, 2, -1, 3, 100, 0.5, -1.5, 2.0, 1e-3, True, float("nan"), float("inf")]

_counter = itertools.count()


# ----------------------------------------------------------- strategies

# Index keys valid for any number of dimensions that keep the operands
# broadcastable: reversals (pushed down through broadcast axes) and a new axis.
IDX_KEYS = [(Ellipsis, slice(None, None, -1)), (slice(None, None, -1), Ellipsis),
            (None, Ellipsis), (slice(None, None, -1), None)]
# Python scalars inside np.where: in range for every dtype (see
# test_where_out_of_range_python_int for the others).
WHERE_SCALARS = [0, 1, 2, 0.5, -1.5, True, float("nan")]


def _leaf(n_inputs):
    return st.one_of(
        st.tuples(st.just("in"), st.integers(0, n_inputs - 1)),
        st.tuples(st.just("in"), st.integers(0, n_inputs - 1)),
        st.tuples(st.just("scalar"), st.sampled_from(SCALARS)),
    )


def _where_safe(draw, t):
    if t[0] == "scalar":
        return ("scalar", draw(st.sampled_from(WHERE_SCALARS)))
    return t


@st.composite
def _node(draw, n_inputs, depth):
    """An operation of depth exactly ``depth``: one operand (any position)
    has depth ``depth - 1``, the others any depth below it.  Nodes: ufuncs
    ("un", "bin"), np.where, astype and basic indexing of subexpressions."""
    deep = draw(_node(n_inputs, depth - 1)) if depth > 1 else draw(_leaf(n_inputs))
    kind = draw(st.sampled_from(["un", "bin", "bin", "bin", "where", "cast", "idx"]))
    if kind == "un":
        return ("un", draw(st.sampled_from(UNARY)), deep)
    if kind == "idx":
        return ("idx", draw(st.sampled_from(IDX_KEYS)), deep)
    if kind == "cast":
        return ("cast", draw(st.sampled_from(DTYPES)), deep)
    n_ops = 3 if kind == "where" else 2
    ops = [draw(_tree(n_inputs, depth - 1)) for _ in range(n_ops - 1)]
    ops.insert(draw(st.integers(0, n_ops - 1)), deep)
    if kind == "where":
        return ("where", "where", ops[0], _where_safe(draw, ops[1]), _where_safe(draw, ops[2]))
    return ("bin", draw(st.sampled_from(BINARY)), *ops)


def _tree(n_inputs, max_depth):
    if max_depth == 0:
        return _leaf(n_inputs)
    return st.one_of(_leaf(n_inputs), *[_node(n_inputs, d) for d in range(1, max_depth + 1)])


def _uses_input(tree):
    if tree[0] == "in":
        return True
    if tree[0] == "scalar":
        return False
    return any(_uses_input(t) for t in tree[2:])


def _transcendental(tree):
    if tree[0] in ("in", "scalar"):
        return False
    return ((tree[0] == "un" and tree[1] in TRANSCENDENTAL)
            or any(_transcendental(t) for t in tree[2:]))


def _depth(tree):
    if tree[0] in ("in", "scalar"):
        return 0
    return 1 + max(_depth(t) for t in tree[2:])


def _show(tree):
    kind = tree[0]
    if kind == "in":
        return f"x{tree[1]}"
    if kind == "scalar":
        return repr(tree[1])
    if kind == "idx":
        key = ", ".join("..." if k is Ellipsis else "None" if k is None else "::-1"
                        for k in tree[1])
        return f"({_show(tree[2])})[{key}]"
    if kind == "cast":
        return f"({_show(tree[2])}).astype({tree[1]!r})"
    return f"{tree[1]}({', '.join(_show(t) for t in tree[2:])})"


@st.composite
def inputs_and_tree(draw, max_depth=4):
    nd = draw(st.integers(1, 3))
    base = draw(st.lists(st.integers(1, 11), min_size=nd, max_size=nd))
    n = draw(st.integers(1, 3))
    specs = []
    for _ in range(n):
        k = draw(st.integers(1, nd))  # trailing dimensions it has
        shape = tuple(1 if draw(st.integers(0, 3)) == 0 else base[j] for j in range(nd - k, nd))
        dtype = draw(st.sampled_from(DTYPES))
        chunks = tuple(draw(st.integers(1, s)) for s in shape)
        where = draw(st.sampled_from(["memory", "hdf5"]))
        seed = draw(st.integers(0, 2**32 - 1))
        specs.append((shape, dtype, chunks, where, seed))
    tree = draw(_node(n, draw(st.integers(1, max_depth))))
    if not _uses_input(tree):
        tree = ("bin", "add", ("in", 0), tree)
    return specs, tree


def make_data(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    size = int(np.prod(shape))
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        small = rng.integers(max(info.min, -20), min(info.max, 20), size, endpoint=True).astype(dt)
        big = rng.integers(info.min, info.max, size, dtype=dt, endpoint=True)
        ext = np.array([info.min, info.max, 0], dtype=dt)[rng.integers(0, 3, size)]
        pick = rng.integers(0, 10, size)
        x = np.where(pick < 7, small, np.where(pick < 9, big, ext))
        return x.astype(dt).reshape(shape)
    with np.errstate(all="ignore"):
        vals = np.where(rng.random(size) < 0.5, rng.standard_normal(size) * 10,
                        rng.uniform(-3, 3, size))
        specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0])
        sp = rng.random(size) < 0.1
        vals[sp] = specials[rng.integers(0, len(specials), int(sp.sum()))]
        return vals.astype(dt).reshape(shape)


@pytest.fixture(scope="module")
def h5dir(tmp_path_factory):
    return tmp_path_factory.mktemp("props")


def build_inputs(specs, h5dir):
    """(materialised ndarrays, chunkwise arrays)."""
    nps, cws = [], []
    path = h5dir / f"in{next(_counter)}.h5"
    for i, (shape, dtype, chunks, where, seed) in enumerate(specs):
        x = make_data(shape, dtype, seed)
        nps.append(x)
        if where == "memory":
            cws.append(cw.asarray(x, chunks=chunks))
        else:
            with h5py.File(path, "a") as f:
                f.create_dataset(f"x{i}", data=x, chunks=chunks,
                                 compression="gzip" if seed % 2 else None)
            cws.append(cw.open(path, f"x{i}"))
    return nps, cws


def evaluate_tree(tree, leaves):
    """The same evaluation for NumPy leaves (ndarrays) and chunkwise leaves;
    scalar-only subtrees give the same NumPy scalars on both sides."""
    kind = tree[0]
    if kind == "in":
        return leaves[tree[1]]
    if kind == "scalar":
        return tree[1]
    args = [evaluate_tree(t, leaves) for t in tree[2:]]
    if kind == "idx":
        v = args[0]
        return v if np.ndim(v) == 0 else v[tree[1]]
    if kind == "cast":
        v = args[0]
        if not hasattr(v, "astype"):
            v = np.asarray(v)
        dt = np.dtype(tree[1])
        if v.dtype.kind == "f" and dt.kind in "iu":
            dt = np.dtype("f4")  # NaN, inf, out-of-range floats to int: undefined
        return v.astype(dt)
    return getattr(np, tree[1])(*args)


def numpy_result(tree, nps):
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(evaluate_tree(tree, nps)), None
    except Exception as e:  # noqa: BLE001
        return None, next(c for c in type(e).__mro__ if c.__module__ == "builtins")


def assert_matches(got, expected, approx, what):
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    if approx and expected.dtype.kind == "f":
        assert np.array_equal(np.isnan(got), np.isnan(expected)), what + ": NaN positions"
        assert np.array_equal(got == np.inf, expected == np.inf), what + ": +inf positions"
        assert np.array_equal(got == -np.inf, expected == -np.inf), what + ": -inf positions"
        fin = np.isfinite(expected)
        np.testing.assert_allclose(got[fin], expected[fin], rtol=RTOL[expected.dtype],
                                   atol=0, err_msg=what)
    else:
        ok = np.array_equal(got, expected, equal_nan=expected.dtype.kind == "f")
        if not ok:
            bad = np.argwhere(~((got == expected) | (np.isnan(got) & np.isnan(expected))
                                if expected.dtype.kind == "f" else got != expected))[:5]
            detail = [(tuple(int(j) for j in i), got[tuple(i)].item(), expected[tuple(i)].item())
                      for i in bad]
            pytest.fail(f"{what}: values differ (index, got, expected): {detail}")


@st.composite
def basic_index(draw, shape):
    parts = []
    for n in shape:
        c = draw(st.integers(0, 3))
        if c == 0 and n > 0:
            parts.append(draw(st.integers(-n, n - 1)))
        elif c == 1:
            start = draw(st.none() | st.integers(-n - 2, n + 2))
            stop = draw(st.none() | st.integers(-n - 2, n + 2))
            step = draw(st.none() | st.sampled_from([1, 2, 3, -1, -2, -3]))
            parts.append(slice(start, stop, step))
        else:
            parts.append(slice(None))
    # Maybe replace a run of entries with ..., then add up to two None axes.
    if parts and draw(st.booleans()):
        i = draw(st.integers(0, len(parts)))
        j = draw(st.integers(i, len(parts)))
        parts[i:j] = [Ellipsis]
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


def _describe(specs, tree):
    ins = ", ".join(f"x{i}: {dt}{shape} chunks={ch} {wh}"
                    for i, (shape, dt, ch, wh, _) in enumerate(specs))
    return f"{_show(tree)} with {ins}"


# ----------------------------------------------------------------- tests

@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=inputs_and_tree(), data=st.data())
def test_random_expression_matches_numpy(case, data, h5dir):
    specs, tree = case
    nps, cws = build_inputs(specs, h5dir)
    what = _describe(specs, tree)
    expected, exc = numpy_result(tree, nps)
    event(f"depth {_depth(tree)}")
    event("NumPy raises" if exc is not None else "NumPy computes")
    event("has hdf5 input" if any(sp[3] == "hdf5" for sp in specs) else "memory only")
    if exc is not None:
        # NumPy rejects it (e.g. negative() of bool, -1 with an unsigned
        # array): chunkwise must raise the same kind of error.
        with pytest.raises(exc), np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.asarray(evaluate_tree(tree, cws))
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lazy = evaluate_tree(tree, cws)
    assert isinstance(lazy, cw.Array), what
    assert lazy.shape == expected.shape, f"{what}: shape {lazy.shape} != {expected.shape}"
    assert lazy.dtype == expected.dtype, f"{what}: dtype {lazy.dtype} != {expected.dtype}"
    approx = _transcendental(tree)
    with np.errstate(all="ignore"):
        got = np.asarray(lazy)
    assert_matches(got, expected, approx, what)

    key = data.draw(basic_index(expected.shape), label="index")
    sub_expected = expected[key]
    sub = lazy[key]
    assert isinstance(sub, cw.Array)
    assert sub.shape == sub_expected.shape and sub.dtype == sub_expected.dtype, f"{what}[{key!r}]"
    with np.errstate(all="ignore"):
        sub_got = np.asarray(sub)
    assert_matches(sub_got, np.asarray(sub_expected), approx, f"{what}[{key!r}]")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=inputs_and_tree(max_depth=3))
def test_threads_1_and_2_are_bit_identical(case, h5dir):
    specs, tree = case
    # Bigger inputs so that two threads really split the work.
    specs = [(tuple(min(4 * s, 40) if s > 1 else 1 for s in shape), dt,
              chunks, wh, seed) for shape, dt, chunks, wh, seed in specs]
    nps, cws = build_inputs(specs, h5dir)
    _, exc = numpy_result(tree, nps)
    assume(exc is None)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lazy = evaluate_tree(tree, cws)
        with cw.config(threads=1):
            r1 = np.asarray(lazy)
        with cw.config(threads=2):
            r2 = np.asarray(lazy)
    assert r1.dtype == r2.dtype and r1.shape == r2.shape
    assert r1.tobytes() == r2.tobytes(), _describe(specs, tree)


def test_threads_bit_identical_on_a_large_transcendental_expression(h5dir):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((300, 70)) * 30).astype("f4")
    y = rng.uniform(-2, 2, (300, 1))
    path = h5dir / "threads.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("y", data=y, chunks=(7, 1), compression="gzip")
    xa, yh = cw.asarray(x, chunks=(13, 9)), cw.open(path, "y")
    e = np.sin(np.exp(xa / 10) * yh) - np.sqrt(np.abs(xa)) / (yh + 0.5)
    with np.errstate(all="ignore"):
        with cw.config(threads=1):
            r1 = e.compute()
        with cw.config(threads=2):
            r2 = e.compute()
        expected = np.sin(np.exp(x / 10) * y) - np.sqrt(np.abs(x)) / (y + 0.5)
    assert r1.tobytes() == r2.tobytes()
    assert_matches(r2, expected, True, "large expression")


def test_where_out_of_range_python_int():
    c = np.array([True, False, True])
    for x, s in [(np.array([1, 2, 3], dtype="i1"), 300),
                 (np.array([1, 2, 3], dtype="u1"), -1)]:
        try:
            expected = np.where(c, x, s)
        except OverflowError:   # NumPy >= 2.5: out of range of x's dtype
            with pytest.raises(OverflowError):
                np.where(cw.asarray(c), cw.asarray(x), s)
            continue
        got = np.where(cw.asarray(c), cw.asarray(x), s)
        assert isinstance(got, cw.Array) and got.dtype == expected.dtype
        assert np.array_equal(np.asarray(got), expected)
