"""The plan: which engine passes compute a set of roots, in what order.

Pure: ``plan`` looks at nodes only.  A result that needs another result
first (``x - x.mean()``, the second pass of ``var``, a concatenation of
reductions) is computed after it, so passes come in stages; within a stage,
everything over the same shape shares one pass of the engine: elementwise
roots of that shape and reductions of values of that shape are computed
from each tile together, so the inputs they share are read, decoded and
computed once per chunk (up to 8 results a pass).  Every entry point
(``compute``, ``np.asarray``, ``compute(out=)``, ``to_hdf5``, ``float()``,
``cw.compute``) runs a plan from here, and ``explain`` prints it.
"""
from __future__ import annotations

import dataclasses
import math

from ._compile import program
from ._nodes import DEFERRED, Accumulate, ArgReduce, Leaf, Reduce, children

__all__ = ["Pass", "Plan", "plan", "explain"]

PER_PASS = 8    # results one engine pass computes at most


@dataclasses.dataclass(frozen=True, slots=True)
class Pass:
    """One engine run (or, for kind "empty", NumPy's answer without data).

    kind: "read" (one source view into a buffer), "program" (elementwise
    ``values`` and ``reductions`` over ``shape`` from the same tiles),
    "accumulate", "argreduce", "empty" (a reduction of nothing), or "store"
    (``node`` into a new HDF5 dataset, ``target``)."""
    kind: str
    shape: tuple
    values: tuple = ()
    reductions: tuple = ()
    node: object = None
    target: object = None


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    roots: tuple          # nodes whose values are asked for
    passes: tuple


def _trivial(d) -> bool:
    """A deferred node whose answer needs no data (NumPy computes it)."""
    if isinstance(d, Reduce):
        return 0 in d.node.shape
    if isinstance(d, ArgReduce):
        return not d.node.shape or 0 in d.node.shape
    return math.prod(d.shape) == 0


def plan(roots, store=None, target=None) -> Plan:
    """The passes computing ``roots`` (nodes), then storing node ``store``
    into ``target`` if given.

    First one stage of shared passes: the roots that need no other result,
    and every reduction under them whose operand needs none, grouped by
    shape.  Then, root by root, what is still missing, each result in a pass
    of its own after the results it needs (a result computed once serves
    every root)."""
    roots = tuple(roots)
    below = {}        # id -> (node, {id: deferred node directly under it})

    def deps(node):
        key = id(node)
        if key not in below:
            found = {}
            if not (isinstance(node, DEFERRED) and _trivial(node)):
                for c in children(node):
                    if isinstance(c, DEFERRED):
                        found[id(c)] = c
                    else:
                        found.update(deps(c))
            below[key] = (node, found)
        return below[key][1]

    wanted = [r for r in roots if math.prod(r.shape) != 0]
    if store is not None:
        # An accumulation is stored as it is computed; anything else is
        # computed first.
        tops = [store.node] if isinstance(store, Accumulate) else [store]
    else:
        tops = []

    # Every Reduce under the roots, in the order a depth-first walk meets
    # them (the node before what is under it).
    reductions, seen = {}, set()

    def walk(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, Reduce) and not _trivial(node):
            reductions[id(node)] = node
        if not (isinstance(node, DEFERRED) and _trivial(node)):
            for c in children(node):
                walk(c)

    for r in wanted + tops:
        walk(r)

    passes, done = [], set()

    # The shared stage.
    groups = {}
    for r in wanted:
        if not isinstance(r, DEFERRED) and not deps(r) and id(r) not in done:
            groups.setdefault(tuple(r.shape), ({}, {}))[0][id(r)] = r
    for d in reductions.values():
        if not deps(d):
            groups.setdefault(tuple(d.node.shape), ({}, {}))[1][id(d)] = d
    for shape, (vals, reds) in groups.items():
        work = [(v, None) for v in vals.values()] + [(None, r) for r in reds.values()]
        for k in range(0, len(work), PER_PASS):
            part = work[k:k + PER_PASS]
            vs = tuple(v for v, _ in part if v is not None)
            rs = tuple(r for _, r in part if r is not None)
            passes.append(_values_pass(shape, vs, rs))
        done.update(vals)
        done.update(reds)

    # Root by root, what is missing, in dependency order.
    def need(node):
        for d in deps(node).values():
            if id(d) not in done:
                need(d)
                done.add(id(d))
                passes.append(_deferred_pass(d))

    for r in wanted:
        if id(r) in done:
            continue
        need(r)
        done.add(id(r))
        passes.append(_deferred_pass(r) if isinstance(r, DEFERRED)
                      else _values_pass(tuple(r.shape), (r,), ()))
    for t in tops:
        if isinstance(t, DEFERRED):
            if id(t) not in done:
                need(t)
                done.add(id(t))
                passes.append(_deferred_pass(t))
        else:
            need(t)
    if store is not None:
        passes.append(Pass("store", tuple(store.shape), node=store, target=target))
    return Plan(roots, tuple(passes))


