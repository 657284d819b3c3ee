"""The NumPy surface users type first: every entry of SURFACE builds lazily
(no fallback under cw.config(fallback="error"), a chunkwise Array where
NumPy returns an array) and matches NumPy exactly (values, dtype, shape) on
several shapes, dtypes and chunkings, over in-memory and HDF5 inputs.

SURFACE is a list of entries ``(id, numpy function, call, ndims, kinds)``:
``call(np_module_function, x)`` calls the function on input ``x`` (an
ndarray for the reference, a chunkwise Array for the check), ``ndims`` the
input ranks it is tried on and ``kinds`` the dtype kinds.  Functions built
elsewhere are added by appending entries to SURFACE.

The test also counts the functions that dispatch through
``__array_function__`` (as numpy/_core/overrides.py registers them) and how
many of them chunkwise implements lazily; docs/api.md records the counts.
"""
import inspect
import re
import types
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import chunkwise as cw
from chunkwise.functions import HANDLED

ALL = (1, 2, 3)
ND2 = (2, 3)
NUM = "fiu"
FLOAT = "f"

SURFACE = [
    ("flip", np.flip, lambda f, x: f(x), ALL, NUM),
    ("flip-axis", np.flip, lambda f, x: f(x, axis=-1), ALL, NUM),
    ("fliplr", np.fliplr, lambda f, x: f(x), ND2, NUM),
    ("flipud", np.flipud, lambda f, x: f(x), ALL, NUM),
    ("rot90", np.rot90, lambda f, x: f(x), ND2, NUM),
    ("rot90-k3", np.rot90, lambda f, x: f(x, 3, axes=(1, 0)), ND2, NUM),
    ("rot90-k2", np.rot90, lambda f, x: f(x, -2), ND2, NUM),
    ("roll", np.roll, lambda f, x: f(x, 3, axis=0), ALL, NUM),
    ("roll-neg", np.roll, lambda f, x: f(x, -13, axis=-1), ALL, NUM),
    ("roll-tuple", np.roll, lambda f, x: f(x, (1, 2), axis=(0, -1)), ND2, NUM),
    ("roll-none-1d", np.roll, lambda f, x: f(x, 2), (1,), NUM),
    ("split", np.split, lambda f, x: f(x, [1, 3], axis=-1), ALL, NUM),
    ("array_split", np.array_split, lambda f, x: f(x, 3), ALL, NUM),
    ("array_split-ax", np.array_split, lambda f, x: f(x, 4, axis=-1), ALL, NUM),
    ("hsplit", np.hsplit, lambda f, x: f(x, [2]), ALL, NUM),
    ("vsplit", np.vsplit, lambda f, x: f(x, [1, 2]), ND2, NUM),
    ("dsplit", np.dsplit, lambda f, x: f(x, [2]), (3,), NUM),
    ("atleast_1d", np.atleast_1d, lambda f, x: f(x), ALL, NUM),
    ("atleast_2d", np.atleast_2d, lambda f, x: f(x, x[..., :1]), ALL, NUM),
    ("atleast_3d", np.atleast_3d, lambda f, x: f(x[0], x), ALL, NUM),
    ("broadcast_arrays", np.broadcast_arrays, lambda f, x: f(x, x[:1]), ALL, NUM),
    ("hstack", np.hstack, lambda f, x: f([x, x[:, :2] if x.ndim > 1 else x[:2]]), ALL, NUM),
    ("vstack", np.vstack, lambda f, x: f([x, x[:1]] if x.ndim > 1 else [x, x]), ALL, NUM),
    ("dstack", np.dstack, lambda f, x: f((x, x)), ALL, NUM),
    ("column_stack", np.column_stack, lambda f, x: f([x, x]), (1, 2), NUM),
    ("block", np.block, lambda f, x: f([[x, x], [x, x]]), ALL, NUM),
    ("outer", np.outer, lambda f, x: f(x, x[..., :2]), ALL, NUM),
    ("einsum-move", np.einsum, lambda f, x: f("...i->i...", x), ALL, NUM),
    ("einsum-int", np.einsum, lambda f, x: f("...i,...i", x, x), ALL, "iu"),
    ("inner-int", np.inner, lambda f, x: f(x, x), ALL, "iu"),
    ("tensordot-int", np.tensordot, lambda f, x: f(x, x, x.ndim), ALL, "iu"),
    ("tile", np.tile, lambda f, x: f(x, 2), ALL, NUM),
    ("tile-tuple", np.tile, lambda f, x: f(x, (2, 1, 3)), ALL, NUM),
    ("repeat", np.repeat, lambda f, x: f(x, 3, axis=0), ALL, NUM),
    ("repeat-1d", np.repeat, lambda f, x: f(x, 2), (1,), NUM),
    ("pad-constant", np.pad, lambda f, x: f(x, 2), ALL, NUM),
    ("pad-constant-values", np.pad,
     lambda f, x: f(x, ((1, 2),) + ((0, 3),) * (x.ndim - 1), constant_values=((7, 9),)),
     ALL, NUM),
    ("pad-edge", np.pad, lambda f, x: f(x, (2, 3), mode="edge"), ALL, NUM),
    ("pad-reflect", np.pad, lambda f, x: f(x, 3, mode="reflect"), ALL, NUM),
    ("pad-reflect-wide", np.pad, lambda f, x: f(x, (11, 17), mode="reflect"), ALL, NUM),
    ("pad-symmetric", np.pad, lambda f, x: f(x, ((13, 2),), mode="symmetric"), ALL, NUM),
    ("pad-wrap", np.pad, lambda f, x: f(x, (9, 4), mode="wrap"), ALL, NUM),
    ("tril", np.tril, lambda f, x: f(x), ALL, NUM),
    ("tril-k", np.tril, lambda f, x: f(x, -1), ND2, NUM),
    ("triu", np.triu, lambda f, x: f(x, 2), ALL, NUM),
    ("zeros_like", np.zeros_like, lambda f, x: f(x), ALL, NUM),
    ("ones_like", np.ones_like, lambda f, x: f(x, dtype="f4"), ALL, NUM),
    ("full_like", np.full_like, lambda f, x: f(x, 7.5), ALL, NUM),
    ("full_like-shape", np.full_like, lambda f, x: f(x, 3, shape=(2, 5)), ALL, NUM),
    ("meshgrid", np.meshgrid, lambda f, x: f(x, x[:3]), (1,), NUM),
    ("meshgrid-ij-sparse", np.meshgrid,
     lambda f, x: f(x, x[:2], x[:3], indexing="ij", sparse=True), (1,), NUM),
    ("nan_to_num", np.nan_to_num, lambda f, x: f(x / 0.0 if x.dtype.kind == "f" else x),
     ALL, NUM),
    ("nan_to_num-args", np.nan_to_num,
     lambda f, x: f(np.log(x - 5.0), nan=-1.0, posinf=3.0, neginf=-7.0), ALL, FLOAT),
    ("isposinf", np.isposinf, lambda f, x: f(x / 0.0), ALL, FLOAT),
    ("isneginf", np.isneginf, lambda f, x: f(-x / 0.0), ALL, FLOAT),
    ("sinc", np.sinc, lambda f, x: f(x), ALL, NUM),
    ("fix", np.fix, lambda f, x: f(x * 0.7 - 2), ALL, NUM),
    # elementwise lookups in an in-memory table (histograms.py)
    ("digitize", np.digitize, lambda f, x: f(x, [2, 5.5, 9]), ALL, NUM),
    ("digitize-right-decreasing", np.digitize, lambda f, x: f(x, [9, 5, 2], right=True),
     ALL, NUM),
    ("searchsorted", np.searchsorted, lambda f, x: f(np.array([1, 3, 3, 8]), x), ALL, NUM),
    ("searchsorted-right", np.searchsorted,
     lambda f, x: f(np.array([1.5, 3, 3, 8]), x, side="right"), ALL, NUM),
    ("isin", np.isin, lambda f, x: f(x, [0, 3, 12]), ALL, NUM),
    ("isin-invert", np.isin, lambda f, x: f(x, [1.0, 5.0], invert=True), ALL, NUM),
    # whole-axis blocks sorted by NumPy (sorting.py)
    ("sort", np.sort, lambda f, x: f(x), ALL, NUM),
    ("sort-axis0", np.sort, lambda f, x: f(x, axis=0), ALL, NUM),
    ("sort-flat-stable", np.sort, lambda f, x: f(x, axis=None, stable=True), ALL, NUM),
    ("argsort", np.argsort, lambda f, x: f(x), ALL, NUM),
    ("argsort-axis0-stable", np.argsort, lambda f, x: f(x, axis=0, kind="stable"), ALL, NUM),
    ("argsort-flat", np.argsort, lambda f, x: f(x, axis=None), ALL, NUM),
    ("sort_complex", np.sort_complex, lambda f, x: f(x), ALL, NUM),
    ("lexsort", np.lexsort, lambda f, x: f(x), ND2, NUM),
    # already lazy
    ("transpose", np.transpose, lambda f, x: f(x), ALL, NUM),
    ("concatenate", np.concatenate, lambda f, x: f([x, x], axis=-1), ALL, NUM),
    ("stack", np.stack, lambda f, x: f([x, x], axis=1), ALL, NUM),
    ("where", np.where, lambda f, x: f(x > 3, x, 0), ALL, NUM),
    ("clip", np.clip, lambda f, x: f(x, 2, 5), ALL, NUM),
    ("moveaxis", np.moveaxis, lambda f, x: f(x, 0, -1), ALL, NUM),
    ("expand_dims", np.expand_dims, lambda f, x: f(x, 1), ALL, NUM),
    ("broadcast_to", np.broadcast_to, lambda f, x: f(x, (2,) + x.shape), ALL, NUM),
]
# Selection, reshapes, complex parts and conditions: lazy on the gather
# source and chains of where (conditions on the real part, so that complex
# inputs take them too).
ALLK = "fiuc"
SURFACE += [
    ("take", np.take, lambda f, x: f(x, [0, 2, -1], axis=0), ALL, ALLK),
    ("take-flat", np.take, lambda f, x: f(x, [[1, 0], [5, 5]]), ALL, ALLK),
    ("take-wrap", np.take, lambda f, x: f(x, [5, -20, 30], axis=-1, mode="wrap"), ALL, ALLK),
    ("take-clip", np.take, lambda f, x: f(x, [-3, 1, 99], axis=0, mode="clip"), ALL, ALLK),
    ("take_along_axis", np.take_along_axis,
     lambda f, x: f(x, np.arange(x.size).reshape(x.shape) * 5 % x.shape[-1], axis=-1),
     ALL, ALLK),
    ("take_along_axis-0", np.take_along_axis,
     lambda f, x: f(x, (np.arange(x.size).reshape(x.shape) * 3 % x.shape[0])[:2], axis=0),
     ALL, ALLK),
    ("compress", np.compress, lambda f, x: f([True, False, True], x, axis=0), ALL, ALLK),
    ("compress-lazy", np.compress, lambda f, x: f(np.ravel(np.real(x) > 4)[:x.shape[-1]], x,
                                                   axis=-1), ALL, ALLK),
    ("compress-flat", np.compress, lambda f, x: f(np.arange(x.size) % 3 == 1, x), ALL, ALLK),
    ("extract", np.extract, lambda f, x: f(np.real(x) > 4, x), ALL, ALLK),
    ("diagonal", np.diagonal, lambda f, x: f(x), ND2, ALLK),
    ("diagonal-args", np.diagonal, lambda f, x: f(x, 1, -1, 0), ND2, ALLK),
    ("diagonal-neg", np.diagonal, lambda f, x: f(x, -2), ND2, ALLK),
    ("trace", np.trace, lambda f, x: f(x), ND2, ALLK),
    ("trace-args", np.trace, lambda f, x: f(x, -1, 0, -1), ND2, ALLK),
    ("trace-dtype", np.trace, lambda f, x: f(x, 1, dtype="f8"), ND2, NUM),
    ("delete", np.delete, lambda f, x: f(x, [0, 2], axis=0), ALL, ALLK),
    ("delete-slice", np.delete, lambda f, x: f(x, slice(1, None, 2), axis=-1), ALL, ALLK),
    ("delete-flat", np.delete, lambda f, x: f(x, 3), ALL, ALLK),
    ("insert", np.insert, lambda f, x: f(x, 1, 7, axis=0), ALL, ALLK),
    ("insert-flat", np.insert, lambda f, x: f(x, [0, 2, 2], [5, 6, 7]), ALL, ALLK),
    ("insert-slice", np.insert, lambda f, x: f(x, slice(0, 2), 9, axis=-1), ALL, ALLK),
    ("append", np.append, lambda f, x: f(x, x, axis=0), ALL, ALLK),
    ("append-flat", np.append, lambda f, x: f(x, [1, 2]), ALL, ALLK),
    ("nonzero", np.nonzero, lambda f, x: f(x), ALL, ALLK),
    ("nonzero-cond", np.nonzero, lambda f, x: f(np.real(x) > 4), ALL, ALLK),
    ("argwhere", np.argwhere, lambda f, x: f(x), ALL, ALLK),
    ("argwhere-cond", np.argwhere, lambda f, x: f(np.real(x) > 4), ALL, ALLK),
    ("flatnonzero", np.flatnonzero, lambda f, x: f(x), ALL, ALLK),
    ("count_nonzero-axis", np.count_nonzero, lambda f, x: f(x, axis=0), ALL, ALLK),
    ("count_nonzero-keepdims", np.count_nonzero,
     lambda f, x: f(x, axis=-1, keepdims=True), ALL, ALLK),
    ("count_nonzero-axes", np.count_nonzero, lambda f, x: f(x, axis=(0, -1)), ND2, ALLK),
    ("where-1arg", np.where, lambda f, x: f(np.real(x) > 4), ALL, ALLK),
    ("reshape", np.reshape, lambda f, x: f(x, (-1,)), ALL, ALLK),
    ("reshape-reversed", np.reshape, lambda f, x: f(x, x.shape[::-1]), ALL, ALLK),
    ("reshape-split", np.reshape, lambda f, x: f(x, (1, -1, x.shape[-1], 1)), ALL, ALLK),
    ("ravel", np.ravel, lambda f, x: f(x), ALL, ALLK),
    ("ravel-T", np.ravel, lambda f, x: f(x.T), ALL, ALLK),
    ("real", np.real, lambda f, x: f(x), ALL, ALLK),
    ("imag", np.imag, lambda f, x: f(x), ALL, ALLK),
    ("angle", np.angle, lambda f, x: f(x), ALL, ALLK),
    ("angle-deg", np.angle, lambda f, x: f(x - 5, deg=True), ALL, "fic"),
    ("iscomplex", np.iscomplex, lambda f, x: f(x), ALL, ALLK),
    ("isreal", np.isreal, lambda f, x: f(x), ALL, ALLK),
    ("real_if_close", np.real_if_close, lambda f, x: f(x), ALL, ALLK),
    ("real_if_close-zero-imag", np.real_if_close, lambda f, x: f(np.real(x) + 0j),
     ALL, ALLK),
    ("piecewise", np.piecewise,
     lambda f, x: f(x, [np.real(x) < 3, np.real(x) > 8], [lambda t: t * 2, 11]), ALL, ALLK),
    ("piecewise-otherwise", np.piecewise,
     lambda f, x: f(x, [np.real(x) < 3, np.real(x) > 2],
                    [lambda t: t - 1, np.sqrt, lambda t: t ** 2]), ALL, "fc"),
    ("piecewise-one-cond", np.piecewise,
     lambda f, x: f(x, np.real(x) > 4, [lambda t, k: t * k + 1.5, 7.9], 3), (1,), ALLK),
    ("piecewise-scalars", np.piecewise,
     lambda f, x: f(x, [np.real(x) < 4, np.real(x) > 1], [2.5, 3, 9]), ALL, ALLK),
    ("select", np.select, lambda f, x: f([np.real(x) < 3, np.real(x) > 8], [x, x * 2], 7),
     ALL, ALLK),
    ("choose", np.choose,
     lambda f, x: f(np.real(x).astype("i8") % 3, [x, x * 2, x - 1]), ALL, ALLK),
    ("choose-wrap", np.choose, lambda f, x: f(np.real(x).astype("i8"), [x, 3], mode="wrap"),
     ALL, ALLK),
    ("diag", np.diag, lambda f, x: f(x), (1, 2), ALLK),
    ("diag-k", np.diag, lambda f, x: f(x, -2), (1, 2), ALLK),
]
# Order statistics along the last axis: per block on whole rows (lazy).
SURFACE += [
    ("median-axis", np.median, lambda f, x: f(x, axis=-1), ND2, NUM),
    ("nanmedian-axis", np.nanmedian, lambda f, x: f(x, axis=-1), ND2, FLOAT),
    ("quantile-axis", np.quantile, lambda f, x: f(x, [0.2, 0.5], axis=-1), ND2, NUM),
    ("percentile-axis", np.percentile, lambda f, x: f(x, 30, axis=0, method="nearest"),
     ND2, NUM),
    ("nanquantile-axis", np.nanquantile, lambda f, x: f(x, 0.7, axis=-1), ND2, FLOAT),
    ("nanpercentile-axis", np.nanpercentile, lambda f, x: f(x, [10, 90], axis=1), ND2,
     FLOAT),
    ("partition", np.partition, lambda f, x: f(x, 2, axis=-1), ND2, NUM),
    ("argpartition", np.argpartition, lambda f, x: f(x, 2, axis=-1), ND2, NUM),
]
if hasattr(np, "unstack"):
    SURFACE.append(("unstack", np.unstack, lambda f, x: f(x, axis=-1), ALL, NUM))
