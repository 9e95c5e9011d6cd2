"""Procedural bugs: one small change inside a function the tests cover, made on the syntax tree.

SWE-smith's procedural mutations need no model call and validate at a high rate when they hit
covered code. Here each mutant replaces one node of the file's concrete syntax tree (libcst,
``operators.py``), so the rest of the file keeps its bytes and the diff is the line or two a
person would have changed. A mutant is kept when it compiles, differs from the original in its
syntax tree (not only in spacing or parentheses) and its diff was not made already.

Choice is spread so that a small ``limit`` still gives variety: the operators take turns, and
each operator takes its turn over the targets in a seeded order, one site of each target per
round. The same seed, targets and files give the same candidates.
"""

from __future__ import annotations

import ast
import fnmatch
import logging
import random
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

import libcst as cst

from swegc.compiler.synthesis.bugs import BugCandidate, FunctionTarget
from swegc.compiler.synthesis.diffs import changed_lines, file_diff
from swegc.compiler.synthesis.operators import KINDS, Site, sites_in
from swegc.compiler.synthesis.targets import LocatedFunction, locate_functions

log = logging.getLogger(__name__)

TEST_FILE_NAMES = ("test_*.py", "*_test.py", "conftest.py")
TEST_FOLDERS = frozenset({"test", "tests", "testing"})


def is_test_path(path: str) -> bool:
    """Whether ``path`` looks like test code, which a bug must never be made in: the tests are
    what judge it. The targets given are meant to be source functions; this guards anyway."""
    parts = PurePosixPath(path).parts
    return (any(fnmatch.fnmatch(parts[-1], pattern) for pattern in TEST_FILE_NAMES)
            or any(part in TEST_FOLDERS for part in parts[:-1]))


def mutation_candidates(root: Path, targets: Sequence[FunctionTarget], *, seed: int, limit: int,
                        kinds: Sequence[str] | None = None) -> list[BugCandidate]:
    """Up to ``limit`` mutants of the ``targets`` (functions of files under ``root``).

    ``kinds`` picks operators by name (default: all of ``operators.KINDS``, in that order); an
    unknown name is a ValueError that lists the known ones.
    """
    chosen = tuple(KINDS if kinds is None else kinds)
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown mutation kind(s) {', '.join(unknown)}; the kinds are "
                         f"{', '.join(KINDS)}")
    rng = random.Random(seed)
    files = _SourceFiles(root)
    located = [(target, node) for target in targets if not is_test_path(target.path)
               for node in [files.function(target)] if node is not None]
    rng.shuffle(located)
    per_kind: dict[str, list[list[tuple[FunctionTarget, Site]]]] = {k: [] for k in chosen}
    for target, function in located:
        sites = sites_in(function.node, frozenset(chosen))
        rng.shuffle(sites)
        for kind in chosen:
            mine = [(target, site) for site in sites if site.kind == kind]
            if mine:
                per_kind[kind].append(mine)
    candidates: list[BugCandidate] = []
    seen: set[str] = set()
    for target, site in _interleave([_interleave(queues) for queues in per_kind.values()]):
        if len(candidates) >= limit:
            break
        candidate = _mutant(files, target, site)
        if candidate is not None and candidate.bug_patch not in seen:
            seen.add(candidate.bug_patch)
            candidates.append(candidate)
    return candidates


def _interleave(queues: Sequence[Iterator | Sequence]) -> Iterator:  # type: ignore[type-arg]
    """Round robin: the first item of each queue, then the second of each, and so on."""
    iterators = [iter(q) for q in queues]
    while iterators:
        alive = []
        for it in iterators:
            try:
                yield next(it)
            except StopIteration:
                continue
            alive.append(it)
        iterators = alive


def _mutant(files: _SourceFiles, target: FunctionTarget, site: Site) -> BugCandidate | None:
    """The candidate that ``site`` makes, or None when it does not compile or changes nothing."""
    module, source = files.module(target.path)
    mutated = module.deep_replace(site.old, site.new)
    assert isinstance(mutated, cst.Module)
    new_source = mutated.code
    if new_source == source:
        return None
    try:
        compile(new_source, target.path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        log.debug("%s:%s: %s does not compile", target.path, target.qualname, site.what)
        return None
    if ast.dump(ast.parse(new_source)) == files.tree_dump(target.path):
        return None  # only spacing or parentheses changed: no bug
    removed, added = changed_lines(source, new_source)
    line = (removed or added or [target.first_line])[0]
    return BugCandidate(
        strategy="mutation", kind=site.kind,
        bug_patch=file_diff(target.path, source, new_source),
        fix_patch=file_diff(target.path, new_source, source),
        files=(target.path,), functions=(f"{target.path}:{target.qualname}",),
        description=f"{target.path}:{line} in {target.qualname}: {site.what}",
        extra={"line": line})


class _SourceFiles:
    """The files under ``root``, each read and parsed once, and their functions located."""

    def __init__(self, root: Path):
        self.root = root
        self._modules: dict[str, tuple[cst.Module, str] | None] = {}
        self._functions: dict[str, list[LocatedFunction]] = {}
        self._dumps: dict[str, str] = {}

    def module(self, path: str) -> tuple[cst.Module, str]:
        entry = self._load(path)
        assert entry is not None
        return entry

    def _load(self, path: str) -> tuple[cst.Module, str] | None:
        if path not in self._modules:
            entry = None
            try:
                source = (self.root / path).read_text(encoding="utf-8")
                entry = (cst.parse_module(source), source)
            except (OSError, UnicodeDecodeError, cst.ParserSyntaxError) as exc:
                log.warning("%s: cannot mutate (%s)", path, exc)
            self._modules[path] = entry
            self._functions[path] = locate_functions(path, entry[0]) if entry else []
        return self._modules[path]

    def function(self, target: FunctionTarget) -> LocatedFunction | None:
        """The target's node: same qualname and first line, else the only one of its qualname."""
        if self._load(target.path) is None:
            return None
        same = [f for f in self._functions[target.path] if f.target.qualname == target.qualname]
        exact = [f for f in same if f.target.first_line == target.first_line]
        if exact:
            return exact[0]
        if len(same) == 1:
            return same[0]
        log.warning("%s: no function %s at line %d", target.path, target.qualname,
                    target.first_line)
        return None

    def tree_dump(self, path: str) -> str:
        if path not in self._dumps:
            self._dumps[path] = ast.dump(ast.parse(self.module(path)[1]))
        return self._dumps[path]
