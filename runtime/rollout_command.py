"""``swegc rollout``: run a policy on a dataset's instances and write the trajectories."""

from __future__ import annotations

from typing import Any

import click

from swegc.executor_cli import executor_options


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
    from pathlib import Path

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
