"""No silent wrong answers: each case here once returned a wrong value, did
nothing, or failed on a valid expression; now it is right or a clear error."""
import time
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw


def same(r, e):
    r = r.compute() if isinstance(r, cw.Array) else r
    r, e = np.asarray(r), np.asarray(e)
    assert r.shape == e.shape and r.dtype == e.dtype, (r.shape, e.shape, r.dtype, e.dtype)
    np.testing.assert_array_equal(r, e)


@pytest.fixture
def no_fallback():
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        yield


# ------------------------------------------------------------ 1. matmul

def test_matmul_3d_times_2d_is_right(no_fallback):
    a = np.arange(12.0).reshape(3, 2, 2)
    b = np.array([[1.0, 2.0], [3.0, 5.0]])
    same(cw.asarray(a) @ b, a @ b)
    same(cw.asarray(np.ones((3, 2, 2))) @ np.ones((2, 2)), np.full((3, 2, 2), 2.0))
    same(np.matmul(cw.asarray(a), b), a @ b)
    same(np.matmul(a, cw.asarray(b)), a @ b)
    same(a @ cw.asarray(b), a @ b)


SHAPES = [((3, 2, 2), (2, 2)), ((5, 1, 4, 3), (2, 3, 6)), ((4,), (3, 4, 5)),
          ((3, 4, 5), (5,)), ((7,), (7,)), ((2, 0, 3), (3, 4)), ((6, 5), (5, 4)),
          ((1, 3, 2), (4, 2, 3)), ((2, 3, 4), (2, 4, 1))]
DTYPES = [("i8", "i8"), ("i4", "u1"), ("u1", "i2"), ("bool", "bool"), ("i2", "f8"),
          ("u4", "u4")]


@pytest.mark.parametrize("sa,sb", SHAPES)
@pytest.mark.parametrize("da,db", DTYPES)
def test_batched_matmul_matches_numpy(sa, sb, da, db, no_fallback):
    rng = np.random.default_rng(3)
    a = (rng.integers(0, 7, sa)).astype(da)
    b = (rng.integers(0, 7, sb)).astype(db)
    x = cw.asarray(a, chunks=tuple(2 for _ in sa))
    y = cw.asarray(b, chunks=tuple(3 for _ in sb))
    r = x @ y
    assert isinstance(r, cw.Array)
    same(r, a @ b)
    same(np.matmul(x, b), a @ b)


def test_batched_matmul_float_and_lazy(tmp_path, no_fallback):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((6, 5, 4)).astype("f4")
    b = rng.standard_normal((6, 4, 3))
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("a", data=a, chunks=(2, 3, 2))
    x = cw.open(p, "a")
    cw.reset_stats()
    r = x @ b
    r2 = r[1:4, ::2]
    assert cw.stats()["chunks_read"] == 0
    e = a @ b
    got = r.compute()
    assert got.dtype == e.dtype and got.shape == e.shape
    np.testing.assert_allclose(got, e, rtol=1e-12)
    np.testing.assert_allclose(r2.compute(), e[1:4, ::2], rtol=1e-12)


def test_matmul_errors_as_numpy():
    x = cw.asarray(np.ones((3, 2, 2)))
    with pytest.raises(ValueError):
        x @ np.ones((3, 3))
    with pytest.raises(ValueError):
        x @ np.ones((2, 2, 2))
    with pytest.raises(ValueError):
        np.matmul(x, 2.0)


def test_other_gufuncs_are_not_elementwise():
    a = np.arange(12.0).reshape(3, 4)
    x = cw.asarray(a)
    # vecdot is a lazy contraction over the last axis (einsum.py) ...
    same(np.vecdot(x, x), np.vecdot(a, a))
    # ... with NumPy's axis= (the core axis of each operand) ...
    same(np.vecdot(x, x, axis=0), np.vecdot(a, a, axis=0))
    # ... and keywords it does not take are an error, never elementwise.
    with pytest.raises(TypeError, match="vecdot"):
        np.vecdot(x, x, axes=[(0,), (0,), ()])


# ------------------------------------------------ 2. in-place functions

IN_PLACE = [
    ("put", lambda x: np.put(x, [0, 2], [9, 9])),
    ("place", lambda x: np.place(x, np.ones(x.shape, bool), [7])),
    ("putmask", lambda x: np.putmask(x, np.ones(x.shape, bool), 5)),
    ("fill_diagonal", lambda x: np.fill_diagonal(x, 3)),
    ("put_along_axis", lambda x: np.put_along_axis(x, np.zeros((1, 4), np.intp), 1, 0)),
    ("copyto", lambda x: np.copyto(x, np.zeros(x.shape))),
    ("copyto", lambda x: np.copyto(dst=x, src=np.zeros(x.shape))),
    ("add.at", lambda x: np.add.at(x, [0, 1], 1)),
    ("multiply.at", lambda x: np.multiply.at(x, (0, 1), 2.0)),
]


