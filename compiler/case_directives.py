"""Test-case names as directives: the cases of data files that a test patch adds or changes.

Some suites keep their tests as cases in data files that one pytest module turns into test
items (mypy: ``[case testFoo]`` blocks in ``test-data/unit/*.test``), and a pull request's
tests are run by name: ``pytest -k "testFoo or testBar"``. A spec says so with
``tests.directives: {cases: REGEX, join, option}``; this module finds the names.

Which cases a patch changes. SWE-Gym's harness takes every ``[case NAME]`` that appears
anywhere in the test patch's text (added, removed and context lines alike), so a case whose
body changed more than three lines below its header is missed, and a deleted case is passed
although nothing is left to run. Here a changed line belongs to the case that holds it:

- an added line, to the case whose header is the nearest at or above it in the post-image (the
  file after the patch): a new case, or an old case with a changed body;
- a removed line, to the case that held it in the pre-image (the file at the base commit), if a
  case of that name is still in the post-image: a deleted or renamed case has nothing to run;
- a blank line, to none: blank lines separate cases, and a new case added at the end of a file
  usually starts with one, which would otherwise name the case above it.

The pre-image is read from the clone at the base commit and the post-image is made from it
with the patch's hunks. When the file cannot be read, or the hunks do not fit it, each hunk is
read alone (its own context lines), which is at least what SWE-Gym sees.
"""

from __future__ import annotations

import bisect
import re
import shlex
from collections.abc import Callable, Sequence

from unidiff import PatchSet
from unidiff.patch import PatchedFile

from swegc.compiler.patches import DEFINES_TESTS, DEV_NULL, file_sections, glob_matcher
from swegc.compiler.spec.model import CASE_NAME_GROUP, CaseDirectives

# The text of a file at the base commit, or None when it cannot be read.
ReadBase = Callable[[str], "str | None"]


def changed_cases(test_patch: str, rule: CaseDirectives, directive_globs: Sequence[str],
                  read_base: ReadBase) -> list[str]:
    """The names of the cases the test patch adds or changes, in the order they appear, each
    once, from the files that match ``directive_globs`` (deleted files have none left)."""
    if not test_patch.strip():
        return []
    pattern = re.compile(rule.cases)
    matcher = glob_matcher(directive_globs)
    names: list[str] = []
    for section in file_sections(test_patch):
        if section.deleted or not matcher.match_file(section.path):
            continue
        patched = PatchSet(section.text)[0]
        if patched.is_binary_file:
            continue
        pre_text = "" if section.source == DEV_NULL else read_base(section.source)
        names += _cases_of_file(patched, pre_text, pattern)
    return list(dict.fromkeys(names))


def case_arguments(rule: CaseDirectives, names: Sequence[str]) -> list[str]:
    """What is appended to the test command for ``names``: the option (if any) and the joined
    names as one argument; nothing when there are no names (the command runs as written)."""
    if not names:
        return []
    return [*([rule.option] if rule.option else []), rule.join.join(names)]


def command_with_cases(command: str, rule: CaseDirectives, names: Sequence[str]) -> str:
    """The test command with the case names appended, each argument quoted for bash."""
    return " ".join([command, *(shlex.quote(a) for a in case_arguments(rule, names))])


def case_warnings(test_patch: str, rule: CaseDirectives, directive_globs: Sequence[str],
                  names: Sequence[str]) -> list[str]:
    """Why some changed tests will not run, said before anything is built: no changed case was
    found (the whole suite then runs), or a changed test file outside ``directive_files`` adds
    cases or test functions."""
    sections = [s for s in file_sections(test_patch) if not s.deleted] if test_patch.strip() else []
    if not sections:
        return []
    pattern = re.compile(rule.cases)
    matcher = glob_matcher(directive_globs)
    warnings = []
    if not names:
        warnings.append(
            f"no changed test case was found (tests.directives.cases {rule.cases!r} in the files "
            f"tests.directive_files ({', '.join(directive_globs)}) matches, of "
            f"{', '.join(s.path for s in sections)}), so the whole test suite runs")
    for section in sections:
        if matcher.match_file(section.path):
            continue
        added = [line[1:] for line in section.text.splitlines() if line.startswith("+")
                 and not line.startswith("+++")]
        if DEFINES_TESTS.search(section.text) or any(pattern.search(a) for a in added):
            warnings.append(f"{section.path} changes tests but is not run: tests.directive_files "
                            f"({', '.join(directive_globs)}) does not match it")
    return warnings


