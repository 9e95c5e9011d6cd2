"""Unified diffs of one file's text, as ``git diff`` writes them and ``git apply`` takes them.

The generators change a file in memory; the candidate carries the change as a diff that the
validation applies in a container. ``difflib`` makes the hunks; this adds what git needs and
difflib leaves out: the ``diff --git`` header and the ``\\ No newline at end of file`` marker.
The fix is the same function with the sides swapped, so it is the exact reverse of the bug.
"""

from __future__ import annotations

import difflib

NO_NEWLINE = "\\ No newline at end of file\n"


def file_diff(path: str, before: str, after: str, context: int = 3) -> str:
    """The diff that turns ``before`` into ``after`` (the file ``path``); "" when equal."""
    if before == after:
        return ""
    lines = difflib.unified_diff(before.splitlines(keepends=True),
                                 after.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}", n=context)
    out = [f"diff --git a/{path} b/{path}\n"]
    for line in lines:
        out.append(line)
        if not line.endswith("\n"):  # the last line of a file that ends without a newline
            out.append("\n" + NO_NEWLINE)
    return "".join(out)


def changed_lines(before: str, after: str) -> tuple[list[int], list[int]]:
    """The 1-based line numbers removed from ``before`` and added in ``after``."""
    removed: list[int] = []
    added: list[int] = []
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(),
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed.extend(range(i1 + 1, i2 + 1))
            added.extend(range(j1 + 1, j2 + 1))
    return removed, added
