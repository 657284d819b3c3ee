"""Ufunc expressions as lazy arrays: calls build a graph and compute nothing,
indexing and ``astype`` of expressions, ``to_hdf5`` and ``explain`` of
fused operations, bit-identical results on any thread count, ``out=`` and
the ``out=``/``where=`` forms that raise.
"""
from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw

from ufunc_helpers import (BINARY, BINARY_CASES, CHUNKS, DTYPES, SHAPE, UNARY_CASES,
                           assert_same, parallel, python_scalars, sample_pair,
                           second_kind)

pytestmark = pytest.mark.usefixtures("_one_thread_by_default")


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
    pytest.param(lambda: {"out": np.empty(SHAPE, "i4")}, id="out-unsafe-dtype"),
    pytest.param(lambda: {"out": cw.asarray(np.empty(SHAPE))}, id="out-cw-array"),
    pytest.param(lambda: {"where": np.ones(SHAPE, bool)}, id="where-mask"),
    pytest.param(lambda: {"where": cw.asarray(np.ones(SHAPE, bool))}, id="where-cw"),
])
def test_unsupported_out_and_where_raise_typeerror(kwargs):
    a = cw.asarray(np.ones(SHAPE), chunks=CHUNKS)
    kw = kwargs()
    with pytest.raises(TypeError, match="out|where"):
        np.add(a, a, **kw)
