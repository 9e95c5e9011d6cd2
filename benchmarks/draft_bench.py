"""Drafted specs against the hand-written ones, for SWE-Gym's repositories (static: nothing built).

For each shipped spec in specs/ whose repository has a local snapshot (``--mirrors``: folders
``<owner>+<name>/repo``, bare clones), `swegc draft` reads the snapshot; then the same pull
requests (merges and squashes sampled evenly over the history) are given a version by each spec's
own version strategy and an environment by each spec's ranges, and the two environments are
compared: the Python, the install (requirement files, extras, editable or not), the Debian
packages, and the test command. Compiling the drafts is ``--probe``'s job (``draft.probe``).

    python benchmarks/draft_bench.py [--mirrors /work/.mirror] [--sample 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Well-known pytest projects nobody wrote a spec for here (fetched snapshots).
UNSEEN = ("pallets/click", "psf/requests", "Textualize/rich", "python-attrs/attrs",
          "pallets/itsdangerous")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--sample", type=int, default=40, help="pull requests per repository")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/draft.json")
    parser.add_argument("--unseen", nargs="*", default=list(UNSEEN), metavar="OWNER/NAME",
                        help="repositories with no spec here, drafted and described too")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec_path in sorted((ROOT / "specs").glob("*.yaml")):
            if spec_path.name.startswith("_") or "marshmallow" in spec_path.name:
                continue
            rows.append(compare(spec_path, args.mirrors, Path(tmp), args.sample))
            print(json.dumps(rows[-1]), file=sys.stderr)
        unseen = [describe(repo, args.mirrors, Path(tmp)) for repo in args.unseen]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"swegym": rows, "unseen": unseen}, indent=1) + "\n")
    print(table(rows))
    print()
    print(unseen_table(unseen))


def describe(repo: str, mirrors: Path, tmp: Path) -> dict[str, Any]:
    """A repository with no hand-written spec: what the draft says, and that it loads."""
    from swegc.compiler.draft.reading import draft_spec
    from swegc.compiler.spec.loader import load_specs

    clone = mirrors / repo.replace("/", "+") / "repo"
    if not clone.is_dir():
        return {"repo": repo, "missing": f"no snapshot at {clone}"}
    started = time.monotonic()
    drafted = draft_spec(clone, repo=repo)
    elapsed = round(time.monotonic() - started, 1)
    out = tmp / f"{repo.replace('/', '__')}.yaml"
    out.write_text(drafted.to_yaml())
    [spec] = load_specs([out])
    return {"repo": repo, "draft_s": elapsed, "envs": len(spec.environments),
            "pythons": sorted({e.python for e in spec.environments}, key=_pv),
            "version": spec.version.strategy + (f" {spec.version.path}" if spec.version.path
                                                else ""),
            "runner": spec.tests.parser,
            "newest_install": list(spec.environments[-1].install)}


def unseen_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| repository | draft s | envs | Pythons | version source | runner | newest range's "
             "install |", "|---" * 7 + "|"]
    for row in rows:
        if "missing" in row:
            lines.append(f"| {row['repo']} | – | – | – | {row['missing']} | – | – |")
            continue
        lines.append(f"| {row['repo']} | {row['draft_s']} | {row['envs']} | "
                     f"{', '.join(row['pythons'])} | {row['version']} | {row['runner']} | "
                     f"`{'; '.join(row['newest_install'])}` |")
    return "\n".join(lines)


def compare(spec_path: Path, mirrors: Path, tmp: Path, sample: int) -> dict[str, Any]:
    from swegc.compiler.draft.reading import draft_spec
    from swegc.compiler.spec.loader import load_specs

    [hand] = load_specs([spec_path])
    clone = mirrors / hand.repo.replace("/", "+") / "repo"
    row: dict[str, Any] = {"repo": hand.repo, "hand_envs": len(hand.environments)}
    if not clone.is_dir():
        return {**row, "missing": f"no snapshot at {clone}"}
    started = time.monotonic()
    drafted = draft_spec(clone, repo=hand.repo, out_name=str(tmp / spec_path.name))
    row["draft_s"] = round(time.monotonic() - started, 1)
    out = tmp / spec_path.name
    out.write_text(drafted.to_yaml())
    [draft] = load_specs([out])  # the drafted spec passes `swegc check`'s loading
    row.update(drafted_envs=len(draft.environments),
               version=f"{draft.version.strategy}" + (f" {draft.version.path}"
                                                      if draft.version.path else ""),
               version_same=(draft.version.strategy, draft.version.path)
               == (hand.version.strategy, hand.version.path),
               command_same=_runner(draft.tests.command) == _runner(hand.tests.command),
               parser=draft.tests.parser,
               hand_pythons=sorted({e.python for e in hand.environments}, key=_pv),
               drafted_pythons=sorted({e.python for e in draft.environments}, key=_pv))
    # The same draft with official images for the Pythons this machine does not build: what
    # a machine that reaches Docker Hub gets, as SWE-Gym's Pythons are.
    official = draft_spec(clone, repo=hand.repo, out_name=str(out), official_pythons=True)
    out.write_text(official.to_yaml())
    [official_spec] = load_specs([out])
    row.update(_per_pull_request(hand, draft, official_spec, clone, sample))
    return row


def _per_pull_request(hand: Any, draft: Any, official: Any, clone: Path,
                      sample: int) -> dict[str, Any]:
    """Both specs' environments for the same sampled pull requests, compared key by key."""
    from swegc.compiler.draft.history import History
    from swegc.compiler.versioning import VersionError, detect_version
    from swegc.git import GitRepo

    repo = GitRepo.open(clone)
    history = History(clone)
    pulls = [c for c in history.first_parent() if c.pull is not None]
    since = hand.source.filters.since
    pulls = [c for c in pulls if not since or c.date >= since[:10]]
    chosen = [pulls[int(i * len(pulls) / sample)] for i in range(min(sample, len(pulls)))]
    counts = {"compared": 0, "python_same": 0, "python_near": 0, "python_official": 0,
              "install_files": 0,
              "extras_same": 0, "apt_covered": 0}
    for commit in chosen:
        base = repo.parents(commit.sha)[0]
        try:
            pair = [s.environment_for(detect_version(s, repo, base)) for s in (hand, draft)]
        except VersionError:
            continue
        if None in pair:
            continue
        mine, theirs = pair[1], pair[0]
        counts["compared"] += 1
        counts["python_same"] += mine.python == theirs.python
        counts["python_near"] += abs(_pv(mine.python)[1] - _pv(theirs.python)[1]) <= 1
        with_images = official.environment_for(detect_version(official, repo, base))
        counts["python_official"] += with_images is not None and with_images.python == theirs.python
        counts["install_files"] += _files(theirs) <= _reachable(history, base, _files(mine))
        counts["extras_same"] += _extras(theirs) <= _extras(mine)
        counts["apt_covered"] += set(theirs.apt) - {"build-essential"} <= set(mine.apt)
    history.close()
    return counts


