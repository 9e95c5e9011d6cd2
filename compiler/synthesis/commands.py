"""``swegc synthesize``: validated synthetic tasks from a compiled build's valid instances."""

from __future__ import annotations

from pathlib import Path

import click

from swegc.cli_options import executor_options


@click.command()
@click.argument("build", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("synth"), show_default=True,
              help="Folder for the synthetic build: dataset (Hub layout), reports, logs, store.")
@click.option("--per-env", type=click.IntRange(1), default=10, show_default=True,
              help="Valid tasks wanted per environment (source instances are used in turn "
                   "until it has them).")
@click.option("--strategies", default="mutation", show_default=True, metavar="NAMES",
              help="Comma-separated: mutation, pr_revert, combined, policy.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the generators: the same seed makes the same candidates.")
@click.option("--per-source", type=click.IntRange(1), default=None,
              help="Candidates per source instance and strategy (default: 4 x --per-env, "
                   "at least 20).")
@click.option("--runs", type=click.IntRange(1, 20), default=None,
              help="Test runs per side (default: each source instance's own, as compiled).")
@click.option("--max-failing", "cap", type=click.FloatRange(0.0, 1.0), default=0.5,
              show_default=True,
              help="The largest share of the tests run that a bug may fail (more: too_broad, "
                   "such as an import error).")
@click.option("--map", "map_scope", type=click.Choice(["suite", "instance"]), default="suite",
              show_default=True,
              help="Which tests the call map runs (once per source instance): the whole suite, "
                   "or only the source row's own test files (for a suite too slow to run whole).")
@click.option("--jobs", "-j", type=click.IntRange(1, 4096), default=None,
              help="Units in parallel (default: min(4, CPUs)).")
@click.option("--split", default="train", show_default=True, help="Dataset split name.")
@click.option("--policy", default=None, metavar="NAME",
              help="Policy that rewrites functions with a subtle bug (strategy policy): openai, "
                   "transformers, or scripted.")
@click.option("--model", default=None, help="Model name for --policy (openai: sent to the "
                                             "endpoint).")
@click.option("--base-url", default=None, help="OpenAI-compatible endpoint for --policy openai.")
@click.option("--policy-options", "policy_options", type=click.Path(exists=True, path_type=Path),
              default=None, help="JSON file of further policy options (swegc rollout's names: "
                                 "temperature, max_tokens, script, ...).")
@executor_options
def synthesize(build: Path, out: Path, per_env: int, strategies: str, seed: int,
               per_source: int | None, runs: int | None, cap: float, map_scope: str,
               jobs: int | None,
               split: str, policy: str | None, model: str | None, base_url: str | None,
               policy_options: Path | None, executor: str, ray_address: str | None) -> None:
    """Make validated synthetic tasks (bugs the covering tests catch) from BUILD's instances.

    Each task is a thin image on its source instance's, whose tree holds the bug; its gold
    patch is the fix. Resumable: run it again to finish, or to add tasks with a larger
    --per-env.
    """
    from swegc.compiler.pipeline import default_jobs
    from swegc.compiler.report import summarize
    from swegc.compiler.synthesis.pipeline import SynthOptions, Synthesizer

    if executor == "local" and jobs is None:
        jobs = default_jobs()
    extra = _policy_options(policy_options)
    extra.update({k: v for k, v in (("model", model), ("base_url", base_url)) if v})
    names = tuple(s.strip() for s in strategies.split(",") if s.strip())
    options = SynthOptions(build=build, out=out, per_env=per_env, strategies=names, seed=seed,
                           jobs=jobs, executor=executor, ray_address=ray_address, runs=runs,
                           cap=cap, per_source=per_source, split=split, map_scope=map_scope,
                           policy=policy,
                           policy_options=extra)
    echo = lambda line: click.echo(line, err=True)  # noqa: E731 - progress goes to stderr
    synthesizer = Synthesizer(options, echo)
    try:
        tally = synthesizer.run()
    except KeyboardInterrupt:
        click.echo("interrupted: finished work is kept in the build store; run the same "
                   "command again to continue", err=True)
        raise SystemExit(130) from None
    click.echo(summarize(out))
    click.echo(f"\n{len(tally.rows)} synthetic tasks in {synthesizer.elapsed_s:.1f}s; dataset: "
               f"datasets.load_dataset({str(out)!r})")


def _policy_options(path: Path | None) -> dict:
    """The --policy-options file: a JSON object; an error that names the file otherwise."""
    import json

    from swegc.errors import InputError

    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: --policy-options must be a JSON object of policy options "
                         f"({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: --policy-options must be a JSON object, not "
                         f"{type(data).__name__}")
    return data
