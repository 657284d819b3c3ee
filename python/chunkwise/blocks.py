"""User functions per block: map_blocks, map_overlap, blockwise,
apply_gufunc and apply_along_axis, with dask.array's semantics.

Each builds one ``Blocks`` node: the output's grid of blocks, and per
argument which output axis each of its dimensions follows (the others are
read whole), its offsets along it, a halo and a boundary rule.  The engine
computes a block when a pass reads it: it reads the argument tiles (halo
included) with the region primitive on its worker threads and calls the
function with the GIL held only around the call (python/_core/blocks.c),
so blocks run in parallel wherever the function releases the GIL (NumPy's
ufuncs do), and the result is lazy like any other node: it feeds
expressions, reductions and ``to_hdf5``.

Only chunkwise Arrays are cut into blocks; any other argument is passed to
the function as it is, as dask does.
"""
from __future__ import annotations

import dataclasses
import itertools
import numbers
import re

import numpy as np

from ._coerce import lazy_node
from ._nodes import HALO, BlockCall, Blocks, leaf
from .array import wrap
from .creation import asarray

__all__ = ["map_blocks", "map_overlap", "blockwise", "apply_gufunc", "apply_along_axis"]


def _offsets(blocks) -> tuple:
    return tuple(int(v) for v in itertools.accumulate((0,) + tuple(blocks)))


def _grid(node, d) -> tuple:
    """The block offsets of ``node`` along dimension d (its chunks)."""
    return _offsets(wrap(node).chunks[d])


def _regular_offsets(spec, nblocks, what) -> tuple:
    """Offsets of nblocks blocks from a chunks= entry: an int (every block)
    or a tuple of extents (one per block)."""
    if isinstance(spec, numbers.Integral):
        if spec < 0:
            raise ValueError(f"{what}: chunk extents must not be negative, got {spec}")
        return _offsets((int(spec),) * nblocks)
    spec = tuple(int(c) for c in spec)
    if len(spec) != nblocks:
        raise ValueError(f"{what}: chunks {spec} give {len(spec)} blocks along an axis "
                         f"of {nblocks} blocks")
    return _offsets(spec)


def _infer_dtype(func, arrays, template, places, kwargs, what):
    """The dtype ``func`` returns, found as dask finds it: on empty arrays
    of the arguments' ranks and dtypes, else on arrays of ones (with the
    block_info and block_id of the first block, when it takes them)."""
    errors = []
    for make in (lambda a: np.empty((0,) * len(a.shape), a.dtype),
                 lambda a: np.ones((1,) * len(a.shape), a.dtype)):
        args = list(template)
        for p, a in zip(places, arrays):
            args[p] = make(a)
        try:
            with np.errstate(all="ignore"):
                return np.asarray(func(*args, **kwargs)).dtype
        except Exception as e:  # noqa: BLE001 (the function's own error, reported below)
            errors.append(e)
    raise ValueError(f"{what}: could not infer the dtype {func!r} returns (it raised "
                     f"{errors[-1]!r} on small arrays); pass dtype=") from errors[-1]


def _normalize_axes(axes, ndim, what):
    if axes is None:
        return []
    if isinstance(axes, numbers.Integral):
        axes = [axes]
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim, what)
        out.append(int(a) % ndim)
    return sorted(set(out))


