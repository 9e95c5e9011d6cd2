"""Build reports and the summary a user reads after ``swegc compile`` / ``swegc status``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swegc.compiler.report import human_bytes, human_seconds, read_reports, summarize, write_reports
from swegc.dataset import write_dataset
from swegc.errors import InputError, SwegcError
from swegc.reasons import REASONS, Reason


def inst(instance_id: str, status: str, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    repo = "octo/demo" if instance_id.startswith("octo") else "acme/lib"
    return {"instance_id": instance_id, "repo": repo, "status": status, "reason": reason,
            "detail": None, "version": "1.0", "env_key": "env-a", "image": None, "FAIL_TO_PASS": 0,
            "PASS_TO_PASS": 0, "flaky_tests": [], "validation_s": 10.0, "build_s": 1.0, **extra}


INSTANCES = [
    inst("octo__demo-3", "valid", FAIL_TO_PASS=2, PASS_TO_PASS=5, layer_bytes=2_000_000,
         flaky_tests=["tests/t.py::test_f[a - b]", "tests/t.py::test_g"]),
    inst("octo__demo-1", "rejected", "no_fail_to_pass"),
    inst("octo__demo-2", "rejected", "patch_does_not_apply", detail="hunk 1 failed"),
    inst("acme__lib-9", "rejected", "no_fail_to_pass"),
    inst("acme__lib-7", "skipped", "needs_network"),
    inst("acme__lib-8", "error", "infrastructure", flaky_tests=[f"t{i}" for i in range(7)]),
]
ENVS = [
    {"env_key": "env-b", "repo": "acme/lib", "versions": ">=1", "python": "3.11", "image": None,
     "status": "failed", "reason": "install_failed", "detail": "pip ...\nERROR: No matching distribution",
     "build_s": 5.0, "size_bytes": 0, "instances": 3},
    {"env_key": "env-a", "repo": "octo/demo", "versions": "*", "python": "3.9", "image": "swegc/env-a",
     "status": "built", "reason": None, "detail": None, "build_s": 65.0, "size_bytes": 1_500_000_000,
     "instances": 3, "env_commit": "abc"},
]


def test_reports_are_sorted_complete_and_byte_identical_on_rewrite(tmp_path: Path) -> None:
    write_reports(tmp_path, INSTANCES, ENVS)
    first = {p: (tmp_path / "reports" / p).read_bytes() for p in ("instances.jsonl", "envs.jsonl")}
    write_reports(tmp_path, list(reversed(INSTANCES)), list(reversed(ENVS)))
    assert first == {p: (tmp_path / "reports" / p).read_bytes() for p in first}
    instances, envs = read_reports(tmp_path)
    assert [r["instance_id"] for r in instances] == sorted(r["instance_id"] for r in INSTANCES)
    assert [e["env_key"] for e in envs] == ["env-a", "env-b"]
    assert envs[0]["env_commit"] == "abc" and instances[-1]["layer_bytes"] == 2_000_000
    assert all(r["schema_version"] == 1 for r in instances + envs)
    lines = first["instances.jsonl"].decode().splitlines()
    assert json.loads(lines[0])["instance_id"] == "acme__lib-7"


def test_a_row_with_an_unknown_status_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="status 'ok' is not one of valid, rejected, skipped, error"):
        write_reports(tmp_path, [inst("octo__demo-1", "ok")], [])
    with pytest.raises(InputError, match="no 'env_key'"):
        write_reports(tmp_path, [], [{"status": "built"}])


def test_summary_counts_reasons_flaky_tests_time_and_disk(tmp_path: Path) -> None:
    write_reports(tmp_path, INSTANCES, ENVS)
    text = summarize(tmp_path)
    lines = text.splitlines()
    assert lines[0] == f"swegc build {tmp_path}"
    header = next(line for line in lines if line.strip().startswith("repo"))
    assert header.split() == ["repo", "valid", "rejected", "skipped", "error", "total"]
    assert next(line for line in lines if line.strip().startswith("octo/demo")).split() == \
        ["octo/demo", "1", "2", "0", "0", "3"]
    assert next(line for line in lines if line.strip().startswith("acme/lib")).split() == \
        ["acme/lib", "0", "1", "1", "1", "3"]
    assert next(line for line in lines if line.strip().startswith("total")).split() == \
        ["total", "1", "3", "1", "1", "6"]
    reasons = lines[lines.index("rejected by reason") + 2:lines.index("rejected by reason") + 4]
    assert [r.split()[:2] for r in reasons] == [["no_fail_to_pass", "2"], ["patch_does_not_apply", "1"]]
    # Each reason says what it means, in the words of swegc.reasons (also the card's, README's).
    assert reasons[0].endswith("  " + REASONS[Reason.NO_FAIL_TO_PASS].meaning)
    assert reasons[1].endswith("  " + REASONS[Reason.PATCH_DOES_NOT_APPLY].meaning)
    assert "skipped by reason" in lines and "error by reason" in lines
    assert "flaky tests: 9 in 2 instances (kept out of FAIL_TO_PASS and PASS_TO_PASS)" in lines
    assert "    tests/t.py::test_f[a - b]" in lines
    assert "    ... and 2 more (reports/instances.jsonl)" in lines
    assert "environments: 1 built, 1 failed" in lines
    assert "  failed env-b: install_failed" in lines
    assert "    ERROR: No matching distribution" in lines
    assert "time: validation 1 min 00 s, image builds 1 min 16 s" in lines
    assert "images: 1.5 GB (environments 1.5 GB, instance layers 2.0 MB)" in lines
    assert lines[-1] == "dataset: none written yet"


def test_summary_columns_are_aligned(tmp_path: Path) -> None:
    write_reports(tmp_path, INSTANCES, ENVS)
    lines = summarize(tmp_path).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("repo"))
    block = lines[start:start + 4]
    assert len({len(line) for line in block}) == 1  # right-aligned numbers end in the same column


def test_summary_reports_dataset_rows_and_size(tmp_path: Path) -> None:
    rows = [{"instance_id": "octo__demo-3", "FAIL_TO_PASS": ["a"]}]
    write_dataset(tmp_path, rows, pretty_name="d", description="d", features_order=["instance_id", "FAIL_TO_PASS"])
    write_reports(tmp_path, INSTANCES, ENVS)
    last = summarize(tmp_path).splitlines()[-1]
    assert last.startswith("dataset: 1 row (train 1), ") and " kB on disk" in last


def test_a_folder_without_reports_is_not_a_build(tmp_path: Path) -> None:
    with pytest.raises(SwegcError, match="is not a swegc build folder.*swegc compile"):
        summarize(tmp_path)


def test_an_empty_build_still_summarizes(tmp_path: Path) -> None:
    write_reports(tmp_path, [], [])
    text = summarize(tmp_path)
    assert "no instances" in text and "environments: 0 built, 0 failed" in text


@pytest.mark.parametrize("size, text", [(0, "0 B"), (999, "999 B"), (1500, "1.5 kB"), (2_340_000_000, "2.3 GB")])
def test_sizes_read_like_docker_images(size: int, text: str) -> None:
    assert human_bytes(size) == text


@pytest.mark.parametrize("seconds, text", [(1.25, "1.2 s"), (61, "1 min 01 s"), (3725, "1 h 02 min")])
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert human_seconds(seconds) == text


def test_the_summary_lists_each_instance_whose_changed_tests_did_not_all_run(tmp_path: Path) -> None:
    warned = inst("octo__demo-4", "valid", FAIL_TO_PASS=1, warnings=[
        "tests/helpers.py: a changed test file that ran no test after the fix"])
    write_reports(tmp_path, [*INSTANCES, warned], ENVS)
    text = summarize(tmp_path)
    assert "warnings: 1 in 1 instance\n  octo__demo-4: tests/helpers.py: a changed test file" in text
    assert read_reports(tmp_path)[0][0]["warnings"] == []  # every row has the field


def test_a_failed_env_shows_the_end_of_its_error_and_where_its_log_is(tmp_path: Path) -> None:
    detail = "\n".join([f"  line {i}" for i in range(20)] +
                       ["ERROR: Could not build wheels for lxml", "error: failed-wheel-build"])
    env = {**ENVS[0], "reason": "env_build_failed", "detail": detail,
           "log": str(tmp_path / "logs/images/env-b.log")}
    write_reports(tmp_path, INSTANCES, [env, ENVS[1]])
    text = summarize(tmp_path)
    assert "  failed env-b: env_build_failed\n" in text
    assert "    ERROR: Could not build wheels for lxml\n    error: failed-wheel-build\n" in text
    assert "    line 14\n" in text and "line 13\n" not in text  # the last 8 lines
    assert f"    log: {tmp_path}/logs/images/env-b.log" in text


def test_status_of_a_folder_only_a_compile_of_some_instances_wrote_summarizes_its_partial_folder(
        tmp_path: Path) -> None:
    write_reports(tmp_path / "partial", INSTANCES[:1], ENVS[1:])
    text = summarize(tmp_path)
    assert text.startswith(f"{tmp_path} holds only a compile of some instances (--instance or "
                           f"--limit), in {tmp_path / 'partial'}")
    assert "octo/demo      1" in text
    write_reports(tmp_path, INSTANCES, ENVS)
    assert summarize(tmp_path).endswith(f"a compile of some instances is in {tmp_path / 'partial'} "
                                        f"(swegc status {tmp_path / 'partial'})")


def test_rebuilt_published_instances_tell_a_failure_on_swegcs_side_from_one_that_no_longer_holds(
        tmp_path: Path) -> None:
    def pub(agreement: str, **extra: Any) -> dict[str, Any]:
        return {"agreement": agreement, "FAIL_TO_PASS_missing": [], "FAIL_TO_PASS_extra": [],
                "PASS_TO_PASS_missing": [], "PASS_TO_PASS_extra": [], "truncated": [], **extra}
    rows = [inst("octo__demo-1", "rejected", "install_failed", published=pub("not_rebuilt")),
            inst("octo__demo-2", "rejected", "no_fail_to_pass", published=pub("no_longer_valid")),
            inst("octo__demo-3", "valid", published=pub("same", truncated=[["t[a", "t[a b]"]]))]
    write_reports(tmp_path, rows, [])
    text = summarize(tmp_path)
    assert "published instances re-validated: 3 (1 no_longer_valid, 1 not_rebuilt, 1 same)" in text
    assert "  octo__demo-1: not_rebuilt (install_failed)" in text
    assert "  octo__demo-2: no_longer_valid (no_fail_to_pass)" in text
    assert "1 of swegc's test ids were published cut at a space" in text