def _reachable(history: Any, commit: str, files: set[str]) -> set[str]:
    """The files and every file they include with ``-r`` (at ``commit``)."""
    found, todo = set(), list(files)
    while todo:
        path = todo.pop()
        if path in found:
            continue
        found.add(path)
        folder = path.rpartition("/")[0]
        for line in (history.read(commit, path) or "").splitlines():
            match = re.match(r"^\s*(?:-r|--requirement)\s*(\S+)", line)
            if match:
                todo.append(f"{folder}/{match.group(1)}" if folder else match.group(1))
    return found


def _files(env: Any) -> set[str]:
    """Requirement files an install reads (-r FILE, or a file it filters into /tmp first)."""
    return {m for line in env.install
            for m in re.findall(r"(?:(?<=\s)-r\s*|(?<=\s))([\w./-]*requirements[\w./-]*\.txt)", line)
            if not m.startswith("/tmp/")}


def _extras(env: Any) -> set[str]:
    return {e.strip() for line in env.install for group in re.findall(r"\.\[([^\]]+)\]", line)
            for e in group.split(",")}


def _runner(command: str) -> str:
    return command.split()[0] if command else ""


def _pv(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| repository | draft s | envs hand / drafted | version source | runner | Pythons hand "
            "-> drafted | PRs compared | same Python | within one minor | same Python, --official-pythons | hand's requirement "
            "files read (with -r includes) | hand's extras kept | hand's apt kept |")
    lines = [head, "|---" * 13 + "|"]
    for row in rows:
        if "missing" in row:
            lines.append(f"| {row['repo']} | – | {row['hand_envs']} / – | no snapshot here |"
                         + " – |" * 9)
            continue
        n = row["compared"] or 1

        def share(key: str) -> str:
            return f"{row[key]}/{row['compared']} ({row[key] / n:.0%})"

        lines.append(
            f"| {row['repo']} | {row['draft_s']} | {row['hand_envs']} / {row['drafted_envs']} | "
            f"{row['version']}{'' if row['version_same'] else ' (hand differs)'} | "
            f"{row['parser']}{'' if row['command_same'] else ' (hand differs)'} | "
            f"{', '.join(row['hand_pythons'])} -> {', '.join(row['drafted_pythons'])} | "
            f"{row['compared']} | {share('python_same')} | {share('python_near')} | "
            f"{share('python_official')} | "
            f"{share('install_files')} | {share('extras_same')} | {share('apt_covered')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