if hasattr(np, "matrix_transpose"):
    SURFACE.append(("matrix_transpose", np.matrix_transpose, lambda f, x: f(x), ND2, NUM))

# numpy.linalg's Array API names for other NumPy functions, and multi_dot.
SURFACE += [
    ("linalg.matmul", np.linalg.matmul, lambda f, x: f(x, np.swapaxes(x, -1, -2)), ND2, NUM),
    ("linalg.tensordot", np.linalg.tensordot,
     lambda f, x: f(x, x, axes=([x.ndim - 1], [x.ndim - 1])), ND2, NUM),
    ("linalg.vecdot", np.linalg.vecdot, lambda f, x: f(x, x), ALL, NUM),
    ("linalg.vecdot-axis", np.linalg.vecdot, lambda f, x: f(x, x, axis=0), ALL, NUM),
    ("linalg.outer", np.linalg.outer, lambda f, x: f(x, x[:4]), (1,), NUM),
    ("linalg.trace", np.linalg.trace, lambda f, x: f(x), ND2, NUM),
    ("linalg.trace-offset", np.linalg.trace, lambda f, x: f(x, offset=1), ND2, NUM),
    ("linalg.diagonal", np.linalg.diagonal, lambda f, x: f(x, offset=-1), ND2, NUM),
    ("linalg.matrix_transpose", np.linalg.matrix_transpose, lambda f, x: f(x), ND2, NUM),
    ("linalg.multi_dot", np.linalg.multi_dot,
     lambda f, x: f([x[..., :4, :], x[..., :4, :].T, x[..., :4, :]]), (2,), NUM),
    ("linalg.multi_dot-vectors", np.linalg.multi_dot,
     lambda f, x: f([x[0], x.T, x, x[0]]), (2,), NUM),
]

