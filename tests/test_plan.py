"""Building expressions runs nothing; the plan is what runs.

cw.stats()["runs"] counts the engine's parallel runs: building, indexing,
inspecting and explaining an expression must start none, and computing it
starts one per pass of the plan that explain() prints."""
import dataclasses

import numpy as np
import pytest

import chunkwise as cw
from chunkwise import _execute, _nodes, _plan
from chunkwise.config import current
from chunkwise.indexing import View

# Values whose sums and means are exact in any order (small integers, 8 rows),
# so chunkwise must give NumPy's answer bit for bit.
X = (np.arange(8 * 6, dtype="f8").reshape(8, 6) % 7) - 3


@pytest.fixture
def x():
    return cw.asarray(X, chunks=(3, 4))


BUILDERS = {
    "concatenate of a mean": (
        lambda x: np.concatenate([x.mean(0, keepdims=True), x]),
        lambda x: np.concatenate([x.mean(0, keepdims=True), x])),
    "matmul over a centred array": (
        lambda x: x.T @ (x - x.mean(0)), lambda x: x.T @ (x - x.mean(0))),
    "stack of reductions": (
        lambda x: np.stack([x.sum(0), x.max(0), x.min(0)]),
        lambda x: np.stack([x.sum(0), x.max(0), x.min(0)])),
    "index of a reduction": (lambda x: x.sum(0)[2:][::-1], lambda x: x.sum(0)[2:][::-1]),
    "transpose of a reduction": (
        lambda x: x.sum(0, keepdims=True).T, lambda x: x.sum(0, keepdims=True).T),
    "expression of a variance": (lambda x: x / x.std(0), lambda x: x / x.std(0)),
    "concatenate of cumsum and argmax": (
        lambda x: np.concatenate([np.cumsum(x, axis=0)[:2], x.argmax(0)[None] * 1.0]),
        lambda x: np.concatenate([np.cumsum(x, axis=0)[:2], x.argmax(0)[None] * 1.0])),
    "dot of a reduction": (lambda x: np.dot(x.sum(1), x), lambda x: np.dot(x.sum(1), x)),
    "broadcast of a mean": (
        lambda x: np.broadcast_to(x.mean(0), (3, 6)) + x[:3],
        lambda x: np.broadcast_to(x.mean(0), (3, 6)) + x[:3]),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_building_over_a_reduction_runs_no_pass(name, x):
    build, numpy_build = BUILDERS[name]
    cw.reset_stats()
    e = build(x)
    assert isinstance(e, cw.Array)
    e.shape, e.dtype, e.chunks, repr(e), e[1:], e.T   # inspecting computes nothing
    e._explain()
    assert cw.stats()["runs"] == 0, name
    np.testing.assert_array_equal(e.compute(), numpy_build(X))
    assert cw.stats()["runs"] > 0


@pytest.mark.parametrize("name", BUILDERS)
def test_explain_lists_the_passes_that_run(name, x):
    e = BUILDERS[name][0](x)
    p = _plan.plan([e._node])
    engine_passes = sum(ps.kind != "empty" for ps in p.passes)
    text = _plan.explain(p, current())
    if len(p.passes) > 1:
        assert f"pass {len(p.passes)} of {len(p.passes)}" in text
    cw.reset_stats()
    e.compute()
    assert cw.stats()["runs"] == engine_passes, text


def test_explain_prints_the_plan(x, capsys):
    e = np.concatenate([x.mean(0, keepdims=True), x])
    e.explain()
    out = capsys.readouterr().out
    assert out == e._explain() + "\n"
    assert "add.reduce" in out and "pass 2 of 2" in out and "concatenation" in out


def test_every_entry_point_runs_the_plan(x, tmp_path):
    """compute, compute(out=), np.asarray, float(), cw.compute and to_hdf5 of
    the same expression give the same values, each from its own plan."""
    e = x - x.mean(0)
    want = X - X.mean(0)
    np.testing.assert_array_equal(e.compute(), want)
    out = np.empty_like(want)
    assert e.compute(out=out) is out
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(np.asarray(e), want)
    assert float(e[1, 2]) == want[1, 2]
    np.testing.assert_array_equal(cw.compute(e, e)[1], want)
    stored = e.to_hdf5(tmp_path / "e.h5", "/e")
    np.testing.assert_array_equal(stored.compute(), want)
    s = e.sum(0).to_hdf5(tmp_path / "e.h5", "/s")
    np.testing.assert_array_equal(s.compute(), want.sum(0))


def test_argmax_reports_progress(x, monkeypatch):
    labels = []

    def reporter(label, mode):
        labels.append(label)
        return None
    monkeypatch.setattr(_execute, "reporter", reporter)
    assert int(x.argmax()) == X.argmax()
    assert labels == ["argmax"]


# ------------------------------------------------------------ plain data

_PLAIN = (int, float, bool, str, bytes, type(None), slice, type(Ellipsis), np.dtype,
          np.ufunc, np.ndarray, np.generic, View)


def _check_plain(obj, path, seen):
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (tuple, list)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{path}[{i}]", seen)
        return
    if isinstance(obj, _PLAIN):
        return
    assert dataclasses.is_dataclass(obj), f"{path}: {type(obj).__name__} is not a dataclass"
    assert type(obj).__module__ == "chunkwise._nodes", path
    params = type(obj).__dataclass_params__
    assert params.frozen and not params.eq, path
    for f in dataclasses.fields(obj):
        if f.name == "source":      # the engine object, made on first use
            continue
        _check_plain(getattr(obj, f.name), f"{path}.{f.name}", seen)


@pytest.mark.parametrize("name", BUILDERS)
def test_nodes_are_plain_data(name, x):
    e = BUILDERS[name][0](x)
    _check_plain(e._node, name, set())
    e.compute()                       # sources made and cached: still plain
    _check_plain(e._node, name, set())


def test_nodes_of_every_source_are_plain_data(tmp_path):
    a = cw.asarray(X).to_hdf5(tmp_path / "a.h5", "/a")
    e = (a + cw.arange(6) * cw.ones((8, 6), "f4") - cw.full((6,), 2)).sum(1)
    e = np.where(e > 0, e, -e)[::2].astype("f4")
    e.compute()
    _check_plain(e._node, "e", set())
    assert isinstance(a._node.spec, _nodes.Hdf5)
    # A leaf's spec names everything needed to reopen its source.
    spec = a._node.spec
    again = _nodes.Hdf5(spec.path, spec.dataset, spec.shape, spec.dtype, spec.chunks)
    b = type(a)(_nodes.Leaf(again, a._node.view))
    np.testing.assert_array_equal(b.compute(), X)
