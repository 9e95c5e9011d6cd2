"""`swegc synthesize`: a compiled build's valid instances -> many validated synthetic tasks.

Per environment (the instances that share an env commit), source instances are taken in turn
until the environment has ``per_env`` valid tasks:

1. map the source (``units.map_source``): its fixed tree, which tests pass, which functions each
   test calls, the called files' text (written to ``work/<key>/`` on the host for generators);
2. make candidates with each strategy's generator from the covered functions;
3. drop a diff already seen in the environment (``duplicate``), screen the rest in one sandbox
   (``units.screen``): ``does_not_apply``, ``syntax_error``, ``no_failing_test``, ``too_broad``;
4. build and validate tasks (``units.make_task``) in waves just big enough to reach
   ``per_env``; a task whose FAIL_TO_PASS set on the same function was seen is a ``duplicate``.

Every unit is keyed by a hash of its inputs and stored in the SYNTH folder's build store as it
finishes, so a run stopped anywhere resumes, and an unchanged run builds and runs nothing. The
output is a build folder: the dataset (Hub layout), ``reports/instances.jsonl`` (every candidate
with its status and reason), ``reports/funnel.json``, logs and a manifest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from swegc.build_layout import BuildLayout
from swegc.compiler.synthesis.bugs import BugCandidate, FunctionTarget
from swegc.compiler.synthesis.coverage import covered_targets
from swegc.compiler.synthesis.generators import (AFTER_VALIDATION, STRATEGIES, Context, Generate,
                                                 check_strategies)
from swegc.compiler.synthesis.rows import task_id, task_row
from swegc.compiler.synthesis.statement import problem_statement
from swegc.compiler.synthesis.tally import Tally, write_build
from swegc.compiler.synthesis.units import (BaseImage, BaseJob, ScreenItem, Screened, ScreenJob,
                                            SourceJob, SourceMap, TaskJob, TaskResult, make_base,
                                            make_task, map_source, screen, test_files)
from swegc.dataset import load_instances
from swegc.errors import SwegcError
from swegc.executors import Outcome, Resources, Transient, make_executor, write_logs
from swegc.hashing import content_hash
from swegc.naming import instance_image_name
from swegc.records import ORIGIN_REAL, Instance
from swegc.store import BuildStore
from swegc.test_settings import TestSettings, full_test_command

SOURCE_FORMAT = 1
SCREEN_FORMAT = 1
BASE_FORMAT = 1
TASK_FORMAT = 2  # 2: the task's layer goes on its source's shared base
Echo = Callable[[str], None]
UNITS = Resources(cpus=1.0)


@dataclass(frozen=True)
class SynthOptions:
    build: Path  # the compiled build folder (or any dataset load_instances reads)
    out: Path
    per_env: int = 10  # valid tasks wanted per environment
    strategies: tuple[str, ...] = ("mutation",)
    seed: int = 0
    jobs: int | None = 2
    executor: str = "local"
    ray_address: str | None = None
    runs: int | None = None  # test runs per side; default: each source's own (its row's)
    cap: float = 0.5  # the largest share of the tests run that a bug may fail (too_broad)
    per_source: int | None = None  # candidates per source and strategy (default 4 * per_env)
    split: str = "train"
    # What the call map runs: "suite" (the test command without directives: every test, so
    # every function the suite covers) or "instance" (the source row's own test files: cheap on
    # a large suite, fewer functions covered).
    map_scope: str = "suite"
    policy: str | None = None  # the runtime policy that rewrites functions (strategy policy)
    policy_options: dict[str, Any] = field(default_factory=dict)  # PolicyOptions' fields


@dataclass
class EnvState:
    """What one environment has so far: its valid tasks, the diffs and the (functions, failing
    tests) signatures seen, so that no two of its tasks are the same."""

    valid: int = 0
    diffs: set[str] = field(default_factory=set)
    signatures: set[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=set)


def base_command(settings: TestSettings) -> str:
    """The test command without the instance's directives: the suite the map is made from."""
    suffix = full_test_command("", settings.test_directives)
    if settings.test_directives and settings.test_command.endswith(suffix):
        return settings.test_command[: -len(suffix)]
    return settings.test_command


