"""`swegc rollout`: instances x samples as resumable units -> a trajectory dataset (RUNS).

A unit is one sample of one instance: start a sandbox of the instance image, let the policy
work through the tools until it submits or hits a limit, take the diff, and grade it in a fresh
container with the one harness (files the test_patch touches reset first). Each unit is keyed
by a hash of everything its result depends on (the row's image and texts, the tests that grade
it, the policy and its sampling settings, the sample index, the limits), and its result is
stored the moment it is known, in two steps: the agent's result, then the graded trajectory.
So a run killed anywhere resumes where it stopped: finished rollouts are never redone, and a
rollout whose grading failed on the infrastructure is graded again without rerunning the agent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swegc import __version__
from swegc.errors import SwegcError
from swegc.executors import Resources, Transient, make_executor, write_logs
from swegc.hashing import content_hash
from swegc.reasons import Reason
from swegc.records import Instance, Trajectory
from swegc.redact import redact
from swegc.store import BuildStore

if TYPE_CHECKING:
    from swegc.runtime.agent import AgentResult

ROLLOUT_FORMAT = 1
# One sandbox for the agent, then one to grade in: a core each.
ROLLOUT_UNITS = Resources(cpus=1.0)
Echo = Callable[[str], None]


@dataclass(frozen=True)
class RolloutOptions:
    """What `swegc rollout` runs; the docstring under a field is its option's help."""

    out: Path
    """RUNS folder: the trajectory dataset, logs and the resumable store."""
    policy: str
    """Policy name: openai, transformers, replay, gold (or scripted in tests)."""
    policy_options: Any
    """How to build the policy (swegc.runtime.policies.PolicyOptions)."""
    limits: Any = None
    """When a rollout stops (swegc.runtime.agent.AgentLimits; None: its defaults)."""
    sandbox: Any = None
    """Limits of the agent's sandbox (swegc.runtime.sandbox.SandboxLimits; None: its defaults)."""
    hacks: Any = None
    """What a suspicious patch gets (swegc.runtime.harness.hack_policy.HackOptions; None: flag)."""
    samples: int = 1
    """Rollouts per instance."""
    jobs: int | None = 2
    """Rollouts at once (default 2; with --executor ray, as many as the cluster offers)."""
    only: tuple[str, ...] = ()
    """Only this instance id (repeatable)."""
    limit: int | None = None
    """At most this many instances."""
    split: str = "train"
    """Split of DATASET to read."""
    executor: str = "local"
    """Where rollouts run: local (threads) or ray."""
    ray_address: str | None = None
    """Ray cluster to run on; None: one started on this machine."""


@dataclass(frozen=True)
class RolloutUnit:
    """One sample of one instance, with all a worker needs to roll it out and grade it."""

    instance: Instance
    sample: int
    key: str
    # Made once on the driver for the local pool (its settings are in the key); None where
    # the unit runs in another process, which makes its own from the name and options.
    policy: Any = field(compare=False, repr=False)
    policy_name: str = ""
    policy_options: Any = None
    limits: Any = None  # swegc.runtime.agent.AgentLimits
    sandbox: Any = None  # swegc.runtime.sandbox.SandboxLimits
    grade_log: str = ""  # the driver's path of the grading log: the log's name
    agent: AgentResult | None = None  # the agent's stored result: only grading is left

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id

    @property
    def run_id(self) -> str:
        return f"{self.instance_id}.s{self.sample}.{self.key[:10]}"


@dataclass(frozen=True)
class RolloutResult:
    """A unit's result: the agent's part (stored first), the graded trajectory, the log."""

    agent: AgentResult
    trajectory: Trajectory
    logs: dict[str, str]


@dataclass
class RolloutSummary:
    trajectories: list[Trajectory] = field(default_factory=list)
    reused: int = 0
    ran: int = 0
    errors: list[str] = field(default_factory=list)  # transient: the next run retries them
    image_gone: list[str] = field(default_factory=list)  # no rerun helps until the image is back
    path: Path | None = None

    @property
    def resolved(self) -> int:
        return sum(t.resolved for t in self.trajectories)