def _build(func, args, index_of, out_ind, grids, out_bounds, dtype, kwargs, *,
           depth=None, boundary=None, fills=None, trim=None, select=None,
           wrapper=None, what="map_blocks") -> Blocks:
    """The node: ``index_of[i]`` names the index of each dimension of array
    i, ``out_ind`` those of the output, ``grids`` the input offsets per
    index, ``out_bounds`` the output's per axis."""
    template, places, nodes = [], [], []
    for i, a in enumerate(args):
        n = lazy_node(a)
        if n is None:
            template.append(a)
        else:
            template.append(None)
            places.append(i)
            nodes.append(n)
    if len(nodes) > 32:
        raise ValueError("block functions take at most 32 chunkwise arrays")
    axes, arg_bounds, depths, bnds, fill = [], [], [], [], []
    for j, n in enumerate(nodes):
        ax, ab, dp, bd = [], [], [], []
        for d, ind in enumerate(index_of[j]):
            k = out_ind.index(ind) if ind in out_ind else -1
            g = grids.get(ind)
            if k >= 0 and (n.shape[d] != g[-1]):
                k = -1              # broadcast along it (extent 1): read whole
            ax.append(k)
            ab.append(g if k >= 0 else None)
            dp.append(0 if depth is None or k < 0 else depth[j][d])
            bd.append(HALO["none"] if boundary is None or k < 0 else boundary[j][d])
        axes.append(tuple(ax))
        arg_bounds.append(tuple(ab))
        depths.append(tuple(dp))
        bnds.append(tuple(bd))
        fv = np.zeros((), n.dtype) if fills is None else np.asarray(fills[j], n.dtype)
        fill.append(fv.tobytes())
    call = BlockCall(func, template, places, kwargs, trim=trim, select=select,
                     wrapper=wrapper)
    node = Blocks(call, tuple(nodes), tuple(axes), tuple(arg_bounds), tuple(depths),
                  tuple(bnds), tuple(fill), tuple(tuple(b) for b in out_bounds),
                  np.dtype(np.float64 if dtype is None else dtype))
    if dtype is None:
        extra = dict(kwargs)
        first = (0,) * len(out_bounds)
        if call.info[0]:
            extra["block_info"] = node.block_info(first, None)
        if call.info[1]:
            extra["block_id"] = first
        dt = _infer_dtype(func, nodes, template, places, extra, what)
        node = dataclasses.replace(node, dtype=dt)
    return node


def _grids(arrays, index_of):
    """Per index: the offsets of the first array along it whose extent is
    the largest (arrays of extent 1 broadcast), and that extent."""
    grids = {}
    for j, a in enumerate(arrays):
        for d, ind in enumerate(index_of[j]):
            n = a.shape[d]
            if ind not in grids or (grids[ind][-1] == 1 and n != 1):
                grids[ind] = _grid(lazy_node(a), d)
            elif n not in (1, grids[ind][-1]):
                raise ValueError(f"arrays of extents {grids[ind][-1]} and {n} do not "
                                 "broadcast together")
    return grids


def map_blocks(func, *args, dtype=None, chunks=None, drop_axis=None, new_axis=None,
               meta=None, name=None, token=None, enforce_ndim=False, **kwargs):
    """Apply ``func`` to each block of the arrays (dask.array.map_blocks).

    Arrays are right-aligned and cut on a common grid (the first array's
    chunks along each axis; arrays of extent 1 along an axis broadcast);
    ``func`` gets one ndarray per array (other arguments as given), and
    ``block_info`` / ``block_id`` keywords when it takes them.  Axes in
    ``drop_axis`` are passed whole and dropped from the output; axes in
    ``new_axis`` are inserted (one block each unless ``chunks`` says more).
    ``chunks``: the output block extents per axis (an int for every block,
    or one extent per block), by default the input grid.  ``dtype``: what
    ``func`` returns, else found by calling it on small arrays."""
    arrays = [a for a in args if lazy_node(a) is not None]
    if not arrays:
        raise TypeError("map_blocks needs at least one chunkwise Array argument")
    if not callable(func):
        raise TypeError(f"map_blocks: func must be callable, not {func!r}")
    nd = max(a.ndim for a in arrays)
    index_of = [tuple(range(nd - a.ndim, nd)) for a in arrays]
    drop = _normalize_axes(drop_axis, nd, "drop_axis")
    out_ind = [i for i in range(nd) if i not in drop]
    n_out = len(out_ind) + (0 if new_axis is None else
                            (1 if isinstance(new_axis, numbers.Integral) else len(new_axis)))
    new = _normalize_axes(new_axis, n_out, "new_axis")
    for p in new:
        out_ind.insert(p, ("new", p))
    grids = _grids(arrays, index_of)
    if meta is not None and dtype is None:
        dtype = np.asarray(meta).dtype
    if chunks is not None:
        chunks = tuple(chunks)
        if len(chunks) != len(out_ind):
            raise ValueError(f"map_blocks: chunks has {len(chunks)} entries for an output "
                             f"of {len(out_ind)} dimensions")
    out_bounds = []
    for k, ind in enumerate(out_ind):
        if isinstance(ind, tuple):         # a new axis
            c = 1 if chunks is None else chunks[k]
            nb = 1 if isinstance(c, numbers.Integral) else len(tuple(c))
            out_bounds.append(_regular_offsets(c, nb, "map_blocks"))
            grids[ind] = None
        elif chunks is None:
            out_bounds.append(grids[ind])
        else:
            out_bounds.append(_regular_offsets(chunks[k], len(grids[ind]) - 1, "map_blocks"))
    return wrap(leaf(_build(func, args, index_of, out_ind, grids, out_bounds, dtype,
                            kwargs)))


