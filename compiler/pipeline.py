"""`swegc compile`: specs -> candidates -> plans -> env images -> instance images + validation.

Every unit (an env image, an instance's image and validation) is keyed by a hash of all its
inputs and its result is written to the build store the moment it finishes. So a compile that
is killed anywhere resumes where it stopped, and a compile of unchanged input finds every
result, builds and runs nothing, and writes the same bytes again.
"""

from __future__ import annotations

import difflib
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swegc import __version__
from swegc.atomic_files import atomic_write
from swegc.build_layout import BuildLayout, ImageEntry, Manifest, SpecEntry, write_manifest
from swegc.compiler.candidates import Rejection, load_candidates
from swegc.compiler.clone_damage import clone_failure
from swegc.compiler.disk_budget import DiskBudget, HeldEnv
from swegc.compiler.funnel_rows import unit_stage
from swegc.compiler.patches import Split
from swegc.compiler.selection import Selection
from swegc.compiler.plan import PlannedInstance, plan_candidate
from swegc.compiler.spec.model import EnvironmentSpec, RepoSpec
from swegc.compiler.spec.loader import load_specs
from swegc.runtime.harness.peer_columns import peer_columns
from swegc.runtime.harness.validation import ValidationPlan, Verdict
from swegc.errors import SwegcError
from swegc.compiler.units import (EnvBuild, EnvJob, InstanceBuild, InstanceJob, UnitResult,
                                  build_and_validate, build_env, locate)
from swegc.executors import Outcome, Resources, Transient, make_executor, write_logs
from swegc.funnel import ENV_BUILT, FILTERED, Cost
from swegc.git import GitError, GitRepo
from swegc.hashing import content_hash
from swegc.reasons import Reason
from swegc.records import Instance
from swegc.docker_client import docker_client, list_images
from swegc.runtime.sandbox.orphans import remove_orphans
from swegc.images.builder import (BuiltImage, EnvRecipe, ImageBuilder, InstanceRecipe, env_bundle,
                                  instance_bundle, submodule_bundles)
from swegc.images.network import BuildNetwork
from swegc.images.node import NodeRecipe
from swegc.images.python_releases import floor_reason, moved_date
from swegc.images.reference import ImageRef
from swegc.store import BuildStore

UNIT_FORMAT = 4  # 4: validation runs as grading does (run_tests); the key hashes TestSettings whole
CLONE_UNREADABLE = Reason.CLONE_UNREADABLE  # git could not read the clone (objects missing)
# Image builds at once: each is CPU-, disk- and network-heavy, unlike a validation.
ENV_BUILDS = Resources(cpus=1.0, max_in_flight=4)
INSTANCE_UNITS = Resources(cpus=1.0)
Echo = Callable[[str], None]
# A stored build failure is kept until --retry-failed, also after a spec change that leaves the
# unit's key as it was: each one kept is said, so that an old failure never passes for a new one.
REUSED = "failed in an earlier compile (stored, not built again):"
RETRY = "compile with --retry-failed to build it again"


@dataclass(frozen=True)
class CompileOptions:
    out: Path
    jobs: int | None = 2  # units at once (None: as many as a Ray cluster offers)
    runs: int | None = None  # override every spec's tests.runs
    only: tuple[str, ...] = ()  # instance ids to compile (empty: all)
    limit: int | None = None  # at most this many candidates per spec
    # Build again envs and instance images whose build failed, plan again rejected candidates.
    retry_failed: bool = False
    split: str = "train"
    executor: str = "local"  # local | ray
    ray_address: str | None = None
    registry: str | None = None  # HOST/NAMESPACE that units push images to and nodes pull from
    # Bytes the build's images may hold (compiler/disk_budget.py); None: unbounded.
    max_disk: int | None = None
    # --since/--until and --exclude (compiler/selection.py), applied before anything is built.
    selection: Selection = field(default_factory=Selection)
    # Rows created after this date go to the split FRESH_SPLIT, not to ``split``.
    fresh_after: str | None = None


@dataclass
class EnvGroup:
    spec: RepoSpec
    env_index: int
    recipe: EnvRecipe
    key: str
    instances: list[PlannedInstance] = field(default_factory=list)
    built: BuiltImage | None = None
    failure: dict[str, Any] | None = None
    # the instances whose base commit is the env commit, of all the spec's candidates for this
    # env (selected by --instance or not); none where the env commit is a common ancestor
    setters: tuple[str, ...] = ()
    members: int = 0  # candidates sharing the env, selected or not

    def origin(self) -> str:
        """Where the env's commit (and under ``pip_date: commit`` its date) came from."""
        if self.setters:
            more = f" and {len(self.setters) - 1} more" if len(self.setters) > 1 else ""
            return f"the base commit of {self.setters[0]}{more}"
        return (f"the common ancestor of the base commits of the {self.members} candidates "
                "that share this environment")


@dataclass
class CompileResult:
    instances: list[dict[str, Any]]  # report rows
    envs: list[dict[str, Any]]
    rows: list[dict[str, Any]]  # dataset rows (valid instances)
    elapsed_s: float


