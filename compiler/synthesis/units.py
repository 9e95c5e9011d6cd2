"""Synthesis's units of work, as plain functions of records (any executor runs them).

- ``map_source``: in a sandbox of a valid instance's image, its fix and test_patch applied (the
  fixed tree), run the test command once with the call recorder (``coverage``), and bring back
  which tests pass, which functions each calls, and the text of the files they call into (the
  host checkout that generators read).
- ``screen``: in one sandbox of the same fixed tree, each candidate bug in turn: does it apply,
  does it parse, do some covering tests fail, not too many. Cheap (one run, no image), it
  throws out most candidates before anything is built.
- ``make_task``: the task's image, a thin layer on the instance's (the bug applied and the
  repository sealed: ``leak``), then the instance's validation as compile runs it
  (``validation.validate``, the one run procedure): the bugged tree must fail, the fix (the
  gold patch) must pass, in every one of the spec's runs. So a task is valid only if its gold
  patch resolves it when graded.

Units touch no build store; the driver stores what they return. Failures of the engine raise
``Transient`` (retried, never stored).
"""

from __future__ import annotations

import io
import json
import shlex
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from swegc.compiler.synthesis import leak
from swegc.compiler.synthesis.bugs import BugCandidate
from swegc.compiler.synthesis.coverage import OUTPUT, PLUGIN, PLUGIN_DIR, PLUGIN_MODULE, CallMap, plugin_env, read_calls
from swegc.docker_client import LABEL
from swegc.executors import Transient
from swegc.records import Instance
from swegc.runtime.harness.parsers import get_parser
from swegc.runtime.harness.run import OUTPUT_BYTES, run_prepare
from swegc.runtime.harness.validation import ValidationPlan, Verdict, validate
from swegc.runtime.sandbox import InfrastructureError, SandboxLimits, open_sandbox
from swegc.test_settings import TEST_ENV, TestSettings, full_test_command

WORK = leak.WORK
APPLY = "git apply --whitespace=nowarn"
FILE_BYTES = 1_000_000  # a source file larger than this is not brought back for the generators
LOG_BYTES = 200_000  # of the first failing run's log, kept for the problem statement


def _limits(settings: TestSettings) -> SandboxLimits:
    return SandboxLimits(network=settings.network, env={**TEST_ENV, **settings.env},
                         output_bytes=OUTPUT_BYTES)


def _cpu_seconds(box: Any) -> float:
    """CPU time the container has used so far (cgroup v2 ``cpu.stat``; 0 where unreadable)."""
    out = box.execute("cat /sys/fs/cgroup/cpu.stat /sys/fs/cgroup/cpuacct/cpuacct.usage "
                      "2>/dev/null", timeout_s=30).output
    for line in out.splitlines():
        if line.startswith("usage_usec "):  # cgroup v2: microseconds
            return int(line.split()[1]) / 1e6
        if line.strip().isdigit():  # cgroup v1: nanoseconds
            return int(line.strip()) / 1e9
    return 0.0


def _fixed_tree(box: Any, source: Instance) -> str | None:
    """Apply the instance's test_patch and fix in /testbed; why not, or None."""
    box.write_file(f"{WORK}/patch.diff", source.patch.encode())
    box.write_file(f"{WORK}/test.patch", source.test_patch.encode())
    for name in ("test.patch", "patch.diff"):
        path = f"{WORK}/{name}"
        result = box.execute(f"{APPLY} {path} || {APPLY} --recount {path}", timeout_s=120)
        if result.exit_code != 0:
            return f"{name} does not apply: {result.output.strip()[-500:]}"
    if source.tests.prepare:
        prepared = run_prepare(box, source.tests.prepare, source.tests.timeout_s)
        if prepared.problem:
            return prepared.problem
    return None


# -- map_source ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceJob:
    key: str
    source: Instance
    command: str  # the test command without directives: the suite the map is made from


