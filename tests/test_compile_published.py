"""Re-validating a published SWE-bench-format dataset from scratch against a spec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
SWEGC = [sys.executable, "-m", "swegc.cli"]


def test_published_instances_are_rebuilt_and_each_is_said_to_hold_or_differ(tmp_path, docker_engine):
    first = tmp_path / "first"
    result = subprocess.run([*SWEGC, "compile", str(ROOT / "examples" / "specs"), "--out", str(first)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    from swegc.dataset import read_dataset

    rows = {r["instance_id"]: r for r in read_dataset(first)}
    # A SWE-bench-style export: JSON-encoded test lists, as SWE-bench itself publishes them.
    published = []
    for iid in ("example__calc-2", "example__calc-8"):
        row = rows[iid]
        published.append({k: row[k] for k in ("instance_id", "repo", "base_commit", "patch",
                                              "test_patch", "problem_statement", "hints_text",
                                              "created_at", "version", "environment_setup_commit")}
                         | {"FAIL_TO_PASS": json.dumps(row["FAIL_TO_PASS"]),
                            "PASS_TO_PASS": json.dumps(row["PASS_TO_PASS"])})
    published[1]["FAIL_TO_PASS"] = json.dumps(["tests/test_stats.py::test_that_never_existed"])
    # What SWE-bench publishes is kept as published, whatever swegc's spec finds.
    published[0].update(version="0.9", environment_setup_commit="c" * 40, issue_numbers=["1"])
    data = tmp_path / "published.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in published))
    spec_text = (ROOT / "examples" / "specs" / "calc.yaml").read_text()
    spec_text = spec_text.replace("clone: ../calc.bundle", f"clone: {ROOT / 'examples' / 'calc.bundle'}")
    spec_text = spec_text.replace("jsonl: ../candidates.jsonl", f"instances: {data}")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "calc.yaml").write_text(spec_text)

    out = tmp_path / "rebuilt"
    result = subprocess.run([*SWEGC, "compile", str(specs), "--out", str(out)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = {json.loads(line)["instance_id"]: json.loads(line)
               for line in (out / "reports" / "instances.jsonl").read_text().splitlines()}
    assert reports["example__calc-2"]["published"]["agreement"] == "same"
    differs = reports["example__calc-8"]["published"]
    assert differs["agreement"] == "differs"
    assert differs["FAIL_TO_PASS_missing"] == ["tests/test_stats.py::test_that_never_existed"]
    assert differs["FAIL_TO_PASS_extra"] == ["tests/test_stats.py::test_moving_average_includes_last_window"]
    assert "published instances re-validated: 2 (1 differs, 1 same)" in result.stdout
    # The rebuilt instances keep the published split and statement as they were.
    rebuilt = {r["instance_id"]: r for r in read_dataset(out)}
    assert rebuilt["example__calc-2"]["patch"] == rows["example__calc-2"]["patch"]
    assert rebuilt["example__calc-2"]["problem_statement"] == rows["example__calc-2"]["problem_statement"]
    kept = rebuilt["example__calc-2"]
    assert (kept["version"], kept["environment_setup_commit"]) == ("0.9", "c" * 40)
    assert (kept["spec_version"], kept["env_commit"]) == \
        (rows["example__calc-2"]["version"], rows["example__calc-2"]["environment_setup_commit"])
    assert kept["issue_numbers"] == ["1"]
    assert rebuilt["example__calc-8"]["version"] == rebuilt["example__calc-8"]["spec_version"]
