"""The one run procedure: an instance's tests on a patch, in a sandbox of its image.

Compile's validation and the grading of a patch walk the same steps, so that an instance is
valid only if its own patch resolves it when graded:

1. open a sandbox of the image (the settings' network and env over ``TEST_ENV``, whole logs)
   and write the patch and the test_patch into it (``Testbed.open``);
2. apply the patch (``git apply``, then ``--recount`` for hunk headers with wrong line counts;
   nothing fuzzier);
3. put back what the patch may not change, and every file the test_patch touches, as at the
   base commit (``guard.put_back``: the one rule set);
4. apply the test_patch;
5. run the spec's ``tests.prepare`` commands (``run_prepare``): some repositories build part
   of their code at install time from sources a fix may change (hydra compiles its ANTLR
   grammar, pandas its Cython extensions), and the image holds what ``base_commit`` built.
   SWE-bench's eval scripts reinstall for that reason; swegc runs only the commands the spec
   names, on each side of validation and in every grading, so that both see the same thing.
   A command that fails or runs out of time means the patched tree does not build: the patch
   is not resolved, and an instance whose own fix does not build is rejected;
6. run the test command with ``guard.run_env`` (for pytest a JUnit report at a fresh random
   path) and, for pytest, unittest and Django, the run's guard (``tamper``), parse its log, keep only results the channels
   agree on (``trust``), and call the run tampered when the guard says so.

``run_tests`` does 2-6 once per side: grading once, with the patch; validation twice in one
sandbox, first without the patch (steps 4-6, checking that the patch applies on top before any
test time is spent), then with it, running the tests N times on each side.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from swegc.runtime.harness.guard import (Protected, put_back, read_file, read_junit, run_env,
                                         with_env)
from swegc.runtime.harness.network_hint import hang_dump_option
from swegc.runtime.harness.parsers import LogParser, ParseResult, get_parser
from swegc.runtime.harness.tamper import RunGuard, guard_problems
from swegc.test_settings import TEST_ENV, TestSettings
from swegc.runtime.harness.trust import (ObservedRun, RunProblem, TrustedRun, check_run,
                                         cross_check)
from swegc.runtime.sandbox import Sandbox, SandboxLimits, open_sandbox

WORK = "/tmp/swegc"
PATCH_PATH = f"{WORK}/patch.diff"
TEST_PATCH_PATH = f"{WORK}/test.patch"
OUTPUT_BYTES = 32 * 1024 * 1024  # a test log is read whole: a cut log would lose results
APPLY = "git apply --verbose --whitespace=nowarn"
_TAIL_LINES = 8
_PREPARE_TAIL_LINES = 12
# Exit codes of the test_patch step when it also checks that the patch applies on top.
_TEST_PATCH_FAILED, _PATCH_WILL_NOT_APPLY = 2, 3


@dataclass(frozen=True)
class Step:
    """One command of the procedure, as a log shows it."""

    name: str
    exit_code: int
    output: str
    took: str = ""  # "1.23s" for a test run

    @property
    def tail(self) -> str:
        """The last lines of the output: what a one-line reason quotes."""
        return "\n".join(self.output.strip().splitlines()[-_TAIL_LINES:])


@dataclass(frozen=True)
class TestRun:
    """One run of the test command: its log as parsed, and what of it can be believed.

    ``problem``: the run did not happen properly (``trust.check_run``: a timeout, no summary,
    an exit code that contradicts the results). ``checked``, when there is none: the statuses
    the channels agree on, or why they disagree (``trust.cross_check``). ``tampered``: the
    guard's evidence that the code under test reached into the runner (``tamper``); such a run
    counts no result.
    """

    __test__ = False  # not a pytest test class

    side: str  # "before" | "after" (validation), "grade"
    attempt: int
    exit_code: int
    duration_s: float
    output: str
    timed_out: bool
    parsed: ParseResult
    problem: RunProblem | None
    checked: TrustedRun | None
    tampered: tuple[str, ...] = ()

    @property
    def disagreement(self) -> str | None:
        """Why the channels of a proper run disagree, or None."""
        return self.checked.problem if self.checked is not None else None

    def observed(self) -> ObservedRun:
        """The run for ``judging.judge``: statuses as cross-checked when the run was proper."""
        parsed = self.parsed
        if self.checked is not None and self.checked.problem is None:
            parsed = ParseResult(self.checked.statuses, parsed.collection_errors,
                                 parsed.summary_seen)
        return ObservedRun(self.side, self.attempt, self.exit_code, self.duration_s, parsed,
                           self.timed_out)

    def trusted(self) -> TrustedRun:
        """The statuses a grade counts: none, with the reason, unless the run was proper, its
        channels agree and it was not tampered with."""
        if self.tampered:
            return TrustedRun({}, "the run was tampered with: " + "; ".join(self.tampered))
        if self.problem is not None:
            return TrustedRun({}, self.problem.detail)
        assert self.checked is not None
        return self.checked


@dataclass(frozen=True)
class Blocked:
    """Why a side's tests never ran: ``patch`` or ``test_patch`` did not apply (``detail``:
    the last lines git printed, ``output``: all of it), or ``prepare`` failed (``detail``: its
    problem; ``timed_out``: it ran past the time limit)."""

    step: str
    detail: str
    output: str = ""
    timed_out: bool = False


@dataclass
class SideResult:
    """What ``run_tests`` did on one side, step by step."""

    steps: list[Step] = field(default_factory=list)  # every command, in order (the log)
    patch_applied: bool = False
    reverted: list[str] = field(default_factory=list)  # what the patch changed, put back
    prepared: PrepareResult | None = None
    runs: list[TestRun] = field(default_factory=list)
    blocked: Blocked | None = None


@dataclass(frozen=True)
class PrepareResult:
    log: str  # every command with its exit code and output
    problem: str | None  # None when every command succeeded
    timed_out: bool = False


def run_prepare(box: Sandbox, commands: tuple[str, ...], timeout_s: int) -> PrepareResult:
    """Run ``commands`` in ``/testbed`` one after another, stopping at the first failure.

    Each runs in a subshell: a ``cd`` or ``export`` in one never reaches the test command,
    which must run as it does in a harness that knows nothing of ``prepare``.
    """
    parts: list[str] = []
    for command in commands:
        result = box.execute(f"(\n{command}\n)", timeout_s=timeout_s, cwd="/testbed")
        parts.append(f"# $ {command}\n# exit {result.exit_code} after {result.duration_s:.2f}s"
                     f"{' (timed out)' if result.timed_out else ''}\n{result.output}\n")
        if result.exit_code != 0 or result.timed_out:
            tail = "\n".join(result.output.strip().splitlines()[-_PREPARE_TAIL_LINES:])
            why = (f"ran past {timeout_s}s" if result.timed_out
                   else f"exited {result.exit_code}")
            return PrepareResult("".join(parts), f"tests.prepare command `{command}` {why}: "
                                 f"{tail}", result.timed_out)
    return PrepareResult("".join(parts), None)


class Testbed:
    """A sandbox of one instance's image with its patches written: where its tests run."""

    __test__ = False  # not a pytest test class
    no_test_patch = False  # an empty test_patch (a synthetic task's): nothing to apply

    def __init__(self, box: Sandbox, settings: TestSettings, parser: LogParser):
        self.box, self.settings, self.parser = box, settings, parser

    @classmethod
    @contextlib.contextmanager
    def open(cls, image: str, settings: TestSettings, test_patch: str, patch: str,
             labels: dict[str, str] | None = None) -> Iterator[Testbed]:
        """Step 1. ``TEST_ENV`` again, whatever the image says: a stale .pyc from validation's
        before side (same size, same second) would make its after side run the old code."""
        parser = get_parser(settings.parser, settings.parser_options)  # before any container
        limits = SandboxLimits(network=settings.network, env={**TEST_ENV, **settings.env},
                               output_bytes=OUTPUT_BYTES)
        with contextlib.closing(open_sandbox(image, limits, labels=labels)) as box:
            box.write_file(PATCH_PATH, patch.encode("utf-8"))
            box.write_file(TEST_PATCH_PATH, test_patch.encode("utf-8"))
            bed = cls(box, settings, parser)
            bed.no_test_patch = not test_patch.strip()
            yield bed

    def apply_patch(self) -> Step:
        result = self.box.execute(f"{APPLY} {PATCH_PATH} || {APPLY} --recount {PATCH_PATH}",
                                  timeout_s=120)
        return Step("apply the patch", result.exit_code, result.output)

    def apply_test_patch(self, check_patch: bool = False) -> Step:
        """Apply the test_patch (exit ``_TEST_PATCH_FAILED`` if it does not); ``check_patch``:
        then check in the same command that the patch applies on top (else
        ``_PATCH_WILL_NOT_APPLY``)."""
        command = f"{APPLY} {TEST_PATCH_PATH} || exit {_TEST_PATCH_FAILED}"
        if self.no_test_patch:
            command = "true"  # no test_patch (a synthetic task: its tests are in the tree)
        if check_patch:
            command += f"; git apply --check {PATCH_PATH} || exit {_PATCH_WILL_NOT_APPLY}"
        result = self.box.execute(command, timeout_s=120)
        return Step("apply the test_patch", result.exit_code, result.output)

    def put_back(self, protected: Protected) -> list[str]:
        """Step 3, by the one rule set; raises ``InfrastructureError`` when it cannot."""
        return put_back(self.box, protected, PATCH_PATH)

    def prepare(self) -> PrepareResult | None:
        if not self.settings.prepare:
            return None
        return run_prepare(self.box, self.settings.prepare, self.settings.timeout_s)

    def run(self, side: str, attempt: int) -> TestRun:
        """Step 6: one run of the test command, its log parsed and cross-checked."""
        settings = self.settings
        junit_path = f"/tmp/swegc-{secrets.token_hex(12)}/report.xml"
        guard = RunGuard.for_parser(settings.parser)
        env, command = run_env(settings.parser, junit_path), settings.test_command
        if settings.parser == "pytest":  # a run about to time out says where it waits
            env["PYTEST_ADDOPTS"] = f"{env['PYTEST_ADDOPTS']} {hang_dump_option(settings.timeout_s)}"
        if guard is not None:
            for path, text in guard.files().items():
                self.box.write_file(path, text.encode("utf-8"))
            env, command = guard.around(env), f"{guard.hook_command()}\n{command}"
        result = self.box.execute(with_env(command, env), timeout_s=settings.timeout_s)
        if guard is not None:
            self.box.execute(guard.unhook_command(), timeout_s=60)
        parsed = self.parser.parse(result.output)
        problem = check_run(ObservedRun(side, attempt, result.exit_code, result.duration_s,
                                        parsed, result.timed_out), self.parser)
        junit = read_junit(self.box, junit_path, settings.parser)
        checked = None
        if problem is None:
            checked = cross_check(self.parser, parsed, result.output, result.exit_code, junit)
        tampered: list[str] = []
        if guard is not None:
            tampered = guard_problems(read_file(self.box, guard.result_path), guard.key,
                                      parsed.statuses, run_proper=problem is None,
                                      junit_xml=junit)
        return TestRun(side, attempt, result.exit_code, result.duration_s, result.output,
                       result.timed_out, parsed, problem, checked, tuple(tampered))


