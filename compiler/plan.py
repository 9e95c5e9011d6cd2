"""Planning: a candidate becomes a planned instance (split, versioned, given an environment).

Planning is cheap but not free (a git diff, maybe a version command in a container), so each
plan is kept in the build store under a hash of the candidate and the parts of the spec it
depends on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from swegc.compiler.candidates import Rejection, candidate_split
from swegc.compiler.case_directives import case_warnings, changed_cases, command_with_cases
from swegc.compiler.patches import PatchError, Split, directive_warnings, test_directives
from swegc.compiler.spec.model import CaseDirectives, RepoSpec
from swegc.test_settings import TestSettings, full_test_command
from swegc.compiler.versioning import VersionError, detect_version, published_version
from swegc.git import GitError, GitRepo
from swegc.hashing import content_hash
from swegc.records import Candidate
from swegc.store import BuildStore

PLAN_FORMAT = 3  # 3: the plan holds the instance's whole TestSettings


@dataclass(frozen=True)
class PlannedInstance:
    instance_id: str
    candidate: Candidate
    patch: str
    test_patch: str
    test_files: tuple[str, ...]
    version: str
    env_index: int  # index into spec.environments
    # How its tests run: what validation uses, what the unit key hashes, what its row records
    # (graders read it back with ``TestSpec.from_row``). Directives: changed test files, or
    # changed case names.
    settings: TestSettings
    warnings: tuple[str, ...] = ()  # changed tests that will not run (directive_warnings)
    directive_kind: str = "files"  # "cases": the directives are test-case names

    def version_columns(self, env_commit: str) -> dict[str, str]:
        """The row's ``version`` and ``environment_setup_commit`` with SWE-bench's meanings,
        and swegc's own choices beside them (``spec_version``, ``env_commit``).

        A rebuilt published instance keeps the published values as they were: they are what
        the dataset's users know the instance by, even where swegc's spec grouped it otherwise.
        """
        published = self.candidate.expected
        return {"version": (published.version if published and published.version
                            else self.version),
                "environment_setup_commit": (published.environment_setup_commit
                                             if published and published.environment_setup_commit
                                             else env_commit),
                "spec_version": self.version, "env_commit": env_commit}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["candidate"] = self.candidate.to_json()
        data["settings"] = self.settings.row_columns()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedInstance:
        data = dict(data)
        data["candidate"] = Candidate.from_json(data["candidate"])
        data["test_files"] = tuple(data["test_files"])
        data["settings"] = TestSettings.from_row(data["settings"], where="stored plan")
        data["warnings"] = tuple(data.get("warnings", ()))
        return cls(**data)


def prepare_commands(spec: RepoSpec, env_index: int) -> tuple[str, ...]:
    """The commands run after the patches: the environment's, else the tests' own."""
    own = spec.environments[env_index].prepare
    return spec.tests.prepare if own is None else own


def plan_key(spec: RepoSpec, candidate: Candidate) -> str:
    # Everything the plan's TestSettings holds is here, prepare included (tests' and envs').
    relevant = {"tests": asdict(spec.tests), "version": asdict(spec.version),
                "environments": [env.image_inputs() | {"versions": env.versions,
                                                       "prepare": env.prepare}
                                 for env in spec.environments],
                "override": asdict(spec.instances[candidate.instance_id])
                if candidate.instance_id in spec.instances else None}
    return content_hash("plan", PLAN_FORMAT, candidate.to_json(), relevant)


def plan_candidate(spec: RepoSpec, repo: GitRepo, candidate: Candidate,
                   store: BuildStore | None = None, retry_rejected: bool = False,
                   split: Split | None = None) -> PlannedInstance | Rejection:
    """The plan, from the store when it was made before (``retry_rejected``: plan again
    candidates whose stored plan is a rejection). ``split``: the candidate's diff as the
    filters already split it (``apply_filters(splits=...)``); read and split here if None."""
    key = plan_key(spec, candidate)
    if store is not None:
        cached = store.get("plan", key)
        if cached is not None and not (retry_rejected and cached.get("rejected")):
            if cached.get("rejected"):
                return Rejection(**cached["rejected"])
            return PlannedInstance.from_json(cached)
    try:
        result = _plan(spec, repo, candidate, split)
    except _TransientVersionError as exc:  # not the commit's answer: plan again next time
        return Rejection(candidate.instance_id, "version_not_found", str(exc.error))
    if store is not None:
        store.put("plan", key, {"rejected": asdict(result)} if isinstance(result, Rejection)
                  else result.to_json())
    return result


class _TransientVersionError(Exception):
    def __init__(self, error: VersionError):
        self.error = error


def _plan(spec: RepoSpec, repo: GitRepo, candidate: Candidate,
          split: Split | None) -> PlannedInstance | Rejection:
    iid = candidate.instance_id
    override = spec.instances.get(iid)
    if override and override.skip:
        return Rejection(iid, "skipped", override.skip)
    needed = [candidate.base_commit]  # images check it out; the merge gives the diff if none
    if not (candidate.diff or candidate.patch) and candidate.merge_commit:
        needed.append(candidate.merge_commit)
    for commit in needed:
        if not repo.has_commit(commit):
            return Rejection(iid, "commit_missing",
                             f"commit {commit[:12]} is not in the clone {repo.path} "
                             "(fetch it, or the pull request's branch was rewritten)")
    try:
        if split is None:
            split = candidate_split(spec, candidate, lambda: repo)
        patch, test_patch, test_files = split.patch, split.test_patch, tuple(split.test_files)
    except PatchError as exc:
        return Rejection(iid, exc.reason, str(exc))
    if not patch.strip():
        return Rejection(iid, "only_tests_changed", "the pull request changes no non-test file")
    if not test_patch.strip():
        return Rejection(iid, "no_test_change", "the pull request changes no test file")
    try:
        if override and override.version:
            version = override.version
        elif spec.version.strategy == "published":
            version = published_version(spec, candidate)
        else:
            version = detect_version(spec, repo, candidate.base_commit)
    except VersionError as exc:
        if exc.transient:
            raise _TransientVersionError(exc) from exc
        return Rejection(iid, "version_not_found", str(exc))
    env_index = next((i for i, env in enumerate(spec.environments) if env.covers(version)), None)
    if env_index is None:
        ranges = "; ".join(f"{e.versions or '*'} ({e.where})" for e in spec.environments)
        return Rejection(iid, "no_environment",
                         f"version {version} is covered by no environment: {ranges}")
    command = (override.test_command if override and override.test_command
               else spec.tests.command)
    directives, warnings, command = _directives(spec, repo, candidate.base_commit, test_patch,
                                                command)
    env = {**spec.tests.env, **(override.env if override else {})}
    settings = spec.tests.settings(
        command=command, directives=directives,
        timeout=override.timeout if override and override.timeout else spec.tests.timeout,
        env=dict(sorted(env.items())), prepare=prepare_commands(spec, env_index))
    return PlannedInstance(
        instance_id=iid, candidate=candidate, patch=patch, test_patch=test_patch,
        test_files=test_files, version=version, env_index=env_index, settings=settings,
        warnings=warnings, directive_kind=spec.tests.directive_kind)


def _directives(spec: RepoSpec, repo: GitRepo, base_commit: str, test_patch: str,
                command: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """The directives, the warnings about changed tests that will not run, and the command
    with the directives appended: changed test files, or the names of changed cases (read
    against the test files as they are at ``base_commit``)."""
    rule, globs = spec.tests.directives, spec.tests.directive_files
    if isinstance(rule, CaseDirectives):
        def read_base(path: str) -> str | None:
            try:
                data = repo.show_file(base_commit, path)
            except GitError:  # a clone missing the blob: each hunk is read alone
                return None
            return None if data is None else data.decode("utf-8", errors="replace")

        names = changed_cases(test_patch, rule, globs, read_base)
        return (tuple(names), tuple(case_warnings(test_patch, rule, globs, names)),
                command_with_cases(command, rule, names))
    files = test_directives(test_patch, rule, globs)
    return (tuple(files), tuple(directive_warnings(test_patch, rule, globs, files)),
            full_test_command(command, files))
