"""Every rejection reason and exit status the code can produce has one description, and every
place that shows them (summary, card, README) takes that description."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from swegc.reasons import (EXIT_STATUSES, REASONS, ExitStatus, Reason, exit_status_meaning,
                           explain, meaning, reasons_markdown)

ROOT = Path(__file__).resolve().parents[1]
# The product's packages; swegc/testing holds stand-ins whose made-up failures are not reasons.
PACKAGES = ("swegc", "compiler", "images", "runtime", "hub", "train")
SKIPPED_FOLDERS = ("swegc/testing",)

# Calls that take a reason: the constructor or function, and where the reason goes.
REASON_ARGUMENT = {"Rejection": 1, "PatchError": 0, "RunProblem": 0, "BuildFailed": 0,
                   "Transient": 0, "reject": 0, "Verdict": 1, "not_validated": 1}
# Functions whose returned value (or the first item of a returned pair) is a reason.
REASON_RETURNING = {"failure_reason", "_cheap_rejection", "_diff_rejection"}


def _strings(node: ast.AST | None) -> set[str]:
    """The string literals an expression can evaluate to (branches of `x if c else y` too)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_strings(v) for v in node.values))
    if isinstance(node, (ast.Tuple, ast.Set, ast.List)):
        return set().union(set(), *(_strings(v) for v in node.elts))
    if isinstance(node, ast.Call) and _name(node.func) == "frozenset" and node.args:
        return _strings(node.args[0])
    return set()


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_reason(node: ast.AST) -> bool:
    return _name(node) == "reason"


def produced_reasons(source: str) -> set[str]:
    """String literals that the code uses as a rejection reason."""
    found: set[str] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            position = REASON_ARGUMENT.get(_name(node.func))
            if position is not None and len(node.args) > position:
                found |= _strings(node.args[position])
            for keyword in node.keywords:
                if keyword.arg == "reason":
                    found |= _strings(keyword.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "reason":
                    found |= _strings(value)
        elif isinstance(node, ast.Assign):
            if any(_is_reason(t) for t in node.targets):
                found |= _strings(node.value)
            if any(_name(t).endswith(("_REASONS", "_FAILURES")) for t in node.targets):
                found |= _strings(node.value)
        elif isinstance(node, ast.Compare) and (_is_reason(node.left)):
            for comparator in node.comparators:
                found |= _strings(comparator)
        elif isinstance(node, ast.FunctionDef) and node.name in REASON_RETURNING:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner.value is not None:
                    value = inner.value
                    found |= _strings(value.elts[0] if isinstance(value, ast.Tuple) else value)
    return found


def _product_sources() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not relative.startswith(SKIPPED_FOLDERS):
                files.append(path)
    return files


def test_the_scan_finds_reasons_in_each_way_the_code_gives_them():
    source = '''
reject("a" if timed_out else "b", detail)
Rejection(iid, "c", "why")
raise Transient(verdict.reason or "d", "")
failure = {"reason": "e", "detail": ""}
if judgement.reason == "f": pass
NOT_REBUILT_REASONS = frozenset({"g", "h"})
def failure_reason(code): return "i"
def _cheap_rejection(f, c): return "j", "detail"
'''
    assert produced_reasons(source) == set("abcdefghij")


def test_every_reason_the_code_can_produce_has_a_description():
    unknown: dict[str, list[str]] = {}
    for path in _product_sources():
        for reason in produced_reasons(path.read_text(encoding="utf-8")):
            if reason not in set(Reason):
                unknown.setdefault(reason, []).append(str(path.relative_to(ROOT)))
    assert not unknown, ("reasons without an entry in swegc.reasons (add a Reason and its "
                         f"Explanation): {unknown}")


def test_every_reason_and_exit_status_has_one_description_and_a_known_status():
    assert set(REASONS) == set(Reason)
    assert set(EXIT_STATUSES) == set(ExitStatus)
    for reason, text in REASONS.items():
        assert text.status in ("rejected", "skipped", "error"), reason
        assert text.meaning and text.action, reason
    assert all(EXIT_STATUSES.values())


def test_a_reason_is_the_string_stored_before_so_old_reports_read_the_same():
    assert Reason.NO_FAIL_TO_PASS == "no_fail_to_pass"
    assert f"{Reason.INSTALL_FAILED}" == "install_failed"
    assert explain("no_fail_to_pass") is REASONS[Reason.NO_FAIL_TO_PASS]
    assert explain("a_reason_from_a_newer_swegc") is None and meaning(None) == ""
    assert exit_status_meaning("stuck") == EXIT_STATUSES[ExitStatus.STUCK]
    assert exit_status_meaning("retired") == ""


def test_the_agent_loop_ends_only_with_exit_statuses_that_have_a_description():
    loop = (ROOT / "runtime" / "agent" / "loop.py").read_text(encoding="utf-8")
    finished = [node for node in ast.walk(ast.parse(loop))
                if isinstance(node, ast.Call) and _name(node.func) == "_Finished"]
    assert finished
    for call in finished:
        argument = call.args[0]
        assert isinstance(argument, ast.Attribute) and _name(argument.value) == "ExitStatus"
        assert argument.attr in ExitStatus.__members__


@pytest.mark.parametrize("reason", [Reason.TIMEOUT, Reason.CLONE_UNREADABLE])
def test_the_readme_table_row_of_a_reason_says_its_meaning(reason: Reason):
    row = next(line for line in reasons_markdown().splitlines() if line.startswith(f"| `{reason}`"))
    assert REASONS[reason].status in row
    assert REASONS[reason].meaning.replace("<", "&lt;").replace(">", "&gt;") in row
