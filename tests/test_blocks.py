"""User functions per block (map_blocks, map_overlap, blockwise,
apply_gufunc, apply_along_axis) against dask.array and NumPy, in memory
and on HDF5 inputs, with chunk grids that split every axis and leave edge
chunks."""
import pickle
import threading

import h5py
import numpy as np
import pytest

import chunkwise as cw

da = pytest.importorskip("dask.array")

CASES = [((6, 10), (4, 3)), ((17,), (5,)), ((9, 8, 7), (4, 3, 7)), ((5, 6), (5, 6)),
         ((12, 9), (1, 4))]


def data(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 100).astype(dtype)


@pytest.fixture(params=["memory", "hdf5"])
def make(request, tmp_path):
    """A function making (chunkwise array, dask array) over an ndarray."""
    def _make(x, chunks, name="x"):
        d = da.from_array(x, chunks=chunks)
        if request.param == "memory":
            return cw.asarray(x, chunks=chunks), d
        path = tmp_path / f"{name}.h5"
        with h5py.File(path, "a") as f:
            f.create_dataset(name, data=x, chunks=chunks)
        return cw.open(path, "/" + name), d
    return _make


# ------------------------------------------------------------ map_blocks

@pytest.mark.parametrize("shape,chunks", CASES)
def test_map_blocks_elementwise(make, shape, chunks):
    x = data(shape)
    a, d = make(x, chunks)
    r = cw.map_blocks(np.sin, a)
    assert r.chunks == d.chunks
    assert r.dtype == np.float64
    np.testing.assert_array_equal(r.compute(), da.map_blocks(np.sin, d).compute())


@pytest.mark.parametrize("shape,chunks", CASES)
def test_map_blocks_block_info_and_id(make, shape, chunks):
    x = data(shape)
    a, d = make(x, chunks)

    def f(b, block_info=None, block_id=None):
        info = block_info[None]
        assert info["chunk-location"] == block_id
        assert tuple(info["chunk-shape"]) == b.shape
        assert block_info[0]["shape"] == x.shape
        lo = sum(s for s, _ in info["array-location"])
        return b * 0 + sum(block_id) * 1000 + lo + len(info["num-chunks"])

    got = cw.map_blocks(f, a, dtype=float).compute()
    np.testing.assert_array_equal(got, da.map_blocks(f, d, dtype=float).compute())


def test_map_blocks_infers_dtype_as_dask():
    x = data((6, 10))
    a, d = cw.asarray(x, chunks=(4, 3)), da.from_array(x, chunks=(4, 3))
    for f in (lambda b: b.astype(np.float32), lambda b: b > 50, lambda b: (b * 3).astype(int)):
        r = cw.map_blocks(f, a)
        assert r.dtype == da.map_blocks(f, d).dtype
        np.testing.assert_array_equal(r.compute(), da.map_blocks(f, d).compute())


def test_map_blocks_drop_and_new_axis(make):
    x = data((9, 8, 7))
    a, d = make(x, (4, 8, 3))
    for kw, f in [(dict(drop_axis=1), lambda b: b.sum(axis=1)),
                  (dict(drop_axis=[0, 1]), lambda b: b.sum(axis=(0, 1))),
                  (dict(new_axis=0), lambda b: b[None]),
                  (dict(new_axis=[1, 3]), lambda b: b[:, None, :, None]),
                  (dict(drop_axis=2, new_axis=0), lambda b: b.max(axis=2)[None])]:
        got = cw.map_blocks(f, a, **kw)
        exp = da.map_blocks(f, d, **kw)
        assert got.shape == exp.shape, kw
        np.testing.assert_allclose(got.compute(), exp.compute(), rtol=1e-13)


def test_map_blocks_chunks_given():
    x = data((6, 10))
    a, d = cw.asarray(x, chunks=(3, 5)), da.from_array(x, chunks=(3, 5))

    def f(b):
        return np.stack([b, 2 * b, -b])
    got = cw.map_blocks(f, a, new_axis=0, chunks=(3, 3, 5))
    exp = da.map_blocks(f, d, new_axis=0, chunks=(3, 3, 5))
    assert got.chunks == exp.chunks
    np.testing.assert_array_equal(got.compute(), exp.compute())
    g = cw.map_blocks(lambda b: b[::2, :2], a, chunks=(2, 2))
    np.testing.assert_array_equal(
        g.compute(), da.map_blocks(lambda b: b[::2, :2], d, chunks=(2, 2)).compute())


