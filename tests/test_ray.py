"""The example compiled, rolled out and killed on a real Ray cluster of several nodes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.ray_fixtures import ray_cluster
from tests.test_compile_example import SPECS, SWEGC, _units_done, compile_example, reports

pytestmark = pytest.mark.docker
VALID = {"example__calc-2", "example__calc-8", "example__calc-10"}


def verdicts(out: Path) -> dict[str, tuple]:
    return {k: (v["status"], v["reason"], v["FAIL_TO_PASS"], v["PASS_TO_PASS"])
            for k, v in reports(out).items()}


def dataset_rows(out: Path) -> dict[str, tuple]:
    from swegc.dataset import read_dataset

    return {r["instance_id"]: (r["FAIL_TO_PASS"], r["PASS_TO_PASS"], r["image_id"])
            for r in read_dataset(out)}


def gold_resolved_on_ray(build: Path, out: Path, cluster) -> set[str]:
    """The instances `swegc evaluate gold` resolves on the cluster (it must exit 0)."""
    graded = subprocess.run([*SWEGC, "evaluate", "gold", "--dataset", str(build), "--out",
                             str(out), "--executor", "ray", "--ray-address", cluster.address],
                            capture_output=True, text=True, timeout=1200)
    assert graded.returncode == 0, graded.stderr[-3000:]
    return set(json.loads((out / "report.json").read_text())["resolved_ids"])


@pytest.fixture(scope="module")
def cluster(docker_engine):
    with ray_cluster(workers=2, slots=2) as running:
        yield running


def test_the_example_compiled_on_ray_gives_the_local_pools_instances_and_test_lists(
        example_compile, cluster, tmp_path):
    reference, _ = example_compile
    out = tmp_path / "on-ray"
    result = compile_example(out, "--executor", "ray", "--ray-address", cluster.address)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ray: 2 node(s) with Docker" in result.stderr
    assert result.stderr.count(" on node ") == 5  # every instance unit ran on a worker node
    assert verdicts(out) == verdicts(reference)
    assert dataset_rows(out) == dataset_rows(reference)
    assert (out / "logs" / "example__calc-2" / "before-1.log").is_file()  # logs came back
    funnel = json.loads((out / "reports" / "funnel.json").read_text())
    reference_funnel = json.loads((reference / "reports" / "funnel.json").read_text())
    assert [(s["stage"], s["count"], s["reasons"]) for s in funnel["funnel"]] == \
        [(s["stage"], s["count"], s["reasons"]) for s in reference_funnel["funnel"]]
    assert funnel["funnel"][5]["cpu_s"] > 0  # the nodes' validation costs came back with results
    again = compile_example(out, "--executor", "ray", "--ray-address", cluster.address)
    assert again.returncode == 0 and "[instance" not in again.stderr
    assert json.loads((out / "reports" / "funnel.json").read_text()) == funnel


def test_the_gold_policy_on_ray_resolves_the_same_instances(example_build, cluster, tmp_path):
    from swegc.dataset import read_dataset

    out = tmp_path / "runs"
    result = subprocess.run([*SWEGC, "rollout", str(example_build), "--out", str(out), "--policy",
                             "gold", "--executor", "ray", "--ray-address", cluster.address],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = read_dataset(out, "train")
    assert {r["instance_id"] for r in rows if r["resolved"]} == VALID
    assert gold_resolved_on_ray(example_build, tmp_path / "eval", cluster) == VALID
    assert (tmp_path / "eval" / "example__calc-2" / "test_output.txt").is_file()


def test_a_worker_node_removed_mid_run_loses_nothing(example_compile, docker_engine, tmp_path):
    from swegc.compiler.pipeline import CompileOptions, Compiler
    from swegc.runtime.sandbox.orphans import remove_orphans

    reference, _ = example_compile
    out = tmp_path / "node-lost"
    lines: list[str] = []
    with ray_cluster(workers=2, slots=2) as cluster:
        from tests.ray_fixtures import add_worker

        options = CompileOptions(out=out, jobs=None, executor="ray", ray_address=cluster.address)
        failures: list[BaseException] = []

        def run() -> None:
            try:
                Compiler(options, lines.append).run([SPECS])
            except BaseException as exc:  # noqa: BLE001 - the test's thread reports it
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 600
        while not any(line.startswith("[instance ") for line in lines):
            assert thread.is_alive() and time.monotonic() < deadline, lines
            time.sleep(0.1)
        busy = next(line for line in lines if line.startswith("[instance ")).rsplit(" ", 1)[1]
        victim = next(n for n in cluster.worker_nodes if n.node_id.startswith(busy))
        cluster.remove_node(victim)  # its running units die with it
        add_worker(cluster, 2)
        thread.join(timeout=900)
        assert not failures, failures
    remove_orphans(docker_engine)
    assert verdicts(out) == verdicts(reference)
    assert all(v[0] != "error" for v in verdicts(out).values())
    assert _units_done(out / "store.sqlite") == 5


def test_a_compile_on_ray_killed_midway_resumes_without_redoing_stored_units(
        example_compile, cluster, tmp_path):
    reference, _ = example_compile
    out = tmp_path / "killed"
    ray_args = ["--executor", "ray", "--ray-address", cluster.address, "--jobs", "1"]
    proc = subprocess.Popen([*SWEGC, "compile", str(SPECS), "--out", str(out), *ray_args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while _units_done(out / "store.sqlite") < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, "compile ended before it could be interrupted"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _units_done(out / "store.sqlite")
    assert 2 <= done < 5
    resumed = compile_example(out, *ray_args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stderr.count("[instance ") == 5 - done  # only what was left
    assert verdicts(out) == verdicts(reference)


def test_a_node_without_an_image_pulls_it_by_digest_from_the_registry(docker_engine, tmp_path):
    from swegc.compiler.units import ensure_image, locate
    from swegc.images.builder import BuiltImage
    from tests.registry_fixtures import running_registry

    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "marker").write_text(str(tmp_path))  # an image no other test has
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\nCOPY marker /marker\n")
    image, _ = docker_engine.images.build(path=str(tmp_path / "ctx"),
                                          tag="swegc-env/test__pull:k1", rm=True)
    built = BuiltImage("swegc-env/test__pull:k1", image.id, "k1", 0, 0, 0.0, False)
    with running_registry(tmp_path / "registry") as host:
        registry = f"{host}/cluster"
        assert locate(built, registry, push=False).pushed is None  # not pushed yet
        pushed = locate(built, registry, push=True)
        reference = pushed.pushed
        assert reference and reference.startswith(f"{host}/cluster/swegc-env/test__pull@sha256:")
        assert (pushed.tag, pushed.id, pushed.immutable) == (built.name, built.id, reference)
        assert locate(built, registry, push=False) == pushed  # found there, by its id
        docker_engine.images.remove(image.id, force=True)  # this node lacks it now
        ensure_image(docker_engine, built, reference)
        assert docker_engine.images.get(built.name).id == image.id
        from swegc.docker_client import ensure_runnable

        docker_engine.images.remove(image.id, force=True)  # a published row's image, missing
        ensure_runnable(reference)  # what a rollout or grading unit does first
        assert docker_engine.images.get(reference).id == image.id
        docker_engine.images.remove(image.id, force=True)  # pulled by digest only: no tag to remove


def test_a_compile_with_a_registry_names_each_rows_image_by_its_pushed_digest(
        example_compile, cluster, tmp_path):
    """Rows of a compile with --registry name images that any node can pull, so rollouts and
    gradings of that build run on a cluster without a publish first."""
    from swegc.dataset import read_dataset
    from tests.registry_fixtures import running_registry

    reference, _ = example_compile
    out = tmp_path / "pushed"
    with running_registry(tmp_path / "registry") as host:
        result = compile_example(out, "--executor", "ray", "--ray-address", cluster.address,
                                 "--registry", f"{host}/cluster")
        assert result.returncode == 0, result.stderr[-3000:]
        rows = {r["instance_id"]: r for r in read_dataset(out)}
        assert set(rows) == VALID and verdicts(out) == verdicts(reference)
        for row in rows.values():
            assert row["image"].startswith(f"{host}/cluster/swegc-test-inst/"), row["image"]
            assert "@sha256:" in row["image"]
            assert row["image_name"] == row["docker_image"] == row["image"]
            assert row["image_tag"].startswith("swegc-test-inst/")  # the local tag, kept beside it
        assert gold_resolved_on_ray(out, tmp_path / "eval", cluster) == VALID