def _env_recipe(spec: RepoSpec, env_index: int, repo: GitRepo, members: list[PlannedInstance]) -> EnvRecipe:
    env = spec.environments[env_index]
    bases = sorted({p.candidate.base_commit for p in members})
    # The env holds history up to a common ancestor of all its instances' base commits, so
    # that no instance image carries a commit from after its own base.
    env_commit = bases[0] if len(bases) == 1 else repo.merge_base(*bases)
    if env_commit is None:
        raise SwegcError(f"{spec.repo}: base commits of environments[{env_index}] share no "
                         "common ancestor (unrelated histories in the clone?)")
    def dated(value: str | None) -> str | None:
        return repo.commit_info(env_commit).committer_date if value == "commit" else value

    pip_date = dated(env.pip_date)
    moved = moved_date(env.python, pip_date)
    return EnvRecipe(repo=spec.repo, base_image=spec.base_image_for(env), env_commit=env_commit,
                     apt=env.apt, pre_install=env.pre_install, pip=env.pip, install=env.install,
                     env=tuple(sorted(env.env.items())), pip_date=moved or pip_date,
                     pip_date_asked=pip_date if moved else None,
                     upgrade_pip=env.upgrade_pip, python=env.python,
                     pip_date_exempt=env.pip_date_exempt, build_outputs=env.build_outputs,
                     submodules=pinned_submodules(spec, repo, env_commit),
                     node=node_recipe(env, dated(env.npm_date())),
                     indexes=tuple((i.url, i.packages) for i in env.indexes))


def pinned_submodules(spec: RepoSpec, repo: GitRepo, commit: str) -> tuple[tuple[str, str], ...]:
    """(path, commit) of each of the spec's submodules that ``commit`` pins."""
    pinned = ((path, repo.gitlink(commit, path)) for path in sorted(spec.source.submodules))
    return tuple((path, sha) for path, sha in pinned if sha)


def node_recipe(env: EnvironmentSpec, date: str | None) -> NodeRecipe | None:
    """The env's Node for one image; ``date`` is its npm date, resolved for that image."""
    if env.node is None:
        return None
    return NodeRecipe(env.node.version, env.node.npm, env.node.install, date)


