"""Settings: ``cw.config(threads=..., memory_limit=..., fallback=..., progress=...,
direct_io=...)``.

Called on its own, ``cw.config(...)`` changes the process defaults, which
every thread sees.  Used as a context manager it applies its settings to the
current thread or asyncio task only, and restores them on exit::

    cw.config(threads=2)                      # the process default from now on
    with cw.config(memory_limit="512MiB"):    # only this thread / task, in the block
        ...

Block settings live in a ``contextvars.ContextVar``: two threads each inside
its own block see their own values, an asyncio task sees the block it was
created in but its own blocks do not leak out, and a ``threading.Thread``
started inside a block sees the process defaults.

This is the only module that reads settings: the rest of the package asks
for ``current()``, one plain :class:`Config`.
"""
from __future__ import annotations

import contextvars
import dataclasses
import os
import re
import threading
import weakref

from . import _core

__all__ = ["Config", "config", "current", "get_config", "parse_bytes", "size_text"]

_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6,
    "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}

# The memory budget when none is set: 1 GiB, or a quarter of RAM if less.
# The C engine has a default of its own (engine/budget.c) for C callers;
# Python always passes this value explicitly.
DEFAULT_MEMORY_LIMIT = 2**30


def size_text(n) -> str:
    """``n`` bytes for a message, as the engine writes them
    (engine/budget.c): MiB, or KiB and bytes for small sizes, so that a
    message never reads "needs 0.0 MiB"."""
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB"
    if n >= 10240:
        return f"{n / 1024:.1f} KiB"
    return f"{n:.0f} bytes"


