"""Process-wide settings: ``cw.config(threads=..., memory_limit=...)``.

``cw.config(...)`` applies its settings at once; used as a context manager it
restores the previous ones on exit::

    cw.config(threads=2)                      # from now on
    with cw.config(memory_limit="512MiB"):    # only inside the block
        ...
"""
from __future__ import annotations

import os
import re
import threading

from . import _core

__all__ = ["config", "get_config", "parse_bytes"]

_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6,
    "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}


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


_lock = threading.Lock()
_settings = {
    "threads": None,                                  # None: all cores
    "memory_limit": min(2**30, _total_memory() // 4),  # bytes of work in flight
    "fallback": "warn",                               # or "error"
    "progress": None,                                 # None: on a terminal
}


def _check_threads(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"threads must be a positive int or None, not {value!r}")
    if value < 1:
        raise ValueError(f"threads must be at least 1, got {value}")
    return value


def get_config() -> dict:
    """The settings in force: ``{'threads': int, 'memory_limit': int}``."""
    with _lock:
        s = dict(_settings)
    if s["threads"] is None:
        s["threads"] = _core.default_threads()
    return s


class config:
    """Set ``threads`` (int >= 1, or None for all cores), ``memory_limit``
    (bytes, or a string such as ``"512MiB"``): the budget for data in flight
    (decoded chunks, encode buffers), not counting an output ndarray; and
    ``fallback``: ``"warn"`` (NumPy functions without a lazy implementation
    run eagerly with a FallbackWarning) or ``"error"`` (they raise); and
    ``progress``: a bar on stderr for work longer than a second: None (on a
    terminal only, the default), True or False."""

    _UNSET = object()

    def __init__(self, threads=_UNSET, memory_limit=_UNSET, fallback=_UNSET,
                 progress=_UNSET):
        new = {}
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
        with _lock:
            self._saved = {k: _settings[k] for k in new}
            _settings.update(new)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with _lock:
            _settings.update(self._saved)
        return False

    def __repr__(self):
        s = get_config()
        return (f"chunkwise.config(threads={s['threads']}, "
                f"memory_limit={s['memory_limit']}, fallback={s['fallback']!r})")


_FP = ((1, "divide", "divide by zero"), (2, "over", "overflow"),
       (4, "under", "underflow"), (8, "invalid", "invalid value"))


def report_fp(what: str) -> None:
    """After an engine run: report the floating-point conditions it raised
    as NumPy does after a ufunc, following numpy.seterr / numpy.errstate
    (RuntimeWarning by default, FloatingPointError under 'raise')."""
    import warnings

    import numpy as np
    flags = _core.fp_flags()
    if not flags:
        return
    if flags & 16:  # an integer to a negative integer power
        raise ValueError("Integers to negative integer powers are not allowed.")
    err = np.geterr()
    for bit, key, text in _FP:
        if not flags & bit:
            continue
        mode = err[key]
        if mode == "ignore":
            continue
        message = f"{text} encountered in {what}"
        if mode == "raise":
            raise FloatingPointError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
