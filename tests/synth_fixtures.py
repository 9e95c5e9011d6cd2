"""A tiny bug generator for synthesize's tests: the real generators live in
swegc.compiler.synthesis.mutations (another module's job); this one only swaps an operator on
one line of a covered function, so that the pipeline can be tested on its own."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from swegc.compiler.synthesis.bugs import BugCandidate, FunctionTarget

SWAPS = ((" + ", " - "), (" - ", " + "), (" * ", " + "), (" / ", " * "), (" // ", " % "),
         (" % ", " // "), (" == ", " != "), (" < ", " <= "), ("if not ", "if "),
         ("[middle - 1]", "[middle]"))


def unified(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 f"a/{path}", f"b/{path}", n=3)
    return f"diff --git a/{path} b/{path}\n" + "".join(lines)


def swap_candidates(root: Path, targets: Sequence[FunctionTarget], *, seed: int,
                    limit: int) -> list[BugCandidate]:
    """One candidate per (line, swap) in each target's span, in order, at most ``limit``."""
    found: list[BugCandidate] = []
    for target in targets:
        text = (root / target.path).read_text()
        lines = text.splitlines(keepends=True)
        for number in range(target.first_line, target.last_line + 1):
            line = lines[number - 1]
            for old, new in SWAPS:
                if old in line and not line.lstrip().startswith(("#", '"""')):
                    changed = lines[:number - 1] + [line.replace(old, new, 1)] + lines[number:]
                    bugged = "".join(changed)
                    found.append(BugCandidate(
                        "mutation", "swap_operator", unified(target.path, text, bugged),
                        unified(target.path, bugged, text), (target.path,),
                        (f"{target.path}:{target.qualname}",), f"{old.strip()} -> {new.strip()}"))
    return found[:limit]


def swap(ctx) -> list[BugCandidate]:
    """``swap_candidates`` as a synthesize strategy (it gets the source's Context)."""
    return swap_candidates(ctx.root, ctx.targets, seed=ctx.seed, limit=ctx.limit)
