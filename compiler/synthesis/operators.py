"""The mutation operators: where in a function each one can change the code, and to what.

An operator looks at one function's body in the concrete syntax tree (libcst) and returns
``Site`` values: a node of the tree and the node to put in its place. Nothing is rendered here;
``mutations.py`` replaces one node, renders the module and keeps the mutant if it compiles.
Because the tree is concrete, everything outside the replaced node (comments, spacing, quotes)
keeps its bytes, and the diff is the one or two lines a person would have changed.

Nested functions and classes are left out of the enclosing function's sites: they are targets
of their own (the tracer sees them as separate code objects). Docstrings are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import libcst as cst

KINDS = ("invert_condition", "off_by_one", "swap_operands", "swap_arguments", "drop_statement",
         "drop_branch", "change_return", "change_operator", "remove_call")


@dataclass(frozen=True)
class Site:
    """One possible mutation: replace ``old`` (a node of the module) by ``new``."""

    kind: str
    old: cst.CSTNode
    new: cst.CSTNode
    what: str  # "`a < b` -> `a >= b`", for the candidate's description


_EMPTY = cst.Module(body=[])


def code(node: cst.CSTNode) -> str:
    """The source of one node, on one line (for descriptions)."""
    return " ".join(_EMPTY.code_for_node(node).split())




# -- operator tables --------------------------------------------------------------------------

_NEGATED = {cst.Equal: cst.NotEqual, cst.NotEqual: cst.Equal, cst.LessThan: cst.GreaterThanEqual,
            cst.GreaterThanEqual: cst.LessThan, cst.GreaterThan: cst.LessThanEqual,
            cst.LessThanEqual: cst.GreaterThan, cst.In: cst.NotIn, cst.NotIn: cst.In,
            cst.Is: cst.IsNot, cst.IsNot: cst.Is}
_BOUNDARY = {cst.LessThan: cst.LessThanEqual, cst.LessThanEqual: cst.LessThan,
             cst.GreaterThan: cst.GreaterThanEqual, cst.GreaterThanEqual: cst.GreaterThan}
_OTHER_COMPARISON = {cst.Equal: cst.NotEqual, cst.NotEqual: cst.Equal,
                     cst.LessThan: cst.GreaterThan, cst.GreaterThan: cst.LessThan,
                     cst.LessThanEqual: cst.GreaterThanEqual,
                     cst.GreaterThanEqual: cst.LessThanEqual, cst.In: cst.NotIn,
                     cst.NotIn: cst.In, cst.Is: cst.IsNot, cst.IsNot: cst.Is}
_OTHER_BINARY = {cst.Add: cst.Subtract, cst.Subtract: cst.Add, cst.Multiply: cst.Divide,
                 cst.Divide: cst.Multiply, cst.FloorDivide: cst.Divide,
                 cst.Modulo: cst.FloorDivide, cst.Power: cst.Multiply,
                 cst.LeftShift: cst.RightShift, cst.RightShift: cst.LeftShift,
                 cst.BitAnd: cst.BitOr, cst.BitOr: cst.BitAnd, cst.BitXor: cst.BitOr}
_OTHER_AUGMENTED = {cst.AddAssign: cst.SubtractAssign, cst.SubtractAssign: cst.AddAssign,
                    cst.MultiplyAssign: cst.DivideAssign, cst.DivideAssign: cst.MultiplyAssign,
                    cst.FloorDivideAssign: cst.DivideAssign,
                    cst.ModuloAssign: cst.FloorDivideAssign, cst.PowerAssign: cst.MultiplyAssign,
                    cst.LeftShiftAssign: cst.RightShiftAssign,
                    cst.RightShiftAssign: cst.LeftShiftAssign,
                    cst.BitAndAssign: cst.BitOrAssign, cst.BitOrAssign: cst.BitAndAssign,
                    cst.BitXorAssign: cst.BitOrAssign}
_NON_COMMUTATIVE = (cst.Subtract, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power,
                    cst.LeftShift, cst.RightShift, cst.MatrixMultiply)
# Calls whose first argument is no stand-in for their value: replacing them is a type error
# that fails every test, not a subtle bug.
_KEEP_CALLS = frozenset({"range", "len", "isinstance", "issubclass", "super", "getattr", "setattr",
                         "hasattr", "delattr", "print", "enumerate", "zip", "map", "filter",
                         "iter", "next", "type", "open", "id", "vars", "dir", "callable",
                         "cast", "reversed"})
# Calls whose arguments swapped are a type error at once (``isinstance(str, x)``).
_NO_SWAP = frozenset({"isinstance", "issubclass", "map", "filter", "getattr", "setattr", "hasattr",
                      "delattr", "super", "print", "open", "cast"})
_BELOW_PLUS = (cst.BitAnd, cst.BitOr, cst.BitXor, cst.LeftShift, cst.RightShift)
_ATOMS = (cst.Name, cst.Attribute, cst.Subscript, cst.Call, cst.Integer, cst.Float,
          cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
          cst.List, cst.Tuple, cst.Dict, cst.Set, cst.ListComp, cst.SetComp, cst.DictComp,
          cst.GeneratorExp, cst.Ellipsis)
_STRINGS = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)


def _same_operator(table: dict[type, type], op: cst.CSTNode) -> cst.CSTNode | None:
    """The operator ``table`` maps ``op`` to, with ``op``'s spacing; None if it has none."""
    other = table.get(type(op))
    if other is None:
        return None
    kwargs = {"whitespace_before": op.whitespace_before, "whitespace_after": op.whitespace_after}
    if hasattr(op, "whitespace_between") and hasattr(other, "whitespace_between"):
        kwargs["whitespace_between"] = op.whitespace_between
    return other(**kwargs)


