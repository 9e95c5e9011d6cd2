#!/usr/bin/env python3
"""Generate the example repository "example/calc" and its pull-request records.

The quickstart (`swegc compile examples/specs --out build/`) needs a repository with a known
history, and a reader needs to see why each pull request ends up valid or rejected. This script
builds that history with plain git, deterministically: fixed names, e-mails and dates, no
signing, no hooks, no user or system config, so the commit hashes are the same on every machine
and every run. It writes, next to itself (or into --out):

- calc.bundle: the repository (branch main, tags v1.0 and v1.1) as a git bundle;
- issues.jsonl: the issues the pull requests resolve ({number, title, body, ...});
- candidates.jsonl: one candidate record per pull request, as `swegc mine` would write them.

Each record's ``base_commit`` is where the pull request's branch forked from main (what GitHub
reports as the base) and its ``diff`` is the change as it landed on main (first parent of the
merge to the merge). For every pull request but #12 the two agree; #12's branch forked before
#10 changed the same line, so its diff does not apply at its base (see examples/README.md).

Only the Python standard library and git are needed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = "example/calc"
URL = f"https://github.com/{REPO}"
NAME, EMAIL = "Ada Example", "ada@example.com"
MAINTAINER, MAINTAINER_EMAIL = "Max Maintainer", "max@example.com"
START = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)
GIT_CONFIG = ["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.autocrlf=false",
              "-c", "core.hooksPath=/dev/null", "-c", "merge.conflictStyle=merge",
              "-c", "pack.threads=1", "-c", "user.useConfigOnly=false"]

# -- the files of the repository -----------------------------------------------------------------

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
dynamic = ["version"]
description = "A tiny calculator library (the swegc example repository)"
requires-python = ">=3.9"
dependencies = []

[tool.setuptools]
packages = ["calc"]

[tool.setuptools.dynamic]
version = {attr = "calc.__version__"}
'''

INIT = '''\
"""calc: a tiny calculator library (the swegc example repository)."""

__version__ = "{version}"

from calc.ops import add, div, mul, percent, sub
from calc.stats import mean, median, moving_average

__all__ = ["add", "div", "mean", "median", "moving_average", "mul", "percent", "sub"]
'''

OPS = '''\
"""Arithmetic on two numbers."""


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b


def div(a, b):
{div_doc}    return a / b


def percent(part, whole):
    """How many percent ``part`` is of ``whole``."""
    return {percent}
'''

DIV_DOC = '''\
    """``a`` divided by ``b``; dividing by zero raises ZeroDivisionError."""
'''

STATS = '''\
"""Statistics over a sequence of numbers."""
{imports}

def mean(values):
    values = list(values)
    if not values:
        raise ValueError("mean of an empty sequence")
    return sum(values) / len(values)


def median(values):
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of an empty sequence")
{median}


def moving_average(values, n):
    """Means of every window of ``n`` consecutive values."""
{moving}
'''

MEDIAN_BUGGY = "    return ordered[len(ordered) // 2]"
MEDIAN_FIXED = '''\
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2'''
MOVING_BUGGY = '''\
    values = list(values)
    return [sum(values[i:i + n]) / n for i in range(len(values) - n)]'''
MOVING_FIXED = "    return [sum(window) / n for window in windowed(values, n) if None not in window]"

TEST_OPS = '''\
import pytest

from calc import add, div, mul, percent, sub


def test_add():
    assert add(2, 3) == 5


def test_sub():
    assert sub(5, 3) == 2


def test_mul():
    assert mul(4, 3) == 12


def test_div():
    assert div(9, 3) == 3


def test_percent_of_whole_numbers():
    assert percent(50, 200) == 25
'''

TEST_SUB_NEGATIVE = '''

def test_sub_below_zero():
    assert sub(3, 5) == -2
'''

TEST_DIV_ZERO = '''

def test_div_by_zero_raises():
    with pytest.raises(ZeroDivisionError):
        div(1, 0)
'''

TEST_PERCENT_FRACTION = '''

def test_percent_of_a_fraction():
    assert percent(1, 8) == 12.5
'''

TEST_STATS = '''\
import pytest

from calc import mean, median, moving_average


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_mean_of_empty_raises():
    with pytest.raises(ValueError):
        mean([])


def test_median_of_odd_length():
    assert median([3, 1, 2]) == 2
'''

TEST_MEDIAN_EVEN = '''

def test_median_of_even_length():
    assert median([4, 1, 3, 2]) == 2.5
'''

TEST_MOVING = '''

def test_moving_average_includes_last_window():
    assert moving_average([1, 2, 3, 4], 2) == [1.5, 2.5, 3.5]
'''

TEST_CLOCK = '''\
"""Flaky on purpose: the swegc example shows how a flaky test is recorded and excluded.