SHAPES = {1: (11,), 2: (5, 7), 3: (4, 3, 6)}
DTYPES = {"f": ["f8", "f4"], "i": ["i4", "i8"], "u": ["u1"], "c": ["c16", "c8"]}
CHUNKS = [None, 2, 3]


def _data(nd, dt):
    shape = SHAPES[nd]
    v = (np.arange(np.prod(shape)) * 7 % 13).reshape(shape)
    if np.dtype(dt).kind == "c":
        v = v + 1j * (v * 3 % 5 - 2)
    return v.astype(dt)


def _check(ref, got):
    if isinstance(ref, (tuple, list)):
        assert type(got) is type(ref) and len(got) == len(ref)
        for r, g in zip(ref, got):
            _check(r, g)
        return
    assert isinstance(got, cw.Array), type(got)
    np.testing.assert_array_equal(got.compute(), ref, strict=True)


# Entries whose building computes a pass first: index arrays sized by a
# counting pass (data, as NumPy returns them), choose's check of every
# index (mode="raise"), real_if_close's test of the imaginary parts.
COMPUTE_FIRST = {"compress-lazy", "extract", "nonzero", "nonzero-cond", "argwhere",
                 "argwhere-cond", "flatnonzero", "where-1arg", "choose", "real_if_close",
                 "real_if_close-zero-imag"}


