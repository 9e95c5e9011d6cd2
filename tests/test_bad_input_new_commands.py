"""Bad input to draft, images prune, curate, compile's selection options and status: a path
that is missing or of the wrong kind, sizes and dates that are not, exclusion files and funnel
files that are junk. Each is `error: ...` naming the option or the file (and line or stage),
exit 1, never a traceback; nothing is built and no Docker engine is needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from swegc.dataset import write_dataset

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "examples" / "specs"


def swegc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swegc.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def refused(result: subprocess.CompletedProcess[str], *named: str) -> str:
    """The error a user reads, after checking it is one: exit 1, `error:`, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: "), result.stderr
    for thing in named:
        assert thing in result.stderr, (thing, result.stderr)
    return result.stderr


def build_folder(path: Path) -> Path:
    """A build folder as compile leaves it, as far as status and curate read it."""
    write_dataset(path, [{"instance_id": "acme__a-1", "repo": "acme/a"}],
                  features_order=["instance_id", "repo"], pretty_name="t", description="t")
    (path / "reports").mkdir()
    (path / "reports" / "instances.jsonl").write_text(
        json.dumps({"instance_id": "acme__a-1", "repo": "acme/a", "status": "valid"}) + "\n")
    return path


# ---- status ----------------------------------------------------------------------------

FUNNELS = {
    "cut short": (b'{"funnel": [{"stage": "valid",', "funnel.json:1: not valid JSON"),
    "a list": (b"[1, 2]", "expected a JSON object with a `funnel` list, not a list"),
    "a negative count": (b'{"funnel": [{"stage": "candidates_read", "count": -5}]}',
                         "funnel[0] (candidates_read): `count` is -5"),
    "a count that grows": (b'{"funnel": [{"stage": "a", "count": 3}, {"stage": "b", "count": 5}]}',
                           "stage b counts 5, more than the 3 of a before it"),
    "a stage that is no object": (b'{"funnel": {"a": 1}}', "`funnel` is an object, not a list"),
    "no stage name": (b'{"funnel": [{"count": 3}]}', "funnel[0] has no `stage` name"),
    "a total that is text": (b'{"funnel": [], "valid": "abc"}', "`valid` is 'abc'"),
    "not UTF-8": (b'\xff\xfe{"funnel": []}', "not UTF-8 text"),
    "nested thousands deep": (b"[" * 5000 + b"]" * 5000, "nested more than"),
}


@pytest.mark.parametrize("problem", FUNNELS)
def test_a_corrupted_funnel_json_is_an_error_naming_the_file_and_stage(tmp_path, problem):
    content, said = FUNNELS[problem]
    build = build_folder(tmp_path / "b")
    (build / "reports" / "funnel.json").write_bytes(content)
    for extra in ((), ("--json",)):
        error = refused(swegc("status", str(build), *extra), str(build / "reports" / "funnel.json"))
        assert said in error and "rewrite it" in error


def test_status_of_a_missing_path_or_a_file_says_which(tmp_path):
    (tmp_path / "f").write_text("x")
    for extra in ((), ("--json",)):
        assert "no such build folder" in refused(swegc("status", str(tmp_path / "nope"), *extra))
        assert "is a file, not a build folder" in refused(swegc("status", str(tmp_path / "f"), *extra))
        refused(swegc("status", str(tmp_path), *extra), "is not a swegc build folder")


def test_a_report_row_that_is_not_utf8_or_has_a_status_of_the_wrong_type_names_its_line(tmp_path):
    build = build_folder(tmp_path / "b")
    report = build / "reports" / "instances.jsonl"
    report.write_bytes(report.read_bytes() + b"\xff\n")
    refused(swegc("status", str(build)), f"{report}:2: not UTF-8 text")
    report.write_text(json.dumps({"instance_id": "a", "repo": "r", "status": ["x"]}) + "\n")
    refused(swegc("status", str(build), "--json"), f"{report}:1: status of a report row must be text")


# ---- compile's selection and --out ---------------------------------------------------------

@pytest.mark.parametrize("args, said", [
    (("--since", "2025-01-01", "--until", "2024-01-01"), "--since 2025-01-01 is not before --until"),
    (("--since", ""), "--since: an empty date"),
    (("--fresh-after", "yesterday"), "--fresh-after: 'yesterday' is not an ISO date"),
    (("--until", "2024-02-30"), "--until: '2024-02-30' is not an ISO date"),
    (("--max-disk", "-1"), "--max-disk '-1': a size cannot be negative"),
    (("--max-disk", "abc"), "--max-disk 'abc': expected a size"),
])
def test_a_bad_date_or_size_stops_compile_before_the_build_folder_is_made(tmp_path, args, said):
    out = tmp_path / "build"
    refused(swegc("compile", str(SPECS), "--out", str(out), *args), said)
    assert not out.exists()


