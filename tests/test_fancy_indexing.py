"""NumPy's advanced indexing on lazy arrays (integer arrays, boolean masks,
mixed with ints, slices, None and Ellipsis), compared with NumPy exactly
(values, dtype, shape) over chunk grids that split every axis, in memory
and on HDF5 files written by h5py; only chunks holding selected elements
are read; random chains of slices, reshapes and fancy indexing equal
NumPy's."""
import h5py
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chunkwise as cw


def same(got, want):
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def _data(shape, dt):
    n = int(np.prod(shape))
    a = (np.arange(n) * 7 % 23 - 5).reshape(shape)
    return (a % 2).astype(dt) if dt is np.bool_ else a.astype(dt)


KEYS = {
    1: [[1, 5, 9], [-1, 0, -12], np.array([3, 3, 3]), [[0, 1], [2, 11]], [],
        (slice(2, None), ), ([True] * 3 + [False] * 9,), (Ellipsis, [4, 2])],
    2: [[1, 5, 2], (slice(None), [0, 6, 2]), ([1, 2], [3, 4]), ([[0], [6]], [0, 6]),
        (-1, [1, -1]), ([2, 0], slice(None, None, -2)), (None, [1, 2], None),
        ([1, 2], None, 3), (Ellipsis, [0]), (slice(1, 6, 2), [[1, 1], [5, 0]]),
        (np.array(2), [0, 3])],
    3: [([1, 2], slice(None), [3, 4]), (slice(None), [0, 3], [1, 1]),
        (0, slice(None), [1, -1]), (Ellipsis, [[0], [1]]), ([1], [2], [3]),
        (slice(None), slice(None, None, 2), [4, 0, 4]), ([0, 1], 1),
        (1, [0, 2], slice(1, None))],
    4: [([0, 2], slice(None), [1, 0], slice(None)), (slice(None), [1], [2], 0),
        (Ellipsis, [1, 0], slice(None)), (0, [1, 2], [0, 1], [1, 0]),
        ([0, 1], None, slice(None), 2)],
}
SHAPES = {1: ((12,), (5,)), 2: ((7, 9), (3, 4)), 3: ((4, 5, 6), (3, 2, 4)),
          4: ((3, 4, 3, 5), (2, 3, 2, 2))}


@pytest.mark.parametrize("dt", [np.float64, np.int32, np.uint8, np.bool_, np.float16])
@pytest.mark.parametrize("nd", [1, 2, 3, 4])
def test_integer_array_indexing_equals_numpy(nd, dt):
    shape, chunks = SHAPES[nd]
    a = _data(shape, dt)
    x = cw.asarray(a, chunks=chunks)
    for key in KEYS[nd]:
        same(x[key], a[key])


@pytest.mark.parametrize("nd", [1, 2, 3, 4])
def test_boolean_masks_equal_numpy(nd):
    shape, chunks = SHAPES[nd]
    a = _data(shape, np.float32)
    x = cw.asarray(a, chunks=chunks)
    same(x[x > 3], a[a > 3])                       # lazy full-shape mask
    same(x[a > 3], a[a > 3])                       # ndarray mask
    same(x[x[(0,) * (nd - 1)] > 0] if nd == 1 else x[..., a[(0,) * (nd - 1)] > 0],
         a[a > 0] if nd == 1 else a[..., a[(0,) * (nd - 1)] > 0])
    m0 = (np.arange(shape[0]) % 2).astype(bool)
    same(x[m0], a[m0])
    same(x[cw.asarray(m0)], a[m0])
    if nd >= 2:
        m1 = np.arange(shape[1]) > 1
        same(x[:, m1], a[:, m1])
        same(x[m0, ..., 1], a[m0, ..., 1])
        same(x[:, m1, None], a[:, m1, None])
    same(x[x > 1000], a[a > 1000])                 # selects nothing
    for empty in ((0,) + shape[1:], shape[:-1] + (0,), (0,)):
        m = np.zeros(empty, bool)                  # an empty mask of any extents
        same(x[m], a[m])
        same(x[cw.asarray(m)], a[m])
    same(x[True], a[True])
    same(x[False], a[False])
    same((x * 2)[x < 0] + 1, (a * 2)[a < 0] + 1)


