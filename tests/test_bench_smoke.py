"""bench/bench_all.py --quick runs every in-memory and file workload (W6 at a
tiny size) and writes its JSON, markdown section and charts."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_all_quick(tmp_path):
    pytest.importorskip("matplotlib")
    doc = tmp_path / "bench.md"
    doc.write_text("# B\n\n<!-- bench-all:begin -->\nSTALE-TEXT\n<!-- bench-all:end -->\ntail\n")
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "bench_all.py"), "--quick",
         "--only", "W1,W4,W5", "--scales", "1", "--repeat", "1", "--w6",
         "--w6-shape", "400x300", "--data-dir", str(tmp_path / "d"),
         "--docs", str(doc)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads((tmp_path / "d" / "bench-all.json").read_text())
    got = {(r["workload"], r["reader"]) for r in res["rows"]}
    for want in [("W1", "chunkwise"), ("W1", "numexpr"), ("W1", "blosc2"),
                 ("W4", "h5py"), ("W4", "PyTables"), ("W5", "dask+h5py"),
                 ("W5", "h5py chunk loop"), ("W6", "chunkwise")]:
        assert want in got, want
    assert all(r["sys_s"] >= 0 and r["median_s"] > 0 for r in res["rows"])
    text = doc.read_text()
    assert "STALE-TEXT" not in text and text.endswith("<!-- bench-all:end -->\ntail\n")
    assert "| W4 |" in text
    assert (tmp_path / "img" / "bench-all-W1.png").stat().st_size > 1000
