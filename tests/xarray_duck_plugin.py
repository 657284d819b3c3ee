"""A pytest plugin adding chunkwise to xarray's duck-array test module
(xarray/tests/test_duck_array_wrapping.py, run from the installed xarray).

That module parametrises its test classes over ``NAMESPACES`` and looks each
namespace up in ``NAMESPACE_ARRAYS`` (the array class, the constructor and
the expected failures).  Loading this plugin imports the module first and
adds one namespace, ``tests.xarray_duck_plugin`` (this module), whose
``Array`` is ``chunkwise.Array`` and whose ``chunked`` constructor is
``chunkwise.asarray`` with one chunk per array (as the module's dask
arrays: xarray itself refuses ``apply_ufunc(..., dask="parallelized")`` over
a core dimension split into several chunks), with no expected failures.  pytest then collects the same module object.
"""
import numpy as np
import pytest
from xarray.tests import test_duck_array_wrapping as _duck

import chunkwise as cw

NAME = __name__
Array = cw.Array


def chunked(data):
    data = np.asarray(data)
    return cw.asarray(data, chunks=data.shape)


if NAME not in _duck.NAMESPACE_ARRAYS:
    _duck.NAMESPACE_ARRAYS[NAME] = {
        "attrs": {"array": "Array", "constructor": "chunked"},
        "xfails": {},
    }
    # The classes' parametrize marks hold this list itself.
    _duck.NAMESPACES.append(pytest.param(NAME))
