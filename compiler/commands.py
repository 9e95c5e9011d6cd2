"""Commands of the compiler: ``swegc check``, ``swegc compile``, ``swegc status``."""

from __future__ import annotations

from pathlib import Path

import click

from swegc.cli_options import executor_options


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--without-clones", is_flag=True,
              help="Do not check that source.clone and source.submodules exist (specs written "
                   "for another machine).")
def check(paths: tuple[Path, ...], without_clones: bool) -> None:
    """Check specs (files or folders) and list every problem with its file and line.

    Exits 1 when there is any problem; nothing is built. The clones the specs name must exist,
    unless --without-clones.
    """
    from swegc.compiler.spec.clones import clone_problems
    from swegc.compiler.spec.loader import load_specs
    from swegc.errors import SpecError

    specs = load_specs(paths)
    missing = [] if without_clones else clone_problems(specs)
    if missing:
        raise SpecError(missing)
    for spec in specs:
        envs = len(spec.environments)
        click.echo(f"ok  {spec.path}  {spec.repo}  ({envs} environment{'s' if envs != 1 else ''}, "
                   f"source: {spec.source.kind}, parser: {spec.tests.parser})")
    click.echo(f"{len(specs)} spec{'s' if len(specs) != 1 else ''} checked, no problems")
    for line in base_image_lines(specs):
        click.echo(line)


def base_image_lines(specs: list) -> list[str]:
    """Which Pythons this machine can build, and the image each environment would start from.

    Built in are the Debian suites debootstrap makes (``swegc images base``); any other Python
    needs an image mapped in ``build.base_images`` (best once, in a shared file specs extend).
    """
    import shutil

    from swegc.naming import DEBIAN_SUITES
    from swegc.errors import DockerUnavailableError
    from swegc.docker_client import docker_client, image_exists

    try:
        client = docker_client()
    except DockerUnavailableError:
        client = None
    debootstrap = shutil.which("debootstrap") is not None
    built_in = ", ".join(f"{v} ({suite})" for v, suite in DEBIAN_SUITES.items())
    lines = [f"Python built in (debootstrap {'found' if debootstrap else 'not installed'}): "
             f"{built_in}; any other Python needs build.base_images, e.g. "
             '{"3.10": "python:3.10-slim"} where a registry is reachable']
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        for env in spec.environments:
            image = spec.base_image_for(env)
            if (env.python, image) in seen:
                continue
            seen.add((env.python, image))
            if client is None:
                state = "Docker not reachable"
            elif image_exists(client, image) is not None:
                state = "present"
            elif image.startswith("swegc-base:"):
                state = (f"missing: swegc images base --python {env.python}" if debootstrap
                         else "missing: install debootstrap, then swegc images base --python "
                         f"{env.python}")
            else:
                state = f"missing: docker pull {image} (or docker tag a local image as it)"
            lines.append(f"  python {env.python}: {image}  [{state}]")
    return lines


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
              help="Build again envs and instance images whose build failed and plan again "
                   "rejected candidates (infrastructure failures are always retried).")
@click.option("--split", default="train", show_default=True, help="Dataset split name.")
@executor_options
@click.option("--registry", default=None, metavar="HOST/NAMESPACE",
              help="Push every image built to this registry, so that nodes of a cluster pull "
                   "by digest what they lack (and publishing finds them there).")
@click.option("--max-disk", default=None, metavar="SIZE",
              help="Keep the disk the build's images hold under SIZE (e.g. 20G, 500MB): between "
                   "units, drop what the build store can rebuild (rejected instances' images, "
                   "then instance images the --registry holds, then envs no pending unit needs); "
                   "valid rows' images always stay reachable.")
@click.option("--since", default=None, metavar="DATE",
              help="Only pull requests created on or after DATE (ISO date or timestamp), beside "
                   "the spec's source.filters.since.")
@click.option("--until", default=None, metavar="DATE",
              help="Only pull requests created before DATE, beside source.filters.until.")
@click.option("--exclude", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              metavar="FILE",
              help="Leave out the instance ids and repo:owner/name lines this file lists (a "
                   "benchmark's ids, say), before anything is built; each is rejected as "
                   "`excluded`.")
@click.option("--fresh-after", default=None, metavar="DATE",
              help="Write the instances created after DATE to a split of their own, test_fresh, "
                   "for evaluation that training on the other split cannot have seen.")
def compile_cmd(paths: tuple[Path, ...], out: Path, jobs: int | None, runs: int | None,
                only: tuple[str, ...], limit: int | None, retry_failed: bool, split: str,
                executor: str, ray_address: str | None, registry: str | None,
                max_disk: str | None, since: str | None, until: str | None, exclude: Path | None,
                fresh_after: str | None) -> None:
    """Compile specs into validated task instances with Docker images.

    Resumable: stop it at any moment and run it again to finish the rest; on unchanged input
    it builds and runs nothing and rewrites an identical dataset.
    """
    from swegc.compiler.pipeline import CompileOptions, Compiler, default_jobs
    from swegc.compiler.report import summarize

    from swegc.compiler.selection import FRESH_SPLIT, command_line_date, selection
    from swegc.errors import InputError
    from swegc.images.disk import parse_size

    if fresh_after is not None:
        command_line_date("--fresh-after", fresh_after)
        if split == FRESH_SPLIT:
            raise InputError(f"--split {split} is the split --fresh-after writes; name another")
    if executor == "local" and jobs is None:
        jobs = default_jobs()
    options = CompileOptions(out=out, jobs=jobs, runs=runs, only=only, limit=limit,
                             retry_failed=retry_failed, split=split, executor=executor,
                             ray_address=ray_address, registry=registry,
                             max_disk=parse_size(max_disk) if max_disk is not None else None,
                             selection=selection(since, until, exclude), fresh_after=fresh_after)
    echo = lambda line: click.echo(line, err=True)  # noqa: E731 - progress goes to stderr
    if max_disk is not None and executor == "ray":
        echo("note: --max-disk bounds the images in this machine's Docker engine; images that Ray "
             "nodes build stay on those nodes")
    compiler = Compiler(options, echo)
    try:
        result = compiler.run(paths)
    except KeyboardInterrupt:
        click.echo("interrupted: finished work is kept in the build store; run the same "
                   "command again to continue", err=True)
        raise SystemExit(130) from None
    written = compiler.outputs.root  # out/partial for --instance and --limit
    click.echo(summarize(written))
    click.echo(f"\ncompiled in {result.elapsed_s:.1f}s; dataset: "
               f"datasets.load_dataset({str(written)!r})")


@click.command()
@click.argument("build_dir", type=click.Path(path_type=Path), default=Path("build"))
@click.option("--json", "as_json", is_flag=True,
              help="Print the funnel as JSON: an object with `funnel` (each stage's count, "
                   "cpu_s, wall_s, bytes, reasons, in order) and the costs per valid instance "
                   "(`cpu_h_per_valid`, `disk_per_valid`).")
def status(build_dir: Path, as_json: bool) -> None:
    """Summarize a build folder: valid, rejected by reason, flaky tests, the funnel with each
    stage's cost (containers' CPU time, wall time, bytes written), time, disk."""
    from swegc.compiler.report import status_json, summarize

    if as_json:
        import json

        click.echo(json.dumps(status_json(build_dir), indent=2, sort_keys=True))
        return
    click.echo(summarize(build_dir))