def test_lazy_integer_index_is_computed_first():
    a = _data((7, 9), np.int64)
    x = cw.asarray(a, chunks=(3, 4))
    idx = cw.asarray(np.array([3, 1, 8, 8]))
    same(x[:, idx], a[:, [3, 1, 8, 8]])
    same(x[idx % 7], a[np.array([3, 1, 8, 8]) % 7])
    big = cw.zeros((4096,), dtype=np.int64)
    with cw.config(memory_limit=16 * 1024):
        with pytest.raises(cw.MemoryBudgetError, match="lazy index"):
            x[big]
        with pytest.raises(cw.MemoryBudgetError):
            cw.zeros((64, 64))[cw.ones((64, 64), dtype=bool)]


def test_index_errors_follow_numpy():
    a = _data((7, 9), np.float64)
    x = cw.asarray(a, chunks=(3, 4))
    for key in [[7], ([0], [9]), (slice(None), [-10]), ([1, 2], [1, 2, 3]),
                [1.5], (a[0] > 0,), ([0], [0], [0]), (np.zeros((3, 3), bool),)]:
        with pytest.raises(IndexError) as want:
            a[key]
        with pytest.raises(IndexError) as got:
            x[key]
        assert str(got.value) == str(want.value), key


def test_fancy_indexing_of_hdf5_reads_only_selected_chunks(tmp_path):
    a = np.arange(10000, dtype=np.float64).reshape(100, 100)
    with h5py.File(tmp_path / "g.h5", "w") as f:
        f.create_dataset("a", data=a, chunks=(10, 10))
    x = cw.open(tmp_path / "g.h5", "a")
    cases = [(([3, 5, 7],), 10), ((slice(None), [0, 15]), 20), (([1, 2], [3, 4]), 1),
             (([5, 95], [5, 95]), 2), ((slice(0, 10), [99, 0, 50]), 3)]
    for key, want in cases:
        cw.reset_stats()
        same(x[key], a[key])
        assert cw.stats()["chunks_read"] == want, key
    m = np.zeros((100, 100), bool)
    m[3, 4] = m[55, 66] = m[57, 61] = True
    cw.reset_stats()
    same(x[m], a[m])
    assert cw.stats()["chunks_read"] == 2
    cw.reset_stats()
    same(x[x == 4321.0], a[a == 4321.0])
    # The counting pass and the mask read every chunk; the gather one.
    assert cw.stats()["chunks_read"] == 2 * 100 + 1


def test_fancy_indexing_of_hdf5_equals_numpy(tmp_path):
    a = _data((4, 5, 6), np.int16)
    with h5py.File(tmp_path / "h.h5", "w") as f:
        f.create_dataset("a", data=a, chunks=(3, 2, 4), compression="gzip")
    x = cw.open(tmp_path / "h.h5", "a")
    for key in KEYS[3]:
        same(x[key], a[key])
    same(x[x > 2], a[a > 2])
    same(x[:, [1, 3]][[2, 0]].reshape(-1)[::3], a[:, [1, 3]][[2, 0]].reshape(-1)[::3])


@st.composite
def _chain(draw):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(nd))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        ops.append((draw(st.sampled_from(["slice", "reshape", "take", "mask"])),
                    draw(st.integers(0, 2**31))))
    return shape, chunks, ops


