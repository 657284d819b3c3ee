"""The lazy Array API on in-memory sources and generators, against NumPy."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chunkwise as cw

DTYPES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"]


def sample(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dt)


@pytest.mark.parametrize("dtype", DTYPES)
def test_asarray_roundtrip_every_dtype(dtype):
    x = sample((37, 11), dtype)
    a = cw.asarray(x, chunks=(5, 4))
    assert a.shape == x.shape and a.dtype == x.dtype and a.chunksize == (5, 4)
    y = np.asarray(a)
    assert y.dtype == x.dtype and np.array_equal(y, x)


def test_attributes_and_repr():
    x = np.arange(24, dtype="i2").reshape(2, 3, 4)
    a = cw.asarray(x)
    assert (a.ndim, a.size, a.nbytes, a.itemsize, len(a)) == (3, 24, 48, 2, 2)
    r = repr(a)
    assert "shape=(2, 3, 4)" in r and "int16" in r and "memory" in r
    assert len(a[:, 1]) == 2
    with pytest.raises(TypeError):
        len(cw.asarray(np.float32(3)))


def test_asarray_protocols_zero_copy():
    x = np.arange(12, dtype="f8").reshape(3, 4)

    class Iface:
        __array_interface__ = x.__array_interface__

    class ArrayLike:
        def __array__(self, dtype=None, copy=None):
            return x

    for obj in (x, memoryview(x), Iface(), ArrayLike()):
        a = cw.asarray(obj)
        assert np.array_equal(a.compute(), x)
    # DLPack, through an object that only offers __dlpack__.

    class DL:
        def __dlpack__(self, **kw):
            return x.__dlpack__(**kw)

        def __dlpack_device__(self):
            return x.__dlpack_device__()

    assert np.array_equal(cw.asarray(DL()).compute(), x)
    # Zero-copy: a later change to x shows through.
    a = cw.asarray(x)
    x[0, 0] = 99
    assert a.compute()[0, 0] == 99
    # Lists and scalars.
    assert np.array_equal(cw.asarray([[1, 2], [3, 4]]).compute(), [[1, 2], [3, 4]])
    s = cw.asarray(3.5)
    assert s.shape == () and float(s) == 3.5


def test_asarray_big_endian_and_unaligned_become_native():
    x = np.arange(10, dtype=">i4")
    a = cw.asarray(x)
    assert a.dtype == np.dtype("i4") and np.array_equal(a.compute(), x)
    buf = np.zeros(41, dtype="u1")
    u = buf[1:].view("<f8")
    u[:] = np.arange(5)
    assert not u.flags.aligned
    assert np.array_equal(cw.asarray(u).compute(), np.arange(5.0))


@pytest.mark.parametrize("bad", [np.array([1 + 2j], np.clongdouble), np.array(["a"]),
                                 np.zeros(2, dtype=[("a", "i4")]),
                                 np.array([object()])])
def test_asarray_unsupported_dtype(bad):
    with pytest.raises(TypeError, match="unsupported dtype"):
        cw.asarray(bad)


@st.composite
def array_and_key(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.integers(0, 9)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    key = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "none", "all"]))
        if kind == "int" and n > 0:
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "none":
            key.append(None)
            key.append(slice(None))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-12, 12))
            stop = draw(st.none() | st.integers(-12, 12))
            step = draw(st.none() | st.integers(-5, 5).filter(bool))
            key.append(slice(start, stop, step))
        else:
            key.append(slice(None))
    if key and draw(st.booleans()):
        cut = draw(st.integers(0, len(key)))
        key = key[:cut] + [Ellipsis]
    return shape, chunks, tuple(key)


@settings(max_examples=300, deadline=None)
@given(array_and_key(), st.integers(0, 1))
def test_indexing_matches_numpy(case, twice):
    shape, chunks, key = case
    x = np.arange(math.prod(shape), dtype="i4").reshape(shape)
    a = cw.asarray(x, chunks=chunks)
    expect = x[key]
    got = a[key]
    if twice and expect.ndim:
        expect = expect[::-2]
        got = got[::-2]
    assert got.shape == expect.shape
    assert np.array_equal(got.compute(), expect)
    for threads in (1, 2):
        with cw.config(threads=threads):
            assert np.array_equal(np.asarray(got), expect)


def test_index_errors():
    a = cw.zeros((4, 5))
    with pytest.raises(IndexError, match="out of bounds"):
        a[4]
    with pytest.raises(IndexError, match="out of bounds"):
        a[:, -6]
    with pytest.raises(IndexError, match="too many indices"):
        a[1, 2, 3]
    with pytest.raises(IndexError, match="single ellipsis"):
        a[..., ...]
    with pytest.raises(IndexError, match="valid indices"):
        a[[1.5, 2]]
    with pytest.raises(IndexError, match="valid indices"):
        a[1.0]
    with pytest.raises(TypeError, match="read-only"):
        a[0] = 1


def test_compute_out():
    x = np.arange(6000, dtype="f4").reshape(60, 100)
    a = cw.asarray(x, chunks=(7, 30))
    buf = np.full((30, 100), -1, dtype="f4")
    res = a[::2].compute(out=buf)
    assert res is buf and np.array_equal(buf, x[::2])
    # Non-contiguous out is filled in place too.
    big = np.zeros((100, 60), dtype="f4")
    view = big.T
    a.compute(out=view)
    assert np.array_equal(big.T, x)
    with pytest.raises(ValueError, match="shape"):
        a.compute(out=np.zeros((60, 99), "f4"))
    with pytest.raises(TypeError, match="dtype"):
        a.compute(out=np.zeros((60, 100), "f8"))
    ro = np.zeros((60, 100), "f4")
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        a.compute(out=ro)
    with pytest.raises(TypeError):
        a.compute(out=[1, 2])


def test_array_protocol_dtype_and_copy():
    a = cw.arange(5)
    assert np.asarray(a, dtype="f4").dtype == np.float32
    with pytest.raises(ValueError, match="copy"):
        np.asarray(a, copy=False)
    assert np.array(a, copy=True).tolist() == [0, 1, 2, 3, 4]


def test_scalars():
    a = cw.arange(5)
    assert int(a[3]) == 3 and float(a[2]) == 2.0 and bool(a[1]) is True
    assert [0, 10, 20, 30][a[2]] == 20
    with pytest.raises(TypeError):
        float(a)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a)
    assert [int(v) for v in a[:3]] == [0, 1, 2]


@pytest.mark.parametrize("dtype", DTYPES)
def test_full_zeros_ones_empty(dtype):
    shape = (7, 5, 3)
    assert np.array_equal(cw.zeros(shape, dtype).compute(), np.zeros(shape, dtype))
    assert np.array_equal(cw.ones(shape, dtype, chunks=(2, 2, 2)).compute(),
                          np.ones(shape, dtype))
    e = cw.empty(shape, dtype)
    assert e.shape == shape and e.dtype == np.dtype(dtype)
    for v in (0, 1, 3, -1, 2.5, True):
        try:
            with np.errstate(all="ignore"):
                expect = np.full(shape, v, dtype)
        except OverflowError:
            with pytest.raises(OverflowError):
                cw.full(shape, v, dtype)
            continue
        got = cw.full(shape, v, dtype)[1:, ::-2].compute()
        assert got.dtype == expect.dtype
        assert np.array_equal(got, expect[1:, ::-2])


def test_full_default_dtype_follows_numpy():
    for v in (3, 2.5, True, np.float32(1.5), np.uint8(7)):
        assert cw.full((2,), v).dtype == np.full((2,), v).dtype
    assert cw.zeros(3).dtype == np.float64 and cw.zeros(3).shape == (3,)


ARANGE_CASES = [
    (10,), (3, 17), (17, 3, -2), (0, 1, 0.1), (-5.5, 5.5, 0.37), (0, 1, 0.1, "f4"),
    (0, 100, 3, "i1"), (250, 260, 1, "u1"), (0, 30, 1, "f2"), (1, 2, 0.001, "f2"),
    (0, 1e6, 7.3), (5, 1), (0, 10, 3, "f8"), (0.5, 5, 1, "i4"),
    (np.float32(0.25), np.float32(7.5), np.float32(0.3)),
]


@pytest.mark.parametrize("args", ARANGE_CASES)
def test_arange_matches_numpy(args):
    *pos, = args
    dtype = None
    if isinstance(pos[-1], str):
        dtype = pos.pop()
    with np.errstate(all="ignore"):
        expect = np.arange(*pos, dtype=dtype)
    got = cw.arange(*pos, dtype=dtype, chunks=7)
    assert got.shape == expect.shape and got.dtype == expect.dtype
    assert np.array_equal(got.compute(), expect)
    if expect.size > 3:
        assert np.array_equal(got[::-3].compute(), expect[::-3])


def test_arange_bool_and_errors():
    assert np.array_equal(cw.arange(2, dtype=bool).compute(), [False, True])
    with pytest.raises(ZeroDivisionError):
        cw.arange(0, 10, 0)


def test_zero_size_and_scalar():
    z = cw.zeros((0, 5), "i4")
    assert z.compute().shape == (0, 5) and z.size == 0
    assert cw.asarray(np.zeros((3, 0)))[1:].compute().shape == (2, 0)
    s = cw.full((), 4, "u2")
    assert s.shape == () and s.compute().shape == () and int(s) == 4
    assert s[None].compute().tolist() == [4]
    assert s[...].compute() == 4


def test_config_validation_and_context():
    before = cw.get_config()
    with cw.config(threads=1, memory_limit="64MiB"):
        assert cw.get_config()["threads"] == 1
        assert cw.get_config()["memory_limit"] == 64 * 2**20
    assert cw.get_config() == before
    for bad in (0, -1):
        with pytest.raises(ValueError):
            cw.config(threads=bad)
    for bad in (1.5, "2", True):
        with pytest.raises(TypeError):
            cw.config(threads=bad)
    for bad in ("lots", "-5MB", 0, -1, "1 XB"):
        with pytest.raises(ValueError):
            cw.config(memory_limit=bad)
    with pytest.raises(TypeError):
        cw.config(memory_limit=[1])
    with pytest.raises(TypeError):
        cw.config(nonsense=1)
    assert cw.get_config() == before
    assert cw.config(memory_limit="1.5 GB") is not None
    assert cw.get_config()["memory_limit"] == 1_500_000_000
    cw.config(memory_limit=before["memory_limit"])


def test_memory_budget_error_for_a_chunk_too_large():
    x = np.zeros((1000, 1000), "f8")
    with cw.config(memory_limit="1MiB"):
        # Memory sources need no decode buffer: reading works in any budget.
        assert cw.asarray(x, chunks=(1000, 1000)).compute().shape == (1000, 1000)


def test_threads_identical_results():
    x = np.random.default_rng(1).standard_normal((301, 77))
    a = cw.asarray(x, chunks=(16, 16))[::-1, 3::2]
    with cw.config(threads=1):
        r1 = a.compute()
    with cw.config(threads=2):
        r2 = a.compute()
    assert np.array_equal(r1, r2) and np.array_equal(r1, x[::-1, 3::2])


def test_many_inserted_axes():
    """Views may have more axes than HDF5's 32 (NumPy allows 64)."""
    x = np.arange(6.0)
    k = (None,) * 40 + (slice(None, None, -2),)
    assert np.array_equal(cw.asarray(x)[k].compute(), x[k])


def test_progress_bar_only_when_wanted(capsys):
    """A bar is drawn for work over a second when forced (stderr is not a
    terminal under pytest, so the default draws nothing)."""
    import time
    slow = cw.arange(0, 2 * 10**8, dtype="f8", chunks=2**20)
    with cw.config(progress=None):
        slow[::1000].compute()
    assert capsys.readouterr().err == ""
    from chunkwise.progress import _Bar
    bar = _Bar("test")
    bar.start -= 2.0  # pretend it has run for two seconds
    bar(5, 10)
    bar.close()
    err = capsys.readouterr().err
    assert "test [" in err and "50.0%" in err
    with pytest.raises(ValueError):
        cw.config(progress="yes")
    del time
