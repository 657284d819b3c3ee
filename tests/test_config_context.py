"""`with cw.config(...)` is local to its thread or asyncio task; a call on its
own sets the process defaults."""
import asyncio
import threading
import warnings

import numpy as np
import pytest

import chunkwise as cw


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:     # re-raised in the test's thread
            out["error"] = e
    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert not t.is_alive()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_two_threads_each_see_their_own_block():
    before = cw.get_config()
    barrier = threading.Barrier(2, timeout=30)
    seen = {}

    def worker(name, threads, limit):
        with cw.config(threads=threads, memory_limit=limit):
            barrier.wait()            # both blocks are open now
            seen[name, "inside"] = cw.get_config()
            barrier.wait()            # both have looked
            seen[name, "computed"] = int(cw.arange(10).sum())
        barrier.wait()                # both blocks have closed
        seen[name, "after"] = cw.get_config()

    ts = [threading.Thread(target=worker, args=("a", 1, "64MiB")),
          threading.Thread(target=worker, args=("b", 2, 96 * 2**20))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert seen["a", "inside"]["threads"] == 1
    assert seen["a", "inside"]["memory_limit"] == 64 * 2**20
    assert seen["b", "inside"]["threads"] == 2
    assert seen["b", "inside"]["memory_limit"] == 96 * 2**20
    assert seen["a", "computed"] == seen["b", "computed"] == 45
    assert seen["a", "after"] == seen["b", "after"] == before
    assert cw.get_config() == before


def test_a_block_does_not_reach_other_threads():
    before = cw.get_config()
    with cw.config(memory_limit="3MiB", fallback="error"):
        assert cw.get_config()["memory_limit"] == 3 * 2**20
        # A thread started inside the block sees the process defaults.
        assert _in_thread(cw.get_config) == before
    assert cw.get_config() == before


def test_a_thread_runs_with_its_own_settings():
    """A fallback refused in one thread's block still runs in another."""
    a = cw.asarray(np.arange(10.0))
    barrier = threading.Barrier(2, timeout=30)

    def strict():
        with cw.config(fallback="error"):
            barrier.wait()
            with pytest.raises(TypeError, match="fallback='error'"):
                np.unwrap(a)
            barrier.wait()
        return True

    def lenient():
        barrier.wait()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cw.FallbackWarning)
            r = float(np.unwrap(a)[-1])
        barrier.wait()
        return r

    t = threading.Thread(target=lambda: results.append(strict()))
    results = []
    t.start()
    assert lenient() == 9.0
    t.join(30)
    assert results == [True]


def test_a_call_on_its_own_sets_the_process_default():
    before = cw.get_config()
    try:
        cw.config(memory_limit="5MiB")
        assert cw.get_config()["memory_limit"] == 5 * 2**20
        assert _in_thread(cw.get_config)["memory_limit"] == 5 * 2**20
        with cw.config(memory_limit="7MiB"):
            assert cw.get_config()["memory_limit"] == 7 * 2**20
            assert _in_thread(cw.get_config)["memory_limit"] == 5 * 2**20
        assert cw.get_config()["memory_limit"] == 5 * 2**20
    finally:
        cw.config(memory_limit=before["memory_limit"])
    assert cw.get_config() == before


def test_nested_blocks_restore_in_order():
    before = cw.get_config()
    with cw.config(threads=1, memory_limit="8MiB"):
        with cw.config(threads=2):
            assert cw.get_config()["threads"] == 2
            assert cw.get_config()["memory_limit"] == 8 * 2**20
        assert cw.get_config()["threads"] == 1
        c = cw.config(memory_limit="9MiB")
        with c:
            with c:                   # re-entered: restored twice, in order
                assert cw.get_config()["memory_limit"] == 9 * 2**20
            assert cw.get_config()["memory_limit"] == 9 * 2**20
        assert cw.get_config()["memory_limit"] == 8 * 2**20
    assert cw.get_config() == before


def test_asyncio_tasks_each_see_their_own_block():
    before = cw.get_config()

    async def task(limit, mine, other):
        with cw.config(memory_limit=limit):
            mine.set()
            await other.wait()        # both blocks are open now
            got = cw.get_config()["memory_limit"]
            await asyncio.sleep(0)
            return got, cw.get_config()["memory_limit"]

    async def main():
        ea, eb = asyncio.Event(), asyncio.Event()
        inherited = {}
        with cw.config(threads=1):
            async def child():
                inherited["threads"] = cw.get_config()["threads"]
            # A task created inside a block starts with the block's settings.
            await asyncio.create_task(child())
        r = await asyncio.gather(task("10MiB", ea, eb), task("11MiB", eb, ea))
        return r, inherited, cw.get_config()

    r, inherited, after = asyncio.run(main())
    assert r == [(10 * 2**20, 10 * 2**20), (11 * 2**20, 11 * 2**20)]
    assert inherited == {"threads": 1}
    assert after == before
    assert cw.get_config() == before


def test_a_block_reaches_no_other_thread_even_before_it_is_entered():
    before = cw.get_config()
    c = cw.config(memory_limit="13MiB")
    assert _in_thread(cw.get_config) == before       # made, not yet entered
    with c:
        assert cw.get_config()["memory_limit"] == 13 * 2**20
        assert _in_thread(cw.get_config) == before
    assert cw.get_config() == before
    assert _in_thread(cw.get_config) == before
