"""How the project runs its tests, read from its layout and configuration at the newest commit.

The runner decides the command, the parser and how changed test files are passed (pytest: as
paths; unittest and Django: as dotted modules). The test file globs come from where test files
actually are, since a glob that misses a test file puts it in the agent's patch, and one that
catches source files hides them from the agent.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from swegc.compiler.draft.metadata import Metadata

_TEST_FILE = re.compile(r"(^|/)(test_[^/]*\.py|[^/]*_test\.py|tests?\.py|conftest\.py)$")
_TEST_DIR = re.compile(r"^(tests?|testing|test[-_]data|unittests?)$")
# pytest options of plugins: the plugin must be installed for the configured addopts to parse.
PLUGIN_OPTIONS = {"--cov": "pytest-cov", "-n": "pytest-xdist", "--numprocesses": "pytest-xdist",
                  "--timeout": "pytest-timeout", "--benchmark": "pytest-benchmark",
                  "--reruns": "pytest-rerunfailures", "--mypy": "pytest-mypy",
                  "--flake8": "pytest-flake8", "--doctest-rst": "pytest-doctestplus",
                  "--asyncio-mode": "pytest-asyncio", "--hypothesis": "hypothesis",
                  "--randomly": "pytest-randomly", "--forked": "pytest-forked",
                  "--mpl": "pytest-mpl", "--black": "pytest-black", "--isort": "pytest-isort"}
_PYTEST = "pytest -rA -p no:cacheprovider"


@dataclass
class TestPlan:
    """The drafted ``tests`` section, its reasons, and what the environments must install."""

    __test__ = False  # not a pytest test class

    section: dict[str, Any]
    why: dict[str, str]
    pip: list[str] = field(default_factory=list)  # the runner and its configured plugins
    pip_why: str = ""


def plan_tests(files: tuple[str, ...], meta: Metadata, read: Any) -> TestPlan:
    """The runner, command, parser and file globs for a tree (``files``: every path at HEAD)."""
    globs, globs_why = test_globs(files)
    django = "tests/runtests.py" in files and any(f.startswith("django/") for f in files)
    if django:
        return TestPlan(
            {"files": globs, "command": "./tests/runtests.py --verbosity 2", "parser": "django",
             "directives": "modules"},
            {"tests.files": globs_why,
             "tests.command": "tests/runtests.py is Django's own runner: it takes dotted test "
                              "modules and prints one line per test at --verbosity 2"})
    if meta.nose:
        plan = _pytest(globs, globs_why, meta)
        plan.why["tests.command"] = ("the project runs nose (setup.cfg [nosetests] or tox); "
                                     "pytest before 8 runs nose-style tests and prints every result")
        plan.pip, plan.pip_why = ["pytest<8"], "pytest 8 dropped nose-style setup()/teardown()"
        return plan
    if meta.pytest_config or _mentions_pytest(meta, files, read) or not _unittest_only(files, read):
        return _pytest(globs, globs_why, meta)
    if "manage.py" in files:
        return TestPlan(
            {"files": globs, "command": "python manage.py test -v 2", "parser": "django",
             "directives": "modules"},
            {"tests.files": globs_why, "tests.command": "a manage.py and no pytest configuration: "
                                                       "Django's test command, one line per test"})
    return TestPlan(
        {"files": globs, "command": "python -m unittest -v", "parser": "unittest",
         "directives": "modules"},
        {"tests.files": globs_why,
         "tests.command": "no pytest configuration, conftest.py or pytest requirement, and the "
                          "test files are unittest.TestCase classes: the standard library's "
                          "unittest, given the changed test modules"})


def _pytest(globs: list[str], globs_why: str, meta: Metadata) -> TestPlan:
    plugins = sorted({plugin for option, plugin in PLUGIN_OPTIONS.items()
                      if re.search(rf"(^|\s){re.escape(option)}(\b|=|\s|$)", meta.pytest_addopts)})
    where = meta.pytest_config or "its configuration"
    said = (f"configured in {meta.pytest_config}" if meta.pytest_config
            else "named by the test requirements or conftest.py, or the tests are plain functions")
    why = {"tests.files": globs_why,
           "tests.command": f"pytest ({said}); -rA prints a status line for every "
                            "test, no cache provider so runs leave nothing behind",
           "tests.parser": "reads pytest's -rA summary lines"}
    plan = TestPlan({"files": globs, "command": _PYTEST, "parser": "pytest",
                     "directives": "paths"}, why, ["pytest", *plugins])
    plan.pip_why = "the test runner" + (
        f", and the plugins whose options {where} passes ({', '.join(plugins)})" if plugins else "")
    return plan


def _mentions_pytest(meta: Metadata, files: tuple[str, ...], read: Any) -> bool:
    if any(f.endswith("conftest.py") for f in files):
        return True
    if "pytest" in meta.test_names():
        return True
    for path in meta.requirement_files:
        text = read(path) or ""
        if re.search(r"(?im)^\s*pytest\b", text):
            return True
    return False


def _unittest_only(files: tuple[str, ...], read: Any) -> bool:
    """Whether the test files (a few of them) are all unittest.TestCase classes: pytest
    runs those too, but plain ``def test_`` functions only pytest finds."""
    tests = [f for f in files if _TEST_FILE.search(f) and not f.endswith("conftest.py")][:12]
    if not tests:
        return False
    for path in tests:
        text = read(path) or ""
        if re.search(r"(?m)^(def test|import pytest|from pytest)", text) or "TestCase" not in text:
            return False
    return True


def test_globs(files: tuple[str, ...]) -> tuple[list[str], str]:
    """gitignore-style globs for where the test files are, and the reason in words."""
    tests = [f for f in files if _TEST_FILE.search(f)]
    globs: list[str] = []
    tops = Counter(f.split("/", 1)[0] for f in tests if "/" in f)
    for top, _ in tops.most_common():
        if _TEST_DIR.match(top):
            globs.append(f"{top}/**")
    nested = [f for f in tests if any(_TEST_DIR.match(part) for part in f.split("/")[1:-1])]
    if nested:
        globs.append("**/tests/**" if any("/tests/" in f for f in nested) else "**/test/**")
    data_dirs = sorted({f.split("/", 1)[0] for f in files if "/" in f
                        and re.match(r"^test[-_]data$", f.split("/", 1)[0])})
    globs += [f"{d}/**" for d in data_dirs if f"{d}/**" not in globs]
    globs += ["**/test_*.py", "**/*_test.py", "**/conftest.py"]
    where = ", ".join(g for g in globs if not g.startswith("**/test_") and g not in (
        "**/*_test.py", "**/conftest.py")) or "no tests folder"
    return list(dict.fromkeys(globs)), (f"test files live in {where}; test_*.py, *_test.py and "
                                        "conftest.py anywhere are tests too")