The test keeps state in the temporary folder between runs (state leaking from one run to the
next is a classic cause of flakiness) and starts from a random bit, so its outcome flips from
one run to the next, in one container or in fresh ones.
"""

import os
import tempfile
from pathlib import Path


def test_timer_resolution():
    state = Path(tempfile.gettempdir()) / "calc-timer-resolution"
    previous = int(state.read_text()) if state.exists() else os.urandom(1)[0] % 2
    current = 1 - previous
    state.write_text(str(current))
    assert current == 1
'''

TEST_ROUNDING = '''\
from calc import percent


def test_percent_rounds_to_two_decimals():
    assert percent(1, 3) == 33.33
'''

README = '''\
# calc

A tiny calculator library: `add`, `sub`, `mul`, `div`, `percent`, `mean`, `median` and
`moving_average`. It is the example repository of swegc.
'''

README_STATS = '''
## calc.stats

`mean`, `median` and `moving_average(values, n)` take any iterable of numbers; `mean` and
`median` raise `ValueError` on an empty one.
'''

# -- issues and pull requests ------------------------------------------------------------------

ISSUES = [
    (1, "median of an even number of values is wrong",
     "`calc.median([4, 1, 3, 2])` returns 3, but the median of 1, 2, 3, 4 is 2.5: with an even "
     "number of values it should be the mean of the two middle ones."),
    (4, "What does div do when dividing by zero?",
     "The documentation of `calc.div` does not say what happens for `div(1, 0)`. Is it "
     "supposed to raise?"),
    (7, "moving_average drops the last window",
     "`calc.moving_average([1, 2, 3, 4], 2)` returns `[1.5, 2.5]`; the last window `(3, 4)` is "
     "missing, so the result should be `[1.5, 2.5, 3.5]`."),
    (9, "percent truncates fractions",
     "`calc.percent(1, 8)` returns 12 instead of 12.5: it uses integer division."),
    (11, "percent should round to two decimals",
     "`calc.percent(1, 3)` prints as 33.333333333333336; two decimals (33.33) would be easier "
     "to read."),
]


class History:
    """Builds the repository commit by commit with fixed identities and dates."""

    def __init__(self, root: Path):
        self.root = root
        self.step = 0
        self.dates: dict[str, str] = {}

    def _env(self, author: tuple[str, str] = (NAME, EMAIL)) -> dict[str, str]:
        when = (START + timedelta(hours=6 * self.step)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.root),
                "LC_ALL": "C", "TZ": "UTC", "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": author[0],
                "GIT_AUTHOR_EMAIL": author[1], "GIT_COMMITTER_NAME": MAINTAINER,
                "GIT_COMMITTER_EMAIL": MAINTAINER_EMAIL, "GIT_AUTHOR_DATE": when,
                "GIT_COMMITTER_DATE": when}

    def git(self, *args: str, check: bool = True, author: tuple[str, str] = (NAME, EMAIL)) -> str:
        proc = subprocess.run(["git", *GIT_CONFIG, *args], cwd=self.root, env=self._env(author),
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            sys.exit(f"git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")

    def append(self, name: str, text: str) -> None:
        path = self.root / name
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8", newline="\n")

    def commit(self, message: str, author: tuple[str, str] = (NAME, EMAIL)) -> str:
        self.step += 1
        self.git("add", "-A")
        self.git("commit", "-q", "--no-verify", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str) -> None:
        self.git("checkout", "-q", "-B", name, start)

    def merge(self, number: int, branch: str, title: str, body: str,
              resolved: dict[str, str] | None = None) -> str:
        """Merge ``branch`` into main as GitHub's merge button does (a --no-ff merge commit)."""
        self.step += 1
        self.git("checkout", "-q", "main")
        self.git("merge", "-q", "--no-ff", "--no-commit", branch, check=resolved is None)
        if resolved:
            self.write(resolved)
            self.git("add", "-A")
        # GitHub's merge message with "pull request title and description" chosen.
        message = f"Merge pull request #{number} from ada/{branch}\n\n{title}\n\n{body}"
        self.git("commit", "-q", "--no-verify", "-m", message, author=(MAINTAINER, MAINTAINER_EMAIL))
        self.git("branch", "-q", "-D", branch)
        return self.git("rev-parse", "HEAD")


def ops(percent: str = "part * 100 // whole", div_doc: str = "") -> str:
    return OPS.format(percent=percent, div_doc=div_doc)


