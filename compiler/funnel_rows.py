"""Compile's funnel, made from its report rows: where each candidate left, and what it cost.

Every candidate a compile considers gets one instance report row; the driver writes into it the
stage where the candidate left (``stage``: ``filtered`` ... ``valid``; a valid instance's is
``valid`` too, with status valid) and what its units spent (``build_cpu_s`` with ``build_s`` and
``layer_bytes``: its image; ``validation_cpu_s`` with ``validation_s``: its validation). Each
env row carries its own build's (``cpu_s``, ``build_s``, ``layer_bytes``). Those figures come
from the units' stored results, so a resume writes the same rows; ``funnel`` turns the rows
into the stages (``swegc.funnel``), one small funnel per row merged, so the funnel always
agrees with the reports: its last count is the number of dataset rows.

Where a unit's cost goes: an image build's to the stage that built it (env built, instance
built); the validation container's (the patches applied, ``tests.prepare``, every test run) to
``validated``, or to ``patches_apply`` for an instance whose patches did not apply (that is all
its container did). Reading candidates and filtering them is the driver's git work, in no
container: those stages cost nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from swegc.funnel import (CANDIDATES, COMPILE_STAGES, ENV_BUILT, FILTERED, INSTANCE_BUILT,
                          PATCHES_APPLY, VALID, VALIDATED, Cost, Stage, merge, passed)
from swegc.reasons import Reason

# Rejections by the validation's patch steps, and failures (retried) of building an instance's
# image or getting its env image onto the node.
_PATCH_REASONS = frozenset({Reason.PATCH_DOES_NOT_APPLY, Reason.TEST_PATCH_DOES_NOT_APPLY})
_BUILD_ERRORS = frozenset({Reason.DOCKER_ERROR, Reason.BUILD_TIMEOUT, Reason.CACHE_LOCKED,
                           Reason.REGISTRY, Reason.CLONE_UNREADABLE, Reason.BUILD_FAILED,
                           Reason.INSTALL_FAILED})


def unit_stage(status: str, reason: str | None, image_built: bool) -> str:
    """The stage an instance whose unit ran (or failed) left at; ``valid`` when it is valid
    or when only the judge turned it down (no FAIL_TO_PASS test)."""
    if status == "valid":
        return VALID
    if not image_built or (status == "error" and reason in _BUILD_ERRORS):
        return INSTANCE_BUILT
    if reason in _PATCH_REASONS:
        return PATCHES_APPLY
    if reason == Reason.NO_FAIL_TO_PASS:
        return VALID
    return VALIDATED


def row_funnel(row: dict[str, Any]) -> list[Stage]:
    """One instance row's funnel: counted in every stage it passed, leaving at its ``stage``
    with its reason, its units' costs where they were spent."""
    left = row.get("stage") or FILTERED
    build = Cost(float(row.get("build_cpu_s") or 0), float(row.get("build_s") or 0),
                 int(row.get("layer_bytes") or 0))
    validation = Cost(float(row.get("validation_cpu_s") or 0), float(row.get("validation_s") or 0))
    costs = {INSTANCE_BUILT: build,
             PATCHES_APPLY if left == PATCHES_APPLY else VALIDATED: validation}
    if row.get("status") == "valid":
        return passed(COMPILE_STAGES, VALID, costs)
    index = COMPILE_STAGES.index(left)
    return passed(COMPILE_STAGES, COMPILE_STAGES[index - 1], costs, left,
                  str(row.get("reason") or row.get("status") or "unknown"))


def env_funnel(env: dict[str, Any]) -> list[Stage]:
    """An env row's part: its build's cost, in ``env_built`` (its instances count there)."""
    return [Stage.of(ENV_BUILT, 0, Cost(float(env.get("cpu_s") or 0),
                                        float(env.get("build_s") or 0),
                                        int(env.get("layer_bytes") or 0)))]


def funnel(instances: Iterable[dict[str, Any]], envs: Iterable[dict[str, Any]]) -> list[Stage]:
    """The compile's stages in order, from its report rows."""
    skeleton = [Stage(name) for name in COMPILE_STAGES]
    return merge([skeleton, *(row_funnel(r) for r in instances), *(env_funnel(e) for e in envs)])


def disk_per_valid(instances: list[dict[str, Any]], envs: list[dict[str, Any]]) -> int | None:
    """Bytes each valid instance keeps on disk: its own layer plus its share of the env layers
    its instances need (envs with at least one valid instance; the base image, shared by every
    env of a Python, is left out). None when nothing is valid."""
    valid = [r for r in instances if r.get("status") == "valid"]
    if not valid:
        return None
    needed = {r.get("env_key") for r in valid}
    env_bytes = sum(int(e.get("layer_bytes") or 0) for e in envs if e.get("env_key") in needed)
    return int((env_bytes + sum(int(r.get("layer_bytes") or 0) for r in valid)) / len(valid))
