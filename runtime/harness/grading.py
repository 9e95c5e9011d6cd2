"""Grading a patch by SWE-bench's rules: the typed report, the rules, and one graded run.

resolved = every FAIL_TO_PASS and every PASS_TO_PASS test passes (PASSED or XFAIL, as in
SWE-bench). One difference, on purpose: a test that is skipped or absent counts as a failure
(SWE-bench leaves a skipped test out of both lists, so a patch that makes the tests skip
themselves would resolve). The rules are pure functions of statuses (``tests_status``,
``resolution``, ``grade``); ``grade_patch`` runs one patch through the run procedure (``run``:
apply, put back what it may not change, apply the test_patch, prepare, run once, cross-check)
and grades the statuses that can be believed. ``GradeReport.to_swebench`` is SWE-bench's
per-instance ``report.json``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from swegc.redact import redact
from swegc.runtime.harness.hack_scan import Finding, scan_spec_patch
from swegc.runtime.harness.parsers import PASSING
from swegc.runtime.harness.run import Testbed, run_tests
from swegc.runtime.harness.test_spec import TestSpec
from swegc.runtime.sandbox import InfrastructureError

GRADE_REPORT_SCHEMA_VERSION = 1
MISSING = "MISSING"  # a graded test with no trusted result at all


class ResolvedStatus(str, Enum):
    """SWE-bench's ResolvedStatus values."""

    FULL = "RESOLVED_FULL"
    PARTIAL = "RESOLVED_PARTIAL"
    NO = "RESOLVED_NO"


@dataclass(frozen=True)
class TestsStatus:
    """SWE-bench's ``tests_status``: each list's tests that pass (success) and do not (failure)."""

    __test__ = False

    FAIL_TO_PASS: dict[str, list[str]]
    PASS_TO_PASS: dict[str, list[str]]

    def to_json(self) -> dict[str, dict[str, list[str]]]:
        empty = {"success": [], "failure": []}
        return {"FAIL_TO_PASS": self.FAIL_TO_PASS, "PASS_TO_PASS": self.PASS_TO_PASS,
                "FAIL_TO_FAIL": dict(empty), "PASS_TO_FAIL": dict(empty)}


def passed(test: str, statuses: dict[str, str]) -> bool:
    """SWE-bench's test_passed: PASSED or XFAIL."""
    return statuses.get(test) in PASSING


def tests_status(spec: TestSpec, statuses: dict[str, str]) -> TestsStatus:
    def split(tests: tuple[str, ...]) -> dict[str, list[str]]:
        return {"success": [t for t in tests if passed(t, statuses)],
                "failure": [t for t in tests if not passed(t, statuses)]}

    return TestsStatus(split(spec.fail_to_pass), split(spec.pass_to_pass))


tests_status.__test__ = False  # type: ignore[attr-defined]  # not a test when imported in one


def _rate(part: dict[str, list[str]]) -> float:
    total = len(part["success"]) + len(part["failure"])
    return 1.0 if total == 0 else len(part["success"]) / total


def resolution(status: TestsStatus) -> ResolvedStatus:
    """SWE-bench's get_resolution_status: FULL when both lists pass, PARTIAL when every
    PASS_TO_PASS and some FAIL_TO_PASS pass, else NO."""
    f2p, p2p = _rate(status.FAIL_TO_PASS), _rate(status.PASS_TO_PASS)
    if f2p == 1 and p2p == 1:
        return ResolvedStatus.FULL
    if 0 < f2p < 1 and p2p == 1:
        return ResolvedStatus.PARTIAL
    return ResolvedStatus.NO


def graded_statuses(spec: TestSpec, statuses: dict[str, str]) -> dict[str, str]:
    """Every FAIL_TO_PASS and PASS_TO_PASS test -> its trusted status (MISSING if none)."""
    return {t: statuses.get(t, MISSING) for t in (*spec.fail_to_pass, *spec.pass_to_pass)}


