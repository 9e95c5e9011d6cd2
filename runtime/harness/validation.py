"""Run an instance's tests before and after its fix in a sandbox and judge the runs."""

from __future__ import annotations

import contextlib
import secrets
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swegc.redact import redact
from swegc.runtime.harness.directive_results import directives_without_results
from swegc.runtime.harness.guard import (guarded_reason, parse_numstat, patch_paths_command,
                                         read_junit, restore_script, run_env, with_env)
from swegc.runtime.harness.judging import Judgement, ObservedRun, check_run, judge
from swegc.runtime.harness.parsers import ParseResult, get_parser
from swegc.runtime.harness.prepare import run_prepare
from swegc.runtime.harness.trust import cross_check
from swegc.runtime.sandbox import InfrastructureError, SandboxLimits, open_sandbox

if TYPE_CHECKING:
    from swegc.runtime.harness.test_spec import TestSettings
    from swegc.runtime.sandbox import Sandbox

TEST_PATCH_PATH = "/tmp/swegc/test.patch"
PATCH_PATH = "/tmp/swegc/fix.patch"
# Baked into every instance image (with tests.env and the instance's env), so a harness that
# runs test_command in the image gets what validation got: no bytecode left from the other
# side's sources, and a fixed hash seed.
TEST_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
OUTPUT_BYTES = 32 * 1024 * 1024  # a test log is read whole: a cut log would lose results


@dataclass(frozen=True)
class ValidationPlan:
    instance_id: str
    image: str
    test_command: str  # the spec's command with the directives appended
    test_patch: str
    patch: str
    parser: str
    runs: int
    timeout_s: int
    network: bool = False
    env: dict[str, str] = field(default_factory=dict)
    parser_options: dict[str, Any] | None = None
    directives: tuple[str, ...] = ()  # the changed test files (or case names) in test_command
    directive_kind: str = "files"  # "files" or "cases" (test-case names)
    prepare: tuple[str, ...] = ()  # tests.prepare: after each side's patches, before its runs

    @classmethod
    def for_settings(cls, settings: TestSettings, *, instance_id: str, image: str,
                     test_patch: str, patch: str, runs: int,
                     directive_kind: str = "files") -> ValidationPlan:
        """The plan that runs an instance's tests as its row will say they run."""
        return cls(instance_id=instance_id, image=image, test_command=settings.test_command,
                   test_patch=test_patch, patch=patch, parser=settings.parser, runs=runs,
                   timeout_s=settings.timeout_s, network=settings.network,
                   env=dict(settings.env), parser_options=settings.parser_options,
                   directives=tuple(settings.test_directives), directive_kind=directive_kind,
                   prepare=tuple(settings.prepare))


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
                   data.get("unrun_directives"))

    def to_json(self) -> dict[str, Any]:
        j = self.judgement
        return {"status": self.status, "reason": self.reason, "detail": self.detail,
                "FAIL_TO_PASS": j.FAIL_TO_PASS, "PASS_TO_PASS": j.PASS_TO_PASS,
                "PASS_TO_FAIL": j.PASS_TO_FAIL, "flaky_tests": j.flaky_tests,
                "unknown_before": j.unknown_before,
                "runs": self.runs, "duration_s": round(self.duration_s, 3),
                "attempts": self.attempts, "unrun_directives": self.unrun_directives}


def full_test_command(command: str, directives: list[str]) -> str:
    return " ".join([command, *(shlex.quote(d) for d in directives)])


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


def _apply(box: Sandbox, path: str, what: str) -> str | None:
    result = box.execute(f"git apply --verbose --whitespace=nowarn {path}", timeout_s=120)
    if result.exit_code != 0:
        return f"{what} does not apply: " + "\n".join(result.output.strip().splitlines()[-8:])
    return None


def _restore_guarded(box: Sandbox, plan: ValidationPlan) -> list[str]:
    """Put back the test infrastructure the fix changed, as grading a patch does (``guard``),
    so that an instance is valid only if its own patch resolves it when graded."""
    touched = parse_numstat(box.execute(patch_paths_command(PATCH_PATH), timeout_s=60).output)
    guarded = [p for p in touched if guarded_reason(p)]
    if guarded:
        base = box.execute("git rev-parse HEAD", timeout_s=60).output.strip()
        restored = box.execute(restore_script(base, guarded), timeout_s=120)
        if restored.exit_code != 0:
            raise InfrastructureError(f"could not restore {guarded}: {restored.output[-500:]}")
    return guarded


