"""The Python package's layout: each module imports only the modules to its
left in the import order, no module imports inside a function without a
comment saying why, only _execute.py starts engine runs, only array.py makes
Arrays, and no file is long."""
import ast
import os
import re

import pytest

import chunkwise

PKG = os.path.dirname(chunkwise.__file__)

# The import rule: a module imports only modules listed before it.
ORDER = ["_dtypes", "indexing", "config", "progress", "_nodes", "_coerce", "_rewrite",
         "ufuncs", "reductions", "functions", "views", "_twoouts", "_html", "_compile", "products", "_plan",
         "_execute", "selection", "complexes", "interop", "cluster", "histograms", "array", "methods",
         "hdf5meta", "creation", "windows", "blocks", "rechunk", "quantiles", "extsort",
         "sorting", "unique", "setops", "special", "neighbours", "einsum", "decompositions",
         "linalg", "linalg_names", "fft", "group", "array_api_ext", "array_api", "__init__",
         "xarray_chunkmanager", "cli", "__main__"]


def _modules():
    return sorted(f[:-3] for f in os.listdir(PKG) if f.endswith(".py"))


def _source(mod):
    with open(os.path.join(PKG, mod + ".py"), encoding="utf-8") as f:
        return f.read()


def _imports(mod):
    """(package module imported, line, at module level) for each import."""
    tree = ast.parse(_source(mod))
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                names = [node.module.split(".")[0]]
            elif node.level == 1:
                names = [a.name for a in node.names]
            elif node.module and node.module.split(".")[0] == "chunkwise":
                names = (node.module.split(".")[1:2] or ["__init__"])
        elif isinstance(node, ast.Import):
            names = ["__init__" for a in node.names if a.name.split(".")[0] == "chunkwise"]
        for n in names:
            out.append((n, node.lineno, id(node) in top))
    return out


def test_every_module_is_in_the_order():
    assert set(_modules()) == set(ORDER)


@pytest.mark.parametrize("mod", ORDER)
def test_module_imports_only_modules_to_its_left(mod):
    allowed = set(ORDER[:ORDER.index(mod)]) | {"_core"}
    bad = [(n, line) for n, line, _ in _imports(mod) if n not in allowed]
    assert not bad, f"{mod}.py imports {bad}, not to its left in {ORDER}"


def test_no_import_cycle():
    graph = {m: {n for n, _, _ in _imports(m) if n in ORDER and n != m} for m in ORDER}
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", f"import cycle: {' -> '.join(path + [m])}"
        state[m] = "open"
        for n in graph[m]:
            visit(n, path + [m])
        state[m] = "done"

    for m in ORDER:
        visit(m, [])


@pytest.mark.parametrize("mod", ORDER)
def test_imports_inside_functions_say_why(mod):
    lines = _source(mod).splitlines()
    tree = ast.parse(_source(mod))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    here, above = lines[sub.lineno - 1], lines[sub.lineno - 2]
                    assert "#" in here or above.strip().startswith("#"), (
                        f"{mod}.py:{sub.lineno}: an import inside {node.name}() "
                        "without a comment saying why")


_RUNS = re.compile(r"_core\.(read|store)\(|(?<!reductions)\.(pass_|argreduce|accumulate_store)\(|"
                   r"\bex\.(read|store|accumulate)\(")


@pytest.mark.parametrize("mod", [m for m in ORDER if m != "_execute"])
def test_only_execute_starts_engine_runs(mod):
    hits = [i for i, line in enumerate(_source(mod).splitlines(), 1) if _RUNS.search(line)]
    assert not hits, f"{mod}.py starts engine runs at lines {hits}"


@pytest.mark.parametrize("mod", [m for m in ORDER if m != "array"])
def test_only_array_makes_arrays(mod):
    hits = [i for i, line in enumerate(_source(mod).splitlines(), 1)
            if re.search(r"(?<![\w.])Array\(", line)]
    assert not hits, f"{mod}.py makes Arrays at lines {hits}"


@pytest.mark.parametrize("mod", ORDER)
def test_no_file_is_long(mod):
    assert len(_source(mod).splitlines()) <= 800


def test_one_list_of_dtypes():
    """The supported dtypes are written once, in _dtypes.py."""
    for mod in ORDER:
        if mod != "_dtypes":
            assert '"u1", "u2", "u4", "u8"' not in _source(mod), mod