class Compiler:
    def __init__(self, options: CompileOptions, echo: Echo = print):
        self.options = options
        self.echo = echo
        self.out = Path(options.out)
        if self.out.exists() and not self.out.is_dir():
            raise SwegcError(f"--out {self.out} is a file; give a folder for the build")
        self.layout = BuildLayout(self.out)
        visible = self.out.is_dir() and any(not p.name.startswith(".") for p in self.out.iterdir())
        if visible and not self.layout.looks_like_build():
            raise SwegcError(f"--out {self.out} holds files but is no swegc build folder (no "
                             "store.sqlite, manifest.json, reports/ or candidates/); a compile "
                             "writes README.md and data/ there, so give a new or empty folder")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SwegcError(f"--out {self.out}: cannot create the build folder "
                             f"({exc.strerror}); give a folder you can write") from None
        self.store = BuildStore(self.layout.store)
        self.registry = options.registry  # where units push images and nodes pull them from
        self.repos: dict[str, GitRepo] = {}  # each spec's clone, by repository
        # each spec's clones of its submodules (source.submodules), by repository and path
        self.submodule_clones: dict[str, dict[str, GitRepo]] = {}
        self._commit_dates: dict[str, str] = {}  # base commit -> committer date, read once
        if self.registry:
            from swegc.images.registry import Registry, check_registry

            check_registry(Registry.parse(self.registry))
        self.env_references: dict[str, str | None] = {}  # env key -> its pushed name@sha256:...
        self.disk = DiskBudget(options.max_disk, echo) if options.max_disk is not None else None

    # -- stages ----------------------------------------------------------------------------
    def run(self, spec_paths: Sequence[str | Path]) -> CompileResult:
        start = time.monotonic()
        specs = load_specs(spec_paths)
        orphans = remove_orphans(docker_client())
        if orphans:
            self.echo(f"removed {orphans} container(s) left by an interrupted run")
        reports: list[dict[str, Any]] = []
        groups: list[EnvGroup] = []
        builders: dict[str, ImageBuilder] = {}
        for spec in specs:
            if spec.source.clone is None:
                raise SwegcError(f"{spec.where('source')}: source.clone is needed to build images "
                                 "(a local clone or git bundle of the repository)")
            if not spec.source.clone.exists():
                raise SwegcError(f"{spec.where('source.clone')}: {spec.source.clone} does not exist; "
                                 f"clone {spec.repo} there or correct the path")
            repo = GitRepo.open(spec.source.clone)
            self.repos[spec.repo] = repo
            for path, clone in spec.source.submodules.items():
                if not clone.exists():
                    raise SwegcError(f"{spec.where('source.submodules')}: {clone} (submodule "
                                     f"{path}) does not exist; clone the submodule's repository "
                                     "there (its URL is in the repository's .gitmodules)")
                self.submodule_clones.setdefault(spec.repo, {})[path] = GitRepo.open(clone)
            builders[spec.repo] = ImageBuilder(
                repo, BuildNetwork.resolve(asdict(spec.build)), self.layout.image_logs,
                labels={"org.swegc.spec_hash": spec.spec_hash})
            planned = self._plan(spec, repo, reports)
            groups.extend(self._group(spec, repo, planned))
        self._check_selection(groups, reports)
        groups = self._selected(groups)
        # Made here, once the specs and plans are known good: a Ray cluster takes seconds.
        self.pool = make_executor(self.options.executor, self.options.jobs,
                                  address=self.options.ray_address, echo=self.echo)
        try:
            self._build_envs(groups, builders)
            rows = self._build_and_validate(groups, builders, reports)
        finally:
            self.pool.close()
        self._bound_disk(groups, set(), final=True)
        envs = [self._env_report(g) for g in groups]
        self._write(specs, rows, reports, envs)
        return CompileResult(reports, envs, rows, time.monotonic() - start)

    @property
    def partial(self) -> bool:
        """A compile of some instances only (--instance, --limit) writes to ``out/partial``,
        leaving the full dataset and reports of the build folder as they are."""
        return bool(self.options.only) or self.options.limit is not None

    @property
    def outputs(self) -> BuildLayout:
        return self.layout.partial if self.partial else self.layout

    def _check_selection(self, groups: list[EnvGroup], reports: list[dict[str, Any]]) -> None:
        if not self.options.only:
            return
        known = {i.instance_id for g in groups for i in g.instances} | \
            {r["instance_id"] for r in reports}
        unknown = sorted(set(self.options.only) - known)
        if unknown:
            hints = []
            for iid in unknown:
                close = difflib.get_close_matches(iid, sorted(known), n=1)
                hints.append(f"{iid}" + (f" (did you mean {close[0]}?)" if close else ""))
            raise SwegcError(f"--instance: no candidate has the id {', '.join(hints)}")

    def _selected(self, groups: list[EnvGroup]) -> list[EnvGroup]:
        """Groups with only the selected instances; env commits stay those of all candidates,
        so that a compile of a few instances builds the same images a full compile uses."""
        if not self.options.only:
            return groups
        chosen = set(self.options.only)
        for group in groups:
            group.instances = [i for i in group.instances if i.instance_id in chosen]
        return [g for g in groups if g.instances]

    def _plan(self, spec: RepoSpec, repo: GitRepo, reports: list[dict[str, Any]]) -> list[PlannedInstance]:
        splits: dict[str, Split] = {}  # each diff read and split once, by the filters
        candidates, rejections = load_candidates(spec, self.store, splits, self.options.selection)
        filtered = list(rejections)
        self._warn_unmatched_overrides(spec, candidates, rejections)
        if self.options.only:
            rejections = [r for r in rejections if r.instance_id in self.options.only]
        if self.options.limit is not None:
            candidates = candidates[: self.options.limit]
        self._write_candidates(spec, candidates)
        planned: list[PlannedInstance] = []
        for candidate in candidates:
            result = plan_candidate(spec, repo, candidate, self.store,
                                    retry_rejected=self.options.retry_failed,
                                    split=splits.get(candidate.instance_id))
            if isinstance(result, Rejection):
                rejections.append(result)
            else:
                planned.append(result)
        for rejection in rejections:
            if self.options.only and rejection.instance_id not in self.options.only:
                continue
            status = "skipped" if rejection.reason == Reason.SKIPPED else "rejected"
            reports.append(self._report(spec, rejection.instance_id, status, rejection.reason,
                                        rejection.detail, stage=FILTERED))
        self.echo(f"{spec.repo}: {len(candidates) + len(filtered)} pull requests: "
                  f"{len(planned)} to build and validate, {len(rejections)} rejected before "
                  "building")
        return planned

    def _warn_unmatched_overrides(self, spec: RepoSpec, candidates: list[Any],
                                  rejections: list[Rejection]) -> None:
        ids = {c.instance_id for c in candidates} | {r.instance_id for r in rejections}
        for iid in sorted(set(spec.instances) - ids):
            close = difflib.get_close_matches(iid, sorted(ids), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            self.echo(f"warning: {spec.where(f'instances.{iid}')}: the override for {iid} "
                      f"matches no candidate{hint}")

    def _group(self, spec: RepoSpec, repo: GitRepo, planned: list[PlannedInstance]) -> list[EnvGroup]:
        by_env: dict[int, list[PlannedInstance]] = {}
        for item in planned:
            by_env.setdefault(item.env_index, []).append(item)
        groups = []
        for env_index, members in sorted(by_env.items()):
            recipe = _env_recipe(spec, env_index, repo, members)
            setters = tuple(sorted(p.instance_id for p in members
                                   if p.candidate.base_commit == recipe.env_commit))
            groups.append(EnvGroup(spec, env_index, recipe, "", members, setters=setters,
                                   members=len(members)))
        return groups

    def _build_envs(self, groups: list[EnvGroup], builders: dict[str, ImageBuilder]) -> None:
        todo: list[tuple[EnvGroup, EnvJob]] = []
        for group in groups:
            builder = builders[group.spec.repo]
            group.key = group.recipe.key(builder.base_image_id(group.recipe.base_image))
            stored = self.store.get("env", group.key)
            if stored and stored.get("failure") and not self.options.retry_failed:
                group.failure = stored["failure"]
                self.echo(f"[env] {group.spec.repo} "
                          f"{group.spec.environments[group.env_index].versions or '*'}: "
                          f"{REUSED} {failure_line(group.failure)}; {RETRY}")
            elif stored and stored.get("image") and (reference := self._still_there(
                    BuiltImage.from_json(stored["image"]), builder.client)):
                group.built = BuiltImage.from_json(stored["image"], reused=True)
                self.env_references[group.key] = reference.pushed  # where nodes without it pull it
            elif stored and stored.get("image") and self._settled(group):
                # Its image was dropped (--max-disk, swegc images prune) and no unit of it has
                # to run: built again only when one does.
                group.built = BuiltImage.from_json(stored["image"], reused=True)
            else:
                self._note_moved_date(group)
                try:
                    todo.append((group, self._env_job(group, builder)))
                except GitError as exc:  # this repository's clone: fail its units only
                    assert builder.repo is not None
                    group.failure = clone_failure(group.spec, builder.repo, exc,
                                                  group.recipe.env_commit)
                    self.echo(f"[env] {group.spec.repo} "
                              f"{group.spec.environments[group.env_index].versions or '*'}: "
                              f"failed: {failure_line(group.failure)}")
        by_job = {id(job): group for group, job in todo}
        outcomes = self.pool.map_unordered(build_env, [job for _, job in todo],
                                           resources=ENV_BUILDS, locality=lambda job: job.key)
        for n, outcome in enumerate(outcomes, 1):
            group = by_job[id(outcome.item)]
            self._env_built(group, outcome)
            verb = f"failed: {failure_line(group.failure)}" if group.failure else \
                f"built {group.built.name} in {group.built.build_s:.0f}s"
            self.echo(f"[env {n}/{len(todo)}] {group.spec.repo} "
                      f"{group.spec.environments[group.env_index].versions or '*'}: {verb}")
            if group.failure:
                self.echo(f"  {self._resolved_at(group)}")

    def _resolved_at(self, group: EnvGroup) -> str:
        """What a failed env was built at: its commit, its date and the instance that set them
        (one --instance did not select, where so: env commits are the whole spec's)."""
        recipe = group.recipe
        date = recipe.pip_date or self._commit_date(group.spec.repo, recipe.env_commit)
        what = "pip_date" if recipe.pip_date else "committed"
        moved = f", moved from {recipe.pip_date_asked}" if recipe.pip_date_asked else ""
        unselected = [i for i in group.setters if self.options.only and
                      i not in self.options.only]
        note = (f"; {', '.join(unselected)} is not among the --instance selection: an "
                "environment's commit is that of all the spec's candidates sharing it, "
                "selected or not") if unselected else ""
        return (f"environments[{group.env_index}] at commit {recipe.env_commit[:12]} "
                f"({what} {date[:10]}{moved}), {group.origin()}{note}")

    def _note_moved_date(self, group: EnvGroup) -> None:
        """Say so when an env's pip_date was moved to its Python's first wheels."""
        recipe = group.recipe
        if not recipe.pip_date_asked:
            return
        env = group.spec.environments[group.env_index]
        self.echo(f"note: {env.where}: environments[{group.env_index}].pip_date: "
                  f"{recipe.pip_date_asked[:10]} ({group.origin()}) is before Python "
                  f"{env.python} had wheels; packages resolve as of {recipe.pip_date[:10]} "
                  f"instead: {floor_reason(env.python)}")

    def _still_there(self, image: BuiltImage, client: Any) -> ImageRef | None:
        """A stored env image's reference when it can be used, else None: in this engine (then
        pushed to the registry, if any), or in the registry, from which the nodes that lack it
        pull it."""
        if list_images(client, name=image.name):
            return locate(image, self.registry, push=True)
        reference = self._looked_up(image)
        return reference if reference.pushed else None

    def _looked_up(self, image: BuiltImage) -> ImageRef:
        """A stored image's reference from the registry's state, without pushing: the registry's
        copy of this very image, else none (also when the registry fails: the image is then
        treated as absent there)."""
        try:
            return locate(image, self.registry, push=False)
        except Transient:
            return locate(image, None, push=False)

    def _env_job(self, group: EnvGroup, builder: ImageBuilder) -> EnvJob:
        assert builder.repo is not None
        return EnvJob(group.key, group.recipe, tuple(self.store.get("lock", group.key) or ()),
                      env_bundle(builder.repo, group.recipe), builder.network,
                      tuple(sorted(builder.labels.items())), str(self.layout.image_logs),
                      self.registry,
                      submodule_bundles(self.submodule_clones.get(group.spec.repo, {}),
                                        group.recipe.submodules))

    def _env_built(self, group: EnvGroup, outcome: Outcome[EnvJob, EnvBuild]) -> None:
        """The driver's side of an env unit: its logs and result go where they belong."""
        if isinstance(outcome.error, Transient):  # reported; the next compile tries again
            group.failure = {"reason": outcome.error.reason, "detail": outcome.error.detail,
                             "log": None}
            return
        if outcome.error is not None:
            raise outcome.error
        build = outcome.result
        assert build is not None
        write_logs(build.logs)
        if build.failure is not None:
            group.failure = build.failure
            self.store.put("env", group.key, build.stored)
            return
        group.built = build.image
        self.env_references[group.key] = build.reference.pushed if build.reference else None
        assert group.built is not None
        if group.built.freeze and not self.store.get("lock", group.key):
            self.store.put("lock", group.key, list(group.built.freeze))
        lags = self._resolution_lags(group, outcome.item.network)
        self.store.put("env", group.key, {"image": group.built.to_json(), "lags": lags})

    def _resolution_lags(self, group: EnvGroup, network: BuildNetwork) -> list[str]:
        """Under pip_date, a warning for each package that resolved far behind the date."""
        from swegc.images.resolution_lag import find_lags, reader_for

        recipe, built = group.recipe, group.built
        if not recipe.pip_date or built is None or not built.freeze:
            return []
        lags = find_lags(built.freeze, recipe.pip_date, reader_for(network),
                         recipe.pip_date_exempt, python=recipe.python)
        env = group.spec.environments[group.env_index]
        messages = [lag.message(recipe.pip_date) for lag in lags]
        for message in messages:
            self.echo(f"warning: {env.where}: environments[{group.env_index}].pip_date: {message}")
        return messages

    def _instance_recipe(self, group: EnvGroup, item: PlannedInstance) -> InstanceRecipe:
        env = group.spec.environments[group.env_index]
        pip_date = group.recipe.pip_date
        if env.pip_date == "commit":
            # The instance's own commit: its requirements as they stood then. The env's date
            # (the common ancestor's) is older and may predate what the instance pins.
            pip_date = self._commit_date(group.spec.repo, item.candidate.base_commit)
        moved = moved_date(env.python, pip_date)  # no earlier than its Python had wheels
        asked = pip_date if moved else None
        pip_date = moved or pip_date
        npm_date = env.npm_date()
        if npm_date == "commit":  # as pip_date: the instance's own commit
            npm_date = self._commit_date(group.spec.repo, item.candidate.base_commit)
        return InstanceRecipe(item.instance_id, item.candidate.base_commit, env.install,
                              env.post_install,
                              env=tuple(sorted(item.settings.env.items())),
                              pip_date=pip_date,
                              pip_date_exempt=group.recipe.pip_date_exempt,
                              build_outputs=group.recipe.build_outputs,
                              submodules=pinned_submodules(group.spec, self.repos[group.spec.repo],
                                                           item.candidate.base_commit),
                              node=node_recipe(env, npm_date),
                              indexes=group.recipe.indexes, pip_date_asked=asked)

    def _commit_date(self, repo: str, sha: str) -> str:
        """A commit's committer date: one git call per commit, however often a compile asks
        (each instance's recipe is made for its unit key and again for its job)."""
        if sha not in self._commit_dates:
            self._commit_dates[sha] = self.repos[repo].commit_info(sha).committer_date
        return self._commit_dates[sha]

    def _unit_key(self, group: EnvGroup, item: PlannedInstance) -> str:
        """Everything the unit's result depends on: the instance image (and through it the
        env and base images) and what validation reads. Not the problem statement or hints:
        editing those changes the dataset row, not the validation."""
        return content_hash("unit", UNIT_FORMAT, self._instance_recipe(group, item).key(group.key),
                            item.patch, item.test_patch, self._runs(group.spec),
                            item.settings.key())

    def _runs(self, spec: RepoSpec) -> int:
        return self.options.runs or spec.tests.runs

    def _build_and_validate(self, groups: list[EnvGroup], builders: dict[str, ImageBuilder],
                            reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        todo: list[tuple[EnvGroup, PlannedInstance, InstanceJob]] = []
        # One listing per compile (not per unit): which images the stored units still have, by
        # tag and id. A tag that another build moved to a new image leaves the stored unit's
        # image id dangling: the row would name an image that is gone, so the unit is redone.
        images = self._engine_images()
        for group in groups:
            for item in group.instances:
                if group.failure:
                    unreadable = group.failure["reason"] == CLONE_UNREADABLE  # retried next time
                    status = "error" if unreadable else "rejected"
                    reason = CLONE_UNREADABLE if unreadable else "env_build_failed"
                    detail = group.failure["detail"][-2000:]
                    published = item.candidate.expected
                    reports.append(self._report(
                        group.spec, item.instance_id, status, reason, detail,
                        version=item.version, env_key=group.key, log=group.failure.get("log"),
                        stage=ENV_BUILT, **({"published": compare_with_published(published, Verdict.not_validated(
                            status, reason, detail))} if published else {})))
                    continue
                key = self._unit_key(group, item)
                stored, reference, redo = self._stored_unit(group, item, images)
                if not redo:
                    assert stored is not None
                    if stored.image is None:  # its image failed to build: kept, said
                        self.echo(f"[instance] {item.instance_id}: {REUSED} "
                                  f"{stored.verdict.status}: {stored.verdict.reason}; {RETRY}")
                    self._collect(group, item, stored, reference, rows, reports)
                else:
                    builder = builders[group.spec.repo]
                    try:
                        todo.append((group, item, self._instance_job(group, item, key, builder)))
                    except GitError as exc:  # not stored: tried again once the clone is repaired
                        assert builder.repo is not None
                        failure = clone_failure(group.spec, builder.repo, exc,
                                                item.candidate.base_commit)
                        self.echo(f"[instance] {item.instance_id}: error: "
                                  f"{failure_line(failure)}")
                        self._collect(group, item, UnitResult(Verdict.not_validated(
                            "error", CLONE_UNREADABLE, failure["detail"]), None), None, rows,
                            reports)
        total = len(todo)
        pending = Counter(group.key for group, _, _ in todo)
        self._bound_disk(groups, set(pending))
        by_job = {id(job): (group, item) for group, item, job in todo}
        outcomes = self.pool.map_unordered(build_and_validate, [job for _, _, job in todo],
                                           resources=INSTANCE_UNITS,
                                           locality=lambda job: job.env.key)
        for n, outcome in enumerate(outcomes, 1):
            group, item = by_job[id(outcome.item)]
            stored, reference = self._unit_done(outcome)
            verdict = stored.verdict
            what = verdict.status if verdict.status == "valid" else \
                f"{verdict.status}: {verdict.reason}"
            counts = f" F2P={len(verdict.FAIL_TO_PASS)} P2P={len(verdict.PASS_TO_PASS)}" \
                if verdict.status == "valid" else ""
            flaky = f" flaky={len(verdict.flaky_tests)}" if verdict.flaky_tests else ""
            where = f" on node {outcome.node[:12]}" if outcome.node else ""
            self.echo(f"[instance {n}/{total}] {item.instance_id}: {what}{counts}{flaky} "
                      f"({verdict.duration_s:.1f}s){where}")
            self._collect(group, item, stored, reference, rows, reports)
            pending[group.key] -= 1
            self._bound_disk(groups, {k for k, n in pending.items() if n > 0})
        return rows

    def _engine_images(self) -> set[tuple[str, str]]:
        """The engine's swegc images by tag and id, read once per stage (not per unit)."""
        return {(tag, image.id)
                for image in list_images(docker_client(), filters={"label": "org.swegc.kind"})
                for tag in image.tags}

    def _stored_unit(self, group: EnvGroup, item: PlannedInstance, images: set[tuple[str, str]]
                     ) -> tuple[UnitResult | None, ImageRef | None, bool]:
        """An instance's stored unit, the reference of its image, and whether it must run
        (again): not stored; a valid one whose image is gone (the row would name an image that
        is not there; a rejected one's verdict stands without its image); or one whose image
        never got built (install_failed) under --retry-failed (a verdict of its tests stands)."""
        data = self.store.get("unit", self._unit_key(group, item))
        stored = UnitResult.from_json(data) if data is not None else None
        reference = self._stored_reference(stored, images)
        image_gone = bool(stored and stored.image and reference is None
                          and stored.verdict.status == "valid")
        build_again = bool(stored and stored.image is None and self.options.retry_failed)
        return stored, reference, stored is None or image_gone or build_again

    def _settled(self, group: EnvGroup) -> bool:
        """No instance unit of the group has to run: its env image is not needed."""
        images = self._engine_images()
        return all(not self._stored_unit(group, item, images)[2] for item in group.instances)

    def _bound_disk(self, groups: list[EnvGroup], pending: set[str], final: bool = False) -> None:
        """--max-disk: between units, what the build store can rebuild goes while over it."""
        if self.disk is None:
            return
        envs = [HeldEnv(g.key, g.built.name, f"{g.spec.repo} "
                        f"{g.spec.environments[g.env_index].versions or '*'}")
                for g in groups if g.built is not None]
        self.disk.check(docker_client(), envs, pending, final=final)

    def _instance_job(self, group: EnvGroup, item: PlannedInstance, key: str,
                      builder: ImageBuilder) -> InstanceJob:
        assert group.built is not None and builder.repo is not None
        recipe = self._instance_recipe(group, item)
        plan = ValidationPlan(instance_id=item.instance_id, image="",
                              base_commit=item.candidate.base_commit, test_patch=item.test_patch,
                              patch=item.patch, settings=item.settings,
                              runs=self._runs(group.spec), directive_kind=item.directive_kind)
        return InstanceJob(key, recipe, group.built, group.recipe.env_commit,
                           self.env_references.get(group.key),
                           instance_bundle(builder.repo, recipe, group.recipe.env_commit),
                           builder.network, tuple(sorted(builder.labels.items())), plan,
                           str(self.layout.image_logs), str(self.layout.logs_dir), self.registry,
                           submodule_bundles(self.submodule_clones.get(group.spec.repo, {}),
                                             recipe.submodules, group.recipe.submodules))

    def _stored_reference(self, stored: UnitResult | None,
                          images: set[tuple[str, str]]) -> ImageRef | None:
        """The reference of a stored unit's image, from the registry's state once; None when it
        has no image, or when its image is gone: neither in this engine under its tag (``images``
        holds the engine's tag and id pairs) nor in the registry. The registry is asked only
        where a row may name the image, or where this engine lacks it."""
        if stored is None or stored.image is None:
            return None
        held = (stored.image.name, stored.image.id) in images
        if stored.verdict.status != "valid":  # no row names it: the registry is not asked
            return locate(stored.image, None, push=False) if held else None
        reference = self._looked_up(stored.image)
        return reference if held or reference.pushed else None

    def _unit_done(self, outcome: Outcome[InstanceJob, InstanceBuild]
                   ) -> tuple[UnitResult, ImageRef | None]:
        """The driver's side of an instance unit: logs written, the result stored, unless the
        infrastructure failed (reported as an error, tried again by the next compile); the
        result and the reference the unit computed for its image (not stored: the registry's
        state is read again by a later compile)."""
        if isinstance(outcome.error, Transient):
            return UnitResult(Verdict.not_validated("error", outcome.error.reason,
                                                    outcome.error.detail[-2000:]), None), None
        if outcome.error is not None:
            raise outcome.error
        build = outcome.result
        assert build is not None
        write_logs(build.logs)
        self.store.put("unit", outcome.item.key, build.result.to_json())
        return build.result, build.reference

    # -- results ---------------------------------------------------------------------------
    def _collect(self, group: EnvGroup, item: PlannedInstance, stored: UnitResult,
                 reference: ImageRef | None, rows: list[dict[str, Any]],
                 reports: list[dict[str, Any]]) -> None:
        """The report of one instance and, when it is valid, its row; ``reference`` is its
        image as the row names it."""
        verdict, image = stored.verdict, stored.image
        if self.disk is not None:
            self.disk.saw_instance(item.instance_id, image, verdict.status == "valid",
                                   bool(reference and reference.pushed))
        warnings = instance_warnings(item, verdict)
        for warning in warnings:
            self.echo(f"warning: {item.instance_id}: {warning}")
        reports.append(self._report(
            group.spec, item.instance_id, verdict.status, verdict.reason, verdict.detail,
            version=item.version, env_key=group.key, image=image.name if image else None,
            FAIL_TO_PASS=len(verdict.FAIL_TO_PASS), PASS_TO_PASS=len(verdict.PASS_TO_PASS),
            flaky_tests=verdict.flaky_tests, validation_s=round(verdict.duration_s, 3),
            warnings=warnings, **self._unit_costs(stored),
            **({"published": compare_with_published(item.candidate.expected, verdict)}
               if item.candidate.expected else {})))
        if verdict.status != "valid" or image is None or reference is None:
            return
        cand = item.candidate
        fields = dict(
            instance_id=item.instance_id, repo=group.spec.repo, base_commit=cand.base_commit,
            patch=item.patch, test_patch=item.test_patch, problem_statement=cand.problem_statement,
            hints_text=cand.hints_text, created_at=cand.created_at,
            **item.version_columns(group.recipe.env_commit),
            FAIL_TO_PASS=verdict.FAIL_TO_PASS, PASS_TO_PASS=verdict.PASS_TO_PASS,
            pull_number=cand.number, issue_numbers=cand.resolved_issues,
            # With a registry, the pushed image by digest: any node (and any peer tool) pulls
            # that very image; without one, the local image id (until a publish).
            **reference.columns(), spec_hash=group.spec.spec_hash,
            flaky_tests=verdict.flaky_tests, tests=item.settings,
            validation={"runs": self._runs(group.spec),
                        "PASS_TO_FAIL": verdict.judgement.PASS_TO_FAIL,
                        "unknown_before": verdict.judgement.unknown_before,
                        "sides": verdict.runs, "duration_s": round(verdict.duration_s, 3)},
            swegc_version=__version__)
        # What the field's tools read besides the image columns.
        peer = peer_columns({**fields, **item.settings.row_columns()})
        instance = Instance(**fields, eval_script=peer["eval_script"], eval_type=peer["eval_type"],
                            log_parser=peer["log_parser"])
        rows.append(instance.to_json())

    @staticmethod
    def _unit_costs(stored: UnitResult) -> dict[str, Any]:
        """A unit's stage in the funnel and its costs, for its report row (see funnel_rows)."""
        build = stored.build_cost
        return {"stage": unit_stage(stored.verdict.status, stored.verdict.reason,
                                    stored.image is not None),
                "build_s": round(build.wall_s, 3), "build_cpu_s": round(build.cpu_s, 3),
                "layer_bytes": build.bytes,
                "validation_cpu_s": round(stored.validation_cost.cpu_s, 3)}

    def _report(self, spec: RepoSpec, instance_id: str, status: str, reason: str | None,
                detail: str | None, **extra: Any) -> dict[str, Any]:
        row = {"instance_id": instance_id, "repo": spec.repo, "status": status, "reason": reason,
               "detail": detail, "version": None, "env_key": None, "image": None,
               "FAIL_TO_PASS": 0, "PASS_TO_PASS": 0, "flaky_tests": [], "validation_s": 0.0,
               "build_s": 0.0}
        row.update(extra)
        return row

    def _env_report(self, group: EnvGroup) -> dict[str, Any]:
        env = group.spec.environments[group.env_index]
        built = group.built
        return {"env_key": group.key, "repo": group.spec.repo, "versions": env.versions,
                "python": env.python, "image": built.name if built else None,
                "status": "built" if built else "failed",
                "reason": group.failure["reason"] if group.failure else None,
                "detail": group.failure["detail"][-2000:] if group.failure else None,
                "build_s": round(built.build_s, 3) if built and not built.reused else
                round(self._stored_build_s(group.key), 3),
                "size_bytes": built.size_bytes if built else 0,
                "env_commit": group.recipe.env_commit, "instances": len(group.instances),
                "env_commit_from": group.origin(), "pip_date": group.recipe.pip_date,
                "log": group.failure.get("log") if group.failure else None,
                "resolution_lag": (self.store.get("env", group.key) or {}).get("lags", []),
                **self._env_costs(group)}

    def _env_costs(self, group: EnvGroup) -> dict[str, Any]:
        """The env build's CPU seconds and own layer, as its stored result recorded them."""
        stored = self.store.get("env", group.key) or {}
        if stored.get("image"):
            image = BuiltImage.from_json(stored["image"])
            return {"cpu_s": round(image.cpu_s, 3), "layer_bytes": image.layer_bytes}
        return {"cpu_s": round(Cost.from_json(stored.get("cost")).cpu_s, 3), "layer_bytes": 0}

    def _stored_build_s(self, key: str) -> float:
        stored = self.store.get("env", key)
        if stored and stored.get("image"):
            return float(stored["image"]["build_s"])
        return Cost.from_json((stored or {}).get("cost")).wall_s

    def _write_candidates(self, spec: RepoSpec, candidates: list[Any]) -> None:
        from swegc.dataset import write_jsonl

        write_jsonl(self.outputs.candidates(spec.repo), [c.to_json() for c in candidates])

    def _write(self, specs: Sequence[RepoSpec], rows: list[dict[str, Any]],
               reports: list[dict[str, Any]], envs: list[dict[str, Any]]) -> None:
        from swegc.compiler.report import write_reports
        from swegc.compiler.selection import FRESH_SPLIT, split_fresh
        from swegc.dataset import shard_path, write_dataset
        from swegc.funnel import funnel_markdown, read_funnel

        repos = sorted({r["repo"] for r in reports})
        write_reports(self.outputs.root, reports, envs)  # first: the card sums up the funnel
        funnel = funnel_markdown(read_funnel(self.outputs.funnel_report))
        splits = {self.options.split: rows}
        fresh_shard = shard_path(self.outputs.dataset_dir, FRESH_SPLIT)
        if self.options.fresh_after is not None:
            splits[self.options.split], splits[FRESH_SPLIT] = split_fresh(rows, self.options.fresh_after)
        elif fresh_shard.exists():  # an earlier compile's freshness split: its rows are in `split` now
            fresh_shard.unlink()
        for split, split_rows in splits.items():
            write_dataset(self.outputs.dataset_dir, split_rows, split=split,
                          pretty_name="swegc: " + ", ".join(repos) if repos else "swegc dataset",
                          description=f"SWE task instances compiled by swegc {__version__} from "
                                      f"specs for {', '.join(repos) or 'no repository'}."
                                      + (f" Split `{FRESH_SPLIT}` holds the instances created after "
                                         f"{self.options.fresh_after}, for evaluation that training "
                                         f"on `{self.options.split}` cannot have seen."
                                         if self.options.fresh_after is not None else ""),
                          appendix=f"## Funnel and cost\n\n{funnel}\n" if funnel else None)
        for env in envs:
            lock = self.store.get("lock", env["env_key"])
            if lock:
                text = "\n".join(lock) + "\n"
                atomic_write(self.outputs.lock(env["env_key"]),
                             lambda tmp, text=text: Path(tmp).write_text(text))
        # Last: a manifest describes a compile that finished.
        write_manifest(self.outputs, self._manifest(specs, rows, reports, envs))

    def _manifest(self, specs: Sequence[RepoSpec], rows: list[dict[str, Any]],
                  reports: list[dict[str, Any]], envs: list[dict[str, Any]]) -> Manifest:
        counts = Counter(r["status"] for r in reports)
        counts.update(rows=len(rows), envs=len(envs))
        return Manifest(
            swegc_version=__version__, split=self.options.split,
            specs=tuple(SpecEntry(str(s.path), s.spec_hash) for s in specs),
            images={r["instance_id"]: ImageEntry(r["image_tag"], r["image_id"]) for r in rows},
            counts=dict(counts))


def instance_warnings(item: PlannedInstance, verdict: Verdict) -> list[str]:
    """What a user should know about an instance's tests: changed tests left out of the test
    command (found when planning), changed test files that ran no test and tests that failed
    for want of the network (after the runs)."""
    cases = item.directive_kind == "cases"
    unrun = [f"{d}: a changed test case that ran no test after the fix, so it is in neither "
             "FAIL_TO_PASS nor PASS_TO_PASS (is its file one the runner collects?)" if cases else
             f"{d}: a changed test file that ran no test after the fix, so its tests are in "
             "neither FAIL_TO_PASS nor PASS_TO_PASS (is it a test module the runner collects?)"
             for d in verdict.unrun_directives or ()]
    return [*item.warnings, *unrun, *verdict.warnings]


def failure_line(failure: dict[str, Any]) -> str:
    """An env failure on one console line: its reason, what it said last (or its own summary,
    where it has one) and where its log is."""
    lines = [line for line in (failure.get("detail") or "").strip().splitlines() if line.strip()]
    said = f": {failure['summary']}" if failure.get("summary") else \
        f": {lines[-1].strip()[:160]}" if lines else ""
    log = f" (log: {failure['log']})" if failure.get("log") else ""
    return f"{failure['reason']}{said}{log}"


# Failures on swegc's side (building, the engine, the clone, a test command whose output names
# no test): they say nothing of whether the published instance holds, so a rebuilt instance
# that hit one is "not_rebuilt".
NOT_REBUILT_REASONS = frozenset({Reason.ENV_BUILD_FAILED, Reason.INSTALL_FAILED,
                                 Reason.BUILD_FAILED, Reason.BUILD_TIMEOUT, Reason.DOCKER_ERROR,
                                 Reason.INFRASTRUCTURE, Reason.CLONE_UNREADABLE,
                                 Reason.NO_PER_TEST_RESULTS})


def compare_with_published(expected: Any, verdict: Verdict) -> dict[str, Any]:
    """How a re-validated instance compares with what its published dataset said.

    ``agreement``: ``same``, ``differs``, ``no_longer_valid`` (its tests ran and it does not
    hold) or ``not_rebuilt`` (swegc could not build or run it: the published instance is not in
    question). SWE-bench's log parser cut test ids at the first space (``test_x[a b]`` became
    ``test_x[a``): a published id that is such a cut of ids of ours counts as all of them
    (parameters ``a b`` and ``a c`` both became ``test_x[a``), and ``truncated`` lists the
    pairs.
    """
    if verdict.status != "valid":
        agreement = ("not_rebuilt" if verdict.status == "error"
                     or verdict.reason in NOT_REBUILT_REASONS else "no_longer_valid")
        return {"agreement": agreement, "FAIL_TO_PASS_missing": [], "FAIL_TO_PASS_extra": [],
                "PASS_TO_PASS_missing": [], "PASS_TO_PASS_extra": [], "truncated": []}
    truncated: list[list[str]] = []
    ours_f2p, ours_p2p = set(verdict.FAIL_TO_PASS), set(verdict.PASS_TO_PASS)
    theirs_f2p = _untruncated(expected.FAIL_TO_PASS, ours_f2p, truncated)
    theirs_p2p = _untruncated(expected.PASS_TO_PASS, ours_p2p, truncated)
    same = ours_f2p == theirs_f2p and (not theirs_p2p or ours_p2p == theirs_p2p)
    return {"agreement": "same" if same else "differs",
            "FAIL_TO_PASS_missing": sorted(theirs_f2p - ours_f2p),
            "FAIL_TO_PASS_extra": sorted(ours_f2p - theirs_f2p),
            "PASS_TO_PASS_missing": sorted(theirs_p2p - ours_p2p) if theirs_p2p else [],
            "PASS_TO_PASS_extra": sorted(ours_p2p - theirs_p2p) if theirs_p2p else [],
            "truncated": sorted(truncated)}


def _untruncated(published: Sequence[str], ours: set[str], truncated: list[list[str]]) -> set[str]:
    """The published ids, each cut one replaced by every id of ours it is the cut of (one cut
    id stands for all the parameters that share its text up to their first space)."""
    result: set[str] = set()
    for test in dict.fromkeys(published):  # SWE-bench lists a cut id once per test it cut
        whole = sorted(t for t in ours if t.startswith(test + " ")) \
            if test not in ours and " " not in test else []
        truncated.extend([test, t] for t in whole)
        result.update(whole or [test])
    return result


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))
