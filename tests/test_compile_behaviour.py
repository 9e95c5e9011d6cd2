"""What a compile does when the input or the images change under it (on the example)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples"
SWEGC = [sys.executable, "-m", "swegc.cli"]


def swegc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, *args], capture_output=True, text=True, timeout=1200)


def spec_copy(tmp_path: Path, edit=lambda text: text, records: str | None = None) -> Path:
    """The example's spec in a folder of its own, with absolute paths (and edits)."""
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    text = (EXAMPLE / "specs" / "calc.yaml").read_text()
    text = text.replace("clone: ../calc.bundle", f"clone: {EXAMPLE / 'calc.bundle'}")
    text = text.replace("jsonl: ../candidates.jsonl", f"jsonl: {records or EXAMPLE / 'candidates.jsonl'}")
    (specs / "calc.yaml").write_text(edit(text))
    return specs


def rows_of(out: Path) -> dict[str, dict]:
    from swegc.dataset import read_dataset

    return {r["instance_id"]: r for r in read_dataset(out)}


@pytest.fixture(scope="module")
def full(tmp_path_factory, docker_engine):
    out = tmp_path_factory.mktemp("full")
    result = swegc("compile", str(EXAMPLE / "specs"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_compiling_one_instance_reuses_the_full_builds_work_and_leaves_its_dataset_alone(full):
    before = (full / "data" / "train-00000-of-00001.parquet").read_bytes()
    result = swegc("compile", str(EXAMPLE / "specs"), "--out", str(full), "--instance", "example__calc-10")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[instance" not in result.stderr  # same env commit, same unit: nothing to redo
    assert (full / "data" / "train-00000-of-00001.parquet").read_bytes() == before
    partial = rows_of(full / "partial")
    assert list(partial) == ["example__calc-10"]
    assert partial["example__calc-10"]["environment_setup_commit"] == \
        rows_of(full)["example__calc-10"]["environment_setup_commit"]


def test_an_unknown_instance_id_is_an_error_that_suggests_the_near_one(full):
    result = swegc("compile", str(EXAMPLE / "specs"), "--out", str(full), "--instance", "example__calc-100")
    assert result.returncode == 1
    assert "no candidate has the id example__calc-100 (did you mean example__calc-10?)" in result.stderr


def test_an_instance_image_removed_since_is_built_and_validated_again(full, docker_engine):
    image = rows_of(full)["example__calc-2"]["image_tag"]
    # The suite's own name (conftest): removing it cannot touch a user's build of the example.
    assert image.startswith("swegc-test-inst/example__calc-2:"), image
    docker_engine.images.remove(image, force=True)
    result = swegc("compile", str(EXAMPLE / "specs"), "--out", str(full))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[instance 1/1] example__calc-2: valid" in result.stderr
    assert docker_engine.images.get(image)


def test_an_instance_image_rebuilt_under_the_same_tag_is_validated_again_and_named_by_its_id(
        full, docker_engine):
    before = rows_of(full)["example__calc-8"]
    repository, _, tag = before["image_tag"].rpartition(":")
    container = docker_engine.containers.create(before["image_tag"], ["true"])
    try:  # what another build folder's rebuild of the same recipe leaves: same tag, new id
        moved = container.commit(repository=repository, tag=tag)
    finally:
        container.remove(force=True)
    assert moved.id != before["image_id"]
    result = swegc("compile", str(EXAMPLE / "specs"), "--out", str(full))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[instance 1/1] example__calc-8: valid" in result.stderr
    after = rows_of(full)["example__calc-8"]
    assert after["image_id"] == after["image"] == moved.id


def test_changing_post_install_rebuilds_and_revalidates_the_instances_it_touches(tmp_path, docker_engine):
    out = tmp_path / "out"
    first = swegc("compile", str(spec_copy(tmp_path)), "--out", str(out))
    assert first.returncode == 0, first.stderr[-3000:]
    edited = spec_copy(tmp_path, lambda t: t.replace(
        '    pip: ["pytest==8.3.3", "more-itertools==10.2.0"]\n',
        '    pip: ["pytest==8.3.3", "more-itertools==10.2.0"]\n    post_install: ["touch /tmp/marker"]\n'))
    second = swegc("compile", str(edited), "--out", str(out))
    assert second.returncode == 0, second.stderr[-3000:]
    # #8, #10 and #12 are version 1.1 (the edited environment); #2 and #5 are 1.0.
    redone = {line.split("] ")[1].split(":")[0] for line in second.stderr.splitlines()
              if line.startswith("[instance")}
    assert redone == {"example__calc-8", "example__calc-10", "example__calc-12"}


def test_a_record_file_with_an_instance_twice_is_refused_with_both_lines(tmp_path, docker_engine):
    lines = (EXAMPLE / "candidates.jsonl").read_text().splitlines()
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join([*lines, lines[0]]) + "\n")
    result = swegc("compile", str(spec_copy(tmp_path, records=str(records))), "--out", str(tmp_path / "o"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{records}:{len(lines) + 1}: example__calc-2 is already at {records}:1" in result.stderr


def test_a_candidate_whose_base_commit_is_not_in_the_clone_is_rejected_alone(tmp_path, docker_engine):
    rows = [json.loads(line) for line in (EXAMPLE / "candidates.jsonl").read_text().splitlines()]
    rows[0]["base_commit"] = "deadbeef" * 5
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o"
    result = swegc("compile", str(spec_copy(tmp_path, records=str(records))), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    reports = {json.loads(l)["instance_id"]: json.loads(l)
               for l in (out / "reports" / "instances.jsonl").read_text().splitlines()}
    assert reports[f"example__calc-{rows[0]['number']}"]["reason"] == "commit_missing"
    assert set(rows_of(out)) == {"example__calc-8", "example__calc-10"}


def test_an_override_for_an_id_no_candidate_has_is_a_warning_with_its_spec_line(tmp_path, docker_engine):
    specs = spec_copy(tmp_path, lambda t: t + "\ninstances:\n  example__calc-77: {skip: typo}\n")
    result = swegc("compile", str(specs), "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "calc.yaml:" in result.stderr
    assert "the override for example__calc-77 matches no candidate (did you mean example__calc-" in result.stderr