def parenthesized(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``expr`` in parentheses unless it is an atom or has them already."""
    if isinstance(expr, _ATOMS) or expr.lpar:
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def negated(expr: cst.BaseExpression) -> cst.BaseExpression:
    """The condition's opposite, written as a person would: ``a != b`` for ``a == b``,
    ``x`` for ``not x``, else ``not x``."""
    if (isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not)
            and not expr.lpar):
        return expr.expression
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        target = expr.comparisons[0]
        op = _same_operator(_NEGATED, target.operator)
        if op is not None:
            return expr.with_changes(comparisons=[target.with_changes(operator=op)])
    inner = expr
    if isinstance(expr, (cst.BooleanOperation, cst.IfExp, cst.Lambda, cst.NamedExpr)):
        inner = parenthesized(expr)
    return cst.UnaryOperation(operator=cst.Not(), expression=inner)


def shifted(expr: cst.BaseExpression, delta: int) -> cst.BaseExpression:
    """``expr`` plus ``delta`` (+1 or -1), folded into a literal or a ``+ n``/``- n`` tail."""
    value = _int_value(expr)
    if value is not None:
        return _int_node(value + delta)
    if (isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Subtract))
            and not expr.lpar):
        tail = _int_value(expr.right)
        if tail is not None:
            total = (tail if isinstance(expr.operator, cst.Add) else -tail) + delta
            if total == 0:
                return expr.left
            op = cst.Add if total > 0 else cst.Subtract
            return expr.with_changes(operator=op(whitespace_before=expr.operator.whitespace_before,
                                                 whitespace_after=expr.operator.whitespace_after),
                                     right=_int_node(abs(total)))
    left = expr if isinstance(expr, (*_ATOMS, cst.BinaryOperation)) else parenthesized(expr)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, _BELOW_PLUS):
        left = parenthesized(expr)  # ``a & b - 1`` would subtract from b alone
    op = cst.Add() if delta > 0 else cst.Subtract()
    spaced = op.with_changes(whitespace_before=cst.SimpleWhitespace(" "),
                             whitespace_after=cst.SimpleWhitespace(" "))
    return cst.BinaryOperation(left=left, operator=spaced, right=cst.Integer(str(abs(delta))))


def _int_value(expr: cst.BaseExpression) -> int | None:
    """The value of a plain decimal integer literal (``3``, ``-3``), else None."""
    if expr.lpar:
        return None
    if isinstance(expr, cst.Integer) and expr.value.isdigit():
        return int(expr.value)
    if (isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus)
            and isinstance(expr.expression, cst.Integer) and expr.expression.value.isdigit()):
        return -int(expr.expression.value)
    return None


def _int_node(value: int) -> cst.BaseExpression:
    if value < 0:
        return cst.UnaryOperation(operator=cst.Minus(), expression=cst.Integer(str(-value)))
    return cst.Integer(str(value))


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, _STRINGS))


def _is_filler(statement: cst.CSTNode) -> bool:
    """``pass``, ``...``, ``global x``: dropping them changes nothing a test can see."""
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return True
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    return all(isinstance(s, (cst.Pass, cst.Global, cst.Nonlocal))
               or (isinstance(s, cst.Expr) and isinstance(s.value, (cst.Ellipsis, *_STRINGS)))
               for s in statement.body)


def _is_call_statement(statement: cst.CSTNode) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, cst.Call))


# -- the collector ----------------------------------------------------------------------------

class _Collector(cst.CSTVisitor):
    """Walks one function's body (not the functions or classes nested in it) for sites."""

    def __init__(self, kinds: frozenset[str], docstring: cst.CSTNode | None):
        self.kinds = kinds
        self.docstring = docstring
        self.statement_calls: set[int] = set()  # ids of calls that are a whole statement
        self.loose: set[int] = set()  # ids of expressions that any expression may replace
        self.sites: list[Site] = []

    def add(self, kind: str, old: cst.CSTNode, new: cst.CSTNode, what: str | None = None) -> None:
        if kind in self.kinds:
            self.sites.append(Site(kind, old, new, what or f"`{code(old)}` -> `{code(new)}`"))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    # statements

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        for i, statement in enumerate(node.body):
            if statement is self.docstring or _is_filler(statement):
                continue
            rest = [*node.body[:i], *node.body[i + 1:]]
            if not [s for s in rest if s is not self.docstring]:
                rest.append(cst.SimpleStatementLine([cst.Pass()],
                                                    leading_lines=statement.leading_lines))
            kind = "remove_call" if _is_call_statement(statement) else "drop_statement"
            self.add(kind, node, node.with_changes(body=rest),
                     f"removed `{_first_line(statement)}`")

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        if len(node.body) == 1 and not isinstance(node.body[0], (cst.Pass, cst.Global,
                                                                 cst.Nonlocal)):
            kind = ("remove_call" if isinstance(node.body[0], cst.Expr)
                    and isinstance(node.body[0].value, cst.Call) else "drop_statement")
            self.add(kind, node, node.with_changes(body=[cst.Pass()]),
                     f"`{code(node.body[0])}` -> `pass`")

    def visit_If(self, node: cst.If) -> None:
        self.add("invert_condition", node.test, negated(node.test))
        if isinstance(node.orelse, cst.Else):
            self.add("drop_branch", node, node.with_changes(orelse=None),
                     f"removed the else branch of `if {code(node.test)}`")
        elif isinstance(node.orelse, cst.If):
            self.add("drop_branch", node, node.with_changes(orelse=node.orelse.orelse),
                     f"removed the branch `elif {code(node.orelse.test)}`")

    def visit_While(self, node: cst.While) -> None:
        self.add("invert_condition", node.test, negated(node.test))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.add("invert_condition", node.test, negated(node.test))

    def visit_CompIf(self, node: cst.CompIf) -> None:  # [x for x in xs if test]
        self.add("invert_condition", node.test, negated(node.test))

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is None:
            return
        self.loose.add(id(node.value))
        for value in _other_returns(node.value):
            self.add("change_return", node.value, value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        op = _same_operator(_OTHER_AUGMENTED, node.operator)
        if op is not None:
            self.add("change_operator", node, node.with_changes(operator=op))

    # expressions

    def visit_Comparison(self, node: cst.Comparison) -> None:
        for i, target in enumerate(node.comparisons):
            for kind, table in (("off_by_one", _BOUNDARY), ("change_operator", _OTHER_COMPARISON)):
                op = _same_operator(table, target.operator)
                if op is not None:
                    changed = [*node.comparisons]
                    changed[i] = target.with_changes(operator=op)
                    self.add(kind, node, node.with_changes(comparisons=changed))
        if (len(node.comparisons) == 1
                and isinstance(node.comparisons[0].operator, tuple(_BOUNDARY))):
            target = node.comparisons[0]
            if code(node.left) != code(target.comparator):
                swapped = node.with_changes(left=_operand(target.comparator),
                                            comparisons=[target.with_changes(
                                                comparator=_operand(node.left))])
                self.add("swap_operands", node, swapped)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        stringy = isinstance(node.left, _STRINGS) or isinstance(node.right, _STRINGS)
        if not (stringy and isinstance(node.operator, (cst.Add, cst.Modulo))):
            op = _same_operator(_OTHER_BINARY, node.operator)
            if op is not None:
                self.add("change_operator", node, node.with_changes(operator=op))
        if (isinstance(node.operator, _NON_COMMUTATIVE) and not stringy
                and code(node.left) != code(node.right)):
            self.add("swap_operands", node, node.with_changes(left=_operand(node.right),
                                                              right=_operand(node.left)))

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        other = cst.Or if isinstance(node.operator, cst.And) else cst.And
        op = other(whitespace_before=node.operator.whitespace_before,
                   whitespace_after=node.operator.whitespace_after)
        self.add("change_operator", node, node.with_changes(operator=op))

    def visit_Expr(self, node: cst.Expr) -> None:
        self.statement_calls.add(id(node.value))

    def visit_Assign(self, node: cst.Assign) -> None:
        self.loose.add(id(node.value))

    def visit_Arg(self, node: cst.Arg) -> None:
        self.loose.add(id(node.value))

    def visit_Raise(self, node: cst.Raise) -> None:
        if node.exc is not None:
            self.statement_calls.add(id(node.exc))  # an exception's constructor stays

    def visit_Call(self, node: cst.Call) -> None:
        positional = []
        for arg in node.args:
            if arg.keyword is not None or arg.star:
                break
            positional.append(arg)
        name = node.func.value if isinstance(node.func, cst.Name) else None
        for i in range(len(positional) - 1 if name not in _NO_SWAP else 0):
            a, b = positional[i], positional[i + 1]
            if code(a.value) == code(b.value):
                continue
            args = [*node.args]
            args[i], args[i + 1] = a.with_changes(value=b.value), b.with_changes(value=a.value)
            self.add("swap_arguments", node, node.with_changes(args=args))
        if name == "range":
            self._range_bounds(node, positional)
        if id(node) in self.statement_calls:
            return  # a call made for its effect: removing it is the statement's removal
        constructor = name is not None and name[:1].isupper()
        if (positional and name is not None and name not in _KEEP_CALLS and not constructor
                and not isinstance(positional[0].value, (*_STRINGS, cst.Integer, cst.Float))):
            value = positional[0].value
            self.add("remove_call", node, value if id(node) in self.loose else parenthesized(value))
        elif (not node.args and isinstance(node.func, cst.Attribute)
              and not isinstance(node.func.value, cst.Call)):
            self.add("remove_call", node, node.func.value)

    def _range_bounds(self, node: cst.Call, positional: list[cst.Arg]) -> None:
        bounds = [(0, -1)] if len(positional) == 1 else [(0, 1), (1, -1)]
        for index, delta in bounds[:len(positional)]:
            args = [*node.args]
            args[index] = args[index].with_changes(value=shifted(args[index].value, delta))
            self.add("off_by_one", node, node.with_changes(args=args))

    def visit_Slice(self, node: cst.Slice) -> None:
        if node.lower is not None:
            self.add("off_by_one", node, node.with_changes(lower=shifted(node.lower, 1)))
        if node.upper is not None:
            self.add("off_by_one", node, node.with_changes(upper=shifted(node.upper, -1)))

    def visit_Integer(self, node: cst.Integer) -> None:
        value = _int_value(node)
        if value is not None:
            self.add("off_by_one", node, _int_node(value - 1 if value >= 2 else value + 1))


def _first_line(statement: cst.CSTNode) -> str:
    """The statement's first line (a compound statement's header), for descriptions."""
    lines = [line for line in _EMPTY.code_for_node(statement).splitlines()
             if line.strip() and not line.strip().startswith("#")]
    return lines[0].strip() if lines else ""


def _operand(expr: cst.BaseExpression) -> cst.BaseExpression:
    """An operand moved to the other side of an operator keeps its meaning in parentheses."""
    if isinstance(expr, (cst.BinaryOperation, cst.BooleanOperation, cst.Comparison,
                         cst.UnaryOperation, cst.IfExp, cst.Lambda, cst.NamedExpr, cst.Await)):
        return parenthesized(expr)
    return expr


def _other_returns(value: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """Other values a function could return instead of ``value``: wrong but plausible."""
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        yield cst.Name("False" if value.value == "True" else "True")
        return
    if isinstance(value, (cst.Comparison, cst.BooleanOperation)) or (
            isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Not)):
        yield negated(value)
    empty = _empty_like(value)
    if empty is not None:
        yield empty
    elif isinstance(value, (cst.Integer, cst.Float)) or (
            isinstance(value, cst.BinaryOperation) and not isinstance(value.operator, cst.Modulo)
            and not isinstance(value.left, _STRINGS)):
        yield cst.UnaryOperation(operator=cst.Minus(), expression=parenthesized(value))
    if not (isinstance(value, cst.Name) and value.value == "None"):
        yield cst.Name("None")


_EMPTY_OF: dict[type, Callable[[], cst.BaseExpression]] = {
    cst.List: lambda: cst.List([]), cst.ListComp: lambda: cst.List([]),
    cst.Tuple: lambda: cst.Tuple([]), cst.Dict: lambda: cst.Dict([]),
    cst.DictComp: lambda: cst.Dict([]),
    cst.Set: lambda: cst.Call(func=cst.Name("set")),
    cst.SetComp: lambda: cst.Call(func=cst.Name("set")),
    cst.SimpleString: lambda: cst.SimpleString('""'),
    cst.FormattedString: lambda: cst.SimpleString('""'),
}


def _empty_like(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """An empty container or string of ``value``'s kind, unless ``value`` is one already."""
    make = _EMPTY_OF.get(type(value))
    if make is None:
        return None
    empty = make()
    return None if code(empty) == code(value) else empty


def sites_in(function: cst.FunctionDef, kinds: frozenset[str]) -> list[Site]:
    """Every site of the operators ``kinds`` in the body of ``function``, in source order."""
    body = function.body
    docstring = None
    if isinstance(body, cst.IndentedBlock) and body.body and _is_docstring(body.body[0]):
        docstring = body.body[0]
    collector = _Collector(kinds, docstring)
    body.visit(collector)
    return collector.sites
