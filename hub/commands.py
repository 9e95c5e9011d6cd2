"""``swegc publish FOLDER --repo ORG/NAME``: builds, trajectory datasets and checkpoints to the Hub;
``swegc curate BUILD --runs RUNS``: a policy's resolve rate on a build's rows before publishing."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", "repo_id", required=True, help="Hub repository ORG/NAME (dataset, or model for a checkpoint).")
@click.option("--private", is_flag=True, help="Create the repository private.")
@click.option("--registry", default=None, metavar="HOST/NAMESPACE",
              help="Push a build's images there and pin rows to their digests (credentials: "
                   "SWEGC_REGISTRY_USERNAME, SWEGC_REGISTRY_PASSWORD).")
@click.option("--dry-run", is_flag=True, help="Check and stage only; push and commit nothing.")
@click.option("--dataset", default=None, metavar="ORG/NAME@REV",
              help="RUNS and checkpoints: the dataset the runs ran on, or were trained on.")
@click.option("--eval", "evaluation", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Checkpoints: eval.json from `swegc metrics --out` for the model card.")
def publish(folder: str, repo_id: str, private: bool, registry: str | None, dry_run: bool,
            dataset: str | None, evaluation: str | None) -> None:
    """Publish a build, RUNS or a checkpoint to the Hugging Face Hub (tagged v1, v2...).

    A build is checked first (schema, images, FAIL_TO_PASS, secrets) and refused with every
    problem listed; its images go to --registry and rows name them by digest. The token comes
    from HF_TOKEN or `huggingface-cli login` and is never printed.
    """
    from swegc.hub.publish import PublishOptions
    from swegc.hub.publish import publish as run

    options = PublishOptions(repo_id=repo_id, private=private, registry=registry, dry_run=dry_run,
                             dataset=dataset, evaluation=evaluation)
    run(folder, options, echo=click.echo)


@click.command("curate")
@click.argument("build", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--runs", type=click.Path(exists=True, path_type=Path), required=True,
              help="Rollouts (a RUNS folder or trajectory dataset) whose resolve rate each row gets.")
@click.option("--policy", default=None, metavar="MODEL",
              help="The policy to rate by, when RUNS holds rollouts of several.")
def curate_cmd(build: Path, runs: Path, policy: str | None) -> None:
    """Add a policy's resolve rate to each row of BUILD (difficulty_resolve_rate, _runs, _policy).

    The other difficulty signals (files, hunks and lines the patch changes, FAIL_TO_PASS count)
    are written by compile.
    """
    from swegc.curate import curate

    result = curate(build, runs, policy)
    click.echo(f"{build}: resolve rate of {result.policy} on {result.rated} instance(s); "
               f"{result.unrated} without a rollout of it (no rate)"
               + (f"; {result.unknown} rolled-out instance(s) are in no split" if result.unknown else ""))