@dataclass(frozen=True)
class GradeReport:
    """The outcome of grading one patch on one instance.

    ``error`` is an infrastructure failure that outlived the retries: such a patch was not
    graded, and is counted apart from unresolved ones. ``run_problem`` says why a run's results
    were not believed (``trust``); ``reverted_files`` lists the test infrastructure the patch
    changed and that was put back before the tests ran (``guard``). ``suspicious`` lists what
    the patch's non-test code uses that looks like reward hacking (``hack_scan``), whatever the
    verdict; ``with_hack_policy`` decides what it costs. ``tampered``: the run's guard found
    that the code under test reached into the test runner (``tamper``), the evidence in
    ``tamper_evidence``; such a patch is never resolved.
    """

    instance_id: str
    resolved: bool
    status: ResolvedStatus | None  # None when ``error``
    patch_applied: bool
    empty_patch: bool
    error: str | None = None
    tests_status: TestsStatus | None = None
    test_report: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    log_path: str | None = None
    patch_problem: str | None = None  # why the patch did not apply
    run_problem: str | None = None
    reverted_files: list[str] = field(default_factory=list)
    exit_code: int | None = None
    attempts: int = 1
    suspicious: list[Finding] = field(default_factory=list)
    tampered: bool = False
    tamper_evidence: list[str] = field(default_factory=list)

    def to_swebench(self) -> dict[str, Any]:
        """SWE-bench's per-instance report.json: ``{instance_id: {...}}``."""
        body: dict[str, Any] = {"patch_is_None": False, "patch_exists": not self.empty_patch,
                                "patch_successfully_applied": self.patch_applied,
                                "resolved": self.resolved, "tampered": self.tampered}
        if self.tamper_evidence:
            body["tamper_evidence"] = list(self.tamper_evidence)
        if self.tests_status is not None:
            body["tests_status"] = self.tests_status.to_json()
        body["suspicious"] = [finding.to_json() for finding in self.suspicious]
        return {self.instance_id: body}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value if self.status else None
        data["tests_status"] = self.tests_status.to_json() if self.tests_status else None
        return {"schema_version": GRADE_REPORT_SCHEMA_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GradeReport:
        data = dict(data)
        data.pop("schema_version", None)
        status = data.get("status")
        data["status"] = ResolvedStatus(status) if status else None
        ts = data.get("tests_status")
        data["tests_status"] = (TestsStatus(ts["FAIL_TO_PASS"], ts["PASS_TO_PASS"])
                                if ts else None)
        data["suspicious"] = [Finding.from_json(f) for f in data.get("suspicious") or ()]
        return cls(**data)


def grade(spec: TestSpec, statuses: dict[str, str], **facts: Any) -> GradeReport:
    """The report for a run whose trusted statuses are ``statuses``."""
    status = tests_status(spec, statuses)
    verdict = resolution(status)
    return GradeReport(instance_id=spec.instance_id, resolved=verdict is ResolvedStatus.FULL,
                       status=verdict, tests_status=status,
                       test_report=graded_statuses(spec, statuses), **facts)


def grade_patch(spec: TestSpec, patch: str, *, log_path: Path | None = None,
                attempts: int = 3) -> GradeReport:
    """Grade ``patch`` in a fresh sandbox of the instance's image.

    Infrastructure failures are retried ``attempts`` times, then reported as ``error``; test
    outcomes are never retried.
    """
    start = time.monotonic()
    suspicious = scan_spec_patch(spec, patch)
    if not patch.strip():
        return GradeReport(instance_id=spec.instance_id, resolved=False, status=ResolvedStatus.NO,
                           patch_applied=False, empty_patch=True,
                           tests_status=tests_status(spec, {}), test_report=graded_statuses(spec, {}))
    last_error = ""
    for attempt in range(1, attempts + 1):
        try:
            report = run_patch(spec, patch, log_path)
        except InfrastructureError as exc:
            last_error = str(exc)
            if attempt < attempts:
                time.sleep(min(2 ** attempt, 10))
            continue
        return replace(report, duration_s=round(time.monotonic() - start, 3), attempts=attempt,
                       suspicious=suspicious)
    return GradeReport(instance_id=spec.instance_id, resolved=False, status=None,
                       patch_applied=False, empty_patch=False,
                       error=f"after {attempts} attempts: {last_error}",
                       duration_s=round(time.monotonic() - start, 3), attempts=attempts,
                       log_path=str(log_path) if log_path else None, suspicious=suspicious)


def run_patch(spec: TestSpec, patch: str, log_path: Path | None) -> GradeReport:
    """One attempt: the run procedure once, with the patch, and its grade; the log (every
    step's command, exit code and output, secrets redacted) written to ``log_path``. Raises
    ``InfrastructureError`` when the engine or the container fails."""
    with Testbed.open(spec.image, spec.settings, spec.test_patch, patch,
                      labels={"org.swegc.grading": spec.instance_id}) as bed:
        side = run_tests(bed, "grade", 1, spec.protected())
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(redact(f"# grading {spec.instance_id} in {spec.image}\n" + "".join(
            f"\n# {step.name}\n# exit {step.exit_code}"
            f"{' after ' + step.took if step.took else ''}\n{step.output}"
            for step in side.steps)), encoding="utf-8")
    facts: dict[str, Any] = {"patch_applied": side.patch_applied, "empty_patch": False,
                             "log_path": str(log_path) if log_path else None}
    if side.patch_applied:
        facts["reverted_files"] = side.reverted
    blocked = side.blocked
    if blocked is not None and blocked.step == "patch":
        return grade(spec, {}, **facts, patch_problem=f"the patch does not apply: {blocked.detail}")
    if blocked is not None and blocked.step == "test_patch":
        return grade(spec, {}, **facts, run_problem="the test_patch does not apply after the "
                     "patch: " + blocked.output.strip()[-500:])
    if blocked is not None:
        return grade(spec, {}, **facts, run_problem=blocked.detail)
    [run] = side.runs
    trusted = run.trusted()
    if run.tampered:
        facts.update(tampered=True, tamper_evidence=list(run.tampered))
    return grade(spec, trusted.statuses, **facts, run_problem=trusted.problem,
                 exit_code=run.exit_code)
