"""The long run: compile whole windows of SWE-Gym repositories' real history, resumably.

    python benchmarks/long_run.py prepare [--work DIR]      # clones and trial specs
    python benchmarks/long_run.py run [--work DIR] [--jobs N] [--max-disk SIZE] [REPO ...]
    python benchmarks/long_run.py table [--work DIR]        # Markdown for benchmarks/README.md

Every merged pull request in each window is a candidate, not a chosen sample: the window is a
date range (``source.filters.since/until``) over the clone's merge and squash commits. The
trial spec of each repository is its shipped spec in ``specs/`` with only what this machine
forces changed, written out so a reader can see it (``WORK/specs/*.yaml``):

- the clone is a local snapshot, with no issue texts (offline), so ``require_linked_issue`` is
  off and problem statements are the pull requests' own messages;
- the Pythons this machine cannot build (3.8, 3.10, 3.12: the official images need Docker Hub)
  become the nearest it can (3.9, 3.11); everything else is the shipped spec's.

``run`` compiles each repository into ``WORK/build/NAME`` one after the other; stop it at any
moment and run it again to go on (the compile resumes from its build store). Progress goes to
``WORK/build/NAME.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MIRRORS = Path(os.environ.get("SWEGC_MIRRORS", "/work/.mirror"))

# name -> (shipped spec, mirror folder, window start, window end): each window holds a few
# dozen merged pull requests inside one or two of the spec's environments.
WINDOWS: dict[str, tuple[str, str, str, str]] = {
    "hydra": ("facebookresearch__hydra.yaml", "facebookresearch+hydra", "2022-02-01", "2022-06-01"),
    "pydantic": ("pydantic__pydantic.yaml", "pydantic+pydantic", "2024-09-01", "2024-09-16"),
    "conan": ("conan-io__conan.yaml", "conan-io+conan", "2024-09-01", "2024-09-25"),
    "moto": ("getmoto__moto.yaml", "getmoto+moto", "2024-09-01", "2024-09-20"),
}
# Pythons this machine builds base images for (debootstrap): 3.9, 3.11, 3.13.
NEAREST_PYTHON = {"3.8": "3.9", "3.10": "3.11", "3.12": "3.11"}


def trial_spec(name: str, work: Path) -> dict:
    shipped, mirror, since, until = WINDOWS[name]
    spec = yaml.safe_load((ROOT / "specs" / shipped).read_text())
    spec["extends"] = str(ROOT / "specs" / spec["extends"])
    source = spec.setdefault("source", {})
    source["clone"] = str(work / "clones" / name)
    source["git"] = {k: v for k, v in (source.get("git") or {}).items() if k != "issues"}
    filters = source.setdefault("filters", {})
    filters.update({"since": since, "until": until, "require_linked_issue": False})
    for env in spec.get("environments", []):
        env["python"] = NEAREST_PYTHON.get(str(env["python"]), str(env["python"]))
    return spec


def prepare(work: Path, names: list[str]) -> None:
    (work / "specs").mkdir(parents=True, exist_ok=True)
    (work / "clones").mkdir(parents=True, exist_ok=True)
    for name in names:
        clone = work / "clones" / name
        if not clone.exists():
            mirror = MIRRORS / WINDOWS[name][1] / "repo"
            subprocess.run(["git", "clone", "-q", "--no-checkout", str(mirror), str(clone)], check=True)
        # The shipped spec may read several branches (conan: develop2, then develop for 1.x):
        # a fresh clone has only the default one locally.
        branches = (trial_spec(name, work)["source"]["git"] or {}).get("branch") or []
        for branch in [branches] if isinstance(branches, str) else branches:
            if subprocess.run(["git", "-C", str(clone), "rev-parse", "-q", "--verify",
                               f"refs/heads/{branch}"], capture_output=True).returncode:
                subprocess.run(["git", "-C", str(clone), "branch", "-q", branch,
                                f"origin/{branch}"], check=True)
        path = work / "specs" / f"{name}.yaml"
        header = (f"# Trial copy of specs/{WINDOWS[name][0]} written by benchmarks/long_run.py:\n"
                  "# the window, the local clone, no linked issues, the nearest Python built here.\n")
        path.write_text(header + yaml.safe_dump(trial_spec(name, work), sort_keys=False))
        print(f"{path}: window {WINDOWS[name][2]} .. {WINDOWS[name][3]}")


def run(work: Path, names: list[str], jobs: int, extra: list[str]) -> None:
    swegc = [sys.executable, "-m", "swegc.cli"]
    for name in names:
        out = work / "build" / name
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [*swegc, "compile", str(work / "specs" / f"{name}.yaml"), "--out", str(out),
                   "--jobs", str(jobs), *extra]
        print(" ".join(command), flush=True)
        with open(work / "build" / f"{name}.log", "a") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
        print(f"{name}: exit {code}", flush=True)


def table(work: Path, names: list[str]) -> None:
    swegc = [sys.executable, "-m", "swegc.cli"]
    for name in names:
        out = work / "build" / name
        if not out.exists():
            continue
        result = subprocess.run([*swegc, "status", str(out), "--json"], capture_output=True,
                                text=True)
        if result.returncode != 0:
            print(f"{name}: status failed: {result.stderr.strip()[-300:]}")
            continue
        status = json.loads(result.stdout)
        print(f"\n### {name} ({WINDOWS[name][2]} .. {WINDOWS[name][3]})\n")
        print("| stage | count | CPU s | wall s | bytes |\n|---|---:|---:|---:|---:|")
        for stage in status.get("funnel", []):
            print(f"| {stage['stage']} | {stage['count']} | {stage['cpu_s']:.0f} | "
                  f"{stage['wall_s']:.0f} | {stage['bytes']} |")
        for key in ("cpu_h_per_valid", "disk_per_valid"):
            if key in status:
                print(f"\n{key}: {status[key]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["prepare", "run", "table"])
    parser.add_argument("names", nargs="*", default=list(WINDOWS))
    parser.add_argument("--work", type=Path, default=Path("/work/longrun"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--max-disk", default=None)
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in WINDOWS]
    if unknown:
        raise SystemExit(f"unknown repositories {unknown}; known: {', '.join(WINDOWS)}")
    if args.action == "prepare":
        prepare(args.work, args.names)
    elif args.action == "run":
        run(args.work, args.names, args.jobs,
            ["--max-disk", args.max_disk] if args.max_disk else [])
    else:
        table(args.work, args.names)


if __name__ == "__main__":
    main()
