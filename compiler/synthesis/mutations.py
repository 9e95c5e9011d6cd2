"""Procedural bugs: one small change inside a function the tests cover, made on the syntax tree.

SWE-smith's procedural mutations need no model call and validate at a high rate when they hit
covered code. Here each mutant replaces one node of the file's concrete syntax tree (libcst,
``operators.py``), so the rest of the file keeps its bytes and the diff is the line or two a
person would have changed. A mutant is kept when it compiles, differs from the original in its
syntax tree (not only in spacing or parentheses) and its diff was not made already.

Choice is spread so that a small ``limit`` still gives variety: the operators take turns
(starting at one the seed picks), and each operator takes its turn over the targets in a seeded
order, one site of each target per round. The same seed, targets and files give the same candidates.
"""

from __future__ import annotations

import ast
import fnmatch
import logging
import random
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TypeVar

import libcst as cst

from swegc.compiler.synthesis.bugs import BugCandidate, FunctionTarget
from swegc.compiler.synthesis.diffs import changed_lines, file_diff, lines_of
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


def read_source(path: Path) -> str:
    """A source file's text exactly as it is on disk: UTF-8, line endings kept (``\\r\\n``
    stays, so that the diff applies to the file in the image)."""
    return path.read_bytes().decode("utf-8")


def mutation_candidates(root: Path, targets: Sequence[FunctionTarget], *, seed: int, limit: int,
                        kinds: Sequence[str] | None = None) -> list[BugCandidate]:
    """Up to ``limit`` mutants of the ``targets`` (functions of files under ``root``).

    ``kinds`` picks operators by name (default: all of ``operators.KINDS``); an unknown name is
    a ValueError that lists the known ones. Files are read and functions searched for sites
    only as the turns reach them, so a small ``limit`` over a large repository parses few files.
    """
    chosen = tuple(KINDS if kinds is None else kinds)
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown mutation kind(s) {', '.join(unknown)}; the kinds are "
                         f"{', '.join(KINDS)}")
    rng = random.Random(seed)
    start = rng.randrange(len(chosen)) if chosen else 0
    chosen = chosen[start:] + chosen[:start]  # which operator goes first depends on the seed
    order = sorted({t for t in targets if not is_test_path(t.path)},
                   key=lambda t: (t.path, t.first_line, t.qualname))
    rng.shuffle(order)
    sites = _Sites(_SourceFiles(root), order, frozenset(chosen), seed)
    candidates: list[BugCandidate] = []
    seen: set[str] = set()
    for function, site in _interleave([sites.turns(kind) for kind in chosen]):
        if len(candidates) >= limit:
            break
        candidate = _mutant(sites.files, function, site)
        if candidate is not None and candidate.bug_patch not in seen:
            seen.add(candidate.bug_patch)
            candidates.append(candidate)
    return candidates


T = TypeVar("T")


def _interleave(queues: Sequence[Iterable[T]]) -> Iterator[T]:
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


class _Sites:
    """Each target's sites, found when first asked for and shuffled by a seed of their own
    (the seed and the function's name), so that the order does not depend on who asked first."""

    def __init__(self, files: _SourceFiles, order: list[FunctionTarget], kinds: frozenset[str],
                 seed: int):
        self.files, self.order, self.kinds, self.seed = files, order, kinds, seed
        self._found: dict[int, tuple[LocatedFunction | None, dict[str, list[Site]]]] = {}

    def of(self, index: int) -> tuple[LocatedFunction | None, dict[str, list[Site]]]:
        """The target's function and its sites by operator."""
        if index not in self._found:
            target = self.order[index]
            function = self.files.function(target)
            found = sites_in(function.node, self.kinds) if function is not None else []
            random.Random(f"{self.seed}:{target.path}:{target.qualname}:"
                          f"{target.first_line}").shuffle(found)
            by_kind: dict[str, list[Site]] = {}
            for site in found:
                by_kind.setdefault(site.kind, []).append(site)
            self._found[index] = (function, by_kind)
        return self._found[index]

    def turns(self, kind: str) -> Iterator[tuple[LocatedFunction, Site]]:
        """The sites of ``kind``: one of each target per round, the targets in their order."""
        round_ = 0
        while True:
            more = False
            for index in range(len(self.order)):
                function, by_kind = self.of(index)
                mine = by_kind.get(kind, [])
                if function is not None and round_ < len(mine):
                    more = True
                    yield function, mine[round_]
            if not more:
                return
            round_ += 1


