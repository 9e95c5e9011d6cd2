"""``swegc draft --probe``: compile a few pull requests per environment, repair, compile again.

A drafted spec is a guess read from the repository's files; what it misses (a test dependency
no requirements file names, a header a C extension includes, a pin an old suite needs) shows up
only when it is compiled. So the draft is probed: the same sampled pull requests of each
environment are compiled round after round in a scratch build folder, each round's failures
are read (``failures.py``) and repaired by rules (``repair.py``), or by a policy where no rule
answers, and a round's edits are kept only when the yield went up; edits that did not help are
undone and never tried again. It stops when every probe is valid, when nothing is left to try,
or when the time budget is spent; the spec it leaves passes ``swegc check``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from swegc.compiler.draft.failures import Failure, Kind, read_failures
from swegc.compiler.draft.model import Draft
from swegc.compiler.draft.policy_edit import ask_policy, make_policy
from swegc.compiler.draft.repair import Context, Edit, apply, edits_for, split_at, split_point
from swegc.atomic_files import atomic_write
from swegc.errors import SpecError, SwegcError

Echo = Callable[[str], None]
MAX_ROUNDS = 8
# How far each instance got, for comparing rounds in which no more became valid: a repair that
# turns an env build failure into a collection error is progress.
# A probed instance's outcome when it validated: not a rejection reason, but it stands where
# the reason of a rejected one does (a valid instance that lost tests still yields a Failure).
VALID_OUTCOME = "valid"

_STAGES = {"valid": 4, "no_fail_to_pass": 3, "exit_code_mismatch": 3, "results_disagree": 3,
           "suite_incomplete": 3, "tampered": 3, "timeout": 2, "suite_did_not_run": 2,
           "after_collection_error": 2, "prepare_failed": 2, "no_per_test_results": 2,
           "install_failed": 1}


@dataclass(frozen=True)
class Probe:
    """One round's outcome: each sampled instance's status (``valid`` or its reason) and
    version, and the failures read from its build folder."""

    outcomes: dict[str, str]
    versions: dict[str, str]
    failures: list[Failure]

    @property
    def valid(self) -> int:
        return sum(1 for s in self.outcomes.values() if s == "valid")

    def score(self) -> tuple[int, int, int, int]:
        """Valid instances first, then how far the others got (their stage, then how far a
        failed env build's script got), then (fewer is better) the failures a rule knows: a
        repair that lets a build or more tests go further counts even where no more
        instances became valid."""
        from swegc.compiler.draft.repair import RULES

        known = sum(1 for f in self.failures if f.kind in RULES)
        steps = {f.env_index: int(f.extra.get("steps", 0)) for f in self.failures
                 if "steps" in f.extra}
        return (self.valid, sum(_STAGES.get(s, 0) for s in self.outcomes.values()),
                sum(steps.values()), -known)


@dataclass
class ProbeLog:
    """What the rounds did, for the CLI's summary and the benchmarks."""

    rounds: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0


def probe_and_repair(draft: Draft, spec_path: Path, *, probes: int, budget_s: float,
                     policies: Sequence[Any] = (), echo: Echo = print,
                     out: Path | None = None, jobs: int = 2,
                     pythons: Sequence[str] | None = None,
                     log: ProbeLog | None = None) -> Draft:
    """See ``_probe_and_repair``. The sampling and every round's compile read the spec's
    candidates again, and each reading warns about them (linked issues whose text is
    unknown): the same warning, said once per probe."""
    with _said_once(logging.getLogger("swegc.compiler.candidates")):
        return _probe_and_repair(draft, spec_path, probes=probes, budget_s=budget_s,
                                 policies=policies, echo=echo, out=out, jobs=jobs,
                                 pythons=pythons, log=log)


class _SaidOnce(logging.Filter):
    """Lets each distinct message through once."""

    def __init__(self) -> None:
        super().__init__()
        self.said: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.said:
            return False
        self.said.add(message)
        return True


@contextlib.contextmanager
def _said_once(logger: logging.Logger) -> Iterator[None]:
    """``logger`` says each message once while the block runs."""
    once = _SaidOnce()
    logger.addFilter(once)
    try:
        yield
    finally:
        logger.removeFilter(once)


def _probe_and_repair(draft: Draft, spec_path: Path, *, probes: int, budget_s: float,
                      policies: Sequence[Any] = (), echo: Echo = print,
                      out: Path | None = None, jobs: int = 2,
                      pythons: Sequence[str] | None = None,
                      log: ProbeLog | None = None) -> Draft:
    """The draft after probing and repairing it, written to ``spec_path`` (which it is also
    written to between rounds: the compiler reads specs from files).

    ``probes``: pull requests compiled per environment; ``budget_s``: no round starts past it;
    ``policies``: policy names (``openai``, ``scripted``: see ``policy_edit.make_policy``) or
    policy objects, asked in order where no rule answers; ``out``: the scratch folder
    (default: ``.swegc-probe`` beside the spec), a build folder per round in it
    (``round-N/``, with the compile's console in ``compile.log``); images are Docker's, so a
    second run reuses what the first built.
    """
    start = time.monotonic()
    spec_path = Path(spec_path).resolve()
    out = Path(out or spec_path.parent / ".swegc-probe").resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = log if log is not None else ProbeLog()
    _write_checked(draft, spec_path)
    sample, versions, probed_envs = sample_instances(spec_path, out / "sample", probes)
    if not sample:
        echo("probe: no pull request of the spec's source reaches an environment; nothing to "
             "probe")
        return draft
    echo(f"probe: {len(sample)} pull request(s) ({probes} per environment), compiled into "
         f"{out} (its logs and reports say what each round met): " + ", ".join(sample))
    made = [make_policy(p) if isinstance(p, str) else p for p in policies]
    pythons = list(pythons or _pythons(draft))
    for edit in base_image_edits(draft, pythons, probed_envs):
        echo(f"probe: {edit.describe()}: {edit.why}")
        draft = apply(draft, edit)
    _write_checked(draft, spec_path)
    best = draft
    result = run_round(best, spec_path, out, sample, jobs, log_name="round-1")
    _report(echo, log, 1, result, None, [], start)
    tried: set[str] = set()
    context = Context(pythons=tuple(pythons),
                      own_modules=_own_modules(draft, spec_path))
    for round_no in range(2, MAX_ROUNDS + 1):
        if result.valid == len(sample):
            break
        if time.monotonic() - start >= budget_s:
            echo(f"probe: the budget ({budget_s:.0f}s) is spent")
            break
        candidate, edits = repaired(best, result, Context(context.pythons, context.own_modules,
                                                          frozenset(tried)))
        if not edits:
            candidate, edits = _asked(best, result, made, tried, spec_path, echo)
        if not edits:
            unanswered = [f for f in result.failures if f.kind is not Kind.OTHER] or \
                result.failures
            what = "; ".join(f"{f.kind}: {f.evidence[:100]}" for f in unanswered[:3])
            echo(f"probe: no rule answers what is left{': ' + what if what else ''}")
            break
        tried |= {e.signature() for e in edits}
        try:
            _write_checked(candidate, spec_path)
        except SpecError as exc:
            echo(f"probe: round {round_no}'s edits make a spec that does not check; undone:\n{exc}")
            _write_checked(best, spec_path)
            continue
        try:
            after = run_round(candidate, spec_path, out, sample, jobs,
                              log_name=f"round-{round_no}")
        except SwegcError as exc:  # the edits asked for what this machine lacks, say
            echo(f"probe: round {round_no} could not compile with its edits; undone: {exc}")
            _write_checked(best, spec_path)
            continue
        better = after.score() > result.score()
        _report(echo, log, round_no, after, result, edits, start, kept=better)
        if better:
            best, result = candidate, after
        else:
            _write_checked(best, spec_path)
    _write_checked(best, spec_path)
    log.wall_s = time.monotonic() - start
    return best


def repaired(draft: Draft, probe: Probe, context: Context) -> tuple[Draft, list[Edit]]:
    """The draft with every rule's edits for the probe's failures (each rule reads the draft as
    edited so far, so two failures can add to one list). One environment per round is split
    first where a failure starts at a version the passing instances of that environment are
    below (or ends at one they are above), so those keep what worked for them."""
    edits: list[Edit] = []
    split_done = False
    for failure in probe.failures:
        if not edits_for(failure, draft, context):
            continue
        where = None if split_done else _split(failure, probe, draft)
        if where is not None and failure.env_index is not None:
            side, version = where
            what = f"{failure.kind} ({failure.subject}) " + \
                (f"only from {version}" if side == "above" else f"only before {version}")
            draft, lower, upper = split_at(draft, failure.env_index, version, what)
            failure = replace(failure, env_index=upper if side == "above" else lower)
            edits.append(Edit(f"environments.{failure.env_index}.versions",
                              draft.get(f"environments.{failure.env_index}.versions"), what))
            split_done = True
        for edit in edits_for(failure, draft, context):
            draft = apply(draft, edit)
            edits.append(edit)
    return draft, edits


def _split(failure: Failure, probe: Probe, draft: Draft) -> tuple[str, str] | None:
    """Where to split the failure's environment, for a failure of some instances only."""
    if not failure.instances or failure.env_index is None or failure.kind in (
            Kind.TIMEOUT, Kind.NETWORK) or failure.reason == VALID_OUTCOME:
        return None  # test settings are every environment's; a valid instance lost tests only
    env_versions = str(draft.get(f"environments.{failure.env_index}.versions") or "")
    passing = [probe.versions[i] for i, s in probe.outcomes.items()
               if s == "valid" and i not in failure.instances and i in probe.versions
               and _serves(env_versions, probe.versions[i])]
    failing = [probe.versions[i] for i in failure.instances if i in probe.versions]
    return split_point(failing, passing)


def _serves(versions: str, version: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(versions).contains(version, prereleases=True)
    except (InvalidSpecifier, ValueError):
        return False


def _asked(draft: Draft, probe: Probe, policies: Sequence[Any], tried: set[str],
           spec_path: Path, echo: Echo) -> tuple[Draft, list[Edit]]:
    """An edit from the first policy that proposes one that checks and was not tried."""
    if not policies or not probe.failures:
        return draft, []
    failure = max(probe.failures, key=lambda f: (f.kind is Kind.OTHER, len(f.instances)))
    for policy in policies:
        edit = ask_policy(policy, draft, failure, echo)
        if edit is None or edit.signature() in tried:
            continue
        return apply(draft, edit), [edit]
    return draft, []


def run_round(draft: Draft, spec_path: Path, out: Path, sample: Sequence[str], jobs: int,
              log_name: str) -> Probe:
    """Compile the sample with the draft (one run per side: flakiness is not the question)."""
    from swegc.compiler.pipeline import CompileOptions, Compiler

    text = draft.to_yaml()
    atomic_write(spec_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))  # Ctrl-C-safe
    # A build folder per round: a unit the store already holds is not run again, and its logs
    # would be an earlier round's. Images are found by their content-addressed names, so what
    # an edit left as it was is not built again.
    out = out / log_name
    if out.is_dir():  # an earlier probe's round of this number: its logs are not this one's
        shutil.rmtree(out)
    out.mkdir(parents=True)
    lines: list[str] = []
    compiler = Compiler(CompileOptions(out=out, jobs=jobs, runs=1, only=tuple(sample)),
                        echo=lines.append)
    try:
        compiler.run([spec_path])
    finally:
        (out / "compile.log").write_text("\n".join(lines) + "\n")
    envs = list(draft.get("environments") or [])
    rows = _rows(out)
    outcomes = {r["instance_id"]: ("valid" if r["status"] == "valid" else str(r["reason"]))
                for r in rows if r["instance_id"] in sample}
    versions = {r["instance_id"]: str(r["version"]) for r in rows if r.get("version")}
    return Probe(outcomes, versions, read_failures(out, envs, only=sample))


def sample_instances(spec_path: Path, out: Path, probes: int
                     ) -> tuple[list[str], dict[str, str], set[int]]:
    """``probes`` pull requests per environment, spread evenly over its history (oldest,
    newest, and between), from the candidates that reach an environment; their versions; and
    the environments they reach."""
    from swegc.build_layout import BuildLayout
    from swegc.compiler.candidates import load_candidates
    from swegc.compiler.plan import PlannedInstance, plan_candidate
    from swegc.compiler.spec.loader import load_specs
    from swegc.git import GitRepo
    from swegc.store import BuildStore

    (spec,) = load_specs([spec_path])
    if spec.source.clone is None:
        raise SwegcError(f"{spec.where('source')}: probing needs source.clone")
    out.mkdir(parents=True, exist_ok=True)
    store = BuildStore(BuildLayout(out).store)
    try:
        splits: dict[str, Any] = {}
        candidates, _ = load_candidates(spec, store, splits)
        repo = GitRepo.open(spec.source.clone)
        by_env: dict[int, list[PlannedInstance]] = {}
        for candidate in candidates:
            plan = plan_candidate(spec, repo, candidate, store,
                                  split=splits.get(candidate.instance_id))
            if isinstance(plan, PlannedInstance):
                by_env.setdefault(plan.env_index, []).append(plan)
    finally:
        store.close()
    chosen: list[str] = []
    versions: dict[str, str] = {}
    for _, plans in sorted(by_env.items()):
        plans.sort(key=lambda p: (p.candidate.created_at or "", p.instance_id))
        for plan in spread(plans, probes):
            chosen.append(plan.instance_id)
            versions[plan.instance_id] = plan.version
    return chosen, versions, set(by_env)


def spread(items: Sequence[Any], count: int) -> list[Any]:
    """``count`` items evenly spaced over ``items`` (first and last included), in order."""
    if count >= len(items):
        return list(items)
    if count <= 1:
        return [items[len(items) // 2]] if count == 1 else []
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def _rows(out: Path) -> list[dict[str, Any]]:
    path = out / "partial" / "reports" / "instances.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] \
        if path.is_file() else []


def _write_checked(draft: Draft, spec_path: Path) -> None:
    """Write the draft and check it as ``swegc check`` would; SpecError when it does not."""
    from swegc.compiler.spec.clones import clone_problems
    from swegc.compiler.spec.loader import load_specs

    text = draft.to_yaml()
    atomic_write(spec_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))  # Ctrl-C-safe
    missing = clone_problems(load_specs([spec_path]))
    if missing:
        raise SpecError(missing)


def _pythons(draft: Draft) -> list[str]:
    """The Pythons whose base image this engine holds: built in (``swegc images base``) or
    mapped by the spec's ``build.base_images``."""
    from swegc.docker_client import docker_client, image_exists
    from swegc.naming import DEFAULT_BASE_IMAGES

    images = {**DEFAULT_BASE_IMAGES, **dict(draft.get("build.base_images") or {})}
    client = docker_client()
    held = [v for v, image in images.items() if image_exists(client, str(image)) is not None]
    return sorted(held, key=_python_order)


def _python_order(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def base_image_edits(draft: Draft, pythons: Sequence[str],
                     probed: set[int] | None = None) -> list[Edit]:
    """An environment whose Python has no base image here cannot be probed: it gets the
    nearest Python that has one (the next newer, else the newest older), said so in its
    comment. Where the Python matters, build its base image (``swegc images base``) or map
    one in ``build.base_images`` and put the Python back."""
    from swegc.naming import DEBIAN_SUITES

    edits: list[Edit] = []
    for index, env in enumerate(draft.get("environments") or []):
        python = str(env.get("python") or "")
        if not python or python in pythons or env.get("base_image") or not pythons or \
                (probed is not None and index not in probed):
            continue
        newer = [p for p in pythons if _python_order(p) > _python_order(python)]
        chosen = newer[0] if newer else pythons[-1]
        how = (f"build it with `swegc images base --python {python}`, or map one in "
               "build.base_images" if python in DEBIAN_SUITES else
               f"map an image of it in build.base_images")
        edits.append(Edit(f"environments.{index}.python", chosen,
                          f"Python {python} has no base image on this machine ({how}, and put "
                          f"it back); {chosen} has"))
    return edits


def _own_modules(draft: Draft, spec_path: Path) -> frozenset[str]:
    """Top-level packages and modules of the repository at its tip (and under ``src/``)."""
    from swegc.git import GitError, GitRepo

    clone = draft.get("source.clone")
    if not clone:
        return frozenset()
    path = Path(str(clone))
    path = path if path.is_absolute() else spec_path.parent / path
    try:
        repo = GitRepo.open(path)
        names = repo.run("ls-tree", "-r", "--name-only", "HEAD").splitlines()
    except (GitError, OSError, AttributeError):
        return frozenset()
    found = set()
    for name in names:
        parts = name.removeprefix("src/").split("/")
        if len(parts) == 1 and parts[0].endswith(".py"):
            found.add(parts[0][:-3])
        elif len(parts) == 2 and parts[1] == "__init__.py":
            found.add(parts[0])
    return frozenset(found - {"setup", "conftest", "tests", "test"})


def _report(echo: Echo, log: ProbeLog, number: int, probe: Probe, before: Probe | None,
            edits: Sequence[Edit], start: float, kept: bool = True) -> None:
    total = len(probe.outcomes)
    change = "" if before is None else f" ({probe.valid - before.valid:+d})"
    last = {e.path: e for e in edits}  # one key edited by several rules: its final value
    done = "" if not edits else ", edits: " + "; ".join(e.describe() for e in last.values()) + \
        ("" if kept else " (no better: undone)")
    reasons: dict[str, int] = {}
    for status in probe.outcomes.values():
        if status != "valid":
            reasons[status] = reasons.get(status, 0) + 1
    left = "" if not reasons else " [" + ", ".join(f"{k} {v}" for k, v in
                                                   sorted(reasons.items())) + "]"
    echo(f"round {number}: {probe.valid}/{total} valid{change}{left}{done}")
    log.rounds.append({"round": number, "valid": probe.valid, "probed": total,
                       "outcomes": dict(probe.outcomes),
                       "edits": [e.describe() for e in last.values()],
                       "kept": kept, "elapsed_s": round(time.monotonic() - start, 1)})
