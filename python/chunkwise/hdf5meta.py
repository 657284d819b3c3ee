"""HDF5 metadata of an Array: attributes, dimension scales, SWMR refresh.

An Array read from an HDF5 dataset (also after indexing) carries that
dataset's attributes; a derived Array (x + 1, x.sum()) carries none, as
xarray's default.  Dimension scales follow the axes only while the Array
views the whole dataset.  The properties are set on Array here.
"""
from __future__ import annotations

import glob
import importlib.util
import os
from collections.abc import Mapping

from . import _core
from ._compile import open_hdf5
from ._nodes import Hdf5, Leaf
from .array import Array, wrap

__all__ = ["Attributes", "plugin_folders", "register_plugin_folders"]

# Where Linux distributions and HDF5's own installs keep filter plugins.
_SYSTEM_PLUGIN_GLOBS = ("/usr/lib/*/hdf5/serial/plugins", "/usr/lib64/hdf5/plugin",
                        "/usr/lib/hdf5/plugins", "/usr/local/hdf5/lib/plugin")


def plugin_folders():
    """The filter-plugin folders chunkwise adds to HDF5's search path: the
    system's, then hdf5plugin's (found without importing it, which would
    import h5py)."""
    found = [d for g in _SYSTEM_PLUGIN_GLOBS for d in sorted(glob.glob(g))]
    try:
        spec = importlib.util.find_spec("hdf5plugin")
    except (ImportError, ValueError):
        spec = None
    for loc in (spec.submodule_search_locations or []) if spec else []:
        found.append(os.path.join(loc, "plugins"))
    return [d for d in found if os.path.isdir(d)]


def register_plugin_folders():
    """Append plugin_folders() to HDF5's plugin search path (after what
    HDF5_PLUGIN_PATH or HDF5's default gave it), so that which filters open
    does not depend on the environment variable other packages set."""
    for d in plugin_folders():
        _core.plugin_path_add(d)


class Attributes(Mapping):
    """Read-only mapping of an HDF5 object's attributes, read when made, with
    the values h5py's ``attrs[...]`` returns.  Attributes of object
    references (DIMENSION_LIST, REFERENCE_LIST) are left out: see
    ``Array.dims`` and ``Array.coords``.  An attribute of a type chunkwise
    cannot convert is listed, and raises TypeError when read."""

    __slots__ = ("_values", "_errors")

    def __init__(self, path=None, name=None):
        self._values, self._errors = {}, {}
        if path is None:
            return
        for key, value, error, is_ref in _core.read_attrs(path, name):
            if is_ref and key in ("DIMENSION_LIST", "REFERENCE_LIST"):
                continue
            self._values[key] = value
            if error is not None:
                self._errors[key] = error

    def __getitem__(self, key):
        if key in self._errors:
            raise TypeError(f"attribute {key!r} has an unsupported type: "
                            f"{self._errors[key]}")
        return self._values[key]

    def __contains__(self, key):
        return key in self._values

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"<Attributes: {', '.join(self._values) or 'none'}>"


def _hdf5_spec(node):
    return node.spec if isinstance(node, Leaf) and isinstance(node.spec, Hdf5) else None


def _attrs(self) -> Attributes:
    """The HDF5 attributes of the dataset this Array reads (empty for a
    derived Array)."""
    spec = _hdf5_spec(self._node)
    return Attributes() if spec is None else Attributes(spec.path, spec.dataset)


def _scales(self):
    spec = _hdf5_spec(self._node)
    if spec is None or not self._node.view.is_whole(spec.shape):
        return [None] * self.ndim
    scales = _core.dim_scales(spec.path, spec.dataset)
    if scales == [None]:
        # A 1-d dimension scale (a netCDF-4 coordinate variable) is the
        # scale of its own axis.
        attrs = Attributes(spec.path, spec.dataset)
        if attrs.get("CLASS") == b"DIMENSION_SCALE":
            name = attrs.get("NAME", b"")
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            scales = [(spec.dataset, name)]
    return scales


def _scale_label(path, name):
    # netCDF-4 names a dimension without a coordinate variable by its scale
    # dataset and writes a NAME starting with this sentence.
    if not name or name.startswith("This is a netCDF dimension but not a netCDF variable"):
        return path.rsplit("/", 1)[-1]
    return name


def _dims(self) -> tuple:
    """Dimension name per axis from the dimension scales attached to the
    dataset (DIMENSION_LIST -> the scale's NAME, as netCDF-4 and h5py's
    ``dims[i].attach_scale`` write them), None for an axis without one."""
    return tuple(None if s is None else _scale_label(*s) for s in _scales(self))


def _coords(self) -> dict:
    """Mapping dimension name -> lazy Array of its scale dataset, for the
    axes with a scale that is a variable (netCDF-4's bare dimensions, which
    hold no data, are left out)."""
    spec = self._node.spec if _hdf5_spec(self._node) else None
    out = {}
    for s in _scales(self):
        if s is None or s[1].startswith("This is a netCDF dimension but not"):
            continue
        out[_scale_label(*s)] = wrap(open_hdf5(spec.path, s[0]))
    return out


def _refresh(self) -> "Array":
    """A new Array over the current extent of the dataset this Array reads
    whole (as h5py's ``Dataset.refresh()``, for files opened with
    ``swmr=True``; Arrays are immutable, so this one keeps its shape)."""
    spec = _hdf5_spec(self._node)
    if spec is None or not self._node.view.is_whole(spec.shape):
        raise TypeError("refresh() needs an Array opened whole from an HDF5 dataset")
    return wrap(open_hdf5(spec.path, spec.dataset, spec.swmr))


Array.refresh = _refresh
Array.attrs = property(_attrs)
Array.dims = property(_dims)
Array.coords = property(_coords)
