"""Property test: random chains of views (transpose, flip, slices with
steps, reshape, ravel), fancy and boolean indexing and elementwise
operations on a chunked input (in memory or an h5py-written HDF5 file)
equal NumPy's exactly: values, dtype and shape."""
from __future__ import annotations

import itertools
import math

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import chunkwise as cw

DTYPES = ["i4", "i8", "u1", "f8", "f4"]
_counter = itertools.count()


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0] or [1]


@st.composite
def _op(draw, shape):
    """One step of the chain for an input of ``shape``: a name and its
    arguments, valid for that shape, and the shape it gives."""
    nd = len(shape)
    kinds = ["ravel", "reshape", "elementwise", "where", "mask"]
    if nd:
        kinds += ["transpose", "flip", "slice", "fancy", "mask-axis"]
    kind = draw(st.sampled_from(kinds))
    if kind == "transpose":
        return ("transpose", tuple(draw(st.permutations(range(nd)))))
    if kind == "flip":
        return ("flip", draw(st.integers(-nd, nd - 1)))
    if kind == "slice":
        ax = draw(st.integers(0, nd - 1))
        n = shape[ax]
        step = draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
        start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
        stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
        return ("slice", ax, slice(start, stop, step))
    if kind == "reshape":
        size = math.prod(shape)
        a = draw(st.sampled_from(_divisors(size)))
        b = draw(st.sampled_from(_divisors(size // a)))
        new = (a, b, size // a // b) if draw(st.booleans()) else (a, -1)
        return ("reshape", new)
    if kind == "fancy":
        ax = draw(st.integers(0, nd - 1))
        n = shape[ax]
        if n == 0:
            return ("ravel",)
        idx = draw(st.lists(st.integers(-n, n - 1), min_size=0, max_size=6))
        return ("fancy", ax, np.array(idx, dtype=np.intp))
    if kind == "mask-axis":
        ax = draw(st.integers(0, nd - 1))
        m = draw(st.lists(st.booleans(), min_size=shape[ax], max_size=shape[ax]))
        return ("mask-axis", ax, np.array(m, dtype=bool))
    if kind == "mask":
        return ("mask", draw(st.integers(0, 12)), draw(st.booleans()))
    if kind == "where":
        return ("where", draw(st.integers(0, 12)))
    return ("elementwise", draw(st.sampled_from(["affine", "abs", "double", "neg"])))


def _apply(op, x):
    """The step on ``x``, an ndarray or a chunkwise Array alike."""
    kind = op[0]
    if kind == "transpose":
        return np.transpose(x, op[1])
    if kind == "flip":
        return np.flip(x, op[1])
    if kind == "slice":
        return x[(slice(None),) * op[1] + (op[2],)]
    if kind == "reshape":
        return x.reshape(op[1])
    if kind == "ravel":
        return np.ravel(x)
    if kind == "fancy":
        return x[(slice(None),) * op[1] + (op[2],)]
    if kind == "mask-axis":
        return x[(slice(None),) * op[1] + (op[2],)]
    if kind == "mask":
        c, lazy = op[1], op[2]
        m = x > c
        if not lazy and isinstance(x, cw.Array):
            m = m.compute()             # an ndarray mask
        return x[m]
    if kind == "where":
        return np.where(x > op[1], x, x * 2)
    name = op[1]
    if name == "affine":
        return x * 3 - 1
    if name == "abs":
        return np.abs(x)
    if name == "double":
        return x + x
    return -x


@st.composite
def _case(draw):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=nd, max_size=nd)))
    chunks = tuple(draw(st.integers(1, s)) for s in shape)
    dt = draw(st.sampled_from(DTYPES))
    ops, ref = [], (np.arange(math.prod(shape)) * 7 % 23).reshape(shape).astype(dt)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(_op(ref.shape))
        ops.append(op)
        ref = _apply(op, ref)
    return shape, chunks, dt, ops, draw(st.booleans())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_case())
def test_view_chains_equal_numpy(case, tmp_path_factory):
    shape, chunks, dt, ops, on_hdf5 = case
    a = (np.arange(math.prod(shape)) * 7 % 23).reshape(shape).astype(dt)
    if on_hdf5:
        path = tmp_path_factory.getbasetemp() / f"chain{next(_counter)}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=a, chunks=chunks)
        x = cw.open(path, "x")
    else:
        x = cw.asarray(a, chunks=chunks)
    ref = a
    with np.errstate(over="ignore"), cw.config(fallback="error"):
        for op in ops:
            ref = _apply(op, ref)
            x = _apply(op, x)
            assert isinstance(x, cw.Array)
            assert x.shape == ref.shape and x.dtype == ref.dtype, (op, x.shape, ref.shape)
        np.testing.assert_array_equal(x.compute(), ref, strict=True)
