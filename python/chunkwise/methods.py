"""ndarray's methods and protocols on Array, set on the class here: copy,
tolist, item, dot, repeat, format, round, divmod, ``in``, ``mT`` and the
Jupyter table (``_repr_html_``).  Each builds on the lazy surface (or
computes what NumPy's method returns as data: ``tolist``, ``item``)."""
from __future__ import annotations

import html
import math
import operator

import numpy as np

from . import _html, views
from ._nodes import Hdf5, Leaf
from .array import Array, _fmt_bytes, wrap

__all__ = []


def _copy(self, order="K"):
    """A new Array of the same values (arrays are read-only: nothing is
    copied until computed)."""
    return wrap(self._node)


def _tolist(self):
    return self.compute().tolist()


def _item(self, *args):
    """A Python scalar: of a size-1 array, or the element at a flat index
    or an index tuple (only that element is read)."""
    if not args:
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.compute().reshape(()).item()
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    if len(args) == 1:
        i = operator.index(args[0])
        if not -self.size <= i < self.size:
            raise IndexError("index out of bounds")
        args = np.unravel_index(i % self.size, self.shape)
    elif len(args) != self.ndim:
        raise ValueError("incorrect number of indices for array")
    return self[tuple(int(a) for a in args)].compute().item()


def _dot(self, b, out=None):
    return np.dot(self, b) if out is None else np.dot(self, b, out=out)


def _repeat(self, repeats, axis=None):
    return np.repeat(self, repeats, axis=axis)


def _format(self, spec):
    if self.ndim == 0:
        return format(self.compute()[()], spec)
    return object.__format__(self, spec)


def _round_(self, ndigits=None):
    """round(x) of a 0-d array rounds its scalar, as round(np.float64)."""
    if self.ndim != 0:
        raise TypeError("round() of a chunkwise Array needs a 0-d array; "
                        "use np.round(x, decimals) for arrays")
    v = self.compute()[()]
    return round(v) if ndigits is None else round(v, ndigits)


def _divmod(self, other):
    return np.divmod(self, other)


def _rdivmod(self, other):
    return np.divmod(other, self)


def _contains(self, value):
    return bool((self == value).any())


def _mT(self):
    return wrap(views.matrix_transpose(self._node))


def _repr_html(self):
    node = self._node
    source = "lazy expression"
    if isinstance(node, Leaf):
        source = node.spec.kind
        if isinstance(node.spec, Hdf5):
            source = f"hdf5 {node.spec.path}:{node.spec.dataset}"
    chunks = self.chunksize
    nchunks = math.prod(-(-n // max(c, 1)) for n, c in zip(self.shape, chunks or ()))
    rows = [("Shape", self.shape), ("Dtype", self.dtype), ("Chunks", chunks),
            ("Number of chunks", nchunks), ("Bytes", _fmt_bytes(self.nbytes)),
            ("Source", source)]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in rows)
    return (f"<table><tr><td><table>{body}</table></td>"
            f"<td>{_html.chunk_svg(self.shape, chunks)}</td></tr></table>")


for _name, _f in [("copy", _copy), ("tolist", _tolist), ("item", _item), ("dot", _dot),
                  ("repeat", _repeat), ("__format__", _format), ("__round__", _round_),
                  ("__divmod__", _divmod), ("__rdivmod__", _rdivmod),
                  ("__contains__", _contains), ("_repr_html_", _repr_html)]:
    setattr(Array, _name, _f)
Array.mT = property(_mT)
del _name, _f