def _apply(op, seed, a, x):
    rng = np.random.default_rng(seed)
    if op == "slice" and a.ndim:
        k = int(rng.integers(a.ndim))
        n = a.shape[k]
        step = int(rng.choice([1, 2, -1, -2]))
        lo = int(rng.integers(0, n + 1))
        key = (slice(None),) * k + (slice(lo, None, step),)
        return a[key], x[key]
    if op == "reshape":
        n = a.size
        divs = [d for d in range(1, n + 1) if n % d == 0] or [1]
        d = int(rng.choice(divs))
        shape = (d, -1) if n else (0,)
        return a.reshape(shape), x.reshape(shape)
    if op == "take" and a.ndim and a.shape[0]:
        idx = rng.integers(-a.shape[0], a.shape[0], size=int(rng.integers(0, 5)))
        k = int(rng.integers(a.ndim))
        if a.shape[k] == 0:
            return a, x
        idx = rng.integers(-a.shape[k], a.shape[k], size=int(rng.integers(0, 5)))
        key = (slice(None),) * k + (idx,)
        return a[key], x[key]
    if op == "mask" and a.ndim:
        m = rng.random(a.shape[0]) > 0.5
        return a[m], x[m]
    return a, x


@settings(max_examples=60, deadline=None)
@given(_chain())
def test_random_chains_equal_numpy(case):
    shape, chunks, ops = case
    a = _data(shape, np.int32)
    x = cw.asarray(a, chunks=chunks)
    for op, seed in ops:
        a, x = _apply(op, seed, a, x)
        assert x.shape == a.shape
    same(x, a)


def _pair(g, w):
    if isinstance(w, tuple):
        assert isinstance(g, tuple) and len(g) == len(w)
        for p, q in zip(g, w):
            same(p, q)
    else:
        same(g, w)


@pytest.mark.parametrize("shape,chunks", [((12,), (5,)), ((3, 4, 5), (2, 3, 2)),
                                          ((2, 3, 4, 3), (1, 2, 3, 2))])
def test_selection_functions_equal_numpy(tmp_path, shape, chunks):
    a = (np.arange(np.prod(shape)).reshape(shape) * 7 % 11 - 3).astype(np.float32)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("a", data=a, chunks=chunks)
    x = cw.open(tmp_path / "f.h5", "a")
    _pair(np.nonzero(x), np.nonzero(a))
    _pair(x.nonzero(), a.nonzero())
    _pair(np.where(x > 2), np.where(a > 2))
    same(np.where(x > 2, x, 0), np.where(a > 2, a, 0))
    same(np.flatnonzero(x), np.flatnonzero(a))
    same(np.argwhere(x > 1), np.argwhere(a > 1))
    n = np.count_nonzero(x)
    assert n == np.count_nonzero(a) and type(n) is int
    for ax in range(len(shape)):
        same(np.count_nonzero(x, axis=ax), np.count_nonzero(a, axis=ax))
        same(np.count_nonzero(x, axis=ax, keepdims=True),
             np.count_nonzero(a, axis=ax, keepdims=True))
        m = shape[ax]
        for mode in ["raise", "wrap", "clip"]:
            idx = [m - 1, 0, -1] if mode == "raise" else [m + 2, -m - 1, 1]
            same(np.take(x, idx, axis=ax, mode=mode), np.take(a, idx, axis=ax, mode=mode))
        same(x.take([[0, m - 1]], axis=ax), a.take([[0, m - 1]], axis=ax))
        order = np.argsort(a, axis=ax)
        same(np.take_along_axis(x, order, axis=ax), np.take_along_axis(a, order, axis=ax))
        cond = np.arange(m) % 2 == 0
        same(np.compress(cond, x, axis=ax), np.compress(cond, a, axis=ax))
        same(np.compress(cond[:1], x, axis=ax), np.compress(cond[:1], a, axis=ax))
    same(np.take(x, [3, -2, 0]), np.take(a, [3, -2, 0]))
    same(np.extract(x > 0, x), np.extract(a > 0, a))
    same(np.extract(a > 0, x), np.extract(a > 0, a))
    if len(shape) >= 2:
        for off in [0, 1, -1, 2, -3, 9]:
            same(np.diagonal(x, off), np.diagonal(a, off))
            same(x.diagonal(off, -1, 0), a.diagonal(off, -1, 0))
            same(np.trace(x, off), np.trace(a, off))
            same(np.trace(x, off, dtype=np.float64), np.trace(a, off, dtype=np.float64))