@dataclass(frozen=True)
class SourceMap:
    """What ``map_source`` found; ``problem`` says why the instance cannot serve, if it can't."""

    problem: str | None
    calls: CallMap = field(default_factory=lambda: CallMap({}))
    statuses: dict[str, str] = field(default_factory=dict)  # the fixed tree's test run
    files: dict[str, str] = field(default_factory=dict)  # path -> text, files tests call into
    cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def passing(self) -> set[str]:
        return {t for t, s in self.statuses.items() if s == "PASSED"}

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "calls": self.calls.to_json(), "statuses": self.statuses,
                "files": self.files, "cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceMap:
        return cls(data["problem"], CallMap.from_json(data["calls"]), dict(data["statuses"]),
                   dict(data["files"]), float(data["cpu_s"]), float(data["wall_s"]))


def map_source(job: SourceJob) -> SourceMap:
    start = time.monotonic()
    settings = job.source.tests
    try:
        with open_sandbox(job.source.image, _limits(settings)) as box:
            problem = _fixed_tree(box, job.source)
            if problem:
                return SourceMap(problem, wall_s=time.monotonic() - start)
            box.write_file(f"{PLUGIN_DIR}/{PLUGIN_MODULE}.py", PLUGIN.encode())
            env = plugin_env()
            command = (f"export PYTHONPATH={PLUGIN_DIR}${{PYTHONPATH:+:$PYTHONPATH}}; "
                       f"export PYTEST_ADDOPTS={shlex.quote(env['PYTEST_ADDOPTS'])}\" ${{PYTEST_ADDOPTS:-}}\"; "
                       f"export SWEGC_CALLS_OUT={OUTPUT} SWEGC_CALLS_ROOT=/testbed; {job.command}")
            result = box.execute(command, timeout_s=settings.timeout_s * 3)
            parsed = get_parser(settings.parser, settings.parser_options).parse(result.output)
            try:
                calls = read_calls(box.read_file(OUTPUT).decode("utf-8", "replace"))
            except FileNotFoundError:
                calls = CallMap({})
            if not calls.calls:
                tail = "\n".join(result.output.strip().splitlines()[-8:])
                return SourceMap(f"the call recorder wrote nothing (exit {result.exit_code}): "
                                 f"{tail}", statuses=parsed.statuses,
                                 cpu_s=_cpu_seconds(box), wall_s=time.monotonic() - start)
            files = _read_files(box, calls.files())
            cpu = _cpu_seconds(box)
    except InfrastructureError as exc:
        raise Transient("infrastructure", str(exc)) from None
    return SourceMap(None, calls, parsed.statuses, files, cpu, time.monotonic() - start)


def _read_files(box: Any, paths: list[str]) -> dict[str, str]:
    """The text of ``paths`` under /testbed (one tar read back), UTF-8 files up to FILE_BYTES."""
    if not paths:
        return {}
    box.write_file(f"{WORK}/wanted", "\0".join(paths).encode())
    box.execute(f"cd /testbed && tar -cf {WORK}/files.tar --null -T {WORK}/wanted "
                "--ignore-failed-read 2>/dev/null; true", timeout_s=300)
    try:
        data = box.read_file(f"{WORK}/files.tar")
    except FileNotFoundError:
        return {}
    files: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.size > FILE_BYTES:
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            try:
                files[member.name] = handle.read().decode("utf-8")
            except UnicodeDecodeError:
                continue
    return files


# -- screen --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScreenItem:
    key: str
    candidate: BugCandidate
    covering: tuple[str, ...]  # the tests that cover its functions and pass on the fixed tree


@dataclass(frozen=True)
class ScreenJob:
    source: Instance
    command: str  # without directives
    passing: tuple[str, ...]  # tests passing on the fixed tree
    items: tuple[ScreenItem, ...]
    cap: float  # the largest share of the tests run that may fail


