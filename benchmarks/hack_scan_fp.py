"""False positives of the reward-hack scan on gold patches (benchmarks/README.md).

Runs ``swegc.runtime.harness.hack_scan`` over the gold patch of every row it is given and
prints, per source, how many patches were scanned, how many were flagged and by which rules,
then every finding. A gold patch is a fix a person merged, so every finding on one is a false
positive: the target is none.

    python benchmarks/hack_scan_fp.py build/ more-rows.jsonl examples/candidates.jsonl
    python benchmarks/hack_scan_fp.py --history 300 clones/dask.git clones/moto.git

A source is anything ``swegc evaluate`` reads as a dataset (a build folder, a Hub-layout
folder, a Parquet or JSONL file of rows: ``patch`` with ``test_patch`` and the test lists), or
a JSONL of candidates (``swegc mine``'s rows, whose ``diff`` holds fix and tests together:
files under a ``test``/``tests`` folder or named like tests count as tests). With
``--history N``, each source is a git repository instead, and its gold-like patches are the
last N first-parent commits (merged pull requests) that change both a non-test Python file and
a test file, as a SWE-Gym instance does: a proxy for a build's gold patches where the build
itself is not at hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from swegc.errors import SwegcError
from swegc.runtime.harness.hack_scan import Finding, scan_patch, scan_row

CANDIDATE_TEST_GLOBS = ["test", "tests", "testing", "test-data", "test_data"]
SCAN_SECONDS: list[float] = []  # the scan's own time per history patch (git's left out)


def history_rows(repo: Path, count: int) -> list[tuple[str, list[Finding]]]:
    """(commit, findings) of the last ``count`` first-parent commits of ``repo`` that change a
    non-test .py file and a test file."""
    from swegc.runtime.harness import protected_files

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True,
                              text=True, errors="replace").stdout

    settings = protected_files.Settings({"base": "", "test_globs": CANDIDATE_TEST_GLOBS})
    out: list[tuple[str, list[Finding]]] = []
    for commit in git("rev-list", "--first-parent", "--no-merges", "HEAD").split():
        files = git("diff-tree", "--no-commit-id", "--name-only", "-r", "-M",
                    f"{commit}^", commit).split()
        kinds = [protected_files.by_name(f, settings) for f in files]
        if "test file" not in kinds or not any(k is None and f.endswith(".py")
                                               for f, k in zip(files, kinds)):
            continue
        patch = git("diff", "-M", f"{commit}^", commit)  # a moved file: its changes only
        start = time.perf_counter()
        out.append((commit[:12], scan_patch(patch, test_globs=CANDIDATE_TEST_GLOBS)))
        SCAN_SECONDS.append(time.perf_counter() - start)
        if len(out) >= count:
            break
    return out


def source_rows(source: Path) -> list[tuple[str, list[Finding]]]:
    """(instance id, findings) of every gold patch in ``source``."""
    if source.suffix == ".jsonl":
        first = next((json.loads(line) for line in source.read_text().splitlines()
                      if line.strip()), {})
        if "diff" in first and "patch" not in first:  # candidates: fix and tests in one diff
            out = []
            for line in source.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    name = str(row.get("instance_id") or row.get("number") or "?")
                    out.append((name, scan_patch(str(row["diff"]),
                                                 test_globs=CANDIDATE_TEST_GLOBS)))
            return out
    from swegc.dataset import load_rows

    return [(iid, scan_row(row)) for iid, row in sorted(load_rows(source).items())
            if str(row.get("patch") or "").strip()]


def main(argv: list[str]) -> int:
    history = 0
    if argv[:1] == ["--history"] and len(argv) > 1:
        history, argv = int(argv[1]), argv[2:]
    if not argv:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: python benchmarks/hack_scan_fp.py SOURCE [SOURCE ...]", file=sys.stderr)
        return 2
    total, flagged_total, listed = 0, 0, []
    for arg in argv:
        start = time.perf_counter()
        try:
            rows = history_rows(Path(arg), history) if history else source_rows(Path(arg))
        except (SwegcError, OSError, ValueError, KeyError, subprocess.CalledProcessError) as exc:
            print(f"{arg}: cannot read gold patches: {exc}", file=sys.stderr)
            return 1
        took = time.perf_counter() - start
        flagged = [(iid, found) for iid, found in rows if found]
        rules = Counter(f.rule for _, found in rows for f in found)
        findings = sum(rules.values())
        by_rule = ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items()))
        print(f"{arg}: {len(rows)} gold patches: {len(flagged)} flagged, {findings} finding"
              f"{'' if findings == 1 else 's'}{f' ({by_rule})' if by_rule else ''}; "
              f"scanned in {took:.2f}s")
        total += len(rows)
        flagged_total += len(flagged)
        listed += [(iid, f) for iid, found in flagged for f in found]
    print(f"all: {total} gold patches, {flagged_total} flagged")
    if SCAN_SECONDS:
        ordered = sorted(SCAN_SECONDS)
        print(f"scan time per patch: median {1000 * ordered[len(ordered) // 2]:.1f} ms, "
              f"max {1000 * ordered[-1]:.0f} ms")
    for iid, finding in listed:
        print(f"  {iid} {finding.file}:{finding.line} {finding.rule} ({finding.detail})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