class Rollouts:
    """Runs the units of a rollout and writes the trajectory dataset; see the module doc."""

    def __init__(self, options: RolloutOptions, echo: Echo = print):
        from swegc.runtime.agent import AgentLimits
        from swegc.runtime.sandbox import SandboxLimits

        from swegc.runtime.harness.hack_policy import HackOptions

        self.options = options
        self.hack_policy = (options.hacks or HackOptions()).hack_policy
        self.limits = options.limits or AgentLimits()
        self.sandbox_limits = options.sandbox or SandboxLimits()
        self.echo = echo
        self.out = Path(options.out)
        if self.out.exists() and not self.out.is_dir():
            raise SwegcError(f"--out {self.out} is a file; give a folder for the runs")
        self.store = BuildStore(self.out / "store.sqlite")
        self.pool = make_executor(options.executor, options.jobs, address=options.ray_address,
                                  echo=echo)

    # -- planning --------------------------------------------------------------------------
    def units(self, instances: Sequence[Instance]) -> list[RolloutUnit]:
        from swegc.runtime.agent import AgentResult
        from swegc.runtime.policies import get_policy

        instances = sorted(instances, key=lambda i: i.instance_id)
        if self.options.only:
            known = {i.instance_id for i in instances}
            unknown = sorted(set(self.options.only) - known)
            if unknown:
                raise SwegcError(f"--instance: the dataset has no instance {', '.join(unknown)}")
            instances = [i for i in instances if i.instance_id in self.options.only]
        if self.options.limit is not None:
            instances = instances[: self.options.limit]
        units = []
        for instance in instances:
            for sample in range(self.options.samples):
                # Made here, once per unit, so that a bad name or option fails before any work.
                policy = get_policy(self.options.policy, self.options.policy_options, instance,
                                    sample)
                key = content_hash("rollout", ROLLOUT_FORMAT, _row_identity(instance.to_json()),
                                   policy.settings(), sample, asdict(self.limits),
                                   _sandbox_identity(self.sandbox_limits))
                run_id = f"{instance.instance_id}.s{sample}.{key[:10]}"
                grade_log = self.out / "logs" / instance.instance_id / f"{run_id}.grade.log"
                stored = self.store.get("agent", key)
                units.append(RolloutUnit(
                    instance, sample, key, None if self.pool.remote else policy,
                    self.options.policy, self.options.policy_options, self.limits,
                    self.sandbox_limits, str(grade_log),
                    AgentResult.from_json(stored) if stored is not None else None))
        return units

    # -- running ---------------------------------------------------------------------------
    def run(self, instances: Sequence[Instance]) -> RolloutSummary:
        from swegc.docker_client import docker_client
        from swegc.errors import ImageGoneError
        from swegc.runtime.sandbox.orphans import remove_orphans

        units = self.units(instances)
        orphans = remove_orphans(docker_client())
        if orphans:
            self.echo(f"removed {orphans} container(s) left by an interrupted run")
        summary = RolloutSummary()
        done: dict[str, Trajectory] = {}
        todo = []
        for unit in units:
            stored = self.store.get("trajectory", unit.key)
            if stored is not None:
                traj = _scanned(Trajectory.from_json(stored, where=f"store: {unit.run_id}"), unit)
                done[unit.key] = policed(traj, self.hack_policy)
            else:
                todo.append(unit)
        summary.reused = len(done)
        if done:
            self.echo(f"{len(done)} of {len(units)} rollouts already finished; "
                      f"{len(todo)} to run")
        resolved = sum(t.resolved for t in done.values())
        try:
            outcomes = self.pool.map_unordered(rollout_unit, todo, resources=ROLLOUT_UNITS,
                                               locality=lambda u: u.instance.image)
            for n, outcome in enumerate(outcomes, 1):
                unit = outcome.item
                if isinstance(outcome.error, Transient):
                    kept = outcome.error.retry_with
                    if isinstance(kept, RolloutUnit) and kept.agent is not None:
                        self.store.put("agent", unit.key, kept.agent.to_json())  # grading failed
                    summary.errors.append(f"{unit.run_id}: {outcome.error}")
                    self.echo(f"[rollout {n}/{len(todo)}] {unit.instance_id} sample {unit.sample}: "
                              f"error (not stored; the next run retries it): {outcome.error}")
                    continue
                if isinstance(outcome.error, ImageGoneError):  # apart: not tried again
                    summary.image_gone.append(f"{unit.run_id}: {outcome.error}")
                    self.echo(f"[rollout {n}/{len(todo)}] {unit.instance_id} sample {unit.sample}: "
                              f"error: image {outcome.error.reference} is gone "
                              f"({outcome.error.why}; not tried again)")
                    continue
                if outcome.error is not None:
                    raise outcome.error
                assert outcome.result is not None
                write_logs(outcome.result.logs)
                self.store.put("agent", unit.key, outcome.result.agent.to_json())
                traj = outcome.result.trajectory
                self.store.put("trajectory", unit.key, traj.to_json())  # before the policy
                traj = policed(traj, self.hack_policy)
                done[unit.key] = traj
                summary.ran += 1
                resolved += traj.resolved
                verdict = "resolved" if traj.resolved else ("unresolved" if traj.patch.strip()
                                                            else "empty patch")
                if traj.suspicious:
                    verdict += f", suspicious ({len(traj.suspicious)} finding(s))"
                self.echo(f"[rollout {n}/{len(todo)}] {unit.instance_id} sample {unit.sample}: "
                          f"{traj.exit_status}, {verdict} ({traj.n_steps} steps, "
                          f"{traj.wall_time_s:.1f}s); resolved so far {resolved}/{len(done)} "
                          f"({100.0 * resolved / len(done):.1f}%)")
        finally:
            self.pool.close()
            # Whatever finished is written, also when the run is interrupted.
            summary.trajectories = [done[u.key] for u in units if u.key in done]
            summary.path = self._write(summary.trajectories)
        return summary

    def _write(self, trajectories: list[Trajectory]) -> Path:
        from swegc.trajectory_dataset import write_trajectories

        name = self.options.policy_options
        model = getattr(name, "model", None) or self.options.policy
        return write_trajectories(
            self.out, trajectories, split=self.options.split,
            pretty_name=f"swegc rollouts: {model}",
            description=f"Agent rollouts by swegc {__version__} with the `{self.options.policy}` "
                        f"policy ({model}): {len(trajectories)} trajectories.")


