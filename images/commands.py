"""``swegc images``: local base images, and listing or removing the images swegc built."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def images() -> None:
    """Base images, and the env/instance images swegc built."""


@images.command("base")
@click.option("--python", "pythons", multiple=True, default=("3.11",), show_default=True,
              help="Python version (3.9, 3.11 or 3.13: Debian bullseye, bookworm, trixie).")
@click.option("--mirror", default=None, help="Debian mirror URL for debootstrap.")
@click.option("--force", is_flag=True, help="Rebuild even if the image exists.")
def base(pythons: tuple[str, ...], mirror: str | None, force: bool) -> None:
    """Build local base images with debootstrap (needs root), for hosts without Docker Hub."""
    from swegc.images.base_image import build_base_image

    for python in pythons:
        build_base_image(python, mirror=mirror, force=force, echo=click.echo)


@images.command("list")
@click.option("--kind", type=click.Choice(["base", "env", "instance"]), default=None)
def list_images(kind: str | None) -> None:
    """List swegc images with their kind, size and own layer size."""
    import docker

    from swegc.docker_client import LABEL, docker_client, list_images

    client = docker_client()
    filters = {"label": f"{LABEL}.kind" + (f"={kind}" if kind else "")}
    rows = []
    for image in list_images(client, filters=filters):
        labels = image.labels or {}
        try:
            history = client.api.history(image.id)
        except docker.errors.ImageNotFound:  # removed since the listing (another process)
            continue
        rows.append((labels.get(f"{LABEL}.kind", "?"), ", ".join(image.tags) or image.short_id,
                     image.attrs.get("Size", 0), history[0]["Size"] if history else 0))
    for kind_name, name, size, layer in sorted(rows):
        click.echo(f"{kind_name:9} {size / 1e6:9.1f} MB  own layer {layer / 1e6:8.2f} MB  {name}")
    click.echo(f"{len(rows)} image(s)")


@images.command("rm")
@click.option("--kind", type=click.Choice(["env", "instance"]), default=None,
              help="Only this kind (default: env and instance images).")
@click.option("--unused-by", "builds", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Keep the images this build folder uses; remove the other (stale) ones. "
                   "Repeatable.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--yes", is_flag=True, help="Do not ask.")
def remove(kind: str | None, builds: tuple[str, ...], dry_run: bool, yes: bool) -> None:
    """Remove env and instance images swegc built (base images are kept)."""
    import docker

    from swegc.docker_client import LABEL, docker_client, list_images

    client = docker_client()
    keep = _images_used_by(builds)
    kinds = [kind] if kind else ["instance", "env"]
    doomed = [img for k in kinds
              for img in list_images(client, filters={"label": f"{LABEL}.kind={k}"})
              if not keep & set(img.tags)]
    if not doomed:
        click.echo("no swegc images to remove")
        return
    if dry_run:
        for image in doomed:
            click.echo(f"would remove {', '.join(image.tags) or image.short_id}")
        return
    if not yes:
        click.confirm(f"remove {len(doomed)} image(s)?", abort=True)
    for image in doomed:
        for tag in image.tags or [image.id]:
            try:
                client.images.remove(tag, force=True)
            except docker.errors.ImageNotFound:  # another process removed it meanwhile
                pass
    click.echo(f"removed {len(doomed)} image(s)")


@images.command("prune")
@click.argument("build_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--max-disk", default=None, metavar="SIZE",
              help="Drop only until the build's images hold at most SIZE (e.g. 20G, 500MB); "
                   "without it, drop everything the build store can rebuild.")
@click.option("--dry-run", is_flag=True, help="Say what would be dropped; remove nothing.")
def prune_build(build_dir: Path, max_disk: str | None, dry_run: bool) -> None:
    """Drop the images of BUILD_DIR that its build store can rebuild, keeping every valid
    row's image reachable: rejected instances' images first, then valid instances' images a
    registry holds by the digest their row names, then env images.

    Disk is the bytes the build's env and instance images hold above their base images, each
    layer once. A later compile builds a dropped env again only when one of its units has to
    run; it never rebuilds a rejected instance's image.
    """
    from swegc.docker_client import docker_client
    from swegc.images.disk import format_size, parse_size
    from swegc.images.prune import build_droppables, prune

    budget = parse_size(max_disk) if max_disk is not None else None
    keep, droppable = build_droppables(build_dir, echo=click.echo)
    result = prune(docker_client(), keep, droppable, budget, dry_run=dry_run, echo=click.echo)
    click.echo(f"{result.summary()} (was {format_size(result.before)})")
    for item, why in result.kept:
        click.echo(f"kept {item.tag}: {why}")
    if result.over:
        click.echo(result.over)


def _images_used_by(builds: tuple[str, ...]) -> set[str]:
    """Image names in the reports of these build folders (instances and envs)."""
    from pathlib import Path

    from swegc.build_reports import read_reports

    used: set[str] = set()
    for build in builds:
        instances, envs = read_reports(Path(build))
        used |= {row["image"] for row in [*instances, *envs] if row.get("image")}
    return used
