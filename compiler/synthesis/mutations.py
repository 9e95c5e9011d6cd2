"""Procedural bugs: one small change inside a function the tests cover, made on the syntax tree.

SWE-smith's procedural mutations need no model call and validate at a high rate when they hit
covered code. Here each mutant replaces one node of the file's concrete syntax tree (libcst,
``operators.py``), so the rest of the file keeps its bytes and the diff is the line or two a
person would have changed. A mutant is kept when it compiles, differs from the original in its
syntax tree (not only in spacing or parentheses) and its diff was not made already.

Choice is spread so that a small ``limit`` still gives variety: the operators take turns
(starting at one the seed picks), and each operator takes its turn over the targets in a seeded
order, one site of each target per round. The same seed, targets and files give the same
candidates.
"""

from __future__ import annotations

import fnmatch
import logging
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TypeVar

from swegc.compiler.synthesis.bugs import BugCandidate, FunctionTarget
from swegc.compiler.synthesis.diffs import changed_lines, file_diff
from swegc.compiler.synthesis.operators import KINDS, Site, sites_in
from swegc.compiler.synthesis.sources import SourceFiles
from swegc.compiler.synthesis.targets import LocatedFunction

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
    sites = _Sites(SourceFiles(root), order, frozenset(chosen), seed)
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

    def __init__(self, files: SourceFiles, order: list[FunctionTarget], kinds: frozenset[str],
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


def _mutant(files: SourceFiles, function: LocatedFunction, site: Site) -> BugCandidate | None:
    """The candidate that ``site`` makes, or None when it does not compile or changes nothing."""
    target = function.target
    _, source = files.module(target.path)
    mutant = files.mutated(function, site)
    new_source = mutant.source
    if new_source == source:
        return None
    refused = files.refusal(function, mutant)
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
