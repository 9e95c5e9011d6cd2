"""`tests.prepare`: a fix to what the install generates code from is validated and graded with
that code built again (Docker).

The repository generates a module from a data file at install time (as hydra compiles its
grammar): the fix changes the data file. Without `prepare` the tests keep importing what the
image's install generated, and the fix looks like it changed nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GitBuilder

pytestmark = pytest.mark.docker

SWEGC = [sys.executable, "-m", "swegc.cli"]
GENERATOR = '''"""Writes tables/_generated.py from table.txt (lines name=value)."""
pairs = [line.split("=") for line in open("table.txt").read().split()]
with open("tables/_generated.py", "w") as out:
    out.write(f"TABLE = {dict((name, value) for name, value in pairs)!r}\\n")
'''
TEST_ONE = 'from tables import TABLE\n\n\ndef test_one():\n    assert TABLE["one"] == "1"\n'
TEST_TWO = TEST_ONE + '\n\ndef test_two():\n    assert TABLE["two"] == "2"\n'
SPEC = '''extends: swegc:pytest
repo: acme/tables
source: {{clone: {clone}, jsonl: {records}}}
tests:
  prepare: {prepare}
version: {{from: fixed, value: "1.0"}}
environments:
  - python: "3.11"
    pip: ["pytest==8.3.3"]
    install: ["python make_table.py"]
'''


def swegc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, *args], capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> tuple[Path, Path]:
    """The repository and a record of its pull request #2, which adds `two` to the table."""
    root = tmp_path_factory.mktemp("tables")
    repo = GitBuilder(root / "tables")
    repo.commit("first", {"table.txt": "one=1\n", "make_table.py": GENERATOR,
                          "tables/__init__.py": "from tables._generated import TABLE\n",
                          ".gitignore": "tables/_generated.py\n",
                          "conftest.py": "",  # puts the repository on sys.path
                          "tests/test_table.py": TEST_ONE})
    base = repo.git("rev-parse", "HEAD")
    merge = repo.commit("Add two to the table (#2)", {"table.txt": "one=1\ntwo=2\n",
                                                       "tests/test_table.py": TEST_TWO})
    records = root / "records.jsonl"
    records.write_text(json.dumps({"repo": "acme/tables", "number": 2, "base_commit": base,
                                   "merge_commit": merge, "title": "Add two"}) + "\n")
    return repo.path, records


def compile_tables(tables: tuple[Path, Path], folder: Path, prepare: list[str]) -> Path:
    clone, records = tables
    specs = folder / "specs"
    specs.mkdir(parents=True)
    (specs / "tables.yaml").write_text(SPEC.format(clone=clone, records=records,
                                                   prepare=json.dumps(prepare)))
    out = folder / "out"
    result = swegc("compile", str(specs), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def report_of(out: Path) -> dict:
    return json.loads((out / "reports" / "instances.jsonl").read_text().splitlines()[0])


@pytest.fixture(scope="module")
def prepared_build(tables, tmp_path_factory) -> Path:
    return compile_tables(tables, tmp_path_factory.mktemp("prepared"), ["python make_table.py"])


def test_without_prepare_a_fix_to_generated_code_changes_nothing_the_tests_see(tables, tmp_path,
                                                                               docker_engine):
    out = compile_tables(tables, tmp_path, [])
    report = report_of(out)
    assert (report["status"], report["reason"]) == ("rejected", "no_fail_to_pass")


def test_with_prepare_the_fix_is_validated_on_the_generated_code_and_the_row_says_so(
        prepared_build, docker_engine):
    from swegc.dataset import read_dataset

    report = report_of(prepared_build)
    assert report["status"] == "valid", report
    [row] = read_dataset(prepared_build)
    assert row["FAIL_TO_PASS"] == ["tests/test_table.py::test_two"]
    assert row["PASS_TO_PASS"] == ["tests/test_table.py::test_one"]
    assert row["test_prepare"] == ["python make_table.py"]
    logs = prepared_build / "logs" / "acme__tables-2"
    assert "# exit 0" in (logs / "prepare-after.log").read_text()
    assert (logs / "prepare-before.log").exists()


def test_evaluate_resolves_gold_and_not_a_patch_whose_table_does_not_build(prepared_build, tmp_path,
                                                                          docker_engine):
    from swegc.dataset import read_dataset

    [row] = read_dataset(prepared_build)
    broken = row["patch"].replace("+two=2", "+two")  # make_table.py cannot split it
    assert broken != row["patch"]
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"instance_id": row["instance_id"],
                                               "model_name_or_path": name, "model_patch": patch})
                                   + "\n" for name, patch in [("broken", broken)]))
    gold = swegc("evaluate", "gold", "--dataset", str(prepared_build), "--out",
                 str(tmp_path / "gold"))
    assert gold.returncode == 0, gold.stderr[-3000:]
    assert json.loads((tmp_path / "gold" / "report.json").read_text())["resolved_ids"] == [
        row["instance_id"]]
    graded = swegc("evaluate", str(predictions), "--dataset", str(prepared_build), "--out",
                   str(tmp_path / "broken"))
    assert graded.returncode == 0, graded.stderr[-3000:]
    summary = json.loads((tmp_path / "broken" / "report.json").read_text())
    assert summary["unresolved_ids"] == [row["instance_id"]]
    grade = json.loads((tmp_path / "broken" / row["instance_id"] / "grade.json").read_text())
    assert "tests.prepare command `python make_table.py` exited 1" in grade["run_problem"]
    assert "ValueError" in grade["run_problem"]  # the tail of the failure is shown


def test_eval_script_builds_again_before_the_tests_as_peer_harnesses_run_it(prepared_build,
                                                                           docker_engine):
    from swegc.dataset import read_dataset
    from swegc.runtime.sandbox import open_sandbox

    [row] = read_dataset(prepared_build)

    def run(patch: str):
        with open_sandbox(row["image_name"]) as box:
            if patch:
                box.write_file("/tmp/candidate.diff", patch.encode())
                assert box.execute("git apply /tmp/candidate.diff").exit_code == 0
            box.write_file("/tmp/eval.sh", row["eval_script"].encode())
            return box.execute("bash /tmp/eval.sh", timeout_s=300)

    assert run(row["patch"]).exit_code == 0
    assert run("").exit_code != 0
    broken = run(row["patch"].replace("+two=2", "+two"))
    assert broken.exit_code != 0
    assert "swegc-eval: tests.prepare command 1 failed" in broken.output
