"""What a patch under test may not change, put back in a sandbox; the environment tests run in.

The rules are ``protected_files.py``'s, one program that both graders run in ``/testbed``:
``put_back`` writes it into the sandbox, runs it and returns the paths it reports, and the
row's ``eval_script`` embeds it (``eval_script.py``). So ``swegc evaluate``, rollouts and
SWE-bench 5.x or SkyRL running the row's script put back the same files: test files, pytest's
hooks and settings, the test-runner part of ``setup.cfg``/``tox.ini``/``pyproject.toml`` (the
whole file goes back only when that part changed, so a fix's dependency line survives),
start-up hooks, bytecode and compiled modules, installed metadata, caches and modules named
like the test runner; and both put in the reference fix's own version of the files those
rules guard.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.runtime.harness import protected_files
from swegc.runtime.harness.protected_files import reported_paths

PROGRAM = Path(protected_files.__file__)
REFERENCE_DIFF_NAME = "reference-infrastructure.diff"


@dataclass(frozen=True)
class Protected:
    """What a patch under test may not change on one instance, from its row alone."""

    base_commit: str
    test_files: tuple[str, ...] = ()  # paths the test_patch touches (both sides of renames)
    test_ids: tuple[str, ...] = ()  # FAIL_TO_PASS + PASS_TO_PASS: their files are test files
    test_globs: tuple[str, ...] = ()  # the spec's tests.files (gitignore style), when known
    gold_patch: str = ""  # the instance's own fix: its infrastructure part is what every patch gets

    def settings_json(self) -> str:
        """The program's SETTINGS_JSON argument."""
        return json.dumps({"base": self.base_commit, "test_files": list(self.test_files),
                           "test_id_files": sorted(graded_test_files(self.test_ids)),
                           "test_globs": list(self.test_globs)}, sort_keys=True)

    def reference_diff(self) -> str:
        """The gold patch's diff for the files that may be test infrastructure (the program
        decides, from their content, which of them it puts in); empty when there are none."""
        if not self.gold_patch.strip():
            return ""
        from unidiff import PatchSet

        settings = protected_files.Settings(json.loads(self.settings_json()))
        parts = []
        for patched in PatchSet(self.gold_patch):
            paths = {_strip(patched.source_file), _strip(patched.target_file)} - {None}
            if any(protected_files.by_name(path, settings) in ("test infrastructure", "packaging")
                   for path in paths):
                parts.append(str(patched))
        return "".join(parts)


def program_source() -> str:
    """The rule program's source, as both graders run it."""
    return PROGRAM.read_text(encoding="utf-8")


def put_back(box: Any, protected: Protected, patch_path: str) -> list[str]:
    """Put back, in ``box``'s /testbed, what the patch (already applied from ``patch_path``)
    may not change, and every file the test_patch touches, as they are at the base commit
    (removing what it lacks); then put in the gold patch's version of the files the rules
    guard. Returns the paths the patch changed that were put back (test_patch files it did not
    touch are restored silently). The program and the reference diff are written beside the
    patch. The caller applies the test_patch next. Raises ``InfrastructureError`` when the
    sandbox cannot do it."""
    from swegc.runtime.sandbox import InfrastructureError

    folder = posixpath.dirname(patch_path) or "/tmp"
    program = f"{folder}/{PROGRAM.name}"
    box.write_file(program, program_source().encode("utf-8"))
    command = f"python3 -I -S {shlex.quote(program)} {shlex.quote(protected.settings_json())}"
    reference = protected.reference_diff()
    if reference:
        box.write_file(f"{folder}/{REFERENCE_DIFF_NAME}", reference.encode("utf-8"))
        command += f" {shlex.quote(f'{folder}/{REFERENCE_DIFF_NAME}')}"
    # In a subshell: a persistent sandbox shell keeps its own working folder.
    result = box.execute(f"(cd /testbed && {command})", timeout_s=120)
    if result.exit_code != 0:
        raise InfrastructureError(f"could not put back test files: {result.output[-500:]}")
    return reported_paths(result.output)


def graded_test_files(test_ids: Iterable[str]) -> set[str]:
    """Files named by pytest-style test ids (``tests/t.py::test_x`` -> ``tests/t.py``)."""
    return protected_files.graded_test_files(list(test_ids))


def _strip(name: str | None) -> str | None:
    if not name or name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


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
        elif key == "PYTHONPATH":  # in front of the row's own
            exports.append(f"export PYTHONPATH={shlex.quote(value)}"
                           '"${PYTHONPATH:+:$PYTHONPATH}"')
        else:
            exports.append(f"export {key}={shlex.quote(value)}")
    return "(" + "; ".join([*exports, command]) + "\n)"


def read_junit(box: Any, path: str, parser: str) -> str | None:
    """The JUnit report a pytest run wrote at ``path`` in ``box``, or None (not pytest, or no
    report: the run never got that far). An engine failure is raised, not taken as "none"."""
    if parser != "pytest":
        return None
    return read_file(box, path)


def read_file(box: Any, path: str) -> str | None:
    """The text of ``path`` in ``box``, or None when there is no such file; an engine failure
    is raised, not taken as "none"."""
    from swegc.runtime.sandbox import InfrastructureError

    try:
        return box.read_file(path).decode("utf-8", errors="replace")
    except InfrastructureError:
        raise
    except Exception:  # noqa: BLE001 - no such file: the run wrote no report
        return None
