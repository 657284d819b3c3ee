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
from ._nodes import (DEFERRED, Accumulate, ArgReduce, Broadcast, Cast, Hdf5, Leaf, Memory, Op,
                     Reduce, Select, children, postorder)

__all__ = ["Pass", "Plan", "plan", "explain"]

PER_PASS = 8    # results one engine pass computes at most
# Values one engine program holds at most (CW__MAX_VALUES in
# engine/program_impl.h), and the estimate a node's own program may reach
# before it is cut (see _cuts): below the limit, so that the values of a
# pass's roots together fit too.
MAX_VALUES = 128
NODE_VALUES = 100


@dataclasses.dataclass(frozen=True, slots=True)
class Pass:
    """One engine run (or, for kind "empty", NumPy's answer without data).

    kind: "read" (one source view into a buffer), "program" (elementwise
    ``values`` and ``reductions`` over ``shape`` from the same tiles),
    "accumulate", "argreduce", "empty" (a reduction of nothing), or "store"
    (``node`` into a new HDF5 dataset, ``target``).  ``release``: ids of
    intermediate results no later pass reads, dropped after this one."""
    kind: str
    shape: tuple
    values: tuple = ()
    reductions: tuple = ()
    node: object = None
    target: object = None
    release: tuple = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    roots: tuple          # nodes whose values are asked for
    passes: tuple
    cuts: frozenset = frozenset()   # ids of intermediates computed by passes
    cut_nodes: tuple = ()           # those nodes (kept alive with the plan)


def _trivial(d) -> bool:
    """A deferred node whose answer needs no data (NumPy computes it)."""
    if isinstance(d, Reduce):
        return 0 in d.node.shape
    if isinstance(d, ArgReduce):
        return not d.node.shape or 0 in d.node.shape
    return math.prod(d.shape) == 0


def _below(node):
    """The nodes a plan looks under ``node`` for (nothing under a deferred
    result that needs no data)."""
    if isinstance(node, DEFERRED) and _trivial(node):
        return ()
    return children(node)


def _own_values(node):
    """Values a program spends on ``node`` itself (casts of its operands
    included); inputs (leaves, deferred results) are one value each."""
    if isinstance(node, Broadcast):
        return 0
    if isinstance(node, (Op, Select)):
        return 1 + sum(1 for x, dt in zip(node.inputs, node.in_dtypes) if x.dtype != dt)
    return 1


def _program_inputs(node):
    """The nodes compiled into the same program as ``node``."""
    if isinstance(node, (Op, Select)):
        return node.inputs
    if isinstance(node, (Broadcast, Cast)):
        return (node.node,)
    return ()


def _cuts(order):
    """Long expressions in several passes.  An engine program holds at most
    MAX_VALUES values, so where the values of a node's program (an upper
    bound: shared operands are counted once per use) would pass
    NODE_VALUES, its largest operands are cut: each is computed by an
    earlier pass of its own, and read from its result.  ``order``: nodes,
    children first.  Returns {id: node} of the cuts and each node's
    estimate with them."""
    cost, cuts = {}, {}
    for n in order:
        ins = _program_inputs(n)
        c = _own_values(n) + sum(1 if id(x) in cuts else cost[id(x)] for x in ins)
        if c > NODE_VALUES:
            for x in sorted(ins, key=lambda x: -cost[id(x)]):
                if c <= NODE_VALUES:
                    break
                if id(x) in cuts or cost[id(x)] <= 1:
                    continue
                # Through a broadcast, its operand is cut (computed at
                # its own, smaller shape).
                y = x
                while isinstance(y, Broadcast) and cost[id(y.node)] > 1:
                    y = y.node
                if isinstance(y, Broadcast):
                    continue
                cuts[id(y)] = y
                c = _own_values(n) + sum(1 if id(z) in cuts else cost[id(z)]
                                         for z in ins)
                if y is not x:
                    cost[id(x)] = 1
                    c = _own_values(n) + sum(1 if id(z) in cuts else cost[id(z)]
                                             for z in ins)
        cost[id(n)] = c
    return cuts, cost


