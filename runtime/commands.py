"""Click commands of the runtime: ``swegc rollout`` and ``swegc evaluate``.

``swegc rollout`` runs a policy on a dataset's instances and writes the trajectories;
``swegc evaluate`` grades predictions (or ``gold``) against a dataset, SWE-bench's way. Docker
and the harness are imported inside the commands, so ``swegc --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from swegc.cli_options import executor_options


@click.command("rollout")
@click.argument("dataset", type=click.Path(exists=True))
@click.option("--policy", required=True,
              help="Policy name: openai, transformers, replay, gold (or scripted in tests).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="RUNS folder: the trajectory dataset, logs and the resumable store.")
@click.option("--model", default="", help="Model name the endpoint serves (openai).")
@click.option("--model-path", default=None, type=click.Path(exists=True, file_okay=False),
              help="Local model folder (transformers).")
@click.option("--base-url", default=None,
              help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (vllm serve).")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable that holds the API key (never logged).")
@click.option("--replay", "replay_source", default=None, type=click.Path(exists=True),
              help="Trajectories to replay (replay policy).")
@click.option("--samples", type=int, default=1, show_default=True, help="Rollouts per instance.")
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--top-p", type=float, default=1.0, show_default=True)
@click.option("--max-tokens", type=int, default=1024, show_default=True,
              help="Most tokens per model response.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Base seed; sample i uses seed + i.")
@click.option("--step-limit", type=int, default=50, show_default=True)
@click.option("--context-tokens", type=int, default=32768, show_default=True)
@click.option("--wall-time", type=float, default=1800, show_default=True,
              help="Seconds one rollout may take.")
@click.option("--command-timeout", type=float, default=180, show_default=True,
              help="Seconds one tool command may take.")
@click.option("--memory", default="4g", show_default=True, help="Memory limit of a sandbox.")
@click.option("--cpus", type=float, default=1.0, show_default=True, help="CPUs of a sandbox.")
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Rollouts at once (default 2; with --executor ray, as many as the cluster "
                   "offers).")
@click.option("--instance", "only", multiple=True, help="Only this instance id (repeatable).")
@click.option("--limit", type=int, default=None, help="At most this many instances.")
@click.option("--split", default="train", show_default=True, help="Split of DATASET to read.")
@executor_options
def rollout(dataset: str, policy: str, out_dir: str, **kw: Any) -> None:
    """Run agent rollouts in instance images; grade each patch; write RUNS."""
    from swegc.dataset import load_rows
    from swegc.runtime.agent import AgentLimits
    from swegc.runtime.policies import PolicyOptions
    from swegc.runtime.rollout import RolloutOptions, Rollouts
    from swegc.runtime.sandbox import SandboxLimits

    policy_options = PolicyOptions(
        model=kw["model"], base_url=kw["base_url"], api_key_env=kw["api_key_env"],
        temperature=kw["temperature"], top_p=kw["top_p"], max_tokens=kw["max_tokens"],
        seed=kw["seed"], replay=kw["replay_source"], model_path=kw["model_path"])
    limits = AgentLimits(step_limit=kw["step_limit"], context_tokens=kw["context_tokens"],
                         wall_time_s=kw["wall_time"], command_timeout_s=kw["command_timeout"])
    options = RolloutOptions(
        out=Path(out_dir), policy=policy, policy_options=policy_options, limits=limits,
        sandbox=SandboxLimits(memory=kw["memory"], cpus=kw["cpus"]), samples=kw["samples"],
        jobs=kw["jobs"] or (2 if kw["executor"] == "local" else None), only=tuple(kw["only"]),
        limit=kw["limit"], split=kw["split"], executor=kw["executor"],
        ray_address=kw["ray_address"])
    rows = list(load_rows(dataset, kw["split"]).values())
    summary = Rollouts(options, echo=click.echo).run(rows)
    total = len(summary.trajectories)
    rate = f"{100.0 * summary.resolved / total:.1f}%" if total else "n/a"
    click.echo(f"{total} rollouts ({summary.ran} run now, {summary.reused} reused): "
               f"{summary.resolved} resolved ({rate}); trajectories in {summary.path}")
    if summary.errors:
        click.echo(f"{len(summary.errors)} rollout(s) failed on the infrastructure and were not "
                   "stored; run the same command again to retry them", err=True)
        raise SystemExit(1)


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
@executor_options
def evaluate(predictions: str, dataset: Path, out: Path, jobs: int | None,
             instance_ids: tuple[str, ...], executor: str, ray_address: str | None) -> None:
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
                                 executor=pool).to_json()
    finally:
        pool.close()
    click.echo(f"{summary['resolved_instances']}/{summary['total_instances']} resolved "
               f"({summary['submitted_instances']} submitted, {summary['completed_instances']} "
               f"completed, {summary['empty_patch_instances']} empty patches, "
               f"{summary['error_instances']} errors); report: {out / 'report.json'}")
