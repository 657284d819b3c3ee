"""xarray's own duck-array test module (xarray/tests/test_duck_array_wrapping.py
of the installed xarray) run over chunkwise: tests/xarray_duck_plugin.py adds
chunkwise to the module's namespaces with no expected failures, and every
test must pass for it (the module's own xfail marks, which hold for every
namespace, are left as they are)."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

xr = pytest.importorskip("xarray")

REPO = pathlib.Path(__file__).resolve().parent.parent
MODULE = pathlib.Path(xr.__file__).parent / "tests" / "test_duck_array_wrapping.py"


def test_xarray_duck_array_module_passes_for_chunkwise():
    if not MODULE.exists():
        pytest.skip("the installed xarray has no tests/test_duck_array_wrapping.py")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.xarray_duck_plugin", str(MODULE),
         "-q", "-k", "xarray_duck_plugin", "-p", "no:cacheprovider", "-W", "ignore",
         "-rfEX", "--rootdir", str(MODULE.parent)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    tail = run.stdout[-4000:] + run.stderr[-2000:]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|error|errors|xfailed|xpassed)",
                                               run.stdout.splitlines()[-1])}
    assert run.returncode == 0, tail
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) == 0, tail
    assert counts.get("passed", 0) >= 91, tail
