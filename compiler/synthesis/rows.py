"""A validated synthetic task as a dataset row: SWE-bench's columns, so every tool runs it.

The row reads as any compiled instance does, with these meanings:

- ``base_commit``: the one root commit of the task image's repository, which holds the bugged
  tree (``leak``); checking it out gives the task's starting point, as SWE-bench's tools expect.
- ``patch``: the fix (the gold patch); ``test_patch`` empty: the covering tests are already in
  the tree (the source instance's own test_patch is part of it).
- ``test_command``/``test_directives``: the test files that hold the covering tests;
  FAIL_TO_PASS and PASS_TO_PASS from validation on those files.
- ``origin``: ``mutation:<kind>``, ``pr_revert``, ``combined`` or ``policy``; ``synthesis``: the
  files and functions changed, the source instance, the strategy's facts, the image layers'
  bytes (the difficulty columns are computed from the patch and FAIL_TO_PASS, as for any row).
- ``pull_number`` 0 and no issues: no pull request made it.
"""

from __future__ import annotations

from typing import Any

from swegc import __version__
from swegc.compiler.synthesis.bugs import BugCandidate
from swegc.compiler.synthesis.units import TaskResult
from swegc.hashing import content_hash
from swegc.images.reference import ImageRef
from swegc.naming import repo_slug
from swegc.records import Instance
from swegc.runtime.harness.peer_columns import peer_columns
from swegc.test_settings import TestSettings


def task_id(source: Instance, candidate: BugCandidate) -> str:
    """``owner__name.<strategy>.<hash8>``: the hash of the source instance and the bug."""
    digest = content_hash("synthetic-task", source.instance_id, candidate.bug_patch)[:8]
    return f"{repo_slug(source.repo)}.{candidate.strategy}.{digest}"


def task_row(tid: str, source: Instance, candidate: BugCandidate, result: TaskResult,
             settings: TestSettings, runs: int, statement: str,
             base_layer_bytes: int = 0) -> dict[str, Any]:
    """The row of a valid task (``result.verdict`` valid, its image kept)."""
    verdict = result.verdict
    assert result.image is not None and verdict.status == "valid"
    reference = ImageRef(result.image, result.image_id)
    fields: dict[str, Any] = dict(
        instance_id=tid, repo=source.repo, base_commit=result.base_commit,
        patch=candidate.fix_patch, test_patch="", problem_statement=statement, hints_text="",
        created_at=source.created_at, version=source.version,
        environment_setup_commit=source.environment_setup_commit,
        FAIL_TO_PASS=verdict.FAIL_TO_PASS, PASS_TO_PASS=verdict.PASS_TO_PASS, pull_number=0,
        issue_numbers=[], **reference.columns(), spec_hash=source.spec_hash,
        flaky_tests=verdict.flaky_tests, tests=settings,
        validation={"runs": runs, "PASS_TO_FAIL": verdict.judgement.PASS_TO_FAIL,
                    "unknown_before": verdict.judgement.unknown_before, "sides": verdict.runs,
                    "duration_s": round(verdict.duration_s, 3)},
        swegc_version=__version__, spec_version=source.spec_version,
        env_commit=source.env_commit, origin=candidate.origin,
        synthesis={"strategy": candidate.strategy, "kind": candidate.kind,
                   "files": list(candidate.files), "functions": list(candidate.functions),
                   "source_instance": source.instance_id,
                   "source_base_commit": source.base_commit,
                   "layer_bytes": result.layer_bytes,
                   "base_layer_bytes": base_layer_bytes,  # shared by the source's tasks
                   "extra": candidate.extra})
    peer = peer_columns({**fields, **settings.row_columns()})
    instance = Instance(**fields, eval_script=peer["eval_script"], eval_type=peer["eval_type"],
                        log_parser=peer["log_parser"])
    return instance.to_json()
