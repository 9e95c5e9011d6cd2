"""Run an instance's tests before and after its fix in a sandbox and judge the runs.

One sandbox serves both sides, through the run procedure grading uses (``run``): the before
side applies the test_patch (checking that the fix applies on top), prepares and runs the tests
N times; the after side applies the fix, puts back what a patch may not change and the test
files, applies the test_patch again, prepares and runs the tests N times. So an instance is
valid only if its own fix resolves it when graded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swegc.reasons import Reason
from swegc.redact import redact
from swegc.runtime.harness.directive_results import directives_without_results
from swegc.runtime.harness.guard import Protected
from swegc.runtime.harness.judging import Judgement, judge
from swegc.runtime.harness.network_hint import network_hint, timeout_hint
from swegc.runtime.harness.run import SideResult, Testbed, TestRun, run_tests
from swegc.runtime.harness.test_spec import patch_paths
from swegc.test_settings import TestSettings
from swegc.runtime.harness.trust import ObservedRun
from swegc.runtime.sandbox import InfrastructureError


@dataclass(frozen=True)
class ValidationPlan:
    """One instance to validate: its patches, how its tests run, and how often."""

    instance_id: str
    image: str
    base_commit: str
    test_patch: str
    patch: str
    settings: TestSettings  # as its row will record them (directives in the command)
    runs: int  # per side
    directive_kind: str = "files"  # "files" or "cases" (test-case names)

    def protected(self) -> Protected:
        """What a patch may not change, as grading will put it back: the fix is the instance's
        own (gold) patch; the graded test lists are what validation finds, so none yet."""
        return Protected(self.base_commit, patch_paths(self.test_patch, self.instance_id), (),
                         self.settings.file_globs, self.patch)


@dataclass
class Verdict:
    status: str  # "valid" | "rejected" | "error"
    reason: str | None
    detail: str | None
    judgement: Judgement
    runs: list[dict[str, Any]]
    duration_s: float
    attempts: int
    # Directives (changed test files or case names) no after-run test belongs to; None: not
    # known (a parser whose ids say no file, or a verdict stored before this was recorded).
    unrun_directives: list[str] | None = None
    # What the runs showed that a user should know (tests failing for want of the network).
    warnings: list[str] = field(default_factory=list)
    # CPU seconds the validation's container used (its tests, the patches applied, prepare);
    # 0.0 where not known (never validated, an engine that did not say, a verdict stored before)
    cpu_s: float = 0.0

    @property
    def FAIL_TO_PASS(self) -> list[str]:  # noqa: N802 - SWE-bench's column name
        return self.judgement.FAIL_TO_PASS

    @property
    def PASS_TO_PASS(self) -> list[str]:  # noqa: N802 - SWE-bench's column name
        return self.judgement.PASS_TO_PASS

    @property
    def flaky_tests(self) -> list[str]:
        return self.judgement.flaky_tests

    @classmethod
    def not_validated(cls, status: str, reason: str, detail: str) -> Verdict:
        """The verdict of an instance that never reached its tests (its image failed, say)."""
        return cls(status, reason, detail, Judgement(reason=reason, detail=detail), [], 0.0, 1)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        """The verdict as ``to_json`` stored it (in the build store)."""
        judgement = Judgement(
            FAIL_TO_PASS=list(data["FAIL_TO_PASS"]), PASS_TO_PASS=list(data["PASS_TO_PASS"]),
            PASS_TO_FAIL=list(data["PASS_TO_FAIL"]), flaky_tests=list(data["flaky_tests"]),
            unknown_before=list(data.get("unknown_before", [])), reason=data["reason"],
            detail=data["detail"])
        return cls(data["status"], data["reason"], data["detail"], judgement, list(data["runs"]),
                   float(data["duration_s"]), int(data["attempts"]),
                   data.get("unrun_directives"), list(data.get("warnings") or []),
                   float(data.get("cpu_s") or 0.0))

    def to_json(self) -> dict[str, Any]:
        j = self.judgement
        return {"status": self.status, "reason": self.reason, "detail": self.detail,
                "FAIL_TO_PASS": j.FAIL_TO_PASS, "PASS_TO_PASS": j.PASS_TO_PASS,
                "PASS_TO_FAIL": j.PASS_TO_FAIL, "flaky_tests": j.flaky_tests,
                "unknown_before": j.unknown_before,
                "runs": self.runs, "duration_s": round(self.duration_s, 3),
                "attempts": self.attempts, "unrun_directives": self.unrun_directives,
                "warnings": self.warnings, "cpu_s": round(self.cpu_s, 3)}


def validate(plan: ValidationPlan, log_dir: Path, attempts: int = 3) -> Verdict:
    """Validate with retries on infrastructure failures (never on test outcomes)."""
    start = time.monotonic()
    last_error = ""
    for attempt in range(1, attempts + 1):
        try:
            verdict = _validate_once(plan, log_dir)
            verdict.duration_s = time.monotonic() - start
            verdict.attempts = attempt
            return verdict
        except InfrastructureError as exc:
            last_error = str(exc)
            time.sleep(min(2 ** attempt, 10))
    return Verdict("error", "infrastructure", f"after {attempts} attempts: {last_error}",
                   Judgement(reason="infrastructure"), [], time.monotonic() - start, attempts)


class _Rejected(Exception):
    """A side ended in a rejection: the reason and its detail."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _validate_once(plan: ValidationPlan, log_dir: Path) -> Verdict:
    folder = log_dir / plan.instance_id
    folder.mkdir(parents=True, exist_ok=True)
    observed: dict[str, list[ObservedRun]] = {"before": [], "after": []}
    after_logs: list[str] = []
    summaries: list[dict[str, Any]] = []
    bed: Testbed | None = None
    try:
        with Testbed.open(plan.image, plan.settings, plan.test_patch, plan.patch) as bed:
            for side, protected in (("before", None), ("after", plan.protected())):
                done = run_tests(bed, side, plan.runs, protected, until=_stops_validation)
                _record(plan, folder, side, done, observed[side], summaries)
                after_logs += [run.output for run in done.runs] if side == "after" else []
            parser = bed.parser
    except _Rejected as rejected:
        return Verdict("rejected", rejected.reason, rejected.detail,
                       Judgement(reason=rejected.reason, detail=rejected.detail), summaries, 0.0, 1,
                       cpu_s=_cpu_s(bed))
    judgement = judge(observed["before"], observed["after"], parser)
    status = "valid" if judgement.valid else "rejected"
    unrun = None  # said only of runs that ran properly: else the rejection says what failed
    if judgement.valid or judgement.reason == "no_fail_to_pass":
        unrun = directives_without_results(
            plan.settings.test_directives,
            {t for run in observed["after"] for t in run.parsed.statuses},
            plan.settings.parser, plan.directive_kind)
    hint = network_hint(plan.settings.network, observed["before"], observed["after"], after_logs)
    detail = f"{judgement.detail}; {hint}" if hint and not judgement.valid else judgement.detail
    return Verdict(status, judgement.reason, detail, judgement, summaries, 0.0, 1, unrun,
                   [hint] if hint else [], _cpu_s(bed))


