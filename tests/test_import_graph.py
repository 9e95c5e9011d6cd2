"""The package graph: no import cycles, lazy ones included, and imports that point one way.

Every module of the installed packages (pyproject's ``packages``, found through its
``package-dir``) is parsed, not imported, so a test run costs no docker, datasets or torch and
sees imports at any depth: top-level ones, imports inside functions (lazy ones, which hide a
cycle from the interpreter but not from a reader), ``from . import x`` resolved against the
module's package. A failure lists each cycle and each offending import with its file and line.

A module's import of its own package (``from swegc.runtime.sandbox import Sandbox`` in
``runtime/sandbox/docker_shell.py``) is no edge: Python has loaded the package before any of
its modules runs, so that import adds no dependency; a package that names its implementations
in a registry and imports them when asked is not a cycle.

The layers (DESIGN.md, "Layout"): the core (``swegc/*``) imports none of the areas; the
command table in ``swegc/cli.py`` names the areas' command modules as strings, imported only
when a command runs, so it is no edge here. ``swegc.testing`` ships stand-ins for tests and may
use the runtime (a stand-in OpenAI server serves a local model through the transformers
policy), nothing else above the core. runtime/ imports neither image building nor the compiler;
images/ does not import the compiler; train/ and hub/ import neither; nothing but the command
table imports the compiler.
"""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AREAS = ("compiler", "images", "runtime", "train", "hub", "specs", "testing")
# area -> areas it must not import (the core and the CLI module are areas of their own).
FORBIDDEN: dict[str, frozenset[str]] = {
    "core": frozenset({"compiler", "images", "runtime", "train", "hub"}),
    "testing": frozenset({"compiler", "images", "train", "hub"}),
    "runtime": frozenset({"compiler", "images"}),
    "images": frozenset({"compiler"}),
    "train": frozenset({"compiler"}),
    "hub": frozenset({"compiler"}),
}


@dataclass(frozen=True)
class Edge:
    """One import statement of ``source`` that loads ``target``, where it is written."""

    source: str
    target: str
    file: str
    line: int
    lazy: bool  # inside a function: runs when called, not when the module is imported

    def __str__(self) -> str:
        where = " (inside a function)" if self.lazy else ""
        return f"{self.file}:{self.line}: {self.source} imports {self.target}{where}"


def package_folders() -> dict[str, Path]:
    """Each installed package and the folder it is installed from, as pyproject maps them."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = tool["package-dir"]
    folders = {}
    for package in tool["packages"]:
        prefix = max((p for p in mapping if package == p or package.startswith(p + ".")), key=len)
        rest = package[len(prefix):].lstrip(".").replace(".", "/")
        folders[package] = ROOT / mapping[prefix] / rest
    return folders


def module_files() -> dict[str, Path]:
    """Module name -> source file, for every module of every installed package."""
    modules = {}
    for package, folder in package_folders().items():
        for path in sorted(folder.glob("*.py")):
            modules[package if path.name == "__init__.py" else f"{package}.{path.stem}"] = path
    return modules


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement of a module, and whether it sits inside a function."""
    def walk(node: ast.AST, lazy: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, lazy
            yield from walk(child, lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef
                                                                | ast.Lambda))
    yield from walk(tree, False)


def _loaded(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that importing ``name`` loads: itself, or its nearest package."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _is_package_of(target: str, source: str) -> bool:
    """Whether ``target`` is ``source`` itself or a package that holds it."""
    return source == target or source.startswith(target + ".")


def import_edges() -> list[Edge]:
    """Every import between two of our modules, written anywhere in the importing module."""
    modules = module_files()
    edges = []
    for source, path in modules.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node, lazy in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                # `from pkg import name` loads pkg.name when that is a module, else pkg itself.
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                         for alias in node.names]
            for name in names:
                target = _loaded(name, modules)
                if target is not None and not _is_package_of(target, source):
                    edges.append(Edge(source, target, str(path.relative_to(ROOT)), node.lineno, lazy))
    return edges


def area(module: str) -> str:
    """Which layer a module belongs to: one of AREAS, the CLI module, or the core."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in AREAS:
        return parts[1]
    return "cli" if module == "swegc.cli" else "core"


def cycles(edges: list[Edge]) -> list[list[Edge]]:
    """Each distinct cycle that closes through an import: the import, then the shortest way
    back. Every import that lies on a cycle appears in at least one of them."""
    graph: dict[str, dict[str, Edge]] = defaultdict(dict)
    for edge in edges:
        graph[edge.source].setdefault(edge.target, edge)

    def way_back(start: str, goal: str) -> list[Edge] | None:
        came: dict[str, Edge | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == goal:
                path = []
                while came[node] is not None:
                    step = came[node]
                    path.append(step)
                    node = step.source
                return path[::-1]
            for nxt, edge in sorted(graph[node].items()):
                if nxt not in came:
                    came[nxt] = edge
                    queue.append(nxt)
        return None

    found: dict[frozenset[tuple[str, str]], list[Edge]] = {}
    for source in sorted(graph):
        for target, edge in sorted(graph[source].items()):
            back = way_back(target, source)
            if back is not None:
                loop = [edge, *back]
                found.setdefault(frozenset((e.source, e.target) for e in loop), loop)
    return sorted(found.values(), key=lambda loop: (len(loop), loop[0].source))


def _describe(loop: list[Edge]) -> str:
    names = " -> ".join([loop[0].source, *(e.target for e in loop)])
    return "\n".join([f"cycle: {names}", *(f"    {e}" for e in loop)])


def test_the_package_graph_sees_every_installed_module_and_resolves_relative_imports():
    modules = module_files()
    assert {"swegc", "swegc.cli", "swegc.compiler.pipeline", "swegc.runtime.harness.grading",
            "swegc.train.metrics", "swegc.hub.publish", "swegc.images.builder"} <= set(modules)
    edges = {(e.source, e.target) for e in import_edges()}
    # runtime/harness/parsers/__init__.py reaches its siblings with `from . import` or `from .x`.
    assert any(s == "swegc.runtime.harness.parsers" and t.startswith("swegc.runtime.harness.parsers.")
               for s, t in edges)


def test_a_lazy_two_file_cycle_is_reported_with_both_imports():
    edges = [Edge("swegc.a", "swegc.b", "swegc/a.py", 3, False),
             Edge("swegc.b", "swegc.a", "swegc/b.py", 40, True),
             Edge("swegc.b", "swegc.c", "swegc/b.py", 5, False)]
    (loop,) = cycles(edges)
    assert _describe(loop) == (
        "cycle: swegc.a -> swegc.b -> swegc.a\n"
        "    swegc/a.py:3: swegc.a imports swegc.b\n"
        "    swegc/b.py:40: swegc.b imports swegc.a (inside a function)")


def test_no_module_imports_itself_back_through_others_not_even_inside_a_function():
    loops = cycles(import_edges())
    assert not loops, f"{len(loops)} import cycle(s):\n" + "\n".join(map(_describe, loops))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_one_way_between_the_packages(layer):
    wrong = [e for e in import_edges()
             if area(e.source) == layer and area(e.target) in FORBIDDEN[layer]]
    assert not wrong, (f"{layer} must not import {', '.join(sorted(FORBIDDEN[layer]))}:\n"
                       + "\n".join(f"    {e}" for e in wrong))


def test_nothing_but_the_command_table_imports_the_compiler():
    wrong = [e for e in import_edges()
             if area(e.target) == "compiler" and area(e.source) not in ("compiler", "cli")]
    assert not wrong, "only swegc/cli.py's command table may reach the compiler:\n" + "\n".join(
        f"    {e}" for e in wrong)