@dataclass(frozen=True)
class Screened:
    """One candidate's screening: ``reason`` None when it goes on to validation."""

    reason: str | None
    detail: str = ""
    failing: tuple[str, ...] = ()  # covering tests that failed with the bug
    ran: int = 0  # tests the run reported
    cpu_s: float = 0.0  # its share of the sandbox's CPU time

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "failing": list(self.failing)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Screened:
        return cls(data["reason"], data["detail"], tuple(data["failing"]), int(data["ran"]),
                   float(data["cpu_s"]))


def test_files(tests: tuple[str, ...] | list[str]) -> list[str]:
    """The files of pytest test ids (``path::name``), sorted, once each."""
    return sorted({t.split("::", 1)[0] for t in tests})


def screen(job: ScreenJob) -> list[tuple[str, Screened]]:
    settings = job.source.tests
    parser = get_parser(settings.parser, settings.parser_options)
    passing = set(job.passing)
    results: list[tuple[str, Screened]] = []
    try:
        with open_sandbox(job.source.image, _limits(settings)) as box:
            problem = _fixed_tree(box, job.source)
            if problem:
                return [(item.key, Screened("source_unusable", problem)) for item in job.items]
            box.execute("git add -A && git -c user.name=swegc -c user.email=swegc@localhost "
                        "-c commit.gpgsign=false commit -qm fixed --no-verify", timeout_s=120)
            before = _cpu_seconds(box)
            for item in job.items:
                results.append((item.key, _screen_one(box, item, job.command, parser, passing,
                                                      settings.timeout_s, job.cap)))
                box.execute("git reset -q --hard && git clean -fdq", timeout_s=120)
            share = (_cpu_seconds(box) - before) / max(1, len(job.items))
    except InfrastructureError as exc:
        raise Transient("infrastructure", str(exc)) from None
    return [(key, replace(s, cpu_s=share)) for key, s in results]


def _screen_one(box: Any, item: ScreenItem, command: str, parser: Any, passing: set[str],
                timeout_s: int, cap: float) -> Screened:
    box.write_file(f"{WORK}/bug.diff", item.candidate.bug_patch.encode())
    applied = box.execute(f"{APPLY} {WORK}/bug.diff", timeout_s=120)
    if applied.exit_code != 0:
        return Screened("does_not_apply", applied.output.strip()[-500:])
    python_files = [f for f in item.candidate.files if f.endswith(".py")]
    if python_files:
        check = box.execute("python -c 'import ast, sys\nfor f in sys.argv[1:]: "
                            "ast.parse(open(f, \"rb\").read(), f)' "
                            + " ".join(shlex.quote(f) for f in python_files), timeout_s=120)
        if check.exit_code != 0:
            return Screened("syntax_error", check.output.strip()[-500:])
    files = test_files(item.covering)
    run = box.execute(full_test_command(command, files), timeout_s=timeout_s)
    parsed = parser.parse(run.output)
    if run.exit_code in (124, 137):
        return Screened("timeout", f"the covering tests ran past {timeout_s}s")
    in_files = {t for t in passing if t.split("::", 1)[0] in files}
    broken = sorted(t for t in in_files if parsed.statuses.get(t) != "PASSED")
    failing = tuple(t for t in item.covering if parsed.statuses.get(t) in ("FAILED", "ERROR"))
    ran = max(len(parsed.statuses), len(in_files))
    if parsed.collection_errors or (in_files and len(broken) > cap * len(in_files)):
        return Screened("too_broad", f"{len(broken)} of {len(in_files)} tests fail"
                        + (f"; not collected: {', '.join(parsed.collection_errors)}"
                           if parsed.collection_errors else ""), failing, ran)
    if not failing:
        return Screened("no_failing_test", f"none of the {len(item.covering)} covering tests "
                        "fails", (), ran)
    return Screened(None, "", failing, ran)


# -- make_task -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskJob:
    key: str
    task_id: str
    source: Instance
    candidate: BugCandidate
    settings: TestSettings  # the row's: the covering test files as directives
    runs: int
    image_name: str  # repository:tag of the task's image
    logs_dir: str  # the driver's logs folder
    base: str = ""  # the source's base image (``make_base``) the task's layer goes on
    held_back: tuple[str, ...] = ()  # the files the base holds no blob of


