"""Pull-request reverts, combinations of bugs and policy rewrites, on generated repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from unidiff import PatchSet

from swegc.compiler.synthesis.bugs import BugCandidate
from swegc.compiler.synthesis.combine import candidate_id, combined_candidates
from swegc.compiler.synthesis.mutations import mutation_candidates
from swegc.compiler.synthesis.reverts import revert_candidates
from swegc.compiler.synthesis.rewrite import policy_rewrite_candidates
from swegc.compiler.synthesis.targets import functions_in
from swegc.records import LinkedIssue
from swegc.runtime.policies.scripted import ScriptedPolicy, call

ROOT = Path(__file__).resolve().parents[1]

CORE_V1 = '''\
def area(w, h):
    return w * h


def clamp(x, low, high):
    return max(low, x)
'''
CORE_V2 = CORE_V1.replace("    return max(low, x)\n", "    return min(high, max(low, x))\n")
TESTS_V1 = "from pkg.core import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n"
TESTS_V2 = TESTS_V1 + "\n\ndef test_clamp():\n    assert clamp(9, 0, 5) == 5\n"


def merge_pull_request(repo, number: int, branch: str, title: str, body: str,
                       files: dict[str, str | None]) -> str:
    """A pull request merged with GitHub's merge commit message."""
    repo.git("checkout", "-q", "-b", branch)
    repo.commit(f"{title} (work)", files)
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", branch, "-m",
             f"Merge pull request #{number} from dev/{branch}\n\n{title}\n\n{body}")
    return repo.git("rev-parse", "HEAD")


@pytest.fixture
def history(git_builder):
    repo = git_builder
    repo.commit("Initial", {"pkg/__init__.py": "", "pkg/core.py": CORE_V1,
                            "tests/test_core.py": TESTS_V1, "README.md": "core\n"})
    merge_pull_request(repo, 2, "clamp-high", "Clamp to the upper bound too", "Fixes #1.",
                       {"pkg/core.py": CORE_V2, "tests/test_core.py": TESTS_V2})
    repo.commit("Say more in the README (#3)", {"README.md": "core maths\n"})  # no tests
    # #4 changes area and tests it; #6 then rewrites the same line: #4 cannot be undone alone
    merge_pull_request(repo, 4, "area-int", "Area in whole units", "",
                       {"pkg/core.py": CORE_V2.replace("w * h", "int(w * h)"),
                        "tests/test_area.py": "def test_int(): pass\n"})
    repo.commit("Round the area (#6)", {"pkg/core.py": CORE_V2.replace("w * h", "round(w * h)"),
                                        "tests/test_round.py": "def test_round(): pass\n"})
    # #7 comes with a test file that a later commit deletes
    merge_pull_request(repo, 7, "extra", "Add a helper", "",
                       {"pkg/extra.py": "def one():\n    return 1\n",
                        "tests/test_extra.py": "def test_one(): pass\n"})
    repo.commit("Drop the helper's test", {"tests/test_extra.py": None})
    return repo


def _apply(cwd: Path, patch: str, *args: str) -> None:
    subprocess.run(["git", "apply", *args, "-"], cwd=cwd, input=patch, text=True, check=True,
                   capture_output=True)


def test_a_revert_undoes_the_code_of_a_merged_pull_request_whose_tests_remain(history):
    before_objects = history.git("count-objects", "-v")
    issues = {1: LinkedIssue(1, "clamp ignores high", "clamp(9, 0, 5) gives 9")}
    found = revert_candidates(history.path, "HEAD", test_globs=["tests/**"], limit=10,
                              repo="acme/core", issues=issues)
    assert [c.extra["pull_number"] for c in found] == [6, 2]
    six, two = found
    assert two.strategy == "pr_revert" and two.origin == "pr_revert"
    assert two.files == ("pkg/core.py",) and two.functions == ("pkg/core.py:clamp",)
    assert two.extra["issue_numbers"] == [1]
    assert two.extra["issues"] == [{"number": 1, "title": "clamp ignores high",
                                    "body": "clamp(9, 0, 5) gives 9"}]
    assert two.extra["test_files"] == ["tests/test_core.py"]
    assert "-    return min(high, max(low, x))\n+    return max(low, x)\n" in two.bug_patch
    assert six.functions == ("pkg/core.py:area",)
    # the bug applies at the commit and the fix gives the commit's bytes back
    original = (history.path / "pkg/core.py").read_bytes()
    _apply(history.path, two.bug_patch)
    assert "min(high" not in (history.path / "pkg/core.py").read_text()
    _apply(history.path, two.fix_patch)
    assert (history.path / "pkg/core.py").read_bytes() == original
    # the clone was not touched: no checkout, no new object
    assert history.git("status", "--porcelain") == ""
    assert history.git("count-objects", "-v") == before_objects