@pytest.mark.parametrize("name,call", IN_PLACE, ids=[n for n, _ in IN_PLACE])
def test_in_place_functions_raise_like_setitem(name, call, tmp_path):
    a = np.arange(12.0).reshape(3, 4)
    p = tmp_path / "w.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("a", data=a, chunks=(2, 2))
    x = cw.open(p, "a")
    with pytest.raises(TypeError) as setitem:
        x[...] = 1
    cw.reset_stats()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError) as err:
            call(x)
    assert str(setitem.value) in str(err.value)
    assert name in str(err.value)
    assert cw.stats()["chunks_read"] == 0 and cw.stats()["runs"] == 0
    same(x, a)


def test_copyto_from_a_chunkwise_array_into_an_ndarray():
    a = np.arange(6.0)
    dst = np.zeros(6)
    with pytest.warns(cw.FallbackWarning):
        np.copyto(dst, cw.asarray(a))
    same(dst, a)


# ------------------------------------------------- 3. long expressions

def _timed(f):
    t = time.perf_counter()
    r = f()
    return r, time.perf_counter() - t


def test_ten_thousand_increments(no_fallback):
    a = np.arange(1000.0)
    x = cw.asarray(a, chunks=128)

    def build():
        y = x
        for _ in range(10000):
            y = y + 1
        return y
    y, t_build = _timed(build)
    r, t_run = _timed(y.compute)
    same(r, a + 10000)
    assert t_build + t_run < 5, (t_build, t_run)
    # Indexing, transposing, reducing and printing the deep graph work too.
    same(y[::3], (a + 10000)[::3])
    assert float(y.sum()) == (a + 10000).sum()
    assert "lazy expression" in repr(y)
    assert "several passes" in y._explain()


def test_sum_of_a_thousand_arrays(no_fallback):
    arrays = [np.full((20, 30), i, dtype=np.int64) + np.arange(30) for i in range(1000)]
    xs = [cw.asarray(a, chunks=(7, 8)) for a in arrays]
    s, t_build = _timed(lambda: sum(xs))
    r, t_run = _timed(s.compute)
    same(r, sum(arrays))
    assert t_build + t_run < 5, (t_build, t_run)
    few = sum(xs[:200])
    same(few, sum(arrays[:200]))


def test_long_expressions_everywhere(tmp_path, no_fallback):
    a = np.arange(12.0).reshape(3, 4)
    b = np.arange(4.0)
    x = cw.asarray(a, chunks=(2, 2))
    y, e = x, a
    for i in range(600):
        if i % 2:
            y, e = y - b, e - b
        else:
            y, e = y + x.mean(axis=0), e + a.mean(axis=0)
    np.testing.assert_allclose(y.compute(), e, rtol=1e-12)
    np.testing.assert_allclose(y.T[::2, 1:].compute(), e.T[::2, 1:], rtol=1e-12)
    r1, r2 = cw.compute(y, y.sum(axis=0))
    np.testing.assert_allclose(r1, e, rtol=1e-12)
    np.testing.assert_allclose(r2, e.sum(axis=0), rtol=1e-12)
    s = y.to_hdf5(tmp_path / "o.h5", "/o")
    np.testing.assert_allclose(s.compute(), e, rtol=1e-12)
    np.testing.assert_allclose(np.cumsum(y, axis=1).compute(), np.cumsum(e, axis=1),
                               rtol=1e-12)
    same(np.argmax(y, axis=0), np.argmax(e, axis=0))
    np.testing.assert_allclose(np.concatenate([y, y]).compute(),
                               np.concatenate([e, e]), rtol=1e-12)
    np.testing.assert_allclose((y @ y.T).compute(), e @ e.T, rtol=1e-12)


def test_shared_operands_doubling(no_fallback):
    a = np.arange(10.0)
    y, e = cw.asarray(a), a
    for _ in range(200):
        y, e = y + y * 0.5, e + e * 0.5
    same(y, e)


def test_long_expression_intermediates_respect_memory_limit():
    x = cw.zeros((1000, 1000))
    y = x
    for _ in range(300):
        y = y + 1
    with cw.config(memory_limit="1MiB"), pytest.raises(cw.MemoryBudgetError,
                                                       match="intermediate"):
        y.compute()