def parse_bytes(value) -> int:
    """Convert ``512MiB``, ``"1.5 GB"`` or an int to a positive byte count."""
    if isinstance(value, bool):
        raise TypeError("memory_limit must be a byte count or a string like '512MiB'")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"invalid memory_limit {value!r}")
        n = int(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", value)
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(
                f"invalid memory_limit {value!r}: expected e.g. '512MiB', '2GB' or bytes")
        n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    else:
        raise TypeError(
            f"memory_limit must be a byte count or a string like '512MiB', not "
            f"{type(value).__name__}")
    if n <= 0:
        raise ValueError(f"memory_limit must be positive, got {value!r}")
    return n


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    """The settings one computation runs with (what the engine is handed)."""
    threads: int               # resolved: never None
    memory_limit: int          # bytes of work in flight
    fallback: str              # "warn" or "error"
    progress: object           # None (on a terminal), True or False
    direct_io: object = "auto"  # "auto", True or False

    @property
    def direct_io_code(self) -> int:
        """The engine's form of ``direct_io``: 0 auto, 1 on, -1 off."""
        return 0 if self.direct_io == "auto" else (1 if self.direct_io else -1)


# The process defaults.
_lock = threading.Lock()
_base = {
    "threads": None,                                                # None: all cores
    "memory_limit": min(DEFAULT_MEMORY_LIMIT, _total_memory() // 4),
    "fallback": "warn",                                             # or "error"
    "progress": None,                                               # None: on a terminal
    "direct_io": "auto",                                            # or True, False
}

# Settings of config objects just made, not yet known to be a call on its
# own or a block: id(object) -> (thread that made it, settings).  Only that
# thread sees them.  They become process defaults when the object is dropped
# without being entered, or when that thread next reads settings (a `with`
# enters before anything else runs); entering the object moves them to the
# block instead.  So a block's settings never reach another thread.
_pending: dict = {}

# The settings of the `with cw.config(...)` blocks this thread or task is in,
# merged (innermost wins); None outside every block.
_block: contextvars.ContextVar = contextvars.ContextVar("chunkwise_config", default=None)


def _promote(key) -> None:
    """The settings of a config object dropped without being entered are
    process defaults now."""
    with _lock:
        item = _pending.pop(key, None)
        if item is not None:
            _base.update(item[1])


def _promote_mine_locked() -> None:
    me = threading.get_ident()
    for key in [k for k, (owner, _) in _pending.items() if owner == me]:
        _base.update(_pending.pop(key)[1])


def _settings() -> dict:
    with _lock:
        _promote_mine_locked()
        s = dict(_base)
    block = _block.get()
    if block:
        s.update(block)
    return s


def current() -> Config:
    """The settings in force here, as one plain :class:`Config`."""
    s = _settings()
    threads = s["threads"] if s["threads"] is not None else _core.default_threads()
    return Config(threads, s["memory_limit"], s["fallback"], s["progress"],
                  s["direct_io"])


def get_config() -> dict:
    """The settings in force: ``threads``, ``memory_limit``, ``fallback``,
    ``progress``, ``direct_io``."""
    s = _settings()
    if s["threads"] is None:
        s["threads"] = _core.default_threads()
    return s


def _check_threads(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"threads must be a positive int or None, not {value!r}")
    if value < 1:
        raise ValueError(f"threads must be at least 1, got {value}")
    return value


class config:
    """Set ``threads`` (int >= 1, or None for all cores), ``memory_limit``
    (bytes, or a string such as ``"512MiB"``): the budget for data in flight
    (decoded chunks, encode buffers), not counting an output ndarray; and
    ``fallback``: ``"warn"`` (NumPy functions without a lazy implementation
    run eagerly with a FallbackWarning) or ``"error"`` (they raise); and
    ``progress``: a bar on stderr for work longer than a second: None (on a
    terminal only, the default), True or False; and ``direct_io``: how
    stored HDF5 chunks are read: ``"auto"`` (the default: with O_DIRECT,
    bypassing the page cache, for scans of datasets larger than half of
    the available memory, once a run has read 256 MiB of one, for chunks
    not already cached), True (always with O_DIRECT where the file system
    allows it) or False (always through the page cache).

    On its own the call changes the process defaults; as a ``with`` block
    it changes the settings of the current thread or asyncio task only.
    (A config object kept and never entered applies in its own thread at
    once and everywhere from that thread's next use of chunkwise, or when
    it is dropped.)"""

    __slots__ = ("_new", "_tokens", "__weakref__")
    _UNSET = object()

    def __init__(self, threads=_UNSET, memory_limit=_UNSET, fallback=_UNSET,
                 progress=_UNSET, direct_io=_UNSET):
        new = {}
        if direct_io is not config._UNSET:
            if not (direct_io == "auto" or direct_io is True or direct_io is False):
                raise ValueError(
                    f"direct_io must be 'auto', True or False, not {direct_io!r}")
            new["direct_io"] = direct_io
        if progress is not config._UNSET:
            if progress not in (None, True, False):
                raise ValueError(f"progress must be None, True or False, not {progress!r}")
            new["progress"] = progress
        if fallback is not config._UNSET:
            if fallback not in ("warn", "error"):
                raise ValueError(f"fallback must be 'warn' or 'error', not {fallback!r}")
            new["fallback"] = fallback
        if threads is not config._UNSET:
            new["threads"] = _check_threads(threads)
        if memory_limit is not config._UNSET:
            new["memory_limit"] = parse_bytes(memory_limit)
        self._new = new
        self._tokens = []
        if new:
            with _lock:
                _promote_mine_locked()
                _pending[id(self)] = (threading.get_ident(), new)
            weakref.finalize(self, _promote, id(self))

    def __enter__(self):
        with _lock:
            _pending.pop(id(self), None)
        merged = dict(_block.get() or {})
        merged.update(self._new)
        self._tokens.append(_block.set(merged))
        return self

    def __exit__(self, *exc):
        _block.reset(self._tokens.pop())
        return False

    def __repr__(self):
        s = get_config()
        return (f"chunkwise.config(threads={s['threads']}, "
                f"memory_limit={s['memory_limit']}, fallback={s['fallback']!r}, "
                f"direct_io={s['direct_io']!r})")
