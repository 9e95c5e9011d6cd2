"""Procedural mutations: named as code objects name functions, small diffs, exact fixes."""

from __future__ import annotations

import collections
import subprocess
from pathlib import Path

import pytest
from unidiff import PatchSet

from swegc.compiler.synthesis.mutations import is_test_path, mutation_candidates
from swegc.compiler.synthesis.operators import KINDS
from swegc.compiler.synthesis.targets import functions_in

ROOT = Path(__file__).resolve().parents[1]

SHAPES = '''\
import functools


def plain(a, b):
    return a - b


@functools.lru_cache(
    maxsize=None)
@staticmethod
def decorated(x):
    return x


class Shape:
    sides = 0

    def area(self):
        def helper(v):
            return v * 2
        return helper(self.sides)

    class Inner:
        async def run(self):
            return 1

    if True:
        def under_if(self):
            return 2


def factory():
    class Local:
        def method(self):
            return 3
    return Local
'''

SOURCE = '''\
"""Small functions with every shape a mutation operator looks for."""


def clamp(value, low, high):
    """Keep ``value`` within [low, high]."""
    if value < low:
        return low
    elif value > high:
        return high
    else:
        return value


def total(items):
    result = 0
    for i in range(len(items)):
        result += items[i] * 2
    return result


def window(items, n):
    return items[1:n]


def evens(items):
    return [i for i in items if i % 2 == 0]


def describe(flag, name):
    label = name.strip()
    print(label)
    return flag and label == "x"


def scale(a, b):
    return pow(a, b) - divmod(a, b)[0]
'''

TESTS = '''\
from pkg.core import clamp


def test_clamp():
    assert clamp(5, 0, 3) == 3
'''


def _code_objects(source: str) -> set[tuple[str, int]]:
    """(co_qualname, co_firstlineno) of every function the compiler makes from ``source``."""
    found = set()
    todo = [compile(source, "shapes.py", "exec")]
    while todo:
        code = todo.pop()
        for const in code.co_consts:
            if hasattr(const, "co_qualname"):
                todo.append(const)
                if const.co_flags & 0x2 and not const.co_name.startswith("<"):  # a function
                    found.add((const.co_qualname, const.co_firstlineno))
    return found


def test_targets_are_named_and_placed_as_the_code_objects_say():
    targets = functions_in("pkg/shapes.py", SHAPES)
    assert {(t.qualname, t.first_line) for t in targets} == _code_objects(SHAPES)
    by_name = {t.qualname: t for t in targets}
    # a decorated function starts at its first decorator, as co_firstlineno reports it
    assert SHAPES.splitlines()[by_name["decorated"].first_line - 1].startswith("@functools")
    assert by_name["Shape.area"].last_line == by_name["Shape.area"].first_line + 3
    assert {"Shape.area.<locals>.helper", "Shape.Inner.run", "Shape.under_if",
            "factory.<locals>.Local.method"} <= set(by_name)
    assert all(t.path == "pkg/shapes.py" for t in targets)


def test_a_file_that_does_not_parse_has_no_targets():
    assert functions_in("broken.py", "def f(:\n") == []


@pytest.fixture
def repo(git_builder):
    git_builder.commit("a package and its tests", {"pkg/__init__.py": "",
                                                    "pkg/core.py": SOURCE,
                                                    "tests/test_core.py": TESTS})
    return git_builder


def _targets(root: Path, *paths: str):
    return [t for p in paths for t in functions_in(p, (root / p).read_text())]


def _apply(repo, patch: str, *args: str) -> None:
    subprocess.run(["git", "apply", *args, "-"], cwd=repo.path, input=patch, text=True,
                   check=True, capture_output=True)


def test_every_mutant_compiles_applies_and_its_fix_restores_the_bytes(repo):
    root = repo.path
    original = (root / "pkg/core.py").read_bytes()
    candidates = mutation_candidates(root, _targets(root, "pkg/core.py"), seed=0, limit=500)
    assert len(candidates) > 40
    assert len({c.bug_patch for c in candidates}) == len(candidates)
    for c in candidates:
        _apply(repo, c.bug_patch)
        mutated = (root / "pkg/core.py").read_text()
        compile(mutated, "core.py", "exec")
        assert mutated.encode() != original
        _apply(repo, c.fix_patch)
        assert (root / "pkg/core.py").read_bytes() == original, c.description
        assert c.strategy == "mutation" and c.origin == f"mutation:{c.kind}"
        assert c.files == ("pkg/core.py",) and len(c.functions) == 1


def test_a_mutant_changes_a_line_or_two_inside_its_own_function(repo):
    root = repo.path
    targets = {f"{t.path}:{t.qualname}": t for t in _targets(root, "pkg/core.py")}
    for c in mutation_candidates(root, list(targets.values()), seed=3, limit=500):
        target = targets[c.functions[0]]
        (patched,) = PatchSet(c.bug_patch)
        changed = [line.source_line_no for hunk in patched for line in hunk
                   if line.is_removed]
        assert changed and all(target.first_line <= n <= target.last_line for n in changed)
        if c.kind != "drop_statement" and c.kind != "drop_branch":
            assert patched.added <= 2 and patched.removed <= 2, c.bug_patch


def _one(root: Path, kind: str, qualname: str) -> list[str]:
    """The changed lines (``-old`` / ``+new``) of every ``kind`` mutant of ``qualname``."""
    targets = [t for t in _targets(root, "pkg/core.py") if t.qualname == qualname]
    out = []
    for c in mutation_candidates(root, targets, seed=0, limit=100, kinds=[kind]):
        assert c.kind == kind
        out.append(" | ".join(line.rstrip("\n") for line in c.bug_patch.splitlines(True)
                              if line[:1] in "+-" and not line.startswith(("+++", "---"))))
    return out