@dataclass(frozen=True)
class TaskResult:
    verdict: Verdict
    image: str | None = None  # name:tag, kept only when valid
    image_id: str = ""
    base_commit: str = ""
    layer_bytes: int = 0
    leaks: tuple[str, ...] = ()
    before_log: str = ""  # the first bugged run's log (the problem statement reads it)
    cpu_s: float = 0.0  # the sealing container's CPU time (validation's runs: verdict.runs)
    seal_s: float = 0.0  # wall time of making the image (validation's: verdict.duration_s)
    logs: dict[str, str] = field(default_factory=dict, compare=False)  # not stored

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict.to_json(), "image": self.image, "image_id": self.image_id,
                "base_commit": self.base_commit, "layer_bytes": self.layer_bytes,
                "leaks": list(self.leaks), "before_log": self.before_log,
                "cpu_s": round(self.cpu_s, 3), "seal_s": round(self.seal_s, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskResult:
        return cls(Verdict.from_json(data["verdict"]), data["image"], data["image_id"],
                   data["base_commit"], int(data["layer_bytes"]), tuple(data["leaks"]),
                   data["before_log"], float(data["cpu_s"]), float(data.get("seal_s", 0.0)))


def make_task(job: TaskJob) -> TaskResult:
    from swegc.docker_client import docker_client

    start = time.monotonic()
    try:
        image, base_commit, leaks, cpu = _seal(job)
    except InfrastructureError as exc:
        raise Transient("infrastructure", str(exc)) from None
    client = docker_client()
    if isinstance(image, str):  # the bug could not be sealed into an image
        return TaskResult(Verdict.not_validated("rejected", "does_not_apply", image), cpu_s=cpu)
    history = client.api.history(image.id)
    layer = int(history[0]["Size"]) if history else 0
    seal_s = time.monotonic() - start
    if leaks:
        _remove(client, job.image_name)
        return TaskResult(Verdict.not_validated("rejected", "leak", "; ".join(leaks)),
                          leaks=tuple(leaks), cpu_s=cpu)
    plan = ValidationPlan(instance_id=job.task_id, image=job.image_name, base_commit=base_commit,
                          test_patch="", patch=job.candidate.fix_patch, settings=job.settings,
                          runs=job.runs)
    with tempfile.TemporaryDirectory(prefix="swegc-synth-") as tmp:
        verdict = validate(plan, Path(tmp), attempts=1)
        if verdict.status == "error":
            _remove(client, job.image_name)
            raise Transient(verdict.reason or "infrastructure", verdict.detail or "")
        logs = {str(Path(job.logs_dir) / p.relative_to(tmp)): p.read_text(errors="replace")
                for p in sorted(Path(tmp).rglob("*")) if p.is_file()}
        first = Path(tmp) / job.task_id / "before-1.log"
        before_log = first.read_text(errors="replace")[-LOG_BYTES:] if first.is_file() else ""
    if verdict.status != "valid":
        _remove(client, job.image_name)
        return TaskResult(verdict, None, "", base_commit, layer, (), before_log, cpu, seal_s,
                          logs)
    return TaskResult(verdict, job.image_name, image.id, base_commit, layer, (), before_log,
                      cpu, seal_s, logs)


def _build_box(image: str) -> Any:
    """A sandbox to commit: no network, no limits, no init process (its mount point would land
    in the layer), no sandbox label (the image would carry it)."""
    from swegc.runtime.sandbox.docker_shell import DockerShellSandbox

    limits = SandboxLimits(network=False, cpus=None, memory=None, pids=None, disk=None,
                           output_bytes=OUTPUT_BYTES)
    return DockerShellSandbox(image, limits, workdir="/testbed", init=False, role="build")


def _held_back(box: Any, files: tuple[str, ...]) -> str:
    """Write the held-back list into the sandbox (NUL-terminated); its path."""
    path = f"{WORK}/held"
    box.write_file(path, b"".join(f.encode() + b"\0" for f in files))
    return path


def _commit(box: Any, name: str, labels: dict[str, str]) -> Any:
    box.execute(f"rm -rf {WORK}", timeout_s=60)
    label_line = "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    repository, _, tag = name.rpartition(":")
    return box.commit(repository, tag, ['CMD ["bash"]', "WORKDIR /testbed", label_line,
                                        "STOPSIGNAL SIGKILL"])


def _seal(job: TaskJob) -> tuple[Any, str, list[str], float]:
    """The bugged tree committed as the task's image: (image or why not, base_commit, leaks,
    CPU seconds)."""
    box = _build_box(job.base)
    try:
        box.start()
        blobs = box.execute(leak.fixed_blobs_script(job.candidate.files), timeout_s=60)
        fixed = blobs.output.split()
        box.write_file(f"{WORK}/bug.diff", job.candidate.bug_patch.encode())
        applied = box.execute(f"{APPLY} {WORK}/bug.diff", timeout_s=120)
        if applied.exit_code != 0:
            return f"the bug does not apply: {applied.output.strip()[-500:]}", "", [], 0.0
        held = _held_back(box, job.held_back)
        sealed = box.execute(leak.seal_script(job.task_id, held), timeout_s=600)
        if sealed.exit_code != 0:
            raise InfrastructureError(f"sealing the repository failed: {sealed.output[-800:]}")
        base_commit = sealed.output.split()[-1]
        leaks = leak.leak_problems(box, fixed)
        cpu = _cpu_seconds(box)
        image = _commit(box, job.image_name, {
            f"{LABEL}.kind": "synthetic", f"{LABEL}.instance": job.task_id,
            f"{LABEL}.source": job.source.instance_id, f"{LABEL}.key": job.key,
            f"{LABEL}.base_commit": base_commit})
        return image, base_commit, leaks, cpu
    finally:
        box.close()


# -- make_base -----------------------------------------------------------------------------

@dataclass(frozen=True)
class BaseJob:
    key: str
    source: Instance
    held_back: tuple[str, ...]  # every file a bug of this source may change
    image_name: str


@dataclass(frozen=True)
class BaseImage:
    """The layer a source's tasks share: its fixed tree, the old history gone, the blobs of
    every file but the held-back ones (``leak.base_script``); ``problem`` when it failed."""

    problem: str | None
    image: str = ""
    image_id: str = ""
    layer_bytes: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaseImage:
        return cls(**data)


def make_base(job: BaseJob) -> BaseImage:
    from swegc.docker_client import docker_client

    start = time.monotonic()
    box = _build_box(job.source.image)
    try:
        box.start()
        problem = _fixed_tree(box, job.source)
        if problem:
            return BaseImage(problem, cpu_s=_cpu_seconds(box), wall_s=time.monotonic() - start)
        held = _held_back(box, job.held_back)
        made = box.execute(leak.base_script(held), timeout_s=1800)
        if made.exit_code != 0:
            raise InfrastructureError(f"the base repository failed: {made.output[-800:]}")
        cpu = _cpu_seconds(box)
        image = _commit(box, job.image_name, {
            f"{LABEL}.kind": "synthetic-base", f"{LABEL}.source": job.source.instance_id,
            f"{LABEL}.key": job.key})
    except InfrastructureError as exc:
        raise Transient("infrastructure", str(exc)) from None
    finally:
        box.close()
    history = docker_client().api.history(image.id)
    return BaseImage(None, job.image_name, image.id, int(history[0]["Size"]) if history else 0,
                     cpu, time.monotonic() - start)


def _remove(client: Any, name: str) -> None:
    """Remove a task image this run made and no row will name."""
    try:
        client.images.remove(name, force=True)
    except Exception:  # noqa: BLE001 - already gone, or in use by a container being removed
        pass
