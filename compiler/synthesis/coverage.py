"""Which tests call which functions: recorded once per commit, read by every candidate after.

Validation runs only the tests that cover a mutated function, so synthesis first needs the map
from functions to tests. A coverage package may be missing or too old in an instance image, and
installing one would change the environment the tasks are graded in; so the map is recorded by
a small pytest plugin of the standard library alone (``PLUGIN``): around each test it sets a
profile function (``sys.setprofile`` and ``threading.setprofile``) that notes the
``(co_filename, co_firstlineno)`` of every Python function called, and at the end of the session
writes them as JSON, test id by test id, for the files under the repository's root.

A code object's ``co_firstlineno`` is its first decorator's line where there is one, else its
``def`` line; ``targets.functions_in`` places a ``FunctionTarget`` the same way, so that each
record names one function with its span.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from swegc.compiler.synthesis.bugs import FunctionTarget
from swegc.compiler.synthesis.targets import functions_in
from swegc.runtime.harness.protected_files import Settings, by_name

PLUGIN_MODULE = "swegc_calls"
PLUGIN_DIR = "/tmp/swegc-calls"
OUTPUT = f"{PLUGIN_DIR}/calls.json"

# The plugin: standard library and pytest's hook API only (pytest >= 3: ``hookwrapper``).
PLUGIN = '''\
"""swegc: record which functions under the repository each test calls (sys.setprofile)."""
import json
import os
import sys
import threading

import pytest

_ROOT = os.path.realpath(os.environ.get("SWEGC_CALLS_ROOT", "/testbed")) + os.sep
_OUT = os.environ["SWEGC_CALLS_OUT"]
_CALLS = {}
_NAMES = {}


def _relative(filename):
    name = _NAMES.get(filename)
    if name is None:
        path = os.path.realpath(os.path.join(_ROOT, filename))
        name = path[len(_ROOT):] if path.startswith(_ROOT) else ""
        _NAMES[filename] = name
    return name


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    seen = set()

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            seen.add((code.co_filename, code.co_firstlineno))

    previous = sys.getprofile()
    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(previous)
        threading.setprofile(None)
        calls = _CALLS.setdefault(item.nodeid, set())
        for filename, line in seen:
            name = _relative(filename)
            if name and name.endswith(".py"):
                calls.add((name, line))


def pytest_sessionfinish(session, exitstatus):
    data = {test: sorted(calls) for test, calls in _CALLS.items()}
    with open(_OUT, "w") as handle:
        json.dump(data, handle, sort_keys=True)
'''


def plugin_env() -> dict[str, str]:
    """The environment that loads the plugin into a pytest run (``PYTEST_ADDOPTS`` and a path
    the image's own ``PYTHONPATH``, if any, is kept after)."""
    return {"PYTEST_ADDOPTS": f"-p {PLUGIN_MODULE}", "SWEGC_CALLS_OUT": OUTPUT,
            "SWEGC_CALLS_ROOT": "/testbed"}


@dataclass(frozen=True)
class CallMap:
    """Test id -> the (path, first line) of every repository function the test called."""

    calls: dict[str, tuple[tuple[str, int], ...]]

    @classmethod
    def from_json(cls, data: Mapping[str, Iterable[Iterable[object]]]) -> CallMap:
        return cls({str(test): tuple((str(path), int(line)) for path, line in pairs)  # type: ignore[call-overload]
                    for test, pairs in data.items()})

    def to_json(self) -> dict[str, list[list[object]]]:
        return {test: [[path, line] for path, line in pairs]
                for test, pairs in sorted(self.calls.items())}

    def files(self) -> list[str]:
        """Every file some test called into."""
        return sorted({path for pairs in self.calls.values() for path, _ in pairs})

    def covering(self, passing: set[str]) -> dict[tuple[str, int], tuple[str, ...]]:
        """(path, first line) -> the tests among ``passing`` that call it, sorted."""
        found: dict[tuple[str, int], set[str]] = {}
        for test, pairs in self.calls.items():
            if test in passing:
                for pair in pairs:
                    found.setdefault(pair, set()).add(test)
        return {pair: tuple(sorted(tests)) for pair, tests in found.items()}


def covered_targets(sources: Mapping[str, str], calls: CallMap, passing: set[str],
                    test_globs: tuple[str, ...]) -> list[FunctionTarget]:
    """The functions of ``sources`` (path -> text) that passing tests call, with those tests,
    leaving out every file grading puts back before it runs the tests (test files by the spec's
    globs or by name, conftest.py and other test infrastructure: the one rule set of
    ``protected_files``), since a fix there would never count."""
    covering = calls.covering(passing)
    rules = Settings({"base": "", "test_globs": list(test_globs)})
    targets: list[FunctionTarget] = []
    for path in sorted(sources):
        if by_name(path, rules) is not None:
            continue
        for target in functions_in(path, sources[path]):
            tests = covering.get((path, target.first_line))
            if tests:
                targets.append(FunctionTarget(target.path, target.qualname, target.first_line,
                                              target.last_line, tests))
    return targets


def read_calls(text: str) -> CallMap:
    """The plugin's JSON output; an empty map when it wrote nothing usable."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return CallMap({})
    return CallMap.from_json(data) if isinstance(data, dict) else CallMap({})