def test_reverts_on_top_of_a_fix_are_made_for_the_fixed_tree(history):
    """An instance's image holds its base commit with the gold patch applied: reverts are made
    for that tree, and one that the fix's change conflicts with is not made at all."""
    core = history.path / "pkg/core.py"
    base_text = core.read_text()
    core.write_text(base_text.replace("return min(high, max(low, x))",
                                      "return min(high, max(low, x))  # bounded"))
    gold = history.git("diff")
    fixed_text = core.read_text()
    bare = revert_candidates(history.path, "HEAD", test_globs=["tests/**"], limit=10)
    on_fix = revert_candidates(history.path, "HEAD", test_globs=["tests/**"], limit=10,
                               on_top=gold)
    assert [c.extra["pull_number"] for c in bare] == [6, 2]
    assert [c.extra["pull_number"] for c in on_fix] == [6]  # #2's line is the fix's now
    with pytest.raises(subprocess.CalledProcessError):
        _apply(history.path, bare[1].bug_patch, "--check")
    (six,) = on_fix
    fixed_blob = history.git("hash-object", "pkg/core.py")
    assert f"index {fixed_blob}.." in six.bug_patch  # made from the fixed file's bytes
    _apply(history.path, six.bug_patch)
    _apply(history.path, six.fix_patch)
    assert core.read_text() == fixed_text
    core.write_text(base_text)
    stale = gold.replace("-    return min(high", "-    return min(HIGH")
    assert revert_candidates(history.path, "HEAD", test_globs=["tests/**"], limit=10,
                             on_top=stale) == []  # a fix that does not apply: no tree to undo


def test_a_pull_request_merged_under_its_own_title_is_reverted_too(history):
    # click's merges read "<title> (#N)": the merge queue's, not "Merge pull request #N".
    history.git("checkout", "-q", "-b", "volume")
    history.commit("Volume (work)", {
        "pkg/volume.py": "def volume(w, h, d):\n    return w * h * d\n",
        "tests/test_volume.py": "def test_volume(): pass\n"})
    history.git("checkout", "-q", "main")
    history.git("merge", "-q", "--no-ff", "volume", "-m", "Add volume (#9)\n\nFixes #8.")
    found = revert_candidates(history.path, "HEAD", test_globs=["tests/**"], limit=10,
                              repo="acme/core")
    assert [c.extra["pull_number"] for c in found] == [9, 6, 2]
    assert found[0].extra["title"] == "Add volume" and found[0].extra["issue_numbers"] == [8]
    assert found[0].files == ("pkg/volume.py",)


def test_reverts_keep_to_the_limit_and_the_date(history):
    assert len(revert_candidates(history.path, "HEAD", test_globs=["tests/**"], limit=1)) == 1
    assert revert_candidates(history.path, "HEAD", test_globs=["tests/**"], limit=5,
                             since="2030-01-01") == []


def test_reverts_at_an_earlier_commit_see_only_the_history_before_it(history):
    first_merge = history.git("rev-parse", "HEAD~5")
    found = revert_candidates(history.path, first_merge, test_globs=["tests/**"], limit=10)
    assert [c.extra["pull_number"] for c in found] == [2]


def test_the_example_history_gives_reverts_of_its_fixes(tmp_path):
    clone = tmp_path / "calc"
    subprocess.run(["git", "clone", "-q", str(ROOT / "examples" / "calc.bundle"), str(clone)],
                   check=True)
    found = revert_candidates(clone, "HEAD", test_globs=["tests/**"], limit=10,
                              repo="example/calc")
    numbers = [c.extra["pull_number"] for c in found]
    # #10's line was rewritten by #12; #3, #6 and #13 lack code or tests; #5 only documents
    assert numbers == [12, 8, 2]
    for c in found:
        _apply(clone, c.bug_patch, "--check")


# -- combinations -----------------------------------------------------------------------------