# ---------------------------------------------- 4. where fallbacks point

def _line_of(marker):
    import inspect
    src, start = inspect.getsourcelines(inspect.currentframe().f_back.f_code)
    return start + next(i for i, s in enumerate(src) if marker in s)


def test_fallback_warning_points_at_the_callers_line():
    x = cw.asarray(np.arange(6.0))
    with pytest.warns(cw.FallbackWarning) as rec:
        np.unwrap(x)  # mark-function
    assert rec[0].filename == __file__ and rec[0].lineno == _line_of("mark-function")
    with pytest.warns(cw.FallbackWarning) as rec:
        np.add.reduceat(x, [0, 2])  # mark-ufunc
    assert rec[0].filename == __file__ and rec[0].lineno == _line_of("mark-ufunc")
    with pytest.warns(cw.FallbackWarning) as rec:
        np.fmod.outer(x, x)  # mark-method
    assert rec[0].filename == __file__ and rec[0].lineno == _line_of("mark-method")
    with pytest.warns(cw.FallbackWarning) as rec:
        np.unwrap(x[::2])  # mark-view
    assert rec[0].filename == __file__ and rec[0].lineno == _line_of("mark-view")


def test_fallback_warning_at_module_level(tmp_path):
    import subprocess
    import sys
    script = tmp_path / "user_script.py"
    script.write_text("import numpy as np\nimport chunkwise as cw\n"
                      "x = cw.asarray(np.arange(4.0))\n"
                      "np.unwrap(x)\n"
                      "np.add.reduceat(x, [0, 2])\n")
    out = subprocess.run([sys.executable, "-W", "always", str(script)],
                         capture_output=True, text=True, check=True)
    assert f"{script}:4: FallbackWarning: numpy.unwrap" in out.stderr, out.stderr
    assert f"{script}:5: FallbackWarning: add.reduceat" in out.stderr, out.stderr
    assert "sys:1" not in out.stderr


# ------------------------------------------- 5. metadata reads nothing