def environments(instances: Mapping[str, Instance]) -> dict[tuple[str, str], list[Instance]]:
    """Real instances by (repository, env commit), each list sorted by instance id."""
    groups: dict[tuple[str, str], list[Instance]] = {}
    for iid in sorted(instances):
        inst = instances[iid]
        if inst.origin == ORIGIN_REAL:
            groups.setdefault((inst.repo, inst.env_commit or inst.environment_setup_commit),
                              []).append(inst)
    return groups


class Synthesizer:
    def __init__(self, options: SynthOptions, echo: Echo = print,
                 generators: Mapping[str, Generate] | None = None):
        self.options = options
        self.echo = echo
        self.strategies = check_strategies(options.strategies)
        # a test may hand its own generators; else each strategy's own
        self.generators = {**STRATEGIES, **(generators or {})}
        self._clones: dict[str, Path | None] = {}
        self._bases: dict[str, tuple[BaseImage, tuple[str, ...]]] = {}  # by source instance
        if "policy" in self.strategies and not options.policy:
            raise SwegcError("--strategies policy needs --policy NAME (openai, transformers, "
                             "or scripted with --policy-options)")
        out = Path(options.out)
        if out.exists() and not out.is_dir():
            raise SwegcError(f"--out {out} is a file; give a folder for the synthetic build")
        if out.resolve() == Path(options.build).resolve():
            raise SwegcError("--out must be a new folder, not the build synthesize reads")
        self.layout = BuildLayout(out)
        self.store = BuildStore(self.layout.store)
        self.work = out / "work"

    def run(self) -> Tally:
        start = time.monotonic()
        instances = load_instances(self.options.build, require=("image",))
        groups = environments(instances)
        if not groups:
            raise SwegcError(f"{self.options.build}: no valid real instance to synthesize from "
                             "(compile the specs first: swegc compile SPECS --out BUILD)")
        tally = Tally()
        self.pool = make_executor(self.options.executor, self.options.jobs,
                                  address=self.options.ray_address, echo=self.echo)
        try:
            for n, ((repo, env_commit), sources) in enumerate(sorted(groups.items()), 1):
                self.echo(f"[env {n}/{len(groups)}] {repo} at {env_commit[:12]}: "
                          f"{len(sources)} source instance(s), {self.options.per_env} tasks wanted")
                self._environment(sources, tally)
        finally:
            self.pool.close()
        write_build(self.layout, tally, split=self.options.split, build=Path(self.options.build),
                    strategies=self.strategies, per_env=self.options.per_env)
        self.elapsed_s = time.monotonic() - start
        return tally

    # -- one environment -------------------------------------------------------------------
    def _environment(self, sources: list[Instance], tally: Tally) -> None:
        env = EnvState()
        for source in sources:
            if env.valid >= self.options.per_env:
                break
            if source.tests.parser != "pytest":
                self._source_line(tally, source, f"its parser is {source.tests.parser}: the "
                                  "call recorder is a pytest plugin")
                continue
            smap = self._map(source, tally)
            if smap.problem:
                self._source_line(tally, source, smap.problem)
                continue
            targets = covered_targets(smap.files, smap.calls, smap.passing,
                                      source.tests.file_globs)
            ctx = Context(source, self._checkout(source, smap), targets, self.options.seed,
                          self.options.per_source or max(20, 4 * self.options.per_env),
                          self._clone(source.repo), self._policy(source))
            first = [n for n in self.strategies if n not in AFTER_VALIDATION]
            # the strategies take turns, so that each has candidates in the first rounds
            candidates = _interleave([self.generators[n](ctx) for n in first])
            self._source_line(tally, source, None, targets=len(targets),
                              candidates=len(candidates))
            # the files no blob of which the shared base may hold: every one a bug may change,
            # the covered functions' files whatever --per-env asks (so a larger one reuses the
            # base and its tasks), and what a revert changes besides; each task's layer holds
            # these files' blobs
            held = sorted({t.path for t in targets} | {f for c in candidates for f in c.files})
            base = self._base(source, tuple(held), tally)
            if base.problem:
                self._source_line(tally, source, base.problem)
                continue
            kept = self._process(source, smap, targets, candidates, tally, env)
            for name in (n for n in self.strategies if n in AFTER_VALIDATION):
                if env.valid < self.options.per_env:
                    made = self.generators[name](replace(ctx, valid=tuple(kept)))
                    self.echo(f"  {source.instance_id}: {len(made)} {name} candidates")
                    kept += self._process(source, smap, targets, made, tally, env)
            self.echo(f"  {source.instance_id}: {env.valid} valid task(s) in this environment "
                      f"so far; {len(tally.rows)} in all")

    def _process(self, source: Instance, smap: SourceMap, targets: Sequence[FunctionTarget],
                 candidates: list[BugCandidate], tally: Tally,
                 env: EnvState) -> list[BugCandidate]:
        """Candidates of one source through screening and validation, in rounds just big
        enough for the tasks still wanted (the ones left when the environment is full cost
        nothing); the candidates that became tasks."""
        tally.generated += len(candidates)
        covering = {f"{t.path}:{t.qualname}": t.covering_tests for t in targets}
        passing = smap.passing
        items: list[tuple[str, BugCandidate, tuple[str, ...]]] = []
        for candidate in candidates:
            tid = task_id(source, candidate)
            tests = {t for f in candidate.functions for t in covering.get(f, ())}
            # a reverted pull request's own tests cover it too
            own = set(candidate.extra.get("test_files") or ())
            tests |= {t for t in passing if t.split("::", 1)[0] in own}
            if candidate.bug_patch in env.diffs:
                tally.rejected(tally.applied, tid, source, candidate, "duplicate",
                               "the same diff as another candidate of this environment")
            elif not tests:
                tally.rejected(tally.applied, tid, source, candidate, "no_failing_test",
                               "no passing test calls the changed functions")
            else:
                env.diffs.add(candidate.bug_patch)
                items.append((tid, candidate, tuple(sorted(tests))))
        kept: list[BugCandidate] = []
        jobs = self.options.jobs or 1
        while items and env.valid < self.options.per_env:
            need = self.options.per_env - env.valid
            size = max(2 * jobs, 3 * need)
            batch, items = items[:size], items[size:]
            survivors = self._screen(source, smap, batch, tally)
            made = self._tasks(source, survivors, tally, env.signatures, need)
            env.valid += len(made)
            kept += made
        for tid, candidate, _ in items:
            tally.skipped(tid, source, candidate, screened=False)
        return kept

    def _base(self, source: Instance, held: tuple[str, ...], tally: Tally) -> BaseImage:
        """The image layer this source's tasks share (``units.make_base``), made once."""
        key = content_hash("synth-base", BASE_FORMAT, source.image, source.patch,
                           source.test_patch, source.tests.key(), held)
        stored = self.store.get("synth_base", key)
        base = BaseImage.from_json(stored) if stored is not None else None
        if base is None or (base.problem is None and not _image_here(base.image)):
            name = instance_image_name(f"{source.instance_id}.synth-base", key[:16])
            outcome = next(iter(self.pool.map_unordered(
                make_base, [BaseJob(key, source, held, name)], resources=UNITS)))
            base = BaseImage.from_json(self._result(outcome).to_json())  # as stored
            self.store.put("synth_base", key, base.to_json())
        tally.costs["task"][0] += base.cpu_s
        tally.costs["task"][1] += base.wall_s
        tally.layer_bytes += base.layer_bytes
        self._bases[source.instance_id] = (base, held)
        return base

    def _clone(self, repo: str) -> Path | None:
        """The repository's clone as the build's spec names it, for reverts (None: not asked
        for, or the spec or its clone cannot be read: said once)."""
        if "pr_revert" not in self.strategies:
            return None
        if repo not in self._clones:
            self._clones[repo] = None
            try:
                from swegc.build_layout import read_manifest
                from swegc.compiler.spec.loader import load_specs
                from swegc.git import GitRepo

                manifest = read_manifest(BuildLayout(Path(self.options.build)))
                for spec in load_specs([Path(s.path) for s in manifest.specs]):
                    if spec.repo == repo and spec.source.clone is not None:
                        self._clones[repo] = GitRepo.open(spec.source.clone).path
            except SwegcError as exc:
                self.echo(f"warning: pr_revert: no clone of {repo} ({exc}); no reverts for it")
        return self._clones[repo]

    def _policy(self, source: Instance) -> Any:
        """The policy that rewrites functions (``--policy``), made for this source."""
        if self.options.policy is None or "policy" not in self.strategies:
            return None
        from swegc.runtime.policies import PolicyOptions, get_policy

        options = PolicyOptions.from_dict(self.options.policy_options, "--policy-options")
        return get_policy(self.options.policy, options, source)

    def _source_line(self, tally: Tally, source: Instance, problem: str | None,
                     **counts: int) -> None:
        tally.sources.append({"instance_id": source.instance_id, "problem": problem, **counts})
        if problem:
            self.echo(f"  {source.instance_id}: not used: {problem.splitlines()[0][:200]}")
        else:
            self.echo(f"  {source.instance_id}: {counts.get('targets', 0)} covered functions, "
                      f"{counts.get('candidates', 0)} candidates")

    def _runs(self, source: Instance) -> int:
        if self.options.runs:
            return self.options.runs
        runs = source.validation.get("runs") if isinstance(source.validation, dict) else None
        return int(runs) if isinstance(runs, int) and runs > 0 else 1

    def _map(self, source: Instance, tally: Tally) -> SourceMap:
        # the whole suite, or only the test files the instance's own row runs
        command = base_command(source.tests) if self.options.map_scope == "suite" \
            else source.tests.test_command
        key = content_hash("synth-source", SOURCE_FORMAT, source.image, source.patch,
                           source.test_patch, source.tests.key(), command)
        stored = self.store.get("synth_source", key)
        if stored is not None:
            smap = SourceMap.from_json(stored)
        else:
            self.echo(f"  {source.instance_id}: mapping which tests call which functions")
            outcome = next(iter(self.pool.map_unordered(
                map_source, [SourceJob(key, source, command)], resources=UNITS)))
            smap = SourceMap.from_json(self._result(outcome).to_json())  # as stored
            self.store.put("synth_source", key, smap.to_json())
        tally.costs["map"][0] += smap.cpu_s
        tally.costs["map"][1] += smap.wall_s
        return smap

    def _checkout(self, source: Instance, smap: SourceMap) -> Path:
        """The called files of the fixed tree on the host, where generators read them."""
        root = self.work / content_hash("checkout", source.instance_id, sorted(smap.files))[:16]
        for path, text in smap.files.items():
            target = root / path
            if not target.is_file() or target.read_text() != text:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        return root

    def _screen(self, source: Instance, smap: SourceMap,
                items: list[tuple[str, BugCandidate, tuple[str, ...]]],
                tally: Tally) -> list[tuple[str, BugCandidate, Screened]]:
        keys = {tid: content_hash("synth-screen", SCREEN_FORMAT, source.image, source.patch,
                                  source.test_patch, source.tests.key(), c.bug_patch, tests,
                                  self.options.cap) for tid, c, tests in items}
        results: dict[str, Screened] = {}
        todo = []
        for tid, candidate, tests in items:
            stored = self.store.get("synth_screen", keys[tid])
            if stored is not None:
                results[tid] = Screened.from_json(stored)
            else:
                todo.append(ScreenItem(tid, candidate, tests))
        if todo:
            self.echo(f"  {source.instance_id}: screening {len(todo)} candidate(s)")
            job = ScreenJob(source, base_command(source.tests), tuple(sorted(smap.passing)),
                            tuple(todo), self.options.cap)
            # one sandbox per batch; batches side by side
            size = max(1, -(-len(todo) // max(1, self.options.jobs or 1)))
            jobs = [ScreenJob(job.source, job.command, job.passing, tuple(todo[i:i + size]),
                              job.cap) for i in range(0, len(todo), size)]
            for outcome in self.pool.map_unordered(screen, jobs, resources=UNITS):
                for tid, screened in self._result(outcome):
                    results[tid] = screened
                    self.store.put("synth_screen", keys[tid], screened.to_json())
        survivors = []
        for tid, candidate, _ in items:
            screened = results[tid]
            tally.costs["screen"][0] += screened.cpu_s
            if screened.reason in ("does_not_apply", "syntax_error", "source_unusable"):
                tally.rejected(tally.applied, tid, source, candidate, screened.reason,
                               screened.detail)
            elif screened.reason is not None:
                tally.rejected(tally.screened, tid, source, candidate, screened.reason,
                               screened.detail)
            else:
                survivors.append((tid, candidate, screened))
        return survivors

    def _tasks(self, source: Instance, survivors: list[tuple[str, BugCandidate, Screened]],
               tally: Tally, seen_sets: set[tuple[tuple[str, ...], tuple[str, ...]]],
               wanted: int) -> list[BugCandidate]:
        """Build and validate survivors in waves until ``wanted`` are valid; those that are."""
        kept: list[BugCandidate] = []
        queue = []
        queued: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
        for tid, candidate, screened in survivors:
            # The screening run's failing tests stand for FAIL_TO_PASS: a bug that fails the
            # same tests in the same function as one kept (or queued) before is not built.
            signature = _signature(candidate, screened.failing)
            if signature in seen_sets or signature in queued:
                tally.rejected(tally.validated, tid, source, candidate, "duplicate",
                               "the same failing tests on the same function as another task")
            else:
                queued.add(signature)
                queue.append((tid, candidate, screened))
        while queue and len(kept) < wanted:
            need = wanted - len(kept)
            size = max(self.options.jobs or 1, need + need // 4)  # most screened ones hold
            wave, queue = queue[:size], queue[size:]
            jobs: dict[str, TaskJob] = {}
            done: dict[str, TaskResult] = {}
            for tid, candidate, screened in wave:
                job = self._task_job(tid, source, candidate, screened)
                stored = self.store.get("synth_task", job.key)
                result = TaskResult.from_json(stored) if stored is not None else None
                if result is not None and (result.image is None or _image_here(result.image)):
                    done[tid] = result
                else:
                    jobs[tid] = job
            by_key = {job.key: tid for tid, job in jobs.items()}
            for outcome in self.pool.map_unordered(make_task, list(jobs.values()),
                                                   resources=UNITS):
                result = self._result(outcome)
                write_logs(result.logs)
                self.store.put("synth_task", outcome.item.key, result.to_json())
                # as a later run reads it back (rounded), so that both write the same figures
                done[by_key[outcome.item.key]] = TaskResult.from_json(result.to_json())
            for tid, candidate, screened in wave:
                if len(kept) >= wanted:
                    tally.skipped(tid, source, candidate)
                elif self._collect(tid, source, candidate, jobs.get(tid) or
                                   self._task_job(tid, source, candidate, screened),
                                   done[tid], tally, seen_sets, screened.failing):
                    kept.append(candidate)
        for tid, candidate, _ in queue:
            tally.skipped(tid, source, candidate)
        return kept

    def _task_job(self, tid: str, source: Instance, candidate: BugCandidate,
                  screened: Screened) -> TaskJob:
        files = test_files(list(screened.failing))
        settings = TestSettings(**{**_fields(source.tests),
                                   "test_command": full_test_command(base_command(source.tests),
                                                                     files),
                                   "test_directives": tuple(files)})
        runs = self._runs(source)
        base, held = self._bases[source.instance_id]
        key = content_hash("synth-task", TASK_FORMAT, base.image_id, candidate.bug_patch,
                           candidate.fix_patch, settings.key(), runs)
        return TaskJob(key, tid, source, candidate, settings, runs,
                       instance_image_name(tid, key[:16]), str(self.layout.logs_dir),
                       base.image, held)

    def _collect(self, tid: str, source: Instance, candidate: BugCandidate, job: TaskJob,
                 result: TaskResult, tally: Tally,
                 seen_sets: set[tuple[tuple[str, ...], tuple[str, ...]]],
                 failing: tuple[str, ...]) -> bool:
        verdict = result.verdict
        tally.costs["task"][0] += result.cpu_s + verdict.cpu_s
        tally.costs["task"][1] += verdict.duration_s + result.seal_s
        if verdict.status != "valid":
            reason = {"no_fail_to_pass": "no_failing_test"}.get(
                str(verdict.reason or ""), str(verdict.reason or "rejected"))
            if reason == "no_failing_test" and verdict.flaky_tests:
                reason = "flaky"
            tally.rejected(tally.validated, tid, source, candidate, reason,
                           verdict.detail or "")
            return False
        signature = _signature(candidate, verdict.FAIL_TO_PASS)
        if signature in seen_sets:
            tally.rejected(tally.validated, tid, source, candidate, "duplicate",
                           "the same FAIL_TO_PASS tests on the same function as another task")
            return False
        seen_sets.add(signature)
        seen_sets.add(_signature(candidate, failing))  # as screening will see the next ones
        issues = candidate.extra.get("issues") or []
        statement = "".join(f"{i['title']}\n{i['body']}".rstrip() + "\n" for i in issues) or \
            problem_statement(verdict.FAIL_TO_PASS, result.before_log, candidate.bug_patch,
                              candidate.files)
        tally.rows.append(task_row(tid, source, candidate, result, job.settings, job.runs,
                                   statement, self._bases[source.instance_id][0].layer_bytes))
        tally.layer_bytes += result.layer_bytes
        tally.report(tid, source, candidate, "valid", None, None, image=result.image,
                     layer_bytes=result.layer_bytes, FAIL_TO_PASS=len(verdict.FAIL_TO_PASS),
                     PASS_TO_PASS=len(verdict.PASS_TO_PASS), flaky_tests=verdict.flaky_tests,
                     validation_s=round(verdict.duration_s, 3))
        self.echo(f"  [valid {len(tally.rows)}] {tid} ({candidate.origin}) "
                  f"F2P={len(verdict.FAIL_TO_PASS)} P2P={len(verdict.PASS_TO_PASS)}")
        return True

    # -- bookkeeping -----------------------------------------------------------------------
    def _result(self, outcome: Outcome[Any, Any]) -> Any:
        if isinstance(outcome.error, Transient):
            raise SwegcError(f"the Docker engine kept failing ({outcome.error}); run the same "
                             "command again to continue where it stopped")
        if outcome.error is not None:
            raise outcome.error
        return outcome.result


def _interleave(lists: Sequence[list[BugCandidate]]) -> list[BugCandidate]:
    """One of each list in turn, in order, until all are used."""
    out: list[BugCandidate] = []
    for index in range(max((len(items) for items in lists), default=0)):
        out += [items[index] for items in lists if index < len(items)]
    return out


def _signature(candidate: BugCandidate,
               failing: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What makes two tasks the same task: the functions changed and the tests that fail."""
    return tuple(sorted(candidate.functions)), tuple(sorted(failing))


def _fields(settings: TestSettings) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(settings, f.name) for f in fields(settings)}


def _image_here(name: str) -> bool:
    from swegc.docker_client import docker_client, image_exists

    return image_exists(docker_client(), name) is not None