MODULE = '''\
def sign(x):
    if x > 0:
        return 1
    elif x < 0:
        return -1
    else:
        return 0


def total(items):
    result = 0
    for item in items:
        result += item
    return result


class Box:
    def __init__(self, items):
        self.items = list(items)

    def largest(self):
        if not self.items:
            return None
        return max(self.items)
'''


@pytest.fixture
def module_repo(git_builder):
    git_builder.commit("a module", {"pkg/mod.py": MODULE,
                                    "pkg/other.py": "def one():\n    return 1\n"})
    return git_builder


def _mutants(root: Path) -> list[BugCandidate]:
    targets = [t for p in ("pkg/mod.py", "pkg/other.py")
               for t in functions_in(p, (root / p).read_text())]
    return mutation_candidates(root, targets, seed=0, limit=60)


def _without_context(repo, patch: str) -> tuple[int, str]:
    """``patch`` as a diff with no context lines, and the first line it changes."""
    _apply(repo.path, patch)
    bare = repo.git("diff", "-U0") + "\n"
    repo.git("checkout", "-q", ".")
    return int(bare.split("@@ -", 1)[1].split(",")[0].split(" ")[0]), bare


def _as_parts_would(repo, parts: list[BugCandidate]) -> dict[str, bytes]:
    """The files after each part's change, made one after another from the bottom of the file
    up (with no context, so that neighbouring changes do not stand in each other's way)."""
    for _, bare in sorted((_without_context(repo, p.bug_patch) for p in parts), reverse=True):
        _apply(repo.path, bare, "--unidiff-zero")
    files = {p: (repo.path / p).read_bytes() for p in ("pkg/mod.py", "pkg/other.py")}
    repo.git("checkout", "-q", ".")
    return files


@pytest.mark.parametrize("with_root", [True, False])
def test_a_combination_makes_each_of_its_parts_changes(module_repo, with_root):
    root = module_repo.path
    originals = {p: (root / p).read_bytes() for p in ("pkg/mod.py", "pkg/other.py")}
    parts_by_id = {candidate_id(c): c for c in _mutants(root)}
    combined = combined_candidates(list(parts_by_id.values()), seed=1, limit=12,
                                   root=root if with_root else None)
    assert len(combined) == 12
    assert {len(c.extra["parts"]) for c in combined} == {2, 3}
    shifting = 0
    for c in combined:
        parts = [parts_by_id[p["id"]] for p in c.extra["parts"]]
        assert c.strategy == "combined" and c.origin == "combined"
        functions = [f for p in parts for f in p.functions]
        assert len(set(functions)) == len(functions) and c.functions == tuple(functions)
        expected = _as_parts_would(module_repo, parts)
        _apply(root, c.bug_patch)
        assert {p: (root / p).read_bytes() for p in originals} == expected
        _apply(root, c.fix_patch)
        assert {p: (root / p).read_bytes() for p in originals} == originals
        shifting += any(p.kind in ("drop_branch", "drop_statement") for p in parts)
    assert shifting  # some parts change the line count, moving the hunks after them


def test_bugs_in_neighbouring_functions_become_one_hunk(git_builder):
    source = "def f(x):\n    return x + 1\n\n\ndef g(y):\n    return y * 2"
    git_builder.commit("two functions", {"m.py": source})
    root = git_builder.path
    mutants = mutation_candidates(root, functions_in("m.py", source), seed=0, limit=50)
    assert combined_candidates(mutants, seed=0, limit=5) == []  # their hunks share context
    combined = combined_candidates(mutants, seed=0, limit=5, root=root)
    assert len(combined) == 5
    for c in combined:
        (patched,) = PatchSet(c.bug_patch)
        assert len(patched) == 1 and patched.removed == 2
        _apply(root, c.bug_patch)
        _apply(root, c.fix_patch)
        assert (root / "m.py").read_text() == source


def test_bugs_in_the_same_function_or_overlapping_are_never_combined(module_repo):
    root = module_repo.path
    sign = [c for c in _mutants(root) if c.functions == ("pkg/mod.py:sign",)]
    assert len(sign) > 3
    assert combined_candidates(sign, seed=0, limit=10) == []


def test_combinations_are_the_same_for_the_same_seed(module_repo):
    mutants = _mutants(module_repo.path)
    first = combined_candidates(mutants, seed=5, limit=8)
    assert [c.bug_patch for c in first] == [c.bug_patch for c in combined_candidates(
        mutants, seed=5, limit=8)]
    assert len({c.bug_patch for c in first}) == 8


# -- policy rewrites --------------------------------------------------------------------------

