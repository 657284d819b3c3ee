"""The one run entry: Expr.run over outputs given as data (cw_expr_run)."""
import warnings

import h5py
import numpy as np
import pytest

import chunkwise as cw
from chunkwise import _core


def test_the_extension_has_one_run_method():
    runs = {"read", "store", "pass_", "accumulate", "accumulate_store", "argreduce"}
    assert not runs & set(dir(_core.Expr))
    assert "run" in dir(_core.Expr)
    assert not {"read", "store"} & set(dir(_core))


def test_dtypes_come_from_the_library_table():
    assert _core.dtypes == ("bool", "int8", "int16", "int32", "int64", "uint8",
                            "uint16", "uint32", "uint64", "float16", "float32",
                            "float64", "complex64", "complex128")


def test_a_reduction_that_is_not_reorderable_falls_back_to_numpy():
    x = np.arange(24.0).reshape(4, 6) ** 1.5
    a = cw.asarray(x, chunks=(2, 3))
    with pytest.warns(cw.FallbackWarning, match="subtract.reduce"):
        got = np.asarray(np.subtract.reduce(a, axis=0))
    assert np.array_equal(got, np.subtract.reduce(x, axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cw.FallbackWarning)
        with pytest.raises(ValueError, match="not reorderable"):
            np.asarray(np.subtract.reduce(a, axis=None))


def test_the_engine_refuses_a_reduction_that_is_not_reorderable():
    ex = _core.expr_new((4,))
    src = _core.from_array(np.arange(4.0), (2,))
    vid = ex.input(src, (0,), (1,), (4,), (0,))
    ex.finish(vid, (0,))
    loop = np.subtract.types.index("dd->d")
    out = np.empty((), np.float64)
    with pytest.raises(ValueError, match="subtract is not reorderable"):
        ex.run([("reduce", vid, np.subtract, loop, [True], out)], 1, 0, None)
    loop = np.add.types.index("dd->d")
    ex.run([("reduce", vid, np.add, loop, [True], out)], 1, 0, None)
    assert out == 6.0


def test_plain_selections_are_read_and_stored_chunk_by_chunk(tmp_path):
    """A program that only selects from one source is copied on the source's
    chunk grid: each chunk the selection touches is read once."""
    path = tmp_path / "a.h5"
    x = np.arange(40 * 30, dtype="f4").reshape(40, 30)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(10, 30))
    a = cw.open(path, "/x")
    cw.reset_stats()
    assert np.array_equal(a[5:25:2, ::3].compute(), x[5:25:2, ::3])
    s = cw.stats()
    assert s["runs"] == 1 and s["chunks_read"] == 3  # rows 5..23: chunks 0, 1, 2
    b = a[::-1, None, 3].to_hdf5(tmp_path / "b.h5", "/y")
    assert np.array_equal(b.compute(), x[::-1, None, 3])


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_partial_ranges_combined_in_order_equal_the_whole_run(tmp_path, axis):
    from chunkwise import _execute
    rng = np.random.default_rng(5)
    x = rng.standard_normal((130, 90))
    path = str(tmp_path / "p.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(16, 20), compression="gzip")
    for r in (cw.open(path, "x").sum(axis=axis), cw.open(path, "x").max(axis=axis)):
        node = r._node
        n = _execute.partial_count(node)
        assert n == {None: 45, 0: 9, 1: 5, (0, 1): 45}[axis]
        parts = np.concatenate([_execute.partials(node, lo, min(lo + 4, n))
                                for lo in range(0, n, 4)])
        assert parts.shape[0] == n
        np.testing.assert_array_equal(_execute.combine_partials(node, parts),
                                      cw.compute(r)[0])


def test_a_partial_range_past_the_partials_is_refused():
    from chunkwise import _execute
    node = cw.asarray(np.ones((8, 8)), chunks=(4, 4)).sum()._node
    assert _execute.partial_count(node) == 4
    with pytest.raises(ValueError, match=r"partials \[2, 9\) asked for, the run has 4"):
        _execute.partials(node, 2, 9)
