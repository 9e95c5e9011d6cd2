"""Tamper evidence of a test run: the guard a grader loads into it, and what its results say.

Every channel a grader reads (log, summary, JUnit, exit code) is written by the test process,
so code under test that reaches into the runner makes them all agree on a lie. The guard
witnesses the run from inside: each test's outcome from the calls themselves, and whether the
runner's reporting machinery stayed what it was. It is written per run under a random module
name in a random folder, its results at a random path with a per-run key:

- pytest (``pytest_guard.py``): a plugin loaded with ``-p NAME`` from ``PYTEST_ADDOPTS``;
- unittest and Django's runner (``unittest_guard.py``): loaded at interpreter start-up by a
  ``sitecustomize.py`` in its folder, which is put first on ``PYTHONPATH``.

Each guarded process that ran tests appends one line of results (a command may run several:
``pytest a && pytest b``, pytest-xdist's workers, Django's parallel workers). A run is
``tampered`` when a guard found tampering, when a test the report says passed did not pass for
any guard, or when the results are missing or a line carries the wrong key; a tampered run is
never resolved. Both graders decide the same way: ``swegc evaluate`` here
(``guard_problems``), the row's eval_script in its judge. The regex parser's runners are not
guarded (see the README's grading section).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from swegc.runtime.harness.parsers import PASSING
from swegc.runtime.harness.trust import junit_key, junit_statuses

_HERE = Path(__file__).resolve().parent
GUARD_SOURCES = {"pytest": _HERE / "pytest_guard.py", "unittest": _HERE / "unittest_guard.py"}
# The guard each parser's runner gets; a parser not named here runs unguarded.
RUNNER_OF_PARSER = {"pytest": "pytest", "unittest": "unittest", "django": "unittest"}
RESULT_NAME = "results.jsonl"
_PLACEHOLDERS = ("@RESULT_PATH@", "@KEY@", "@PLUGIN_ARG@")
_DJANGO_ID = re.compile(r"^(?P<name>[A-Za-z_][\w.]*) \((?P<target>[A-Za-z_][\w.]*)\)$")
_RANK = {"PASSED": 0, "XFAIL": 0, "SKIPPED": 1, "FAILED": 2, "ERROR": 2}


@dataclass(frozen=True)
class RunGuard:
    """One run's guard: which runner's, and a module name, folder and key nobody else knows."""

    runner: str  # "pytest" | "unittest"
    name: str
    folder: str
    key: str

    @classmethod
    def new(cls, runner: str = "pytest") -> RunGuard:
        return cls(runner=runner, name=f"_{secrets.token_hex(8)}",
                   folder=f"/tmp/{secrets.token_hex(12)}", key=secrets.token_hex(16))

    @classmethod
    def for_parser(cls, parser: str) -> RunGuard | None:
        """A new guard for the runner ``parser`` reads, or None where none is loaded."""
        runner = RUNNER_OF_PARSER.get(parser)
        return cls.new(runner) if runner else None

    @property
    def module_path(self) -> str:
        return f"{self.folder}/{self.name}.py"

    @property
    def result_path(self) -> str:
        return f"{self.folder}/{RESULT_NAME}"

    @property
    def plugin_arg(self) -> str:
        return f"-p {self.name}"

    def source(self) -> str:
        """The guard module with this run's result path, key and ``-p`` argument filled in."""
        return guard_source(self.runner, self.result_path, self.key, self.plugin_arg)

    def files(self) -> dict[str, str]:
        """Path -> text of what the run needs written: the module, and for unittest the
        ``sitecustomize.py`` that loads it at start-up."""
        files = {self.module_path: self.source()}
        if self.runner == "unittest":
            files[f"{self.folder}/sitecustomize.py"] = start_up_hook(self.name)
        return files

    def env(self) -> dict[str, str]:
        """What loads the guard: its folder first on PYTHONPATH, for pytest its ``-p`` in
        PYTEST_ADDOPTS (``guard.with_env`` puts both in front of the row's own values)."""
        if self.runner == "pytest":
            return {"PYTHONPATH": self.folder, "PYTEST_ADDOPTS": self.plugin_arg}
        return {"PYTHONPATH": self.folder}

    def hook_command(self) -> str:
        """Bash run just before the test command (``site_hook``)."""
        return site_hook(self.folder, self.name, self.runner)

    def unhook_command(self) -> str:
        """Bash that takes the ``site_hook`` out again."""
        return site_unhook(self.folder)

    def around(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` (``guard.run_env``'s) with the guard loaded first."""
        merged = {**self.env(), **env}
        if self.runner == "pytest":
            merged["PYTEST_ADDOPTS"] = " ".join(filter(None, (self.plugin_arg,
                                                              env.get("PYTEST_ADDOPTS"))))
        return merged


def guard_source(runner: str, result_path: str, key: str, plugin_arg: str) -> str:
    source = GUARD_SOURCES[runner].read_text(encoding="utf-8")
    for placeholder, value in zip(_PLACEHOLDERS, (result_path, key, plugin_arg)):
        source = source.replace(f'"{placeholder}"', json.dumps(value))
    return source


def start_up_hook(name: str) -> str:
    """The ``sitecustomize.py`` beside the unittest guard: loads it, then the one it shadows."""
    return f"import {name}\n{name}.chain()\n"


def site_hook(folder: str, name: str, runner: str) -> str:
    """Bash: a ``.pth`` file in the site-packages of the ``python`` (else ``python3``) on PATH
    that puts the guard's folder on ``sys.path`` (and, for unittest, imports the guard), so a
    test command that sets ``PYTHONPATH`` itself (``PYTHONPATH=src pytest``) still loads it.
    ``folder`` and ``name`` may be shell variables (the eval_script's). Nothing happens where
    there is no such Python or its site-packages cannot be written: the guard's folder on
    ``PYTHONPATH`` is then the only way in. An earlier run's file goes first."""
    lines = folder + (f"\\nimport {name}" if runner == "unittest" else "")
    return ("for swegc_py in python python3; do command -v $swegc_py >/dev/null && break; done; "
            "swegc_site=$($swegc_py -I -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'"
            " 2>/dev/null) && [ -w \"$swegc_site\" ] "
            "&& rm -f \"$swegc_site\"/_swegc_guard_*.pth "
            f"&& printf \"{lines}\\n\" > \"$swegc_site/_swegc_guard_{name}.pth\" "
            f"&& printf '%s\\n' \"$swegc_site\" > \"{folder}/site\"")


def site_unhook(folder: str) -> str:
    """Bash that removes the ``.pth`` file ``site_hook`` wrote, if it wrote one."""
    return (f"[ -f \"{folder}/site\" ] && rm -f \"$(cat \"{folder}/site\")\"/_swegc_guard_*.pth; "
            "true")


def guard_key(test: str) -> str:
    """A test id as the guards record it: Django's ``test_a (pkg.mod.Class)`` (or 3.11's
    ``(pkg.mod.Class.test_a)``) becomes unittest's dotted ``pkg.mod.Class.test_a``."""
    found = _DJANGO_ID.match(test) if "::" not in test else None
    if found is None:
        return test
    name, target = found["name"], found["target"]
    return target if target.endswith("." + name) else f"{target}.{name}"


def guard_status(tests: dict[str, str], test: str) -> str | None:
    """The guard's outcome of ``test``; ids printed relative to another folder than pytest's
    rootdir lose their leading folders one by one until one matches."""
    path, sep, rest = guard_key(test).partition("::")
    parts = path.split("/")
    for start in range(len(parts)):
        found = tests.get("/".join(parts[start:]) + sep + rest)
        if found is not None:
            return found
    return None


def read_results(raw: str, key: str) -> tuple[dict[str, str], list[str]] | str:
    """Every guarded process's line merged: (test -> its worst status, tampering found), or
    why the results cannot be believed."""
    tests: dict[str, str] = {}
    found: list[str] = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            return "the guard's results cannot be read"
        if not isinstance(data, dict) or data.get("key") != key or data.get("complete") is not True:
            return "the guard's results do not carry this run's key"
        found += [str(item) for item in data.get("tampering") or [] if str(item) not in found]
        for test, status in (data.get("tests") or {}).items():
            old = tests.get(test)
            if old is None or _RANK.get(status, 2) >= _RANK.get(old, 2):
                tests[test] = status
    return tests, found


def guard_problems(raw: str | None, key: str, statuses: dict[str, str],
                   run_proper: bool = True, junit_xml: str | None = None) -> list[str]:
    """The evidence that a run was tampered with, or []: what the guards found, a test the
    log or the JUnit report says passed that no guard saw pass, results missing or not this
    run's (what the eval_script's judge checks too).

    ``raw``: the guards' result file, None when there is none. ``statuses``: the run's
    statuses as its log gives them; ``junit_xml``: pytest's JUnit report, if any. ``run_proper``:
    False when the run is already not believed (a timeout, no summary): then missing results
    are no evidence (a killed runner writes none), but results that are there still count."""
    if raw is None or not raw.strip():
        return ["the guard wrote no results: the test process ended before its runner did, "
                "or they were removed"] if run_proper else []
    merged = read_results(raw, key)
    if isinstance(merged, str):
        return [merged]
    seen, found = merged
    for test, status in sorted(statuses.items()):
        if status in PASSING:
            witnessed = guard_status(seen, test)
            if witnessed not in PASSING:
                found.append(f"{test}: reported {status}, but the guard saw "
                             f"{witnessed or 'no call of it'}")
    cases = junit_statuses(junit_xml) if junit_xml is not None else None
    by_case = {junit_key(test): status for test, status in seen.items()}
    for case, status in sorted((cases or {}).items()):
        if status in PASSING and by_case.get(case) not in PASSING:
            found.append(f"{case[0]}::{case[1]}: the JUnit report says {status}, but the guard "
                         f"saw {by_case.get(case) or 'no call of it'}")
    return found