def _per_axis(value, ndim, default, what):
    """depth= / boundary= as a tuple per axis: a scalar, a tuple or a dict."""
    if isinstance(value, dict):
        return tuple(value.get(k, value.get(k - ndim, default)) for k in range(ndim))
    if isinstance(value, (tuple, list)):
        if len(value) != ndim:
            raise ValueError(f"{what} has {len(value)} entries for {ndim} dimensions")
        return tuple(value)
    return (default if value is None else value,) * ndim


def _boundary_code(b):
    if b is None:
        return HALO["none"], 0
    if isinstance(b, str):
        if b not in HALO or b == "constant":
            raise ValueError(f"unknown boundary {b!r}: use 'reflect', 'periodic', "
                             "'nearest', 'none' or a constant")
        return HALO[b], 0
    if isinstance(b, (numbers.Number, np.generic)):
        return HALO["constant"], b
    raise TypeError(f"boundary must be a str or a number, not {b!r}")


def map_overlap(func, *args, depth=None, boundary=None, trim=True, align_arrays=True,
                allow_rechunk=True, dtype=None, **kwargs):
    """Apply ``func`` to each block widened by ``depth`` elements of its
    neighbours (dask.array.map_overlap).  ``depth``: an int, a tuple or a
    dict per axis; ``boundary`` per axis (or one for all): 'reflect'
    (mirrored, edge included), 'periodic', 'nearest', 'none' (no halo past
    the edges) or a constant.  With ``trim`` the halo is cut off each
    result block again; otherwise results keep it."""
    arrays = [a for a in args if lazy_node(a) is not None]
    if not arrays:
        raise TypeError("map_overlap needs at least one chunkwise Array argument")
    for k in ("name", "token", "meta", "enforce_ndim"):
        kwargs.pop(k, None)     # dask's map_blocks options that change nothing here
    bad = [k for k in ("chunks", "drop_axis", "new_axis") if k in kwargs]
    if bad:
        raise NotImplementedError(f"map_overlap: {', '.join(bad)} not supported (the "
                                  "function's blocks keep the input's axes)")
    nd = max(a.ndim for a in arrays)
    if any(a.ndim != nd for a in arrays):
        raise ValueError("map_overlap: the arrays must have one number of dimensions")
    dep = tuple(int(d) for d in _per_axis(0 if depth is None else depth, nd, 0, "depth"))
    if any(d < 0 for d in dep):
        raise ValueError(f"depth must not be negative, got {dep}")
    codes = [_boundary_code(b) for b in _per_axis(boundary, nd, None, "boundary")]
    for a in arrays:
        for k, (code, _) in enumerate(codes):
            if code in (HALO["reflect"], HALO["periodic"]) and dep[k] > a.shape[k]:
                raise ValueError(f"depth {dep[k]} along axis {k} is more than the array's "
                                 f"extent {a.shape[k]}")
    if len({v for c, v in codes if c == HALO["constant"]}) > 1:
        raise NotImplementedError("map_overlap: one constant boundary value for all axes")
    fill = next((v for c, v in codes if c == HALO["constant"]), 0)
    index_of = [tuple(range(nd))] * len(arrays)
    grids = _grids(arrays, index_of)
    out_bounds = []
    for k in range(nd):
        g = np.asarray(grids[k])
        if trim:
            out_bounds.append(tuple(int(v) for v in g))
            continue
        lo, hi = g[:-1] - dep[k], g[1:] + dep[k]
        if codes[k][0] == HALO["none"]:
            lo, hi = np.maximum(lo, 0), np.minimum(hi, g[-1])
        out_bounds.append(_offsets(hi - lo))
    trim_spec = tuple((dep[k], codes[k][0] == HALO["none"]) for k in range(nd)) \
        if trim else None
    node = _build(func, args, index_of, list(range(nd)), grids, out_bounds, dtype, kwargs,
                  depth=[dep] * len(arrays), boundary=[[c for c, _ in codes]] * len(arrays),
                  fills=[fill] * len(arrays), trim=trim_spec, what="map_overlap")
    return wrap(leaf(node))