EXPECTED_CHANGES = [  # (operator, function, the diff's -/+ lines joined by " | ")
    ("invert_condition", "clamp", "-    if value < low: | +    if value >= low:"),
    ("invert_condition", "evens", "-    return [i for i in items if i % 2 == 0] | "
                                  "+    return [i for i in items if i % 2 != 0]"),
    ("off_by_one", "total",
     "-    for i in range(len(items)): | +    for i in range(len(items) - 1):"),
    ("off_by_one", "window", "-    return items[1:n] | +    return items[2:n]"),
    ("off_by_one", "window", "-    return items[1:n] | +    return items[1:n - 1]"),
    ("swap_arguments", "scale",
     "-    return pow(a, b) - divmod(a, b)[0] | +    return pow(b, a) - divmod(a, b)[0]"),
    ("swap_operands", "scale",
     "-    return pow(a, b) - divmod(a, b)[0] | +    return divmod(a, b)[0] - pow(a, b)"),
    ("drop_branch", "clamp", "-    else: | -        return value"),
    ("drop_branch", "clamp", "-    elif value > high: | -        return high"),
    ("change_operator", "describe",
     '-    return flag and label == "x" | +    return flag or label == "x"'),
    ("change_operator", "total",
     "-        result += items[i] * 2 | +        result -= items[i] * 2"),
    ("change_return", "describe",
     '-    return flag and label == "x" | +    return not (flag and label == "x")'),
    ("change_return", "total", "-    return result | +    return None"),
    ("remove_call", "describe", "-    print(label)"),
    ("remove_call", "describe", "-    label = name.strip() | +    label = name"),
    ("drop_statement", "total", "-    result = 0"),
    ("drop_statement", "total", "-        result += items[i] * 2 | +        pass"),
]


@pytest.mark.parametrize("kind, function, change", EXPECTED_CHANGES)
def test_each_operator_makes_the_change_its_name_says(repo, kind, function, change):
    assert change in _one(repo.path, kind, function)


def test_the_docstring_is_never_dropped(repo):
    drops = _one(repo.path, "drop_statement", "clamp")
    assert drops and not [d for d in drops if "Keep" in d]


def test_the_same_seed_gives_the_same_mutants_and_another_seed_another_order(repo):
    root = repo.path
    targets = _targets(root, "pkg/core.py")
    first = mutation_candidates(root, targets, seed=7, limit=12)
    again = mutation_candidates(root, targets, seed=7, limit=12)
    other = mutation_candidates(root, targets, seed=8, limit=12)
    assert [c.bug_patch for c in first] == [c.bug_patch for c in again]
    assert [c.bug_patch for c in first] != [c.bug_patch for c in other]


def test_a_small_limit_spreads_over_operators_and_functions(repo):
    root = repo.path
    chosen = mutation_candidates(root, _targets(root, "pkg/core.py"), seed=1, limit=len(KINDS))
    assert sorted(c.kind for c in chosen) == sorted(KINDS)
    assert len({c.functions for c in chosen}) >= 3


def test_tests_are_never_mutated_even_when_asked(repo):
    root = repo.path
    targets = _targets(root, "tests/test_core.py")
    assert targets
    assert mutation_candidates(root, targets, seed=0, limit=50) == []
    assert is_test_path("tests/test_core.py") and is_test_path("pkg/conftest.py")
    assert is_test_path("pkg/core_test.py") and is_test_path("pkg/tests/helpers.py")
    assert not is_test_path("pkg/core.py") and not is_test_path("pkg/testutils.py")


def test_an_unknown_kind_is_refused_with_the_known_ones(repo):
    with pytest.raises(ValueError, match="invert_condition"):
        mutation_candidates(repo.path, [], seed=0, limit=1, kinds=["invert"])


def test_the_example_repository_yields_mutants_of_every_common_kind(tmp_path):
    clone = tmp_path / "calc"
    subprocess.run(["git", "clone", "-q", str(ROOT / "examples" / "calc.bundle"), str(clone)],
                   check=True)
    targets = _targets(clone, "calc/ops.py", "calc/stats.py")
    candidates = mutation_candidates(clone, targets, seed=0, limit=1000)
    counts = collections.Counter(c.kind for c in candidates)
    for kind in ("invert_condition", "off_by_one", "swap_operands", "swap_arguments",
                 "drop_statement", "change_return", "change_operator", "remove_call"):
        assert counts[kind] >= 2, counts
    for c in candidates:
        check = subprocess.run(["git", "apply", "--check", "-"], cwd=clone, input=c.bug_patch,
                               text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("name, source", [
    ("crlf.py", "class A:\r\n    # c\r\n    @property\r\n    def f(self):\r\n"
                "        if self.x > 1:\r\n            return self.x - 1\r\n        return 0\r\n"),
    ("tabs.py", "class A:\n\tdef f(self, x):\n\t\tif x:\n\t\t\treturn [i for i in range(x)]\n"
                "\t\treturn None\n"),
    ("no_final_newline.py", "def f(x):\n    return x + 1"),
    ("form_feed.py", "\x0c\ndef g(y):\n    '''a\x0cb'''\n    return y - 1 \x0c\n\n\x0c\n"
                     "def h(z):\n    return z[1:]\n"),
])
def test_line_endings_tabs_and_form_feeds_survive_bug_and_fix(git_builder, name, source):
    git_builder.commit("one file", {name: source.encode()})
    root = git_builder.path
    candidates = mutation_candidates(root, functions_in(name, source), seed=0, limit=100)
    assert len(candidates) >= 4
    for c in candidates:
        _apply(git_builder, c.bug_patch)
        compile((root / name).read_bytes(), name, "exec")
        _apply(git_builder, c.fix_patch)
        assert (root / name).read_bytes() == source.encode(), c.description