def stats(median: str = MEDIAN_BUGGY, moving: str = MOVING_BUGGY, imports: str = "") -> str:
    return STATS.format(median=median, moving=moving, imports=imports)


def build(root: Path) -> list[dict]:
    """Create the history in ``root``; return each pull request's metadata (newest last)."""
    h = History(root)
    h.git("-c", "init.defaultBranch=main", "init", "-q", "--template=")
    h.write({"pyproject.toml": PYPROJECT, "README.md": README,
             "calc/__init__.py": INIT.format(version="1.0"), "calc/ops.py": ops(),
             "calc/stats.py": stats(), "tests/test_ops.py": TEST_OPS,
             "tests/test_stats.py": TEST_STATS})
    initial = h.commit("Initial version of calc", author=(MAINTAINER, MAINTAINER_EMAIL))
    h.git("tag", "v1.0", initial)
    prs: list[dict] = []

    def pr(number: int, branch: str, title: str, body: str, labels: list[str],
           commits: list[tuple[str, dict[str, str] | None, list[tuple[str, str]]]],
           start: str = "main", merge_now: bool = True) -> dict:
        h.branch(branch, start)
        fork = h.git("rev-parse", "HEAD")
        for message, files, appends in commits:
            h.write(files or {})
            for name, text in appends:
                h.append(name, text)
            h.commit(message)
        meta = {"number": number, "branch": branch, "title": title, "body": body,
                "labels": labels, "fork": fork}
        if merge_now:
            meta["merge"] = h.merge(number, branch, title, body)
        prs.append(meta)
        return meta

    # (a) a valid fix: the new test fails before and passes after; the others pass both times.
    pr(2, "fix-median", "Fix median of an even number of values",
       "Fixes #1\n\nmedian() now returns the mean of the two middle values.", ["bug"],
       [("Add a failing test for the median of an even number of values", None,
         [("tests/test_stats.py", TEST_MEDIAN_EVEN)]),
        ("Average the two middle values in median", {"calc/stats.py": stats(MEDIAN_FIXED)}, [])])
    # (f) tests only: nothing for an agent to fix.
    pr(3, "test-sub", "Test sub below zero", "More coverage for sub.", ["tests"],
       [("Test sub with a negative result", None, [("tests/test_ops.py", TEST_SUB_NEGATIVE)])])
    # (d) the new test passes before the change too: no FAIL_TO_PASS.
    pr(5, "div-zero", "Document and test division by zero",
       "Fixes #4\n\ndiv already raises ZeroDivisionError; say so and test it.", ["docs"],
       [("Document and test division by zero", {"calc/ops.py": ops(div_doc=DIV_DOC)},
         [("tests/test_ops.py", TEST_DIV_ZERO)])])
    # A release: no test changes.
    release = pr(6, "release-1.1", "Release 1.1", "Bump the version to 1.1.", ["release"],
                 [("Bump the version to 1.1", {"calc/__init__.py": INIT.format(version="1.1")},
                   [])])
    h.git("tag", "v1.1", release["merge"])
    # (b) the fix needs more-itertools from PyPI, which the 1.1 environment installs.
    with_dep = PYPROJECT.replace("dependencies = []", 'dependencies = ["more-itertools"]')
    pr(8, "moving-average", "Fix moving_average: include the last window",
       "Fixes #7\n\nUse more_itertools.windowed, which yields every window.", ["bug"],
       [("Use more_itertools.windowed in moving_average",
         {"calc/stats.py": stats(MEDIAN_FIXED, MOVING_FIXED,
                                 "\nfrom more_itertools import windowed\n"),
          "pyproject.toml": with_dep},
         [("tests/test_stats.py", TEST_MOVING)])])
    after_8 = h.git("rev-parse", "main")
    # (c) a real fix that also adds a flaky test; and #12 forks from the same commit as #10.
    pr(10, "percent-fraction", "Fix percent of a fraction",
       "Fixes #9\n\nUse true division. Also adds a test of the timer resolution.", ["bug"],
       [("Use true division in percent", {"calc/ops.py": ops("part * 100 / whole", DIV_DOC),
                                           "tests/test_clock.py": TEST_CLOCK},
         [("tests/test_ops.py", TEST_PERCENT_FRACTION)])], merge_now=False)
    rounding = pr(12, "percent-rounding", "Round percent to two decimals", "Fixes #11", ["bug"],
                  [("Round percent to two decimals",
                    {"calc/ops.py": ops("round(part * 100 // whole, 2)", DIV_DOC),
                     "tests/test_rounding.py": TEST_ROUNDING}, [])],
                  start=after_8, merge_now=False)
    prs[-2]["merge"] = h.merge(10, "percent-fraction", prs[-2]["title"], prs[-2]["body"])
    # (e) merged after #10 changed the same line: the conflict is resolved in the merge commit,
    # so the change as it landed on main does not apply where the branch forked.
    rounding["merge"] = h.merge(12, "percent-rounding", rounding["title"], rounding["body"],
                                resolved={"calc/ops.py": ops("round(part * 100 / whole, 2)",
                                                             DIV_DOC)})
    # A squash-merged pull request (subject ends with "(#13)") that changes only docs.
    h.append("README.md", README_STATS)
    squash = h.commit("Document the stats module (#13)\n\nA section on calc.stats in the README.",
                      author=(NAME, EMAIL))
    prs.append({"number": 13, "branch": None, "title": "Document the stats module",
                "body": "A section on calc.stats in the README.", "labels": ["docs"],
                "fork": h.git("rev-parse", f"{squash}^"), "merge": squash})
    return prs


