import os

import h5py
import hdf5plugin  # noqa: F401  (registers Blosc for h5py)
import pytest

import chunkwise as cw
from ufunc_helpers import CHUNKS, DTYPES, sample_pair


def pytest_report_header(config):
    import chunkwise
    from chunkwise import _core
    return [f"chunkwise from {os.path.dirname(chunkwise.__file__)}, {_core.__file__}",
            f"engine: {_core.version_info()}, default threads {_core.default_threads()}"]


@pytest.fixture(autouse=True)
def _sanitized_extension_in_use():
    """Under tests/sanitize.sh (CHUNKWISE_SANITIZE=1: build-asan) and
    tests/tsan.sh (CHUNKWISE_SANITIZE=<its build folder>) the sanitized
    extension must be the one imported, not the regular build."""
    build = os.environ.get("CHUNKWISE_SANITIZE")
    if build:
        from chunkwise import _core
        assert ("build-asan" if build == "1" else build) in _core.__file__, _core.__file__


# ------------------------------------------------- ufunc tests: threads, inputs
# Most of the thousands of small computations of tests/test_ufunc_*.py run on
# one thread: with libgomp's spinning workers a tiny two-thread computation can
# take ~10 ms while another process keeps the second core busy.  Every matrix
# test still computes its main case on two threads, and the tests marked
# ``parallel`` (ufunc_helpers) run entirely on two.  Those modules request
# ``_one_thread_by_default`` for all their tests in their ``pytestmark``.

@pytest.fixture
def _one_thread_by_default():
    with cw.config(threads=1):
        yield


@pytest.fixture
def _two_threads(_one_thread_by_default):
    with cw.config(threads=2):
        yield


@pytest.fixture(scope="module")
def h5inputs(tmp_path_factory):
    """Every dtype's standard x and y in one HDF5 file (chunked (8, 5),
    some compressed), opened lazily with cw.open on request."""
    path = tmp_path_factory.mktemp("ufunc") / "inputs.h5"
    kinds = (None, "shift", "exponent")
    with h5py.File(path, "w") as f:
        for i, dt in enumerate(DTYPES):
            for kind in kinds:
                x, y = sample_pair(dt, second=kind)
                comp = [{}, {"compression": "gzip", "shuffle": True},
                        dict(hdf5plugin.Blosc(cname="lz4"))][i % 3]
                f.create_dataset(f"{dt}/{kind}/x", data=x, chunks=CHUNKS, **comp)
                f.create_dataset(f"{dt}/{kind}/y", data=y, chunks=(5, 8), **comp)

    def get(dt, kind, which):
        return cw.open(path, f"/{dt}/{kind}/{which}")
    return get