@pytest.mark.parametrize("dtype", ["i2", "u1", "f2", "f4", "f8", "bool", "i8"])
def test_metadata_functions_read_nothing(dtype, tmp_path):
    a = (np.arange(24) % 5).astype(dtype).reshape(2, 3, 4)
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("a", data=a, chunks=(1, 2, 2), compression="gzip")
    x = cw.open(p, "a")
    cw.reset_stats()
    with cw.config(fallback="error"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.result_type(x, 1.0) == np.result_type(a, 1.0)
        assert np.result_type(x, np.float32) == np.result_type(a, np.float32)
        assert np.result_type(x, x[0], np.int8) == np.result_type(a, a[0], np.int8)
        for to in ["i1", "u8", "f4", "f8", "bool"]:
            assert np.can_cast(x, to) == np.can_cast(a, to)
            assert np.can_cast(x, to, casting="same_kind") == \
                np.can_cast(a, to, casting="same_kind")
        if a.dtype.kind != "b":
            assert np.common_type(x) is np.common_type(a)
            assert np.common_type(x, np.zeros(2, "f4")) is np.common_type(a, np.zeros(2, "f4"))
        assert np.iscomplexobj(x) is np.iscomplexobj(a)
        assert np.isrealobj(x) is np.isrealobj(a)
        assert np.min_scalar_type(x) == np.min_scalar_type(a)
        assert np.ndim(x) == 3 and np.shape(x) == (2, 3, 4) and np.size(x) == 24
        assert np.size(x, 1) == 3 and np.shape(x[:, 1]) == (2, 4)
    assert cw.stats()["chunks_read"] == 0 and cw.stats()["runs"] == 0
    # A 0-d array's minimal scalar type depends on its value, as in NumPy.
    assert np.min_scalar_type(x.sum()) == np.min_scalar_type(a.sum())


# ------------------------------------------------ 6. stale handles

PATHS = {
    "compute": lambda a, e, p: e.compute(),
    "asarray": lambda a, e, p: np.asarray(a),
    "reduction": lambda a, e, p: float(a.sum()),
    "slice": lambda a, e, p: a[2:5].compute(),
    "store": lambda a, e, p: e.to_hdf5(p, "/b"),
    "compute(out=)": lambda a, e, p: e.compute(out=np.empty(10)),
    "cumsum": lambda a, e, p: np.cumsum(a).compute(),
}


@pytest.mark.parametrize("path", list(PATHS))
def test_replaced_dataset_is_refused(path, tmp_path):
    p = tmp_path / "s.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("a", data=np.arange(10.0), chunks=(3,))
    a = cw.open(p, "/a")
    e = a * 2
    (a + 1).to_hdf5(p, "/a", overwrite=True)
    with pytest.raises(OSError, match="'/a' in '.*s.h5' was replaced"):
        PATHS[path](a, e, p)
    with h5py.File(p, "r") as f:
        assert "b" not in f
    # A fresh handle reads the new data.
    same(cw.open(p, "/a"), np.arange(10.0) + 1)


def test_replaced_file_is_refused(tmp_path):
    p, q = tmp_path / "s.h5", tmp_path / "t.h5"
    for path, k in ((p, 1.0), (q, 3.0)):
        with h5py.File(path, "w") as f:
            f.create_dataset("a", data=np.arange(10.0) * k, chunks=(3,))
    a = cw.open(p, "/a")
    q.replace(p)
    with pytest.raises(OSError, match="was replaced"):
        a.compute()


def test_other_writes_to_the_file_keep_handles_valid(tmp_path):
    p = tmp_path / "s.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("a", data=np.arange(10.0), chunks=(3,))
    a = cw.open(p, "/a")
    (a * 3).to_hdf5(p, "/c")
    with h5py.File(p, "a") as f:
        f.create_dataset("d", data=np.ones(4))
    same(a, np.arange(10.0))
    same(cw.open(p, "/c"), np.arange(10.0) * 3)


# ------------------------------------ 7. fancy indexes: NumPy's answers

FANCY = [[1, 2], np.array([1, 2]), np.array([True] * 10), [True] * 10, np.array(True),
         np.True_, True, 1.5, "a", (Ellipsis, np.array([1])), (np.array([0]),),
         [11], np.array([1.0]), [[1, 2], [3, 4]]]


def _numpy_outcome(a, key):
    try:
        return np.asarray(a[key]), None
    except Exception as e:  # noqa: the outcome compared is NumPy's
        return None, type(e)


@pytest.mark.parametrize("key", FANCY, ids=[repr(k)[:20] for k in FANCY])
def test_fancy_indexes_give_numpys_result_or_its_error(key):
    """Lists, arrays and booleans index as in NumPy, on sources, expressions
    and reductions alike; what NumPy refuses raises NumPy's exception."""
    base = np.arange(10)
    for a, x in [(base, cw.asarray(base, chunks=(3,))), (base + 1, cw.asarray(base) + 1),
                 (base.sum(keepdims=True), cw.asarray(base).sum(keepdims=True))]:
        expect, err = _numpy_outcome(a, key)
        if err is not None:
            with pytest.raises(err):
                np.asarray(x[key])
        else:
            got = x[key]
            got = got.compute() if isinstance(got, cw.Array) else np.asarray(got)
            assert got.dtype == expect.dtype and got.shape == expect.shape
            np.testing.assert_array_equal(got, expect)


def test_lazy_indexes_select_as_numpy():
    a = np.arange(10)
    x = cw.asarray(a)
    same(x[x > 3], a[a > 3])
    same(x[x[:2]], a[a[:2]])
    # Integer scalars of any kind stay basic indexes.
    same(x[np.int64(3)], np.int64(3))
    same(x[np.array(4)], np.int64(4))
    same(x[x[5]], np.int64(5))


# ---------------------------------------------- 8. contract gaps

def _bits(r, e):
    r = r.compute() if isinstance(r, cw.Array) else r
    assert r.dtype == e.dtype and r.shape == e.shape, (r.dtype, e.dtype, r.shape, e.shape)
    assert r.tobytes() == e.tobytes()


ENDS = [(0, 1), (0.1, 7.3), (-3, 5), (1e-310, 2e-310), (0, 0), (2.5, -1.25),
        (np.float32(0.1), np.float32(2.7)), (np.float32(1), 3.3), (0, np.float32(1)),
        (np.float16(1), np.float16(3)), (np.int8(3), 200), (-1e6, 1e6)]


@pytest.mark.parametrize("start,stop", ENDS, ids=[repr(e) for e in ENDS])
@pytest.mark.parametrize("dtype", [None, "f8", "f4", "i4", "i8", "u1", "i2"])
def test_linspace_bit_exact(start, stop, dtype, no_fallback):
    for num in (0, 1, 2, 7, 50, 1001):
        for endpoint in (True, False):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                e = np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype)
                r = cw.linspace(start, stop, num, endpoint=endpoint, dtype=dtype)
                assert isinstance(r, cw.Array)
                _bits(r, e)