def rollout_unit(unit: RolloutUnit) -> RolloutResult:
    """One rollout: the agent in a sandbox of the row's image (unless its result is known),
    then its patch graded in a fresh one. A plain function of the unit: it runs in a thread of
    the driver or on a Ray worker alike, and the driver stores what it returns."""
    from dataclasses import replace

    from swegc.runtime.harness.test_spec import TestSpec

    start = time.monotonic()
    _pull(unit.instance.image)  # before the agent, and before a kept agent's grading
    agent = unit.agent if unit.agent is not None else _run_agent(unit)
    patch = agent.patch
    grade: dict[str, Any] = {"resolved": False, "status": "", "test_report": {}, "error": None,
                             "suspicious": []}
    logs: dict[str, str] = {}
    if patch.strip():
        spec = TestSpec.from_row(unit.instance.to_json(), where=unit.instance_id)
        report, logs = _grade(spec, patch, unit)
        if report.error:
            # Infrastructure, not the patch: never stored as unresolved; the retry grades the
            # same patch again without running the agent again.
            raise Transient(Reason.GRADING, f"grading failed on the infrastructure: {report.error}",
                            retry_with=replace(unit, agent=agent))
        grade = {"resolved": report.resolved,
                 "status": report.status.name if report.status is not None else "",
                 "test_report": dict(report.test_report), "error": None,
                 "suspicious": [finding.to_json() for finding in report.suspicious]}
    traj = Trajectory(
        instance_id=unit.instance_id, run_id=unit.run_id, policy=agent.policy,
        messages=agent.messages, tools=agent.tools, exit_status=agent.exit_status,
        patch=patch, n_steps=agent.n_steps, prompt_tokens=agent.prompt_tokens,
        completion_tokens=agent.completion_tokens,
        wall_time_s=round(float(agent.wall_time_s) + time.monotonic() - start, 3),
        resolved=bool(grade["resolved"]), test_report=grade["test_report"],
        image=unit.instance.image, sample=unit.sample, cost=float(agent.cost),
        grade=grade["status"], error=agent.error, swegc_version=__version__,
        suspicious=grade["suspicious"])
    return RolloutResult(agent, traj, logs)