def blockwise(func, out_ind, *args, name=None, token=None, dtype=None, adjust_chunks=None,
              new_axes=None, align_arrays=True, concatenate=None, meta=None, **kwargs):
    """dask.array.blockwise in its common form: ``args`` are pairs (array,
    index string) or (value, None); an index shared with ``out_ind`` is
    cut on the first array's grid along it, an index the output lacks is
    contracted: its arrays are passed whole along it (dask's
    ``concatenate=True``).  ``new_axes`` gives the extents of output
    indices no array has; ``adjust_chunks`` per index an int, a tuple or a
    function of the block extent."""
    if len(args) % 2:
        raise ValueError("blockwise takes pairs of (argument, index)")
    out_ind = tuple(out_ind)
    pairs = list(zip(args[::2], args[1::2]))
    values, arrays, index_of = [], [], []
    for a, ind in pairs:
        if ind is not None and lazy_node(a) is None:
            raise TypeError(f"blockwise: an argument with index {ind!r} must be a "
                            f"chunkwise Array, not {type(a).__name__}")
        if ind is None:
            if lazy_node(a) is not None:
                raise ValueError("blockwise: a chunkwise Array needs an index")
            values.append(a)
            continue
        ind = tuple(ind)
        if len(ind) != a.ndim:
            raise ValueError(f"blockwise: index {ind!r} for an array of {a.ndim} dimensions")
        if len(set(ind)) != len(ind):
            raise NotImplementedError(f"blockwise: repeated index in {ind!r}")
        values.append(a)
        arrays.append(a)
        index_of.append(ind)
    if not arrays:
        raise TypeError("blockwise needs at least one chunkwise Array argument")
    grids = _grids(arrays, index_of)
    new_axes = dict(new_axes or {})
    out_bounds = []
    for ind in out_ind:
        if ind in new_axes:
            v = new_axes[ind]
            g = _offsets(tuple(v)) if isinstance(v, tuple) else _offsets((int(v),))
            grids[ind] = None
        elif ind in grids:
            g = grids[ind]
        else:
            raise ValueError(f"blockwise: output index {ind!r} is in no argument: "
                             "give its extent in new_axes")
        if adjust_chunks and ind in adjust_chunks:
            adj = adjust_chunks[ind]
            ext = np.diff(g)
            if callable(adj):
                g = _offsets(tuple(int(adj(int(e))) for e in ext))
            else:
                g = _regular_offsets(adj, len(ext), "blockwise")
        out_bounds.append(g)
    if meta is not None and dtype is None:
        dtype = np.asarray(meta).dtype
    return wrap(leaf(_build(func, values, index_of, list(out_ind), grids, out_bounds, dtype,
                            kwargs, what="blockwise")))


_DIMS = re.compile(r"\(([^()]*)\)")


def _parse_signature(signature):
    sig = signature.replace(" ", "")
    if "->" not in sig:
        raise ValueError(f"not a gufunc signature: {signature!r}")
    ins, outs = sig.split("->")

    def dims(part):
        groups = _DIMS.findall(part)
        if "".join(f"({g})" for g in groups).replace(",", "") != part.replace(",", ""):
            raise ValueError(f"not a gufunc signature: {signature!r}")
        return [tuple(x for x in g.split(",") if x) for g in groups]
    return dims(ins), dims(outs)