LARGEST_BUGGY = '''\
def largest(self):
    if not self.items:
        return None
    return min(self.items)
'''


def _rewrite(root: Path, *replies, qualname: str = "Box.largest", **kwargs):
    targets = [t for t in functions_in("pkg/mod.py", (root / "pkg/mod.py").read_text())
               if t.qualname == qualname]
    policy = ScriptedPolicy(list(replies), model="scripted-rewriter")
    return policy_rewrite_candidates(root, targets, policy, seed=0, limit=1, **kwargs), policy


def test_a_policy_rewrite_replaces_the_function_in_place(module_repo):
    root = module_repo.path
    reply = call("replace_function", source=LARGEST_BUGGY, explanation="min, not max")
    (candidate,), _ = _rewrite(root, reply)
    assert candidate.strategy == "policy" and candidate.origin == "policy"
    assert candidate.functions == ("pkg/mod.py:Box.largest",)
    # indented as a method again, and nothing else in the file moved
    change = "-        return max(self.items)\n+        return min(self.items)\n"
    assert change in candidate.bug_patch
    (patched,) = PatchSet(candidate.bug_patch)
    assert (patched.added, patched.removed) == (1, 1)
    assert candidate.extra["model"] == "scripted-rewriter"
    assert candidate.extra["explanation"] == "min, not max"
    assert "def largest(self):" in candidate.extra["prompt"][-1]["content"]
    original = (root / "pkg/mod.py").read_bytes()
    _apply(root, candidate.bug_patch)
    _apply(root, candidate.fix_patch)
    assert (root / "pkg/mod.py").read_bytes() == original


def test_a_rewrite_given_as_a_fenced_block_is_read_too(module_repo):
    reply = {"role": "assistant", "content": f"Sure:\n```python\n{LARGEST_BUGGY}```\n"}
    (candidate,), _ = _rewrite(module_repo.path, reply)
    assert "+        return min(self.items)\n" in candidate.bug_patch


@pytest.mark.parametrize("source", [
    "def largest(self):\n    return max(self.items\n",  # does not parse
    "def biggest(self):\n    return min(self.items)\n",  # another name
    "def largest(self):\n    return 1\n\n\ndef helper():\n    pass\n",  # more than the function
    "x = 1\ndef largest(self):\n    return 1\n",  # a statement outside it
    "def largest(self):\n    if not self.items:\n        return None\n"
    "    return max(  self.items )\n",  # the same code, spaced otherwise
])
def test_a_rewrite_that_is_not_one_changed_function_is_refused(module_repo, source):
    found, policy = _rewrite(module_repo.path, call("replace_function", source=source))
    assert found == [] and policy.calls == 1


def test_rewrites_stop_at_the_call_budget_and_when_the_policy_fails(module_repo):
    root = module_repo.path
    targets = functions_in("pkg/mod.py", (root / "pkg/mod.py").read_text())
    bad = call("replace_function", source="def nope():\n    pass\n")
    policy = ScriptedPolicy([bad] * 10)
    assert policy_rewrite_candidates(root, targets, policy, seed=0, limit=2, max_calls=3) == []
    assert policy.calls == 3
    short = ScriptedPolicy([bad])  # runs out of script on the second call: PolicyError
    assert policy_rewrite_candidates(root, targets, short, seed=0, limit=2) == []


def test_the_openai_policy_rewrites_through_an_openai_compatible_server(module_repo):
    from swegc.runtime.policies import PolicyOptions
    from swegc.runtime.policies.openai_policy import OpenAIPolicy
    from swegc.testing.openai_server import OpenAIServer, scripted_backend

    root = module_repo.path
    targets = [t for t in functions_in("pkg/mod.py", (root / "pkg/mod.py").read_text())
               if t.qualname == "Box.largest"]
    reply = call("replace_function", source=LARGEST_BUGGY)
    with OpenAIServer(scripted_backend([reply])) as server:
        policy = OpenAIPolicy(PolicyOptions(model="tiny", base_url=server.url, max_retries=0))
        (candidate,) = policy_rewrite_candidates(root, targets, policy, seed=0, limit=1)
        (request,) = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert [t["function"]["name"] for t in request.body["tools"]] == ["replace_function"]
    assert "return max(self.items)" in request.body["messages"][-1]["content"]
    assert candidate.extra["model"] == "tiny"
    assert "+        return min(self.items)\n" in candidate.bug_patch
