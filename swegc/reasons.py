"""Why an instance did not become a row, and how a rollout ended: two enums, one text each.

Every rejection reason swegc can record is a ``Reason`` and every way the agent loop can end is
an ``ExitStatus``. Both are ``StrEnum``: a member is equal to the string stored today
(``Reason.NO_FAIL_TO_PASS == "no_fail_to_pass"``), so reports, store entries, datasets and
trajectories written before read the same, and JSON, Parquet and f-strings see the plain text.

``REASONS`` and ``EXIT_STATUSES`` hold the one description of each: what it means and what to
do. The build summary (printed after every compile and by ``swegc status``), the dataset
card, the trajectory card and the README's table all take their text from here, so they cannot
say different things; a test checks that every reason the code produces has an entry. ``python -m swegc.reasons
README.md`` rewrites the README's table; a test checks that it is up to date.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Reason(StrEnum):
    """Why a candidate, an instance or an environment did not make it (a report's ``reason``)."""

    # source.filters, before anything is built
    NOT_SELECTED = "not_selected"
    EXCLUDED = "excluded"  # compile --exclude FILE
    OUTSIDE_DATES = "outside_dates"
    OTHER_BASE_BRANCH = "other_base_branch"
    LABEL_NOT_SELECTED = "label_not_selected"
    EXCLUDED_LABEL = "excluded_label"
    NO_LINKED_ISSUE = "no_linked_issue"
    TOO_LARGE = "too_large"
    NO_TEST_CHANGE = "no_test_change"
    ONLY_TESTS_CHANGED = "only_tests_changed"
    # reading the pull request's change
    COMMIT_MISSING = "commit_missing"
    PATCH_NOT_REPRESENTABLE = "patch_not_representable"
    UNPARSEABLE_DIFF = "unparseable_diff"
    EMPTY_PATCH = "empty_patch"
    # planning
    VERSION_NOT_FOUND = "version_not_found"
    NO_ENVIRONMENT = "no_environment"
    SKIPPED = "skipped"
    # building images
    ENV_BUILD_FAILED = "env_build_failed"
    INSTALL_FAILED = "install_failed"
    BUILD_FAILED = "build_failed"
    BUILD_TIMEOUT = "build_timeout"
    CACHE_LOCKED = "cache_locked"
    DOCKER_ERROR = "docker_error"
    CLONE_UNREADABLE = "clone_unreadable"
    REGISTRY = "registry"
    NODE = "node"
    # validation (the harness)
    TEST_PATCH_DOES_NOT_APPLY = "test_patch_does_not_apply"
    PATCH_DOES_NOT_APPLY = "patch_does_not_apply"
    PREPARE_FAILED = "prepare_failed"
    TIMEOUT = "timeout"
    SUITE_DID_NOT_RUN = "suite_did_not_run"
    SUITE_INCOMPLETE = "suite_incomplete"
    NO_PER_TEST_RESULTS = "no_per_test_results"
    AFTER_COLLECTION_ERROR = "after_collection_error"
    EXIT_CODE_MISMATCH = "exit_code_mismatch"
    RESULTS_DISAGREE = "results_disagree"
    TAMPERED = "tampered"
    NO_FAIL_TO_PASS = "no_fail_to_pass"
    INFRASTRUCTURE = "infrastructure"
    # a rollout's unit (never stored: the next run retries it)
    SANDBOX = "sandbox"
    GRADING = "grading"
    # a synthetic candidate (swegc synthesize)
    DOES_NOT_APPLY = "does_not_apply"
    SYNTAX_ERROR = "syntax_error"
    NO_FAILING_TEST = "no_failing_test"
    TOO_BROAD = "too_broad"
    FLAKY = "flaky"
    DUPLICATE = "duplicate"
    LEAK = "leak"
    SOURCE_UNUSABLE = "source_unusable"
    PER_ENV_REACHED = "per_env_reached"


@dataclass(frozen=True)
class Explanation:
    """What a reason or an exit status means and what a user can do about it."""

    status: str  # the report status it comes with: rejected | skipped | error (retried)
    meaning: str
    action: str


_FILTERS = "source.filters dropped it"

REASONS: dict[Reason, Explanation] = {
    Reason.NOT_SELECTED: Explanation(
        "rejected", "not in source.filters.numbers", f"{_FILTERS}; add the number to build it"),
    Reason.EXCLUDED: Explanation(
        "rejected", "listed (its id or its repository) in the file given to compile --exclude",
        "nothing to fix: it is kept out on purpose (a benchmark's instance, say); remove its "
        "line to build it"),
    Reason.OUTSIDE_DATES: Explanation(
        "rejected", "created outside source.filters.since/until (or compile --since/--until)",
        f"{_FILTERS}; widen since/until to build it"),
    Reason.OTHER_BASE_BRANCH: Explanation(
        "rejected", "merged into a branch other than source.filters.base_branch",
        f"{_FILTERS}; change base_branch or source.git.branches"),
    Reason.LABEL_NOT_SELECTED: Explanation(
        "rejected", "has none of source.filters.labels", f"{_FILTERS}; list one of its labels"),
    Reason.EXCLUDED_LABEL: Explanation(
        "rejected", "has one of source.filters.exclude_labels", f"{_FILTERS}; nothing to fix"),
    Reason.NO_LINKED_ISSUE: Explanation(
        "rejected", "resolves no issue whose text is known (require_linked_issue)",
        "give the issues' text (source.git.issues, or mine from GitHub), or drop "
        "require_linked_issue to use the pull request's own text"),
    Reason.TOO_LARGE: Explanation(
        "rejected", "changes more files or lines than source.filters.max_files/max_lines",
        f"{_FILTERS}; raise the limits to build it"),
    Reason.NO_TEST_CHANGE: Explanation(
        "rejected", "changes no test file (spec globs tests.files; must_touch_tests)",
        "if its tests live elsewhere, widen tests.files"),
    Reason.ONLY_TESTS_CHANGED: Explanation(
        "rejected", "changes only test files (tests.files; must_touch_code)",
        "if code matched tests.files, narrow the globs"),
    Reason.COMMIT_MISSING: Explanation(
        "rejected", "the base or merge commit is not in the clone",
        "fetch the clone again (the pull request's branch may have been rewritten)"),
    Reason.PATCH_NOT_REPRESENTABLE: Explanation(
        "rejected", "the diff cannot be kept as UTF-8 text (binary files)",
        "nothing to fix: a row holds patches as text"),
    Reason.UNPARSEABLE_DIFF: Explanation(
        "rejected", "git and unidiff disagree on the files of the diff",
        "nothing to fix in the spec; the detail names the diff's trouble"),
    Reason.EMPTY_PATCH: Explanation(
        "rejected", "the diff changes no file", "nothing to fix"),
    Reason.VERSION_NOT_FOUND: Explanation(
        "rejected", "no version could be read at the base commit",
        "check the spec's version block against the repository at that commit, or set "
        "instances.<id>.version"),
    Reason.NO_ENVIRONMENT: Explanation(
        "rejected", "no environment covers the instance's version",
        "add an environment whose versions cover it"),
    Reason.SKIPPED: Explanation(
        "skipped", "instances.<id>.skip in the spec", "remove the skip to build it"),
    Reason.ENV_BUILD_FAILED: Explanation(
        "rejected", "the env image failed to build (its log is in logs/images/)",
        "read the log, fix the environment's apt/pip/install, then compile with --retry-failed"),
    Reason.INSTALL_FAILED: Explanation(
        "rejected", "the instance's install failed in its image (its log is in logs/images/)",
        "read the log, fix the environment's install, then compile with --retry-failed"),
    Reason.BUILD_FAILED: Explanation(
        "rejected", "an image build script failed (reported as env_build_failed or "
        "install_failed)", "read the build's log in logs/images/"),
    Reason.BUILD_TIMEOUT: Explanation(
        "error", "an image build ran past its time limit (an hour), after retries",
        "the next compile retries it; a build that always takes this long needs a lighter "
        "install"),
    Reason.CACHE_LOCKED: Explanation(
        "error", "another build kept a lock of the shared package cache past uv's timeout, "
        "after retries", "the next compile retries it; fewer --jobs make it rarer"),
    Reason.DOCKER_ERROR: Explanation(
        "error", "the engine kept failing during an image build, after retries",
        "the next compile retries it; check `docker info` and the free disk"),
    Reason.CLONE_UNREADABLE: Explanation(
        "error", "git cannot read the repository's clone (objects missing)",
        "the detail names each missing object with the paths and commits that need it; "
        "fetch them again (`git fetch --refetch`), or, when the origin lacks them too, leave "
        "out the pull requests that need them; the next compile retries that repository's "
        "instances"),
    Reason.REGISTRY: Explanation(
        "error", "pushing to or pulling from the image registry failed, after retries",
        "check that the registry is up and reachable; the next run retries it"),
    Reason.NODE: Explanation(
        "error", "the Ray worker node running the unit was lost, after retries",
        "the next run retries it; check the cluster's nodes"),
    Reason.TEST_PATCH_DOES_NOT_APPLY: Explanation(
        "rejected", "the test_patch does not apply at the base commit (checked before any "
        "test runs)", "nothing to fix in the spec; the detail shows git's answer"),
    Reason.PATCH_DOES_NOT_APPLY: Explanation(
        "rejected", "the patch does not apply after the test_patch (checked before any test "
        "runs)", "nothing to fix in the spec; the detail shows git's answer"),
    Reason.PREPARE_FAILED: Explanation(
        "rejected", "a tests.prepare command failed before one side's runs (the fix does not "
        "build)", "read logs/<instance_id>/prepare-{before,after}.log"),
    Reason.TIMEOUT: Explanation(
        "rejected", "a run (or a tests.prepare command) hit tests.timeout",
        "raise tests.timeout, or narrow the directives"),
    Reason.SUITE_DID_NOT_RUN: Explanation(
        "rejected", "no parseable results, or a runner error",
        "read the run's log in logs/<instance_id>/; check tests.command and tests.parser"),
    Reason.NO_PER_TEST_RESULTS: Explanation(
        "rejected", "the runner printed its summary (\"1 failed, 22 passed\") but no line per "
        "test: the test command's output, not the instance, is at fault (an old pytest ignores "
        "the A of -rA)", "add a per-test report option to tests.command (-v, or -rfEp for an "
        "old pytest); the detail names the runner's version"),
    Reason.SUITE_INCOMPLETE: Explanation(
        "rejected", "the runner's closing summary is missing (crashed or killed?)",
        "read the run's log in logs/<instance_id>/"),
    Reason.AFTER_COLLECTION_ERROR: Explanation(
        "rejected", "a test file fails to import after the fix (the error would hide its "
        "tests)", "read the after run's log; a dependency the fix needs may be missing"),
    Reason.EXIT_CODE_MISMATCH: Explanation(
        "rejected", "the exit code contradicts the parsed results",
        "read the run's log: a crash, a plugin error or a coverage threshold"),
    Reason.RESULTS_DISAGREE: Explanation(
        "rejected", "pytest's log, its final counts and its JUnit report disagree (as when "
        "grading)", "read the run's log: something rewrote the results"),
    Reason.TAMPERED: Explanation(
        "rejected", "the run's guard saw the code under test reach into the test runner "
        "(pytest's reports, hooks or plugins, unittest's result machinery, the exit), or a test "
        "reported passed that did not pass for the guard",
        "read the run's log and the evidence: the code wraps pytest or unittest internals at "
        "import? the command runs Python with -E, -I or -S (the guard cannot load)?"),
    Reason.NO_FAIL_TO_PASS: Explanation(
        "rejected", "no test goes from failing to passing",
        "nothing to fix when the pull request adds no test of its change"),
    Reason.INFRASTRUCTURE: Explanation(
        "error", "the engine kept failing after retries (daemon, out of memory)",
        "the next compile retries it"),
    Reason.SANDBOX: Explanation(
        "error", "a rollout's sandbox did not start", "the next rollout run retries it"),
    Reason.GRADING: Explanation(
        "error", "grading a rollout's patch failed on the infrastructure",
        "the next rollout run grades it again without rerunning the agent"),
    Reason.DOES_NOT_APPLY: Explanation(
        "rejected", "a synthetic bug's diff does not apply to its instance's fixed tree",
        "nothing to fix: the generator read files that differ from the image's"),
    Reason.SYNTAX_ERROR: Explanation(
        "rejected", "a synthetic bug leaves a changed Python file that does not parse",
        "nothing to fix; the generators' checks let it through"),
    Reason.NO_FAILING_TEST: Explanation(
        "rejected", "no covering test fails with the synthetic bug (or none covers it)",
        "nothing to fix: the tests do not catch it; other candidates may"),
    Reason.TOO_BROAD: Explanation(
        "rejected", "a synthetic bug fails more than --max-failing of the tests run, or stops "
        "a test file from being collected",
        "raise --max-failing to keep such bugs (an import error is rarely a good task)"),
    Reason.FLAKY: Explanation(
        "rejected", "a synthetic bug's failing tests do not fail in every run",
        "nothing to fix; the flaky tests are in the report's detail"),
    Reason.DUPLICATE: Explanation(
        "rejected", "a synthetic bug with the same diff, or the same failing tests on the same "
        "function, as another task of the environment", "nothing to fix"),
    Reason.LEAK: Explanation(
        "rejected", "a synthetic task's image could reveal the fix (its repository holds the "
        "fixed file)", "report it: the task's repository is made anew and must hold none"),
    Reason.SOURCE_UNUSABLE: Explanation(
        "rejected", "the source instance's fix or test_patch did not apply in its image, or "
        "its tests.prepare failed", "compile the build again; its instance may be stale"),
    Reason.PER_ENV_REACHED: Explanation(
        "skipped", "the environment had --per-env valid synthetic tasks already",
        "raise --per-env and run synthesize again: it continues where it stopped"),
}


class ExitStatus(StrEnum):
    """How the agent loop ended (a trajectory's ``exit_status``)."""

    SUBMITTED = "submitted"
    STEP_LIMIT = "step_limit"
    CONTEXT_LIMIT = "context_limit"
    STUCK = "stuck"
    FORMAT_ERROR = "format_error"
    TIMEOUT = "timeout"
    ERROR = "error"


EXIT_STATUSES: dict[ExitStatus, str] = {
    ExitStatus.SUBMITTED: "the model called submit",
    ExitStatus.STEP_LIMIT: "the step limit of assistant messages was reached without a submit",
    ExitStatus.CONTEXT_LIMIT: "the conversation grew past the context limit (prompt tokens)",
    ExitStatus.STUCK: "the same action came more times in a row than the repeat limit allows",
    ExitStatus.FORMAT_ERROR: "too many messages in a row had no runnable tool call",
    ExitStatus.TIMEOUT: "the rollout's wall clock ran out",
    ExitStatus.ERROR: "the sandbox died or a command broke it (a fork bomb, rm -rf /), the "
                      "engine failed or the policy could not answer (the trajectory's error "
                      "says what)",
}


def explain(reason: str | None) -> Explanation | None:
    """The explanation of a reason read from a report (None for one this swegc does not know,
    as a newer swegc's report may hold)."""
    try:
        return REASONS[Reason(reason)] if reason else None
    except ValueError:
        return None


def meaning(reason: str | None) -> str:
    """A reason's one-line meaning, or "" when it is unknown."""
    found = explain(reason)
    return found.meaning if found else ""


def exit_status_meaning(status: str) -> str:
    """An exit status's meaning, or "" for one this swegc does not know."""
    try:
        return EXIT_STATUSES[ExitStatus(status)]
    except ValueError:
        return ""


def reasons_markdown() -> str:
    """The README's table of rejection reasons, one row per reason, in the enum's order."""
    lines = ["| reason | status | meaning | what to do |", "| --- | --- | --- | --- |"]
    lines += [f"| `{reason}` | {text.status} | {_cell(text.meaning)} | {_cell(text.action)} |"
              for reason, text in REASONS.items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: placeholders such as ``<id>`` stay visible."""
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


README_START, README_END = "<!-- reasons:start -->", "<!-- reasons:end -->"


def update_readme(readme: Path) -> bool:
    """Rewrite the reasons table between the README's markers; returns whether it changed."""
    from swegc.readme_blocks import replace_block

    return replace_block(readme, README_START, README_END, reasons_markdown())


if __name__ == "__main__":
    changed = update_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
    print("updated" if changed else "up to date")