def _values_pass(shape, values, reductions):
    if len(values) == 1 and not reductions and isinstance(values[0], Leaf):
        return Pass("read", shape, values)
    return Pass("program", shape, values, reductions)


def _deferred_pass(d):
    if _trivial(d):
        return Pass("empty", tuple(d.shape), node=d)
    if isinstance(d, Reduce):
        return Pass("program", tuple(d.node.shape), (), (d,))
    if isinstance(d, Accumulate):
        return Pass("accumulate", tuple(d.shape), node=d)
    return Pass("argreduce", tuple(d.node.shape), node=d)


# ------------------------------------------------------------------ explain

def _program_text(roots, cfg):
    return program(list(roots), describe_only=True)[0].describe(cfg.threads,
                                                                cfg.memory_limit)


def _red_text(r):
    axes = ", ".join(map(str, r.axes))
    return (f"{r.ufunc.__name__}.reduce over axes ({axes}) of {r.node.dtype} values; "
            "per-tile partials combined pairwise in tile order")


def explain(p: Plan, cfg) -> str:
    """The plan as text: per pass, what it computes and the engine's own
    description of its program (tiling, tasks, projected memory for
    ``cfg``)."""
    if not p.passes:
        return "nothing to compute: no pass\n"
    out = []
    n = len(p.passes)
    for i, ps in enumerate(p.passes, 1):
        head = f"pass {i} of {n}: " if n > 1 else ""
        if ps.kind == "read":
            leaf = ps.values[0]
            v = leaf.view
            out.append(f"{head}read: {leaf.spec.kind} source, selection start={v.start} "
                       f"step={v.step} count={v.count}; one task per source chunk "
                       "touched\n")
            continue
        if ps.kind == "empty":
            out.append(f"{head}nothing to read: NumPy's answer for an empty "
                       f"{type(ps.node).__name__.lower()}\n")
            continue
        if ps.kind == "program":
            what = [f"{len(ps.values)} elementwise result(s)"] if ps.values else []
            what += [_red_text(r) for r in ps.reductions]
            out.append(f"{head}one pass over shape {ps.shape}: " + "; ".join(what) + "\n")
            roots = list(ps.values) + [r.node for r in ps.reductions]
        elif ps.kind == "accumulate":
            node = ps.node
            out.append(f"{head}accumulate: {node.ufunc.__name__} along axis {node.axis}, "
                       "tiles along it in order, other axes in parallel\n")
            roots = [node.node]
        elif ps.kind == "argreduce":
            node = ps.node
            what = "argmax" if node.is_max else "argmin"
            out.append(f"{head}{what} along axis {node.axis}: per-tile candidates, "
                       "ties to the smaller index\n")
            roots = [node.node]
        else:
            node, t = ps.node, ps.target
            out.append(f"{head}store into {t.path}:{t.name} ({t.codec})\n")
            if isinstance(node, Accumulate):
                out.append(f"accumulate: {node.ufunc.__name__} along axis {node.axis}, "
                           "chunks along it written in order\n")
                roots = [node.node]
            elif isinstance(node, Leaf) or isinstance(node, DEFERRED):
                out.append("copy of one source view, chunk by chunk\n")
                continue
            else:
                roots = [node]
        out.append(_program_text(roots, cfg))
    return "".join(out)