def _cases(with_name=False):
    for name, func, call, ndims, kinds in SURFACE:
        for nd in ndims:
            for kind in kinds:
                for dt in DTYPES[kind][:1] if nd == 3 else DTYPES[kind]:
                    args = (func, call, nd, dt) + ((name,) if with_name else ())
                    yield pytest.param(*args, id=f"{name}-{nd}d-{dt}")


def _lazily(call, func, x):
    with cw.config(fallback="error"), np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        return call(func, x)


@pytest.mark.parametrize("func,call,nd,dt", list(_cases()))
def test_surface_in_memory(func, call, nd, dt):
    a = _data(nd, dt)
    with np.errstate(all="ignore"):
        ref = call(func, a)
    for chunks in CHUNKS:
        _check(ref, _lazily(call, func, cw.asarray(a, chunks=chunks)))


@pytest.fixture(scope="module")
def h5file(tmp_path_factory):
    path = tmp_path_factory.mktemp("surface") / "in.h5"
    with h5py.File(path, "w") as f:
        for nd in SHAPES:
            for dts in DTYPES.values():
                for dt in dts:
                    f.create_dataset(f"/{dt}/{nd}", data=_data(nd, dt),
                                     chunks=tuple(max(1, s // 2) for s in SHAPES[nd]))
    return path


@pytest.mark.parametrize("func,call,nd,dt,name", list(_cases(with_name=True)))
def test_surface_on_hdf5(h5file, func, call, nd, dt, name):
    a = _data(nd, dt)
    with np.errstate(all="ignore"):
        ref = call(func, a)
    x = cw.open(h5file, f"/{dt}/{nd}")
    cw.reset_stats()
    got = _lazily(call, func, x)
    if name not in COMPUTE_FIRST:
        assert cw.stats()["runs"] == 0      # building reads nothing
    _check(ref, got)


# ------------------------------------------------ views read only their part

def test_flip_slice_reads_only_the_chunks_it_shows(tmp_path):
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(1000.0), chunks=(100,))
    x = cw.open(path, "x")
    cw.reset_stats()
    np.testing.assert_array_equal(np.flip(x)[:10].compute(), np.arange(999.0, 989.0, -1))
    assert cw.stats()["chunks_read"] == 1


# ------------------------------------------------------- creation functions

@pytest.mark.parametrize("args", [(4,), (3, 5), (5, 3, 1), (4, 6, -2), (3, 3, 7), (0, 2)])
@pytest.mark.parametrize("dt", ["f8", "i4", "u1", "bool"])
def test_eye_tri(args, dt):
    np.testing.assert_array_equal(cw.eye(*args, dtype=dt).compute(),
                                  np.eye(*args, dtype=dt), strict=True)
    np.testing.assert_array_equal(cw.tri(*args, dtype=dt).compute(),
                                  np.tri(*args, dtype=dt), strict=True)


def test_identity_indices_meshgrid_likes():
    np.testing.assert_array_equal(cw.identity(4).compute(), np.identity(4), strict=True)
    np.testing.assert_array_equal(cw.identity(3, "i2").compute(), np.identity(3, "i2"),
                                  strict=True)
    for dims in [(2, 3), (4,), (2, 1, 3)]:
        np.testing.assert_array_equal(cw.indices(dims).compute(), np.indices(dims),
                                      strict=True)
        for g, r in zip(cw.indices(dims, dtype="i4", sparse=True),
                        np.indices(dims, dtype="i4", sparse=True)):
            np.testing.assert_array_equal(g.compute(), r, strict=True)
    for g, r in zip(cw.meshgrid([1, 2, 3], [4.0, 5.0], [7]),
                    np.meshgrid([1, 2, 3], [4.0, 5.0], [7])):
        np.testing.assert_array_equal(g.compute(), r, strict=True)
    a = np.arange(6, dtype="i2").reshape(2, 3)
    np.testing.assert_array_equal(cw.full_like(a, 2.9).compute(), np.full_like(a, 2.9),
                                  strict=True)
    np.testing.assert_array_equal(cw.zeros_like(a, shape=4).compute(),
                                  np.zeros_like(a, shape=4), strict=True)


# ------------------------------------------------------ errors as NumPy's

@pytest.mark.parametrize("call", [
    lambda x: np.split(x, 4), lambda x: np.fliplr(x[0]), lambda x: np.rot90(x, axes=(0, 0)),
    lambda x: np.vsplit(x[0], 2), lambda x: np.pad(x, 2, mode="reflect", constant_values=1),
    lambda x: np.pad(x[:, :0], 1, mode="edge"), lambda x: np.block([[x], x]),
    lambda x: np.array_split(x, 0), lambda x: np.meshgrid(x[0], indexing="yx"),
])
def test_errors_match_numpy(call):
    a = np.arange(15.0).reshape(3, 5)
    with pytest.raises(Exception) as ref:
        call(a)
    with pytest.raises(type(ref.value)):
        call(cw.asarray(a))


# ----------------------------------------------- methods and protocols

def test_methods():
    a = np.arange(12.0).reshape(3, 4) - 4.5
    x = cw.asarray(a, chunks=2)
    assert x.astype("f8", copy=False) is x
    assert x.astype("f8") is not x
    np.testing.assert_array_equal(x.astype("i2").compute(), a.astype("i2"), strict=True)
    with pytest.raises(TypeError):
        x.astype("i4", casting="safe")
    assert x.copy() is not x
    np.testing.assert_array_equal(x.copy().compute(), a)
    assert x.tolist() == a.tolist()
    assert x.item(5) == a.item(5) and x.item(2, 3) == a.item(2, 3)
    assert x.item((1, 1)) == a.item((1, 1))
    assert x[1:2, 2:3].item() == a[1:2, 2:3].item()
    with pytest.raises(ValueError):
        x.item()
    np.testing.assert_array_equal(x.dot(a.T).compute(), a.dot(a.T))
    np.testing.assert_array_equal(x.repeat(2, axis=1).compute(), a.repeat(2, axis=1))
    assert f"{x.mean():.3f}" == f"{a.mean():.3f}"
    assert f"{x.sum()}" == f"{a.sum()}"
    with pytest.raises(TypeError):
        f"{x:.3f}"
    assert round(x[0, 1]) == round(a[0, 1]) and round(x.mean(), 2) == round(a.mean(), 2)
    q, r = divmod(x, 3)
    np.testing.assert_array_equal(q.compute(), a // 3, strict=True)
    np.testing.assert_array_equal(r.compute(), a % 3, strict=True)
    q, r = divmod(7, x)
    np.testing.assert_array_equal(q.compute(), 7 // a, strict=True)
    np.testing.assert_array_equal(r.compute(), 7 % a, strict=True)
    for g, e in zip(np.divmod(x, -2.5), np.divmod(a, -2.5)):
        np.testing.assert_array_equal(g.compute(), e, strict=True)
    assert 3.5 in x and 100 not in x
    np.testing.assert_array_equal(x.mT.compute(), a.T)
    html = x._repr_html_()
    assert "<svg" in html and "(3, 4)" in html and "float64" in html and "(2, 2)" in html


def test_argsort_searchsorted_methods():
    a = np.array([[3.0, np.nan, 1.0, 3.0], [2.0, -1.0, 7.0, 0.5], [0.0, 0.0, 9.0, -4.0]])
    x = cw.asarray(a, chunks=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)      # lazy
        got, got0 = x.argsort(), x.argsort(axis=0, stable=True)
    np.testing.assert_array_equal(got.compute(), a.argsort(), strict=True)
    np.testing.assert_array_equal(got0.compute(), a.argsort(axis=0, stable=True), strict=True)
    s = np.array([-1.0, 0.5, 2.0, 2.0, 8.0])
    v = np.array([[2.0, -3.0], [9.0, 0.5]])
    for side in ("left", "right"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", cw.FallbackWarning)      # lazy
            got = cw.asarray(s, chunks=2).searchsorted(cw.asarray(v), side=side)
        assert isinstance(got, cw.Array)
        np.testing.assert_array_equal(got.compute(), s.searchsorted(v, side=side), strict=True)


def test_ufunc_keywords():
    a = np.arange(1, 13, dtype="i4").reshape(3, 4)
    x = cw.asarray(a, chunks=2)
    for kw in [dict(dtype="f4"), dict(signature=(None, "f4")), dict(order="K"),
               dict(order="C"), dict(subok=True), dict(dtype="f8", casting="unsafe")]:
        g = np.sqrt(x, **kw)
        assert isinstance(g, cw.Array)
        np.testing.assert_array_equal(g.compute(), np.sqrt(a, **kw), strict=True)
    np.testing.assert_array_equal(np.add(x, 1, dtype="f4").compute(),
                                  np.add(a, 1, dtype="f4"), strict=True)
    with pytest.raises(np._core._exceptions._UFuncInputCastingError):
        np.add(x, 1.5, dtype="i4")
    mask = a % 3 == 0
    ref = np.full(a.shape, -1.0)
    np.sqrt(a, out=ref, where=mask)
    out = np.full(a.shape, -1.0)
    assert np.sqrt(x, out=out, where=mask) is out
    np.testing.assert_array_equal(out, ref)
    out = np.full(a.shape, -1.0)
    np.sqrt(x, out=out, where=cw.asarray(mask))
    np.testing.assert_array_equal(out, ref)
    o32 = np.zeros(a.shape, "f8")
    np.add(x, x, out=o32)
    np.testing.assert_array_equal(o32, (a + a).astype("f8"))
    with pytest.raises(TypeError):
        np.sqrt(x, where=mask)


# -------------------------------------------------- the dispatching set

def _dispatching():
    """Every public function that dispatches through __array_function__."""
    found = {}
    mods = [np, np.linalg, np.fft, np.lib.stride_tricks]
    for mod in mods:
        for name in dir(mod):
            if name.startswith("_"):
                continue
            f = getattr(mod, name)
            if isinstance(f, types.ModuleType) or not callable(f):
                continue
            if hasattr(f, "_implementation") and not inspect.isclass(f):
                found.setdefault(f, f"{mod.__name__}.{name}")
    # NumPy's own list of what its overrides module registered (the
    # functions of numpy.lib.scimath, ...), once the modules are imported.
    from numpy._core import overrides
    for f in getattr(overrides, "ARRAY_FUNCTIONS", ()):
        found.setdefault(f, f"{f.__module__}.{f.__name__}")
    return found


def test_surface_entries_are_registered():
    funcs = _dispatching()
    for name, func, *_ in SURFACE:
        assert func in funcs, name
        assert func in HANDLED, name


def test_counts_of_dispatching_functions(capsys):
    funcs = _dispatching()
    lazy = sorted(n for f, n in funcs.items() if f in HANDLED)
    fallback = sorted(n for f, n in funcs.items() if f not in HANDLED)
    with capsys.disabled():
        print(f"\n__array_function__ functions: {len(funcs)}; lazy {len(lazy)}, "
              f"fallback {len(fallback)} (a TypeError under fallback='error')")
    doc = (Path(__file__).parents[1] / "docs" / "api.md").read_text()
    m = re.search(r"lazy: (\d+) of (\d+)", doc)
    assert m, "docs/api.md records the counts"
    assert len(lazy) >= int(m.group(1))


def test_strided_reads_of_nested_composites():
    """A reversed view of a concatenation whose part is a reversed view of
    another concatenation: each nesting level reads into its own buffer."""
    a = np.arange(12.0).reshape(4, 3)
    x = cw.asarray(a)
    y = np.concatenate([x[:1], x[1:]], axis=0)
    z = np.concatenate([y[:, 2:0:-1], x], axis=1)
    ref = np.concatenate([a[:, 2:0:-1], a], axis=1)
    np.testing.assert_array_equal(z[:, ::-1].compute(), ref[:, ::-1])
    np.testing.assert_array_equal(z[::-2, ::-2].compute(), ref[::-2, ::-2])
    b = (np.arange(72) * 7 % 13).reshape(4, 3, 6).astype("f8")
    for chunks in CHUNKS:
        np.testing.assert_array_equal(
            np.pad(cw.asarray(b, chunks=chunks), (11, 17), mode="reflect").compute(),
            np.pad(b, (11, 17), mode="reflect"))


LOGSPACE = [(0, 3), (1, 2.5, 7), (-2, 2, 11, False), (2, 2, 5), (0, 1, 1), (0, 1, 0),
            (0.1, 1e-300, 4), (3, -1, 9, True, 2), (1, 5, 6, True, 10, "f4"),
            (1, 5, 6, True, 10, "i4"), (np.float32(0.5), np.float32(2), 13),
            (np.float32(0.5), 2, 13, True, np.float32(3)), (0, 1e-320, 5),
            (np.int16(1), np.int16(3), 5), (1, 3, 5, True, np.float16(2)), (0, 7, 1000)]
GEOMSPACE = [(1, 1000, 4), (-1, -1000, 4), (2, 3, 10, False), (1, 256, 9), (0.5, 7, 1),
             (1, 5, 0), (3, 5, 2), (1, 5, 6, True, "f4"),
             (np.float32(1), np.float32(100), 7), (1, 2**60, 50), (1e-300, 1e300, 33),
             (5, 1, 1, False), (-3, -7, 1000)]


@pytest.mark.parametrize("args", LOGSPACE)
def test_logspace_bit_exact(args):
    ref = np.logspace(*args)
    got = cw.logspace(*args)
    assert isinstance(got, cw.Array)
    np.testing.assert_array_equal(got.compute(), ref, strict=True)


@pytest.mark.parametrize("args", GEOMSPACE)
def test_geomspace_bit_exact(args):
    ref = np.geomspace(*args)
    got = cw.geomspace(*args)
    assert isinstance(got, cw.Array)
    np.testing.assert_array_equal(got.compute(), ref, strict=True)


def test_logspace_geomspace_errors():
    with pytest.raises(ValueError):
        cw.geomspace(0, 5)
    with pytest.raises(ValueError):
        cw.logspace(0, 5, -1)
    with pytest.raises(TypeError):
        cw.logspace([0, 1], 5)


@pytest.mark.parametrize("dt", ["f8", "f4", "f2", "i4", "u1"])
def test_modf_two_outputs_exact(dt):
    with np.errstate(all="ignore"):
        a = np.array([-2.0, -0.5, -0.0, 0.0, 0.25, 3.75, np.inf, -np.inf, np.nan, 1e300,
                      -1e-310, 5.5e4, 7]).astype(dt)
        ref = np.modf(a)
    with cw.config(fallback="error"), warnings.catch_warnings():
        warnings.simplefilter("error")          # no spurious FP warnings
        got = np.modf(cw.asarray(a, chunks=4))
        assert isinstance(got, tuple) and len(got) == 2
        for r, g in zip(ref, got):
            g = g.compute()
            np.testing.assert_array_equal(g, r, strict=True)
            np.testing.assert_array_equal(np.signbit(g), np.signbit(r))


def test_ufunc_out_as_numpy():
    a = np.linspace(-3, 3, 12)
    x = cw.asarray(a, chunks=5)
    for out_dt in ["f4", "f8"]:
        ref, got = np.empty(12, out_dt), np.empty(12, out_dt)
        np.multiply(a, 1.3, out=ref)
        assert np.multiply(x, 1.3, out=got) is got
        np.testing.assert_array_equal(got, ref, strict=True)
    ref, got = np.empty((2, 12)), np.empty((2, 12))
    np.add(a, a, out=ref)                        # out larger: inputs broadcast
    np.add(x, x, out=got)
    np.testing.assert_array_equal(got, ref)
    with pytest.raises(ValueError):
        np.add(x, x, out=np.empty(5))
    with pytest.raises(TypeError):
        np.add(x, x, out=np.empty(12, "i4"))    # float64 -> int32 is not same_kind


EDGES = [
    ("block-3d", lambda x: np.block([[[x]], [[x]]]), (3, 4), "i8"),
    ("block-scalars", lambda x: np.block([[x, 1.0], [2, 3]]), (), "f8"),
    ("sinc-f2", lambda x: np.sinc(x), (3, 4), "f2"),
    ("sinc-zero-int", lambda x: np.sinc(x - 3), (3, 4), "i4"),
    ("pad-0d", lambda x: np.pad(x, 2), (), "f8"),
    ("pad-empty-axis", lambda x: np.pad(x, 1), (0, 3), "f8"),
    ("pad-constant-cast", lambda x: np.pad(x, 1, constant_values=2.7), (3, 4), "i8"),
    ("pad-wrap-wide", lambda x: np.pad(x, (7, 13), mode="wrap"), (3, 4), "i8"),
    ("pad-reflect-size1", lambda x: np.pad(x, 3, mode="reflect"), (3, 1), "i8"),
    ("roll-0d", lambda x: np.roll(x, 1), (), "f8"),
    ("roll-empty", lambda x: np.roll(x, 2, axis=0), (0, 3), "f8"),
    ("roll-huge", lambda x: np.roll(x, 10**12 + 3, axis=1), (3, 4), "i8"),
    ("roll-same-axis-twice", lambda x: np.roll(x, (1, 2), axis=(0, 0)), (3, 4), "i8"),
    ("repeat-0d", lambda x: np.repeat(x, 3), (), "f8"),
    ("repeat-zero", lambda x: np.repeat(x, 0, axis=1), (3, 4), "i8"),
    ("tile-0d", lambda x: np.tile(x, 3), (), "f8"),
    ("tile-zero", lambda x: np.tile(x, (0, 2)), (3, 4), "i8"),
    ("split-beyond", lambda x: np.split(x, [2, 10]), (5,), "f8"),
    ("split-negative", lambda x: np.array_split(x, [-2, 1]), (5,), "f8"),
    ("array_split-more-than-n", lambda x: np.array_split(x, 8), (5,), "f8"),
    ("tril-3d", lambda x: np.tril(x, 1), (2, 3, 4), "i8"),
    ("triu-1d", lambda x: np.triu(x), (5,), "f8"),
    ("triu-k-beyond", lambda x: np.triu(x, 100), (3, 4), "i8"),
    ("tril-bool", lambda x: np.tril(x > 3), (3, 4), "i8"),
    ("hstack-0d", lambda x: np.hstack([x, x]), (), "f8"),
    ("vstack-0d", lambda x: np.vstack([x, x]), (), "f8"),
    ("column_stack-0d", lambda x: np.column_stack([x, x]), (), "f8"),
    ("hstack-dtype", lambda x: np.hstack([x, x], dtype="f4"), (3, 4), "i8"),
    ("full_like-nan-into-float", lambda x: np.full_like(x, np.nan), (3, 4), "f4"),
    ("meshgrid-0d", lambda x: np.meshgrid(x, x), (), "f8"),
    ("nan_to_num-f4-big-posinf", lambda x: np.nan_to_num(np.log(x - 3), posinf=1e300),
     (3, 4), "f4"),
    ("rot90-3d", lambda x: np.rot90(x, 1, axes=(2, 0)), (2, 3, 4), "i8"),
    ("divmod-by-zero", lambda x: np.divmod(x, 0), (3, 4), "i8"),
]


@pytest.mark.parametrize("call,shape,dt", [pytest.param(c, s, d, id=n) for n, c, s, d in EDGES])
def test_edges_as_numpy(call, shape, dt):
    a = (np.arange(int(np.prod(shape))) % 7).reshape(shape).astype(dt)
    with np.errstate(all="ignore"):
        ref = call(a)
        got = _lazily(lambda f, x: call(x), None, cw.asarray(a, chunks=2 if shape else None))
        _check(ref, got)


def test_pad_width_forms():
    a = np.arange(12).reshape(3, 4)
    x = cw.asarray(a)
    if np.lib.NumpyVersion(np.__version__) >= "2.3.0":
        np.testing.assert_array_equal(np.pad(x, {1: (1, 2)}).compute(),
                                      np.pad(a, {1: (1, 2)}), strict=True)
    for w in [1, (1,), (1, 2), ((1, 2),), ((1, 2), (0, 3)), np.array([[2, 0], [1, 1]])]:
        np.testing.assert_array_equal(np.pad(x, w, mode="symmetric").compute(),
                                      np.pad(a, w, mode="symmetric"), strict=True)
    for bad in [1.5, -1, ((1, 2, 3),)]:
        with pytest.raises(Exception) as ref:
            np.pad(a, bad)
        with pytest.raises(type(ref.value)):
            np.pad(x, bad)


@pytest.mark.parametrize("func,args,kw", [
    (np.eye, (3,), {}), (np.eye, (3, 4, 1), {"dtype": "i4"}), (np.identity, (3,), {}),
    (np.tri, (3, 5, -1), {}), (np.zeros, ((2, 3),), {}), (np.ones, (4,), {"dtype": "u1"}),
    (np.empty, ((2, 2),), {}), (np.full, ((2, 3), 7), {}),
    (np.full, ((2, 3), 2.5), {"dtype": "i2"}),
])
def test_creation_through_like(func, args, kw):
    like = cw.zeros(3)
    with cw.config(fallback="error"):
        got = func(*args, like=like, **kw)
    assert isinstance(got, cw.Array)
    ref = func(*args, **kw)
    if func is np.empty:
        ref = np.zeros_like(ref)            # chunkwise's empty reads as zeros
    np.testing.assert_array_equal(got.compute(), ref, strict=True)


@pytest.mark.parametrize("dt", ["f8", "f4", "f2", "i4", "u1", "i8"])
def test_frexp_two_outputs_exact(dt):
    rng = np.random.default_rng(0)
    base = [0.0, -0.0, 1.0, -1.0, 0.5, 0.75, 2.0, 3.0, np.inf, -np.inf, np.nan, 5e-324,
            2.2250738585072014e-308, 1.7976931348623157e308, 1 - 2**-53, 2 - 2**-52,
            1e-310, 7, 1023.9999]
    with np.errstate(all="ignore"):
        a = np.concatenate([base, rng.standard_normal(2000)
                            * 10.0 ** rng.integers(-300, 300, 2000)]).astype(dt)
        ref = np.frexp(a)
    with cw.config(fallback="error"), warnings.catch_warnings():
        warnings.simplefilter("error")          # no spurious FP warnings
        got = np.frexp(cw.asarray(a, chunks=300))
        assert isinstance(got, tuple) and len(got) == 2
        for r, g in zip(ref, got):
            g = g.compute()
            np.testing.assert_array_equal(g, r, strict=True)
            np.testing.assert_array_equal(np.signbit(g), np.signbit(r))


@pytest.mark.parametrize("shift", [0, 1, 5, -7, 30, (1, 2)])
def test_flattening_roll_and_repeat_of_nd_arrays_are_lazy(shift):
    a = np.arange(24).reshape(2, 3, 4)
    x = cw.asarray(a, chunks=(1, 2, 3))
    with cw.config(fallback="error"):
        got = np.roll(x, shift)
        assert isinstance(got, cw.Array)
        np.testing.assert_array_equal(got.compute(), np.roll(a, shift))
        if np.ndim(shift) == 0 and shift >= 0:
            np.testing.assert_array_equal(np.repeat(x, shift % 4).compute(),
                                          np.repeat(a, shift % 4))


# ------------------------------------------------------------ piecewise

def test_piecewise_falls_back_for_functions_that_are_not_elementwise():
    """A piece that reduces, views or computes would see all of x rather
    than x[cond]: it falls back to NumPy's piecewise, with its values."""
    a = np.arange(12.0).reshape(3, 4) - 5
    x = cw.asarray(a, chunks=2)
    for f in [lambda t: t - t.mean(), lambda t: t[::-1], lambda t: np.cumsum(t),
              lambda t: np.asarray(t) * 2, lambda t: t[t > 0].sum()]:
        ref = np.piecewise(a, [a < 0], [f, 1.5])
        with pytest.warns(cw.FallbackWarning, match="piecewise"):
            got = np.piecewise(x, [x < 0], [f, 1.5])
        np.testing.assert_array_equal(got.compute(), ref, strict=True)
    with cw.config(fallback="error"), pytest.raises(TypeError, match="piecewise"):
        np.piecewise(x, [x < 0], [lambda t: t - t.mean(), 1])


@pytest.mark.parametrize("call", [
    lambda m, x: m.piecewise(x, [x > 3], [1, 2, 3]),            # too many functions
    lambda m, x: m.piecewise(x.astype("u1"), [x > 3], [-1]),    # out of range for u1
    lambda m, x: m.piecewise(x, [x[:2] > 3], [1]),              # mask of another size
    lambda m, x: m.piecewise(x, x > 3, [1, 2]),                 # 2-d: rows as conditions
])
def test_piecewise_errors_as_numpy(call):
    a = np.arange(12.0).reshape(3, 4)
    with pytest.raises(Exception) as ref:
        call(np, a)
    with cw.config(fallback="error"), pytest.raises(type(ref.value)):
        call(np, cw.asarray(a))


def test_piecewise_last_condition_wins_and_ndarray_inputs():
    a = np.linspace(-2, 2, 9)
    x = cw.asarray(a, chunks=4)
    conds = [a < 1, a > -1]
    ref = np.piecewise(a, conds, [lambda t: t * 10, lambda t: t + 100])
    with cw.config(fallback="error"):
        got = np.piecewise(a, [x < 1, x > -1], [lambda t: t * 10, lambda t: t + 100])
        np.testing.assert_array_equal(got.compute(), ref, strict=True)
        got = np.piecewise(x, conds, [np.sin, np.cos])
    np.testing.assert_array_equal(got.compute(), np.piecewise(a, conds, [np.sin, np.cos]),
                                  strict=True)


@pytest.mark.parametrize("window,kw", [
    ((2,), dict(axis=1)), ((3, 2), dict(axis=(2, 0))), ((2, 2, 2), {}), (2, dict(axis=-1)),
    ((1,), dict(axis=0)), ((2, 2), dict(axis=(1, 1))), ((0,), dict(axis=2)), ((4,), dict(axis=1))])
def test_sliding_window_view_lazy(window, kw):
    from numpy.lib.stride_tricks import sliding_window_view
    a = np.arange(60, dtype=np.int16).reshape(3, 4, 5) * 3 - 7
    x = cw.asarray(a, chunks=(2, 3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        got = sliding_window_view(x, window, **kw)
    assert isinstance(got, cw.Array)
    np.testing.assert_array_equal(got.compute(), sliding_window_view(a, window, **kw), strict=True)


@pytest.mark.parametrize("window,kw", [
    ((6,), dict(axis=1)), ((2, 2), dict(axis=0)), ((-1,), dict(axis=0)), ((2,), dict(axis=3)),
    ((2, 2), {})])
def test_sliding_window_view_errors_match_numpy(window, kw):
    from numpy.lib.stride_tricks import sliding_window_view
    a = np.arange(60.0).reshape(3, 4, 5)
    with pytest.raises(Exception) as expected:
        sliding_window_view(a, window, **kw)
    with pytest.raises(expected.type):
        sliding_window_view(cw.asarray(a), window, **kw)
    with pytest.raises(ValueError, match="read-only"):
        sliding_window_view(cw.asarray(a), 2, axis=0, writeable=True)
