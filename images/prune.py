"""Dropping a build's images that its build store can rebuild, until its disk fits a budget.

What may go, in this order (``Droppable.rank``):

1. the images of rejected instances: no row names them; a later compile keeps their stored
   verdict and does not build them again;
2. the images of valid instances that a registry holds by the digest their row names: the row
   stays runnable anywhere (``swegc evaluate`` and the peer tools pull it);
3. env images no pending unit needs: a later compile builds one again only when an instance
   unit of its env has to run.

What never goes: the image of a valid row that is in no registry (its row names the local id),
an env a pending unit needs, and any image that carries a name other than the build's own (some
other build or person uses it). Removing an env image under which kept instance images sit
frees nothing (their layers hold it), so such an env is kept too.

Disk is ``swegc.images.disk.DiskMeter``'s measure, so what is freed is the measure's own
difference, not a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swegc.images.disk import DiskMeter, format_size

REJECTED, PUSHED, UNUSED_ENV = 0, 1, 2
RANK_WORDS = {REJECTED: "rejected instance", PUSHED: "instance in the registry", UNUSED_ENV: "unused env"}


@dataclass(frozen=True)
class Droppable:
    """An image of the build that may be removed, and why (``rank``, see the module doc)."""

    tag: str
    what: str  # for people: an instance id, or an env's repository and versions
    rank: int


@dataclass
class PruneResult:
    """What a prune did (or, in a dry run, would do)."""

    before: int
    after: int
    budget: int | None
    dropped: list[tuple[Droppable, int]] = field(default_factory=list)  # each with the bytes it freed
    kept: list[tuple[Droppable, str]] = field(default_factory=list)  # droppable, not dropped: why
    over: str | None = None  # why the disk stays over the budget
    dry_run: bool = False

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.dropped)

    def summary(self) -> str:
        """One line: what was dropped, how much, and the disk in use now."""
        counts = {rank: sum(1 for d, _ in self.dropped if d.rank == rank) for rank in RANK_WORDS}
        parts = [f"{n} {RANK_WORDS[rank]}{'' if n == 1 else ' images'}" for rank, n in counts.items() if n]
        budget = f" (budget {format_size(self.budget)})" if self.budget is not None else ""
        verb = "would drop" if self.dry_run else "dropped"
        dropped = f"{verb} {', '.join(parts)}, {format_size(self.freed)}" if parts else f"{verb} nothing"
        return f"{dropped}; {format_size(self.after)} in use{budget}"


def prune(client: Any, keep: list[str], droppable: list[Droppable], budget: int | None, *,
          dry_run: bool = False, echo: Callable[[str], None] = lambda _: None) -> PruneResult:
    """Drops ``droppable`` images in rank order until the disk of ``keep`` and what is left of
    ``droppable`` fits ``budget`` (every droppable image when ``budget`` is None)."""
    import docker

    meter = DiskMeter(client)
    ids: dict[str, str] = {}
    for tag in [*keep, *(d.tag for d in droppable)]:
        node = meter.node(tag)
        if node is not None:
            ids[tag] = node.id
    present = set(ids)
    before = meter.in_use(ids[t] for t in present)
    result = PruneResult(before, before, budget, dry_run=dry_run)
    used = before
    for item in sorted(droppable, key=lambda d: d.rank):
        if budget is not None and used <= budget:
            break
        if item.tag not in present:
            continue
        node = meter.node(ids[item.tag])
        assert node is not None
        others = [t for t in node.tags if t != item.tag]
        if others:
            result.kept.append((item, f"also named {others[0]}"))
            continue
        left = meter.in_use(ids[t] for t in present - {item.tag})
        if left >= used:
            result.kept.append((item, "kept images sit on it: removing it frees nothing"))
            continue
        if not dry_run:
            try:
                client.images.remove(item.tag)
            except docker.errors.APIError as exc:  # a container uses it, or it went meanwhile
                result.kept.append((item, f"the engine refused: {getattr(exc, 'explanation', exc)}"))
                continue
        echo(f"{'would drop' if dry_run else 'dropped'} {RANK_WORDS[item.rank]} {item.what} "
             f"({item.tag}): {format_size(used - left)}")
        result.dropped.append((item, used - left))
        present.discard(item.tag)
        used = left
    result.after = used if dry_run else DiskMeter(client).in_use(
        t for t in present if t in ids)
    if budget is not None and result.after > budget:
        result.over = _why_over(result)
    return result


def _why_over(result: PruneResult) -> str:
    held = result.kept
    reason = (f"{format_size(result.after)} is over the budget of {format_size(result.budget or 0)}: "
              "what is left are the images of valid rows in no registry and the envs they sit on "
              "(or that pending units need)")
    if held:
        reason += f"; {len(held)} droppable image(s) kept ({held[0][0].tag}: {held[0][1]})"
    return reason + ("; compile with --registry HOST/NAMESPACE so that valid instances' images can "
                     "leave this disk, or raise --max-disk")


def build_droppables(folder: Any, echo: Callable[[str], None] = lambda _: None
                     ) -> tuple[list[str], list[Droppable]]:
    """``(keep, droppable)`` of a build folder after its compile, from its reports and rows:
    a valid row's image may go only when the row names it by a digest its registry serves (a
    compile with ``--registry``); no unit is pending, so every env may go. A registry that does
    not answer cannot show it holds an image, so that image is kept (``echo`` says so)."""
    from pathlib import Path

    from swegc.build_reports import read_reports
    from swegc.dataset import read_dataset
    from swegc.errors import RegistryError
    from swegc.images.registry import Registry, existing_reference, split_reference

    instances, envs = read_reports(Path(folder))
    rows = {str(r["instance_id"]): r for r in read_dataset(Path(folder))}
    keep: list[str] = []
    droppable: list[Droppable] = []
    for report in instances:
        tag, iid = report.get("image"), str(report["instance_id"])
        if not tag:
            continue
        if report["status"] != "valid":
            droppable.append(Droppable(tag, iid, REJECTED))
            continue
        image = str((rows.get(iid) or {}).get("image") or "")
        try:
            pinned = "@sha256:" in image and existing_reference(Registry(split_reference(image)[0]), image)
        except RegistryError as exc:
            echo(f"kept {tag}: its row names {image}, but {exc}")
            pinned = None
        if pinned:
            droppable.append(Droppable(tag, iid, PUSHED))
        else:
            keep.append(tag)
    for env in envs:
        if env.get("image"):
            droppable.append(Droppable(str(env["image"]), f"{env['repo']} {env.get('versions') or '*'}",
                                       UNUSED_ENV))
    return keep, droppable