def _scanned(traj: Trajectory, unit: RolloutUnit) -> Trajectory:
    """A trajectory stored before rows carried the reward-hack scan (schema 3), scanned now."""
    from dataclasses import replace

    from swegc.runtime.harness.hack_scan import scan_spec_patch
    from swegc.runtime.harness.test_spec import TestSpec

    if traj.schema_version >= 3 or not traj.patch.strip():
        return traj
    spec = TestSpec.from_row(unit.instance.to_json(), where=unit.instance_id)
    return replace(traj, suspicious=[f.to_json() for f in scan_spec_patch(spec, traj.patch)])


def policed(traj: Trajectory, policy: str) -> Trajectory:
    """``traj`` as the hack policy grades it (``hack_policy``): under ``refuse`` a suspicious
    patch is unresolved. The store keeps the trajectory before the policy."""
    from dataclasses import replace

    if policy == "refuse" and traj.suspicious and traj.grade in ("FULL", "PARTIAL"):
        return replace(traj, resolved=False, grade="NO")
    return traj


def _run_agent(unit: RolloutUnit) -> AgentResult:
    """The agent's rollout in a fresh sandbox of the instance's image; its error redacted."""
    from dataclasses import replace

    from swegc.runtime.agent import run_agent
    from swegc.runtime.policies import get_policy
    from swegc.runtime.sandbox import InfrastructureError, open_sandbox

    policy = unit.policy or get_policy(unit.policy_name, unit.policy_options, unit.instance,
                                       unit.sample)
    try:
        box = open_sandbox(unit.instance.image, unit.sandbox, guard=True,
                           labels={"org.swegc.instance": unit.instance_id})
    except InfrastructureError as exc:  # the sandbox did not start: nothing ran yet
        raise Transient(Reason.SANDBOX, f"the sandbox did not start: {exc}") from None
    with box:
        result = run_agent(policy, box, unit.instance.problem_statement, unit.limits)
    return replace(result, error=redact(result.error) if result.error else None)


def _pull(image: str) -> None:
    """A node that lacks a published row's image pulls it by digest; an image that is gone
    raises ``ImageGoneError`` (no Transient: another try cannot bring it back)."""
    from swegc.docker_client import ensure_runnable
    from swegc.errors import RegistryError

    try:
        ensure_runnable(image)
    except RegistryError as exc:
        raise Transient(Reason.REGISTRY, str(exc)) from None


def _grade(spec: Any, patch: str, unit: RolloutUnit) -> tuple[Any, dict[str, str]]:
    """The grade report and the grading log (named by the driver's path)."""
    import tempfile
    from dataclasses import replace

    from swegc.runtime.harness.grading import grade_patch

    with tempfile.TemporaryDirectory(prefix="swegc-grade-") as tmp:
        log = Path(tmp) / "grade.log"
        report = grade_patch(spec, patch, log_path=log, attempts=1)  # the executor retries
        text = log.read_text(errors="replace") if log.exists() else ""
    report = replace(report, log_path=unit.grade_log if report.log_path else None)
    return report, ({unit.grade_log: text} if text else {})


def _row_identity(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a rollout's result depends on in its row (not, e.g., its validation details): the
    task, the lists it is graded by, and how its tests run (every test setting, as one value)."""
    from swegc.test_settings import TestSettings

    keys = ("instance_id", "image", "base_commit", "problem_statement", "patch", "test_patch",
            "FAIL_TO_PASS", "PASS_TO_PASS")
    where = str(row.get("instance_id") or "row")
    return {**{k: row.get(k) for k in keys},
            "test_settings": TestSettings.from_row(row, where).key()}


def _sandbox_identity(limits: Any) -> dict[str, Any]:
    data = asdict(limits)
    data.pop("env", None)  # the env may hold secrets; the values never enter a key
    return data