def test_map_blocks_several_arrays_broadcast_and_kwargs(make):
    x, y = data((12, 9)), data((9,), seed=1)
    a, d = make(x, (5, 4), "x")
    b, e = make(y, (4,), "y")

    def h(u, v, scale=1, shift=0.0):
        return (u - v) * scale + shift
    got = cw.map_blocks(h, a, b, scale=3, shift=0.5)
    np.testing.assert_array_equal(got.compute(), (x - y) * 3 + 0.5)
    np.testing.assert_array_equal(got.compute(),
                                  da.map_blocks(h, d, e, scale=3, shift=0.5).compute())
    col = cw.asarray(y[:1].reshape(1, 1).repeat(12, 0), chunks=(5, 1))
    np.testing.assert_array_equal(cw.map_blocks(np.add, a, col).compute(), x + y[0])
    # A plain value among the arguments is passed as it is.
    np.testing.assert_array_equal(cw.map_blocks(np.multiply, a, 2.0).compute(), x * 2)


def test_map_blocks_is_lazy_and_feeds_everything(make, tmp_path):
    x = data((12, 9))
    a, _ = make(x, (5, 4))
    calls = []

    def f(b):
        calls.append(b.shape)
        return np.sqrt(b)
    r = cw.map_blocks(f, a, dtype=float)
    assert calls == []
    expr = (r * 2 + 1)
    np.testing.assert_allclose(expr.compute(), np.sqrt(x) * 2 + 1, rtol=1e-15)
    np.testing.assert_allclose(float(r.sum()), np.sqrt(x).sum(), rtol=1e-12)
    np.testing.assert_allclose(r.mean(axis=0).compute(), np.sqrt(x).mean(axis=0),
                               rtol=1e-12)
    np.testing.assert_array_equal(r[3:11:2, 1:7].compute(), np.sqrt(x)[3:11:2, 1:7])
    out = r.to_hdf5(tmp_path / "o.h5", "/r")
    with h5py.File(tmp_path / "o.h5") as fh:
        np.testing.assert_array_equal(fh["r"][...], np.sqrt(x))
    np.testing.assert_array_equal(out.compute(), np.sqrt(x))


def test_map_blocks_of_an_expression_and_nested():
    x = data((20, 30))
    a = cw.asarray(x, chunks=(7, 11))
    r = cw.map_blocks(lambda b: b[::-1], cw.map_blocks(np.cos, a + 1))
    exp = da.map_blocks(lambda b: b[::-1],
                        da.map_blocks(np.cos, da.from_array(x, chunks=(7, 11)) + 1))
    np.testing.assert_array_equal(r.compute(), exp.compute())


def test_map_blocks_wrong_shape_or_dtype_is_a_clear_error():
    a = cw.asarray(data((6, 10)), chunks=(4, 3))
    with pytest.raises(ValueError, match=r"returned shape \(3, 3\) for block \(0, 0\), "
                                         r"expected \(4, 3\)"):
        # Only block (0, 0) is wrong, so the message does not depend on
        # which thread reaches a wrong block first.
        cw.map_blocks(lambda b, block_id=None: b[:3] if block_id == (0, 0) else b, a,
                      dtype=float).compute()
    with pytest.raises(TypeError, match="returned dtype float32 .* expected float64"):
        cw.map_blocks(lambda b: b.astype(np.float32), a, dtype=float).compute()
    with pytest.raises(TypeError, match="needs at least one chunkwise Array"):
        cw.map_blocks(np.sin, data((3,)))


class Boom(Exception):
    pass


def _explode(b, block_id=None):
    if block_id == (1, 2):
        raise Boom(f"bad block {block_id}")
    return b


