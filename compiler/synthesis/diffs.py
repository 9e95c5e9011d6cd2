"""Unified diffs of one file's text, as ``git diff`` writes them and ``git apply`` takes them.

The generators change a file in memory; the candidate carries the change as a diff that the
validation applies in a container. ``difflib`` matches the lines; this adds what git needs and
difflib leaves out: the ``diff --git`` header and the ``\\ No newline at end of file`` marker.
The fix is the same function with the sides swapped, so it is the exact reverse of the bug.

A mutant changes a line or two of a file that may have thousands, and difflib's matching costs
far more than the mutation; so the lines both sides share at the start and at the end are set
aside first, and only the rest is matched.
"""

from __future__ import annotations

import difflib

NO_NEWLINE = "\\ No newline at end of file\n"
Opcode = tuple[str, int, int, int, int]


def file_diff(path: str, before: str, after: str, context: int = 3) -> str:
    """The diff that turns ``before`` into ``after`` (the file ``path``); "" when equal."""
    if before == after:
        return ""
    a, b = lines_of(before), lines_of(after)
    out = [f"diff --git a/{path} b/{path}\n", f"--- a/{path}\n", f"+++ b/{path}\n"]
    for group in _groups(_opcodes(a, b), context):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [_line(" ", line) for line in a[i1:i2]]
                continue
            out += [_line("-", line) for line in a[i1:i2]]
            out += [_line("+", line) for line in b[j1:j2]]
    return "".join(out)


def changed_lines(before: str, after: str) -> tuple[list[int], list[int]]:
    """The 1-based line numbers removed from ``before`` and added in ``after``."""
    removed: list[int] = []
    added: list[int] = []
    for tag, i1, i2, j1, j2 in _opcodes(lines_of(before), lines_of(after)):
        if tag != "equal":
            removed.extend(range(i1 + 1, i2 + 1))
            added.extend(range(j1 + 1, j2 + 1))
    return removed, added


def lines_of(text: str) -> list[str]:
    """The lines of ``text`` as git counts them, each with its ``\\n``: split at ``\\n`` only
    (``str.splitlines`` also splits at form feeds and other separators, and a diff made of
    those lines would not apply)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """difflib's opcodes for ``a`` -> ``b``, matching only what lies between the shared head
    and tail."""
    head = 0
    limit = min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    matcher = difflib.SequenceMatcher(None, a[head:len(a) - tail], b[head:len(b) - tail],
                                      autojunk=False)
    codes: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    codes += [(tag, i1 + head, i2 + head, j1 + head, j2 + head)
              for tag, i1, i2, j1, j2 in matcher.get_opcodes()]
    if tail:
        codes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return _merged_equal(codes)


def _merged_equal(codes: list[Opcode]) -> list[Opcode]:
    """Adjacent ``equal`` runs joined, as one matcher would have given them."""
    merged: list[Opcode] = []
    for code in codes:
        if code[1] == code[2] and code[3] == code[4]:
            continue
        if merged and merged[-1][0] == "equal" == code[0]:
            last = merged[-1]
            merged[-1] = ("equal", last[1], code[2], last[3], code[4])
        else:
            merged.append(code)
    return merged


def _groups(codes: list[Opcode], n: int) -> list[list[Opcode]]:
    """The hunks: changes with up to ``n`` lines of context (difflib's get_grouped_opcodes)."""
    if not codes:
        codes = [("equal", 0, 1, 0, 1)]
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * n:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _range(start: int, stop: int) -> str:
    """A hunk's range as unified diffs write it (difflib's _format_range_unified)."""
    beginning, length = start + 1, stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1  # an empty range starts at the line before it
    return f"{beginning},{length}"


def _line(mark: str, line: str) -> str:
    """One diff line; the last line of a file without a final newline gets git's marker."""
    return f"{mark}{line}" if line.endswith("\n") else f"{mark}{line}\n{NO_NEWLINE}"
