"""The image names the field's tools derive from an instance id, not from a column.

A row names its image by digest, and tools that read the row (mini-swe-agent, SWE-bench 5.x,
SkyRL) use that. Others build the name from the instance id and a prefix the user sets, so an
image is only found there if it is pushed under that very name:

- OpenHands (the agent SWE-Gym trained), ``evaluation/benchmarks/swe_bench/run_infer.py``,
  ``get_instance_docker_image``: ``('sweb.eval.x86_64.' + instance_id).replace('__', '_s_')``,
  put after ``EVAL_DOCKER_IMAGE_PREFIX`` (``rstrip('/') + '/'``) and lower-cased; no tag, so
  Docker's ``latest``.
- SWE-bench 5.x, ``swebench/image_builder/image_spec.py`` (``ImageSpec.name``) and
  ``swebench/task/checks.py`` (``expected_image``): ``f"{namespace}/sweb.eval.x86_64.{id}:latest"``
  with ``__`` replaced by ``_1776_`` ("docker hub doesn't allow dunders") and lower-cased;
  mini-swe-agent falls back to the same rule (namespace ``docker.io/swebench``) when a row names
  no image.

``swegc publish --registry HOST/NAMESPACE`` pushes each instance image under both names, with the
same digest, so that ``HOST/NAMESPACE`` is the prefix (OpenHands) or namespace (SWE-bench) to set.
"""

from __future__ import annotations

from dataclasses import dataclass

ARCH = "x86_64"  # swegc builds for the engine's own platform: x86_64 here, as the field names it
PEER_TAG = "latest"


@dataclass(frozen=True)
class PeerName:
    """One tool's name for an instance image: ``repository`` under the prefix, and its tag."""

    tool: str
    repository: str
    tag: str = PEER_TAG


def openhands_repository(instance_id: str) -> str:
    """``sweb.eval.x86_64.<id with __ as _s_>``, lower case (OpenHands' rule, see the module doc)."""
    return f"sweb.eval.{ARCH}.{instance_id}".replace("__", "_s_").lower()


def swebench_repository(instance_id: str) -> str:
    """``sweb.eval.x86_64.<id with __ as _1776_>``, lower case (SWE-bench's rule)."""
    return f"sweb.eval.{ARCH}.{instance_id}".replace("__", "_1776_").lower()


def peer_names(instance_id: str) -> tuple[PeerName, ...]:
    """Every name a peer tool derives for ``instance_id`` (one per distinct name)."""
    names = (PeerName("OpenHands", openhands_repository(instance_id)),
             PeerName("SWE-bench", swebench_repository(instance_id)))
    return tuple({n.repository: n for n in names}.values())
