"""A compile that meets a broken clone, a new folder or a test file that runs nothing (Docker)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GitBuilder

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples"
SWEGC = [sys.executable, "-m", "swegc.cli"]
EMPTY_TEST = ("diff --git a/tests/test_empty.py b/tests/test_empty.py\nnew file mode 100644\n"
              "index 0000000000000000000000000000000000000000..{blob}\n--- /dev/null\n"
              "+++ b/tests/test_empty.py\n@@ -0,0 +1 @@\n+HELPER = 1\n")


def swegc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, *args], capture_output=True, text=True, timeout=1200)


def reports_of(out: Path) -> dict[str, dict]:
    lines = (out / "reports" / "instances.jsonl").read_text().splitlines()
    return {json.loads(line)["instance_id"]: json.loads(line) for line in lines}


def example_spec(specs: Path, records: Path) -> None:
    """The example's spec, reading ``records``, building pull request #2 only."""
    text = (EXAMPLE / "specs" / "calc.yaml").read_text()
    text = text.replace("clone: ../calc.bundle", f"clone: {EXAMPLE / 'calc.bundle'}")
    text = text.replace("jsonl: ../candidates.jsonl", f"jsonl: {records}")
    text = text.replace("    require_linked_issue: false\n",
                        "    require_linked_issue: false\n    numbers: [2]\n")
    (specs / "calc.yaml").write_text(text)


def broken_clone(path: Path) -> tuple[Path, Path, str, str]:
    """A repository whose clone lost an old blob (as a partial fetch or a bad disk leaves it),
    a record of one pull request whose own diff does not need that blob, the blob and the
    commit that wrote it."""
    repo = GitBuilder(path / "broken")
    first = repo.commit("first", {"old.txt": "ancient text\n", "lib/core.py": "X = 1\n",
                                  "tests/test_core.py": "def test_x():\n    pass\n"})
    lost = repo.git("rev-parse", "HEAD:old.txt")
    repo.commit("rewrite", {"old.txt": "newer text\n"})
    base = repo.git("rev-parse", "HEAD")
    merge = repo.commit("Fix X (#3)", {"lib/core.py": "X = 2\n",
                                        "tests/test_core.py": "def test_x():\n    assert 1\n"})
    (repo.path / ".git" / "objects" / lost[:2] / lost[2:]).unlink()
    records = path / "broken.jsonl"
    records.write_text(json.dumps({"repo": "acme/broken", "number": 3, "base_commit": base,
                                   "merge_commit": merge, "title": "Fix X"}) + "\n")
    return repo.path, records, lost, first


def test_a_broken_clone_fails_only_its_own_units_with_a_hint_and_a_changed_test_file_that_runs_no_test_is_named(
        tmp_path, docker_engine):
    specs = tmp_path / "specs"
    specs.mkdir()
    rows = [json.loads(line) for line in (EXAMPLE / "candidates.jsonl").read_text().splitlines()]
    blob = subprocess.run(["git", "hash-object", "--stdin"], input="HELPER = 1\n", text=True,
                          capture_output=True, check=True).stdout.strip()
    rows[0]["diff"] += EMPTY_TEST.format(blob=blob)  # #2 also adds a test file with no test
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    example_spec(specs, records)
    clone, broken_records, lost, first = broken_clone(tmp_path)
    (specs / "broken.yaml").write_text(
        f"extends: swegc:pytest\nrepo: acme/broken\nsource: {{clone: {clone}, jsonl: {broken_records}}}\n"
        'version: {from: fixed, value: "1.0"}\nenvironments: [{python: "3.11"}]\n')

    out = tmp_path / "out"
    result = swegc("compile", str(specs), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    # One whole console line: what is missing, where the report says more.
    base = json.loads(broken_records.read_text())["base_commit"]
    line = next(line for line in result.stderr.splitlines() if "acme/broken *: failed" in line)
    assert line.endswith(f"acme/broken *: failed: clone_unreadable: the clone of acme/broken "
                         f"lacks 1 object(s) that the history up to {base[:12]} needs (first "
                         f"{lost}); the report names the paths and commits that need them and "
                         "how to repair the clone")
    reports = reports_of(out)
    broken = reports["acme__broken-3"]
    assert (broken["status"], broken["reason"]) == ("error", "clone_unreadable")
    assert "unable to read" in broken["detail"]
    assert f"missing {lost} (written as old.txt in commit {first[:12]})" in broken["detail"]
    assert f"`git -C {clone} fetch --refetch origin`" in broken["detail"]
    assert "If the origin lacks them too (the fetch fails, or fsck still lists them)" in \
        broken["detail"]
    assert reports["example__calc-2"]["status"] == "valid"  # the other repository was built
    warning = ("tests/test_empty.py: a changed test file that ran no test after the fix")
    assert f"warning: example__calc-2: {warning}" in result.stderr
    assert reports["example__calc-2"]["warnings"][0].startswith(warning)
    assert f"example__calc-2: {warning}" in result.stdout  # the summary lists it too


def test_one_instance_compiled_into_a_new_folder_is_summarized_and_its_status_read(tmp_path,
                                                                                  docker_engine):
    out = tmp_path / "new"
    result = swegc("compile", str(EXAMPLE / "specs"), "--out", str(out), "--instance",
                   "example__calc-2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(f"swegc build {out / 'partial'}")
    assert f"datasets.load_dataset({str(out / 'partial')!r})" in result.stdout
    status = swegc("status", str(out))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"{out} holds only a compile of some instances")
    assert "example/calc      1" in status.stdout
