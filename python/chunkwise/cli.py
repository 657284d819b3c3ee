"""Command line: ``chunkwise info FILE`` and ``chunkwise eval EXPR``.

(The demo job is a development script: ``./dev demo`` runs bench/demo.py.)
"""
from __future__ import annotations

import argparse
import ast
import operator as op
import resource
import sys
import time

import numpy as np

import chunkwise as cw

from . import _core
from .hdf5meta import _scale_label

__all__ = ["main"]


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def cmd_info(args) -> int:
    """List each file's datasets; a file that cannot be listed is reported
    and the others are still listed (exit status 1 then)."""
    status = 0
    for path in args.files:
        try:
            items = _core.list_datasets(path)
        except OSError as e:
            print(f"chunkwise info: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}: {len(items)} dataset{'s' if len(items) != 1 else ''}")
        for it in items:
            shape = "x".join(map(str, it["shape"])) or "scalar"
            chunks = ("x".join(map(str, it["chunks"])) if it["chunks"]
                      else it["layout"])
            ratio = (f"{it['nbytes'] / it['storage_size']:.2f}x"
                     if it["storage_size"] else "-")
            flag = "" if it["supported"] else "  (unsupported)"
            if it["decode"] == "unavailable":
                flag += "  (filters not decodable in this build)"
            elif it["decode"] == "pipeline":
                flag += "  (decoded by HDF5's filter pipeline)"
            print(f"  {it['name']}  {it['dtype']}  shape {shape}  chunks {chunks}"
                  f"  filters {it['filters'] or 'none'}  stored "
                  f"{_fmt_bytes(it['storage_size'])}  ratio {ratio}{flag}")
            if args.attrs:
                _print_attrs(path, it["name"])
    return status


def _fmt_value(v) -> str:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "backslashreplace")
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, np.ndarray):
        return np.array2string(v, threshold=8, separator=", ").replace("\n", "")
    return str(v)


def _print_attrs(path, name):
    """The dimension names and attributes of one dataset, one a line."""
    dims = [None if d is None else _scale_label(*d) for d in _core.dim_scales(path, name)]
    if any(d is not None for d in dims):
        print(f"    dims ({', '.join(str(d) for d in dims)})")
    for key, value, error, is_ref in _core.read_attrs(path, name):
        if is_ref and key in ("DIMENSION_LIST", "REFERENCE_LIST"):
            continue
        text = f"<unsupported: {error}>" if error is not None else _fmt_value(value)
        print(f"      {key} = {text}")


# Names an expression may call: NumPy ufuncs, which chunkwise evaluates lazily.
_FUNCS = {name: getattr(np, name) for name in (
    "sqrt cbrt square exp exp2 expm1 log log2 log10 log1p sin cos tan arcsin "
    "arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh hypot floor "
    "ceil trunc rint sign abs absolute negative maximum minimum fmax fmin "
    "isnan isinf isfinite copysign power reciprocal logical_and logical_or "
    "logical_not logical_xor").split()}


def _evaluate(expr: str, names: dict):
    """Evaluate an arithmetic expression over named arrays, without eval():
    only numbers, names, arithmetic, comparisons and the ufuncs above."""
    binops = {ast.Add: op.add, ast.Sub: op.sub, ast.Mult: op.mul,
              ast.Div: op.truediv, ast.FloorDiv: op.floordiv, ast.Mod: op.mod,
              ast.Pow: op.pow, ast.BitAnd: op.and_, ast.BitOr: op.or_,
              ast.BitXor: op.xor}
    unops = {ast.USub: op.neg, ast.UAdd: op.pos, ast.Invert: op.invert}
    cmps = {ast.Lt: op.lt, ast.LtE: op.le, ast.Gt: op.gt, ast.GtE: op.ge,
            ast.Eq: op.eq, ast.NotEq: op.ne}

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and type(n.value) in (int, float, bool):
            return n.value
        if isinstance(n, ast.Name):
            if n.id not in names:
                raise ValueError(f"unknown name {n.id!r} (inputs: {', '.join(names)})")
            return names[n.id]
        if isinstance(n, ast.BinOp) and type(n.op) in binops:
            return binops[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.UnaryOp) and type(n.op) in unops:
            return unops[type(n.op)](ev(n.operand))
        if (isinstance(n, ast.Compare) and len(n.ops) == 1
                and type(n.ops[0]) in cmps):
            return cmps[type(n.ops[0])](ev(n.left), ev(n.comparators[0]))
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id in _FUNCS and not n.keywords):
            return _FUNCS[n.func.id](*[ev(a) for a in n.args])
        raise ValueError(f"unsupported syntax in expression: {ast.unparse(n)!r}")

    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"invalid expression {expr!r}: {e.msg}") from None
    return ev(tree)


