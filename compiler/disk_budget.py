"""``swegc compile --max-disk SIZE``: the build's images kept under a budget while it runs.

The compile tells the budget each instance image it has (built now or by an earlier compile) and
which envs still have units to run; between units, when the disk may be over the budget, it
drops what the build store can rebuild (``swegc.images.prune``: rejected instances' images, then
valid instances' images a registry holds by their row's digest, then envs no pending unit needs)
and says what it dropped and how much disk is in use. The disk is measured only when a cheap
running estimate (the last measure plus the layers built since) passes the budget, so a compile
under its budget pays nothing for it.

The budget bounds the engine of the machine that runs the compile: with ``--executor ray``,
images built on other nodes are not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from swegc.images.builder import BuiltImage
from swegc.images.prune import PUSHED, REJECTED, UNUSED_ENV, Droppable, PruneResult, prune


@dataclass(frozen=True)
class HeldInstance:
    tag: str
    valid: bool
    pushed: bool  # a registry holds it by the digest its row names


@dataclass(frozen=True)
class HeldEnv:
    key: str
    tag: str
    what: str  # repository and versions, for people


class DiskBudget:
    def __init__(self, budget: int, echo: Callable[[str], None]):
        self.budget = budget
        self.echo = echo
        self.instances: dict[str, HeldInstance] = {}
        self.estimate: int | None = None  # None: not measured yet
        self.last: PruneResult | None = None

    def saw_instance(self, instance_id: str, image: BuiltImage | None, valid: bool, pushed: bool) -> None:
        """An instance's unit is done (now or in an earlier compile) with ``image``."""
        if image is None:
            return
        self.instances[instance_id] = HeldInstance(image.name, valid, pushed)
        if self.estimate is not None:  # over rather than under: a reused layer counts too
            self.estimate += image.layer_bytes

    def check(self, client: Any, envs: Iterable[HeldEnv], pending: Collection[str], *,
              final: bool = False) -> None:
        """Between units: drop what may go while the disk is over the budget; ``pending`` are the
        keys of envs with units still to run. ``final`` measures whatever the estimate says."""
        if not final and self.estimate is not None and self.estimate <= self.budget:
            return
        keep: list[str] = []
        droppable: list[Droppable] = []
        for iid, held in sorted(self.instances.items()):
            if not held.valid:
                droppable.append(Droppable(held.tag, iid, REJECTED))
            elif held.pushed:
                droppable.append(Droppable(held.tag, iid, PUSHED))
            else:
                keep.append(held.tag)
        for env in envs:
            if env.key in pending:
                keep.append(env.tag)
            else:
                droppable.append(Droppable(env.tag, env.what, UNUSED_ENV))
        result = prune(client, keep, droppable, self.budget, echo=lambda line: self.echo(f"[disk] {line}"))
        self.estimate = result.after
        self.last = result
        if result.dropped or final:
            self.echo(f"[disk] {result.summary()}")
        if final and result.over:
            self.echo(f"[disk] {result.over}")
