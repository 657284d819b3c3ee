"""Graph nodes of lazy arrays: plain data.

A node describes a value; it never runs anything and never refers to an
``Array``.  Everything a node holds is data (NumPy dtypes, ufuncs, shapes,
views, other nodes), so a graph can be rebuilt from its fields: a ``Leaf``
names its source by a ``SourceSpec`` (a file and dataset, an ndarray, the
parameters of ``full`` or ``arange``), and the engine object for it is made
when a program needs it (``_compile.source``) and cached on the spec.

- ``Leaf``: a view (indexing.View) of a source;
- ``Const``: a scalar, already converted to the dtype its loop expects;
- ``Op``: a NumPy ufunc applied elementwise, with the inner loop NumPy itself
  selects for the operand dtypes (``loop``: index into ``ufunc.types``, or
  the name of an engine built-in or table lookup) and the dtypes that loop
  takes;
- ``Select`` (numpy.where), ``Broadcast`` (numpy.broadcast_to), ``Cast``;
- ``Reduce``, ``Accumulate``, ``ArgReduce``: results computed by a pass of
  their own before a program that uses them (``DEFERRED``);
- ``ResultView``: such a result seen through indexing and transposes;
- ``Blocks``: a Python function applied block by block (map_blocks and
  its relatives), with its ``BlockCall``; ``Rechunk``: a node read with
  other chunks;
- ``Concat`` and ``MatMul``: composite sources over nodes.  A ``Leaf`` over
  one is indexed like any source view, so a slice of a concatenation reads
  only the parts it touches.

Shapes broadcast as in NumPy, right-aligned.
"""
from __future__ import annotations

import dataclasses
import inspect
import pickle

import numpy as np

from . import _core
from .indexing import View

__all__ = ["Lazy", "SourceSpec", "Hdf5", "Memory", "Full", "Arange", "Concat", "MatMul",
           "Leaf", "Const", "Op", "Select", "Broadcast", "Cast", "Reduce", "Accumulate",
           "ArgReduce", "ResultView", "DEFERRED", "NODES", "children", "leaf", "postorder",
           "flatten", "unflatten", "Reshape", "Gather", "Blocks", "BlockCall", "Rechunk",
           "HALO"]

# The engine object of a source, made on first use: not part of the data
# (never pickled or copied).
_cache = dataclasses.field(default=None, repr=False, compare=False,
                           metadata={"cache": True})


def _reduce(self):
    """Pickling and copying by reference: a node is rebuilt from its fields,
    with every cache field (``_cache``) left out."""
    values = tuple(None if f.metadata.get("cache") else getattr(self, f.name)
                   for f in dataclasses.fields(self))
    return _rebuild, (type(self), values)


def _rebuild(cls, values):
    node = object.__new__(cls)
    for f, v in zip(dataclasses.fields(cls), values):
        object.__setattr__(node, f.name, v)
    check = getattr(node, "_loaded", None)
    if check is not None:
        check()
    return node


def _node(cls):
    """A node class: frozen plain data, pickled by its fields (``_reduce``)."""
    cls = dataclasses.dataclass(frozen=True, eq=False, slots=True)(cls)
    cls.__reduce__ = _reduce
    return cls


class Lazy:
    """Marker base of ``Array``: builders recognise lazy operands (and take
    their ``_node``) without importing array.py."""
    __slots__ = ()


class SourceSpec:
    """What is needed to (re)open a source: subclasses are plain data."""
    __slots__ = ()
    kind = "source"
    __reduce__ = _reduce

    @property
    def ndim(self):
        return len(self.shape)


@_node
class Hdf5(SourceSpec):
    path: str
    dataset: str            # absolute, "/..."
    shape: tuple
    dtype: np.dtype
    chunks: tuple
    source: object = _cache
    swmr: bool = False      # opened with H5F_ACC_SWMR_READ
    kind = "hdf5"

    def _loaded(self):
        """After unpickling or copying: reopen the dataset now, and check it
        is still the one described (a file rewritten since is an error)."""
        try:
            src = _core.open_hdf5(self.path, self.dataset)
        except (OSError, KeyError, TypeError) as e:
            raise type(e)(f"cannot reopen HDF5 dataset {self.dataset} of {self.path!r} "
                          f"for an unpickled chunkwise array: {e}") from e
        now = (tuple(src.shape), np.dtype(src.dtype), tuple(src.chunks))
        then = (tuple(self.shape), np.dtype(self.dtype), tuple(self.chunks))
        if now != then:
            raise ValueError(
                f"HDF5 dataset {self.dataset} of {self.path!r} changed since the "
                f"chunkwise array was pickled: it was shape {then[0]}, dtype {then[1]}, "
                f"chunks {then[2]}; it is now shape {now[0]}, dtype {now[1]}, "
                f"chunks {now[2]}")
        object.__setattr__(self, "source", src)