def _cpu_s(bed: Testbed | None) -> float:
    """The CPU time of the testbed's container, read as it closed (0.0 when not known)."""
    return float(getattr(bed.box, "cpu_s", None) or 0.0) if bed is not None else 0.0


def _stops_validation(run: TestRun) -> bool:
    """A run past the time limit, one whose channels disagree, or a tampered one rejects the
    instance: no further run of it is needed."""
    return run.timed_out or run.disagreement is not None or bool(run.tampered)


def _record(plan: ValidationPlan, folder: Path, side: str, done: SideResult,
            observed: list[ObservedRun], summaries: list[dict[str, Any]]) -> None:
    """Write one side's logs, keep its runs for the judgement, and raise ``_Rejected`` when
    the side rejects the instance (in the order the steps ran)."""
    blocked = done.blocked
    if blocked is not None and blocked.step == "patch":
        raise _Rejected(Reason.PATCH_DOES_NOT_APPLY, f"patch does not apply: {blocked.detail}")
    if blocked is not None and blocked.step == "test_patch":
        after = " after the patch" if side == "after" else ""
        raise _Rejected(Reason.TEST_PATCH_DOES_NOT_APPLY,
                        f"test_patch does not apply{after}: {blocked.detail}")
    if done.reverted:
        (folder / "guarded.log").write_text(
            "put back as at the base commit before the after runs, as grading does (test "
            "infrastructure):\n" + "\n".join(done.reverted) + "\n")
    if done.prepared is not None:
        (folder / f"prepare-{side}.log").write_text(redact(
            f"# {plan.instance_id} {side}: tests.prepare\n{done.prepared.log}"))
    if blocked is not None:  # prepare failed
        raise _Rejected(Reason.TIMEOUT if blocked.timed_out else Reason.PREPARE_FAILED,
                        f"{side} the patch: {blocked.detail}")
    for run in done.runs:
        log_name = f"{side}-{run.attempt}.log"
        (folder / log_name).write_text(redact(
            f"# {plan.instance_id} {side} run {run.attempt}\n# $ {plan.settings.test_command}\n"
            f"# exit {run.exit_code} after {run.duration_s:.2f}s\n{run.output}"))
        if run.tampered:  # a run that grading would call tampered is no reference either
            raise _Rejected(Reason.TAMPERED,
                            f"{side} run {run.attempt}: {'; '.join(run.tampered)}")
        if run.disagreement is not None:  # what grading believes, validation believes
            raise _Rejected(Reason.RESULTS_DISAGREE,
                            f"{side} run {run.attempt}: {run.disagreement}")
        seen = run.observed()
        observed.append(seen)
        counts: dict[str, int] = {}
        for status in seen.parsed.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        summaries.append({"side": side, "attempt": run.attempt, "exit_code": run.exit_code,
                          "duration_s": round(run.duration_s, 3), "counts": counts,
                          "collection_errors": list(run.parsed.collection_errors),
                          "log": f"{plan.instance_id}/{log_name}"})
        if run.timed_out:
            hint = timeout_hint(plan.settings.network, run.output)
            raise _Rejected(Reason.TIMEOUT, f"{side} run {run.attempt} exceeded "
                                            f"{plan.settings.timeout_s}s"
                                            + (f"; {hint}" if hint else ""))