def test_exception_propagates_with_traceback():
    a = cw.asarray(data((40, 60)), chunks=(10, 10))
    r = cw.map_blocks(_explode, a)
    for threads in (1, 2):
        with cw.config(threads=threads):
            with pytest.raises(Boom, match=r"bad block \(1, 2\)") as info:
                r.compute()
        assert any(t.name == "_explode" for t in info.traceback)
        with cw.config(threads=threads):
            with pytest.raises(Boom):
                float(r.sum())
    # The engine is usable afterwards.
    np.testing.assert_array_equal(cw.map_blocks(np.negative, a).compute(), -a.compute())


def test_threads_compute_concurrently_without_deadlock():
    x = data((64, 64))
    a = cw.asarray(x, chunks=(8, 8))
    seen = set()

    def f(b):
        seen.add(threading.get_ident())
        return np.tanh(b) + b.sum()

    exp = da.map_blocks(f, da.from_array(x, chunks=(8, 8))).compute()
    results, errors = {}, []

    def work(i):
        try:
            with cw.config(threads=2):
                results[i] = cw.map_blocks(f, a).compute()
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in ts), "deadlock"
    assert not errors
    for i in range(4):
        np.testing.assert_array_equal(results[i], exp)
    assert len(seen) >= 2


def test_gil_is_released_while_waiting():
    """A Python thread keeps running while a block function waits."""
    a = cw.asarray(data((16, 16)), chunks=(4, 4))
    ev = threading.Event()

    def f(b, block_id=None):
        if block_id == (0, 0):
            assert ev.wait(10)
        return b
    t = threading.Thread(target=lambda: ev.set())
    with cw.config(threads=2):
        t.start()
        np.testing.assert_array_equal(cw.map_blocks(f, a).compute(), a.compute())
    t.join()


def _double(b):
    return b * 2


def test_pickle_by_reference(tmp_path):
    x = data((12, 9))
    path = tmp_path / "p.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(5, 4))
    r = cw.map_overlap(_double, cw.open(path, "/x"), depth=1, boundary="reflect") + 1
    b = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(b.compute(), x * 2 + 1)
    with pytest.raises(pickle.PicklingError, match="cannot pickle the block function"):
        pickle.dumps(cw.map_blocks(lambda v: v, cw.open(path, "/x")))


# ----------------------------------------------------------- map_overlap

def stencil(b):
    """A 7-point sum along every axis: its trimmed result depends on the
    halo only, not on where blocks are cut."""
    out = b.copy()
    for ax in range(b.ndim):
        for s in (1, 2):
            out = out + np.roll(b, s, ax) + np.roll(b, -s, ax)
    return out


def padded_reference(x, depth, boundary):
    mode = {"reflect": "symmetric", "periodic": "wrap", "nearest": "edge"}
    if isinstance(boundary, str):
        p = np.pad(x, depth, mode=mode[boundary])
    else:
        p = np.pad(x, depth, mode="constant", constant_values=boundary)
    return stencil(p)[tuple(slice(depth, depth + n) for n in x.shape)]


@pytest.mark.parametrize("boundary", ["reflect", "periodic", "nearest", 2.5, -1])
@pytest.mark.parametrize("shape,chunks", [((13, 11), (4, 3)), ((17,), (5,)),
                                          ((7, 6, 9), (3, 6, 4))])
def test_map_overlap_boundaries(make, boundary, shape, chunks):
    x = data(shape)
    a, d = make(x, chunks)
    got = cw.map_overlap(stencil, a, depth=2, boundary=boundary).compute()
    exp = da.map_overlap(stencil, d, depth=2, boundary=boundary).compute()
    np.testing.assert_allclose(got, exp, rtol=1e-13)
    np.testing.assert_allclose(got, padded_reference(x, 2, boundary), rtol=1e-13)


def test_map_overlap_none_and_trim_false(make):
    # Every chunk is at least the depth (dask would merge smaller ones).
    x = data((14, 11))
    a, d = make(x, (4, 3))

    def f(b):
        return np.cumsum(b, axis=0) + np.cumsum(b, axis=1)
    for bnd in ("none", "reflect", "periodic", "nearest", 0.0):
        for trim in (True, False):
            got = cw.map_overlap(f, a, depth=(2, 1), boundary=bnd, trim=trim)
            exp = da.map_overlap(f, d, depth=(2, 1), boundary=bnd, trim=trim).compute()
            # With trim=False dask's chunks say the input's; its blocks
            # (and ours) keep their halos.
            assert got.shape == exp.shape
            np.testing.assert_allclose(got.compute(), exp, rtol=1e-13)


