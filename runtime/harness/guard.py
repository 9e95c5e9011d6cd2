"""What a patch under test may not change, and the environment tests run in.

A patch is graded by the instance's tests, so the files that decide how those tests run are not
the patch's to change: test files, pytest's configuration (``conftest.py``, ``pytest.ini``,
``tox.ini``, ``setup.cfg``, ``pyproject.toml``: ``addopts``, ``pytest_plugins``, ``pytest11``
entry points), interpreter start-up hooks (``sitecustomize.py``, ``usercustomize.py``, ``.pth``
files), installed metadata (``*.egg-info``, ``*.dist-info``), bytecode and compiled modules (an
unchecked-hash ``.pyc`` runs without its source), and modules named like the test runner.
Before grading, every such file the patch touches is put back as it was at base_commit (or
removed, when the patch added it), and the report names each one. Changes to ``setup.cfg`` or
``pyproject.toml`` lose nothing else: grading does not reinstall the package.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

_CONFIG_NAMES = frozenset({
    "conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini",
    "setup.cfg", "pyproject.toml", "sitecustomize.py", "usercustomize.py",
})
# At the top only: there they shadow the runner when the working folder is on sys.path
# (``python -m pytest``); deeper (pytest's own src/_pytest) they are ordinary code.
_TOP_LEVEL = re.compile(r"^(pytest\.py|py\.py|_pytest/|pytest/|pluggy/)")
_BINARY_SUFFIXES = (".pth", ".pyc", ".pyo", ".so", ".pyd", ".dylib", ".egg-link")
_GUARDED_FOLDERS = re.compile(r"(^|/)(__pycache__|\.pytest_cache)/|"
                              r"(^|/)[^/]+\.(egg-info|dist-info)(/|$)")
_TEST_NAME = re.compile(r"^(test_.*\.py|.*_test\.py|tests\.py)$")


@dataclass(frozen=True)
class Protected:
    """What a patch under test may not change on one instance, from its row alone."""

    base_commit: str
    test_files: tuple[str, ...] = ()  # paths the test_patch touches (both sides of renames)
    test_ids: tuple[str, ...] = ()  # FAIL_TO_PASS + PASS_TO_PASS: their files are test files
    test_globs: tuple[str, ...] = ()  # the spec's tests.files (gitignore style), when known
    gold_patch: str = ""  # the instance's own fix: its infrastructure part is what every patch gets


def put_back(box: Any, protected: Protected, patch_path: str) -> list[str]:
    """Put back, in ``box``'s /testbed, what the patch at ``patch_path`` (already applied) may
    not change, and every file the test_patch touches, as they are at the base commit (removing
    what it lacks). Returns the paths the patch changed that were put back (test_patch files it
    did not touch are restored silently). The caller applies the test_patch next. Raises
    ``InfrastructureError`` when the sandbox cannot do it."""
    from swegc.runtime.sandbox import InfrastructureError

    touched = parse_numstat(box.execute(patch_paths_command(patch_path), timeout_s=60).output)
    graded = set(protected.test_files) | graded_test_files(protected.test_ids)
    reverted = [p for p in touched if guarded_reason(p, graded)]
    restore = box.execute(restore_script(protected.base_commit,
                                         dict.fromkeys([*reverted, *protected.test_files])),
                          timeout_s=120)
    if restore.exit_code != 0:
        raise InfrastructureError(f"could not restore test files: {restore.output[-500:]}")
    return reverted


def guarded_reason(path: str, test_files: Iterable[str] = ()) -> str | None:
    """Why ``path`` is test infrastructure a graded patch may not change, or None."""
    path = path[2:] if path.startswith("./") else path
    name = PurePosixPath(path).name
    if path in set(test_files):
        return "a file the test_patch touches"
    if name in _CONFIG_NAMES:
        return "test configuration or start-up hook"
    if name.endswith(_BINARY_SUFFIXES):
        return "a start-up hook, bytecode or compiled module"
    if _GUARDED_FOLDERS.search(path) or _TOP_LEVEL.match(path):
        return "the test runner, installed metadata or a cache"
    if _TEST_NAME.match(name):
        return "a test file"
    return None


def graded_test_files(test_ids: Iterable[str]) -> set[str]:
    """Files named by pytest-style test ids (``tests/t.py::test_x`` -> ``tests/t.py``)."""
    return {test.split("::", 1)[0] for test in test_ids if "::" in test
            and test.split("::", 1)[0].endswith(".py")}


def patch_paths_command(patch_file: str) -> str:
    """Git's own list of the paths a patch touches (``parse_numstat`` reads it)."""
    return f"git apply --numstat -z {patch_file}"


def parse_numstat(output: str) -> list[str]:
    """Paths in ``git apply --numstat -z`` output, renames' old and new names both."""
    paths: list[str] = []
    fields = output.split("\0")
    i = 0
    while i < len(fields):
        entry = fields[i]
        if not entry.strip():
            i += 1
            continue
        parts = entry.split("\t")
        if len(parts) >= 3 and parts[2]:
            paths.append(parts[2])
            i += 1
        elif len(parts) >= 3:  # a rename or copy: the next two fields are the old and new path
            paths.extend(p for p in fields[i + 1:i + 3] if p)
            i += 3
        else:
            i += 1
    return list(dict.fromkeys(paths))


def restore_script(base_commit: str, paths: Iterable[str]) -> str:
    """Shell that puts ``paths`` back as they are at ``base_commit`` (removing ones it lacks)."""
    lines = []
    base = shlex.quote(base_commit)
    for path in paths:
        quoted = shlex.quote(path)
        lines.append(f"if git cat-file -e {base}:{quoted} 2>/dev/null; then rm -rf -- {quoted}; "
                     f"git checkout -q {base} -- {quoted} || exit 1; "
                     f"else rm -rf -- {quoted}; fi")
    return "\n".join(lines) or "true"


def run_env(parser: str, junit_path: str | None) -> dict[str, str]:
    """Variables set for every test run on top of the row's: no user site-packages (their
    usercustomize or .pth files), no pytest cache, and pytest's own report at a fresh path."""
    env = {"PYTHONNOUSERSITE": "1"}
    if parser == "pytest":
        extra = "-p no:cacheprovider" + (f" --junitxml={junit_path}" if junit_path else "")
        env["PYTEST_ADDOPTS"] = extra
    return env


def with_env(command: str, env: dict[str, str]) -> str:
    """``command`` in a subshell after exports of ``env`` (PYTEST_ADDOPTS appended to the
    row's own); the subshell keeps them out of a persistent sandbox shell's later commands."""
    exports = []
    for key, value in env.items():
        if key == "PYTEST_ADDOPTS":
            exports.append(f'export PYTEST_ADDOPTS="${{PYTEST_ADDOPTS:+$PYTEST_ADDOPTS }}"'
                           f"{shlex.quote(value)}")
        else:
            exports.append(f"export {key}={shlex.quote(value)}")
    return "(" + "; ".join([*exports, command]) + "\n)"


def read_junit(box: Any, path: str, parser: str) -> str | None:
    """The JUnit report a pytest run wrote at ``path`` in ``box``, or None (not pytest, or no
    report: the run never got that far). An engine failure is raised, not taken as "none"."""
    from swegc.runtime.sandbox import InfrastructureError

    if parser != "pytest":
        return None
    try:
        return box.read_file(path).decode("utf-8", errors="replace")
    except InfrastructureError:
        raise
    except Exception:  # noqa: BLE001 - no such file: the run wrote no report
        return None