def _file_and_name(spec: str, what: str):
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise ValueError(f"{what} {spec!r}: expected FILE:/DATASET")
    return path, name


def cmd_eval(args) -> int:
    try:
        names = {}
        for spec in args.input:
            key, sep, src = spec.partition("=")
            if not sep or not key.isidentifier():
                raise ValueError(f"input {spec!r}: expected NAME=FILE:/DATASET")
            names[key] = cw.open(*_file_and_name(src, "input"))
        result = _evaluate(args.expression, names)
        if not isinstance(result, cw.Array):
            raise ValueError("the expression uses no input")
        path, name = _file_and_name(args.output, "output")
        settings = {}
        if args.threads:
            settings["threads"] = args.threads
        if args.memory_limit:
            settings["memory_limit"] = args.memory_limit
        compression = None if args.compression == "none" else args.compression
        t0 = time.perf_counter()
        with cw.config(**settings):
            out = result.to_hdf5(path, name, compression=compression,
                                 level=args.level, overwrite=args.overwrite)
        t = time.perf_counter() - t0
    except (ValueError, TypeError, KeyError, OSError, MemoryError) as e:
        print(f"chunkwise eval: {e}", file=sys.stderr)
        return 1
    print(f"{args.output}: {out.shape} {out.dtype}, {t:.2f} s, "
          f"{sum(a.nbytes for a in names.values()) / 1e9 / max(t, 1e-9):.2f} GB/s "
          f"of input, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


def cmd_demo(args) -> int:
    print("chunkwise demo: the demo is a development script (it writes its dataset "
          "with h5py and hdf5plugin); in a source checkout run ./dev demo "
          "(python bench/demo.py)", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="chunkwise",
                                description="Parallel out-of-core chunked arrays over HDF5.")
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("info", help="list the datasets of HDF5 files")
    pi.add_argument("files", nargs="+")
    pi.add_argument("--attrs", action="store_true",
                    help="also show each dataset's dimensions and attributes")
    pi.set_defaults(func=cmd_info)
    pe = sub.add_parser(
        "eval", help="evaluate an expression over HDF5 datasets out of core",
        description="Evaluate EXPRESSION (NumPy syntax: arithmetic, comparisons, "
                    "ufuncs such as sqrt, exp, maximum) over the inputs and stream "
                    "the result into a new HDF5 dataset, within memory_limit.")
    pe.add_argument("expression")
    pe.add_argument("-i", "--input", action="append", default=[], metavar="NAME=FILE:/DSET",
                    help="an input dataset, named for the expression (repeatable)")
    pe.add_argument("-o", "--output", required=True, metavar="FILE:/DSET")
    pe.add_argument("--compression", default="blosc-lz4",
                    help="blosc-<codec>, blosc2-<codec>, gzip, zstd, lz4, bzip2, lzf or none "
                         "(default blosc-lz4)")
    pe.add_argument("--level", type=int, default=5)
    pe.add_argument("--overwrite", action="store_true")
    pe.add_argument("--threads", type=int)
    pe.add_argument("--memory-limit", help="e.g. 512MiB")
    pe.set_defaults(func=cmd_eval)
    pd = sub.add_parser("demo", help="moved: run ./dev demo in a source checkout")
    pd.add_argument("rest", nargs=argparse.REMAINDER)
    pd.set_defaults(func=cmd_demo)
    args = p.parse_args(argv)
    return args.func(args)
