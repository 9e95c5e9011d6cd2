"""The functions of a source file, named and placed the way Python's code objects name them.

Synthesis maps which tests cover which functions with a tracer that sees code objects, so it
knows a function only as ``(co_filename, co_firstlineno)`` and ``co_qualname``. The targets here
must use the same two keys, or a covered function would never meet its source:

- ``qualname`` is ``co_qualname``: ``f``, ``Class.method``, ``outer.<locals>.inner``,
  ``outer.<locals>.Local.method``, ``Outer.Inner.method``;
- ``first_line`` is ``co_firstlineno``: the line of the *first decorator* when the function is
  decorated (CPython 3.8 and later; checked on 3.11), otherwise the line of ``def`` (``async
  def``: the line of ``async``). So ``FunctionTarget.first_line`` is not always the ``def``
  line: it is what the code object says;
- ``last_line`` is the last line of the function's body.

Lambdas and comprehensions have code objects too, but they are no targets: a mutation is made
in a named function and the diff names it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from swegc.compiler.synthesis.bugs import FunctionTarget


@dataclass(frozen=True)
class LocatedFunction:
    """A target and its node in the parsed module (the very node object, for replacing it)."""

    target: FunctionTarget
    node: cst.FunctionDef


def functions_in(path: str, source: str) -> list[FunctionTarget]:
    """Every function and method of ``source`` (the file at ``path``), in source order.

    A file that does not parse gives no targets: it cannot be mutated and no test imports it.
    """
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return []
    return [located.target for located in locate_functions(path, module)]


def locate_functions(path: str, module: cst.Module) -> list[LocatedFunction]:
    """The functions of a parsed module with their nodes; the module itself is not copied, so
    each node can be replaced in it with ``module.deep_replace``."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    found: list[LocatedFunction] = []
    for qualname, node in _walk(module.body, prefix=""):
        first = node.decorators[0] if node.decorators else node
        target = FunctionTarget(path=path, qualname=qualname,
                                first_line=positions[first].start.line,
                                last_line=positions[node].end.line)
        found.append(LocatedFunction(target, node))
    return found


def _walk(body: object, prefix: str) -> Iterator[tuple[str, cst.FunctionDef]]:
    """(qualname, node) of each function under ``body``, outer ones before the ones inside."""
    for statement in _statements(body):
        if isinstance(statement, cst.FunctionDef):
            qualname = prefix + statement.name.value
            yield qualname, statement
            yield from _walk(statement.body, qualname + ".<locals>.")
        elif isinstance(statement, cst.ClassDef):
            yield from _walk(statement.body, prefix + statement.name.value + ".")
        else:
            # if/for/while/try/with/match blocks: a def inside them keeps the enclosing scope's
            # prefix, as the compiler names it
            for child in statement.children:
                yield from _walk(child, prefix)


def _statements(body: object) -> list[cst.CSTNode]:
    """The statements directly in a module body, an indented block or a compound's clause."""
    if isinstance(body, (list, tuple)):
        return [s for s in body if isinstance(s, cst.BaseCompoundStatement)]
    if isinstance(body, cst.IndentedBlock):
        return [s for s in body.body if isinstance(s, cst.BaseCompoundStatement)]
    if isinstance(body, (cst.BaseSuite, cst.SimpleStatementLine, cst.BaseSmallStatement,
                         cst.BaseExpression)):
        return []  # a one-line suite holds no def
    if isinstance(body, cst.CSTNode):  # else/elif/except/finally/case clauses
        return [s for child in body.children for s in _statements(child)]
    return []


def enclosing(targets: Sequence[FunctionTarget], line: int) -> FunctionTarget | None:
    """The innermost of ``targets`` whose lines hold ``line``, or None (module level)."""
    holding = [t for t in targets if t.first_line <= line <= t.last_line]
    return min(holding, key=lambda t: t.last_line - t.first_line, default=None)