def apply_gufunc(func, signature, *args, axes=None, axis=None, keepdims=False,
                 output_dtypes=None, output_sizes=None, vectorize=None,
                 allow_rechunk=False, meta=None, **kwargs):
    """Apply a generalized ufunc ``func`` of ``signature`` ("(i),(i)->()")
    block by block (dask.array.apply_gufunc): loop dimensions are cut on
    the common grid and broadcast, core dimensions are passed whole in
    each block (so they need not be one chunk).  ``vectorize`` wraps
    ``func`` in numpy.vectorize; several outputs give a tuple of arrays."""
    if axes is not None or axis is not None or keepdims:
        raise NotImplementedError("apply_gufunc: axes=, axis= and keepdims= are not "
                                  "supported; move the core axes last first")
    in_dims, out_dims = _parse_signature(signature)
    if len(in_dims) != len(args):
        raise ValueError(f"apply_gufunc: the signature takes {len(in_dims)} arguments, "
                         f"got {len(args)}")
    arrays = [a if lazy_node(a) is not None else asarray(np.asarray(a)) for a in args]
    sizes = dict(output_sizes or {})
    loops = []
    for a, core in zip(arrays, in_dims):
        if a.ndim < len(core):
            raise ValueError(f"apply_gufunc: an argument of {a.ndim} dimensions for core "
                             f"dimensions {core}")
        for name, n in zip(core, a.shape[a.ndim - len(core):]):
            if sizes.setdefault(name, n) != n:
                raise ValueError(f"apply_gufunc: core dimension {name!r} has extents "
                                 f"{sizes[name]} and {n}")
        loops.append(a.ndim - len(core))
    nloop = max(loops)
    index_of = [tuple(("loop", nloop - m + d) for d in range(m))
                + tuple(("core", c) for c in core) for m, core in zip(loops, in_dims)]
    grids = _grids(arrays, index_of)
    loop_ind = [("loop", d) for d in range(nloop)]
    if vectorize:
        otypes = None if output_dtypes is None else (
            [output_dtypes] if not isinstance(output_dtypes, (list, tuple))
            else list(output_dtypes))
        func = np.vectorize(func, signature=signature, otypes=otypes)
    multi = len(out_dims) > 1
    if output_dtypes is None:
        probe = [np.ones((1,) * m + tuple(sizes[c] for c in core), a.dtype)
                 for a, m, core in zip(arrays, loops, in_dims)]
        with np.errstate(all="ignore"):
            res = func(*probe, **kwargs)
        output_dtypes = [np.asarray(r).dtype for r in res] if multi else np.asarray(res).dtype
    dts = list(output_dtypes) if isinstance(output_dtypes, (list, tuple)) else [output_dtypes]
    if len(dts) != len(out_dims):
        raise ValueError(f"apply_gufunc: {len(dts)} output dtypes for {len(out_dims)} outputs")
    outs = []
    for i, core in enumerate(out_dims):
        missing = [c for c in core if c not in sizes]
        if missing:
            raise ValueError(f"apply_gufunc: give the extent of core dimension(s) {missing} "
                             "in output_sizes")
        out_ind = loop_ind + [("core", c) for c in core]
        bounds = [grids[ind] for ind in loop_ind] + [(0, int(sizes[c])) for c in core]
        g = dict(grids)
        for c in core:
            g[("core", c)] = (0, int(sizes[c]))
        node = _build(func, arrays, index_of, out_ind, g, bounds, dts[i], kwargs,
                      select=i if multi else None)
        outs.append(wrap(leaf(node)))
    return tuple(outs) if multi else outs[0]


def apply_along_axis(func1d, axis, arr, *args, dtype=None, shape=None, **kwargs):
    """numpy.apply_along_axis block by block (dask.array.apply_along_axis):
    ``axis`` is passed whole, the others are cut on the array's grid.
    ``shape`` and ``dtype`` of one result are found by calling ``func1d``
    on ones of the axis's length unless given."""
    if lazy_node(arr) is None:
        raise TypeError("apply_along_axis needs a chunkwise Array")
    nd = arr.ndim
    if not -nd <= axis < nd:
        raise np.exceptions.AxisError(axis, nd)
    axis %= nd
    if shape is None or dtype is None:
        with np.errstate(all="ignore"):
            probe = np.asarray(func1d(np.ones((arr.shape[axis],), arr.dtype), *args,
                                      **kwargs))
        shape = probe.shape if shape is None else tuple(shape)
        dtype = probe.dtype if dtype is None else dtype
    shape = tuple(int(s) for s in shape)
    index_of = [tuple(range(nd))]
    grids = _grids([arr], index_of)
    out_ind = list(range(axis)) + [("new", k) for k in range(len(shape))] \
        + list(range(axis + 1, nd))
    bounds = [grids[i] if not isinstance(i, tuple) else (0, shape[i[1]]) for i in out_ind]
    for k in range(len(shape)):
        grids[("new", k)] = None
    node = _build(func1d, [arr], index_of, out_ind, grids, bounds, dtype, kwargs,
                  wrapper=(axis, tuple(args)))
    return wrap(leaf(node))
