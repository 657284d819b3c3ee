"""Command line: ``chunkwise info FILE`` and ``chunkwise demo``."""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

from . import _core

__all__ = ["main"]


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def cmd_info(args) -> int:
    for path in args.files:
        try:
            items = _core.list_datasets(path)
        except OSError as e:
            print(f"chunkwise info: {e}", file=sys.stderr)
            return 1
        print(f"{path}: {len(items)} dataset{'s' if len(items) != 1 else ''}")
        for it in items:
            shape = "x".join(map(str, it["shape"])) or "scalar"
            chunks = ("x".join(map(str, it["chunks"])) if it["chunks"]
                      else it["layout"])
            ratio = (f"{it['nbytes'] / it['storage_size']:.2f}x"
                     if it["storage_size"] else "-")
            flag = "" if it["supported"] else "  (unsupported)"
            print(f"  {it['name']}  {it['dtype']}  shape {shape}  chunks {chunks}"
                  f"  filters {it['filters'] or 'none'}  stored "
                  f"{_fmt_bytes(it['storage_size'])}  ratio {ratio}{flag}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="chunkwise",
                                description="Parallel out-of-core chunked arrays over HDF5.")
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("info", help="list the datasets of HDF5 files")
    pi.add_argument("files", nargs="+")
    pi.set_defaults(func=cmd_info)
    from . import demo
    demo.add_parser(sub)
    args = p.parse_args(argv)
    return args.func(args)
