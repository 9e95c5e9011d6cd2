"""Bounded disk: ``swegc compile --max-disk`` and ``swegc images prune``.

The build here is the example's #2 (valid) and #5 (rejected: no_fail_to_pass) in an environment
marked with a fresh value, so every image it makes is its own: pruning can touch no image of
another build or test. The registry is Debian's ``docker-registry`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.registry_fixtures import registry_binary, running_registry

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples"
SWEGC = [sys.executable, "-m", "swegc.cli"]
BUDGET = 1_000_000


def swegc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, *args], capture_output=True, text=True, timeout=900)


def own_build_spec(tmp_path: Path, numbers: tuple[int, ...]) -> Path:
    """The example's spec over some of its pull requests, in an environment of its own."""
    records = tmp_path / "candidates.jsonl"
    records.write_text("".join(line + "\n" for line in (EXAMPLE / "candidates.jsonl").read_text().splitlines()
                               if json.loads(line)["number"] in numbers))
    text = (EXAMPLE / "specs" / "calc.yaml").read_text()
    text = text.replace("clone: ../calc.bundle", f"clone: {EXAMPLE / 'calc.bundle'}")
    text = text.replace("jsonl: ../candidates.jsonl", f"jsonl: {records}")
    marker = uuid.uuid4().hex[:12]
    # The cheapest env that runs calc's tests: pytest alone, calc from the checkout.
    old_env = '    pip: ["pytest==8.3.3"]\n    install: ["pip install -e ."]\n'
    assert old_env in text
    text = text.replace(old_env, '    pip: ["pytest==8.3.3"]\n    upgrade_pip: false\n    install: []\n'
                                 f'    env: {{PYTHONPATH: /testbed, SWEGC_DISK_TEST: "{marker}"}}\n')
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "calc.yaml").write_text(text)
    return specs


def test_a_compile_over_a_small_budget_finishes_under_it_and_every_valid_row_still_grades(
        tmp_path, docker_engine):
    from swegc.build_reports import read_reports
    from swegc.dataset import read_dataset
    from swegc.images.disk import DiskMeter

    if registry_binary() is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry; .ci/setup does)")
    specs, out = own_build_spec(tmp_path, (2, 5)), tmp_path / "build"
    # Another build's images under the same repositories: they must be left alone.
    others = ["swegc-test-inst/example__calc-5:another-build", "swegc-test-env/example__calc:another-build"]
    for name in others:
        docker_engine.images.get("swegc-base:bookworm").tag(name)
    built: list[str] = []
    try:
        with running_registry(tmp_path / "registry") as host:
            args = ("compile", str(specs), "--out", str(out), "--runs", "1",
                    "--registry", f"{host}/disk", "--max-disk", "1MB")
            result = swegc(*args)
            assert result.returncode == 0, result.stderr[-3000:]
            instances, envs = read_reports(out)
            built = [r["image"] for r in [*instances, *envs] if r.get("image")]
            status = {r["instance_id"]: r["status"] for r in instances}
            assert status == {"example__calc-2": "valid", "example__calc-5": "rejected"}
            # Said as it went (between units: each instance as its unit ended, the env once no
            # unit needed it), and the disk ends under the budget.
            log = result.stderr
            assert "[disk] dropped rejected instance example__calc-5" in log
            assert "[disk] dropped instance in the registry example__calc-2" in log
            assert log.index("unused env example/calc") > max(
                log.index("rejected instance example__calc-5"), log.index("instance in the registry example__calc-2"))
            assert "[disk] dropped" in log and "in use (budget 1.0 MB)" in log
            assert DiskMeter(docker_engine).in_use(built) <= BUDGET
            for name in others:
                docker_engine.images.get(name)  # still there

            # The valid row grades from the registry by the digest it names.
            [row] = read_dataset(out)
            assert "@sha256:" in row["image"]
            graded = swegc("evaluate", "gold", "--dataset", str(out), "--out", str(tmp_path / "eval"))
            assert graded.returncode == 0, graded.stderr[-3000:]
            summary = json.loads((tmp_path / "eval" / "report.json").read_text())
            assert summary["resolved_instances"] == 1

            # A resumed compile builds nothing again: the store's verdicts stand without images.
            again = swegc(*args)
            assert again.returncode == 0, again.stderr[-3000:]
            assert "[env" not in again.stderr and "[instance" not in again.stderr, again.stderr[-2000:]
            assert read_dataset(out) == [row]
    finally:
        for name in others:
            docker_engine.images.remove(name)
        for image in docker_engine.images.list(filters={"label": "org.swegc.kind"}):
            names = [*image.tags, *(image.attrs.get("RepoDigests") or [])]
            if set(names) & set(built) or any(n.startswith("127.0.0.1:") and "/disk/swegc-test-" in n
                                              for n in names):
                docker_engine.images.remove(image.id, force=True)  # this test's build only


def test_prune_without_a_registry_keeps_valid_rows_images_and_says_why_the_budget_is_not_met(
        example_build, docker_engine):
    from swegc.build_reports import read_reports

    instances, envs = read_reports(example_build)
    tags = [r["image"] for r in [*instances, *envs] if r.get("image")]
    result = swegc("images", "prune", str(example_build), "--max-disk", "1MB", "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "would drop rejected instance example__calc-5" in out
    assert "would drop" in out and "in use (budget 1.0 MB)" in out
    assert "valid rows in no registry" in out and "compile with --registry" in out
    for tag in tags:  # a dry run removes nothing
        docker_engine.images.get(tag)


def test_a_size_that_is_no_size_is_a_clear_error(tmp_path):
    result = swegc("compile", str(tmp_path), "--out", str(tmp_path / "b"), "--max-disk", "lots")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--max-disk 'lots': expected a size such as 20G" in result.stderr