def test_linspace_arrays_retstep_axis_and_laziness(no_fallback):
    a, b = np.array([0.0, 1, 2]), np.array([5.0, 3, -1])
    for axis in (0, 1, -1):
        _bits(cw.linspace(a, b, 9, axis=axis), np.linspace(a, b, 9, axis=axis))
    r, step = cw.linspace(0, 1, 5, retstep=True)
    e, estep = np.linspace(0, 1, 5, retstep=True)
    _bits(r, e)
    assert step == estep and type(step) is type(estep)
    cw.reset_stats()
    big = cw.linspace(0, 1, 10**8, chunks=10**6)
    assert big.shape == (10**8,) and big.chunksize == (10**6,) and cw.stats()["runs"] == 0
    _bits(big[-3:], np.linspace(0, 1, 10**8)[-3:])
    with pytest.raises(ValueError, match="must be non-negative"):
        cw.linspace(0, 1, -1)


@pytest.mark.parametrize("dtype", ["i1", "u1", "i2", "i4", "i8", "u8", "bool", "f2",
                                   "f4", "f8"])
def test_nanmean_is_lazy_with_numpys_dtype(dtype, no_fallback):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 100, (6, 7)).astype(dtype)
    if a.dtype.kind == "f":
        a[1, 2] = np.nan
    x = cw.asarray(a, chunks=(4, 3))
    for axis in (None, 0, 1, (0, 1)):
        for keepdims in (False, True):
            e = np.asarray(np.nanmean(a, axis=axis, keepdims=keepdims))
            same(np.nanmean(x, axis=axis, keepdims=keepdims), e)


@pytest.mark.parametrize("shape", [(), (1, 5), (5, 1), (1, 1, 4), (1, 1), (6,), (2, 3, 4),
                                   (3, 4)])
def test_cumulative_flattened_is_lazy(shape, no_fallback):
    a = np.arange(math_prod(shape)).reshape(shape) + 1
    x = cw.asarray(a, chunks=tuple(max(1, n // 2) for n in shape) or None)
    for f in (np.cumsum, np.cumprod):
        same(f(x), f(a))
        same(f(x, dtype="f4"), f(a, dtype="f4"))
    same(x.cumsum(), a.cumsum())
    same(np.cumsum(x.sum()), np.cumsum(a.sum()))


def math_prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


@pytest.mark.parametrize("dtype", ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"])
def test_round_integers_negative_decimals(dtype, no_fallback):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(2)
    # Results that stay in range: NumPy's out-of-range float-to-integer
    # conversion is platform-defined.
    hi = min(info.max, 2**53) // 2
    lo = max(info.min, -(2**53)) // 2
    a = rng.integers(lo, hi, 200, dtype=np.int64, endpoint=True).astype(dtype)
    a[:6] = np.array([0, 5, 15, 25, 45, 55]).astype(dtype)
    x = cw.asarray(a, chunks=64)
    for d in (-1, -2, -3, -5, 0, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            e = np.round(a, d)
            r = np.round(x, d).compute()
        if d < 0:
            ok = (np.abs(np.round(a.astype(float), d)) <= min(info.max, 2**53))
            r, e = r[ok], e[ok]
        same(r, e)
    b = np.array([True, False])
    same(np.round(cw.asarray(b)), np.round(b))
    with pytest.raises(TypeError):
        np.round(cw.asarray(b), 1)


def test_numpy_warnings_inside_a_fallback_point_at_the_callers_line():
    x = cw.asarray(np.arange(3.0))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        r = np.fmod.outer(x, x)  # mark-fp
    fp = [w for w in rec if issubclass(w.category, RuntimeWarning)
          and not issubclass(w.category, cw.FallbackWarning)]
    assert [str(w.message) for w in fp] == ["invalid value encountered in fmod.outer"]
    assert fp[0].filename == __file__ and fp[0].lineno == _line_of("mark-fp")
    with np.errstate(all="ignore"):
        same(r, np.fmod.outer(np.arange(3.0), np.arange(3.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cw.FallbackWarning)
        with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
            np.fmod.outer(x, x)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            np.fmod.outer(x, x)


def test_matmul_into_out(no_fallback):
    a = np.arange(24).reshape(2, 3, 4)
    b = np.arange(8).reshape(4, 2)
    buf = np.empty((2, 3, 2), dtype=a.dtype)
    r = np.matmul(cw.asarray(a), b, out=buf)
    assert r is buf
    same(buf, a @ b)
    with pytest.raises(TypeError, match="out="):
        np.matmul(cw.asarray(a), b, out=np.empty((2, 3, 2), "f4"))
