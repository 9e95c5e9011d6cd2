"""Running one patch against an instance's tests, in a fresh sandbox of its image.

1. apply the patch (``git apply``, then ``--recount`` for hunk headers with wrong line counts;
   nothing fuzzier): a patch that does not apply is reported, ``patch_applied=False``;
2. put back every test-infrastructure file the patch touched (``guard``), and every file the
   test_patch touches, as they are at base_commit (removing ones base_commit lacks);
3. apply the test_patch, run the spec's ``prepare`` commands (``prepare``; a failure leaves
   the patch unresolved) and run the test command once, with the row's env plus
   ``guard.run_env`` (for pytest a JUnit report at a fresh random path);
4. keep only results the channels agree on (``trust``) and grade them (``grading``).
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

from swegc.redact import redact
from swegc.runtime.harness.grading import GradeReport, grade
from swegc.runtime.harness.guard import (graded_test_files, guarded_reason, parse_numstat,
                                         patch_paths_command, read_junit, restore_script, run_env,
                                         with_env)
from swegc.runtime.harness.parsers import get_parser
from swegc.runtime.harness.prepare import run_prepare
from swegc.runtime.harness.test_spec import TestSpec
from swegc.runtime.harness.trust import trusted_run
from swegc.runtime.sandbox import InfrastructureError, SandboxLimits, open_sandbox

WORK = "/tmp/swegc"
PATCH_PATH = f"{WORK}/model.patch"
TEST_PATCH_PATH = f"{WORK}/test.patch"
OUTPUT_BYTES = 32 * 1024 * 1024  # a test log is read whole: a cut log would lose results
APPLY = "git apply --verbose --whitespace=nowarn"


def run_patch(spec: TestSpec, patch: str, log_path: Path | None) -> GradeReport:
    """One attempt; raises ``InfrastructureError`` when the engine or the container fails."""
    parser = get_parser(spec.parser, spec.parser_options)
    junit_path = f"/tmp/swegc-{secrets.token_hex(12)}/report.xml"
    log = _Log(spec, log_path)
    limits = SandboxLimits(network=spec.network, env=dict(spec.env), output_bytes=OUTPUT_BYTES)
    facts = {"patch_applied": False, "empty_patch": False,
             "log_path": str(log_path) if log_path else None}
    with contextlib.closing(open_sandbox(spec.image, limits,
                                         labels={"org.swegc.grading": spec.instance_id})) as box:
        box.write_file(PATCH_PATH, patch.encode("utf-8"))
        box.write_file(TEST_PATCH_PATH, spec.test_patch.encode("utf-8"))
        applied = box.execute(f"{APPLY} {PATCH_PATH} || {APPLY} --recount {PATCH_PATH}",
                              timeout_s=120)
        log.add("apply the patch", applied.exit_code, applied.output)
        if applied.exit_code != 0:
            tail = "\n".join(applied.output.strip().splitlines()[-8:])
            log.write()
            return grade(spec, {}, **facts, patch_problem=f"the patch does not apply: {tail}")
        facts["patch_applied"] = True
        touched = parse_numstat(box.execute(patch_paths_command(PATCH_PATH), timeout_s=60).output)
        protected = set(spec.test_files) | graded_test_files(
            (*spec.fail_to_pass, *spec.pass_to_pass))
        reverted = [p for p in touched if guarded_reason(p, protected)]
        restore = box.execute(restore_script(spec.base_commit,
                                                       dict.fromkeys([*reverted, *spec.test_files])),
                              timeout_s=120)
        log.add(f"restore test files and infrastructure ({', '.join(reverted) or 'none changed'})",
                restore.exit_code, restore.output)
        if restore.exit_code != 0:
            raise InfrastructureError(f"could not restore test files: {restore.output[-500:]}")
        facts["reverted_files"] = reverted
        tested = box.execute(f"{APPLY} {TEST_PATCH_PATH}", timeout_s=120)
        log.add("apply the test_patch", tested.exit_code, tested.output)
        if tested.exit_code != 0:
            log.write()
            return grade(spec, {}, **facts, run_problem="the test_patch does not apply after "
                         "the patch: " + tested.output.strip()[-500:])
        if spec.settings.prepare:
            prepared = run_prepare(box, spec.settings.prepare, spec.timeout_s)
            log.add("tests.prepare", 1 if prepared.problem else 0, prepared.log)
            if prepared.problem:
                log.write()
                return grade(spec, {}, **facts, run_problem=prepared.problem)
        command = with_env(spec.test_command, run_env(spec.parser, junit_path))
        result = box.execute(command, timeout_s=spec.timeout_s)
        log.add(f"$ {spec.test_command}", result.exit_code, result.output,
                f"{result.duration_s:.2f}s")
        junit = read_junit(box, junit_path, spec.parser)
        log.write()
        parsed = parser.parse(result.output)
        trusted = trusted_run(parser, parsed, result.output, result.exit_code, result.duration_s,
                              result.timed_out, junit)
        return grade(spec, trusted.statuses, **facts, run_problem=trusted.problem,
                     exit_code=result.exit_code)


class _Log:
    """The grading log: each step's command, exit code and output, secrets redacted."""

    def __init__(self, spec: TestSpec, path: Path | None):
        self.path = path
        self.parts = [f"# grading {spec.instance_id} in {spec.image}\n"]

    def add(self, step: str, exit_code: int, output: str, extra: str = "") -> None:
        self.parts.append(f"\n# {step}\n# exit {exit_code}{' after ' + extra if extra else ''}\n"
                          f"{output}")

    def write(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(redact("".join(self.parts)), encoding="utf-8")

