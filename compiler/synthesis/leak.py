"""A synthetic task's repository holds the bug and nothing that leads back to the fix.

An instance image's history ends at its base commit, which is before its fix; a synthetic task
starts from the *fixed* tree, so every commit of that history holds the fixed version of a file
the bug changes (unless the instance's own fix changed it), and ``git diff HEAD~1`` would show
the answer. So the task's repository is made anew, in two layers: a base shared by the
instance's tasks (``base_script``: the old ``.git`` removed, a new object store with every
file's blob but those a bug may change, the old ``info/exclude`` kept so that install outputs
stay out of ``git status``), then each task's own (``seal_script``: those files as the bug
leaves them, and one root commit of the whole bugged tree). No other commit, ref, tag, reflog
entry, stash or object exists in it, and a task's own layer stays small: its blobs, trees and
commit, not the repository's.

``leak_problems`` checks that in a running container of the task's image, for the blobs of the
changed files as the fix leaves them: ``git cat-file`` finds none of them, every object is one
HEAD's tree reaches, and no ref, reflog or stash exists beside HEAD's branch. The old objects
still sit in the source image's lower layers, which a container cannot read (the layer that
removes ``.git`` hides them); nor does anything else under ``/testbed`` hold them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Protocol

from swegc.runtime.sandbox import ExecResult

BRANCH = "main"
# Fixed identity and dates: the same bugged tree gives the same base_commit on every machine.
IDENTITY = {"GIT_AUTHOR_NAME": "swegc", "GIT_AUTHOR_EMAIL": "swegc@localhost",
            "GIT_COMMITTER_NAME": "swegc", "GIT_COMMITTER_EMAIL": "swegc@localhost",
            "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+00:00",
            "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+00:00"}
WORK = "/tmp/swegc-synth"


class Runs(Protocol):
    def execute(self, command: str, timeout_s: float = 600, cwd: str | None = None,
                env: dict[str, str] | None = None) -> ExecResult: ...


def base_script(held_back: str) -> str:
    """Bash run in /testbed of the fixed tree: the shared base of one instance's tasks.

    The old ``.git`` goes; a new repository with no commit gets the blobs of every file git
    tracked (and the test_patch's new ones) *except* the files listed NUL-separated in
    ``held_back`` (every file a bug of this instance may change, each NUL-terminated): their fixed versions must
    never be stored. Each task's own layer adds those files as its bug leaves them, and its one
    commit, which makes the base's blobs reachable."""
    return f"""set -euo pipefail
cd /testbed
git ls-files -z --cached --others --exclude-standard > {WORK}/files
cp .git/info/exclude {WORK}/exclude 2>/dev/null || : > {WORK}/exclude
rm -rf .git
git init -q -b {BRANCH} . 2>/dev/null || {{ git init -q . && git symbolic-ref HEAD refs/heads/{BRANCH}; }}
cp {WORK}/exclude .git/info/exclude
"$(command -v python3 || command -v python)" -c 'import sys; a = open(sys.argv[1], "rb").read().split(b"\\0"); h = set(open(sys.argv[2], "rb").read().split(b"\\0")); sys.stdout.buffer.write(b"\\0".join(p for p in a if p and p not in h))' {WORK}/files {shlex.quote(held_back)} > {WORK}/kept
xargs -0 -r git -c core.hooksPath=/dev/null add -f -- < {WORK}/kept
"""


def seal_script(message: str, held_back: str) -> str:
    """Bash run in /testbed of the bugged tree on the base: its one root commit, holding every
    file (the held-back ones as the bug leaves them); ``HEAD``'s sha is printed last."""
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in IDENTITY.items())
    return exports + f"""set -euo pipefail
cd /testbed
git -c core.hooksPath=/dev/null add -A
while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\\0' "$f"; fi; done < {shlex.quote(held_back)} | xargs -0 -r git -c core.hooksPath=/dev/null add -f --
git -c core.hooksPath=/dev/null -c commit.gpgsign=false commit -q --no-verify -m {shlex.quote(message)}
git reflog expire --expire=now --all
rm -rf .git/logs
test -z "$(git status --porcelain)"
git rev-parse HEAD
"""


def fixed_blobs_script(paths: Sequence[str]) -> str:
    """Prints ``git hash-object`` of each file as it is now (run on the fixed tree)."""
    quoted = " ".join(shlex.quote(p) for p in paths)
    return f"cd /testbed && for f in {quoted}; do if [ -f \"$f\" ]; then git hash-object \"$f\"; fi; done"


def leak_problems(box: Runs, fixed_blobs: Sequence[str]) -> list[str]:
    """What in the repository at /testbed of ``box`` could reveal the fix (empty: nothing)."""
    problems: list[str] = []

    def run(command: str) -> str:
        return box.execute(command, timeout_s=120, cwd="/testbed").output.strip()

    for blob in fixed_blobs:
        if box.execute(f"git cat-file -e {shlex.quote(blob)}", timeout_s=60,
                       cwd="/testbed").exit_code == 0:
            problems.append(f"the fixed version of a changed file (blob {blob[:12]}) is in the "
                            "object store")
    commits = run("git rev-list --all --reflog 2>/dev/null | sort -u").split()
    if len(commits) != 1:
        problems.append(f"{len(commits)} commits are reachable (one root commit expected)")
    refs = run("git for-each-ref --format='%(refname)'").split()
    if refs != [f"refs/heads/{BRANCH}"]:
        problems.append(f"refs besides refs/heads/{BRANCH}: {', '.join(refs) or 'none'}")
    if run("git stash list"):
        problems.append("a stash exists")
    if run("git reflog --all 2>/dev/null"):
        problems.append("the reflog has entries")
    every = set(run("git cat-file --batch-all-objects --batch-check='%(objectname)'").split())
    reachable = {line.split()[0] for line in
                 run("git rev-list --objects --all").splitlines() if line.strip()}
    if every - reachable:
        problems.append(f"{len(every - reachable)} object(s) that HEAD does not reach")
    return problems
