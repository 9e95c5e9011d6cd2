"""Tamper evidence of a pytest run: the guard a grader loads into it, and what its results say.

Every channel a grader reads (log, summary, JUnit, exit code) is written by the test process,
so code under test that reaches into the runner makes them all agree on a lie. The guard
(``pytest_guard.py``, written per run under a random module name in a random folder, its
results at a random path with a per-run key) witnesses the run from inside: each test's
outcome from the calls themselves, and whether pytest's reporting machinery and plugin
registrations stayed what they were. A run is ``tampered`` when the guard found tampering,
when a test the report says passed did not pass for the guard, or when the guard's results are
missing or carry the wrong key; a tampered run is never resolved. Both graders decide the same
way: ``swegc evaluate`` here (``guard_problems``), the row's eval_script in its judge.

Only pytest runs are guarded: the unittest and Django runners have no plugin that loads before
the code under test and could watch their results (see the README's grading section).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from swegc.runtime.harness.parsers import PASSING
from swegc.runtime.harness.trust import junit_key, junit_statuses

GUARD_SOURCE = Path(__file__).with_name("pytest_guard.py")
_PLACEHOLDERS = ("@RESULT_PATH@", "@KEY@", "@PLUGIN_ARG@")


@dataclass(frozen=True)
class RunGuard:
    """One run's guard: a module name, folder and key nobody else knows."""

    name: str
    folder: str
    key: str

    @classmethod
    def new(cls) -> RunGuard:
        return cls(name=f"_{secrets.token_hex(8)}", folder=f"/tmp/{secrets.token_hex(12)}",
                   key=secrets.token_hex(16))

    @property
    def module_path(self) -> str:
        return f"{self.folder}/{self.name}.py"

    @property
    def result_path(self) -> str:
        return f"{self.folder}/result.json"

    @property
    def plugin_arg(self) -> str:
        return f"-p {self.name}"

    def source(self) -> str:
        """The guard module with this run's result path, key and ``-p`` argument filled in."""
        return guard_source(self.result_path, self.key, self.plugin_arg)

    def env(self) -> dict[str, str]:
        """What loads the guard: its folder first on PYTHONPATH, its ``-p`` in PYTEST_ADDOPTS
        (``guard.with_env`` puts both in front of the row's own values)."""
        return {"PYTHONPATH": self.folder, "PYTEST_ADDOPTS": self.plugin_arg}


def guard_source(result_path: str, key: str, plugin_arg: str) -> str:
    source = GUARD_SOURCE.read_text(encoding="utf-8")
    for placeholder, value in zip(_PLACEHOLDERS, (result_path, key, plugin_arg)):
        source = source.replace(f'"{placeholder}"', json.dumps(value))
    return source


def guard_status(tests: dict[str, str], test: str) -> str | None:
    """The guard's outcome of ``test``; ids printed relative to another folder than pytest's
    rootdir lose their leading folders one by one until one matches."""
    path, sep, rest = test.partition("::")
    parts = path.split("/")
    for start in range(len(parts)):
        found = tests.get("/".join(parts[start:]) + sep + rest)
        if found is not None:
            return found
    return None


def guard_problems(raw: str | None, key: str, statuses: dict[str, str],
                   run_proper: bool = True, junit_xml: str | None = None) -> list[str]:
    """The evidence that a run was tampered with, or []: what the guard found, a test the
    log or the JUnit report says passed that the guard did not see pass, results missing or
    not this run's (what the eval_script's judge checks too).

    ``raw``: the guard's result file, None when there is none. ``statuses``: the run's
    statuses as its log gives them; ``junit_xml``: pytest's JUnit report, if any. ``run_proper``: False when the run is already not
    believed (a timeout, no summary): then missing results are no evidence (a killed pytest
    writes none), but results that are there still count."""
    if raw is None:
        return ["the guard wrote no results: the test process ended before pytest did, or "
                "they were removed"] if run_proper else []
    try:
        data = json.loads(raw)
    except ValueError:
        return ["the guard's results cannot be read"]
    if not isinstance(data, dict) or data.get("key") != key or data.get("complete") is not True:
        return ["the guard's results do not carry this run's key"]
    found = [str(item) for item in data.get("tampering") or []]
    seen = data.get("tests") or {}
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
