"""Source files for mutation: each read and parsed once, its functions located, and a mutant
rendered and checked at the cost of its function rather than of its file.

Rendering a whole module after replacing one node walks the whole tree, and parsing and
compiling a file of a few thousand lines for each mutant costs more than the mutation: a
quarter of a second a mutant on argparse. So the node is replaced in the function alone, the
function is rendered at its own indentation and swapped into the text, and only the function is
parsed, compared and compiled (about 15 ms a mutant there).
"""

from __future__ import annotations

import ast
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from swegc.compiler.synthesis.bugs import FunctionTarget
from swegc.compiler.synthesis.diffs import lines_of
from swegc.compiler.synthesis.operators import Site
from swegc.compiler.synthesis.targets import LocatedFunction, locate_functions

log = logging.getLogger(__name__)


def read_source(path: Path) -> str:
    """A source file's text exactly as it is on disk: UTF-8, line endings kept (``\\r\\n``
    stays, so that the diff applies to the file in the image)."""
    return path.read_bytes().decode("utf-8")


@dataclass(frozen=True)
class Mutant:
    """A file's text after one mutation."""

    source: str
    function_text: str | None = None  # the function's new text, where it was swapped in


class SourceFiles:
    """The files under ``root``, each read and parsed once, and their functions located."""

    def __init__(self, root: Path):
        self.root = root
        self._modules: dict[str, tuple[cst.Module, str] | None] = {}
        self._functions: dict[str, list[LocatedFunction]] = {}
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

    def mutated(self, function: LocatedFunction, site: Site) -> Mutant:
        """The file with ``site`` applied.

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
            return Mutant(source[:start] + new_text + source[start + len(old_text):], new_text)
        mutated = module.deep_replace(site.old, site.new)
        assert isinstance(mutated, cst.Module)
        return Mutant(mutated.code)

    def refusal(self, function: LocatedFunction, mutant: Mutant) -> str:
        """Why the mutant is no candidate ("" when it is one): it does not compile, or its
        syntax tree is the original's (only spacing or parentheses changed).

        Where the function's text was swapped in, only the function is parsed and compiled
        (a file is parsed once, a mutant costs its function); a nested function is compiled
        in its file, where the names its ``nonlocal`` statements bind are.
        """
        new_source, new_text = mutant.source, mutant.function_text
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
