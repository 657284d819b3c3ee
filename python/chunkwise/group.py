"""Groups of HDF5 files: ``open_group(path, name="/")`` lists what a group
holds (datasets and nested groups) without reading any data.

    g = cw.open_group("data.nc")
    list(g)                  # member names, in name order
    g["temperature"]         # a lazy Array, as cw.open(path, "/temperature")
    g["sub"]                 # a nested Group
    g.attrs                  # the group's attributes
    g.visit()                # every name below, as h5py's visit
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from . import _core
from .hdf5meta import Attributes
from .creation import open as _open

__all__ = ["Group", "open_group"]


def _fspath(path) -> str:
    path = os.fspath(path)
    return os.fsdecode(path) if isinstance(path, bytes) else path


def _join(base: str, name: str) -> str:
    return name if name.startswith("/") else base.rstrip("/") + "/" + name


class Group(Mapping):
    """A read-only view of one HDF5 group: a mapping of member name to a
    lazy ``Array`` (datasets) or a ``Group`` (groups).  Members are listed
    when the Group is made; datasets are opened on access."""

    __slots__ = ("path", "name", "_kinds")

    def __init__(self, path, name="/"):
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        self.path = _fspath(path)
        self.name = name if name.startswith("/") else "/" + name
        self._kinds = dict(_core.list_group(self.path, self.name))

    def __getitem__(self, key):
        if not isinstance(key, str):
            raise TypeError(f"member names are str, not {type(key).__name__}")
        full = _join(self.name, key)
        if "/" in key.strip("/"):
            parent, _, leaf = full.rpartition("/")
            return Group(self.path, parent or "/")[leaf]
        kind = self._kinds.get(key.strip("/"))
        if kind is None:
            raise KeyError(f"no member {key!r} in group {self.name!r} of {self.path!r}")
        if kind == "group":
            return Group(self.path, full)
        if kind == "dataset":
            return _open(self.path, full)
        raise TypeError(f"{full!r} in {self.path!r} is neither a dataset nor a group")

    def __iter__(self):
        return iter(self._kinds)

    def __len__(self):
        return len(self._kinds)

    @property
    def attrs(self) -> Attributes:
        """The group's attributes (see ``Array.attrs``)."""
        return Attributes(self.path, self.name)

    def member_attrs(self, key) -> Attributes:
        """The attributes of member ``key``, also of a dataset that
        ``cw.open`` cannot read (a compound or string table)."""
        if key.strip("/") not in self._kinds and "/" not in key.strip("/"):
            raise KeyError(f"no member {key!r} in group {self.name!r} of {self.path!r}")
        return Attributes(self.path, _join(self.name, key))

    def groups(self) -> list:
        """Names of the nested groups."""
        return [k for k, v in self._kinds.items() if v == "group"]

    def datasets(self) -> list:
        """Names of the datasets of this group."""
        return [k for k, v in self._kinds.items() if v == "dataset"]

    def visit(self) -> list:
        """Every name below this group, relative to it, in the order of
        h5py's ``Group.visit`` (name order, depth first)."""
        out = []
        for key, kind in self._kinds.items():
            out.append(key)
            if kind == "group":
                out.extend(f"{key}/{n}" for n in Group(self.path, _join(self.name, key)).visit())
        return out

    def __repr__(self):
        return f"<chunkwise Group {self.name!r} of {self.path!r}: {len(self)} members>"


def open_group(path, name="/") -> Group:
    """Open group ``name`` (default the root) of HDF5 file ``path``.

    Raises FileNotFoundError (no file), KeyError (no such group), TypeError
    (not a group), OSError (not an HDF5 file).
    """
    return Group(path, name)