def _mutant(files: _SourceFiles, function: LocatedFunction, site: Site) -> BugCandidate | None:
    """The candidate that ``site`` makes, or None when it does not compile or changes nothing."""
    target = function.target
    _, source = files.module(target.path)
    new_source = files.mutated(function, site)
    if new_source == source:
        return None
    refused = files.refusal(function, site, new_source)
    if refused:
        log.debug("%s:%s: %s %s", target.path, target.qualname, site.what, refused)
        return None
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
        self._swapped: dict[tuple[int, int], str] = {}  # the last function text swapped in
        self._dumps: dict[int, str] = {}  # id of a function's node -> its syntax tree, dumped
        self._lines: dict[str, list[str]] = {}
        self._texts: dict[int, str] = {}  # id of a function's node -> its text in the file

    def module(self, path: str) -> tuple[cst.Module, str]:
        entry = self._load(path)
        assert entry is not None
        return entry

    def _load(self, path: str) -> tuple[cst.Module, str] | None:
        if path not in self._modules:
            entry = None
            try:
                source = read_source(self.root / path)
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

    def mutated(self, function: LocatedFunction, site: Site) -> str:
        """The file's source with ``site`` applied.

        Rendering a whole module after replacing one node costs a walk of the whole tree;
        a file of a few thousand lines makes that a quarter of a second per mutant. So the
        node is replaced in the function alone, the function is rendered at its own
        indentation, and its text is swapped into the source. Where the function's text is
        not found exactly once (a file that repeats a function word for word), the module is
        rendered whole.
        """
        module, source = self.module(function.target.path)
        old_text = self._function_text(function)
        start = source.find(old_text)
        if start >= 0 and source.find(old_text, start + 1) < 0:
            changed = function.node.deep_replace(site.old, site.new)
            assert isinstance(changed, cst.FunctionDef)
            new_text = _render(module, changed, self._indent(function))
            self._swapped[(id(function.node), id(site))] = new_text
            return source[:start] + new_text + source[start + len(old_text):]
        mutated = module.deep_replace(site.old, site.new)
        assert isinstance(mutated, cst.Module)
        return mutated.code

    def refusal(self, function: LocatedFunction, site: Site, new_source: str) -> str:
        """Why the mutant is no candidate ("" when it is one): it does not compile, or its
        syntax tree is the original's (only spacing or parentheses changed).

        Where the function's text was swapped in, only the function is parsed and compiled
        (a file is parsed once, a mutant costs its function); a nested function is compiled
        in its file, where the names its ``nonlocal`` statements bind are.
        """
        new_text = self._swapped.pop((id(function.node), id(site)), None)
        path = function.target.path
        indented = bool(self._indent(function))
        try:
            if new_text is None:
                tree = ast.parse(new_source)
                same = ast.dump(tree) == _dump(self.module(path)[1])
            else:
                tree = ast.parse(_wrapped(new_text, indented))
                same = ast.dump(tree) == self._function_dump(function, indented)
            if same:
                return "changes no code"
            whole = new_text is None or "<locals>" in function.target.qualname
            with warnings.catch_warnings():  # a mutant's "is" with a literal is no reason to print
                warnings.simplefilter("ignore")
                compile(ast.parse(new_source) if whole and new_text is not None else tree,
                        path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            return f"does not compile ({exc})"
        return ""

    def _function_dump(self, function: LocatedFunction, indented: bool) -> str:
        key = id(function.node)
        if key not in self._dumps:
            self._dumps[key] = _dump(_wrapped(self._function_text(function), indented))
        return self._dumps[key]

    def _function_text(self, function: LocatedFunction) -> str:
        key = id(function.node)
        if key not in self._texts:
            module, _ = self.module(function.target.path)
            self._texts[key] = _render(module, function.node, self._indent(function))
        return self._texts[key]

    def _indent(self, function: LocatedFunction) -> str:
        """The whitespace before the function's first line (its first decorator or ``def``)."""
        path = function.target.path
        if path not in self._lines:
            self._lines[path] = lines_of(self.module(path)[1])
        line = self._lines[path][function.target.first_line - 1]
        return line[:len(line) - len(line.lstrip())]


def _wrapped(text: str, indented: bool) -> str:
    """A function's text made a module: an indented one under an ``if``."""
    return "if _:\n" + text if indented else text


def _dump(text: str) -> str:
    return ast.dump(ast.parse(text))


def _render(module: cst.Module, function: cst.FunctionDef, indent: str) -> str:
    """The function's source as it stands in the file, at the indentation ``indent``."""
    if not indent:
        return module.code_for_node(function)
    holder = module.with_changes(body=[cst.If(test=cst.Name("_"),
                                              body=cst.IndentedBlock([function], indent=indent))],
                                 header=[], footer=[])
    text = holder.code
    return text[text.index(module.default_newline) + len(module.default_newline):]
