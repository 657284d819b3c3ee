"""Peak RSS of a script in a fresh subprocess, for the memory-budget tests
(test_memory.py, test_memory_blocks.py, test_selection_memory.py).

The script gets ``rss()``, which resets the process's recorded peak to
what is resident now (Linux: "5" in /proc/self/clear_refs) and returns
that: the baseline, so that the imports' transients do not hide what comes
after; and ``peak()``, the highest resident size since (VmHWM). It prints
one JSON line, returned as a dict.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

PRELUDE = """
import json, sys
import numpy as np
import chunkwise as cw
def _status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key))
def rss():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS:")
def peak():
    return _status("VmHWM:")
cw.config(threads=2, memory_limit=%d)
"""


def run_measured(script: str, limit: int, timeout=900, env=None) -> dict:
    if os.environ.get("CHUNKWISE_SANITIZE"):
        # Under the ASan build (tests/sanitize.sh) its shadow memory and the
        # quarantine of freed blocks are resident too: peak RSS would
        # measure the sanitizer. The same code runs under it in other tests.
        pytest.skip("peak RSS under ASan measures the sanitizer")
    code = PRELUDE % limit + textwrap.dedent(script)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=timeout, env=None if env is None else {**os.environ, **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])
