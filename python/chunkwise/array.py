"""The lazy chunked array.

An ``Array`` wraps a graph node (_nodes.py): a view of a chunk source in the
C engine (an HDF5 dataset, an in-memory buffer, a generator, a
concatenation or matrix product), or a computation over such views built by
NumPy ufuncs, functions and operators.  Creating, indexing and inspecting
one reads nothing; ``compute()``, ``np.asarray()`` and ``to_hdf5()`` run
the plan of passes that computes it (_plan.py, _execute.py): the C engine
over the chunks the result needs, in parallel, with the GIL released.

This is the only module that makes ``Array`` objects: the builders return
nodes, and the NumPy protocols below wrap them.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

# views and selection register NumPy functions when imported.
from . import (_execute, _plan, _twoouts, cluster, complexes, functions,  # noqa
               histograms, interop, products, reductions, selection, views)
from ._coerce import Fallback, Scalar, Unsupported, array_leaf
from ._compile import chunks_of
from ._core import MemoryBudgetError
from ._nodes import NODES, Blocks, Hdf5, Lazy, Leaf, flatten, unflatten
from .config import current, size_text
from .functions import HANDLED, FallbackWarning
from .ufuncs import _WEAK, apply_ufunc

__all__ = ["Array", "wrap"]


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


_READ_ONLY = ("chunkwise arrays are read-only; compute() a NumPy array to modify, "
              "or write a result with to_hdf5()")

# NumPy functions that write into an argument, by the position and keyword
# name of that argument.  On a chunkwise array they raise __setitem__'s
# TypeError: a fallback would modify a temporary copy and lose the change.
_IN_PLACE = {np.put: (0, "a"), np.place: (0, "arr"), np.putmask: (0, "a"),
             np.fill_diagonal: (0, "a"), np.put_along_axis: (0, "arr"),
             np.copyto: (0, "dst")}


def _check_not_written(name, args, kwargs, where):
    pos, key = where
    target = args[pos] if len(args) > pos else kwargs.get(key)
    if isinstance(target, Array):
        raise TypeError(f"{name}: {_READ_ONLY}")


def _blocks(n: int, c: int) -> tuple:
    """Block extents along an axis of ``n`` elements in chunks of ``c``."""
    if n == 0 or c <= 0:
        return (n,)
    return (c,) * (n // c) + ((n % c,) if n % c else ())


def _unpickle(table) -> "Array":
    return Array(unflatten(table))


def wrap(node) -> "Array":
    """An Array over ``node`` (creation.py's constructors use it)."""
    return Array(node)


class Array(Lazy):
    """A lazy, chunked, read-only N-d array.

    Attributes follow NumPy: ``shape``, ``dtype``, ``ndim``, ``size``,
    ``nbytes``; ``chunksize`` is the chunk shape work is split by and
    ``chunks`` the grid of blocks it makes, as dask spells it.
    """

    __slots__ = ("_node", "__weakref__")
    __hash__ = None  # like ndarray: == is elementwise

    def __init__(self, node):
        self._node = node

    def _new(self, node) -> "Array":
        return self if node is self._node else Array(node)

    # ---------------------------------------------------------- attributes
    @property
    def shape(self) -> tuple:
        return self._node.shape

    @property
    def dtype(self) -> np.dtype:
        return self._node.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def chunksize(self) -> tuple:
        """Chunk shape: the source's chunks as seen through this view, or
        for a computed array those of its first chunked input."""
        return chunks_of(self._node)

    @property
    def chunks(self) -> tuple:
        """The chunk grid as dask and xarray spell it: per axis, the extent
        of each block along it (the last one may be shorter); the regular
        chunk shape is ``chunksize``.  A block function's own grid (which
        may be irregular: map_overlap with trim=False) is shown as it is."""
        n = self._node
        if isinstance(n, Leaf) and isinstance(n.spec, Blocks) and n.view.is_whole(n.spec.shape):
            return tuple(tuple(int(e) for e in np.diff(b)) for b in n.spec.bounds)
        return tuple(_blocks(n, c) for n, c in zip(self.shape, self.chunksize))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __repr__(self) -> str:
        node = self._node
        if isinstance(node, Leaf):
            spec = node.spec
            where = spec.kind
            if isinstance(spec, Hdf5):
                where = f"hdf5 {spec.path!r}:{spec.dataset}"
                if not node.view.is_whole(spec.shape):
                    where += " (view)"
        else:
            where = "lazy expression"
        return (f"chunkwise.Array<shape={self.shape}, dtype={self.dtype}, "
                f"chunks={self.chunksize}, {_fmt_bytes(self.nbytes)}, {where}>")

    # ----------------------------------------------------------- indexing
    def __getitem__(self, key) -> "Array":
        return Array(selection.getitem(self._node, key))

    def reshape(self, *shape, order="C") -> "Array":
        """Lazy ``ndarray.reshape`` in C order (-1 infers one extent)."""
        if len(shape) == 1 and not hasattr(shape[0], "__index__"):
            shape = shape[0]
        return self._new(selection.reshape(self._node, shape, order))

    def ravel(self, order="C") -> "Array":
        return self._new(selection.ravel(self._node, order))

    def flatten(self, order="C") -> "Array":
        return Array(selection.ravel(self._node, order))

    def nonzero(self) -> tuple:
        return tuple(Array(n) for n in selection.nonzero(self._node))

    def diagonal(self, offset=0, axis1=0, axis2=1) -> "Array":
        return Array(selection.diagonal(self._node, offset, axis1, axis2))

    def take(self, indices, axis=None, mode="raise") -> "Array":
        return Array(selection.take(self._node, indices, axis, mode))

    def __setitem__(self, key, value):
        raise TypeError(_READ_ONLY)

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        for i in range(self.shape[0]):
            yield self[i]

    # ------------------------------------------------------ materialising
    def compute(self, out=None) -> np.ndarray:
        """Read the array into a new ndarray, or into ``out``.

        ``out`` must be a writeable ndarray of exactly this shape and dtype;
        it is filled in place (no new memory) and returned.
        """
        return _execute.materialise(self._node, out)

    # -------------------------------------------------------- reductions
    def sum(self, axis=None, dtype=None, keepdims=False):
        return Array(reductions.reduce(np.add, self, axis, dtype, keepdims))

    def prod(self, axis=None, dtype=None, keepdims=False):
        return Array(reductions.reduce(np.multiply, self, axis, dtype, keepdims))

    def min(self, axis=None, keepdims=False):
        return Array(reductions.reduce(np.minimum, self, axis, None, keepdims))

    def max(self, axis=None, keepdims=False):
        return Array(reductions.reduce(np.maximum, self, axis, None, keepdims))

    def any(self, axis=None, keepdims=False):
        return Array(reductions.reduce(np.logical_or, self, axis, bool, keepdims))

    def all(self, axis=None, keepdims=False):
        return Array(reductions.reduce(np.logical_and, self, axis, bool, keepdims))

    def argmax(self, axis=None, keepdims=False):
        return Array(reductions.argreduce(True, self, axis, keepdims))

    def argmin(self, axis=None, keepdims=False):
        return Array(reductions.argreduce(False, self, axis, keepdims))

    def cumsum(self, axis=None, dtype=None):
        return np.cumsum(self, axis=axis, dtype=dtype)

    def cumprod(self, axis=None, dtype=None):
        return np.cumprod(self, axis=axis, dtype=dtype)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return Array(reductions.mean(self, axis, dtype, keepdims))

    def var(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return Array(reductions.var(self, axis, dtype, ddof, keepdims))

    def std(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return Array(reductions.std(self, axis, dtype, ddof, keepdims))

    # ------------------------------------------------------------- axes
    @property
    def T(self) -> "Array":
        return self.transpose()

    def transpose(self, *axes) -> "Array":
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return self._new(functions.transpose(self._node, axes if axes else None))

    def swapaxes(self, axis1, axis2) -> "Array":
        return self._new(functions.swapaxes(self._node, axis1, axis2))

    def squeeze(self, axis=None) -> "Array":
        return Array(functions.squeeze(self._node, axis))

    def clip(self, min=None, max=None) -> "Array":
        return np.clip(self, min, max)

    def round(self, decimals=0) -> "Array":
        return np.round(self, decimals)

    def searchsorted(self, v, side="left", sorter=None) -> "Array":
        """As ``ndarray.searchsorted``: numpy.searchsorted (lazy)."""
        return np.searchsorted(self, v, side=side, sorter=sorter)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True) -> "Array":
        """Lazy conversion, as ``ndarray.astype``.  Arrays are read-only, so
        ``copy`` only decides whether the same object may come back when the
        dtype is unchanged (``copy=False``)."""
        if casting != "unsafe" and not np.can_cast(self.dtype, dtype, casting):
            raise TypeError(f"Cannot cast array data from {self.dtype!r} to "
                            f"{np.dtype(dtype)!r} according to the rule {casting!r}")
        node = functions.astype(self._node, dtype)
        if node is self._node and not copy:
            return self
        return Array(node)

    def explain(self) -> None:
        """Print the plan that computing this array runs: per pass, the fused
        program with its operations, the tiling, the number of tasks and the
        projected memory for the current configuration (see cw.config)."""
        print(self._explain())

    def _explain(self) -> str:
        p = _plan.plan([self._node])
        return f"{self!r}\n" + _plan.explain(p, current())

    # --------------------------------------------------- NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + kwargs.get("out", ()):
            if not isinstance(x, (Array, np.ndarray, np.generic, bool, int, float,
                                  complex, list, tuple)):
                if hasattr(x, "__array_ufunc__"):
                    return NotImplemented
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        if method == "at":
            _check_not_written(f"numpy.{name}", inputs, {}, (0, "a"))
        if method == "__call__" and ufunc is np.vecdot and set(kwargs) == {"axis"}:
            # The core axis of each operand moved last: np.vecdot's own axis=.
            return np.vecdot(*(np.moveaxis(v, kwargs["axis"], -1) for v in inputs))
        if method == "__call__":
            result = _ufunc_call(ufunc, name, inputs, kwargs)
            if result is not NotImplemented:
                return result
        out = kwargs.pop("out", None)
        if out is not None:
            if (len(out) != 1 or not isinstance(out[0], np.ndarray)
                    or method != "__call__"):
                raise TypeError(f"{name}: out= must be one numpy.ndarray")
        if "where" in kwargs:
            raise TypeError(f"{name}: where= is not supported on chunkwise arrays; "
                            "use np.where(cond, f(x), other) instead")
        if kwargs and method == "__call__":
            raise TypeError(f"{name}: unsupported keyword arguments "
                            f"{sorted(kwargs)} on chunkwise arrays")
        if method == "reduce" and out is None and len(inputs) == 1 and \
                isinstance(inputs[0], Array) and set(kwargs) <= {"axis", "dtype",
                                                                 "keepdims"}:
            try:
                return Array(reductions.reduce(ufunc, inputs[0], kwargs.get("axis", 0),
                                               kwargs.get("dtype"),
                                               kwargs.get("keepdims", False)))
            except Unsupported:
                pass
        if method == "accumulate" and out is None and len(inputs) == 1 and \
                isinstance(inputs[0], Array) and set(kwargs) <= {"axis", "dtype"}:
            try:
                return Array(reductions.accumulate(ufunc, inputs[0], kwargs.get("axis", 0),
                                                   kwargs.get("dtype")))
            except Unsupported:
                pass
        if ufunc.signature is not None:
            # A generalized ufunc (matmul, vecdot, ...) works on core
            # dimensions: never elementwise.  matmul is lazy; the others
            # (and matmul with keywords) run in NumPy.
            if ufunc in HANDLED and method == "__call__" and not kwargs and out is None:
                return HANDLED[ufunc](*inputs)      # vecdot, matvec, vecmat (einsum.py)
            if ufunc is np.matmul and method == "__call__" and not kwargs \
                    and len(inputs) == 2:
                try:
                    result = Array(products.matmul(*inputs))
                except Unsupported:
                    result = None
                if result is not None:
                    return _into(name, result, out)
            if out is not None:
                raise TypeError(f"{name}: out= is not supported here")
            return _fallback(name, getattr(ufunc, method), inputs, kwargs)
        if method == "__call__":
            try:
                node = apply_ufunc(ufunc, inputs)
            except Unsupported:
                node = None
            if node is not None:
                return _into(name, Array(node), out)
        if out is not None:
            raise TypeError(f"{name}: out= is not supported here")
        return _fallback(name, getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if not (issubclass(t, Array) or issubclass(t, np.ndarray)):
                return NotImplemented
        if func in _IN_PLACE:
            _check_not_written(f"numpy.{func.__name__}", args, kwargs, _IN_PLACE[func])
        impl = HANDLED.get(func)
        if impl is None:
            return _fallback(f"numpy.{func.__name__}", func, args, kwargs)
        result = impl(*args, **kwargs)
        if isinstance(result, NODES):
            return self._new(result)
        if isinstance(result, (tuple, list)) and result and all(
                isinstance(r, NODES) for r in result):
            return type(result)(Array(r) for r in result)
        if isinstance(result, Fallback):
            return _fallback(result.name, result.call, result.args, result.kwargs)
        if isinstance(result, tuple) and all(isinstance(r, NODES) for r in result):
            return tuple(Array(r) for r in result)
        if isinstance(result, Scalar):
            return result.convert(_execute.materialise(result.node).reshape(()).item())
        return result

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        """NumPy results (from fallbacks) come back as chunked arrays."""
        return Array(array_leaf(np.asarray(arr)))

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("a chunkwise Array cannot be converted to an "
                             "ndarray without a copy")
        a = self.compute()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            a = a.astype(dtype)
        return a

    def _scalar(self):
        if self.size != 1:
            raise TypeError("only arrays of size 1 can be converted to Python scalars")
        return self.compute().reshape(()).item()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __complex__(self):
        return complex(self._scalar())

    def __bool__(self):
        if self.size != 1:
            raise ValueError("The truth value of an array with more than one "
                             "element is ambiguous. Use a.any() or a.all()")
        return bool(self._scalar())

    def __index__(self):
        if self.ndim != 0 or self.dtype.kind not in "iub":
            raise TypeError("only integer scalar arrays can be converted to a "
                            "scalar index")
        return int(self._scalar())

    # ------------------------------------------------------------ storing
    def to_hdf5(self, path, name, chunks=None, compression="blosc-lz4", level=5,
                overwrite=False, shuffle=True, scheduler=None) -> "Array":
        """Stream this array into a new chunked HDF5 dataset.

        Parameters
        ----------
        path : str or os.PathLike
            File; created if missing, else opened for appending.
        name : str
            Dataset path inside the file; intermediate groups are created.
        chunks : int, tuple, dict or "auto", optional
            Chunk shape of the new dataset, in any of ``rechunk``'s
            spellings (default: this array's chunks).  Any chunks can be
            written within memory_limit: when a task could not hold the
            source chunks one output chunk needs, the array is staged
            through a temporary dataset (see ``rechunk``).
        compression : str or None
            ``"blosc-<codec>"`` with codec one of blosclz, lz4, lz4hc, zlib,
            zstd (HDF5 filter 32001, as hdf5plugin and PyTables write it),
            ``"blosc2-<codec>"`` with the same codecs (filter 32026, as
            hdf5plugin.Blosc2 and PyTables' ``"blosc2:<codec>"`` write it),
            ``"gzip"`` (HDF5's deflate filter), ``"zstd"`` (filter 32015, as
            hdf5plugin.Zstd writes it), ``"lz4"`` (filter 32004, as
            hdf5plugin.LZ4 writes it), ``"bzip2"`` (filter 307, PyTables and
            hdf5plugin.BZip2), ``"lzf"`` (filter 32000, h5py's),
            ``"bitshuffle"``, ``"bitshuffle-lz4"``, ``"bitshuffle-zstd"``
            (filter 32008, as hdf5plugin.Bitshuffle writes it with cname
            none, lz4 or zstd) or None.
        level : int
            Compression level, 0-9 (zstd and bitshuffle-zstd: zstd's own
            levels, 0 meaning zstd's default; bzip2: block size, 0 meaning
            9; lz4, lzf, bitshuffle and bitshuffle-lz4 have none).
        overwrite : bool
            Replace an existing dataset of that name (else FileExistsError).
        shuffle : bool or "bit"
            Byte shuffle (Blosc's and Blosc2's own, or HDF5's shuffle filter
            before gzip, zstd or lz4);
            ``"bit"`` selects Blosc's or Blosc2's bit shuffle.  The bitshuffle
            codecs take True or ``"bit"`` and add no byte shuffle.
        scheduler : dask.distributed.Client, optional
            Compute on that client's cluster (docs/cluster.md): the workers
            compute groups of chunks, this process writes them (the only
            writer of the file), with the same chunks, filters, attributes
            and values as a local store.  A failed task fails the store
            with its error and leaves nothing under ``name``.  Not a Client:
            TypeError.

        Returns a lazy Array over the stored dataset.  Memory in flight stays
        within ``cw.config(memory_limit=...)``; nothing appears under
        ``name`` unless the whole dataset was written.
        """
        target = _execute.store_target(path, name, self.shape, chunks, compression,
                                       level, overwrite, shuffle, self.chunksize,
                                       self.dtype.itemsize)
        if scheduler is not None:
            client = cluster.check_client(scheduler)
            return Array(cluster.store(self._node, target, client,
                                       current().memory_limit))
        return Array(_execute.store(self._node, target))

    # ------------------------------------------------------- other libraries
    def __reduce__(self):
        """Pickled by reference: the graph (a file and dataset, not its data;
        an in-memory source's data; a generator's parameters), never the
        engine objects.  A file source is reopened and checked on load.
        The graph travels as a flat table, so any depth pickles."""
        return (_unpickle, (flatten(self._node),))

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Export through DLPack (``numpy.from_dlpack``, ``torch.from_dlpack``):
        the computed value, or an in-memory source viewed whole as it is."""
        return interop.dlpack(self._node, stream, max_version, dl_device, copy)

    def __dlpack_device__(self) -> tuple:
        return (interop.DLPACK_CPU, 0)

    def to_dask(self, chunks=None):
        """A dask array over this one: one task per dask block (``chunks``:
        anything dask takes; default this array's chunks), each computed by
        the chunkwise engine over that block's region."""
        return interop.to_dask(self._node, chunks)

    def to_dask_array(self):
        """``dask.array.asarray(x)`` and ``dask.array.array(x)`` call this."""
        return interop.to_dask(self._node)

    @property
    def real(self) -> "Array":
        """As ndarray's: the real part of complex values (lazy), the array
        itself for real dtypes."""
        return self if self.dtype.kind != "c" else Array(complexes.real(self._node))

    @property
    def imag(self) -> "Array":
        """As ndarray's: the imaginary part of complex values (lazy), lazy
        zeros of this shape and dtype for real dtypes (read-only)."""
        return Array(complexes.imag(self._node))

    def conj(self) -> "Array":
        """The complex conjugate, elementwise (lazy, as numpy.conjugate)."""
        return np.conjugate(self)

    conjugate = conj


def _into(name, result, out):
    """``result``, or computed into ``out[0]`` (an ndarray of its shape and
    dtype) when a ufunc was given ``out=``."""
    if out is None:
        return result
    o = out[0]
    if o.shape != result.shape or o.dtype != result.dtype:
        raise TypeError(f"{name}: out= must be an ndarray of shape {result.shape} "
                        f"and dtype {result.dtype}, not {o.shape} {o.dtype}")
    return result.compute(out=o)


# ---------------------------------------------------------------- fallback

def _arrays_in(obj, out):
    if isinstance(obj, Array):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            _arrays_in(x, out)
    elif isinstance(obj, dict):
        for x in obj.values():
            _arrays_in(x, out)
    return out


def _materialise(obj):
    if isinstance(obj, Array):
        return obj.compute()
    if isinstance(obj, list):
        return [_materialise(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    return obj


def _wrap_numpy(result):
    """NumPy results back as chunked arrays (as ``Array.__array_wrap__``)."""
    if isinstance(result, (np.ndarray, np.generic)):
        return Array(array_leaf(np.asarray(result)))
    if isinstance(result, tuple):
        return tuple(_wrap_numpy(r) for r in result)
    if isinstance(result, list):
        return [_wrap_numpy(r) for r in result]
    return result


def _fallback(name, call, args, kwargs):
    """Run ``call(*args, **kwargs)`` eagerly on materialised inputs."""
    cfg = current()
    arrays = _arrays_in((args, kwargs), [])
    if cfg.fallback == "error":
        raise TypeError(f"{name} has no lazy implementation in chunkwise and "
                        "cw.config(fallback='error') is set")
    need = sum(a.nbytes for a in arrays)
    if need > cfg.memory_limit:
        raise MemoryBudgetError(
            f"{name} has no lazy implementation and would materialise "
            f"{size_text(need)} of inputs, more than memory_limit "
            f"({size_text(cfg.memory_limit)})")
    warnings.warn(f"{name}: no lazy implementation in chunkwise; materialising "
                  f"{len(arrays)} input{'s' if len(arrays) != 1 else ''} "
                  f"({size_text(need)}) and calling NumPy",
                  FallbackWarning, stacklevel=_execute.user_stacklevel())
    result = _numpy_call(name, call, _materialise(args), _materialise(kwargs))
    return _wrap_numpy(result)


_FP_KEYS = (("divide", "divide by zero"), ("over", "overflow"), ("under", "underflow"),
            ("invalid", "invalid value"))


def _numpy_call(name, call, args, kwargs):
    """``call(*args, **kwargs)``, with the floating-point conditions NumPy
    would warn about reported at the user's line rather than here: NumPy
    hands them to a callback (numpy.errstate is local to this thread and
    context), and each one that is in "warn" mode is warned once after the
    call, as NumPy words it."""
    err = np.geterr()
    warn = [k for k, _ in _FP_KEYS if err[k] == "warn"]
    if not warn:
        return call(*args, **kwargs)
    seen = set()
    with np.errstate(call=lambda kind, flag: seen.add(kind), **{k: "call" for k in warn}):
        result = call(*args, **kwargs)
    for key, text in _FP_KEYS:
        if text in seen:
            warnings.warn(f"{text} encountered in {name}", RuntimeWarning,
                          stacklevel=_execute.user_stacklevel())
    return result


# --------------------------------------------------------------- operators

def _binary(ufunc):
    def op(self, other):
        return ufunc(self, other)

    def rop(self, other):
        return ufunc(other, self)
    return op, rop


def _unary(ufunc):
    def op(self):
        return ufunc(self)
    return op


for _name, _uf in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder), ("pow", np.power), ("matmul", np.matmul),
                   ("and", np.bitwise_and), ("or", np.bitwise_or),
                   ("xor", np.bitwise_xor), ("lshift", np.left_shift),
                   ("rshift", np.right_shift)]:
    _op, _rop = _binary(_uf)
    setattr(Array, f"__{_name}__", _op)
    setattr(Array, f"__r{_name}__", _rop)
def _pow(self, other):
    # As ndarray's ** operator: a Python 2 squares (np.square: exact, much
    # faster than pow(), and for bool an int8 result, as NumPy's); a Python
    # float 2.0 only for float arrays (an integer array ** 2.0 is float64).
    if ((type(other) is int and other == 2) or
            (type(other) is float and other == 2.0 and self.dtype.kind == "f")):
        return np.square(self)
    return np.power(self, other)


Array.__pow__ = _pow
for _name, _uf in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                   ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(Array, f"__{_name}__", _binary(_uf)[0])
for _name, _uf in [("neg", np.negative), ("pos", np.positive), ("abs", np.absolute),
                   ("invert", np.invert)]:
    setattr(Array, f"__{_name}__", _unary(_uf))
del _name, _uf, _op, _rop


# ------------------------------------------- ndarray methods and protocols

def _ufunc_call(ufunc, name, inputs, kwargs):
    """A ufunc call with NumPy's keyword arguments (dtype, signature,
    casting, where with out, order, subok), and numpy.divmod as its two
    exact halves; NotImplemented for what the plain path handles."""
    if not kwargs and ufunc not in (np.divmod, np.modf, np.frexp):
        return NotImplemented
    kw = dict(kwargs)
    order, subok = kw.pop("order", "K"), kw.pop("subok", True)
    if order not in ("K", "C", None):
        raise TypeError(f"{name}: order={order!r} is not supported on chunkwise arrays")
    dtype, sig = kw.pop("dtype", None), kw.pop("signature", None)
    casting = kw.pop("casting", "same_kind")
    where = kw.pop("where", True)
    out = kw.pop("out", None)
    if kw:
        raise TypeError(f"{name}: unsupported keyword arguments {sorted(kw)} on "
                        "chunkwise arrays")
    if ufunc is np.divmod:
        if dtype is not None or sig is not None or where is not True:
            return _fallback(name, ufunc, inputs, kwargs)
        outs = out if out is not None else (None, None)
        return tuple(f(*inputs, out=o, casting=casting) if o is not None else f(*inputs)
                     for f, o in zip((np.floor_divide, np.remainder), outs))
    if ufunc in (np.modf, np.frexp) and out is None and dtype is None and sig is None \
            and where is True and isinstance(inputs[0], Array):
        try:
            two = _twoouts.modf if ufunc is np.modf else _twoouts.frexp
            return tuple(Array(n) for n in two(inputs[0]._node))
        except Unsupported:
            pass
    if ufunc.signature is not None and set(kwargs) <= {"out"}:
        return NotImplemented  # matmul into out=: the plain path
    if ufunc.nout != 1 or ufunc.signature is not None:
        return _fallback(name, ufunc, inputs, kwargs)
    if isinstance(out, tuple):
        out = out[0] if len(out) == 1 else None
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: out= must be one numpy.ndarray")
    if where is not True and out is None:
        raise TypeError(f"{name}: where= needs out= on chunkwise arrays (the other "
                        "elements would be uninitialised)")
    try:
        if dtype is None and sig is None:
            node = apply_ufunc(ufunc, inputs)
        else:
            node = _typed_ufunc(ufunc, inputs, dtype, sig, casting)
    except Unsupported:
        return _fallback(name, ufunc, inputs, kwargs)
    if out is None:
        return Array(node)
    if not np.can_cast(node.dtype, out.dtype, casting):
        raise np._core._exceptions._UFuncOutputCastingError(
            ufunc, casting, node.dtype, out.dtype, 0)
    node = functions.astype(node, out.dtype)
    if where is not True:
        node = functions.HANDLED[np.where](where, Array(node), out)
    if node.shape != out.shape and np.broadcast_shapes(node.shape, out.shape) == out.shape:
        node = functions.HANDLED[np.broadcast_to](node, out.shape)
    result = Array(node)
    if result.shape != out.shape:
        raise ValueError(f"{name}: non-broadcastable output operand with shape "
                         f"{out.shape} doesn't match the broadcast shape {result.shape}")
    return result.compute(out=out)


def _typed_ufunc(ufunc, inputs, dtype, sig, casting):
    """The Op of ``ufunc(*inputs)`` with NumPy's loop for the requested
    dtype or signature: inputs are converted to that loop's types (checked
    against ``casting``)."""
    if dtype is not None:
        sig = (None,) * ufunc.nin + (np.dtype(dtype),)
    elif isinstance(sig, str):
        sig = tuple(np.dtype(c) for c in sig.replace("->", ""))
    elif sig is not None:
        sig = tuple(None if d is None else np.dtype(d) for d in sig)
    dts = []
    for x in inputs:
        if isinstance(x, Array):
            dts.append(x.dtype)
        elif type(x) in _WEAK:
            dts.append(type(x))
        else:
            dts.append(np.asarray(x).dtype)
    extra = {} if sig is None else {"signature": sig}
    resolved = ufunc.resolve_dtypes(tuple(dts) + (None,), casting=casting, **extra)
    conv = []
    for x, dt in zip(inputs, resolved[:-1]):
        if isinstance(x, Array):
            conv.append(functions.astype(x._node, dt))
        else:
            conv.append(np.asarray(x).astype(dt) if type(x) not in _WEAK
                        else np.asarray(x, dtype=dt))
    node = apply_ufunc(ufunc, conv)
    return functions.astype(node, resolved[-1])
