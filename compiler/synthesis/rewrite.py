"""Bugs a model writes: one function reimplemented by a policy, with a subtle mistake in it.

SWE-smith's rewrites give bugs no operator makes (a wrong loop, a missed case), at the price of
a model call each. The policy (any of ``swegc.runtime.policies``: ``openai`` for an endpoint or a
served local model, ``scripted`` in tests) gets the function's source and is asked for the whole
function back, through one tool call (``replace_function``) or, from a model that answers in
text, a fenced Python block. The answer is kept only if it is one function of the same name,
the file still compiles, the syntax tree changed, and nothing outside the function did: the new
function takes the old one's place in the concrete syntax tree, so the rest of the file keeps
its bytes (indentation is the enclosing block's, whatever the model used).
"""

from __future__ import annotations

import ast
import json
import logging
import random
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import libcst as cst

from swegc.compiler.synthesis.bugs import BugCandidate, FunctionTarget
from swegc.compiler.synthesis.diffs import changed_lines, file_diff
from swegc.compiler.synthesis.mutations import is_test_path
from swegc.compiler.synthesis.sources import read_source
from swegc.compiler.synthesis.targets import locate_functions
from swegc.runtime.policies import Policy, PolicyError

log = logging.getLogger(__name__)

SYSTEM = ("You help build a benchmark of realistic software bugs. You rewrite one Python "
          "function so that it looks correct and keeps its name, signature, docstring and "
          "style, but contains one subtle bug that a unit test of its behaviour would catch. "
          "Do not add comments that point at the bug.")
TOOL = {"type": "function", "function": {
    "name": "replace_function",
    "description": "Give the complete rewritten function (its def line and body, with any "
                   "decorators) and one sentence on the bug, for the benchmark's records.",
    "parameters": {"type": "object", "properties": {
        "source": {"type": "string", "description": "the whole function, as Python source"},
        "explanation": {"type": "string", "description": "what the bug is"}},
        "required": ["source"]}}}
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def prompt(target: FunctionTarget, function_source: str) -> list[dict[str, Any]]:
    """The messages asking for a buggy reimplementation of ``target``."""
    user = (f"Here is `{target.qualname}` from `{target.path}`:\n\n```python\n"
            f"{function_source.rstrip()}\n```\n\nRewrite it with one subtle bug and give the "
            "whole function with the replace_function tool.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def policy_rewrite_candidates(root: Path, targets: Sequence[FunctionTarget], policy: Policy, *,
                              seed: int, limit: int,
                              max_calls: int | None = None) -> list[BugCandidate]:
    """Up to ``limit`` rewrites, one policy call per target in a seeded order, at most
    ``max_calls`` calls (default: twice ``limit``). A policy that fails (``PolicyError``) ends
    the run with what was accepted so far."""
    order = [t for t in targets if not is_test_path(t.path)]
    random.Random(seed).shuffle(order)
    calls = max_calls if max_calls is not None else 2 * limit
    model = str(policy.settings().get("model", ""))
    found: list[BugCandidate] = []
    for target in order[:calls]:
        if len(found) >= limit:
            break
        located = _locate(root, target)
        if located is None:
            continue
        module, source, node = located
        messages = prompt(target, module.code_for_node(node).strip("\n"))
        try:
            reply = policy.complete(messages, [TOOL]).message
        except PolicyError as exc:
            log.warning("rewrites stop after %d: %s", len(found), exc)
            break
        answer, explanation = _answer(reply)
        candidate = _accept(target, module, source, node, answer) if answer else None
        if candidate is None:
            log.info("%s:%s: the policy's rewrite was not accepted", target.path, target.qualname)
            continue
        candidate.extra.update({"model": model, "prompt": messages, "explanation": explanation})
        found.append(candidate)
    return found


def _locate(root: Path, target: FunctionTarget) -> tuple[cst.Module, str, cst.FunctionDef] | None:
    try:
        source = read_source(root / target.path)
        module = cst.parse_module(source)
    except (OSError, UnicodeDecodeError, cst.ParserSyntaxError):
        return None
    for located in locate_functions(target.path, module):
        if (located.target.qualname == target.qualname
                and located.target.first_line == target.first_line):
            return module, source, located.node
    return None


def _answer(message: dict[str, Any]) -> tuple[str | None, str]:
    """The function source and explanation from a tool call, else from a fenced block."""
    for tool_call in message.get("tool_calls") or []:
        function = tool_call.get("function") or {}
        if function.get("name") != "replace_function":
            continue
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except json.JSONDecodeError:
            continue
        if isinstance(arguments, dict) and isinstance(arguments.get("source"), str):
            return arguments["source"], str(arguments.get("explanation") or "")
    blocks = _FENCE.findall(message.get("content") or "")
    return (blocks[0], "") if blocks else (None, "")


def _accept(target: FunctionTarget, module: cst.Module, source: str, node: cst.FunctionDef,
            answer: str) -> BugCandidate | None:
    """The candidate, if ``answer`` is one function named like ``node`` that changes it and
    only it; else None."""
    try:
        reply = cst.parse_module(textwrap.dedent(answer).strip("\n") + "\n")
    except cst.ParserSyntaxError:
        return None
    defs = [s for s in reply.body if isinstance(s, cst.FunctionDef)]
    others = [s for s in reply.body if not isinstance(s, cst.FunctionDef)
              and not (isinstance(s, cst.SimpleStatementLine)
                       and all(isinstance(x, (cst.Import, cst.ImportFrom)) for x in s.body))]
    if len(defs) != 1 or others or defs[0].name.value != node.name.value:
        return None  # imports a model repeats are dropped; anything else is refused
    new = defs[0].with_changes(leading_lines=node.leading_lines,
                               decorators=defs[0].decorators or node.decorators)
    mutated = module.deep_replace(node, new)
    assert isinstance(mutated, cst.Module)
    new_source = mutated.code
    try:
        compile(new_source, target.path, "exec", dont_inherit=True)
        if ast.dump(ast.parse(new_source)) == ast.dump(ast.parse(source)):
            return None  # the same code, differently spaced
    except (SyntaxError, ValueError):
        return None
    removed, added = changed_lines(source, new_source)
    end = target.last_line + new_source.count("\n") - source.count("\n")
    if not all(target.first_line <= n <= target.last_line for n in removed) or not all(
            target.first_line <= n <= end for n in added):
        return None
    return BugCandidate(
        strategy="policy", kind="", bug_patch=file_diff(target.path, source, new_source),
        fix_patch=file_diff(target.path, new_source, source), files=(target.path,),
        functions=(f"{target.path}:{target.qualname}",),
        description=f"{target.path}:{target.qualname} rewritten by a policy", extra={})
