"""The import graph of featref's packages has no cycles (STYLE.md rules 2 and 24a).

Every module's source is parsed with :mod:`ast`; every import counts, including those inside
functions (a function-level import does not make a circle go away, it only hides it). Extend
:data:`PACKAGES` (or call :func:`find_cycles` with another prefix) to check more of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import featref

SRC = Path(featref.__file__).resolve().parent.parent  # the folder that holds featref/

#: Package prefixes whose modules must not import each other in a circle.
PACKAGES: tuple[str, ...] = ("featref.evaluation", "featref.training")


def module_files(prefix: str, root: Path = SRC) -> dict[str, Path]:
    """Every module under the package ``prefix`` (e.g. ``"featref.evaluation"``): name -> file."""
    base = root.joinpath(*prefix.split("."))
    out = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_modules(name: str, path: Path) -> set[str]:
    """The absolute names of the modules that module ``name`` imports, at any depth of its code.

    ``from a.b import c`` counts as importing ``a.b`` and, when ``a.b.c`` is a module,
    ``a.b.c``; relative imports are resolved against ``name``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def cycles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle of ``graph`` found by depth-first search, each as a closed path."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def find_cycles(*prefixes: str, root: Path = SRC) -> list[list[str]]:
    """Every import circle among the modules under the packages ``prefixes`` (taken together)."""
    graph: dict[str, set[str]] = {}
    files = {k: v for prefix in prefixes for k, v in module_files(prefix, root).items()}
    for name, path in files.items():
        graph[name] = {m for m in imported_modules(name, path) if m in files and m != name}
    return cycles_in(graph)


def test_find_cycles_sees_function_level_imports(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (pkg / "c.py").write_text("from . import a\n")
    assert find_cycles("pkg", root=tmp_path) == [["pkg.a", "pkg.b", "pkg.a"]]
    (pkg / "b.py").write_text("import os\n")
    assert find_cycles("pkg", root=tmp_path) == []


@pytest.mark.parametrize("prefix", PACKAGES)
def test_no_import_cycles(prefix):
    assert module_files(prefix), f"no modules found under {prefix}"
    cycles = find_cycles(prefix)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_import_cycles_across_the_packages():
    assert find_cycles(*PACKAGES) == []