# -- records ----------------------------------------------------------------------------------

def _iso(h: History, fmt: str, rev: str) -> str:
    return h.git("log", "-1", "--date=format-local:%Y-%m-%dT%H:%M:%SZ", f"--format={fmt}", rev)


def records(root: Path, prs: list[dict]) -> tuple[list[dict], list[dict]]:
    """The issues and the candidate records, as GitHub and `swegc mine` would give them."""
    h = History(root)
    issue_dates = {}
    for meta in prs:
        created = _iso(h, "%ad", f"{meta['fork']}..{meta['merge']}^2" if meta["branch"]
                       else meta["merge"]).splitlines()
        issue_dates[meta["number"]] = min(created)
    issues = []
    for number, title, body in ISSUES:
        opened = (START + timedelta(hours=6 * (number - 1) - 3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        issues.append({"number": number, "title": title, "body": body,
                       "url": f"{URL}/issues/{number}", "created_at": opened})
    by_number = {i["number"]: i for i in issues}
    candidates = []
    for meta in prs:
        first_parent = h.git("rev-parse", f"{meta['merge']}^1")
        diff = subprocess.run(["git", *GIT_CONFIG, "diff", "--binary", "--full-index", "-M",
                               "--no-color", "--no-ext-diff", "--src-prefix=a/",
                               "--dst-prefix=b/", first_parent, meta["merge"]], cwd=root,
                              env=h._env(), capture_output=True, check=True).stdout.decode()
        if meta["branch"]:
            log = h.git("log", "--reverse", "--format=%B%x00", f"{first_parent}..{meta['merge']}^2")
            messages = [m.strip("\n") for m in log.split("\x00") if m.strip()]
        else:
            messages = [h.git("log", "-1", "--format=%B", meta["merge"])]
        linked = [int(word[1:]) for word in meta["body"].split() if word.startswith("#")]
        candidates.append({
            "schema_version": 1, "repo": REPO, "number": meta["number"],
            "base_commit": meta["fork"], "title": meta["title"], "body": meta["body"],
            "merge_commit": meta["merge"], "diff": diff,
            "created_at": issue_dates[meta["number"]],
            "merged_at": _iso(h, "%cd", meta["merge"]), "base_branch": "main",
            "labels": meta["labels"], "issues": [by_number[n] for n in linked],
            "hints_text": "", "commit_messages": messages, "source": "jsonl"})
    return issues, sorted(candidates, key=lambda c: c["number"])


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8", newline="\n")


def _heads(root: Path, bundle: Path) -> str | None:
    if not bundle.is_file():
        return None
    proc = subprocess.run(["git", "bundle", "list-heads", str(bundle)], cwd=root,
                          capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder for calc.bundle, issues.jsonl, candidates.jsonl")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calc-") as tmp:
        root = Path(tmp) / "calc"
        root.mkdir()
        prs = build(root)
        issues, candidates = records(root, prs)
        bundle = out / "calc.bundle"
        fresh = Path(tmp) / "calc.bundle"
        History(root).git("bundle", "create", "-q", str(fresh), "HEAD", "main", "v1.0", "v1.1")
        # Pack bytes may differ between git versions; keep the old file when the refs agree.
        if _heads(root, bundle) != _heads(root, fresh):
            fresh.replace(bundle)
    _write_jsonl(out / "issues.jsonl", issues)
    _write_jsonl(out / "candidates.jsonl", candidates)
    print(f"wrote {bundle} ({len(candidates)} pull requests), {out / 'issues.jsonl'}, "
          f"{out / 'candidates.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