def _validate_once(plan: ValidationPlan, log_dir: Path) -> Verdict:
    parser = get_parser(plan.parser, plan.parser_options)
    folder = log_dir / plan.instance_id
    folder.mkdir(parents=True, exist_ok=True)
    observed: dict[str, list[ObservedRun]] = {"before": [], "after": []}
    summaries: list[dict[str, Any]] = []

    def reject(reason: str, detail: str) -> Verdict:
        return Verdict("rejected", reason, detail, Judgement(reason=reason, detail=detail),
                       summaries, 0.0, 1)

    # TEST_ENV again, whatever the image says: a stale .pyc from the before side (same size,
    # same second) would make the after side run the old code. No user site-packages and no
    # pytest cache, as when a patch is graded (guard.run_env).
    limits = SandboxLimits(network=plan.network, env={**TEST_ENV, **plan.env},
                           output_bytes=OUTPUT_BYTES)
    junit_path = f"/tmp/swegc-{secrets.token_hex(12)}/report.xml"
    command = with_env(plan.test_command, run_env(plan.parser, junit_path))
    with contextlib.closing(open_sandbox(plan.image, limits)) as box:
        box.write_file(TEST_PATCH_PATH, plan.test_patch.encode("utf-8"))
        box.write_file(PATCH_PATH, plan.patch.encode("utf-8"))
        # Both patches must apply before any test time is spent (one exec: 3 = the fix).
        applied = box.execute(f"git apply --verbose --whitespace=nowarn {TEST_PATCH_PATH} || exit 2; "
                              f"git apply --check {PATCH_PATH} || exit 3", timeout_s=120)
        tail = "\n".join(applied.output.strip().splitlines()[-8:])
        if applied.exit_code == 2:
            return reject("test_patch_does_not_apply", f"test_patch does not apply: {tail}")
        if applied.exit_code != 0:
            return reject("patch_does_not_apply", f"patch does not apply: {tail}")
        for side in ("before", "after"):
            if side == "after":
                problem = _apply(box, PATCH_PATH, "patch")
                if problem:
                    return reject("patch_does_not_apply", problem)
                guarded = _restore_guarded(box, plan)
                if guarded:
                    (folder / "guarded.log").write_text(
                        "put back as at the base commit before the after runs, as grading "
                        "does (test infrastructure):\n" + "\n".join(guarded) + "\n")
            if plan.prepare:
                prepared = run_prepare(box, plan.prepare, plan.timeout_s)
                (folder / f"prepare-{side}.log").write_text(redact(
                    f"# {plan.instance_id} {side}: tests.prepare\n{prepared.log}"))
                if prepared.problem:
                    return reject("timeout" if prepared.timed_out else "prepare_failed",
                                  f"{side} the patch: {prepared.problem}")
            for attempt in range(1, plan.runs + 1):
                result = box.execute(command, timeout_s=plan.timeout_s)
                log_name = f"{side}-{attempt}.log"
                (folder / log_name).write_text(redact(
                    f"# {plan.instance_id} {side} run {attempt}\n# $ {plan.test_command}\n"
                    f"# exit {result.exit_code} after {result.duration_s:.2f}s\n{result.output}"))
                parsed = parser.parse(result.output)
                run = ObservedRun(side, attempt, result.exit_code, result.duration_s, parsed,
                                  result.timed_out)
                if check_run(run, parser) is None:  # else judge() rejects it with its reason
                    # What grading believes, validation believes: the same cross-checks.
                    checked = cross_check(parser, parsed, result.output, result.exit_code,
                                          read_junit(box, junit_path, plan.parser))
                    if checked.problem:
                        return reject("results_disagree", f"{side} run {attempt}: "
                                      f"{checked.problem}")
                    parsed = ParseResult(checked.statuses, parsed.collection_errors,
                                         parsed.summary_seen)
                    run = ObservedRun(side, attempt, result.exit_code, result.duration_s,
                                      parsed, result.timed_out)
                observed[side].append(run)
                counts: dict[str, int] = {}
                for status in parsed.statuses.values():
                    counts[status] = counts.get(status, 0) + 1
                summaries.append({"side": side, "attempt": attempt, "exit_code": result.exit_code,
                                  "duration_s": round(result.duration_s, 3), "counts": counts,
                                  "collection_errors": list(parsed.collection_errors),
                                  "log": f"{plan.instance_id}/{log_name}"})
                if result.timed_out:
                    return reject("timeout", f"{side} run {attempt} exceeded {plan.timeout_s}s")
    judgement = judge(observed["before"], observed["after"], parser)
    status = "valid" if judgement.valid else "rejected"
    unrun = None  # said only of runs that ran properly: else the rejection says what failed
    if judgement.valid or judgement.reason == "no_fail_to_pass":
        unrun = directives_without_results(
            plan.directives, {t for run in observed["after"] for t in run.parsed.statuses},
            plan.parser, plan.directive_kind)
    return Verdict(status, judgement.reason, judgement.detail, judgement, summaries, 0.0, 1, unrun)
