"""The lazy chunked array.

An ``Array`` wraps a graph node (graph.py): a view of a chunk source in the
C engine (an HDF5 dataset, an in-memory buffer or a generator), or an
elementwise computation over such views built by NumPy ufuncs and
operators.  Creating, indexing and inspecting one reads nothing;
``compute()``, ``np.asarray()`` and ``to_hdf5()`` run the C engine over the
chunks the result needs, in parallel, with the GIL released.
"""
from __future__ import annotations

import math
import os

import numpy as np

from . import _core
from .config import get_config, report_fp
from . import reductions
from .graph import Cast, Deferred, Leaf, compile_expr, index_node
from .reductions import Accumulate, ArgReduce, Reduce

__all__ = ["Array", "open"]

_BLOSC_CODECS = ("blosclz", "lz4", "lz4hc", "zlib", "zstd")


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


class Array:
    """A lazy, chunked, read-only N-d array.

    Attributes follow NumPy: ``shape``, ``dtype``, ``ndim``, ``size``,
    ``nbytes``; ``chunks`` is the chunk shape work is split by.
    """

    __slots__ = ("_node", "__weakref__")
    __hash__ = None  # like ndarray: == is elementwise

    def __init__(self, node):
        self._node = node

    @classmethod
    def _from_source(cls, source, origin=None):
        return cls(Leaf(source, origin=origin))

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
    def chunks(self) -> tuple:
        """Chunk shape: the source's chunks as seen through this view, or
        for a computed array those of its first chunked input."""
        return self._node.chunks

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __repr__(self) -> str:
        node = self._node
        if isinstance(node, Leaf):
            where = node.src.kind
            if node.origin is not None:
                where = f"hdf5 {node.origin[0]!r}:{node.origin[1]}"
                if not node.view.is_whole(node.src.shape):
                    where += " (view)"
        else:
            where = "lazy expression"
        return (f"chunkwise.Array<shape={self.shape}, dtype={self.dtype}, "
                f"chunks={self.chunks}, {_fmt_bytes(self.nbytes)}, {where}>")

    # ----------------------------------------------------------- indexing
    def __getitem__(self, key) -> "Array":
        return Array(index_node(self._node, key))

    def __setitem__(self, key, value):
        raise TypeError("chunkwise arrays are read-only; compute() a NumPy "
                        "array to modify, or write a result with to_hdf5()")

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
        if out is None:
            out = np.empty(self.shape, self.dtype)
        else:
            if not isinstance(out, np.ndarray):
                raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
            if out.shape != self.shape:
                raise ValueError(f"out has shape {out.shape}, expected {self.shape}")
            if out.dtype != self.dtype:
                raise TypeError(f"out has dtype {out.dtype}, expected {self.dtype}")
            if not out.flags.writeable:
                raise ValueError("out is read-only")
        if out.size == 0:
            return out
        cfg = get_config()
        node = self._node
        if isinstance(node, Leaf):
            v = node.view
            with _bar("reading") as bar:
                _core.read(node.src, v.start, v.step, v.count, out,
                           v.axis_of_source(), cfg["threads"], cfg["memory_limit"], bar)
            report_fp("chunkwise read")
        elif isinstance(node, (Reduce, ArgReduce)):
            out[...] = node.evaluate(cfg["threads"], cfg["memory_limit"])
        elif isinstance(node, Accumulate):
            node.evaluate(cfg["threads"], cfg["memory_limit"], out)
        else:
            ex = compile_expr(node)
            with _bar("computing") as bar:
                ex.read(out, cfg["threads"], cfg["memory_limit"], bar)
            report_fp("chunkwise computation")
        return out

    # -------------------------------------------------------- reductions
    def sum(self, axis=None, dtype=None, keepdims=False):
        return reductions.reduce(np.add, self, axis, dtype, keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return reductions.reduce(np.multiply, self, axis, dtype, keepdims)

    def min(self, axis=None, keepdims=False):
        return reductions.reduce(np.minimum, self, axis, None, keepdims)

    def max(self, axis=None, keepdims=False):
        return reductions.reduce(np.maximum, self, axis, None, keepdims)

    def any(self, axis=None, keepdims=False):
        return reductions.reduce(np.logical_or, self, axis, bool, keepdims)

    def all(self, axis=None, keepdims=False):
        return reductions.reduce(np.logical_and, self, axis, bool, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return reductions.argreduce(True, self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return reductions.argreduce(False, self, axis, keepdims)

    def cumsum(self, axis=None, dtype=None):
        return np.cumsum(self, axis=axis, dtype=dtype)

    def cumprod(self, axis=None, dtype=None):
        return np.cumprod(self, axis=axis, dtype=dtype)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return reductions.mean(self, axis, dtype, keepdims)

    def var(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return reductions.var(self, axis, dtype, ddof, keepdims)

    def std(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return reductions.std(self, axis, dtype, ddof, keepdims)

    # ------------------------------------------------------------- axes
    @property
    def T(self) -> "Array":
        return self.transpose()

    def transpose(self, *axes) -> "Array":
        from .functions import _perm
        from .graph import transpose_node
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        perm = _perm(self.ndim, axes if axes else None)
        if perm == tuple(range(self.ndim)):
            return self
        return Array(transpose_node(self._node, perm))

    def swapaxes(self, axis1, axis2) -> "Array":
        from numpy.lib.array_utils import normalize_axis_index
        a1, a2 = normalize_axis_index(axis1, self.ndim), normalize_axis_index(axis2, self.ndim)
        perm = list(range(self.ndim))
        perm[a1], perm[a2] = perm[a2], perm[a1]
        return self.transpose(perm)

    def squeeze(self, axis=None) -> "Array":
        from numpy.lib.array_utils import normalize_axis_tuple
        if axis is None:
            axes = tuple(k for k, n in enumerate(self.shape) if n == 1)
        else:
            axes = normalize_axis_tuple(axis, self.ndim)
            for k in axes:
                if self.shape[k] != 1:
                    raise ValueError("cannot select an axis to squeeze out which "
                                     "has size not equal to one")
        return self[tuple(0 if k in axes else slice(None) for k in range(self.ndim))]

    def clip(self, min=None, max=None) -> "Array":
        return np.clip(self, min, max)

    def round(self, decimals=0) -> "Array":
        return np.round(self, decimals)

    def astype(self, dtype) -> "Array":
        """Lazy conversion, as ``ndarray.astype`` (unsafe casting)."""
        from .creation import _check_dtype
        dt = _check_dtype(dtype)
        if dt == self.dtype:
            return self
        return Array(Cast(self._node, dt))

    def explain(self) -> None:
        """Print the plan: the fused kernel with its operations, the tiling,
        the number of tasks and the projected memory for the current
        configuration (see cw.config)."""
        print(self._plan())

    def _plan(self) -> str:
        node = self._node
        cfg = get_config()
        head = f"{self!r}\n"
        if isinstance(node, ArgReduce):
            what = "argmax" if node.is_max else "argmin"
            return head + (f"{what} along axis {node.axis}: per-tile candidates, "
                           "ties to the smaller index\n" +
                           compile_expr(node.node, describe_only=True).describe(
                               cfg["threads"], cfg["memory_limit"]))
        if isinstance(node, Accumulate):
            return head + (f"accumulate: {node.ufunc.__name__} along axis {node.axis}, "
                           "tiles along it in order, other axes in parallel\n" +
                           compile_expr(node.node, describe_only=True).describe(
                               cfg["threads"], cfg["memory_limit"]))
        if isinstance(node, Reduce):
            axes = ", ".join(map(str, node.axes))
            inner = node.node
            head += (f"reduce: {node.ufunc.__name__} over axes ({axes}) of "
                     f"{inner.dtype} values; per-tile partials combined pairwise "
                     "in tile order\n")
            if isinstance(inner, Leaf):
                return head + "input: a view of one source\n"
            return head + compile_expr(inner, describe_only=True).describe(
                cfg["threads"], cfg["memory_limit"])
        if isinstance(node, Leaf):
            return head + (f"read: {node.src.kind} source, selection "
                           f"start={node.view.start} step={node.view.step} "
                           f"count={node.view.count}; one task per source chunk "
                           f"touched\n")
        text = compile_expr(node, describe_only=True).describe(cfg["threads"],
                                                               cfg["memory_limit"])
        for i, r in enumerate(_reductions_in(node)):
            # Each reduction inside (a 'full' placeholder above) is a pass of
            # its own, run first.
            text += (f"pass before it: {r.ufunc.__name__}.reduce over axes "
                     f"{r.axes}, per-tile partials combined pairwise\n")
            text += compile_expr(r.node, describe_only=True).describe(
                cfg["threads"], cfg["memory_limit"])
        return head + text

    # --------------------------------------------------- NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .creation import asarray
        from .functions import fallback
        from .ufuncs import Unsupported, apply_ufunc
        for x in inputs + kwargs.get("out", ()):
            if not isinstance(x, (Array, np.ndarray, np.generic, bool, int, float,
                                  complex, list, tuple)):
                if hasattr(x, "__array_ufunc__"):
                    return NotImplemented
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
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
                return reductions.reduce(ufunc, inputs[0], kwargs.get("axis", 0),
                                         kwargs.get("dtype"),
                                         kwargs.get("keepdims", False))
            except Unsupported:
                pass
        if method == "accumulate" and out is None and len(inputs) == 1 and \
                isinstance(inputs[0], Array) and set(kwargs) <= {"axis", "dtype"}:
            try:
                return reductions.accumulate(ufunc, inputs[0], kwargs.get("axis", 0),
                                             kwargs.get("dtype"))
            except Unsupported:
                pass
        if ufunc is np.matmul and method == "__call__" and out is None and not kwargs:
            from .functions import matmul
            try:
                return matmul(*inputs)
            except Unsupported:
                pass
        elif ufunc.signature is not None and method == "__call__":
            return fallback(name, ufunc, inputs, kwargs)
        if method == "__call__":
            try:
                node = apply_ufunc(ufunc, inputs, asarray)
            except Unsupported:
                node = None
            if node is not None:
                result = Array(node)
                if out is not None:
                    o = out[0]
                    if o.shape != result.shape or o.dtype != result.dtype:
                        raise TypeError(
                            f"{name}: out= must be an ndarray of shape {result.shape} "
                            f"and dtype {result.dtype}, not {o.shape} {o.dtype}")
                    return result.compute(out=o)
                return result
        if out is not None:
            raise TypeError(f"{name}: out= is not supported here")
        return fallback(name, getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .functions import HANDLED, fallback
        for t in types:
            if not (issubclass(t, Array) or issubclass(t, np.ndarray)):
                return NotImplemented
        impl = HANDLED.get(func)
        if impl is not None:
            return impl(*args, **kwargs)
        name = f"numpy.{func.__name__}"
        return fallback(name, func, args, kwargs)

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        """NumPy results (from fallbacks) come back as chunked arrays."""
        from .creation import asarray
        return asarray(np.asarray(arr))


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
                overwrite=False, shuffle=True) -> "Array":
        """Stream this array into a new chunked HDF5 dataset.

        Parameters
        ----------
        path : str or os.PathLike
            File; created if missing, else opened for appending.
        name : str
            Dataset path inside the file; intermediate groups are created.
        chunks : tuple of int, optional
            Chunk shape of the new dataset (default: this array's chunks).
        compression : str or None
            ``"blosc-<codec>"`` with codec one of blosclz, lz4, lz4hc, zlib,
            zstd (HDF5 filter 32001, as hdf5plugin and PyTables write it),
            ``"gzip"`` (HDF5's deflate filter) or None.
        level : int
            Compression level, 0-9.
        overwrite : bool
            Replace an existing dataset of that name (else FileExistsError).
        shuffle : bool or "bit"
            Byte shuffle (Blosc's, or HDF5's shuffle filter before gzip);
            ``"bit"`` selects Blosc's bit shuffle.

        Returns a lazy Array over the stored dataset.  Memory in flight stays
        within ``cw.config(memory_limit=...)``; nothing appears under
        ``name`` unless the whole dataset was written.
        """
        path = os.fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        codec, blosc_codec = _parse_compression(compression)
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
            raise TypeError(f"level must be an int, not {level!r}")
        if not 0 <= level <= 9:
            raise ValueError(f"level must be in 0..9, got {level}")
        if shuffle not in (True, False, "bit", "byte"):
            raise ValueError(f"shuffle must be True, False, 'byte' or 'bit', not {shuffle!r}")
        if shuffle == "bit" and codec != "blosc":
            raise ValueError("bit shuffle is only available with Blosc")
        out_chunks = _normalize_chunks(chunks, self.shape)
        if out_chunks is None:
            out_chunks = (0,) * self.ndim
        cfg = get_config()
        node = self._node
        if isinstance(node, Accumulate):
            # Out of core: chunks along the axis are written in order, the
            # running row carried from one to the next.
            ex = compile_expr(node.node)
            with _bar(f"writing {name}") as bar:
                ex.accumulate_store(node.ufunc, node.loop, node.axis, path, name,
                                    out_chunks, codec, blosc_codec, int(level),
                                    shuffle in (True, "byte"), shuffle == "bit",
                                    bool(overwrite), cfg["threads"],
                                    cfg["memory_limit"], bar)
            return open(path, name)
        if isinstance(node, (Reduce, ArgReduce)):
            from .creation import asarray
            return asarray(self.compute()).to_hdf5(path, name, chunks, compression,
                                                   level, overwrite, shuffle)
        if isinstance(node, Leaf):
            v = node.view
            with _bar(f"writing {name}") as bar:
                _core.store(node.src, v.start, v.step, v.count, path, name, v.shape,
                            out_chunks, v.axes, codec, blosc_codec, int(level),
                            shuffle in (True, "byte"), shuffle == "bit",
                            bool(overwrite), cfg["threads"], cfg["memory_limit"], bar)
        else:
            ex = compile_expr(node)
            with _bar(f"writing {name}") as bar:
                ex.store(path, name, out_chunks, codec, blosc_codec, int(level),
                         shuffle in (True, "byte"), shuffle == "bit", bool(overwrite),
                         cfg["threads"], cfg["memory_limit"], bar)
            report_fp("chunkwise computation")
        return open(path, name)


class _bar:
    """Context manager around one engine run: a progress bar if wanted."""

    def __init__(self, label):
        from .progress import reporter
        self.bar = reporter(label)

    def __enter__(self):
        return self.bar

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


def _reductions_in(node, out=None, seen=None):
    out = [] if out is None else out
    seen = set() if seen is None else seen
    if id(node) in seen:
        return out
    seen.add(id(node))
    if isinstance(node, Reduce):
        out.append(node)
        _reductions_in(node.node, out, seen)
    elif isinstance(node, (Cast, Deferred)):
        _reductions_in(node.node, out, seen)
    elif hasattr(node, "inputs"):
        for x in node.inputs:
            _reductions_in(x, out, seen)
    return out


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


def _parse_compression(compression):
    if compression is None:
        return "none", "lz4"
    if not isinstance(compression, str):
        raise TypeError(f"compression must be a str or None, not {compression!r}")
    c = compression.lower()
    if c in ("gzip", "deflate"):
        return "deflate", "lz4"
    if c.startswith("blosc-") and c[6:] in _BLOSC_CODECS:
        return "blosc", c[6:]
    if c == "blosc":
        return "blosc", "lz4"
    names = ", ".join(f"'blosc-{x}'" for x in _BLOSC_CODECS)
    raise ValueError(f"unknown compression {compression!r}: use {names}, 'gzip' or None")


def _normalize_chunks(chunks, shape):
    """None, an int (every dim) or a tuple with one positive int per dim
    (-1 or None: the whole dimension); clipped to the shape."""
    if chunks is None:
        return None
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * len(shape)
    try:
        chunks = tuple(chunks)
    except TypeError:
        raise TypeError(f"chunks must be an int or a tuple of ints, not {chunks!r}") from None
    if len(chunks) != len(shape):
        raise ValueError(f"chunks {chunks} do not match the {len(shape)}-d shape {shape}")
    out = []
    for c, n in zip(chunks, shape):
        if c is None or c == -1:
            c = max(n, 1)
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"chunk extents must be ints, not {c!r}")
        if c < 1:
            raise ValueError(f"chunk extents must be positive, got {chunks}")
        out.append(int(min(c, max(n, 1))))
    return tuple(out)


def open(path, name) -> Array:  # noqa: A001 - the API's name
    """Open dataset ``name`` of HDF5 file ``path`` lazily and read-only.

    Raises FileNotFoundError (no file), KeyError (no such dataset), TypeError
    (a group, or an unsupported dtype), OSError (not an HDF5 file).
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    src = _core.open_hdf5(path, name)
    full = name if name.startswith("/") else "/" + name
    return Array._from_source(src, origin=(path, full))
