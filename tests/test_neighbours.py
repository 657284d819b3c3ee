"""Differences, neighbourhoods and small reductions (neighbours.py) against
NumPy: values, dtype and shape, over in-memory and h5py-written inputs
chunked along every axis, and NumPy's errors.

Exact (assert_array_equal, strict) everywhere except results that end in a
floating sum or product over an axis (trapezoid, average, nanprod): the
engine combines tile partials pairwise, NumPy sums pairwise over its own
blocks, so those are compared to a relative 1e-12 (float64)."""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw

swv = np.lib.stride_tricks.sliding_window_view
DTYPES = ["f8", "f4", "f2", "i4", "i8", "u1", "c16", "bool"]
SHAPES = [(11,), (5, 7), (4, 3, 6), (1,), (0,), (3, 0)]


def _data(shape, dt, seed=0):
    v = np.random.default_rng(seed).integers(0, 200, shape) * 0.37
    if np.dtype(dt).kind == "c":
        v = v + 1j * v[..., ::-1]
    if dt == "bool":
        return v > 30
    return v.astype(dt)


def _inputs(a, tmp_path=None):
    yield cw.asarray(a)
    if a.size:
        yield cw.asarray(a, chunks=tuple(max(1, s // 2) for s in a.shape))


CALLS = [
    ("diff", lambda f, x: np.diff(x)),
    ("diff-ax0-n2", lambda f, x: np.diff(x, n=2, axis=0)),
    ("diff-n3", lambda f, x: np.diff(x, n=3)),
    ("diff-n0", lambda f, x: np.diff(x, n=0)),
    ("diff-pre-app", lambda f, x: np.diff(x, prepend=x[..., :1], append=x[..., -2:])),
    ("diff-scalar-pre", lambda f, x: np.diff(x, axis=0, prepend=0)),
    ("ediff1d", lambda f, x: np.ediff1d(x)),
    ("ediff1d-ends", lambda f, x: np.ediff1d(x, to_end=np.ones(2, x.dtype),
                                             to_begin=np.zeros(1, x.dtype))),
    ("cumulative_sum", lambda f, x: np.cumulative_sum(x, axis=-1)),
    ("cumulative_sum-init", lambda f, x: np.cumulative_sum(x, axis=0, include_initial=True)),
    ("cumulative_prod-init", lambda f, x: np.cumulative_prod(x, axis=-1, include_initial=True)),
    ("cumulative_sum-dtype", lambda f, x: np.cumulative_sum(x, axis=0, dtype="f8")),
    ("nancumsum", lambda f, x: np.nancumsum(x, axis=0)),
    ("nancumsum-flat", lambda f, x: np.nancumsum(x)),
    ("nancumprod", lambda f, x: np.nancumprod(x, axis=-1)),
    ("swv", lambda f, x: swv(x, (2,) * x.ndim) if min(x.shape) >= 2 else swv(x, 1, axis=0)),
    ("swv-axis", lambda f, x: swv(x, (2, 1), axis=(-1, -1)) if x.shape[-1] >= 2
     else swv(x, 0, axis=0)),
    ("ptp", lambda f, x: np.ptp(x, axis=0)),
    ("ptp-keep", lambda f, x: np.ptp(x, axis=-1, keepdims=True)),
]


def _ok(name, x):
    if x.dtype == np.bool_ and name.startswith(("ediff", "ptp", "diff-scalar")):
        return False
    if name.startswith("ptp") and x.size == 0:
        return False
    return True


def _lazily(call, x):
    with cw.config(fallback="error"), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("error", cw.FallbackWarning)
        return call(None, x)


def _same(got, ref):
    if isinstance(ref, (tuple, list)):
        assert type(got) is type(ref) and len(got) == len(ref)
        for g, r in zip(got, ref):
            _same(g, r)
        return
    assert isinstance(got, cw.Array)
    np.testing.assert_array_equal(got.compute(), ref, strict=True)


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_exact_in_memory(name, call, dt, shape):
    a = _data(shape, dt)
    if not _ok(name, a):
        pytest.skip("NumPy raises; see test_errors")
    try:
        with np.errstate(all="ignore"):
            ref = call(None, a)
    except (ValueError, TypeError) as e:
        for x in _inputs(a):
            with pytest.raises(type(e)):
                _lazily(call, x)
        return
    for x in _inputs(a):
        got = _lazily(call, x)
        if dt == "c16" and "prod" in name:
            # The engine's complex multiply rounds the last bit of some
            # products differently from NumPy's: close, not exact.
            np.testing.assert_allclose(got.compute(), ref, rtol=1e-14)
            continue
        _same(got, ref)


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("nb") / "in.h5"
    with h5py.File(path, "w") as f:
        for dt in ("f8", "f4", "u1", "c16", "i8"):
            for shape in ((23,), (9, 13), (5, 6, 7)):
                f.create_dataset(f"{dt}/{len(shape)}", data=_data(shape, dt, 1),
                                 chunks=tuple(max(1, s // 3) for s in shape))
    return path


GRAD = [
    ("grad", lambda x: np.gradient(x)),
    ("grad-eo2", lambda x: np.gradient(x, edge_order=2)),
    ("grad-axis", lambda x: np.gradient(x, 0.5, axis=-1)),
    ("grad-np-scalar", lambda x: np.gradient(x, np.float64(0.3), axis=0, edge_order=2)),
    ("grad-coords", lambda x: np.gradient(x, *[np.linspace(0, 1, s) ** 2 for s in x.shape])),
    ("grad-coords-eo2", lambda x: np.gradient(x, *[np.arange(s) ** 1.5 for s in x.shape],
                                              edge_order=2)),
    ("grad-int-coords", lambda x: np.gradient(x, *[np.arange(s) * 3 for s in x.shape])),
    ("grad-list-axis", lambda x: np.gradient(x, axis=[0, -1]) if x.ndim > 1
     else np.gradient(x, axis=0)),
] + [(n, (lambda c: lambda x: c(None, x))(c)) for n, c in CALLS if _ok(n, np.ones(3))]


@pytest.mark.parametrize("name,call", GRAD, ids=[g[0] for g in GRAD])
@pytest.mark.parametrize("dt", ["f8", "f4", "u1", "c16", "i8"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_exact_on_hdf5(h5, name, call, dt, nd):
    with h5py.File(h5) as f:
        a = f[f"{dt}/{nd}"][...]
    x = cw.open(h5, f"{dt}/{nd}")
    with np.errstate(all="ignore"):
        ref = call(a)
    cw.reset_stats()
    with cw.config(fallback="error"), np.errstate(all="ignore"):
        got = call(x)
    assert cw.stats()["runs"] == 0  # building reads nothing
    _same(got, ref)


@pytest.mark.parametrize("dt", ["f2", "f4", "f8", "i4", "u1", "bool", "c8"])
@pytest.mark.parametrize("shape", [(2,), (3,), (6, 2), (3, 4, 5)], ids=str)
def test_gradient_in_memory(dt, shape):
    a = _data(shape, dt, 2)
    for eo in (1, 2):
        try:
            ref = np.gradient(a, edge_order=eo)
        except (ValueError, TypeError) as e:
            with pytest.raises(type(e)):
                np.gradient(cw.asarray(a), edge_order=eo)
            continue
        for x in _inputs(a):
            with cw.config(fallback="error"):
                _same(np.gradient(x, edge_order=eo), ref)


@pytest.mark.parametrize("f", [np.convolve, np.correlate])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("dt", ["f8", "f4", "c16", "i8", "u1"])
@pytest.mark.parametrize("n,m,chunks", [(50, 7, 4), (7, 50, 4), (3000, 400, 256),
                                        (1000, 1, 100), (999, 1000, 100), (1, 1, 1)])
def test_convolve_correlate_exact(f, mode, dt, n, m, chunks):
    # Each output is NumPy's own dot product (BLAS for floats): exact.
    a, v = _data((n,), dt, 3), _data((m,), dt, 4)
    ref = f(a, v, mode)
    with cw.config(fallback="error"):
        got = f(cw.asarray(a, chunks=chunks), v, mode)
        _same(got, ref)
        if m <= 8:
            _same(f(a, cw.asarray(v, chunks=2), mode), ref)


def close(got, ref):
    got = got.compute()
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12 if ref.dtype.itemsize >= 8 else 1e-5)


@pytest.mark.parametrize("dt", ["f8", "i4", "c16"])
def test_summing_reductions(dt):
    a = _data((6, 9), dt, 5)
    w = np.arange(1.0, 10.0)
    x = cw.asarray(a, chunks=(4, 4))
    with cw.config(fallback="error"):
        close(np.trapezoid(x), np.trapezoid(a))
        close(np.trapezoid(x, dx=0.25, axis=0), np.trapezoid(a, dx=0.25, axis=0))
        close(np.trapezoid(x, x=w), np.trapezoid(a, x=w))
        close(np.trapezoid(x, x=cw.asarray(a.real), axis=0), np.trapezoid(a, x=a.real, axis=0))
        close(np.average(x), np.average(a))
        close(np.average(x, axis=1, weights=w), np.average(a, axis=1, weights=w))
        close(np.average(x, axis=(0, 1), keepdims=True), np.average(a, axis=(0, 1),
                                                                    keepdims=True))
        got = np.average(x, axis=0, weights=np.arange(1, 7), returned=True)
        ref = np.average(a, axis=0, weights=np.arange(1, 7), returned=True)
        close(got[0], ref[0])
        close(got[1], ref[1])
        got = np.average(x, axis=0, returned=True)
        ref = np.average(a, axis=0, returned=True)
        close(got[0], ref[0])
        np.testing.assert_array_equal(got[1].compute(), ref[1], strict=True)
        n = a.astype(float) if dt == "i4" else a.copy()
        n[1, 2] = np.nan
        close(np.nanprod(cw.asarray(n, chunks=3), axis=1), np.nanprod(n, axis=1))


def test_nanarg():
    a = _data((6, 9), "f8", 6)
    a[a > 40] = np.nan
    a[:, 3] = 5.0
    for f in (np.nanargmin, np.nanargmax):
        for x in _inputs(a):
            with cw.config(fallback="error"):
                _same(f(x, axis=1), f(a, axis=1))
                _same(f(x, axis=0, keepdims=True), f(a, axis=0, keepdims=True))
                assert int(f(x)) == f(a)
        _same(f(cw.asarray(np.arange(12).reshape(3, 4)), axis=0),
              f(np.arange(12).reshape(3, 4), axis=0))
        b = a.copy()
        b[2] = np.nan
        with pytest.raises(ValueError, match="All-NaN"):
            f(b, axis=1)
        with pytest.raises(ValueError, match="All-NaN"):
            f(cw.asarray(b), axis=1)
        with pytest.raises(ValueError):
            f(cw.asarray(np.zeros(0)))


@pytest.mark.parametrize("call", [
    lambda m, x: m.diff(x, n=-1), lambda m, x: m.diff(x[0, 0]), lambda m, x: m.diff(x, axis=3),
    lambda m, x: m.ediff1d(x, to_end=[1.5 + 1j]), lambda m, x: m.ediff1d(x > 1, to_end=[True]),
    lambda m, x: m.gradient(x, edge_order=3), lambda m, x: m.gradient(x, 1.0, 2.0, 3.0),
    lambda m, x: m.gradient(x, np.ones(2), 1.0), lambda m, x: m.gradient(x[:1]),
    lambda m, x: m.convolve(x, x), lambda m, x: m.convolve(x[0], x[0, :0]),
    lambda m, x: m.convolve(x[0], x[0], mode="bad"),
    lambda m, x: m.cumulative_sum(x), lambda m, x: m.cumulative_sum(x, axis=2),
    lambda m, x: m.lib.stride_tricks.sliding_window_view(x, 9),
    lambda m, x: m.lib.stride_tricks.sliding_window_view(x, (2, -1)),
    lambda m, x: m.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=0),
    lambda m, x: m.ptp(x > 2), lambda m, x: m.average(x, weights=np.zeros(5), axis=1),
    lambda m, x: m.average(x, weights=np.ones(3)),
    lambda m, x: m.average(x, weights=np.ones(3), axis=1),
])
def test_errors_match_numpy(call):
    a = _data((4, 5), "f8", 7)
    with pytest.raises(Exception) as e:
        call(np, a)
    with pytest.raises(type(e.value)):
        r = call(np, cw.asarray(a, chunks=2))
        if isinstance(r, cw.Array):
            r.compute()


def test_diff_and_gradient_of_a_slice_read_only_its_chunks(tmp_path):
    path = tmp_path / "s.h5"
    v = np.arange(1000.0) ** 2
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=v, chunks=(100,))
    x = cw.open(path, "x")
    for f, reads in [(lambda a: np.diff(a[250:350]), {2, 3}),
                     (lambda a: np.gradient(a[250:350]), {2, 3}),
                     (lambda a: np.correlate(a[250:350], [1.0, 2.0, 3.0]), {2, 3}),
                     (lambda a: np.diff(a[250:350], n=4), {2, 3})]:
        cw.reset_stats()
        np.testing.assert_array_equal(f(x).compute(), f(v))
        # Only chunks 2 and 3 hold elements 250..349: each read of the
        # expression's operands touches those two chunks and no others.
        assert 0 < cw.stats()["chunks_read"] <= 2 * 4
        assert cw.stats()["bytes_read"] <= 2 * 4 * 100 * 8 + 4096 * 8