def test_map_overlap_depth_dict_and_per_axis_boundary():
    x = data((13, 11))
    a, d = cw.asarray(x, chunks=(4, 3)), da.from_array(x, chunks=(4, 3))
    for depth, bnd in [({0: 2}, "periodic"), ({1: 3}, {0: "none", 1: "reflect"}),
                       ((1, 2), ("nearest", "periodic"))]:
        got = cw.map_overlap(stencil, a, depth=depth, boundary=bnd).compute()
        exp = da.map_overlap(stencil, d, depth=depth, boundary=bnd).compute()
        np.testing.assert_allclose(got, exp, rtol=1e-13)


def test_map_overlap_default_boundary_matches_dask():
    x = data((13, 11))
    a, d = cw.asarray(x, chunks=(5, 4)), da.from_array(x, chunks=(5, 4))
    np.testing.assert_allclose(cw.map_overlap(stencil, a, depth=1).compute(),
                               da.map_overlap(stencil, d, depth=1).compute(), rtol=1e-13)


def test_map_overlap_errors():
    a = cw.asarray(data((5, 4)), chunks=(2, 2))
    with pytest.raises(ValueError, match="unknown boundary"):
        cw.map_overlap(stencil, a, depth=1, boundary="mirror")
    with pytest.raises(ValueError, match="more than the array's extent"):
        cw.map_overlap(stencil, a, depth=5, boundary="reflect")
    with pytest.raises(NotImplementedError, match="drop_axis not supported"):
        cw.map_overlap(stencil, a, depth=1, drop_axis=0)


# ------------------------------------------------------------- blockwise

def test_blockwise_elementwise_transpose_and_broadcast(make):
    x, y = data((12, 9)), data((9,), seed=3)
    a, d = make(x, (5, 4), "x")
    b, e = make(y, (4,), "y")
    got = cw.blockwise(np.add, "ij", a, "ij", b, "j")
    exp = da.blockwise(np.add, "ij", d, "ij", e, "j", dtype=float)
    np.testing.assert_array_equal(got.compute(), exp.compute())
    t = cw.blockwise(lambda u: u.T, "ji", a, "ij")
    assert t.shape == (9, 12)
    np.testing.assert_array_equal(t.compute(), x.T)


def test_blockwise_contraction(make):
    x, y = data((12, 9)), data((9, 7), seed=2)
    a, d = make(x, (5, 4), "x")
    b, e = make(y, (4, 3), "y")
    got = cw.blockwise(np.dot, "ik", a, "ij", b, "jk", dtype=float)
    np.testing.assert_allclose(got.compute(), x @ y, rtol=1e-12)
    exp = da.blockwise(np.dot, "ik", d, "ij", e, "jk", dtype=float, concatenate=True)
    np.testing.assert_allclose(got.compute(), exp.compute(), rtol=1e-12)


def test_blockwise_new_axes_and_adjust_chunks():
    x = data((12, 9))
    a, d = cw.asarray(x, chunks=(5, 4)), da.from_array(x, chunks=(5, 4))

    def f(u):
        return np.stack([u, -u], axis=-1)
    got = cw.blockwise(f, "ijk", a, "ij", new_axes={"k": 2})
    exp = da.blockwise(f, "ijk", d, "ij", new_axes={"k": 2}, dtype=float)
    np.testing.assert_array_equal(got.compute(), exp.compute())
    g = cw.blockwise(lambda u: u[:1], "ij", a, "ij", adjust_chunks={"i": 1})
    e = da.blockwise(lambda u: u[:1], "ij", d, "ij", adjust_chunks={"i": 1}, dtype=float)
    np.testing.assert_array_equal(g.compute(), e.compute())
    with pytest.raises(ValueError, match="in no argument"):
        cw.blockwise(f, "ijk", a, "ij")


# ---------------------------------------------------------- apply_gufunc