def test_selection_function_errors_follow_numpy():
    a = np.arange(12.0).reshape(3, 4)
    x = cw.asarray(a, chunks=(2, 3))
    for call in [lambda m: np.take(m, [4], axis=1), lambda m: np.take(m, [12]),
                 lambda m: np.compress([1, 1, 1, 1], m, axis=0)]:
        with pytest.raises(IndexError) as want:
            call(a)
        with pytest.raises(IndexError) as got:
            call(x)
        assert str(got.value) == str(want.value)
    with pytest.raises(ValueError, match="0d"):
        np.nonzero(x[0, 0])
    with pytest.raises(ValueError, match="cannot be the same"):
        np.diagonal(x, 0, 1, 1)


def test_delete_and_append_equal_numpy():
    a = np.arange(60, dtype=np.int32).reshape(3, 4, 5)
    x = cw.asarray(a, chunks=(2, 3, 2))
    for obj, axis in [(1, 0), (-1, 2), ([0, 2], 1), (slice(1, None, 2), 2),
                      (np.array([True, False, True, False]), 1), ([], 0), ([5, 59], None),
                      (slice(None), 0)]:
        same(np.delete(x, obj, axis), np.delete(a, obj, axis))
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 4"):
        np.delete(x, [4], 1)
    same(np.append(x, x[:1], axis=0), np.append(a, a[:1], axis=0))
    same(np.append(x, [1, 2]), np.append(a, [1, 2]))
    same(np.append(x[0], np.ones((4, 1), np.int32), axis=1),
         np.append(a[0], np.ones((4, 1), np.int32), axis=1))


def test_insert_equals_numpy():
    a = np.arange(60, dtype=np.int32).reshape(3, 4, 5)
    x = cw.asarray(a, chunks=(2, 3, 2))
    for obj, values, axis in [(1, 99, 0), (2, [7, 8, 9, 10, 11], 1), ([0, 2], -1, 2),
                              ([4, 0, 4], [[1], [2], [3]], 1), ([2], [[1, 2, 3, 4, 5]] * 2, 1), (slice(1, 3), 5, 2),
                              (3, [1.9, -2.5], None), ([1, 1], [5, 6], 2),
                              (-1, np.arange(20).reshape(4, 5), 0), ([], 0, 1)]:
        same(np.insert(x, obj, values, axis), np.insert(a, obj, values, axis))


def test_lazy_mask_never_materialises_the_array():
    """x is larger than memory_limit; its mask and the few indices it
    selects are not, so x[x > t] computes."""
    n = 400_000
    x = cw.arange(0, n, dtype="f8", chunks=10_000)             # 3.2 MB
    a = np.arange(0, n, dtype="f8")
    with cw.config(memory_limit=2 * 2**20):
        same(x[x > n - 10], a[a > n - 10])
        same(x[(x % 50_000) == 7], a[(a % 50_000) == 7])
        with pytest.raises(cw.MemoryBudgetError, match="boolean mask selecting"):
            x[x >= 0]


@pytest.mark.parametrize("reps,axis", [([1, 0, 2], 0), ([2, 1, 0, 3], 1), ([2], 0),
                                       (np.arange(12) % 3, None), (3, None)])
def test_repeat_with_per_element_counts_is_a_lazy_take(reps, axis):
    a = np.arange(12.0).reshape(3, 4)
    x = cw.asarray(a, chunks=(2, 3))
    with cw.config(fallback="error"):
        got = np.repeat(x, reps, axis=axis)
        assert isinstance(got, cw.Array)
        np.testing.assert_array_equal(got.compute(), np.repeat(a, reps, axis=axis))
        long = cw.asarray(np.arange(10000.0), chunks=(999,))
        np.testing.assert_array_equal(np.repeat(long, 2).compute(),
                                      np.repeat(np.arange(10000.0), 2))
    with pytest.raises(ValueError, match="negative"):
        np.repeat(x, [-1, 1, 1], axis=0)
