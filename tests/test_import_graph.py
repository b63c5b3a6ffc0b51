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


# ----------------------------------------------------------------------------- the whole package

#: Layers of ``featref``, lowest first: a module may import its own layer and those below, never
#: one above (STYLE.md rule 2: datasets -> preprocess -> training -> evaluation -> reports, the
#: CLI and the Python API on top, models/config/labels/errors/atomic at the ground).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("featref.models", "featref.config", "featref.labels", "featref.errors", "featref.atomic",
     "featref._ray"),
    ("featref.datasets",),
    ("featref.preprocess",),
    ("featref.training",),
    ("featref.evaluation",),
    ("featref.reports",),
    ("featref.predict", "featref.api", "featref.cli", "featref.__main__"),
)  # fmt: skip


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of ``module`` (``None`` for the package ``featref`` itself)."""
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def package_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the featref modules it imports. An import of one of the module's own parent
    packages is left out: Python runs those ``__init__`` files before the module anyway, so
    ``from featref.models import x`` inside ``featref.models._registry`` is no new edge."""
    files = module_files("featref", root)
    return {
        name: {
            m
            for m in imported_modules(name, path)
            if m in files and m != name and m not in _ancestors(name)
        }
        for name, path in files.items()
    }


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``"a -> b"`` for every import of a module from a higher layer."""
    bad = []
    for name, targets in sorted(graph.items()):
        own = layer_of(name)
        for target in sorted(targets):
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                bad.append(f"{name} -> {target}")
    return bad


def test_every_module_has_a_layer():
    unplaced = [m for m in module_files("featref") if m != "featref" and layer_of(m) is None]
    assert not unplaced, f"modules in no layer of LAYERS: {unplaced}"


def test_no_import_cycles_in_the_whole_package():
    cycles = cycles_in(package_graph())
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


#: Upward imports still to remove, each with its plan (the list may only shrink).
KNOWN_UPWARD: dict[str, str] = {}


def test_every_import_points_down_the_pipeline():
    bad = upward_imports(package_graph())
    new = [b for b in bad if b not in KNOWN_UPWARD]
    assert not new, "imports from a higher layer: " + "; ".join(new)
    stale = sorted(set(KNOWN_UPWARD) - set(bad))
    assert not stale, f"fixed, remove from KNOWN_UPWARD: {stale}"


def test_upward_imports_are_seen(tmp_path):
    pkg = tmp_path / "featref"
    (pkg / "datasets").mkdir(parents=True)
    (pkg / "preprocess").mkdir()
    for f in ("__init__.py", "datasets/__init__.py", "preprocess/__init__.py"):
        (pkg / f).write_text("")
    (pkg / "datasets" / "x.py").write_text("def f():\n    from featref.preprocess import y\n")
    (pkg / "preprocess" / "y.py").write_text("from featref.datasets import x\n")
    graph = package_graph(tmp_path)
    assert upward_imports(graph) == [
        "featref.datasets.x -> featref.preprocess",
        "featref.datasets.x -> featref.preprocess.y",
    ]
    assert cycles_in(graph)


#: Modules of ``featref.cli`` that every verb may import; a verb module imports no other verb.
CLI_SHARED: tuple[str, ...] = ("featref.cli", "featref.cli.options")


def test_no_verb_imports_another_verb():
    graph = package_graph()
    verbs = [m for m in graph if m.startswith("featref.cli.") and m not in CLI_SHARED]
    assert verbs, "no CLI verb modules found"
    bad = [f"{v} -> {t}" for v in verbs for t in sorted(graph[v]) if t in verbs]
    assert not bad, "CLI verbs importing one another (share through cli.options): " + "; ".join(bad)