def test_apply_gufunc(make):
    x = data((12, 9))
    a, d = make(x, (5, 4))
    got = cw.apply_gufunc(lambda v: v.mean(-1), "(i)->()", a)
    np.testing.assert_allclose(got.compute(), x.mean(-1), rtol=1e-13)
    m, s = cw.apply_gufunc(lambda v: (v.min(-1), v.max(-1)), "(i)->(),()", a)
    np.testing.assert_array_equal(m.compute(), x.min(-1))
    np.testing.assert_array_equal(s.compute(), x.max(-1))
    v = cw.apply_gufunc(np.linalg.norm, "(i)->()", a, vectorize=True, output_dtypes=float)
    exp = da.apply_gufunc(np.linalg.norm, "(i)->()", d.rechunk({1: -1}), vectorize=True,
                          output_dtypes=float)
    np.testing.assert_allclose(v.compute(), exp.compute(), rtol=1e-13)
    o = cw.apply_gufunc(lambda u: u[..., :, None] * u[..., None, :], "(i)->(i,j)", a,
                        output_sizes={"j": 9})
    np.testing.assert_array_equal(o.compute(), x[:, :, None] * x[:, None, :])


def test_apply_gufunc_two_arguments_broadcast():
    x, y = data((4, 6, 5)), data((6, 5), seed=4)
    a, b = cw.asarray(x, chunks=(3, 4, 2)), cw.asarray(y, chunks=(4, 5))
    got = cw.apply_gufunc(lambda u, v: (u * v).sum(-1), "(i),(i)->()", a, b)
    np.testing.assert_allclose(got.compute(), (x * y).sum(-1), rtol=1e-13)


# ------------------------------------------------------ apply_along_axis

@pytest.mark.parametrize("axis", [0, 1, -1])
def test_apply_along_axis(make, axis):
    x = data((12, 9))
    a, d = make(x, (5, 4))
    for f in (np.sort, lambda v: v.sum(), lambda v: np.array([v.min(), v.max(), v[0]])):
        got = cw.apply_along_axis(f, axis, a).compute()
        np.testing.assert_allclose(got, np.apply_along_axis(f, axis, x), rtol=1e-13)
        one = np.shape(f(np.ones(x.shape[axis])))
        exp = da.apply_along_axis(f, axis, d, shape=one, dtype=got.dtype).compute()
        np.testing.assert_allclose(got, exp, rtol=1e-13)


def test_apply_along_axis_3d_with_args():
    x = data((5, 6, 7))
    a = cw.asarray(x, chunks=(2, 4, 3))
    got = cw.apply_along_axis(np.percentile, 1, a, 30).compute()
    np.testing.assert_allclose(got, np.apply_along_axis(np.percentile, 1, x, 30))


# ------------------------------------- floating-point flags of block functions

def _warnings_of(func):
    import warnings
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = func()
    return r, [str(i.message) for i in w if issubclass(i.category, RuntimeWarning)]


def test_block_function_flags_follow_the_callers_errstate():
    """NumPy inside a block function reports its own floating-point flags
    under the caller's np.errstate; they do not come back as chunkwise's
    warning, and chunkwise's own kernels still warn."""
    x = np.arange(100.0) % 5          # zeros: log gives -inf, divide by zero
    a = cw.asarray(x, chunks=10)
    with np.errstate(all="ignore"):
        want = np.log(x)
    with np.errstate(divide="ignore"):
        r, msgs = _warnings_of(lambda: cw.map_blocks(lambda b: np.log(b), a).compute())
    np.testing.assert_array_equal(r, want)
    assert msgs == []
    r, msgs = _warnings_of(lambda: cw.map_blocks(lambda b: np.log(b), a).compute())
    assert msgs and all("encountered in log" in m for m in msgs), msgs
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            cw.map_blocks(lambda b: np.log(b), a).compute()
    r, msgs = _warnings_of(lambda: np.log(a).compute())
    np.testing.assert_array_equal(r, want)
    assert msgs == ["divide by zero encountered in chunkwise computation"]
    # chunkwise's kernel and a quiet block function in one pass: the
    # kernel's flags survive NumPy clearing them inside the function.
    r, msgs = _warnings_of(
        lambda: (np.log(a) + cw.map_blocks(lambda b: np.sqrt(b + 1), a)).compute())
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(r, np.log(x) + np.sqrt(x + 1))
    assert msgs == ["divide by zero encountered in chunkwise computation"]
