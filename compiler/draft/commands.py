"""``swegc draft``: write a spec for a clone, optionally probed and repaired by compiling it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from swegc.errors import SwegcError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``20m`` or ``2h`` as seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise click.BadParameter(f"expected a duration such as 90s, 20m or 2h (got {text!r})",
                                 param_hint="--budget")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


@click.command()
@click.argument("clone", type=click.Path(path_type=Path, exists=True))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Where to write the spec (default: OWNER__NAME.yaml in the working folder).")
@click.option("--repo", default=None, metavar="OWNER/NAME",
              help="The GitHub repository (default: from the clone's origin URL).")
@click.option("--jsonl", default=None, metavar="FILE",
              help="Take pull requests from this candidates file (`swegc mine`) instead of the "
                   "history's merges; written relative to the spec.")
@click.option("--instances", default=None, metavar="SOURCE",
              help="Rebuild these published instances (JSONL, dataset folder or hub:org/name).")
@click.option("--official-pythons", is_flag=True,
              help="Use official python:X images (build.base_images) for Pythons this machine "
                   "does not build, instead of the nearest one it builds above them.")
@click.option("--probe", default=0, show_default=True, type=click.IntRange(min=0),
              help="Compile this many sampled pull requests per environment and repair the "
                   "spec from what fails, round after round (0: read only, build nothing).")
@click.option("--budget", default="30m", show_default=True,
              help="Wall time the probe rounds may take (90s, 20m, 2h).")
@click.option("--policy", "policies", multiple=True, metavar="NAME",
              help="A policy asked for an edit where no repair rule answers (repeatable).")
def draft(clone: Path, out: Path | None, repo: str | None, jsonl: str | None,
          instances: str | None, official_pythons: bool, probe: int, budget: str,
          policies: tuple[str, ...]) -> None:
    """Draft a spec for the repository in CLONE, read from its own files across its history.

    Every line written says why, in a comment above it. With --probe N, the spec is then
    compiled on N pull requests per environment and repaired until the yield stops rising.
    The clone is only read (git objects; nothing is checked out).
    """
    from swegc.compiler.draft.reading import draft_spec

    budget_s = parse_duration(budget)
    if out is not None:
        _check_out(out)
    _check_policies(policies, probe)
    options = {"repo": repo, "jsonl": jsonl, "instances": instances,
               "official_pythons": official_pythons}
    drafted = draft_spec(clone, out_name=str(out) if out else None, **options)
    if out is None:  # named after the repository, which only the draft knows
        out = Path(f"{drafted.spec['repo'].replace('/', '__')}.yaml")
        relative = os.path.relpath(clone.resolve(), out.resolve().parent)
        if not relative.startswith("../../.."):
            drafted = drafted.with_edit("source.clone", relative,
                                        "the clone this was drafted from, relative to this file")
    _write(out, drafted.to_yaml())
    envs = drafted.spec["environments"]
    click.echo(f"wrote {out}: {drafted.spec['repo']}, {len(envs)} environment"
               f"{'s' if len(envs) != 1 else ''} "
               f"({', '.join(_env_line(e) for e in envs)}), tests: {drafted.spec['tests']['command']}")
    if probe > 0:
        repaired = _probe(drafted, out, probe, budget_s, policies)
        _write(out, repaired.to_yaml())
        click.echo(f"wrote {out} (after probing)")
    click.echo(f"next: read the comments in {out}, then `swegc check {out}` and "
               f"`swegc compile {out} --out build/`")


def _check_policies(policies: tuple[str, ...], probe: int) -> None:
    """Every --policy names a policy, and is given with --probe (the only time it is asked)."""
    from swegc.runtime.policies import check_policy_name

    if policies and probe == 0:
        raise SwegcError("--policy is asked for an edit only while probing; add --probe N, or "
                         "leave --policy out")
    for name in policies:
        try:
            check_policy_name(name)
        except SwegcError as exc:
            raise SwegcError(f"--policy: {exc}") from None


def _check_out(out: Path) -> None:
    """--out names a file that can be written: not a folder, not under a file."""
    if out.is_dir():
        raise SwegcError(f"--out {out} is a folder; give the spec's file name, such as "
                         f"{out / 'owner__name.yaml'}")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SwegcError(f"--out {out}: {parent} is a file, not a folder; give a path "
                                 "in a folder")
            break


def _write(out: Path, text: str) -> None:
    """The spec written whole or not at all (an interrupt leaves the old file, if any)."""
    from swegc.atomic_files import atomic_write

    _check_out(out)
    try:
        atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise SwegcError(f"--out {out}: cannot write the spec ({exc.strerror}); give a path you "
                         "can write") from None


def _env_line(env: dict) -> str:
    versions = env.get("versions") or "all versions"
    return f"{versions}: Python {env['python']}"


def _probe(drafted, out: Path, probes: int, budget_s: float, policies: tuple[str, ...]):
    try:
        from swegc.compiler.draft.probe import probe_and_repair
    except ImportError as exc:
        if "probe" not in str(exc):
            raise
        raise SwegcError("--probe needs swegc.compiler.draft.probe, which this install does not "
                         "have yet; run without --probe (the spec is written) and compile it "
                         "with `swegc compile`") from None
    return probe_and_repair(drafted, out, probes=probes, budget_s=budget_s,
                            policies=list(policies), echo=click.echo)