def plan(roots, store=None, target=None) -> Plan:
    """The passes computing ``roots`` (nodes), then storing node ``store``
    into ``target`` if given.

    First one stage of shared passes: the roots that need no other result,
    and every reduction under them whose operand needs none, grouped by
    shape.  Then, root by root, what is still missing, each result in a pass
    of its own after the results it needs (a result computed once serves
    every root).  An expression too long for one engine program is cut
    (_cuts): its cut parts are results like reductions, each computed by a
    pass of its own before what reads it.

    Graphs are walked iteratively: their depth is not limited by Python's
    recursion limit."""
    roots = tuple(roots)
    if store is None and len(roots) == 1 and isinstance(roots[0], Leaf) and \
            isinstance(roots[0].spec, (Hdf5, Memory)) and math.prod(roots[0].shape) != 0:
        # A read of a file or an array (x[i].compute()): one pass, without
        # walking a graph.
        return Plan(roots, (Pass("read", tuple(roots[0].shape), roots),))

    wanted = [r for r in roots if math.prod(r.shape) != 0]
    if store is not None:
        # An accumulation is stored as it is computed; anything else is
        # computed first.
        tops = [store.node] if isinstance(store, Accumulate) else [store]
    else:
        tops = []

    # Every node under the roots, children first.
    order = postorder(wanted + tops, _below)
    cuts, cost = _cuts(order)

    def barrier(c):
        return isinstance(c, DEFERRED) or id(c) in cuts

    # The barriers (deferred results and cuts) directly under each node.
    below = {}
    for n in order:
        found = {}
        for c in _below(n):
            if barrier(c):
                found[id(c)] = c
            else:
                found.update(below[id(c)][1])
        below[id(n)] = (n, found)

    def deps(node):
        return below[id(node)][1]

    # Every Reduce under the roots, in the order a depth-first walk meets
    # them (the node before what is under it).
    reductions = {}
    for n in _preorder(wanted + tops):
        if isinstance(n, Reduce) and not _trivial(n):
            reductions[id(n)] = n

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
        part, values = [], 0
        for item in work + [None]:
            if item is not None:
                v, r = item
                c = cost[id(v if v is not None else r.node)]
            if part and (item is None or len(part) == PER_PASS
                         or values + c > MAX_VALUES):
                vs = tuple(v for v, _ in part if v is not None)
                rs = tuple(r for _, r in part if r is not None)
                passes.append(_values_pass(shape, vs, rs))
                part, values = [], 0
            if item is not None:
                part.append(item)
                values += c
        done.update(vals)
        done.update(reds)

    # Root by root, what is missing, in dependency order (iteratively).
    def need(node):
        stack = [(node, iter(list(deps(node).values())))]
        while stack:
            top, it = stack[-1]
            d = next(it, None)
            if d is None:
                stack.pop()
                if top is not node:
                    passes.append(_deferred_pass(top))
                continue
            if id(d) in done:
                continue
            done.add(id(d))
            stack.append((d, iter(list(deps(d).values()))))

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
    passes = _with_releases(passes, cuts, deps, {id(r) for r in roots})
    return Plan(roots, tuple(passes), frozenset(cuts), tuple(cuts.values()))


def _preorder(roots):
    """Nodes under ``roots`` as a recursive depth-first walk meets them
    (each node before what is under it), with an explicit stack."""
    seen, out = set(), []
    stack = list(reversed(roots))
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        out.append(n)
        stack.extend(reversed([c for c in _below(n) if id(c) not in seen]))
    return out


def _pass_roots(ps):
    if ps.kind in ("read", "program"):
        return list(ps.values) + [r.node for r in ps.reductions]
    if ps.kind in ("accumulate", "argreduce"):
        return [ps.node.node]
    if ps.kind == "store":
        n = ps.node
        return [n.node] if isinstance(n, Accumulate) else [n]
    return []


def _with_releases(passes, cuts, deps, keep):
    """Each cut's result is dropped after the last pass that reads it."""
    if not cuts:
        return passes
    last = {}
    for i, ps in enumerate(passes):
        for r in _pass_roots(ps):
            for k in deps(r):
                if k in cuts:
                    last[k] = i
    drop = {}
    for k, i in last.items():
        if k not in keep:
            drop.setdefault(i, []).append(k)
    return [dataclasses.replace(ps, release=tuple(drop[i])) if i in drop else ps
            for i, ps in enumerate(passes)]


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
    if isinstance(d, ArgReduce):
        return Pass("argreduce", tuple(d.node.shape), node=d)
    return _values_pass(tuple(d.shape), (d,), ())


# ------------------------------------------------------------------ explain

def _program_text(roots, cfg, cuts=()):
    return program(list(roots), describe_only=True, cuts=cuts)[0].describe(
        cfg.threads, cfg.memory_limit)


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
    if p.cuts:
        out.append(f"a long expression in several passes: {len(p.cuts)} intermediate "
                   "result(s) computed by passes of their own and read by the next\n")
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
        out.append(_program_text(roots, cfg, p.cuts))
    return "".join(out)
