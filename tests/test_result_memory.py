"""New results' memory (python/_core/resultmem.c): results are ordinary
NumPy arrays whose large blocks are reused by the next result of about the
same size instead of being faulted in again, and what is kept is bounded by
memory_limit."""
import numpy as np
import pytest

import chunkwise as cw
from chunkwise import _core
from memory_helpers import run_measured

MiB = 1 << 20


def _minflt():
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


@pytest.fixture(autouse=True)
def _empty_pool():
    import gc
    gc.collect()                # arrays of earlier tests freed before the pool is emptied
    _core.release_result_pool()
    yield
    _core.release_result_pool()


def test_values_and_flags_of_a_pooled_result():
    a = np.random.default_rng(1).standard_normal((700, 1100))
    x = cw.asarray(a, chunks=(128, 256))
    r = np.asarray(np.sqrt(x * x + 1))
    np.testing.assert_array_equal(r, np.sqrt(a * a + 1))
    assert r.flags.c_contiguous and r.flags.owndata and r.flags.writeable
    assert r.dtype == np.float64 and r.shape == a.shape
    n0, _, reused0 = _core.result_pool()
    del r
    assert _core.result_pool()[0] == n0 + 1             # kept on free
    r2 = (x + 2).compute()
    assert _core.result_pool()[2] == reused0 + 1        # and reused
    np.testing.assert_array_equal(r2, a + 2)


def test_reused_result_takes_no_page_faults():
    a = np.arange(4 * MiB, dtype=np.float64)            # 32 MiB
    x = cw.asarray(a, chunks=MiB)
    with cw.config(threads=2):
        r = np.asarray(x * 3)
        del r
        f0 = _minflt()
        r = np.asarray(x * 3)
        faults = _minflt() - f0
    np.testing.assert_array_equal(r, a * 3)
    # Fresh 4 KiB pages would be 8192 faults (16 with huge pages).
    assert faults < 200, faults


def test_every_result_path_uses_the_pool():
    a = np.linspace(0, 1, 3 * MiB).reshape(1536, 2048)
    x = cw.asarray(a, chunks=(256, 2048))
    ways = [lambda: np.asarray(x + 1), lambda: (x + 1).compute(),
            lambda: cw.compute(x + 1)[0], lambda: x[:, :].compute()]
    for make in ways:
        r = make()
        del r
    assert _core.result_pool()[2] >= len(ways) - 1
    np.testing.assert_array_equal(cw.compute(x + 1, x * 2)[1], a * 2)


def test_pool_bounded_by_memory_limit():
    a = np.ones(2 * MiB)                                 # 16 MiB results
    x = cw.asarray(a, chunks=MiB)
    with cw.config(memory_limit="8MiB"):
        r = (x + 1).compute()
        del r
    assert _core.result_pool()[:2] == (0, 0)             # over the limit: unmapped
    with cw.config(memory_limit="64MiB"):
        rs = [(x + k).compute() for k in range(6)]
        del rs
    n, kept, _ = _core.result_pool()
    assert 1 <= n <= 4 and kept <= 64 * MiB


def test_other_size_releases_the_pool_first():
    x = cw.asarray(np.ones(2 * MiB), chunks=MiB)
    y = cw.asarray(np.ones(8 * MiB), chunks=MiB)
    r = (x + 1).compute()
    del r
    assert _core.result_pool()[0] == 1
    r = (y + 1).compute()                                # no fit: pool handed back
    assert _core.result_pool()[:2] == (0, 0)
    np.testing.assert_array_equal(r, np.full(8 * MiB, 2.0))


def test_realloc_and_resize_of_a_result():
    r = (cw.asarray(np.arange(MiB, dtype=np.float64), chunks=MiB // 4) + 0).compute()
    r.resize(2 * MiB, refcheck=False)
    np.testing.assert_array_equal(r[:MiB], np.arange(MiB, dtype=np.float64))
    np.testing.assert_array_equal(r[MiB:], 0)
    r.resize(10, refcheck=False)
    np.testing.assert_array_equal(r, np.arange(10.0))


def test_kept_blocks_do_not_raise_peak_rss():
    # Alternating result sizes: without handing the pool back first, the
    # kept 64 MiB block would sit beside each new 128 MiB one.
    res = run_measured("""
        x = cw.asarray(np.ones(8 << 20), chunks=1 << 20)
        y = cw.asarray(np.ones(16 << 20), chunks=1 << 20)
        with cw.config(memory_limit=512 << 20):
            r = (x + 1).compute(); del r
            base = rss()
            for _ in range(3):
                r = (y + 1).compute(); del r
                r = (x + 1).compute(); del r
        print(json.dumps({"base": base, "peak": peak()}))
    """, 256 << 20)
    assert res["peak"] - res["base"] < (128 + 40) * MiB, res
