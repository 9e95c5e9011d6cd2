"""Click commands of the runtime: ``swegc rollout`` and ``swegc evaluate``.

``swegc rollout`` runs a policy on a dataset's instances and writes the trajectories;
``swegc evaluate`` grades predictions (or ``gold``) against a dataset, SWE-bench's way. Docker
and the harness are imported inside the commands, so ``swegc --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from swegc.cli_options import FieldOption, dataclass_options, executor_options, from_options
from swegc.runtime.agent import AgentLimits
from swegc.runtime.harness.hack_policy import HackOptions
from swegc.runtime.policies import PolicyOptions
from swegc.runtime.rollout import RolloutOptions
from swegc.runtime.sandbox import SandboxLimits


# Where `swegc rollout` names an option differently from the field it fills, checks it more
# closely, or leaves a default for the command to fill in (--jobs: it depends on --executor).
_ROLLOUT_FLAGS = {"out": FieldOption(type=click.Path(file_okay=False, path_type=Path)),
                  "jobs": FieldOption(type=click.IntRange(1), default=None),
                  "only": FieldOption("--instance")}
_POLICY_FLAGS = {"seed": FieldOption(default=0),
                 "replay": FieldOption(type=click.Path(exists=True)),
                 "model_path": FieldOption(type=click.Path(exists=True, file_okay=False))}
_AGENT_FLAGS = {"wall_time_s": FieldOption("--wall-time"),
                "command_timeout_s": FieldOption("--command-timeout")}


@click.command("rollout")
@click.argument("dataset", type=click.Path(exists=True))
@dataclass_options(RolloutOptions, only=("policy", "out"), fields=_ROLLOUT_FLAGS)
@dataclass_options(PolicyOptions, only=("model", "model_path", "base_url", "api_key_env", "replay",
                                        "temperature", "top_p", "max_tokens", "seed"),
                   fields=_POLICY_FLAGS)
@dataclass_options(AgentLimits, only=("step_limit", "context_tokens", "wall_time_s", "command_timeout_s"),
                   fields=_AGENT_FLAGS)
@dataclass_options(SandboxLimits, only=("memory", "cpus"))
@dataclass_options(RolloutOptions, only=("samples", "jobs", "only", "limit", "split"), fields=_ROLLOUT_FLAGS)
@dataclass_options(HackOptions)
@executor_options
def rollout(dataset: str, **kw: Any) -> None:
    """Run agent rollouts in instance images; grade each patch; write RUNS."""
    from swegc.dataset import load_instances
    from swegc.runtime.rollout import Rollouts

    options = rollout_options(kw)
    instances = list(load_instances(dataset, options.split, require=("image",)).values())
    summary = Rollouts(options, echo=click.echo).run(instances)
    total = len(summary.trajectories)
    rate = f"{100.0 * summary.resolved / total:.1f}%" if total else "n/a"
    click.echo(f"{total} rollouts ({summary.ran} run now, {summary.reused} reused): "
               f"{summary.resolved} resolved ({rate}); trajectories in {summary.path}")
    if summary.errors:
        click.echo(f"{len(summary.errors)} rollout(s) failed on the infrastructure and were not "
                   "stored; run the same command again to retry them", err=True)
    if summary.image_gone:
        click.echo(image_gone_advice(len(summary.image_gone), "rollout(s)"), err=True)
    if summary.errors or summary.image_gone:
        raise SystemExit(1)


def rollout_options(parsed: Mapping[str, Any]) -> RolloutOptions:
    """The rollout that `swegc rollout`'s parsed option values ask for; every value fills a
    field of one of the configurations."""
    values = dict(parsed)
    if values["jobs"] is None and values["executor"] == "local":
        values["jobs"] = 2
    policy_options = from_options(PolicyOptions, values)
    limits, sandbox = from_options(AgentLimits, values), from_options(SandboxLimits, values)
    options = from_options(RolloutOptions, values, policy_options=policy_options, limits=limits,
                           sandbox=sandbox, hacks=from_options(HackOptions, values))
    if values:
        raise TypeError(f"options that fill no field of the rollout: {', '.join(sorted(values))}")
    return options


@click.command("evaluate")
@click.argument("predictions")
@click.option("--dataset", type=click.Path(path_type=Path), required=True,
              help="Build folder, folder in Hub layout (data/*.parquet) or JSONL of rows.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder for OUT/<instance_id>/report.json, logs and OUT/report.json.")
@click.option("--jobs", "-j", type=click.IntRange(1, 4096), default=None,
              help="Patches graded in parallel (default 1; with --executor ray, as many as the "
                   "cluster offers).")
@click.option("--instance", "instance_ids", multiple=True, metavar="ID",
              help="Grade only this instance id (repeatable).")
@dataclass_options(HackOptions)
@executor_options
def evaluate(predictions: str, dataset: Path, out: Path, jobs: int | None,
             instance_ids: tuple[str, ...], executor: str, ray_address: str | None,
             hack_policy: str) -> None:
    """Grade PREDICTIONS (JSONL, JSON list or object of SWE-bench predictions; `gold` for
    every instance's own patch) in each instance's image, from the dataset row alone.

    Resolved means every FAIL_TO_PASS and PASS_TO_PASS test passes. Resumable: a rerun reuses
    the grades of unchanged predictions; infrastructure errors are retried and counted apart.
    """
    from swegc.executors import make_executor
    from swegc.runtime.harness.evaluation import evaluate as run_evaluation

    echo = lambda line: click.echo(line, err=True)  # noqa: E731 - progress goes to stderr
    pool = make_executor(executor, jobs or (1 if executor == "local" else None),
                         address=ray_address, echo=echo)
    try:
        summary = run_evaluation(predictions, dataset, out, instance_ids=instance_ids, echo=echo,
                                 executor=pool, hack_policy=hack_policy).to_json()
    finally:
        pool.close()
    click.echo(f"{summary['resolved_instances']}/{summary['total_instances']} resolved "
               f"({summary['submitted_instances']} submitted, {summary['completed_instances']} "
               f"completed, {summary['empty_patch_instances']} empty patches, "
               f"{summary['error_instances']} errors); report: {out / 'report.json'}")
    gone = len(summary["image_gone_ids"])
    failed = summary["error_instances"] - gone
    if failed:
        click.echo(f"{failed} instance(s) failed on the infrastructure and were not stored; run "
                   "the same command again to retry them", err=True)
    if gone:
        click.echo(image_gone_advice(gone, "instance(s)"), err=True)


def image_gone_advice(count: int, what: str) -> str:
    """Once at the end: why a rerun cannot help the units whose image is gone, and what does."""
    from swegc.docker_client import LOGIN, REBUILD

    return (f"{count} {what} name an image that is gone; running the same command again "
            f"cannot help: {REBUILD} ({LOGIN})")
