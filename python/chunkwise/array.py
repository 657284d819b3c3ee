"""The lazy chunked array.

An ``Array`` is a view (see indexing.py) of a chunk source in the C engine:
an HDF5 dataset, an in-memory buffer or a generator.  Creating, indexing and
inspecting one reads nothing; ``compute()``, ``np.asarray()`` and
``to_hdf5()`` run the C engine over the chunks the view touches, in
parallel, with the GIL released.
"""
from __future__ import annotations

import math
import os

import numpy as np

from . import _core
from .config import get_config
from .indexing import View, index_view

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

    __slots__ = ("_src", "_view", "_origin", "__weakref__")

    def __init__(self, source, view=None, origin=None):
        self._src = source
        self._view = view if view is not None else View.whole(source.shape)
        self._origin = origin  # (path, name) of an HDF5 dataset, else None

    # ---------------------------------------------------------- attributes
    @property
    def shape(self) -> tuple:
        return self._view.shape

    @property
    def dtype(self) -> np.dtype:
        return self._src.dtype

    @property
    def ndim(self) -> int:
        return len(self._view.shape)

    @property
    def size(self) -> int:
        return math.prod(self._view.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def chunks(self) -> tuple:
        """Chunk shape: the source's chunks as seen through this view."""
        v, sc = self._view, self._src.chunks
        out = []
        for sd, n in zip(v.axes, v.shape):
            if sd < 0:
                out.append(min(n, 1))
            else:
                c = -(-sc[sd] // abs(v.step[sd]))
                out.append(min(n, c))
        return tuple(out)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __repr__(self) -> str:
        where = self._src.kind
        if self._origin is not None:
            where = f"hdf5 {self._origin[0]!r}:{self._origin[1]}"
            if not self._view.is_whole(self._src.shape):
                where += " (view)"
        return (f"chunkwise.Array<shape={self.shape}, dtype={self.dtype}, "
                f"chunks={self.chunks}, {_fmt_bytes(self.nbytes)}, {where}>")

    # ----------------------------------------------------------- indexing
    def __getitem__(self, key) -> "Array":
        return Array(self._src, index_view(self._view, key), self._origin)

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
        v = self._view
        cfg = get_config()
        _core.read(self._src, v.start, v.step, v.count, out, v.axis_of_source(),
                   cfg["threads"], cfg["memory_limit"], None)
        return out

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
        v = self._view
        cfg = get_config()
        _core.store(self._src, v.start, v.step, v.count, path, name, v.shape,
                    out_chunks, v.axes, codec, blosc_codec, int(level),
                    shuffle in (True, "byte"), shuffle == "bit", bool(overwrite),
                    cfg["threads"], cfg["memory_limit"], None)
        return open(path, name)


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
    return Array(src, origin=(path, full))
