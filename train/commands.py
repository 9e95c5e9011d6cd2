"""Click commands: ``swegc train rft``, ``swegc train verifier``, ``swegc rerank``, ``swegc metrics``.

torch, transformers and trl are imported inside the commands, so ``swegc --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from swegc.cli_options import FieldOption, dataclass_options, from_options
from swegc.train.config import Hyper, RFTConfig, VerifierConfig

# Where `swegc train` names or checks an option differently from the field it fills.
_HYPER_FLAGS = {"learning_rate": FieldOption("--lr"), "num_epochs": FieldOption("--epochs"),
                "effective_batch_size": FieldOption("--batch-size"), "lora": FieldOption("--lora/--full")}
_FILES = {"out_dir": FieldOption("--out", type=click.Path(file_okay=False)),
          "chat_template": FieldOption(type=click.Path(dir_okay=False, exists=True))}
_hyper_options = dataclass_options(Hyper, fields=_HYPER_FLAGS)


def _runs(paths: tuple[str, ...]) -> list[Any]:
    from swegc.train.runs import read_runs

    runs = read_runs(list(paths))
    click.echo(f"read {len(runs)} trajectories from {len(paths)} run(s)")
    return runs


def _push_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--push-to-hub", "push_to_hub", default=None, metavar="ORG/NAME",
                        help="After training, publish the checkpoint there (as `swegc publish OUT --repo`).")(func)


def _check_push(repo_id: str | None) -> None:
    """Fails before training when the push could not happen (bad id, no token)."""
    if repo_id:
        from swegc.hub.hubapi import HubError, check_repo_id, hub_token

        check_repo_id(repo_id)
        if not hub_token():
            raise HubError("--push-to-hub: no Hugging Face token; set HF_TOKEN or run `huggingface-cli login`")


def _push(out_dir: str, repo_id: str | None, runs: tuple[str, ...]) -> None:
    if repo_id:
        from swegc.hub.publish import PublishOptions, publish

        names = ", ".join(f"local runs {Path(r).resolve().name}" for r in runs)  # no local paths on the Hub
        publish(out_dir, PublishOptions(repo_id=repo_id, dataset=names or None), echo=click.echo)


@click.group()
def train() -> None:
    """Fine-tune a policy (capped RFT) or a verifier on trajectories."""


@train.command("rft")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@dataclass_options(RFTConfig, skip={"hyper"}, fields=_FILES)
@click.option("--dry-run", is_flag=True, help="Select and report only; do not train.")
@_hyper_options
@_push_option
def rft(runs: tuple[str, ...], dry_run: bool, push_to_hub: str | None, **kw: Any) -> None:
    """Capped rejection-sampling fine-tuning on the resolved trajectories of RUNS."""
    from swegc.train.errors import TrainSetupError

    if kw["cap"] < 1:
        raise TrainSetupError("--cap must be at least 1")
    hyper = from_options(Hyper, kw)
    config = from_options(RFTConfig, kw, hyper=hyper)
    located = _runs(runs)
    if dry_run:
        from swegc.train.rft import prepare, write_selection
        from swegc.train.sft import load_tokenizer

        hyper.check()
        data = prepare(located, config, load_tokenizer(config.base_model))
        report = write_selection(config.out_dir, data.selection)
        click.echo(f"selection: {data.selection.summary()} (every decision in {report})")
        return
    from swegc.train.rft import run_rft

    _check_push(push_to_hub)
    _, result = run_rft(located, config, echo=click.echo)
    click.echo(f"trained {result.steps} steps, loss {result.train_loss:.4f}, "
               f"{result.tokens_per_second:.0f} tokens/s; checkpoint in {config.out_dir}")
    _push(config.out_dir, push_to_hub, runs)


@train.command("verifier")
@click.argument("runs", nargs=-1, type=click.Path(exists=True))
@click.option("--on-policy", "on_policy", multiple=True, type=click.Path(exists=True),
              help="A run sampled from the policy the verifier will rerank (repeatable); RUNS are off-policy.")
@dataclass_options(VerifierConfig, skip={"hyper"},
                   fields={**_FILES, "statements": FieldOption("--instances", type=click.Path(exists=True))})
@_hyper_options
@_push_option
def verifier(runs: tuple[str, ...], on_policy: tuple[str, ...], push_to_hub: str | None, **kw: Any) -> None:
    """Train a YES/NO outcome verifier on resolved and unresolved trajectories."""
    from swegc.train.errors import TrainSetupError
    from swegc.train.runs import read_problem_statements
    from swegc.train.verifier import run_verifier

    if not runs and not on_policy:
        raise TrainSetupError("give at least one run (RUNS or --on-policy)")
    hyper = from_options(Hyper, kw)
    config = from_options(VerifierConfig, kw, hyper=hyper)
    located = _runs(runs + on_policy)
    statements = read_problem_statements(config.statements) if config.statements else None
    _check_push(push_to_hub)
    _, result = run_verifier(located, config, set(on_policy), statements, echo=click.echo)
    click.echo(f"trained {result.steps} steps, loss {result.train_loss:.4f}; verifier in {config.out_dir}")
    _push(config.out_dir, push_to_hub, runs + on_policy)


@click.command("rerank")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--verifier", "verifier_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder written by 'swegc train verifier'.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for scores.jsonl and best.jsonl.")
@click.option("--instances", type=click.Path(exists=True), default=None,
              help="Instance dataset with problem statements (default: first user message).")
@click.option("--batch-size", type=int, default=4, show_default=True, help="Trajectories per forward pass.")
@click.option("--max-length", type=int, default=None, help="Cap the prompt length (default: the verifier's).")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
def rerank(runs: tuple[str, ...], verifier_dir: str, out_dir: str, instances: str | None, batch_size: int,
           max_length: int | None, device: str | None) -> None:
    """Score every trajectory with a verifier and pick the best per instance."""
    from swegc.train.rerank import Scored, pick_best, write_outputs
    from swegc.train.runs import read_problem_statements
    from swegc.train.scoring import VerifierScorer

    located = _runs(runs)
    statements = read_problem_statements(instances) if instances else None
    model = VerifierScorer.load(verifier_dir, device=device, max_length=max_length)
    scores = model.score([loc.trajectory for loc in located], statements, batch_size=batch_size)
    scored = [Scored(loc, s) for loc, s in zip(located, scores, strict=True)]
    best = pick_best(scored)
    scores_path, best_path = write_outputs(out_dir, scored, best)
    picked = sum(s.loc.trajectory.resolved for s in best.values()) / max(len(best), 1)
    click.echo(f"{len(best)} instances: picked trajectories resolve {picked:.1%}; "
               f"scores in {scores_path}, best in {best_path}")


@click.command("metrics")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--scores", type=click.Path(exists=True), default=None,
              help="scores.jsonl (or a rerank folder) to compute best@k.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for eval.json and curves.png.")
@click.option("--loop-repeats", type=int, default=3, show_default=True,
              help="Identical consecutive assistant actions that count as a loop.")
@click.option("--title", default="swegc metrics", show_default=True, help="Plot title.")
def metrics(runs: tuple[str, ...], scores: str | None, out_dir: str | None, loop_repeats: int, title: str) -> None:
    """Resolve rate, exact pass@k and best@k curves, loop and empty-patch rates."""
    from swegc.train.metrics import rollout_metrics
    from swegc.train.rerank import read_scores

    located = _runs(runs)
    score_map = read_scores(scores) if scores else None
    report = rollout_metrics([loc.trajectory for loc in located], score_map, loop_repeats)
    if score_map is not None and not report.best_at:
        click.echo(f"warning: only {report.scored} of {report.trajectories} trajectories have a score; "
                   "best@k left out", err=True)
    click.echo(report.table())
    if out_dir:
        from swegc.train.plot import plot_curves

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.json").write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        png = plot_curves(report, out / "curves.png", title)
        click.echo(f"wrote {out / 'eval.json'} and {png}")