def run_tests(bed: Testbed, side: str, runs: int, protected: Protected | None,
              until: Callable[[TestRun], bool] = lambda run: False) -> SideResult:
    """Steps 2-6 on ``bed``, running the tests ``runs`` times (stopping after a run ``until``
    says). ``protected``: what the patch may not change; None runs the side without the patch
    (validation's before side), which only checks that the patch would apply on top."""
    done = SideResult()
    if protected is not None:
        applied = bed.apply_patch()
        done.steps.append(applied)
        if applied.exit_code != 0:
            done.blocked = Blocked("patch", applied.tail, applied.output)
            return done
        done.reverted = bed.put_back(protected)
        done.steps.append(Step("restore test files and infrastructure "
                               f"({', '.join(done.reverted) or 'none changed'})", 0, ""))
    done.patch_applied = protected is not None
    tested = bed.apply_test_patch(check_patch=protected is None)
    done.steps.append(tested)
    if tested.exit_code != 0:
        which = ("test_patch" if protected is not None or tested.exit_code == _TEST_PATCH_FAILED
                 else "patch")
        done.blocked = Blocked(which, tested.tail, tested.output)
        return done
    done.prepared = bed.prepare()
    if done.prepared is not None:
        done.steps.append(Step("tests.prepare", 1 if done.prepared.problem else 0,
                               done.prepared.log))
        if done.prepared.problem:
            done.blocked = Blocked("prepare", done.prepared.problem,
                                   timed_out=done.prepared.timed_out)
            return done
    for attempt in range(1, runs + 1):
        run = bed.run(side, attempt)
        done.runs.append(run)
        done.steps.append(Step(f"$ {bed.settings.test_command}", run.exit_code, run.output,
                               f"{run.duration_s:.2f}s"))
        if until(run):
            break
    return done