def _cases_of_file(patched: PatchedFile, pre_text: str | None, pattern: re.Pattern[str]) -> list[str]:
    if pre_text is not None:
        pre = [_strip(line) for line in pre_text.split("\n")] if pre_text else []
        if pre and pre[-1] == "" and pre_text.endswith("\n"):
            pre.pop()  # the newline that ends the last line starts no line
        post = _post_image(pre, patched)
        if post is not None:
            return _attribute(_changes(patched), pre, post, pattern)
    names: list[str] = []
    for hunk in patched:  # each hunk alone: its lines renumbered from 1 on both sides
        pre_lines, post_lines, changes = [], [], []
        for line in hunk:
            if line.is_context:
                pre_lines.append(_strip(line.value))
                post_lines.append(_strip(line.value))
            elif line.is_removed:
                changes.append(("-", len(pre_lines)))
                pre_lines.append(_strip(line.value))
            elif line.is_added:
                changes.append(("+", len(post_lines)))
                post_lines.append(_strip(line.value))
        names += _attribute(changes, pre_lines, post_lines, pattern)
    return names


def _changes(patched: PatchedFile) -> list[tuple[str, int]]:
    """Each changed line: ``+`` and its index in the post-image, or ``-`` and its index in the
    pre-image."""
    changes = []
    for hunk in patched:
        for line in hunk:
            if line.is_added:
                changes.append(("+", line.target_line_no - 1))
            elif line.is_removed:
                changes.append(("-", line.source_line_no - 1))
    return changes


def _attribute(changes: list[tuple[str, int]], pre: list[str], post: list[str],
               pattern: re.Pattern[str]) -> list[str]:
    pre_heads, post_heads = _headers(pre, pattern), _headers(post, pattern)
    surviving = {name for _, name in post_heads}
    names = []
    for side, index in changes:
        if not (post if side == "+" else pre)[index].strip():
            continue  # a blank line separates cases: it changes none
        name = _enclosing(post_heads if side == "+" else pre_heads, index)
        if name is not None and (side == "+" or name in surviving):
            names.append(name)
    return names


def _headers(lines: list[str], pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    heads = []
    for index, line in enumerate(lines):
        match = pattern.search(line)
        if match and match.group(CASE_NAME_GROUP):
            heads.append((index, match.group(CASE_NAME_GROUP)))
    return heads


def _enclosing(heads: list[tuple[int, str]], index: int) -> str | None:
    """The name of the nearest header at or above line ``index``, or None (the file's
    preamble, before its first case)."""
    at = bisect.bisect_right([i for i, _ in heads], index)
    return heads[at - 1][1] if at else None


def _post_image(pre: list[str], patched: PatchedFile) -> list[str] | None:
    """The file after the patch, or None when the hunks do not fit ``pre``."""
    post: list[str] = []
    at = 0  # index in pre of the next line not yet copied
    for hunk in patched:
        start = hunk.source_start - 1 if hunk.source_length else hunk.source_start
        if start < at or start > len(pre):
            return None
        post += pre[at:start]
        at = start
        for line in hunk:
            if line.is_context or line.is_removed:
                if at >= len(pre) or pre[at] != _strip(line.value):
                    return None
                at += 1
                if line.is_context:
                    post.append(pre[at - 1])
            elif line.is_added:
                post.append(_strip(line.value))
    return post + pre[at:]


def _strip(text: str) -> str:
    return text.rstrip("\r\n")