@_node
class Memory(SourceSpec):
    array: np.ndarray        # native byte order, aligned, supported dtype
    chunks: object = None    # None: the engine's default
    source: object = _cache
    kind = "memory"

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype


@_node
class Full(SourceSpec):
    shape: tuple
    dtype: np.dtype
    value: bytes             # one element, in dtype
    chunks: object = None
    source: object = _cache
    kind = "full"


@_node
class Arange(SourceSpec):
    """Element i is first + i * step: integers from (istart, istep) with
    wrap-around as NumPy's, floats from the first two elements."""
    n: int
    istart: int
    istep: int
    first: float
    second: float
    dtype: np.dtype
    chunk: object = None
    source: object = _cache
    kind = "arange"

    @property
    def shape(self):
        return (self.n,)


@_node
class Concat(SourceSpec):
    """numpy.concatenate of nodes of one dtype along ``axis``."""
    parts: tuple
    axis: int
    kind = "concatenation"

    @property
    def shape(self):
        s = list(self.parts[0].shape)
        s[self.axis] = sum(p.shape[self.axis] for p in self.parts)
        return tuple(s)

    @property
    def dtype(self):
        return self.parts[0].dtype


@_node
class MatMul(SourceSpec):
    """The matrix product of two nodes of one dtype and rank (>= 2): (...,
    m, k) @ (..., k, n), the batch axes broadcast (extent 1 in one of
    them).  With ``slice``, the partial products over slices of that many
    along the shared dimension, along a first axis: their sum is the
    product."""
    a: object
    b: object
    slice: int = 0
    kind = "matmul"

    @property
    def shape(self):
        batch = tuple(max(x, y) if min(x, y) != 0 else 0
                      for x, y in zip(self.a.shape[:-2], self.b.shape[:-2]))
        lead = (-(-self.a.shape[-1] // self.slice),) if self.slice else ()
        return lead + batch + (self.a.shape[-2], self.b.shape[-1])

    @property
    def dtype(self):
        return self.a.dtype


@_node
class Reshape(SourceSpec):
    """A node seen with another shape of its size, in C order."""
    node: object
    shape: tuple
    kind = "reshape"

    @property
    def dtype(self):
        return self.node.dtype


@_node
class Gather(SourceSpec):
    """Integer-array indexing of a node: output axes [pos, pos + m) are the
    index tables' broadcast shape; ``map`` gives per input axis the output
    axis showing it whole, or -1 - t for table t (int64, C-contiguous,
    non-negative and in range)."""
    node: object
    shape: tuple
    map: tuple
    tables: tuple
    pos: int
    m: int
    kind = "gather"

    @property
    def dtype(self):
        return self.node.dtype


# Boundary rules of a halo, as the engine numbers them (CW_HALO_*).
HALO = {"none": 0, "reflect": 1, "periodic": 2, "nearest": 3, "constant": 4}


class BlockCall:
    """How a block function is called: ``func`` with the arguments of
    ``template`` (the arrays' places hold ``None`` and are listed in
    ``places``), ``kwargs``, ``block_info`` / ``block_id`` when ``func``
    takes them, the result trimmed by ``trim`` (per output axis: the halo
    depth, and whether the edges have none; map_overlap) and, for a
    function of several outputs, item ``select`` of its result.  Plain
    data: pickled with ``func`` by reference (pickle's rules for
    functions)."""
    __slots__ = ("func", "template", "places", "kwargs", "info", "trim", "select",
                 "wrapper")

    def __init__(self, func, template, places, kwargs, trim=None, select=None,
                 wrapper=None):
        self.func, self.template, self.places = func, tuple(template), tuple(places)
        self.kwargs, self.trim, self.select = dict(kwargs), trim, select
        self.wrapper = wrapper      # None, "along_axis" (axis, args)
        self.info = (False, False) if wrapper is not None else _accepts(func)

    def __reduce__(self):
        try:
            pickle.dumps(self.func)
        except Exception as e:
            raise pickle.PicklingError(
                f"cannot pickle the block function {self.func!r} of a chunkwise array: "
                f"{e} (pickle takes functions by reference: a function defined at a "
                "module's top level, not a lambda or a nested function)") from e
        return BlockCall, (self.func, self.template, self.places, self.kwargs, self.trim,
                           self.select, self.wrapper)

    def run(self, spec, block_id, tiles):
        """The output block ``block_id`` from the argument tiles."""
        args = list(self.template)
        for p, t in zip(self.places, tiles):
            args[p] = t
        kwargs = dict(self.kwargs)
        if self.info[0]:
            kwargs["block_info"] = spec.block_info(block_id, tiles)
        if self.info[1]:
            kwargs["block_id"] = tuple(block_id)
        if self.wrapper is not None:
            axis, extra = self.wrapper
            res = np.apply_along_axis(self.func, axis, args[0], *extra, **kwargs)
        else:
            res = self.func(*args, **kwargs)
        if self.select is not None:
            res = res[self.select]
        res = np.asarray(res)
        if self.trim is not None and res.ndim == len(self.trim):
            key = []
            for k, (depth, none_edge) in enumerate(self.trim):
                lo = hi = depth
                if none_edge:
                    b, off = block_id[k], spec.bounds[k]
                    lo = min(depth, off[b])
                    hi = min(depth, off[-1] - off[b + 1])
                key.append(slice(lo, res.shape[k] - hi))
            res = res[tuple(key)]
        return res


def _accepts(func):
    """Whether ``func`` names block_info and block_id parameters (as dask
    asks: ``**kwargs`` alone does not count)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return (False, False)
    return ("block_info" in params, "block_id" in params)


@_node
class Blocks(SourceSpec):
    """A function applied block by block.  Output axis k is cut at the
    offsets ``bounds[k]``; argument i (a node) has per dimension the output
    axis it follows (``axes``, -1: read whole), its own offsets along it
    (``arg_bounds``, None elsewhere), a halo ``depth`` and a ``boundary``
    rule (HALO codes) with the constant ``fill`` (bytes)."""
    call: BlockCall
    args: tuple
    axes: tuple
    arg_bounds: tuple
    depth: tuple
    boundary: tuple
    fill: tuple
    bounds: tuple
    dtype: np.dtype
    kind = "blocks"

    @property
    def shape(self):
        return tuple(int(b[-1]) for b in self.bounds)

    def block_info(self, block_id, tiles):
        """dask's block_info for block ``block_id``: per array (by its
        position among the arguments) and for the output (None)."""
        info = {}
        for i, (node, axes, ab) in enumerate(zip(self.args, self.axes, self.arg_bounds)):
            loc, num, where = [], [], []
            for d, k in enumerate(axes):
                if k < 0:
                    loc.append(0)
                    num.append(1)
                    where.append((0, node.shape[d]))
                else:
                    b = block_id[k]
                    loc.append(b)
                    num.append(len(ab[d]) - 1)
                    where.append((int(ab[d][b]), int(ab[d][b + 1])))
            info[self.call.places[i]] = {"shape": tuple(node.shape), "num-chunks": tuple(num),
                                         "chunk-location": tuple(loc),
                                         "array-location": where}
        where = [(int(b[i]), int(b[i + 1])) for b, i in zip(self.bounds, block_id)]
        info[None] = {"shape": self.shape,
                      "num-chunks": tuple(len(b) - 1 for b in self.bounds),
                      "chunk-location": tuple(block_id), "array-location": where,
                      "chunk-shape": tuple(e - s for s, e in where), "dtype": self.dtype}
        return info


@_node
class Rechunk(SourceSpec):
    """A node read in chunks of ``chunks`` (while a run uses it, maybe from
    a temporary copy in intermediate chunks: _execute.py, _compile.py)."""
    node: object
    chunks: tuple
    kind = "rechunk"

    @property
    def shape(self):
        return self.node.shape

    @property
    def dtype(self):
        return self.node.dtype


@_node
class Leaf:
    spec: SourceSpec
    view: View

    @property
    def shape(self):
        return self.view.shape

    @property
    def dtype(self):
        return self.spec.dtype


def leaf(spec) -> Leaf:
    """A Leaf viewing all of ``spec``."""
    return Leaf(spec, View.whole(spec.shape))


@_node
class Const:
    value: np.ndarray        # 0-d, of the dtype its loop expects
    shape = ()

    @property
    def dtype(self):
        return self.value.dtype


@_node
class Op:
    ufunc: np.ufunc
    loop: object             # index into ufunc.types, or a built-in's name
    in_dtypes: tuple
    inputs: tuple
    shape: tuple
    dtype: np.dtype
    # A table lookup's table (loop "search_left", "search_right", "take"):
    # a 1-d C-contiguous native ndarray, sorted for searches.
    table: object = None


@_node
class Select:
    """numpy.where(cond, a, b): a bool node and two of the result's dtype."""
    inputs: tuple
    shape: tuple
    dtype: np.dtype

    @property
    def in_dtypes(self):
        return (np.dtype(bool), self.dtype, self.dtype)


@_node
class Broadcast:
    """numpy.broadcast_to: the input seen with a larger shape.  A program
    evaluates every value at its result's shape, so this compiles to its
    input: broadcasting happens where inputs are read (stride 0)."""
    node: object
    shape: tuple

    @property
    def inputs(self):
        return (self.node,)

    @property
    def dtype(self):
        return self.node.dtype


@_node
class Cast:
    node: object
    dtype: np.dtype

    @property
    def shape(self):
        return self.node.shape


@_node
class Reduce:
    """``ufunc.reduce`` over ``axes`` (sorted), accumulating in ``dtype``
    with inner loop ``loop``."""
    ufunc: np.ufunc
    loop: int
    node: object
    axes: tuple
    keepdims: bool
    dtype: np.dtype

    @property
    def shape(self):
        return tuple(1 if k in self.axes else n for k, n in enumerate(self.node.shape)
                     if self.keepdims or k not in self.axes)


@_node
class Accumulate:
    """``ufunc.accumulate`` along one axis (cumsum, cumprod): in order along
    the axis, in parallel across the others."""
    ufunc: np.ufunc
    loop: int
    node: object
    axis: int
    dtype: np.dtype

    @property
    def shape(self):
        return self.node.shape


@_node
class ArgReduce:
    """argmax / argmin along ``axis``, or over the flattened array (None)."""
    is_max: bool
    node: object
    axis: object
    keepdims: bool
    dtype = np.dtype(np.intp)

    @property
    def shape(self):
        nd = len(self.node.shape)
        if self.axis is None:
            return (1,) * nd if self.keepdims else ()
        return tuple(1 if k == self.axis else n for k, n in enumerate(self.node.shape)
                     if self.keepdims or k != self.axis)


@_node
class ResultView:
    """A deferred result seen through indexing and transposes: ``ops`` is a
    tuple of ("index", key) and ("transpose", perm), applied in order to the
    whole (small) result once it is computed."""
    node: object
    ops: tuple
    shape: tuple

    @property
    def dtype(self):
        return self.node.dtype


DEFERRED = (Reduce, Accumulate, ArgReduce)
NODES = (Leaf, Const, Op, Select, Broadcast, Cast, Reduce, Accumulate, ArgReduce,
         ResultView)


def children(node) -> tuple:
    """The nodes ``node`` is computed from (a composite source's parts)."""
    if isinstance(node, (Op, Select)):
        return node.inputs
    if isinstance(node, (Broadcast, Cast, Reduce, Accumulate, ArgReduce, ResultView)):
        return (node.node,)
    if isinstance(node, Leaf):
        spec = node.spec
        if isinstance(spec, Concat):
            return spec.parts
        if isinstance(spec, MatMul):
            return (spec.a, spec.b)
        if isinstance(spec, (Reshape, Gather, Rechunk)):
            return (spec.node,)
        if isinstance(spec, Blocks):
            return spec.args
    return ()


def postorder(roots, kids=children):
    """Every node under ``roots`` (``kids(node)``: what it is computed
    from), once each, children before the nodes computed from them.
    Iterative: graphs of any depth (a loop of ten thousand ``y = y + 1``)
    are walked without Python recursion."""
    seen = set()
    out = []
    stack = [(r, False) for r in reversed(tuple(roots))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for c in reversed(tuple(kids(node))):
            if id(c) not in seen:
                stack.append((c, False))
    return out


# ------------------------------------------------------- flat pickling

class _Ref(int):
    """In a flattened graph: the node at this position of the table."""
    __slots__ = ()

    def __reduce__(self):
        return _Ref, (int(self),)


def _is_node(v) -> bool:
    return type(v).__reduce__ is _reduce


def _field_nodes(node):
    for f in dataclasses.fields(node):
        v = getattr(node, f.name)
        for item in (v if isinstance(v, tuple) else (v,)):
            if _is_node(item):
                yield item


def flatten(root) -> tuple:
    """``root``'s graph as a table of (class, field values), children
    first, a node held by a field written as its position (_Ref): pickling
    the table needs no recursion, whatever the graph's depth."""
    order = postorder([root], lambda n: tuple(_field_nodes(n)) if _is_node(n) else ())
    pos = {id(n): i for i, n in enumerate(order)}

    def ref(v):
        if _is_node(v):
            return _Ref(pos[id(v)])
        if isinstance(v, tuple):
            return tuple(ref(x) for x in v)
        return v

    table = []
    for n in order:
        values = tuple(None if f.metadata.get("cache") else ref(getattr(n, f.name))
                       for f in dataclasses.fields(n))
        table.append((type(n), values))
    return tuple(table)


def unflatten(table):
    """The graph ``flatten`` wrote (its last entry is the root)."""
    built = []

    def deref(v):
        if isinstance(v, _Ref):
            return built[v]
        if isinstance(v, tuple):
            return tuple(deref(x) for x in v)
        return v

    for cls, values in table:
        built.append(_rebuild(cls, tuple(deref(v) for v in values)))
    return built[-1]