@pytest.mark.parametrize("content, line, said", [
    (b"example__calc-2\nthis is junk\n", 2, "'this is junk' is not an instance id"),
    (b"instance_id\nexample__calc-2\n", 1, "'instance_id' is not an instance id"),
    (b"example__calc-2,example__calc-8\n", 1, "is not an instance id"),
    (b"example__calc-2\n\xff\xfe junk\n", 2, "not UTF-8 text"),
    (b"[" * 3000 + b"]" * 3000 + b"\n", 1, "'[[[["),
    (b"repo:a/b/c\n", 1, "a repository is written repo:owner/name"),
])
def test_an_exclusion_file_with_junk_is_refused_at_its_line(tmp_path, content, line, said):
    exclude = tmp_path / "ids.txt"
    exclude.write_bytes(content)
    error = refused(swegc("compile", str(SPECS), "--out", str(tmp_path / "b"), "--exclude",
                          str(exclude)), f"{exclude}:{line}: ", said)
    assert len(error) < 400  # a long junk line is shortened, not echoed whole


def test_compile_refuses_an_out_folder_of_other_files_and_one_it_cannot_create(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# my project\n")
    refused(swegc("compile", str(SPECS), "--out", str(project)), f"--out {project} holds files",
            "give a new or empty folder")
    assert (project / "README.md").read_text() == "# my project\n"  # the card did not replace it
    (tmp_path / "file").write_text("x")
    refused(swegc("compile", str(SPECS), "--out", str(tmp_path / "file" / "b")),
            "cannot create the build folder")


# ---- draft -----------------------------------------------------------------------------

def test_draft_of_an_empty_a_bare_or_a_plain_folder_says_what_it_is(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "empty")], check=True)
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "bare.git")], check=True)
    (tmp_path / "plain").mkdir()
    for name in ("empty", "bare.git"):
        refused(swegc("draft", str(tmp_path / name), "--out", str(tmp_path / "s.yaml")),
                "HEAD names no commit")
    refused(swegc("draft", str(tmp_path / "plain"), "--out", str(tmp_path / "s.yaml")),
            "not a git repository")
    assert not (tmp_path / "s.yaml").exists()


def test_draft_refuses_a_bad_out_repo_or_candidates_file_before_reading_history(git_builder, tmp_path):
    git_builder.commit("init", {"pyproject.toml": '[project]\nname = "pkg"\nversion = "1.0"\n',
                                "tests/test_a.py": "def test_a():\n    pass\n"})
    clone = str(git_builder.path)
    (tmp_path / "file").write_text("x")
    cases = [
        (("--out", str(tmp_path)), f"--out {tmp_path} is a folder; give the spec's file name"),
        (("--out", str(tmp_path / "file" / "s.yaml")), f"{tmp_path / 'file'} is a file, not a folder"),
        (("--repo", "widgets"), "--repo 'widgets': expected owner/name"),
        (("--repo", "a/b/c"), "--repo 'a/b/c': expected owner/name"),
        (("--probe", "1", "--policy", "nosuch"), "--policy: unknown policy 'nosuch'"),
        (("--policy", "scripted"), "--policy is asked for an edit only while probing"),
        (("--jsonl", "missing.jsonl", "--out", str(tmp_path / "s.yaml")),
         f"--jsonl missing.jsonl: no such file or folder at {tmp_path / 'missing.jsonl'}"),
    ]
    for args, said in cases:
        refused(swegc("draft", clone, *args, cwd=tmp_path), said)
    assert not (tmp_path / "s.yaml").exists()


# ---- curate and images prune -----------------------------------------------------------------

def test_curate_refuses_a_build_given_as_runs_and_a_trajectory_without_its_fields(tmp_path):
    build = build_folder(tmp_path / "b")
    refused(swegc("curate", str(build), "--runs", str(build)),
            f"--runs {build} is a build folder", "swegc rollout --out")
    runs = tmp_path / "runs.jsonl"
    runs.write_text(json.dumps({"instance_id": "acme__a-1", "FAIL_TO_PASS": [],
                                "schema_version": 8}) + "\n")  # a dataset's row
    refused(swegc("curate", str(build), "--runs", str(runs)),
            f"{runs}:1: a task instance row (a dataset's), not a trajectory")
    runs.write_text(json.dumps({"instance_id": "acme__a-1"}) + "\n")
    refused(swegc("curate", str(build), "--runs", str(runs)),
            f"{runs}:1: trajectory has no run_id, policy, messages")
    runs.write_text(json.dumps({"instance_id": "acme__a-1", "run_id": "r", "policy": "gpt",
                                "messages": []}) + "\n")
    refused(swegc("curate", str(build), "--runs", str(runs)), "trajectory policy must be an object")
    (tmp_path / "plain").mkdir()
    refused(swegc("curate", str(tmp_path / "plain"), "--runs", str(runs)),
            f"{tmp_path / 'plain'}: no dataset shard")


def test_images_prune_names_a_bad_size_and_a_folder_that_is_no_build(tmp_path):
    build = build_folder(tmp_path / "b")
    for size, said in (("10XB", "expected a size"), ("-1", "cannot be negative"), ("", "expected a size")):
        refused(swegc("images", "prune", str(build), "--max-disk", size), f"--max-disk {size!r}", said)
    refused(swegc("images", "prune", str(tmp_path)), "is not a swegc build folder")
