"""``swegc evaluate``: grade predictions (or ``gold``) against a dataset, SWE-bench's way."""

from __future__ import annotations

from pathlib import Path

import click

from swegc.executor_cli import executor_options


@click.command()
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
