"""Published instances rebuilt from a generated repository: ids SWE-bench cut at a space, and a
test command whose output names no test (Docker)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GitBuilder

pytestmark = pytest.mark.docker

SWEGC = [sys.executable, "-m", "swegc.cli"]
TESTS = "tests/test_calc.py"
# What pytest 3.5 prints for `pytest -rA`: it ignores the A, so no line names a test.
OLD_PYTEST = '''\
print("============================= test session starts ==============================")
print("platform linux -- Python 3.6.15, pytest-3.5.1, py-1.11.0, pluggy-0.6.0")
print("rootdir: /testbed, inifile:")
print("collected 3 items")
print("")
print("tests/test_calc.py .F.                                                   [100%]")
print("")
print("====================== 1 failed, 2 passed in 0.12 seconds ======================")
raise SystemExit(1)
'''


def published_rows(path: Path) -> list[dict[str, str]]:
    """Two pull requests on one base commit, as SWE-bench publishes them: #2 adds a test whose
    parameters hold spaces (its two ids cut to one published id), #3 is run by an old pytest."""
    repo = GitBuilder(path)
    base = repo.commit("base", {
        "calc.py": "def shout(text):\n    return text\n",
        "pytest.ini": "[pytest]\npythonpath = .\n",
        "tools/old_pytest.py": OLD_PYTEST,
        TESTS: "import calc\n\n\ndef test_keeps_length():\n    assert len(calc.shout('ab')) == 2\n"})
    fix = repo.commit("Shout (#2)", {
        "calc.py": "def shout(text):\n    return text.upper()\n",
        TESTS: "import pytest\n\nimport calc\n\n\ndef test_keeps_length():\n"
               "    assert len(calc.shout('ab')) == 2\n\n\n"
               "@pytest.mark.parametrize('text', ['a b', 'a c'])\ndef test_upper(text):\n"
               "    assert calc.shout(text) == text.upper()\n"})
    patch = repo.git("diff", base, fix, "--", "calc.py") + "\n"
    test_patch = repo.git("diff", base, fix, "--", "tests") + "\n"
    cut = f"{TESTS}::test_upper[a"  # SWE-bench's parser split `test_upper[a b]` at the space
    common = {"repo": "octo/calc", "base_commit": base, "patch": patch, "test_patch": test_patch,
              "problem_statement": "shout should shout", "created_at": "2024-01-01T00:00:00Z",
              "PASS_TO_PASS": json.dumps([f"{TESTS}::test_keeps_length"])}
    return [{"instance_id": "octo__calc-2", **common, "FAIL_TO_PASS": json.dumps([cut, cut])},
            {"instance_id": "octo__calc-3", **common, "FAIL_TO_PASS": json.dumps([cut])}]


def test_cut_ids_of_several_parameters_agree_and_a_runner_that_names_no_test_is_swegcs_side(
        tmp_path, docker_engine):
    rows = published_rows(tmp_path / "calc")
    published = tmp_path / "published.jsonl"
    published.write_text("".join(json.dumps(r) + "\n" for r in rows))
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "calc.yaml").write_text(f"""\
extends: swegc:pytest
repo: octo/calc
source: {{clone: {tmp_path / 'calc'}, instances: {published}}}
version: {{from: fixed, value: "1.0"}}
environments: [{{python: "3.11", pip: ["pytest==8.3.3"]}}]
instances:
  octo__calc-3: {{test_command: "python tools/old_pytest.py"}}
""")
    out = tmp_path / "out"
    result = subprocess.run([*SWEGC, "compile", str(specs), "--out", str(out), "--runs", "1"],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = {json.loads(line)["instance_id"]: json.loads(line)
               for line in (out / "reports" / "instances.jsonl").read_text().splitlines()}
    cut = reports["octo__calc-2"]["published"]
    assert cut["agreement"] == "same"
    assert cut["truncated"] == [[f"{TESTS}::test_upper[a", f"{TESTS}::test_upper[a b]"],
                                [f"{TESTS}::test_upper[a", f"{TESTS}::test_upper[a c]"]]
    old = reports["octo__calc-3"]
    assert (old["status"], old["reason"]) == ("rejected", "no_per_test_results")
    assert "the runner printed its summary ('1 failed, 2 passed in 0.12 seconds') but no " \
           "per-test results by pytest 3.5.1, Python 3.6.15 (exit 1); add -v" in old["detail"]
    assert old["published"]["agreement"] == "not_rebuilt"
    status = subprocess.run([*SWEGC, "status", str(out)], capture_output=True, text=True)
    assert "published instances re-validated: 2 (1 not_rebuilt, 1 same)" in status.stdout
    assert "  octo__calc-3: not_rebuilt (no_per_test_results)" in status.stdout
    assert "2 of swegc's test ids were published cut at a space" in status.stdout
