"""Commands of the compiler: ``swegc check``, ``swegc compile``, ``swegc status``."""

from __future__ import annotations

from pathlib import Path

import click

from swegc.executor_cli import executor_options


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Check specs (files or folders) and list every problem with its file and line.

    Exits 1 when there is any problem; nothing is built.
    """
    from swegc.compiler.spec.loader import load_specs

    specs = load_specs(paths)
    for spec in specs:
        envs = len(spec.environments)
        click.echo(f"ok  {spec.path}  {spec.repo}  ({envs} environment{'s' if envs != 1 else ''}, "
                   f"source: {spec.source.kind}, parser: {spec.tests.parser})")
    click.echo(f"{len(specs)} spec{'s' if len(specs) != 1 else ''} checked, no problems")


@click.command("compile")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("build"), show_default=True,
              help="Build folder: dataset (Hub layout), reports, logs and the build store.")
@click.option("--jobs", "-j", type=click.IntRange(1, 4096), default=None,
              help="Units of work in parallel (default: min(4, CPUs); with --executor ray, "
                   "as many as the cluster's nodes offer).")
@click.option("--runs", type=click.IntRange(1, 20), default=None,
              help="Test runs per side, overriding every spec's tests.runs.")
@click.option("--instance", "only", multiple=True, metavar="ID",
              help="Compile only this instance id (repeatable).")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="At most this many candidates per spec (the first by PR number).")
@click.option("--retry-failed", is_flag=True,
              help="Build again envs whose build failed and plan again rejected candidates "
                   "(infrastructure failures are always retried).")
@click.option("--split", default="train", show_default=True, help="Dataset split name.")
@executor_options
@click.option("--registry", default=None, metavar="HOST/NAMESPACE",
              help="Push every image built to this registry, so that nodes of a cluster pull "
                   "by digest what they lack (and publishing finds them there).")
def compile_cmd(paths: tuple[Path, ...], out: Path, jobs: int | None, runs: int | None,
                only: tuple[str, ...], limit: int | None, retry_failed: bool, split: str,
                executor: str, ray_address: str | None, registry: str | None) -> None:
    """Compile specs into validated task instances with Docker images.

    Resumable: stop it at any moment and run it again to finish the rest; on unchanged input
    it builds and runs nothing and rewrites an identical dataset.
    """
    from swegc.compiler.pipeline import CompileOptions, Compiler, default_jobs
    from swegc.compiler.report import summarize

    if executor == "local" and jobs is None:
        jobs = default_jobs()
    options = CompileOptions(out=out, jobs=jobs, runs=runs, only=only, limit=limit,
                             retry_failed=retry_failed, split=split, executor=executor,
                             ray_address=ray_address, registry=registry)
    echo = lambda line: click.echo(line, err=True)  # noqa: E731 - progress goes to stderr
    try:
        result = Compiler(options, echo).run(paths)
    except KeyboardInterrupt:
        click.echo("interrupted: finished work is kept in the build store; run the same "
                   "command again to continue", err=True)
        raise SystemExit(130) from None
    click.echo(summarize(out))
    click.echo(f"\ncompiled in {result.elapsed_s:.1f}s; dataset: datasets.load_dataset({str(out)!r})")


@click.command()
@click.argument("build_dir", type=click.Path(path_type=Path), default=Path("build"))
def status(build_dir: Path) -> None:
    """Summarize a build folder: valid, rejected by reason, flaky tests, time, disk."""
    from swegc.compiler.report import summarize

    click.echo(summarize(build_dir))
